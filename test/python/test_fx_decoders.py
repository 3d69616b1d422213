"""Decoder-style PyTorch modules through llmc's three Python routes.

Each module is run by PyTorch (float32, eval) and by llmc through
llmc.compile(module), llmc.compile(torch.export.export(module)) and
torch.compile(module, backend="llmc"); the outputs must agree within a
relative L2 error of 1e-4 (float32 arithmetic in a different order).

The modules are written the way current model code writes them: RMSNorm
with Tensor.pow, RoPE tables from torch.arange, masks from torch.full(...)
.triu(), GQA by repeat_interleave or SDPA's enable_gqa, GPT-2's fused QKV
projection with is_causal SDPA, a top-k mixture of experts (topk, scatter,
einsum), KV caches stacked over layers (torch.cat, torch.stack), and
arithmetic that mixes dtypes (PyTorch's promotion rules).
"""

import math

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
torch = pytest.importorskip("torch")
if not hasattr(torch, "export"):
    pytest.skip("torch.export needs torch 2.x", allow_module_level=True)

nn = torch.nn
F = torch.nn.functional
TOLERANCE = 1e-4


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d) + 0.1 * torch.randn(d))

    def forward(self, x):
        var = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, d, heads, kv_heads, gqa_by_sdpa):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, d // heads
        self.gqa_by_sdpa = gqa_by_sdpa
        self.q_proj = nn.Linear(d, heads * self.hd, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.gqa_by_sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:
            rep = self.heads // self.kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = torch.repeat_interleave(v, rep, dim=1)
            mask = torch.full((T, T), float("-inf")).triu(1)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class Llama(nn.Module):
    def __init__(self, gqa_by_sdpa=False, vocab=100, d=64, layers=2, heads=4,
                 kv_heads=2, hidden=128):
        super().__init__()
        self.hd = d // heads
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([nn.ModuleDict(dict(
            norm1=RMSNorm(d), attn=LlamaAttention(d, heads, kv_heads, gqa_by_sdpa),
            norm2=RMSNorm(d), gate=nn.Linear(d, hidden, bias=False),
            up=nn.Linear(d, hidden, bias=False), down=nn.Linear(hidden, d, bias=False)))
            for _ in range(layers)])
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T, dtype=torch.int64)
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        ang = pos[:, None] * inv[None, :]  # int64 * float32: promotes to float32
        ang = torch.cat((ang, ang), dim=-1)
        cos, sin = ang.cos(), ang.sin()
        x = self.embed(ids)
        for layer in self.layers:
            x = x + layer["attn"](layer["norm1"](x), cos, sin)
            h = layer["norm2"](x)
            x = x + layer["down"](F.silu(layer["gate"](h)) * layer["up"](h))
        return self.head(self.norm(x))


