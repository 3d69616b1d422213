"""Greedy decoding with a static KV cache, through one llmc artifact.

The decoder of test/e2e/models.py (DECODER_CONFIGS["test"]: Llama-style,
2 layers, GQA 4/2 heads, RMSNorm, RoPE, SwiGLU; caches preallocated to 64
positions, updated by index_put in even layers and scatter in odd ones)
is exported twice by Debian's torch 1.13: T = 8 (the prefill) and T = 1
(a decode step). llmc compiles each file once; the decode artifact then
runs at every position, the position being data (input_pos), not shape.
PyTorch (the venv's torch, same weights) decodes alongside: every step's
logits and caches must agree within relative L2 1e-4 and the tokens must
be equal.
"""

import os
import sys

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import models  # noqa: E402

TOLERANCE = 1e-4
PROMPT, STEPS = 8, 12


def rel_l2(actual, expected):
    a = np.asarray(actual, np.float64).ravel()
    e = np.asarray(expected, np.float64).ravel()
    return float(np.linalg.norm(a - e) / np.linalg.norm(e))


@pytest.fixture(scope="module")
def decoder():
    prefill_path, weights = models.decoder_file("test", PROMPT)
    step_path, _ = models.decoder_file("test", 1)
    return (llmc.compile(prefill_path, name="DecoderPrefill"),
            llmc.compile(step_path, name="DecoderStep"),
            models.decoder_module("test", weights))


def test_greedy_decoding_matches_pytorch_at_every_length(decoder):
    prefill, step, module = decoder
    c = models.DECODER_CONFIGS["test"]
    hd = c["d"] // c["heads"]
    caches = [np.zeros((c["batch"], c["kv_heads"], c["max_seq"], hd), np.float32)
              for _ in range(2 * c["layers"])]
    theirs = [torch.from_numpy(a.copy()) for a in caches]
    prompt = np.random.default_rng(5).integers(0, c["vocab"], (c["batch"], PROMPT))
    ids, pos = prompt, np.arange(PROMPT)
    tokens_ours, tokens_theirs = [], []
    for n in range(STEPS + 1):
        artifact = prefill if n == 0 else step
        out = artifact(ids.astype(np.int64), pos.astype(np.int64), *caches)
        with torch.no_grad():
            ref = module(torch.from_numpy(ids), torch.from_numpy(pos), *theirs)
        logits, caches = out[0], list(out[1:])
        theirs = list(ref[1:])
        assert rel_l2(logits, ref[0].numpy()) < TOLERANCE, (n, rel_l2(logits, ref[0]))
        for a, e in zip(caches, theirs):
            assert rel_l2(a, e.numpy()) < TOLERANCE
        nxt_ours = logits[:, -1].argmax(-1)
        nxt_theirs = ref[0][:, -1].argmax(-1).numpy()
        tokens_ours.append(nxt_ours)
        tokens_theirs.append(nxt_theirs)
        # PyTorch's token drives both (a near-tie could otherwise diverge).
        ids = nxt_theirs[:, None]
        pos = np.array([PROMPT + n])
    np.testing.assert_array_equal(np.array(tokens_ours), np.array(tokens_theirs))
    # One decode artifact served lengths PROMPT + 1 ... PROMPT + STEPS.
    assert STEPS >= 3


def test_positions_past_the_cache_are_refused(decoder):
    """A position beyond max_seq is refused before the step runs (the
    position table's gather would otherwise clamp it: a silent wrong
    answer), naming the input, the value and the node; the caches are not
    touched. The last position runs."""
    _, step, _ = decoder
    c = models.DECODER_CONFIGS["test"]
    hd = c["d"] // c["heads"]
    caches = [np.zeros((c["batch"], c["kv_heads"], c["max_seq"], hd), np.float32)
              for _ in range(2 * c["layers"])]
    with pytest.raises(llmc.InputError,
                       match=r"^DecoderStep: input 'input_pos' holds 1000000 \(element 0\), "
                             r"outside \[-64, 63\]: node '.*' indexes a dim of 64 with it$"):
        step(np.zeros((c["batch"], 1), np.int64), np.array([10 ** 6]), *caches)
    assert all((a == 0).all() for a in caches)
    out = step(np.zeros((c["batch"], 1), np.int64), np.array([c["max_seq"] - 1]), *caches)
    assert all(np.isfinite(a).all() for a in out[1:])


