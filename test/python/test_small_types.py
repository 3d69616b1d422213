"""The float8, float4 and 4-bit integer storage types against the ONNX
reference (onnx.reference, which converts with ml_dtypes): Cast to each
type from float32 and float16 on values chosen to hit every rounding case
(every representable value, the midpoints between neighbours, values just
beside them, subnormals, overflow, infinities, NaN), with and without
`saturate`; Cast from each type for every bit pattern; QuantizeLinear and
DequantizeLinear per axis. Results are compared bit for bit (the types
travel as their bits, uint8, one element per byte).
"""

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

TYPES = {  # ml_dtypes name: (ONNX type, bits per value)
    "float8_e4m3fn": (TensorProto.FLOAT8E4M3FN, 8),
    "float8_e4m3fnuz": (TensorProto.FLOAT8E4M3FNUZ, 8),
    "float8_e5m2": (TensorProto.FLOAT8E5M2, 8),
    "float8_e5m2fnuz": (TensorProto.FLOAT8E5M2FNUZ, 8),
    "float4_e2m1fn": (TensorProto.FLOAT4E2M1, 4),
    "int4": (TensorProto.INT4, 4),
    "uint4": (TensorProto.UINT4, 4),
}
FLOATS = [n for n in TYPES if n.startswith("float")]


def cast_model(src, dst, n, saturate=None):
    attrs = {"to": dst}
    if saturate is not None:
        attrs["saturate"] = saturate
    node = helper.make_node("Cast", ["x"], ["y"], **attrs)
    graph = helper.make_graph(
        [node], "cast", [helper.make_tensor_value_info("x", src, [n])],
        [helper.make_tensor_value_info("y", dst, [n])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])


def bits(a):
    return np.asarray(a).view(np.uint8)


def probes(name, dtype):
    """float32 values around every representable value of `name`."""
    codes = np.arange(256 if TYPES[name][1] == 8 else 16, dtype=np.uint8)
    values = codes.view(getattr(ml_dtypes, name)).astype(np.float32)
    finite = np.unique(values[np.isfinite(values)])
    mids = (finite[:-1].astype(np.float64) + finite[1:]) / 2
    eps = np.abs(mids) * 1e-3 + 1e-12
    extra = [np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1e30, -1e30, 3e38,
             1e-30, -1e-30, 1e-42, 7.5, 8.5, 15.5, 16.5, -8.5, -9.5, 100.0]
    top = float(finite.max())
    extra += [top * 1.01, top * 1.06, top * 1.1, -top * 1.06, top * 2]
    rng = np.random.default_rng(7)
    scale = float(top) if name.startswith("float") else 8.0
    out = np.concatenate([finite, mids, mids + eps, mids - eps, extra,
                          rng.standard_normal(200) * scale]).astype(dtype)
    return out


@pytest.mark.parametrize("name", list(TYPES))
@pytest.mark.parametrize("source", ["float32", "float16"])
@pytest.mark.parametrize("saturate", [None, 0])
def test_cast_to_matches_the_reference(name, source, saturate):
    onnx_type, _ = TYPES[name]
    if saturate is not None and name not in FLOATS[:4]:
        pytest.skip("saturate is for the float8 types")
    src = TensorProto.FLOAT if source == "float32" else TensorProto.FLOAT16
    with np.errstate(over="ignore", invalid="ignore"):
        x = probes(name, np.dtype(source))
    model = cast_model(src, onnx_type, x.size, saturate)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    exe = llmc.compile(model.SerializeToString())
    assert exe.outputs[0].dtype == name
    got = exe(x)
    assert got.dtype == np.uint8
    want = bits(expected)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (
        f"{bad.size} of {x.size} differ; first: {x[bad[0]]!r} -> "
        f"{got[bad[0]]:#x}, expected {want[bad[0]]:#x}")


@pytest.mark.parametrize("name", list(TYPES))
@pytest.mark.parametrize("target", ["float32", "float16"])
def test_cast_from_every_bit_pattern(name, target):
    onnx_type, width = TYPES[name]
    codes = np.arange(1 << width, dtype=np.uint8)
    dst = TensorProto.FLOAT if target == "float32" else TensorProto.FLOAT16
    model = cast_model(onnx_type, dst, codes.size)
    exe = llmc.compile(model.SerializeToString())
    assert exe.inputs[0].dtype == name
    got = exe(codes)
    expected = codes.view(getattr(ml_dtypes, name)).astype(np.dtype(target))
    np.testing.assert_array_equal(got, expected)  # NaN equal NaN
    # The sign of zero too.
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("name", ["int4", "uint4", "float8_e4m3fn", "float4_e2m1fn"])
def test_quantize_and_dequantize_per_axis(name):
    onnx_type, _ = TYPES[name]
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 8)) * 4).astype(np.float32)
    scale = np.array([0.5, 0.25, 1.5], np.float32)
    zero = np.zeros(3, getattr(ml_dtypes, name))
    if name in ("int4", "uint4"):
        zero = np.array([1, 0, 2], getattr(ml_dtypes, name))
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=0),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=0)]
    graph = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 8])],
        [helper.make_tensor_value_info("q", onnx_type, [3, 8]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 8])],
        [onnx.numpy_helper.from_array(scale, "s"),
         onnx.numpy_helper.from_array(zero, "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    q_ref, y_ref = ReferenceEvaluator(model).run(None, {"x": x})
    q, y = llmc.compile(model.SerializeToString())(x)
    np.testing.assert_array_equal(q, bits(q_ref))
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=0)


def test_bits_of_another_width_are_refused():
    model = cast_model(TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT, 4)
    exe = llmc.compile(model.SerializeToString())
    with pytest.raises(llmc.InputError, match="must be FLOAT8E4M3FN"):
        exe(np.zeros(4, np.uint16))
