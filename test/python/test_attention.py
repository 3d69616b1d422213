"""graph.attention: attention lifted into one op (and run by the CPU's fused
kernel) against the same model compiled with fusion off (the matmul,
softmax, matmul chain) and against PyTorch in float64.

Each module spells attention differently: masks before or after the
scaling (an additive bias that is not a mask, so that a wrongly scaled bias
shows), a boolean mask through masked_fill(-inf), grouped-query attention by
repeat_interleave, rank-3 batched matmuls, a decode step over a long key
sequence (several key tiles of the kernel's online softmax), and a mask
that hides every key of some rows (NaN there, as PyTorch gives).
"""

import math

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
torch = pytest.importorskip("torch")

F = torch.nn.functional


def attention(q, k, v, scale, bias=None, bias_after_scale=True):
    s = q @ k.transpose(-2, -1)
    if bias is not None and not bias_after_scale:
        s = s + bias
    s = s * scale
    if bias is not None and bias_after_scale:
        s = s + bias
    return F.softmax(s, dim=-1) @ v


class BiasBeforeScale(torch.nn.Module):
    def forward(self, q, k, v, bias):
        return attention(q, k, v, 0.3, bias, bias_after_scale=False)


class BiasAfterScale(torch.nn.Module):
    def forward(self, q, k, v, bias):
        return attention(q, k, v, 1 / math.sqrt(q.shape[-1]), bias)


class CausalMaskedFill(torch.nn.Module):
    def forward(self, q, k, v):
        L, S = q.shape[-2], k.shape[-2]
        keep = torch.ones(L, S, dtype=torch.bool).tril(S - L)
        s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        s = s.masked_fill(~keep, float("-inf"))
        return F.softmax(s, dim=-1) @ v


class GroupedQueries(torch.nn.Module):
    def forward(self, q, k, v):
        rep = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        return attention(q, k, v, 0.125)


class Rank3(torch.nn.Module):
    def forward(self, q, k, v):
        return torch.bmm(F.softmax(torch.bmm(q, k.transpose(1, 2)) * 0.2, dim=-1), v)


class RowsAllMasked(torch.nn.Module):
    def forward(self, q, k, v, keep):
        s = (q @ k.transpose(-2, -1)).masked_fill(~keep, float("-inf"))
        return F.softmax(s, dim=-1) @ v


def _cases():
    g = torch.Generator().manual_seed(3)

    def r(*shape):
        return torch.randn(*shape, generator=g)
    keep = torch.rand(1, 1, 5, 7, generator=g) > 0.3
    keep[..., 1, :] = False  # row 1 sees no key
    keep[..., 3, :] = False
    return {
        "bias_before_scale": (BiasBeforeScale, (r(2, 3, 5, 8), r(2, 3, 7, 8), r(2, 3, 7, 6),
                                                r(1, 3, 5, 7))),
        "bias_after_scale": (BiasAfterScale, (r(2, 3, 5, 8), r(2, 3, 7, 8), r(2, 3, 7, 6),
                                              r(2, 1, 1, 7))),
        "causal_masked_fill": (CausalMaskedFill, (r(2, 4, 6, 16), r(2, 4, 9, 16),
                                                  r(2, 4, 9, 16))),
        "grouped_queries": (GroupedQueries, (r(2, 8, 3, 16), r(2, 2, 11, 16), r(2, 2, 11, 16))),
        "rank3": (Rank3, (r(6, 5, 8), r(6, 7, 8), r(6, 7, 4))),
        "decode_long_keys": (CausalMaskedFill, (r(1, 4, 1, 32), r(1, 4, 300, 32),
                                                r(1, 4, 300, 32))),
        "rows_all_masked": (RowsAllMasked, (r(1, 2, 5, 8), r(1, 2, 7, 8), r(1, 2, 7, 8), keep)),
    }


CASES = _cases()


def _kernel_ops(exe):
    return [k.op for k in exe.report().kernels]


@pytest.mark.parametrize("name", sorted(CASES))
def test_lifted_attention_matches_the_chain_and_pytorch(name):
    make, args = CASES[name]
    module = make().eval()
    lifted = llmc.compile(module, example_inputs=args)
    unlifted = llmc.compile(module, example_inputs=args, fusion=False)
    assert "graph.attention" in _kernel_ops(lifted), _kernel_ops(lifted)
    assert "graph.attention" not in _kernel_ops(unlifted)
    fused, chain = np.asarray(lifted(*args)), np.asarray(unlifted(*args))
    with torch.no_grad():
        ref = module(*[a.double() if a.is_floating_point() else a for a in args]).numpy()
    nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(fused), nan)
    np.testing.assert_array_equal(np.isnan(chain), nan)
    for got in (fused, chain):
        err = np.linalg.norm(got[~nan] - ref[~nan]) / np.linalg.norm(ref[~nan])
        assert err < 1e-6, (name, err)
    err = np.linalg.norm(fused[~nan] - chain[~nan]) / np.linalg.norm(chain[~nan])
    assert err < 1e-6, (name, err)


E2E_WITH_ATTENTION = {"gpt2_mini": 4, "bert_mini": 4, "vit_mini": 4, "llama_mini": 2}


@pytest.mark.parametrize("name", sorted(E2E_WITH_ATTENTION))
def test_e2e_models_lift_every_layer_and_match_the_chain(name):
    """Every attention layer of the end-to-end transformers is lifted, and
    the outputs equal those of the chain (fusion off) within fp32 rounding."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
    import models
    case = models.get(name)
    lifted = llmc.compile(case.onnx_path)
    chain = llmc.compile(case.onnx_path, fusion=False)
    assert _kernel_ops(lifted).count("graph.attention") == E2E_WITH_ATTENTION[name]
    a, b = lifted(**case.inputs), chain(**case.inputs)
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        err = np.linalg.norm(np.asarray(x, np.float64) - y) / np.linalg.norm(np.asarray(y, np.float64))
        assert err < 1e-6, (name, err)
