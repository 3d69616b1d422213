"""GridSample and AffineGrid (lib/Import/OnnxGridSample.cpp): GridSample on random grids reaching
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


@pytest.mark.parametrize("align", [0, 1])
def test_spatial_transformer_against_the_reference(align):
    """AffineGrid then GridSample (a spatial transformer's sampler), opset
    20, against the ONNX reference."""
    nodes = [helper.make_node("AffineGrid", ["theta", "size"], ["grid"],
                              align_corners=align),
             helper.make_node("GridSample", ["X", "grid"], ["Y"], mode="linear",
                              padding_mode="zeros", align_corners=align)]
    graph = helper.make_graph(
        nodes, "stn",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, 6, 5]),
         helper.make_tensor_value_info("theta", TensorProto.FLOAT, [2, 2, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3, 4, 7])],
        [onnx.numpy_helper.from_array(np.array([2, 3, 4, 7], np.int64), "size")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    rng = np.random.default_rng(align)
    feeds = {"X": rng.standard_normal((2, 3, 6, 5)).astype(np.float32),
             "theta": (np.array([[1, 0, 0], [0, 1, 0]]) +
                       0.3 * rng.standard_normal((2, 2, 3))).astype(np.float32)}
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    np.testing.assert_allclose(llmc.compile(m)(**feeds), want, rtol=1e-5, atol=1e-5)


def test_affine_grid_size_must_be_known():
    node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"])
    graph = helper.make_graph(
        [node], "ag",
        [helper.make_tensor_value_info("theta", TensorProto.FLOAT, [1, 2, 3]),
         helper.make_tensor_value_info("size", TensorProto.INT64, [4])],
        [helper.make_tensor_value_info("grid", TensorProto.FLOAT, None)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    with pytest.raises(llmc.CompileError, match="AffineGrid's size must be known at compile time"):
        llmc.compile(m)
