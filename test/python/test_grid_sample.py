"""GridSample (lib/Import/OnnxGridSample.cpp) on random grids reaching
outside the input (coordinates in [-1.6, 1.6]), for every mode, padding
mode and align_corners, against the ONNX reference implementation (the
onnx wheel's ReferenceEvaluator, opset 20's mode names) and against ONNX
Runtime (opset 16), rtol 1e-5, atol 1e-5. ONNX Runtime departs from the
reference for bicubic with border padding (it clamps every coordinate;
the reference only those outside the borders), so there llmc follows the
reference alone."""

import itertools

import numpy as np
import pytest

import llmc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

MODES = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}


def model(mode, padding, align, opset):
    node = helper.make_node("GridSample", ["X", "grid"], ["Y"], mode=mode,
                            padding_mode=padding, align_corners=align)
    graph = helper.make_graph(
        [node], "gs",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, 5, 7]),
         helper.make_tensor_value_info("grid", TensorProto.FLOAT, [2, 4, 6, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3, 4, 6])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9 if opset >= 20 else 8
    return m


@pytest.mark.parametrize("mode,padding,align", list(itertools.product(
    ["bilinear", "nearest", "bicubic"], ["zeros", "border", "reflection"], [0, 1])))
def test_against_the_reference_and_onnx_runtime(mode, padding, align):
    rng = np.random.default_rng(len(mode) * 10 + len(padding) + align)
    feeds = {"X": rng.standard_normal((2, 3, 5, 7)).astype(np.float32),
             "grid": rng.uniform(-1.6, 1.6, (2, 4, 6, 2)).astype(np.float32)}
    m20 = model(MODES[mode], padding, align, 20)
    want = ReferenceEvaluator(m20).run(None, feeds)[0]
    np.testing.assert_allclose(llmc.compile(m20)(**feeds), want, rtol=1e-5, atol=1e-5)
    m16 = model(mode, padding, align, 16)
    got = llmc.compile(m16)(**feeds)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if (mode, padding) != ("bicubic", "border"):
        ort_y = ort.InferenceSession(m16.SerializeToString()).run(None, feeds)[0]
        np.testing.assert_allclose(got, ort_y, rtol=1e-5, atol=1e-5)