class GPT2(nn.Module):
    def __init__(self, vocab=100, d=64, layers=2, heads=4, max_seq=64):
        super().__init__()
        self.heads = heads
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(max_seq, d)
        self.blocks = nn.ModuleList([nn.ModuleDict(dict(
            ln1=nn.LayerNorm(d), qkv=nn.Linear(d, 3 * d), proj=nn.Linear(d, d),
            ln2=nn.LayerNorm(d), fc=nn.Linear(d, 4 * d), fc2=nn.Linear(4 * d, d)))
            for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, ids):
        B, T = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(0, T, dtype=torch.long))
        for b in self.blocks:
            q, k, v = b["qkv"](b["ln1"](x)).split(x.shape[-1], dim=2)
            q, k, v = (t.view(B, T, self.heads, -1).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + b["proj"](y.transpose(1, 2).contiguous().view(B, T, -1))
            x = x + b["fc2"](F.gelu(b["fc"](b["ln2"](x)), approximate="tanh"))
        return self.ln_f(x) @ self.wte.weight.T


class TopKMoE(nn.Module):
    def __init__(self, d=32, hidden=64, experts=4, k=2):
        super().__init__()
        self.k = k
        self.router = nn.Linear(d, experts, bias=False)
        self.w1 = nn.Parameter(torch.randn(experts, d, hidden) * 0.1)
        self.w2 = nn.Parameter(torch.randn(experts, hidden, d) * 0.1)

    def forward(self, x):
        p = F.softmax(self.router(x), dim=-1)
        top, idx = torch.topk(p, self.k, dim=-1)
        top = top / top.sum(-1, keepdim=True)
        gates = torch.zeros_like(p).scatter(-1, idx, top)
        h = F.gelu(torch.einsum("btd,edh->bteh", x, self.w1))
        y = torch.einsum("bteh,ehd->bted", h, self.w2)
        return x + torch.einsum("bted,bte->btd", y, gates)


class KVCacheDecoder(nn.Module):
    """GPT-2-style decoder step with its KV caches stacked over layers:
    past_k/past_v [layers, batch, heads, past, head_dim] in, logits and the
    grown caches out (the pattern that once made llmc-fuse find a cycle)."""

    def __init__(self, vocab=100, d=64, layers=2, heads=4, max_seq=64):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(max_seq, d)
        self.blocks = nn.ModuleList([nn.ModuleDict(dict(
            ln1=nn.LayerNorm(d), qkv=nn.Linear(d, 3 * d), proj=nn.Linear(d, d)))
            for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, ids, past_k, past_v):
        B, T = ids.shape
        P = past_k.shape[3]
        x = self.wte(ids) + self.wpe(torch.arange(P, P + T))
        keys, values = [], []
        for i, b in enumerate(self.blocks):
            q, k, v = b["qkv"](b["ln1"](x)).split(x.shape[-1], dim=2)
            q, k, v = (t.view(B, T, self.heads, self.hd).transpose(1, 2) for t in (q, k, v))
            k = torch.cat([past_k[i], k], dim=2)
            v = torch.cat([past_v[i], v], dim=2)
            keys.append(k)
            values.append(v)
            allowed = torch.ones(T, P + T, dtype=torch.bool).tril(P)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
            att = att.masked_fill(~allowed, float("-inf"))
            y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, -1)
            x = x + b["proj"](y)
        return self.ln_f(x) @ self.wte.weight.T, torch.stack(keys), torch.stack(values)


class MixedDtypes(nn.Module):
    """Arithmetic across dtypes: int64 / int, int64 * float32, a bool mask
    times float32, float32 + float64 scalar, comparisons of int with float."""

    def forward(self, x, n):
        scale = n / 4                   # int64 / int -> float32
        y = x * n + scale               # float32 * int64
        mask = n > 2.5                  # int64 > float -> bool
        y = y * mask                    # float32 * bool
        return torch.where(y >= 0.5, y, y * 0.25) + 1e-3


def rel_l2(actual, expected):
    a = np.asarray(actual, np.float64).ravel()
    e = np.asarray(expected, np.float64).ravel()
    return float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-30))


def _cases():
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, 100, (2, 16), generator=g)
    return {
        "llama_repeat_interleave": (lambda: Llama(False), (ids,)),
        "llama_sdpa_gqa": (lambda: Llama(True), (ids,)),
        "gpt2_sdpa": (GPT2, (ids,)),
        "moe_topk": (TopKMoE, (torch.randn(2, 8, 32, generator=g),)),
        "kv_cache_decoder": (KVCacheDecoder, (
            torch.randint(0, 100, (2, 1), generator=g),
            torch.randn(2, 2, 4, 7, 16, generator=g),
            torch.randn(2, 2, 4, 7, 16, generator=g))),
        "mixed_dtypes": (MixedDtypes, (torch.randn(3, 5, generator=g),
                                       torch.randint(0, 6, (3, 5), generator=g))),
    }


CASES = _cases()


def _route(route, module, args):
    if route == "module":
        return llmc.compile(module, example_inputs=args)(*args)
    if route == "export":
        return llmc.compile(torch.export.export(module, args), example_inputs=args)(*args)
    torch._dynamo.reset()
    return torch.compile(module, backend="llmc")(*args)