def test_a_cache_of_the_wrong_length_or_dtype_is_refused(decoder):
    _, step, _ = decoder
    c = models.DECODER_CONFIGS["test"]
    hd = c["d"] // c["heads"]
    good = np.zeros((c["batch"], c["kv_heads"], c["max_seq"], hd), np.float32)
    ids, pos = np.zeros((c["batch"], 1), np.int64), np.array([0])
    rest = [good] * (2 * c["layers"] - 1)
    with pytest.raises(llmc.InputError, match=r"^DecoderStep: input .past_key_0. must be FLOAT \[2,2,64,32\], got FLOAT \[2,2,63,32\]$"):
        step(ids, pos, good[:, :, :-1], *rest)
    with pytest.raises(llmc.InputError, match=r"^DecoderStep: input .past_key_0. must be FLOAT"):
        step(ids, pos, good.astype(np.float64), *rest)
    # Named by the model's file when it has no name= (never a temporary file).
    path, _ = models.decoder_file("test", 1)
    with pytest.raises(llmc.InputError, match="^" + path):
        llmc.compile(path)(ids, pos, good[:, :, :-1], *rest)


def _caches(seed=0):
    c = models.DECODER_CONFIGS["test"]
    hd = c["d"] // c["heads"]
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((c["batch"], c["kv_heads"], c["max_seq"], hd)).astype(
        np.float32) for _ in range(2 * c["layers"])]


def test_donated_caches_are_updated_in_place_and_returned(decoder):
    """donate= the caches: each step writes them in place and returns the
    very arrays it was given, with the values of the artifact that copies."""
    _, plain, _ = decoder
    path, _ = models.decoder_file("test", 1)
    inputs, outputs = models.decoder_io_names("test")
    donated = llmc.compile(path, donate=inputs[2:])
    assert donated.donated == dict(zip(outputs[1:], inputs[2:]))
    assert plain.donated == {}
    ours, theirs = _caches(), _caches()
    c = models.DECODER_CONFIGS["test"]
    for n in range(3):
        ids = np.full((c["batch"], 1), 7 + n, np.int64)
        pos = np.array([n])
        before = [a for a in ours]
        out = donated(ids, pos, *ours)
        ref = plain(ids, pos, *theirs)
        assert all(o is b for o, b in zip(out[1:], before))
        for a, e in zip(out, ref):
            np.testing.assert_array_equal(a, e)
        ours, theirs = list(out[1:]), list(ref[1:])


def test_donated_read_only_or_torch_inputs(decoder):
    """A read-only array is not written (a copy is returned); a torch tensor
    is updated in place."""
    path, _ = models.decoder_file("test", 1)
    inputs, _ = models.decoder_io_names("test")
    donated = llmc.compile(path, donate=inputs[2:3])
    c = models.DECODER_CONFIGS["test"]
    ids, pos = np.zeros((c["batch"], 1), np.int64), np.array([3])
    caches = _caches(1)
    frozen = caches[0].copy()
    frozen.flags.writeable = False
    out = donated(ids, pos, frozen, *caches[1:])
    assert out[1] is not frozen and not np.array_equal(out[1], frozen)
    np.testing.assert_array_equal(frozen, _caches(1)[0])
    tensors = [torch.from_numpy(a.copy()) for a in caches]
    address = tensors[0].data_ptr()
    out_t = donated(torch.from_numpy(ids), torch.from_numpy(pos), *tensors)
    assert out_t[1].data_ptr() == address
    np.testing.assert_array_equal(out_t[1].numpy(), out[1])


def test_donating_what_cannot_be_donated_is_refused():
    path, _ = models.decoder_file("test", 1)
    with pytest.raises(llmc.CompileError,
                       match=r"the model has no input 'past_key_9' to donate "
                             r"\(inputs: input_ids, input_pos, past_key_0"):
        llmc.compile(path, donate=["past_key_9"])
    with pytest.raises(llmc.CompileError, match=r"donated inputs do not combine with a mesh"):
        llmc.compile(path, donate=["past_key_0"], mesh={"tp": 2})


def test_donated_caches_given_as_one_array_are_not_mixed_up(decoder):
    """`[np.zeros(...)] * 4`: one array for every donated cache. Each is
    updated in place, so they may not share memory: the executable gives
    all but one a copy, and the results are those of the copying artifact."""
    _, plain, _ = decoder
    path, _ = models.decoder_file("test", 1)
    inputs, _ = models.decoder_io_names("test")
    donated = llmc.compile(path, donate=inputs[2:])
    c = models.DECODER_CONFIGS["test"]
    hd = c["d"] // c["heads"]
    ids, pos = np.full((c["batch"], 1), 9, np.int64), np.array([2])
    one = np.random.default_rng(2).standard_normal(
        (c["batch"], c["kv_heads"], c["max_seq"], hd)).astype(np.float32)
    expected = plain(ids, pos, *([one.copy()] * 4))
    shared = one.copy()
    got = donated(ids, pos, *([shared] * 4))
    for a, e in zip(got, expected):
        np.testing.assert_array_equal(a, e)
    # Different keys and values went into different buffers.
    assert len({id(a) for a in got[1:]}) == 4
