"""ONNX Runtime's transformer ops, as its optimizer and GenAI's model builder
write Llama-style decoders, through llmc against ONNX Runtime itself (the
reference: these ops are defined by what it computes), on small models with
seeded inputs, within 1e-4:

- SimplifiedLayerNormalization (ONNX Runtime's default-domain op) with its
  inverse-RMS output, SkipSimplifiedLayerNormalization (the residual sum
  too, with and without a bias);
- com.microsoft RotaryEmbedding: positions per token or one start position,
  halves or interleaved pairs, 3-D and 4-D inputs;
- com.microsoft GroupQueryAttention: a prompt without caches; decode steps
  over caches longer than the history (ONNX Runtime's shared-buffer
  layout), rows of different lengths (seqlens_k), with the rotation inside
  (do_rotary), packed QKV, a chunk of several tokens after a history, and
  softcap; the present caches too, where ONNX Runtime defines them;
- com.microsoft MultiHeadAttention: cross-attention, and self-attention
  after cached positions with the q/k/v bias, a key padding mask, an
  additive bias and causality.
"""

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h  # noqa: E402

TOL = 1e-4
F32 = T.FLOAT


def model(nodes, inputs, outputs):
    """A model of `nodes` over named (name, elem_type) inputs and outputs."""
    g = h.make_graph(nodes, "contrib",
                     [h.make_tensor_value_info(n, t, None) for n, t in inputs],
                     [h.make_tensor_value_info(n, t, None) for n, t in outputs])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21),
                                       h.make_opsetid("com.microsoft", 1)])
    m.ir_version = 10  # onnxruntime 1.23 reads up to 11
    return m


def both(m, feeds):
    """(ONNX Runtime's outputs, llmc's), inputs in graph order."""
    want = ort.InferenceSession(m.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, feeds)
    exe = llmc.compile(m, example_inputs=feeds)
    got = exe(*feeds.values())
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    return want, got


def close(got, want, what=""):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
    assert err <= TOL, f"{what}: max error {err:.2e} relative to the largest value"


rng = np.random.RandomState(20261207)


def randn(*shape):
    return rng.randn(*shape).astype(np.float32)


def test_simplified_layer_norm():
    x, g = randn(2, 5, 16), randn(16)
    m = model([h.make_node("SimplifiedLayerNormalization", ["x", "g"],
                           ["y", "inv"], epsilon=1e-6)],
              [("x", F32), ("g", F32)], [("y", F32), ("inv", F32)])
    want, got = both(m, {"x": x, "g": g})
    close(got[0], want[0], "y")
    close(got[1], want[1], "inv_std_var")


