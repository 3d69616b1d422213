"""GroupNormalization, LpPool and Mish (lib/Import/OnnxNNOps.cpp,
OnnxMathOps.cpp) beyond the conformance suites' cases: GroupNormalization's
opset-18 form (scale and bias per group, repeated over each group's
channels) and opset 21's (per channel) against a numpy float64 reference,
with ONNX Runtime as a second opinion; LpPool with p = 1, 2, 3, strides,
pads, dilations and ceil_mode against numpy float64; Mish on extreme
inputs. Tolerances: rtol 1e-5, atol 1e-5."""

import numpy as np
import pytest

import llmc

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _model(node, inputs, outputs, opset):
    graph = helper.make_graph(
        [node], "t",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10 if opset >= 21 else 8
    return m


def _group_norm_ref(x, scale, bias, groups, eps):
    n, c = x.shape[:2]
    y = x.astype(np.float64).reshape(n, groups, -1)
    y = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + eps)
    y = y.reshape(x.shape)
    if scale.shape[0] != c:  # per group (opset 18)
        scale = np.repeat(scale, c // groups)
        bias = np.repeat(bias, c // groups)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * scale.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("opset,per", [(18, "group"), (21, "channel")])
def test_group_norm(opset, per):
    rng = np.random.default_rng(opset)
    groups, c, eps = 3, 6, 1e-3
    size = groups if per == "group" else c
    x = rng.standard_normal((2, c, 4, 5)).astype(np.float32) * 3 + 1
    scale = rng.standard_normal(size).astype(np.float32)
    bias = rng.standard_normal(size).astype(np.float32)
    node = helper.make_node("GroupNormalization", ["X", "scale", "bias"], ["Y"],
                            num_groups=groups, epsilon=eps)
    m = _model(node, [("X", [2, c, 4, 5]), ("scale", [size]), ("bias", [size])],
               [("Y", [2, c, 4, 5])], opset)
    got = llmc.compile(m)(X=x, scale=scale, bias=bias)
    want = _group_norm_ref(x, scale, bias, groups, eps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    try:
        theirs = ort.InferenceSession(m.SerializeToString()).run(
            None, {"X": x, "scale": scale, "bias": bias})[0]
    except Exception as e:  # an ORT without this opset's kernel
        pytest.skip(f"onnxruntime: {e}")
    np.testing.assert_allclose(got, theirs, rtol=1e-5, atol=1e-5)


def _lp_pool_ref(x, p, kernel, strides, pads, dilations, ceil):
    """numpy float64 LpPool over 2-D spatial dims (pads: begin..., end...)."""
    n, c, h, w = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    out = []
    for d, size in enumerate((h, w)):
        span = (kernel[d] - 1) * dilations[d] + 1
        total = size + pads[d] + pads[d + 2] - span
        o = (total + (strides[d] - 1 if ceil else 0)) // strides[d] + 1
        if ceil and (o - 1) * strides[d] >= size + pads[d]:
            o -= 1
        out.append(o)
    xp = np.pad(xp, ((0, 0), (0, 0), (0, 4 * kernel[0] * dilations[0]), (0, 4 * kernel[1] * dilations[1])))
    y = np.zeros((n, c, out[0], out[1]))
    for i in range(out[0]):
        for j in range(out[1]):
            win = xp[:, :, i * strides[0]:i * strides[0] + (kernel[0] - 1) * dilations[0] + 1:dilations[0],
                     j * strides[1]:j * strides[1] + (kernel[1] - 1) * dilations[1] + 1:dilations[1]]
            y[:, :, i, j] = (np.abs(win) ** p).sum((2, 3)) ** (1.0 / p)
    return y


@pytest.mark.parametrize("p,kernel,strides,pads,dilations,ceil", [
    (1, [2, 2], [1, 1], [0, 0, 0, 0], [1, 1], 0),
    (2, [3, 2], [2, 1], [1, 0, 1, 1], [1, 1], 0),
    (3, [2, 2], [2, 2], [0, 0, 0, 0], [2, 1], 0),
    (2, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1),
])
def test_lp_pool(p, kernel, strides, pads, dilations, ceil):
    rng = np.random.default_rng(p * 7 + ceil)
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    want = _lp_pool_ref(x, p, kernel, strides, pads, dilations, ceil)
    node = helper.make_node("LpPool", ["X"], ["Y"], p=p, kernel_shape=kernel,
                            strides=strides, pads=pads, dilations=dilations,
                            ceil_mode=ceil)
    m = _model(node, [("X", list(x.shape))], [("Y", list(want.shape))], 18)
    got = llmc.compile(m)(X=x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_mish_extremes():
    x = np.array([-100, -20, -1, 0, 1e-3, 1, 20, 100], np.float32)
    m = _model(helper.make_node("Mish", ["X"], ["Y"]), [("X", [8])], [("Y", [8])], 18)
    x64 = x.astype(np.float64)
    want = x64 * np.tanh(np.log1p(np.exp(x64)))
    np.testing.assert_allclose(llmc.compile(m)(X=x), want, rtol=1e-5, atol=1e-6)
