"""Small ONNX models whose partitioning once went wrong (found in review),
for mesh-cases.test. Each must give the single-device outputs on a mesh.

    mesh_cases.py make DIR          writes DIR/<case>.onnx and its inputs
    mesh_cases.py compare A B       compares the .npy files of two output
                                    folders (same names, shapes, dtypes;
                                    rtol 1e-6, atol 1e-6); prints `same`

Cases:
  scatnd   ScatterND(data[4,6], idx[4,1], upd[4,6]): the updates' index loop
           must not split (each device would apply only its updates).
  scatel   ScatterElements(axis 0, data[4,4], i[2,4], u[2,4]): the same.
  tilecls  a [1,1,8] token tiled over the batch (Tile [4,1,1]) and
           concatenated with x[4,3,8]: a split batch tiles fewer times.
  padr     reflect padding of x[4,6] to [4,8], plus w: a padded dim whose
           index is not affine stays whole.
  diag     Einsum "ii->i": one loop on two dims of x stays whole.
  i16      ReduceMax of an int16 x: the runtime's collectives have no 16-bit
           integers, so a pin on x is refused with a clear error.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(d, name, nodes, inputs, outputs, inits=(), feeds=None):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, name + ".onnx"))
    for k, v in (feeds or {}).items():
        np.save(os.path.join(d, f"{name}.{k}.npy"), v)


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def make(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.RandomState(3)
    f32 = lambda *s: rng.randn(*s).astype(np.float32)
    _save(d, "scatnd",
          [helper.make_node("ScatterND", ["data", "idx", "upd"], ["y"])],
          [_vi("data", [4, 6]), _vi("idx", [4, 1], TensorProto.INT64),
           _vi("upd", [4, 6])], [_vi("y", [4, 6])],
          feeds={"data": f32(4, 6), "idx": np.array([[3], [1], [0], [2]], np.int64),
                 "upd": f32(4, 6)})
    _save(d, "scatel",
          [helper.make_node("ScatterElements", ["data", "i", "u"], ["y"], axis=0)],
          [_vi("data", [4, 4]), _vi("i", [2, 4], TensorProto.INT64),
           _vi("u", [2, 4])], [_vi("y", [4, 4])],
          feeds={"data": f32(4, 4),
                 "i": np.array([[3, 0, 1, 2], [1, 2, 3, 0]], np.int64),
                 "u": f32(2, 4)})
    cls = numpy_helper.from_array(f32(1, 1, 8), "cls")
    reps = numpy_helper.from_array(np.array([4, 1, 1], np.int64), "reps")
    _save(d, "tilecls",
          [helper.make_node("Tile", ["cls", "reps"], ["t"]),
           helper.make_node("Concat", ["t", "x"], ["y"], axis=1)],
          [_vi("x", [4, 3, 8])], [_vi("y", [4, 4, 8])], [cls, reps],
          feeds={"x": f32(4, 3, 8)})
    pads = numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "pads")
    _save(d, "padr",
          [helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
           helper.make_node("Add", ["p", "w"], ["y"])],
          [_vi("x", [4, 6]), _vi("w", [4, 8])], [_vi("y", [4, 8])], [pads],
          feeds={"x": f32(4, 6), "w": f32(4, 8)})
    _save(d, "i16",
          [helper.make_node("ReduceMax", ["x"], ["y"], axes=[0], keepdims=0)],
          [_vi("x", [4, 4], TensorProto.INT16)], [_vi("y", [4], TensorProto.INT16)],
          feeds={"x": rng.randint(-100, 100, (4, 4)).astype(np.int16)})
    _save(d, "diag",
          [helper.make_node("Einsum", ["x"], ["y"], equation="ii->i")],
          [_vi("x", [4, 4])], [_vi("y", [4])], feeds={"x": f32(4, 4)})


def compare(a, b):
    names = sorted(f for f in os.listdir(a) if f.endswith(".npy"))
    if names != sorted(f for f in os.listdir(b) if f.endswith(".npy")):
        sys.exit(f"outputs differ: {names} vs {sorted(os.listdir(b))}")
    for n in names:
        x, y = np.load(os.path.join(a, n)), np.load(os.path.join(b, n))
        if x.dtype != y.dtype or x.shape != y.shape:
            sys.exit(f"{n}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
        if not np.allclose(x, y, rtol=1e-6, atol=1e-6):
            sys.exit(f"{n}: max abs difference {np.abs(x - y).max():.3g}")
    print("same")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        compare(sys.argv[2], sys.argv[3])
