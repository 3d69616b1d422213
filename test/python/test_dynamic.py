"""--dynamic from Python: one executable for a range of sizes.

llmc.compile(model, dynamic={...}) compiles an ONNX model with symbolic dims
into variants the compiler chooses (padded where the padding analysis and
the translation check prove that padding changes nothing kept; one per size
otherwise). These tests run every route of that against an independent
reference: numpy in float64 for a small model, ONNX Runtime on the same
ONNX file for GPT-2-style and Llama-style decoders exported by PyTorch with
symbolic batch and sequence dims (rel L2 <= 1e-5); and every error a user
can meet.
"""

import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import models  # noqa: E402

import llmc  # noqa: E402

MLP = os.path.join(REPO, "test", "llmc", "Inputs", "dynamic_mlp.onnxtxt")
KV = os.path.join(REPO, "test", "llmc", "Inputs", "dynamic_kv.onnxtxt")
W = np.array([0.5, -0.25, 0.125, 1.0, -1.0, 0.75, 0.5, -0.5, 0.25, 0.25,
              -0.75, 1.5, 1.0, -1.25, 0.5, 0.25]).reshape(4, 4)
B = np.array([0.1, -0.2, 0.3, -0.4])


def mlp_reference(x, g):
    a = x.astype(np.float64) @ W + B
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return np.maximum(a, 0), e / e.sum(axis=1, keepdims=True), g * B


@pytest.fixture(scope="module")
def mlp():
    return llmc.compile(MLP, dynamic={"batch": (1, 8), "seq": (2, 4)})


def test_mlp_every_size(mlp):
    assert mlp.dynamic == {"batch": (1, 8), "seq": (2, 4)}
    assert mlp.inputs[0].shape == ("batch", "seq", 4)
    assert mlp.outputs[0].shape == (None, None, 4)
    rng = np.random.default_rng(0)
    for b in range(1, 9):
        for s in (2, 3, 4):
            x = rng.standard_normal((b, s, 4)).astype(np.float32)
            g = rng.standard_normal((b, 4)).astype(np.float32)
            got = mlp(x, g=g)
            for out, want in zip(got, mlp_reference(x, g)):
                assert out.shape == want.shape
                np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_mlp_report_says_what_is_padded(mlp):
    report = mlp.report()
    dims = {d["name"]: d for d in report.dynamic}
    assert dims["batch"]["padded"] and not dims["seq"]["padded"]
    assert "Softmax" in dims["seq"]["why"]
    assert len(report.variants) == 4 * 3
    assert report.kernels  # the largest variant's


def test_size_out_of_range_names_input_and_range(mlp):
    with pytest.raises(llmc.InputError,
                       match=r"dynamic_mlp.onnxtxt: input 'x' dim 0 \('batch'\) is 9, "
                             r"outside the artifact's range 1..8"):
        mlp(np.zeros((9, 2, 4), np.float32), np.zeros((9, 4), np.float32))
    with pytest.raises(llmc.InputError, match=r"input 'x' dim 1 \('seq'\) is 1, "
                                              r"outside the artifact's range 2..4"):
        mlp(np.zeros((2, 1, 4), np.float32), np.zeros((2, 4), np.float32))
    with pytest.raises(llmc.InputError, match=r"input 'g' dim 0 \('batch'\) is 3 but "
                                              r"input 'x' dim 0 is 2"):
        mlp(np.zeros((2, 2, 4), np.float32), np.zeros((3, 4), np.float32))
    with pytest.raises(llmc.InputError, match=r"input 'x' must be FLOAT "
                                              r"\[batch, seq, 4\], got \[2,2,5\]"):
        mlp(np.zeros((2, 2, 5), np.float32), np.zeros((2, 4), np.float32))


def test_saved_and_loaded(mlp, tmp_path):
    path = tmp_path / "mlp.llmcx"
    mlp.save(path)
    again = llmc.load(path)
    x = np.ones((5, 3, 4), np.float32)
    g = np.ones((5, 4), np.float32)
    for a, b in zip(again(x, g), mlp(x, g)):
        np.testing.assert_array_equal(a, b)


