"""Models that crashed, hung or were wrongly accepted, and a good model of
each feature they abuse (test/llmc/import-hostile-graphs.test).

    hostile_graphs.py make DIR      # the models and inputs
    hostile_graphs.py check DIR OUT # the good local-function model's output

Written with onnx's helper at IR version 10 (what onnx 1.19 and torch 2.11
write at opset 17; libonnx 1.12's checker knows up to 8).
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OPS = [h.make_opsetid("", 17), h.make_opsetid("local", 1)]


def model(nodes, inputs, outputs, inits=(), functions=(), opset=17):
    g = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    ops = [h.make_opsetid("", opset), h.make_opsetid("local", 1)]
    m = h.make_model(g, opset_imports=ops, functions=list(functions))
    m.ir_version = 10
    return m


def fn(name, inputs, outputs, nodes, attributes=()):
    return h.make_function("local", name, inputs, outputs, nodes, OPS,
                           attributes=list(attributes))


def vi(name, shape):
    return h.make_tensor_value_info(name, T.FLOAT, shape)


def make(d):
    os.makedirs(d, exist_ok=True)
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "x3.npy"), np.ones((3, 4), np.float32))
    # Good: Scaled(a) = Mul(Relu(Neg(a)), alpha) through a nested local
    # function, called twice, its attribute bound per call.
    inner = fn("NegRelu", ["a"], ["b"], [h.make_node("Neg", ["a"], ["t"]),
                                         h.make_node("Relu", ["t"], ["b"])])
    alpha = h.make_node("Constant", [], ["k"])
    ref = onnx.AttributeProto(name="value_float", ref_attr_name="alpha",
                              type=onnx.AttributeProto.FLOAT)
    alpha.attribute.append(ref)
    outer = fn("Scaled", ["a"], ["b"],
               [h.make_node("NegRelu", ["a"], ["r"], domain="local"), alpha,
                h.make_node("Mul", ["r", "k"], ["b"])], ["alpha"])
    onnx.save(model([h.make_node("Scaled", ["x"], ["y1"], domain="local",
                                 name="first", alpha=2.0),
                     h.make_node("Scaled", ["y1"], ["y"], domain="local",
                                 name="second", alpha=-0.5)],
                    [vi("x", [2, 3])], [vi("y", [2, 3])],
                    functions=[outer, inner]),
              os.path.join(d, "local_ok.onnx"))
    call = [h.make_node("F", ["x"], ["y"], domain="local", name="call")]
    io = ([vi("x", [2, 3])], [vi("y", [2, 3])])
    onnx.save(model(call, *io, functions=[
        fn("F", ["a"], ["b"], [h.make_node("F", ["a"], ["b"], domain="local")])]),
        os.path.join(d, "recursive.onnx"))
    onnx.save(model(call, *io, functions=[
        fn("F", ["a"], ["b"], [h.make_node("G", ["a"], ["b"], domain="local")]),
        fn("G", ["a"], ["b"], [h.make_node("F", ["a"], ["b"], domain="local")])]),
        os.path.join(d, "mutual.onnx"))
    # F0 calls F1 twice, ..., F29 calls F30 twice: 2^30 nodes.
    chain = [fn(f"F{i}", ["a"], ["b"],
                [h.make_node(f"F{i + 1}", ["a"], ["t"], domain="local"),
                 h.make_node(f"F{i + 1}", ["t"], ["b"], domain="local")])
             for i in range(30)]
    chain.append(fn("F30", ["a"], ["b"], [h.make_node("Relu", ["a"], ["b"])]))
    onnx.save(model([h.make_node("F0", ["x"], ["y"], domain="local",
                                 name="call")], *io, functions=chain),
              os.path.join(d, "exponential.onnx"))
    # A Conv over a rank-2 input (libonnx's shape inference segfaulted).
    w = nh.from_array(np.ones((2, 3, 1), np.float32), "w")
    for op in ("Conv", "ConvTranspose"):
        onnx.save(model([h.make_node(op, ["x", "w"], ["y"], name="conv")],
                        [vi("x", [3, 4])], [vi("y", [])], [w]),
                  os.path.join(d, f"{op.lower()}_rank2.onnx"))
    # Opset 21 (libonnx's checker does not run): a value defined twice, and
    # a node output that shadows a graph input.
    onnx.save(model([h.make_node("Relu", ["x"], ["y"], name="a"),
                     h.make_node("Neg", ["x"], ["y"], name="b")],
                    [vi("x", [2, 3])], [vi("y", [2, 3])], opset=21),
              os.path.join(d, "duplicate_output.onnx"))
    onnx.save(model([h.make_node("Relu", ["x"], ["x"], name="a")],
                    [vi("x", [2, 3])], [vi("x", [2, 3])], opset=21),
              os.path.join(d, "shadows_input.onnx"))
    # A declared dim of -2.
    m = model([h.make_node("Relu", ["x"], ["y"], name="r")],
              [vi("x", [2, 3])], [vi("y", [2, 3])])
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -2
    onnx.save(m, os.path.join(d, "negative_dim.onnx"))


def make_sizes(d):
    """A [2,3] initializer whose external data file is a sparse 100 GiB, one
    whose file is too short, a 40 GB ConstantOfShape, and a 4 MB splat."""
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x23.npy"), np.ones((2, 3), np.float32))
    np.save(os.path.join(d, "one.npy"), np.ones(1, np.float32))
    for name, size in (("huge", 100 << 30), ("short", 10)):
        t = T()
        t.name, t.data_type = "w", T.FLOAT
        t.dims.extend([2, 3])
        t.data_location = T.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", f"{name}.bin"
        onnx.save(model([h.make_node("Add", ["x", "w"], ["y"], name="add")],
                        [vi("x", [2, 3])], [vi("y", [2, 3])], [t]),
                  os.path.join(d, f"external_{name}.onnx"))
        with open(os.path.join(d, f"{name}.bin"), "wb") as f:
            if size > 24:
                f.write(np.arange(6, dtype=np.float32).tobytes())
            f.truncate(size)  # sparse: no disk taken
    for name, n in (("cos40g", 10_000_000_000), ("cos4m", 1_000_000)):
        nodes = [h.make_node("ConstantOfShape", ["s"], ["c"], name="fill",
                             value=nh.from_array(np.array([1.5], np.float32))),
                 h.make_node("Add", ["c", "x"], ["y"], name="add")]
        onnx.save(model(nodes, [vi("x", [1])], [vi("y", [n])],
                        [nh.from_array(np.array([n], np.int64), "s")]),
                  os.path.join(d, f"{name}.onnx"))


def check(d, out):
    x = np.load(os.path.join(d, "x.npy")).astype(np.float64)
    y1 = np.maximum(-x, 0) * 2.0
    want = np.maximum(-y1, 0) * -0.5
    got = np.load(os.path.join(out, "y.npy"))
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.allclose(got, want, rtol=1e-6, atol=1e-6), (got, want)
    print("y ok")


def concat(d, n):
    """Concat of n [1,4] slices of one [n,4] input, along dim 0 (so that one
    .npy feeds it): y == x."""
    n = int(n)
    nodes = [h.make_node("Split", ["x"], [f"s{i}" for i in range(n)], axis=0,
                         name="split"),
             h.make_node("Concat", [f"s{i}" for i in range(n)], ["y"], axis=0,
                         name="cat")]
    onnx.save(model(nodes, [vi("x", [n, 4])], [vi("y", [n, 4])]),
              os.path.join(d, f"concat{n}.onnx"))
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
    np.save(os.path.join(d, "c0.npy"), x)


def check_concat(d, out, n):
    x = np.load(os.path.join(d, "c0.npy"))
    got = np.load(os.path.join(out, "y.npy"))
    assert got.shape == x.shape and np.array_equal(got, x)
    print(f"y [{int(n)}, 4] ok")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "sizes":
        make_sizes(sys.argv[2])
    elif sys.argv[1] == "concat":
        concat(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "check-concat":
        check_concat(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        check(sys.argv[2], sys.argv[3])
