"""A model with the 8- and 4-bit storage types, written with Debian's onnx
1.12 (which knows their numbers, not their names), and its check.

    small_types.py make DIR         DIR/model.onnx, DIR/x.npy
    small_types.py check OUTDIR     the outputs against hand-computed values

y8 = Cast<to=FLOAT8E4M3FN>(x) (saturating), back = Cast<to=FLOAT>(y8),
w = an INT4 initializer [-1, 7, -8] (packed: 0x7F, 0x08) cast to float.
For x = [1, 0.3, 500, -1e6, NaN]: y8's bits are [0x38, 0x2A, 0x7E, 0xFE,
0x7F] (0.3 rounds to 0.3125; 500 and -1e6 saturate to +-448), back is
[1, 0.3125, 448, -448, NaN]. Prints `small types ok`.
"""

import os
import sys

import numpy as np


def make(d):
    from onnx import TensorProto, helper
    os.makedirs(d, exist_ok=True)
    w = TensorProto()
    w.name, w.data_type = "w", 22  # INT4
    w.dims.append(3)
    w.raw_data = bytes([0x7F, 0x08])
    nodes = [helper.make_node("Cast", ["x"], ["y8"], to=17),
             helper.make_node("Cast", ["y8"], ["back"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(
        nodes, "small_types",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])],
        [helper.make_tensor_value_info("y8", 17, [5]),
         helper.make_tensor_value_info("back", TensorProto.FLOAT, [5]),
         helper.make_tensor_value_info("wf", TensorProto.FLOAT, [3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    np.save(os.path.join(d, "x.npy"),
            np.array([1.0, 0.3, 500.0, -1e6, np.nan], np.float32))


def check(out):
    y8 = np.load(os.path.join(out, "y8.npy"))
    back = np.load(os.path.join(out, "back.npy"))
    wf = np.load(os.path.join(out, "wf.npy"))
    if y8.dtype != np.uint8 or list(y8) != [0x38, 0x2A, 0x7E, 0xFE, 0x7F]:
        sys.exit(f"y8: {y8.dtype} {[hex(v) for v in y8]}")
    np.testing.assert_array_equal(back, [1.0, 0.3125, 448.0, -448.0, np.nan])
    np.testing.assert_array_equal(wf, [-1.0, 7.0, -8.0])
    print("small types ok")


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2])
