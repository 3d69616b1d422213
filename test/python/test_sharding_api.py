"""Sharding from Python: llmc.compile(..., mesh=, strategy=, shard=) on ONNX
models and on torch.nn.Modules captured with torch.fx, checked against the
single-device program (relative L2 1e-5) and a float64 reference (1e-4), and
the plan that Executable.report() carries (shardings, collectives, weights
per device).
"""

import os
import sys

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")
torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

import models  # noqa: E402

SAME_AS_ONE_DEVICE = 1e-5
REL_L2_TOL = 1e-4


def _llama_block():
    """A Llama-style block: RMSNorm, attention with GQA (4 query heads, 2 KV
    heads, repeated by expand + reshape) and a causal mask, SwiGLU MLP, two
    residual adds. No biases."""
    nn = torch.nn

    class RMSNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(d))

        def forward(self, x):
            # x * x: the fx capture has no Tensor.pow yet (issue 18).
            return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * self.weight

    class Block(nn.Module):
        def __init__(self, d=64, heads=4, kv=2, hidden=128):
            super().__init__()
            self.heads, self.kv, self.hd = heads, kv, d // heads
            self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
            self.q = nn.Linear(d, d, bias=False)
            self.k = nn.Linear(d, kv * self.hd, bias=False)
            self.v = nn.Linear(d, kv * self.hd, bias=False)
            self.o = nn.Linear(d, d, bias=False)
            self.gate = nn.Linear(d, hidden, bias=False)
            self.up = nn.Linear(d, hidden, bias=False)
            self.down = nn.Linear(hidden, d, bias=False)

        def forward(self, x):
            B, T, C = x.shape
            h = self.norm1(x)
            q = self.q(h).view(B, T, self.heads, self.hd).transpose(1, 2)
            k = self.k(h).view(B, T, self.kv, 1, self.hd)
            v = self.v(h).view(B, T, self.kv, 1, self.hd)
            rep = self.heads // self.kv
            k = k.expand(B, T, self.kv, rep, self.hd).reshape(B, T, self.heads, self.hd)
            v = v.expand(B, T, self.kv, rep, self.hd).reshape(B, T, self.heads, self.hd)
            k, v = k.transpose(1, 2), v.transpose(1, 2)
            att = torch.matmul(q, k.transpose(-2, -1)) / (self.hd ** 0.5)
            mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
            att = torch.softmax(att + mask, dim=-1)
            y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, C)
            x = x + self.o(y)
            h = self.norm2(x)
            return x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))

    torch.manual_seed(0)
    return Block().eval()


def _rel_l2(a, b):
    return models.rel_l2(a, b)


def _run(exe, *args):
    out = exe(*args)
    return out.detach().numpy() if hasattr(out, "detach") else np.asarray(out)


