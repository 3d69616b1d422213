"""A small ONNX MLP with initializers for the --mesh tests (mesh-run.test,
test/python/test_sharding.py):

    y = MatMul(Relu(MatMul(x, w1) + b1), w2) + x
    x [4, 8, 64] float32, w1 [64, 128], b1 [128], w2 [128, 64]

    mesh_models.py make DIR          writes DIR/mlp.onnx (ir_version 8,
                                     opset 17) and DIR/x.npy
    mesh_models.py check DIR OUTDIR  compares OUTDIR/y.npy with a float64
                                     numpy reference (rtol 1e-5, atol 1e-6)
                                     and prints `y [4, 8, 64] float32 ok`
    mesh_models.py make DIR B,S ...  with sizes: DIR/mlp.onnx has symbolic
                                     dims [batch, seq, 64] (for --dynamic),
                                     and DIR/B_S/x.npy an input of each size
    mesh_models.py check DIR/B_S OUTDIR   as check, for that input

Weights and input are seeded (numpy default_rng), so the files are the same
on every run. Needs numpy (and onnx for `make`).
"""
import os
import sys

import numpy as np

SHAPE_X = (4, 8, 64)
HIDDEN = 128


def weights():
    rng = np.random.default_rng(20240611)
    d = SHAPE_X[-1]
    w1 = (rng.standard_normal((d, HIDDEN)) / np.sqrt(d)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)
    w2 = (rng.standard_normal((HIDDEN, d)) / np.sqrt(HIDDEN)).astype(np.float32)
    return w1, b1, w2


def make(d, sizes=()):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    os.makedirs(d, exist_ok=True)
    w1, b1, w2 = weights()
    shape = ["batch", "seq", SHAPE_X[-1]] if sizes else list(SHAPE_X)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]),
             helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["o"]),
             helper.make_node("Add", ["o", "x"], ["y"])]
    graph = helper.make_graph(
        nodes, "mesh_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "mlp.onnx"))
    x = np.random.default_rng(3).standard_normal(SHAPE_X).astype(np.float32)
    np.save(os.path.join(d, "x.npy"), x)
    for size in sizes:
        b, t = map(int, size.split(","))
        os.makedirs(os.path.join(d, f"{b}_{t}"), exist_ok=True)
        x = np.random.default_rng(b * 100 + t).standard_normal(
            (b, t, SHAPE_X[-1])).astype(np.float32)
        np.save(os.path.join(d, f"{b}_{t}", "x.npy"), x)


def reference(d):
    w1, b1, w2 = (a.astype(np.float64) for a in weights())
    x = np.load(os.path.join(d, "x.npy")).astype(np.float64)
    return np.maximum(x @ w1 + b1, 0.0) @ w2 + x


def check(d, out):
    want = reference(d)
    got = np.load(os.path.join(out, "y.npy"))
    if got.dtype != np.float32 or got.shape != want.shape:
        sys.exit(f"y: got {got.dtype} {list(got.shape)}, want float32 "
                 f"{list(want.shape)}")
    if not np.allclose(got.astype(np.float64), want, rtol=1e-5, atol=1e-6):
        err = np.abs(got - want).max()
        sys.exit(f"y: max abs error {err:.3e} beyond rtol 1e-5, atol 1e-6")
    print("y", list(got.shape), got.dtype, "ok")


def main(argv):
    if len(argv) >= 2 and argv[0] == "make":
        make(argv[1], argv[2:])
    elif len(argv) == 3 and argv[0] == "check":
        check(argv[1], argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