def test_output_dim_that_is_a_sum():
    kv = llmc.compile(KV, dynamic="past=1..4")
    assert kv.outputs[0].shape == (1, None, 4)
    for past in range(1, 5):
        p = np.arange(past * 4, dtype=np.float32).reshape(1, past, 4)
        k = np.full((1, 1, 4), -1, np.float32)
        np.testing.assert_array_equal(kv(p, k), np.concatenate([p, k], axis=1))


def test_errors():
    with pytest.raises(llmc.CompileError, match="'sequence' names no dim of the model"):
        llmc.compile(MLP, dynamic={"batch": (1, 2), "sequence": (1, 2)})
    with pytest.raises(llmc.CompileError, match="give no example inputs"):
        llmc.compile(MLP, dynamic={"batch": (1, 2), "seq": (2, 3)},
                     example_inputs={"x": np.zeros((1, 2, 4), np.float32)})
    with pytest.raises(llmc.CompileError, match="must satisfy 1 <= MIN <= MAX"):
        llmc.compile(MLP, dynamic={"batch": (3, 2), "seq": (2, 3)})
    with pytest.raises(TypeError, match=r"dynamic\['batch'\] is a range"):
        llmc.compile(MLP, dynamic={"batch": 8})
    with pytest.raises(TypeError, match="dynamic= maps dim names"):
        llmc.compile(MLP, dynamic=[("batch", 1, 8)])


def test_module_with_dynamic_is_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="dynamic= is for ONNX models"):
        llmc.compile(torch.nn.Linear(4, 4), example_inputs=(torch.zeros(2, 4),),
                     dynamic={"batch": (1, 4)})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gpt2_mini", "llama_mini"])
def test_decoder_every_length_from_one_executable(name):
    """A causal decoder: the sequence dim is padded (the causal mask keeps
    every kept row's keys before the padded ones) and so is the batch; one
    executable of 10 variants runs every size, matching ONNX Runtime."""
    ort = pytest.importorskip("onnxruntime")
    path = models.dynamic_file(name)
    exe = llmc.compile(path, dynamic={"batch": (1, 2), "seq": (1, 16)})
    dims = {d["name"]: d for d in exe.report().dynamic}
    assert dims["seq"]["padded"], dims["seq"]["why"]
    assert len(exe.report().variants) == 2 * 5  # batch 1, 2; seq 1..16
    # The variants share the weights: the artifact is not ten models' worth.
    size = len(exe._bytes)
    assert size < 2 * os.path.getsize(path), (size, os.path.getsize(path))
    sess = ort.InferenceSession(path)
    rng = np.random.default_rng(3)
    for b, s in [(1, 1), (2, 5), (1, 16), (2, 11), (1, 3)]:
        ids = rng.integers(0, 100, (b, s)).astype(np.int64)
        want = sess.run(None, {"input_ids": ids})[0]
        got = exe(ids)
        assert got.shape == want.shape
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert err <= 1e-5, (b, s, err)


@pytest.mark.slow
def test_decoder_on_a_mesh_every_length_from_one_executable():
    """--dynamic with a mesh: GPT-2 under Megatron on tp=2, each variant
    partitioned on its own, matches ONNX Runtime at every size from one
    executable; the variants share the weights' parts."""
    ort = pytest.importorskip("onnxruntime")
    path = models.dynamic_file("gpt2_mini")
    exe = llmc.compile(path, dynamic={"batch": (1, 2), "seq": (1, 8)},
                       mesh={"tp": 2}, strategy="megatron")
    assert len(exe.report().variants) == 2 * 4  # batch 1, 2; seq 1, 2, 4, 8
    sess = ort.InferenceSession(path)
    rng = np.random.default_rng(5)
    for b, s in [(1, 1), (2, 3), (1, 8), (2, 6)]:
        ids = rng.integers(0, 100, (b, s)).astype(np.int64)
        want = sess.run(None, {"input_ids": ids})[0]
        got = exe(ids)
        assert got.shape == want.shape
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert err <= 1e-5, (b, s, err)
