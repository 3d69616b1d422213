"""DFT, STFT, Det, MaxUnpool, Col2Im and ReverseSequence against
independent references (numpy's FFT and determinant in float64, torch's
fold and ONNX's reference evaluator), beyond the node tests' few shapes:
several axes, lengths (padded and cut), one-sided and inverse transforms,
complex input; determinants that need pivoting, singular and batched
matrices of several sizes.
"""

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402


def run(node, inputs, outputs, initializers=(), opset=20):
    graph = helper.make_graph([node], "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return llmc.compile(model.SerializeToString()), model


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


@pytest.mark.parametrize("axis,length,onesided,inverse,complex_in", [
    (1, None, 0, 0, False), (1, 16, 1, 0, False), (2, 5, 0, 0, True),
    (1, 12, 0, 1, True), (2, None, 1, 0, False), (1, 7, 0, 1, False)])
def test_dft_matches_numpy_fft(axis, length, onesided, inverse, complex_in):
    rng = np.random.default_rng(axis * 7 + (length or 0))
    x = rng.standard_normal((2, 10, 6, 2 if complex_in else 1)).astype(np.float32)
    n = length or x.shape[axis]
    bins = n // 2 + 1 if onesided else n
    inits = [onnx.numpy_helper.from_array(np.array(axis, np.int64), "axis")]
    names = ["x", "len" if length else "", "axis"]
    if length:
        inits.append(onnx.numpy_helper.from_array(np.array(length, np.int64), "len"))
    out_shape = list(x.shape[:-1]) + [2]
    out_shape[axis] = bins
    node = helper.make_node("DFT", names, ["y"], onesided=onesided, inverse=inverse)
    exe, _ = run(node, [vi("x", TensorProto.FLOAT, list(x.shape))],
                 [vi("y", TensorProto.FLOAT, out_shape)], inits)
    y = exe(x)
    signal = x[..., 0].astype(np.float64) + (1j * x[..., 1] if complex_in else 0)
    f = np.fft.ifft if inverse else np.fft.fft
    ref = f(signal, n=n, axis=axis)
    ref = np.take(ref, range(bins), axis=axis)
    np.testing.assert_allclose(y[..., 0], ref.real, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(y[..., 1], ref.imag, atol=2e-5, rtol=1e-4)


def test_stft_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 64, 1)).astype(np.float32)
    window = np.hanning(16).astype(np.float32)
    step = 8
    frames = (64 - 16) // step + 1
    node = helper.make_node("STFT", ["x", "step", "w"], ["y"])
    exe, _ = run(node, [vi("x", TensorProto.FLOAT, [2, 64, 1]),
                        vi("w", TensorProto.FLOAT, [16])],
                 [vi("y", TensorProto.FLOAT, [2, frames, 9, 2])],
                 [onnx.numpy_helper.from_array(np.array(step, np.int64), "step")],
                 opset=17)
    y = exe(x, window)
    idx = np.arange(frames)[:, None] * step + np.arange(16)
    ref = np.fft.rfft(x[:, idx, 0].astype(np.float64) * window, axis=-1)
    np.testing.assert_allclose(y[..., 0], ref.real, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(y[..., 1], ref.imag, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 5, 5), (2, 8, 8), (16, 16)])
def test_det_matches_numpy(shape):
    rng = np.random.default_rng(len(shape) * 10 + shape[-1])
    x = rng.standard_normal(shape).astype(np.float32)
    if shape[-1] >= 3:
        # A zero on the diagonal's first entry: pivoting needed; and a
        # singular matrix (two equal rows) in the batch.
        x[..., 0, 0] = 0
        if len(shape) == 3:
            x[1, 1] = x[1, 0]
    node = helper.make_node("Det", ["x"], ["y"])
    exe, _ = run(node, [vi("x", TensorProto.FLOAT, list(shape))],
                 [vi("y", TensorProto.FLOAT, list(shape[:-2]))], opset=22)
    y = exe(x)
    ref = np.linalg.det(x.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    if len(shape) == 3:
        assert y[1] == 0 or abs(y[1]) < 1e-4 * np.abs(ref).max()


def test_maxunpool_inverts_maxpool_indices():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    pool = helper.make_node("MaxPool", ["x"], ["v", "i"], kernel_shape=[2, 2],
                            strides=[2, 2])
    pool_model = helper.make_model(
        helper.make_graph([pool], "pool", [vi("x", TensorProto.FLOAT, [2, 3, 6, 6])],
                          [vi("v", TensorProto.FLOAT, [2, 3, 3, 3]),
                           vi("i", TensorProto.INT64, [2, 3, 3, 3])]),
        opset_imports=[helper.make_opsetid("", 12)])
    v, i = ReferenceEvaluator(pool_model).run(None, {"x": x})
    node = helper.make_node("MaxUnpool", ["v", "i", "shape"], ["y"],
                            kernel_shape=[2, 2], strides=[2, 2])
    shape = np.array([2, 3, 7, 7], np.int64)
    exe, model = run(node, [vi("v", TensorProto.FLOAT, [2, 3, 3, 3]),
                            vi("i", TensorProto.INT64, [2, 3, 3, 3])],
                     [vi("y", TensorProto.FLOAT, [2, 3, 7, 7])],
                     [onnx.numpy_helper.from_array(shape, "shape")], opset=22)
    y = exe(v, i)
    np.testing.assert_array_equal(y, ReferenceEvaluator(model).run(None, {"v": v, "i": i})[0])


def test_col2im_matches_torch_fold():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    # C = 2, block 3 x 2, image 7 x 6, dilation (1, 2), stride (2, 1), pads 1.
    kw = dict(kernel_size=(3, 2), dilation=(1, 2), padding=(1, 1), stride=(2, 1))
    blocks = ((7 + 2 - 3) // 2 + 1) * ((6 + 2 - 3) // 1 + 1)
    x = rng.standard_normal((1, 2 * 6, blocks)).astype(np.float32)
    node = helper.make_node("Col2Im", ["x", "image", "block"], ["y"],
                            dilations=[1, 2], pads=[1, 1, 1, 1], strides=[2, 1])
    exe, _ = run(node, [vi("x", TensorProto.FLOAT, list(x.shape))],
                 [vi("y", TensorProto.FLOAT, [1, 2, 7, 6])],
                 [onnx.numpy_helper.from_array(np.array([7, 6], np.int64), "image"),
                  onnx.numpy_helper.from_array(np.array([3, 2], np.int64), "block")],
                 opset=18)
    ref = torch.nn.functional.fold(torch.from_numpy(x).double(), (7, 6), **kw)
    np.testing.assert_allclose(exe(x), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_reverse_sequence_at_run_time_lengths():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 2)).astype(np.float32)  # time, batch, feature
    node = helper.make_node("ReverseSequence", ["x", "lens"], ["y"],
                            time_axis=0, batch_axis=1)
    exe, model = run(node, [vi("x", TensorProto.FLOAT, [5, 3, 2]),
                            vi("lens", TensorProto.INT64, [3])],
                     [vi("y", TensorProto.FLOAT, [5, 3, 2])], opset=10)
    for lens in ([5, 1, 3], [2, 4, 1]):
        lens = np.array(lens, np.int64)
        ref = ReferenceEvaluator(model).run(None, {"x": x, "lens": lens})[0]
        np.testing.assert_array_equal(exe(x, lens), ref)