@pytest.fixture(scope="module")
def block():
    m = _llama_block()
    x = torch.randn(2, 8, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = m.double()(x.double()).numpy()
    m = m.float()
    one = _run(llmc.compile(m, example_inputs=(x,)), x)
    assert _rel_l2(one, ref) < REL_L2_TOL
    return m, x, ref, one


@pytest.mark.parametrize("mesh,strategy", [
    ({"tp": 2}, "megatron"), ({"tp": 2}, "megatron-sp"), ({"tp": 2}, "dp"),
    ({"tp": 2}, "auto"), ({"dp": 2, "tp": 2}, "megatron"), ("tp=4", "megatron"),
])
def test_fx_module_on_a_mesh(block, mesh, strategy):
    m, x, ref, one = block
    exe = llmc.compile(m, example_inputs=(x,), mesh=mesh, strategy=strategy)
    y = _run(exe, x)
    assert _rel_l2(y, one) <= SAME_AS_ONE_DEVICE
    assert _rel_l2(y, ref) <= REL_L2_TOL
    plan = exe.report().sharding
    assert plan is not None and plan["strategy"] in (strategy, "megatron",
                                                     "megatron-sp", "dp", "none")


def test_fx_megatron_plan(block):
    """Megatron on the block: q, k, v, gate and up column-parallel, o and
    down row-parallel, exactly two all-reduces (one per residual add), each
    device holding half of the dense weights."""
    m, x, _, _ = block
    exe = llmc.compile(m, example_inputs=(x,), mesh={"tp": 2}, strategy="megatron")
    plan = exe.report().sharding
    weights = {t["name"]: t["sharding"] for t in plan["tensors"]
               if t["kind"] == "weight"}
    for name in ("q.weight", "k.weight", "v.weight", "gate.weight", "up.weight",
                 "o.weight", "down.weight"):
        assert name in weights, (name, sorted(weights))
        assert "tp" in weights[name], (name, weights[name])
    kinds = [c["kind"] for c in plan["collectives"]]
    assert kinds.count("all_reduce") == 2, kinds
    assert "all_gather" not in kinds, kinds
    dense = sum(t["bytes"] for t in plan["tensors"]
                if t["kind"] == "weight" and "tp" in t["sharding"])
    whole = plan["weight_bytes_total"] - dense
    assert plan["weight_bytes_per_device"] == whole + dense // 2


def test_onnx_model_from_python():
    case = models.get("gpt2_mini")
    ids = case.inputs["input_ids"]
    one = _run(llmc.compile(case.onnx_path), ids)
    exe = llmc.compile(case.onnx_path, mesh={"tp": 2}, strategy="megatron")
    y = _run(exe, ids)
    assert _rel_l2(y, one) <= SAME_AS_ONE_DEVICE
    assert _rel_l2(y, case.ref_fp64["logits"]) <= REL_L2_TOL
    kinds = [c["kind"] for c in exe.report().collectives]
    assert kinds.count("all_reduce") == 2 * 4  # two per layer, four layers


def test_pins_and_saved_artifact(tmp_path):
    case = models.get("gpt2_mini")
    ids = case.inputs["input_ids"]
    exe = llmc.compile(case.onnx_path, mesh={"tp": 2}, strategy="none",
                       shard={"wte.weight": (None, "tp")})
    tensors = {t["name"]: t for t in exe.report().sharding["tensors"]}
    assert tensors["wte.weight"]["sharding"] == "[-, tp]"
    assert tensors["wte.weight"]["reason"] == "pinned"
    path = tmp_path / "gpt2_tp2.llmcx"
    exe.save(path)
    again = llmc.load(path)
    y = _run(again, ids)
    assert _rel_l2(y, case.ref_fp64["logits"]) <= REL_L2_TOL


def test_errors():
    case = models.get("gpt2_mini")
    with pytest.raises(TypeError, match="need mesh="):
        llmc.compile(case.onnx_path, shard={"wte.weight": "tp,-"})
    with pytest.raises(TypeError, match="mesh= needs axes"):
        llmc.compile(case.onnx_path, mesh={}, strategy="megatron")
    with pytest.raises(TypeError, match="shard= maps tensor names"):
        llmc.compile(case.onnx_path, mesh={"tp": 2}, shard=["wte.weight"])
    with pytest.raises(TypeError, match="maps axis names to sizes"):
        llmc.compile(case.onnx_path, mesh={"tp": "2"})
    with pytest.raises(llmc.CompileError, match="the model has no tensor 'nope'"):
        llmc.compile(case.onnx_path, mesh={"tp": 2}, shard={"nope": "tp"})
    with pytest.raises(llmc.CompileError, match="axis 'tp' needs a size"):
        llmc.compile(case.onnx_path, mesh={"tp": 0})
    # A CUDA mesh compiles; loading it needs two GPUs (and NCCL): on a
    # machine without them, one line saying so.
    try:
        llmc.compile(case.onnx_path, target="cuda", mesh={"tp": 2})
    except llmc.LoadError as e:
        assert "CUDA device" in str(e) or "NCCL" in str(e), str(e)
