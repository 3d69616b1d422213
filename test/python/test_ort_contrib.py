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
  additive bias and causality;
- what ONNX Runtime's transformer optimizer fuses BERT, GPT-2 and ViT into:
  com.microsoft Attention (packed QKV weights and bias, key lengths or a
  key mask, attention_bias, unidirectional, unequal v size, the present
  output), SkipLayerNormalization (with and without beta and bias, the sum
  output), Gelu, BiasGelu, FastGelu and QuickGelu, and LayerNormalization
  in an opset-14 model (ONNX Runtime's own op of that name); and the
  optimizer's output for the end-to-end bert_mini, gpt2_mini and vit_mini,
  against ONNX Runtime and PyTorch's float64 reference.
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


@pytest.mark.parametrize("mask,causal,bias,sizes", [
    (None, False, True, None),
    ("lengths", False, True, None),
    ("keys", False, True, None),
    (None, True, True, None),
    (None, False, True, [16, 16, 8]),
    ("keys", True, True, [16, 16, 8]),
])
def test_attention(mask, causal, bias, sizes):
    """Packed-QKV self-attention: 2 heads over 5 tokens; key lengths
    (right padding) or a key mask, an additive attention bias with the
    lengths, causality, unequal v (qkv_hidden_sizes) and the present
    output where k and v share a head size."""
    B, S, E, H = 2, 5, 12, 2
    n = sum(sizes) if sizes else 48
    feeds = {"x": randn(B, S, E), "w": randn(E, n)}
    inputs = ["x", "w", "b" if bias else ""]
    if bias:
        feeds["b"] = randn(n)
    if mask == "lengths":
        feeds["m"] = np.array([5, 3], np.int32)
    elif mask == "keys":
        feeds["m"] = np.array([[1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], np.int32)
    inputs.append("m" if mask else "")
    if mask == "lengths" and not causal:
        inputs += ["", "ab"]
        feeds["ab"] = randn(1, H, S, S)
    attrs = {"num_heads": H}
    if causal:
        attrs["unidirectional"] = 1
    if sizes:
        attrs["qkv_hidden_sizes"] = sizes
    present = sizes is None
    outputs = ["y", "present"] if present else ["y"]
    while inputs and inputs[-1] == "":
        inputs.pop()
    node = h.make_node("Attention", inputs, outputs, domain="com.microsoft", **attrs)
    m = model([node], [(k, T.INT32 if k == "m" else F32) for k in feeds],
              [(o, F32) for o in outputs])
    want, got = both(m, feeds)
    for g, w, what in zip(got, want, outputs):
        close(g, w, what)


def test_attention_refusals():
    """Past state and other mask layouts are refused by name."""
    B, S, E, H = 1, 3, 8, 2
    base = {"x": randn(B, S, E), "w": randn(E, 3 * E)}
    cases = [
        (["x", "w", "", "", "past"], {"past": randn(2, B, H, 2, E // H)},
         "past state"),
        (["x", "w", "", "m"], {"m": np.ones((B, S, S), np.int32)},
         "only an int32 mask_index of key lengths"),
    ]
    for inputs, extra, message in cases:
        feeds = dict(base, **extra)
        node = h.make_node("Attention", inputs, ["y"], domain="com.microsoft",
                           num_heads=H)
        m = model([node], [(k, T.INT32 if k == "m" else F32) for k in feeds],
                  [("y", F32)])
        with pytest.raises(llmc.CompileError, match=message):
            llmc.compile(m, example_inputs=feeds)


@pytest.mark.parametrize("beta,bias", [(False, False), (True, True)])
def test_skip_layer_norm(beta, bias):
    x, skip, g = randn(2, 4, 16), randn(2, 4, 16), randn(16)
    feeds = {"x": x, "s": skip, "g": g}
    inputs = ["x", "s", "g"]
    if beta:
        feeds["be"] = randn(16)
        inputs.append("be")
    if bias:
        feeds["bi"] = randn(16)
        inputs.append("bi")
    node = h.make_node("SkipLayerNormalization", inputs, ["y", "", "", "sum"],
                       domain="com.microsoft", epsilon=1e-5)
    m = model([node], [(k, F32) for k in feeds], [("y", F32), ("sum", F32)])
    want, got = both(m, feeds)
    close(got[0], want[0], "y")
    close(got[1], want[1], "input_skip_bias_sum")


@pytest.mark.parametrize("op,bias", [("Gelu", False), ("BiasGelu", True),
                                     ("FastGelu", False), ("FastGelu", True),
                                     ("QuickGelu", False)])
def test_gelus(op, bias):
    feeds = {"x": randn(3, 7, 16) * 3}
    if bias:
        feeds["b"] = randn(16)
    node = h.make_node(op, list(feeds), ["y"], domain="com.microsoft")
    m = model([node], [(k, F32) for k in feeds], [("y", F32)])
    want, got = both(m, feeds)
    close(got[0], want[0], op)


def test_layer_norm_before_opset_17():
    """ONNX Runtime's optimizer writes LayerNormalization into opset 11-16
    models: its own default-domain op of the same meaning."""
    feeds = {"x": randn(2, 3, 8), "g": randn(8), "b": randn(8)}
    g = h.make_graph([h.make_node("LayerNormalization", ["x", "g", "b"], ["y"],
                                  epsilon=1e-5)], "ln",
                     [h.make_tensor_value_info(k, F32, None) for k in feeds],
                     [h.make_tensor_value_info("y", F32, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 14)])
    m.ir_version = 8
    want, got = both(m, feeds)
    close(got[0], want[0], "y")


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    """bert_mini, gpt2_mini and vit_mini through ONNX Runtime's transformer
    optimizer (opt_level 0: its graph fusions, no constant folding)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "e2e"))
    import models
    from onnxruntime.transformers import optimizer
    d = tmp_path_factory.mktemp("ort_optimized")
    out = {}
    for name, kind in (("bert_mini", "bert"), ("gpt2_mini", "gpt2"),
                       ("vit_mini", "vit")):
        case = models.get(name)
        opt = optimizer.optimize_model(case.onnx_path, model_type=kind,
                                       num_heads=4, hidden_size=128, opt_level=0)
        path = str(d / (name + ".onnx"))
        opt.save_model_to_file(path)
        out[name] = (path, case, models)
    return out


@pytest.mark.parametrize("name,fused", [
    ("bert_mini", {"Attention", "SkipLayerNormalization", "BiasGelu"}),
    ("gpt2_mini", {"SkipLayerNormalization", "FastGelu"}),
    ("vit_mini", {"SkipLayerNormalization", "BiasGelu"}),
])
def test_ort_optimized_models(name, fused, optimized):
    """The optimizer's fused ops are there, and llmc's outputs match ONNX
    Runtime's and PyTorch's float64 reference (rel L2 1e-5 and 1e-4)."""
    path, case, models = optimized[name]
    m = onnx.load(path)
    ops = {n.op_type for n in m.graph.node if n.domain == "com.microsoft"}
    assert fused <= ops, ops
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: case.inputs[i.name] for i in sess.get_inputs()}
    want = sess.run(None, feeds)
    exe = llmc.compile(path)
    got = exe(**feeds)
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    for o, g, w in zip(sess.get_outputs(), got, want):
        assert models.rel_l2(g, w) <= 1e-5, (o.name, models.rel_l2(g, w))
        assert models.rel_l2(g, case.ref_fp64[o.name]) <= 1e-4, o.name