@pytest.mark.parametrize("route", ["module", "export", "dynamo"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_decoder_matches_pytorch(name, route):
    make, args = CASES[name]
    torch.manual_seed(0)
    module = make().eval()
    with torch.no_grad():
        expected = module(*args)
    actual = _route(route, module, args)
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = actual if isinstance(actual, (tuple, list)) else (actual,)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        a = a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        assert a.shape == tuple(e.shape) and a.dtype == e.numpy().dtype
        assert rel_l2(a, e.numpy()) < TOLERANCE, (name, route, rel_l2(a, e.numpy()))


def test_kv_cache_decoder_generates_like_pytorch():
    """Greedy decoding, four steps, the caches growing by one each step (one
    compile per length until --dynamic lands): the tokens and the caches
    match PyTorch's."""
    torch.manual_seed(0)
    module = KVCacheDecoder().eval()
    ids = torch.tensor([[3], [42]])
    past = torch.zeros(2, 2, 4, 0, 16)
    ours_k = ours_v = theirs_k = theirs_v = None
    tokens_ours, tokens_theirs = ids, ids
    ours_k = ours_v = theirs_k = theirs_v = past
    for _ in range(4):
        if ours_k.shape[3] == 0:  # a zero-length cache: start from one token
            ours_k = ours_v = theirs_k = theirs_v = torch.randn(
                2, 2, 4, 1, 16, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            logits, theirs_k, theirs_v = module(tokens_theirs[:, -1:], theirs_k, theirs_v)
        tokens_theirs = torch.cat([tokens_theirs, logits[:, -1:].argmax(-1)], 1)
        logits_o, ours_k, ours_v = llmc.compile(
            module, example_inputs=(tokens_ours[:, -1:], ours_k, ours_v))(
            tokens_ours[:, -1:], ours_k, ours_v)
        tokens_ours = torch.cat([tokens_ours, torch.as_tensor(logits_o)[:, -1:].argmax(-1)], 1)
        assert rel_l2(logits_o, logits) < TOLERANCE
        assert rel_l2(ours_k, theirs_k) < TOLERANCE
    assert torch.equal(tokens_ours, tokens_theirs)


def test_einsum_with_ellipsis_is_refused_naming_the_node():
    class M(nn.Module):
        def forward(self, x, y):
            return torch.einsum("...ij,...jk->...ik", x, y)
    with pytest.raises(llmc.CompileError, match=r"einsum with an ellipsis.*fx node"):
        llmc.compile(M(), example_inputs=(torch.randn(2, 3, 4), torch.randn(2, 4, 5)))


@pytest.mark.parametrize("reduce", [None, "add", "multiply"])
def test_scatter_forms_match_pytorch(reduce):
    """Tensor.scatter with a tensor source (plain, add, multiply) and with a
    scalar value."""
    class M(nn.Module):
        def forward(self, x, i, s):
            kw = {"reduce": reduce} if reduce else {}
            return x.scatter(1, i, s, **kw) + torch.scatter(x, 1, i, 2.5)
    g = torch.Generator().manual_seed(3)
    args = (torch.randn(3, 4, generator=g), torch.tensor([[0, 1], [2, 3], [1, 1]]),
            torch.randn(3, 2, generator=g))
    if reduce is None:  # duplicate indices only where the result is defined
        args = (args[0], torch.tensor([[0, 1], [2, 3], [1, 0]]), args[2])
    with torch.no_grad():
        expected = M()(*args).numpy()
    assert rel_l2(llmc.compile(M(), example_inputs=args)(*args), expected) < 1e-6


def test_scatter_reduce_is_refused_naming_the_node():
    class M(nn.Module):
        def forward(self, x, i, s):
            return x.scatter_reduce(1, i, s, reduce="mean")
    args = (torch.zeros(2, 4), torch.tensor([[0, 1], [2, 3]]), torch.ones(2, 2))
    with pytest.raises(llmc.CompileError, match=r"cannot capture .*scatter_reduce.*fx node"):
        llmc.compile(M(), example_inputs=args)


def test_repeat_interleave_with_tensor_repeats_is_refused():
    class M(nn.Module):
        def forward(self, x, r):
            return x.repeat_interleave(r, dim=0)
    with pytest.raises(llmc.CompileError, match=r"repeat_interleave with a tensor"):
        llmc.compile(M(), example_inputs=(torch.randn(2, 3), torch.tensor([1, 2])))


def _compile_dynamic(module):
    """torch.compile(module, dynamic=True) through llmc's backend, and a
    dict whose "run" is the backend's function once Dynamo has called it
    (its .padding says, per symbol, "padded" or why not)."""
    seen = {}

    def backend(gm, example_inputs):
        seen["run"] = llmc._torch_backend(gm, example_inputs)
        return seen["run"]
    return torch.compile(module, backend=backend, dynamic=True), seen


def test_torch_compile_dynamic_serves_every_cache_length():
    """torch.compile(dynamic=True): Dynamo hands the backend one graph with
    symbolic sizes. A growing KV cache's length cannot be padded (the new
    token's position is computed from it, and the past is concatenated with
    the new keys): llmc refuses, naming the node, and compiles each cache
    length on first use (three lengths, one Dynamo graph), matching PyTorch
    at each."""
    torch.manual_seed(0)
    module = KVCacheDecoder().eval()
    torch._dynamo.reset()
    compiled, seen = _compile_dynamic(module)
    g = torch.Generator().manual_seed(4)
    for past in (3, 5, 9):
        args = (torch.randint(0, 100, (2, 1), generator=g),
                torch.randn(2, 2, 4, past, 16, generator=g),
                torch.randn(2, 2, 4, past, 16, generator=g))
        with torch.no_grad():
            expected = module(*args)
            actual = compiled(*args)
        for a, e in zip(actual, expected):
            assert a.shape == e.shape
            assert rel_l2(a.numpy(), e.numpy()) < TOLERANCE, past
    reasons = [why for why in seen["run"].padding.values() if why != "padded"]
    assert reasons and "node '" in reasons[0], seen["run"].padding
    torch._dynamo.reset()


def test_random_ops_are_refused_not_frozen():
    """A random op has no input yet differs on every call: folding it would
    freeze the example run's draw. It is refused, naming the node."""
    class Noisy(nn.Module):
        def forward(self, x):
            return x + torch.randn_like(x) * 0.1
    args = (torch.zeros(2, 3),)
    with pytest.raises(llmc.CompileError, match=r"cannot capture random op torch.randn_like"):
        llmc.compile(Noisy(), example_inputs=args)
    with pytest.raises(llmc.CompileError, match=r"cannot capture random op aten.randn_like"):
        llmc.compile(torch.export.export(Noisy(), args))


@pytest.mark.parametrize("make", [GPT2, lambda: Llama(False)], ids=["gpt2", "llama"])
def test_torch_compile_dynamic_pads_to_powers_of_two(make):
    """torch.compile(dynamic=True) on a causal decoder: llmc proves that
    padding the batch and the sequence changes nothing kept (causal mask,
    prefix-consistent position tables), so sizes 5, 6 and 7 run on one
    executable for 8 (inputs zero-padded, outputs cut back), 3 on the one
    for 4; every size matches PyTorch."""
    torch.manual_seed(0)
    module = make().eval()
    torch._dynamo.reset()
    compiled, seen = _compile_dynamic(module)
    g = torch.Generator().manual_seed(1)
    for b, t in [(2, 3), (2, 5), (3, 6), (2, 7), (3, 13)]:
        ids = torch.randint(0, 100, (b, t), generator=g)
        with torch.no_grad():
            expected = module(ids)
            actual = compiled(ids)
        assert actual.shape == expected.shape
        assert rel_l2(actual.numpy(), expected.numpy()) < TOLERANCE, (b, t)
    run = seen["run"]
    assert set(run.padding.values()) == {"padded"}, run.padding
    torch._dynamo.reset()
