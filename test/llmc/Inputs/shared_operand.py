"""Regression model: one tensor read by two library calls with an in-place
elementwise op between them (p = Relu(x); y = Relu(Conv1x1(p)) + Conv1x1(p)).

    shared_operand.py make DIR     writes DIR/model.onnx and DIR/x.npy
    shared_operand.py check DIR    compares DIR/out/y.npy with numpy (float64),
                                   relative L2 error <= 1e-5
"""
import os
import sys

import numpy as np


def weights():
    rng = np.random.default_rng(7)
    return (rng.standard_normal((4, 4, 1, 1)).astype(np.float32),
            rng.standard_normal((4, 4, 1, 1)).astype(np.float32))


def make(d):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w1, w2 = weights()
    nodes = [helper.make_node("Relu", ["x"], ["p"]),
             helper.make_node("Conv", ["p", "w1"], ["c1"]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["p", "w2"], ["c2"]),
             helper.make_node("Add", ["r1", "c2"], ["y"])]
    graph = helper.make_graph(
        nodes, "shared_operand",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))
    x = np.random.default_rng(3).standard_normal((1, 4, 6, 6)).astype(np.float32)
    np.save(os.path.join(d, "x.npy"), x)


def check(d):
    w1, w2 = (w.astype(np.float64)[:, :, 0, 0] for w in weights())
    p = np.maximum(np.load(os.path.join(d, "x.npy")).astype(np.float64), 0)
    conv = lambda w: np.einsum("mc,nchw->nmhw", w, p)
    ref = np.maximum(conv(w1), 0) + conv(w2)
    y = np.load(os.path.join(d, "out", "y.npy"))
    err = np.linalg.norm(y - ref) / np.linalg.norm(ref)
    print(f"y rel L2 {err:.1e}", "ok" if err <= 1e-5 else "WRONG")
    sys.exit(0 if err <= 1e-5 else 1)


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2])