@pytest.mark.parametrize("bias", [False, True])
def test_skip_simplified_layer_norm(bias):
    x, s, g, b = randn(2, 5, 16), randn(2, 5, 16), randn(16), randn(16)
    names = ["x", "s", "g"] + (["b"] if bias else [])
    feeds = {"x": x, "s": s, "g": g, **({"b": b} if bias else {})}
    m = model([h.make_node("SkipSimplifiedLayerNormalization", names,
                           ["y", "", "", "sum"], domain="com.microsoft",
                           epsilon=1e-5)],
              [(n, F32) for n in names], [("y", F32), ("sum", F32)])
    want, got = both(m, feeds)
    close(got[0], want[0], "y")
    close(got[1], want[1], "input_skip_bias_sum")


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("positions", ["per-token", "start"])
@pytest.mark.parametrize("rank", [3, 4])
def test_rotary_embedding(interleaved, positions, rank):
    B, S, N, D = 2, 3, 2, 8
    x = randn(B, S, N * D) if rank == 3 else randn(B, N, S, D)
    pos = (np.array([[0, 1, 2], [5, 6, 7]], np.int64) if positions == "per-token"
           else np.array([4], np.int64))
    c, s = randn(16, D // 2), randn(16, D // 2)
    m = model([h.make_node("RotaryEmbedding", ["x", "p", "c", "s"], ["y"],
                           domain="com.microsoft", interleaved=interleaved,
                           **({"num_heads": N} if rank == 3 else {}))],
              [("x", F32), ("p", T.INT64), ("c", F32), ("s", F32)], [("y", F32)])
    want, got = both(m, {"x": x, "p": pos, "c": c, "s": s})
    close(got[0], want[0])


def gqa(feeds, heads, kv_heads, packed=False, past=True, rotary=False, **attrs):
    names = ["q"] + ([] if packed else ["k", "v"])
    inputs = ["q", "" if packed else "k", "" if packed else "v",
              "pk" if past else "", "pv" if past else "", "sl", "tot"]
    if rotary:
        inputs += ["cos", "sin"]
    node = h.make_node("GroupQueryAttention", inputs, ["y", "prk", "prv"],
                       domain="com.microsoft", num_heads=heads,
                       kv_num_heads=kv_heads, do_rotary=int(rotary), **attrs)
    declared = [(n, F32) for n in names] + ([("pk", F32), ("pv", F32)] if past else [])
    declared += [("sl", T.INT32), ("tot", T.INT32)]
    if rotary:
        declared += [("cos", F32), ("sin", F32)]
    order = [n for n, _ in declared]
    m = model([node], declared, [("y", F32), ("prk", F32), ("prv", F32)])
    return both(m, {n: feeds[n] for n in order})


def test_gqa_prompt():
    B, S, H, KVH, D = 2, 6, 4, 2, 8
    feeds = {"q": randn(B, S, H * D), "k": randn(B, S, KVH * D),
             "v": randn(B, S, KVH * D), "sl": np.full(B, S - 1, np.int32),
             "tot": np.array(S, np.int32)}
    want, got = gqa(feeds, H, KVH, past=False)
    for g, w, what in zip(got, want, ["y", "present_key", "present_value"]):
        close(g, w, what)


@pytest.mark.parametrize("rotary", [False, True])
def test_gqa_decode_rows_of_different_lengths(rotary):
    """One token per row after 5 and 9 cached ones, in caches of 16."""
    B, H, KVH, D, M = 2, 4, 2, 16, 16
    hist = np.array([5, 9])
    feeds = {"q": randn(B, 1, H * D), "k": randn(B, 1, KVH * D),
             "v": randn(B, 1, KVH * D), "pk": randn(B, KVH, M, D),
             "pv": randn(B, KVH, M, D), "sl": hist.astype(np.int32),
             "tot": np.array(hist.max() + 1, np.int32),
             "cos": randn(32, D // 2), "sin": randn(32, D // 2)}
    want, got = gqa(feeds, H, KVH, rotary=rotary)
    close(got[0], want[0], "y")
    # The present caches: the history and the new token, per row.
    for b, n in enumerate(hist):
        close(got[1][b, :, :n + 1], want[1][b, :, :n + 1], f"present_key row {b}")
        close(got[2][b, :, :n + 1], want[2][b, :, :n + 1], f"present_value row {b}")


def test_gqa_chunk_after_history_packed_softcap():
    """Four tokens after seven cached ones (batch 1), Q, K and V packed in one
    tensor, scores soft-capped."""
    B, S, H, KVH, D, P = 1, 4, 4, 1, 8, 7
    feeds = {"q": randn(B, S, (H + 2 * KVH) * D), "pk": randn(B, KVH, P, D),
             "pv": randn(B, KVH, P, D), "sl": np.array([P + S - 1], np.int32),
             "tot": np.array(P + S, np.int32)}
    want, got = gqa(feeds, H, KVH, packed=True, softcap=2.0)
    for g, w, what in zip(got, want, ["y", "present_key", "present_value"]):
        close(g, w, what)


def test_gqa_refusals():
    """What is not supported is refused by name, not computed wrongly."""
    B, H, KVH, D = 1, 4, 2, 8
    m = model([h.make_node("GroupQueryAttention",
                           ["q", "k", "v", "", "", "sl", "tot"], ["y"],
                           domain="com.microsoft", num_heads=H,
                           kv_num_heads=KVH, local_window_size=4)],
              [("q", F32), ("k", F32), ("v", F32), ("sl", T.INT32),
               ("tot", T.INT32)], [("y", F32)])
    feeds = {"q": randn(B, 2, H * D), "k": randn(B, 2, KVH * D),
             "v": randn(B, 2, KVH * D), "sl": np.array([1], np.int32),
             "tot": np.array(2, np.int32)}
    with pytest.raises(llmc.CompileError, match="local_window_size"):
        llmc.compile(m, example_inputs=feeds)
    m.graph.node[0].op_type = "DecoderMaskedMultiHeadAttention"
    with pytest.raises(llmc.CompileError,
                       match="unsupported operator DecoderMaskedMultiHeadAttention "
                             "of domain 'com.microsoft'"):
        llmc.compile(m, example_inputs=feeds)


@pytest.mark.parametrize("extras", [False, True])
def test_multi_head_attention(extras):
    """Cross-attention (3 queries over 5 keys) plain; and self-attention
    after 4 cached positions with the q/k/v bias, a key padding mask (row 1
    hides its first two keys), an additive attention bias and causality."""
    B, H, D = 2, 2, 8
    S, L, P = (3, 3, 4) if extras else (3, 5, 0)
    feeds = {"q": randn(B, S, H * D), "k": randn(B, L, H * D),
             "v": randn(B, L, H * D)}
    inputs = ["q", "k", "v"]
    attrs = {}
    if extras:
        mask = np.ones((B, P + L), np.int32)
        mask[1, :2] = 0
        feeds.update(b=randn(3 * H * D), mask=mask, ab=randn(1, H, S, P + L),
                     pk=randn(B, H, P, D), pv=randn(B, H, P, D))
        inputs += ["b", "mask", "ab", "pk", "pv"]
        attrs["unidirectional"] = 1
    node = h.make_node("MultiHeadAttention", inputs,
                       ["y", "prk", "prv"] if extras else ["y"],
                       domain="com.microsoft", num_heads=H, **attrs)
    m = model([node], [(n, T.INT32 if n == "mask" else F32) for n in inputs],
              [(n, F32) for n in (["y", "prk", "prv"] if extras else ["y"])])
    want, got = both(m, feeds)
    for g, w, what in zip(got, want, ["y", "present_key", "present_value"]):
        close(g, w, what)
