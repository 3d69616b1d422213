#!/usr/bin/python3
"""Generate the bundled example model examples/tiny_cnn.onnx and its input.

    /usr/bin/python3 examples/make_example.py [--force]

Model (opset 13), input x: float32[1,3,8,8]
    Conv(4 filters, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten
    -> Gemm(4 -> 3) -> Softmax  => output probs: float32[1,3]

Weights and input come from a fixed numpy seed, so the files are reproducible.
The files are only written when missing (or with --force). In every case the
script then loads the model and input *from disk* and prints the expected
output, computed independently with plain numpy in float64, so it can be
compared with what `llmc run` produces.

Uses only numpy and Debian's onnx package (1.12; newer versions work too).
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "tiny_cnn.onnx")
INPUT = os.path.join(HERE, "tiny_cnn_input.npy")
SEED = 20240601


def build_model():
    rng = np.random.RandomState(SEED)
    conv_w = rng.uniform(-0.5, 0.5, size=(4, 3, 3, 3)).astype(np.float32)
    conv_b = rng.uniform(-0.1, 0.1, size=(4,)).astype(np.float32)
    fc_w = rng.uniform(-1.0, 1.0, size=(3, 4)).astype(np.float32)  # [N, K]
    fc_b = rng.uniform(-0.1, 0.1, size=(3,)).astype(np.float32)
    x = rng.uniform(-1.0, 1.0, size=(1, 3, 8, 8)).astype(np.float32)

    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["conv"],
                         name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"],
                         name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax",
                         axis=-1),
    ]
    inits = [
        numpy_helper.from_array(conv_w, "conv_w"),
        numpy_helper.from_array(conv_b, "conv_b"),
        numpy_helper.from_array(fc_w, "fc_w"),
        numpy_helper.from_array(fc_b, "fc_b"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 3])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="llmc-make_example",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7  # readable by any onnx >= 1.7 / onnxruntime
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model, strict_mode=True)
    return model, x


def reference(model, x):
    """Evaluate tiny_cnn with plain numpy in float64 (independent of llmc)."""
    w = {t.name: numpy_helper.to_array(t).astype(np.float64)
         for t in model.graph.initializer}
    x = x.astype(np.float64)
    n, c, h, wd = x.shape
    cw, cb = w["conv_w"], w["conv_b"]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((n, cw.shape[0], h, wd))
    for i in range(h):
        for j in range(wd):
            patch = xp[:, :, i:i + 3, j:j + 3]  # [n, c, 3, 3]
            conv[:, :, i, j] = np.einsum("nckl,fckl->nf", patch, cw)
    conv += cb[None, :, None, None]
    relu = np.maximum(conv, 0.0)
    gap = relu.mean(axis=(2, 3))  # [n, 4] (== GAP + Flatten)
    logits = gap @ w["fc_w"].T + w["fc_b"]
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return {"probs": e / e.sum(axis=-1, keepdims=True)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true",
                    help="rewrite the model and input even if present")
    ap.add_argument("--quiet", action="store_true",
                    help="do not print the reference output")
    args = ap.parse_args()

    if args.force or not (os.path.exists(MODEL) and os.path.exists(INPUT)):
        model, x = build_model()
        onnx.save(model, MODEL)
        np.save(INPUT, x)
        print(f"wrote {os.path.relpath(MODEL)} and {os.path.relpath(INPUT)}")

    if not args.quiet:
        model = onnx.load(MODEL)
        x = np.load(INPUT)
        for name, val in reference(model, x).items():
            print(f"expected (numpy float64 reference) {name}: "
                  f"shape={list(val.shape)} values={np.array2string(val, precision=6)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
