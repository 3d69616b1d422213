"""Partitioned execution (`llmc run --mesh`) of the end-to-end models.

For models of test/e2e/models.py (gpt2_mini, bert_mini, vit_mini, llama_mini,
moe_mini, moe_topk) this runs

    llmc run MODEL.onnx --input ... --output-dir DIR --mesh MESH --strategy S

on a mesh of CPU devices (one thread each) and compares every output with

  - the same model run by llmc on one device: rel L2 <= SAME_AS_ONE_DEVICE
    (1e-5; partitioning only reorders float32 sums), and
  - the float64 PyTorch reference: rel L2 <= REL_L2_TOL (1e-4, as
    test_e2e_models.py).

Coverage: every strategy (dp, megatron, megatron-sp, auto; experts on
moe_mini and moe_topk) on tp=2; a subset on tp=4 and dp=2,tp=2 (SUBSET), the whole
matrix with LLMC_SHARDING_FULL=1. A combination is skipped only when llmc
rejects it with "nothing in the model can be split" and the model's shapes
really do not divide (dp needs the batch divisible by the data axis: batch 2
over 4 devices, or vit_mini's batch 1, do not divide); any other rejection,
crash, timeout or wrong answer fails.

Also: what `llmc explain --mesh ... --format json` says about megatron plans
(collectives per layer, weight bytes per device), partitioned artifacts
(`llmc compile --mesh`), and the one-line errors of the mesh options.

Run:
    .venv/bin/python -m pytest test/python/test_sharding.py -q
Environment: LLMC (binary, default build/bin/llmc), LLMC_E2E_CACHE (model
cache root), LLMC_SHARDING_FULL=1 (every mesh x strategy combination).
"""

import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import llmc_runner  # noqa: E402
import models  # noqa: E402

REL_L2_TOL = 1e-4          # vs the float64 PyTorch reference
SAME_AS_ONE_DEVICE = 1e-5  # vs llmc's own one-device result
TIMEOUT_S = 300            # one llmc call (each takes ~0.2-3 s)

MODELS = ["gpt2_mini", "bert_mini", "vit_mini", "llama_mini", "moe_mini",
          "moe_topk"]
MESHES = ["tp=2", "tp=4", "dp=2,tp=2"]
STRATEGIES = ["dp", "megatron", "megatron-sp", "auto"]
FULL = os.environ.get("LLMC_SHARDING_FULL", "0") not in ("", "0")
# Besides every strategy on tp=2: (mesh, strategy) pairs run on every model.
SUBSET = {("tp=4", "dp"), ("tp=4", "megatron"), ("tp=4", "megatron-sp"),
          ("tp=4", "experts"),
          ("dp=2,tp=2", "dp"), ("dp=2,tp=2", "megatron"),
          ("dp=2,tp=2", "auto"), ("dp=2,tp=2", "experts")}

# Strategies that do not apply to a model by design, with the message llmc
# gives. moe_mini's expert einsums decompose into GEMMs over its reshaped
# 3-D weights, which megatron splits like dense layers; megatron-sp splits
# the sequence dim of x. moe_topk has no dense layer megatron could split:
# its only 2-D weight is the router's (4 experts), whose columns top-k needs
# whole.
KNOWN_REJECTIONS = {
    ("moe_topk", "megatron"): "--strategy megatron: nothing in the model can "
                              "be split over mesh",
}


def _combos():
    for name in MODELS:
        strategies = STRATEGIES + (["experts"] if name.startswith("moe_") else [])
        for mesh in MESHES:
            for strategy in strategies:
                if not (FULL or mesh == "tp=2" or (mesh, strategy) in SUBSET):
                    continue
                yield pytest.param(name, mesh, strategy,
                                   id=f"{name}-{mesh}-{strategy}")


def _axes(mesh):
    return dict((k, int(v)) for k, v in (a.split("=") for a in mesh.split(",")))


def _not_divisible(case, mesh, strategy):
    """Why `strategy` truly cannot split the model on `mesh`, or None. dp
    splits the batch dim (of every input) over the mesh's dp axis, or over
    its only axis."""
    if strategy != "dp":
        return None
    axes = _axes(mesh)
    axis = "dp" if "dp" in axes else next(iter(axes))
    batches = {v.shape[0] for v in case.inputs.values()}
    bad = sorted(b for b in batches if b % axes[axis])
    if bad:
        return f"batch {bad[0]} is not divisible by {axis}={axes[axis]}"
    return None


# ---------------------------------------------------------------------------
# Shared state: each model's case, inputs on disk and one-device llmc run.
# ---------------------------------------------------------------------------

_MODELS = {}


@pytest.fixture(autouse=True)
def _quick_binary_check(monkeypatch):
    """llmc_runner waits a second before every call to see that the binary
    is not being relinked; with ~90 short calls here that is most of the
    run. Settle for 0.1 s while the binary is there (call_llmc still retries
    a call whose binary changed underneath it), the full wait otherwise."""
    full_wait = llmc_runner.wait_for_binary

    def quick(path, wait_s=180.0):
        import time
        s1 = llmc_runner._stat(path)
        if s1 is not None and os.access(path, os.X_OK):
            time.sleep(0.1)
            if llmc_runner._stat(path) == s1:
                return True
        return full_wait(path, wait_s)

    monkeypatch.setattr(llmc_runner, "wait_for_binary", quick)


class _Model:
    def __init__(self, name, root):
        self.name = name
        self.case = models.get(name)
        self.dir = os.path.join(root, name)
        self.input_args = llmc_runner.write_inputs(self.case.inputs,
                                                   os.path.join(self.dir, "in"))
        self.outputs = list(self.case.ref_fp64)
        res = llmc_runner.run_llmc(self.case.onnx_path, self.input_args,
                                   os.path.join(self.dir, "one"), self.outputs,
                                   timeout=TIMEOUT_S)
        assert res.returncode == 0 and res.outputs, (
            f"{name}: one-device llmc run failed (rc {res.returncode}): "
            f"{res.stderr[-2000:]}")
        self.one_device = res.outputs


@pytest.fixture(scope="session")
def model_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("sharding"))


@pytest.fixture
def get_model(model_root):
    def get(name):
        if name not in _MODELS:
            _MODELS[name] = _Model(name, model_root)
        return _MODELS[name]
    return get


def _check_outputs(m, outputs, what):
    problems, summary = [], []
    for out in m.outputs:
        got, one, ref64 = outputs.get(out), m.one_device[out], m.case.ref_fp64[out]
        if got is None:
            problems.append(f"{out}: output file missing")
            continue
        if got.shape != ref64.shape or got.dtype != np.float32:
            problems.append(f"{out}: got {got.dtype}{list(got.shape)}, "
                            f"expected float32{list(ref64.shape)}")
            continue
        finite = bool(np.isfinite(got).all())
        e1 = models.rel_l2(got, one) if finite else float("inf")
        e64 = models.rel_l2(got, ref64) if finite else float("inf")
        summary.append(f"{out}: vs one device {e1:.2e}, vs fp64 {e64:.2e}")
        if not e1 <= SAME_AS_ONE_DEVICE:
            problems.append(f"{out}: rel L2 {e1:.3e} > {SAME_AS_ONE_DEVICE:.0e} "
                            f"vs llmc on one device")
        if not e64 <= REL_L2_TOL:
            problems.append(f"{out}: rel L2 {e64:.3e} > {REL_L2_TOL:.0e} vs "
                            f"the float64 reference")
    print(f"{what}: " + "; ".join(summary))
    assert not problems, f"{what}: " + "; ".join(problems)


# ---------------------------------------------------------------------------
# Partitioned runs agree with one device and with the float64 reference.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,mesh,strategy", list(_combos()))
def test_mesh_run(name, mesh, strategy, get_model):
    m = get_model(name)
    out_dir = os.path.join(m.dir, f"{mesh}-{strategy}".replace(",", "_"))
    res = llmc_runner.run_llmc(m.case.onnx_path, m.input_args, out_dir,
                               m.outputs, timeout=TIMEOUT_S,
                               extra_args=["--mesh", mesh, "--strategy", strategy])
    what = f"llmc run {name} --mesh {mesh} --strategy {strategy}"
    assert not res.timed_out, f"{what}: timed out after {TIMEOUT_S} s"
    rejection = KNOWN_REJECTIONS.get((name, strategy))
    if rejection:
        err = llmc_runner.first_error_line(res.stderr) or res.stderr[-2000:]
        assert res.returncode == 1 and rejection in err, (
            f"{what}: expected the rejection '{rejection}', got exit status "
            f"{res.returncode}: {err}")
        return
    if res.returncode != 0:
        err = llmc_runner.first_error_line(res.stderr) or res.stderr[-2000:]
        why = _not_divisible(m.case, mesh, strategy)
        if why and res.returncode == 1 and "nothing in the model can be split" in err:
            pytest.skip(f"{why} ({err.split(': ', 2)[-1]})")
        pytest.fail(f"{what}: exit status {res.returncode}: {err}")
    # A strategy that cannot split the shapes must not claim to.
    assert not _not_divisible(m.case, mesh, strategy), (
        f"{what}: llmc ran though {_not_divisible(m.case, mesh, strategy)}")
    _check_outputs(m, res.outputs, what)


@pytest.mark.parametrize("name,pin", [
    ("gpt2_mini", "wte.weight=tp,-"),      # vocab-parallel embedding
    ("llama_mini", "input_ids=-,tp"),      # sequence-split tokens
    ("moe_mini", "w1=-,-,tp"),             # experts' hidden dim
])
def test_pins_alone(name, pin, get_model):
    """--strategy none: only the pinned tensor is split; propagation does
    the rest."""
    m = get_model(name)
    out_dir = os.path.join(m.dir, "pin-" + pin.split("=")[0])
    res = llmc_runner.run_llmc(m.case.onnx_path, m.input_args, out_dir,
                               m.outputs, timeout=TIMEOUT_S,
                               extra_args=["--mesh", "tp=2", "--strategy", "none",
                                           "--shard", pin])
    what = f"llmc run {name} --mesh tp=2 --strategy none --shard {pin}"
    assert res.returncode == 0, f"{what}: {res.stderr[-2000:]}"
    _check_outputs(m, res.outputs, what)


@pytest.mark.parametrize("name,mesh", [("llama_mini", "tp=2"),
                                       ("gpt2_mini", "dp=2,tp=2")])
def test_partitioned_artifact(name, mesh, get_model, tmp_path):
    """llmc compile --mesh writes an artifact that runs on that mesh."""
    m = get_model(name)
    art = str(tmp_path / "model.llmcx")
    res = llmc_runner.call_llmc(["compile", m.case.onnx_path, "-o", art,
                                 "--mesh", mesh, "--strategy", "megatron"],
                                timeout=TIMEOUT_S)
    assert res.returncode == 0, res.stderr[-2000:]
    res = llmc_runner.run_llmc(art, m.input_args, str(tmp_path / "out"),
                               m.outputs, timeout=TIMEOUT_S)
    assert res.returncode == 0, res.stderr[-2000:]
    _check_outputs(m, res.outputs, f"artifact of {name} --mesh {mesh}")


# ---------------------------------------------------------------------------
# llmc explain --format json on megatron plans.
# ---------------------------------------------------------------------------

def _explain(path, mesh, strategy="megatron", extra=()):
    res = llmc_runner.call_llmc(["explain", path, "--mesh", mesh, "--strategy",
                                 strategy, "--format", "json", *extra],
                                timeout=TIMEOUT_S)
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads(res.stdout)["sharding"]
    assert s["mesh"] == mesh and s["strategy"] == strategy
    assert s["devices"] == int(np.prod(list(_axes(mesh).values())))
    return s


# name -> (layers, regex of the tensors whose partial sums are all-reduced)
ALL_REDUCED = {
    "gpt2_mini": (models.LAYERS, r"/blocks\.(\d+)/(attn/c_proj|mlp/mlp\.2)/MatMul"),
    "llama_mini": (models.LLAMA_LAYERS,
                   r"/layers\.(\d+)/(self_attn/o_proj|mlp/down_proj)/MatMul"),
}


@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("name", list(ALL_REDUCED))
def test_megatron_two_all_reduces_per_layer(name, mesh):
    """Megatron: one all-reduce after attention's output projection and one
    after the MLP's down projection, per layer, and none elsewhere."""
    layers, pattern = ALL_REDUCED[name]
    s = _explain(models.get(name).onnx_path, mesh)
    reduced = [c for c in s["collectives"] if c["kind"] == "all_reduce"]
    assert len(reduced) == 2 * layers, [c["tensor"] for c in reduced]
    seen = set()
    for c in reduced:
        match = re.fullmatch(pattern, c["tensor"])
        assert match, f"all_reduce of {c['tensor']} (before {c['user']})"
        seen.add((int(match.group(1)), match.group(2)))
        assert c["axis"] == "tp" and c["bytes"] > 0
    assert len(seen) == 2 * layers
    # Nothing but the all-reduces moves data. llama_mini: 2 KV heads split
    # over 2 devices, and on tp=4, where they do not split, the K/V
    # projections stay whole (each device cuts the heads it needs, locally).
    # gpt2_mini: its fused QKV projection (c_attn, then Split) is cut into
    # q, k and v projections (llmc-split-fused-projections), whose heads
    # split; before, its output was all-gathered before the Split.
    moved = [c for c in s["collectives"] if c["bytes"] > 0]
    assert moved == reduced, [(c["kind"], c["tensor"]) for c in moved]
    # A constant bias is cut when the devices load it, not split per run
    # (llama_mini on tp=4 still cuts its whole KV heads locally).
    split_biases = [c["tensor"] for c in s["collectives"]
                    if c["kind"] == "split" and c["tensor"].endswith(".bias")]
    assert not split_biases, split_biases
    assert s["comm_seconds"] == pytest.approx(
        sum(c["seconds"] for c in s["collectives"]), rel=1e-9)


@pytest.mark.parametrize("mesh", ["tp=2", "tp=4"])
def test_experts_dispatch_tokens_by_all_to_all(mesh):
    """Experts on moe_topk (GShard's top-2 layer), one mesh axis: each
    device routes its own group of tokens (router, top-k, slots, dispatch
    and combine masks all local), the dispatched tokens reach their experts
    by one all-to-all and come back by another, and each device holds 1/n
    of the expert weights. Nothing else moves data: no all-reduce of the
    output, as a dense mixture needs."""
    s = _explain(models.get("moe_topk").onnx_path, mesh, strategy="experts")
    moved = [(c["kind"], c["tensor"]) for c in s["collectives"] if c["bytes"] > 0]
    assert [kind for kind, _ in moved] == ["all_to_all", "all_to_all"], moved
    n = _axes(mesh)["tp"]
    weights = {t["name"]: t for t in s["tensors"] if t["kind"] == "weight"}
    for w in ("w1", "w2"):
        assert weights[w]["sharding"] == "[tp, -, -]", weights[w]
    assert s["weight_bytes_per_device"] < s["weight_bytes_total"] / n + 2048, s
    inputs = {t["name"]: t for t in s["tensors"] if t["kind"] == "input"}
    assert inputs["x"]["sharding"] == "[tp, -, -]", inputs["x"]


def _sdpa_mini(torch):
    """A decoder as Hugging Face writes it: F.scaled_dot_product_attention
    (causal, grouped-query: 4 query heads, 2 KV heads, repeated by
    expand/reshape), zero biases as HF initializes them (equal to the
    LayerNorm's zero shift: CSE merges them into one constant), 2 layers,
    d=64, vocab 200, input_ids 2x16."""
    nn, F = torch.nn, torch.nn.functional
    D, H, KV, V, S = 64, 4, 2, 200, 16

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.q = nn.Linear(D, D)
            self.k = nn.Linear(D, D // H * KV)
            self.v = nn.Linear(D, D // H * KV)
            self.o = nn.Linear(D, D)
            self.up, self.down = nn.Linear(D, 2 * D), nn.Linear(2 * D, D)
            for m in (self.q, self.k, self.v, self.o, self.up, self.down):
                nn.init.zeros_(m.bias)

        def forward(self, x):
            b, s, _ = x.shape
            h = self.ln1(x)
            q = self.q(h).view(b, s, H, D // H).transpose(1, 2)
            k = self.k(h).view(b, s, KV, D // H).transpose(1, 2)
            v = self.v(h).view(b, s, KV, D // H).transpose(1, 2)
            k = k[:, :, None].expand(b, KV, H // KV, s, D // H).reshape(b, H, s, D // H)
            v = v[:, :, None].expand(b, KV, H // KV, s, D // H).reshape(b, H, s, D // H)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(a.transpose(1, 2).reshape(b, s, D))
            return x + self.down(F.gelu(self.up(self.ln2(x))))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, D)
            self.layers = nn.ModuleList([Layer(), Layer()])
            self.head = nn.Linear(D, V, bias=False)

        def forward(self, ids):
            x = self.emb(ids)
            for layer in self.layers:
                x = layer(x)
            return self.head(x)

    torch.manual_seed(0)
    model = Model().eval()
    ids = torch.randint(0, V, (2, S), generator=torch.Generator().manual_seed(1))
    return model, {"input_ids": ids}, ["logits"]


@pytest.fixture(scope="module")
def dynamo_exports(tmp_path_factory):
    """gpt2_mini, llama_mini and vit_mini exported by torch 2.x's default
    (Dynamo) exporter, opset 18, with a float64 reference from the same
    module: different ONNX than the TorchScript exports above (`linear` and
    `embedding` functions inlined, the LM head reading the tied embedding
    table through a Transpose, nn.MultiheadAttention's packed in-projection
    unflattened to [.., 3, E] and moved by unsqueeze, transpose and squeeze
    before q, k and v are gathered)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    d = str(tmp_path_factory.mktemp("dynamo"))
    out = {}
    for name in ("gpt2_mini", "llama_mini", "vit_mini", "sdpa_mini"):
        if name == "sdpa_mini":
            model, inputs, outputs = _sdpa_mini(torch)
        else:
            model, inputs, outputs = models.build_torch_model(name)
        path = os.path.join(d, name + ".onnx")
        torch.onnx.export(model, tuple(inputs.values()), path,
                          input_names=list(inputs), output_names=outputs,
                          dynamo=True, opset_version=18, verbose=False)
        with torch.no_grad():
            ref = model.double()(*[v.double() if v.is_floating_point() else v
                                   for v in inputs.values()])
        ref = ref[0] if isinstance(ref, (tuple, list)) else ref
        args = llmc_runner.write_inputs({k: v.numpy() for k, v in inputs.items()},
                                        os.path.join(d, name + "-in"))
        out[name] = (path, args, outputs[0], ref.numpy())
    return out


@pytest.mark.parametrize("name", ["gpt2_mini", "llama_mini", "vit_mini",
                                  "sdpa_mini"])
def test_dynamo_export_megatron(name, dynamo_exports, tmp_path):
    """A model as torch.onnx.export(dynamo=True) writes it: every strategy
    on tp=2 (and megatron on dp=2,tp=2) matches float64 within 1e-5, and
    Megatron's only data movement is two all-reduces per layer (ViT's
    packed in-projection is cut into q, k and v; sdpa_mini's attention
    transposes its keys through [batch * heads, ...] reshapes, which
    canonicalization folds, and its zero biases are one constant with the
    norms' shift, which carries no split between them). GPT-2's LM
    head reads the tied embedding table, which the token gather needs
    whole: the head stays whole (a remark says why) instead of the table
    being all-gathered on every run."""
    path, args, output, ref = dynamo_exports[name]
    # (vit_mini's batch of 1 does not split: no dp there.)
    runs = [("tp=2", s) for s in STRATEGIES
            if not (s == "dp" and name == "vit_mini")]
    if name != "vit_mini":
        runs.append(("dp=2,tp=2", "megatron"))
    for mesh, strategy in runs:
        res = llmc_runner.run_llmc(path, args, str(tmp_path / f"{mesh}-{strategy}"),
                                   [output], timeout=TIMEOUT_S,
                                   extra_args=["--mesh", mesh, "--strategy", strategy])
        assert res.returncode == 0, (mesh, strategy, res.stderr[-2000:])
        err = models.rel_l2(res.outputs[output], ref)
        assert err <= SAME_AS_ONE_DEVICE, f"{mesh} {strategy}: rel L2 {err:.3e}"
    layers = {"gpt2_mini": models.LAYERS, "llama_mini": models.LLAMA_LAYERS,
              "vit_mini": 4, "sdpa_mini": 2}[name]
    s = _explain(path, "tp=2")
    moved = [(c["kind"], c["tensor"]) for c in s["collectives"] if c["bytes"] > 0]
    assert [k for k, _ in moved] == ["all_reduce"] * (2 * layers), moved
    if name == "gpt2_mini":
        assert any("stays whole" in r and "wte.weight" in r and "gather" in r
                   for r in s["remarks"]), s["remarks"]


def _per_device_from_tensors(s, mesh):
    """Weight bytes per device from each weight's listed sharding."""
    axes = _axes(mesh)
    total = 0
    for t in s["tensors"]:
        if t["kind"] != "weight":
            continue
        dims = [d.strip() for d in t["sharding"].split("]")[0].strip("[").split(",")]
        split = int(np.prod([axes[d] for d in dims if d in axes]))
        total += t["bytes"] // split
    return total


def test_megatron_weight_bytes_llama():
    """Megatron splits every linear weight of llama_mini over tp=2; the
    embedding (512 000 B of 2 236 416), and the RoPE tables (8 x 4 KB
    constants) stay whole, the RMSNorm gains are folded constants. Over tp=4
    the 2 KV heads do not split 4 ways: the K and V projections stay whole
    (KV heads replicated, as Megatron does; a remark says so) rather than be
    split and gathered again. Measured per device / total: tp=2 0.622
    (1 390 592 B), tp=4 0.477 (1 065 984 B). The ideal with the embedding
    whole is (512000 + 32768 + 1691648 / n) / 2236416: 0.622 for n=2, so
    the 0.6 upper bound first planned is out of reach for these dims; the
    bound here is 0.65."""
    path = models.get("llama_mini").onnx_path
    ratios = {}
    for mesh in ("tp=2", "tp=4"):
        s = _explain(path, mesh)
        total, per = s["weight_bytes_total"], s["weight_bytes_per_device"]
        assert per == _per_device_from_tensors(s, mesh)
        assert s["memory_per_device"]["weights_bytes"] == per
        weights = {t["name"]: t for t in s["tensors"] if t["kind"] == "weight"}
        assert weights["embed_tokens.weight"]["sharding"] == "[-, -]"
        whole = [n for n, t in weights.items()
                 if n.startswith("onnx::MatMul_") and "tp" not in t["sharding"]]
        if mesh == "tp=2":  # q/k/v/o, gate/up/down, lm_head all split
            assert not whole, (mesh, whole)
        else:  # k_proj and v_proj of both layers
            kv = [r for r in s["remarks"]
                  if "stays whole" in r and ("k_proj" in r or "v_proj" in r)]
            assert len(whole) == 4 and len(kv) == 4, (whole, s["remarks"])
            kinds = [c["kind"] for c in s["collectives"]]
            assert "all_gather" not in kinds, kinds
        ratios[mesh] = per / total
    print(f"llama_mini megatron weight bytes per device / total: {ratios}")
    assert 0.45 <= ratios["tp=2"] <= 0.65, ratios
    assert ratios["tp=4"] < ratios["tp=2"] - 0.1, ratios


# ---------------------------------------------------------------------------
# A fused QKV projection as Hugging Face's GPT-2 exports it (Conv1D: a 2-D
# Gemm between reshapes, then Split), here with grouped-query attention's
# unequal parts (4 query heads, 2 KV heads).
# ---------------------------------------------------------------------------

def _fused_qkv_model(path, transb):
    """x [2, 8, 32] -> Reshape [16, 32] -> Gemm(Wqkv, bqkv) [16, 64] ->
    Reshape [2, 8, 64] -> Split [32, 16, 16] -> q (4 heads of 8), k, v (2
    heads, repeated for the 4 query heads by reshape/expand/reshape) ->
    softmax(q k^T / sqrt(8)) v -> [2, 8, 32] -> MatMul Wo -> + x. Returns
    the inputs and the float64 numpy reference."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    B, S, E, H, KV, D = 2, 8, 32, 4, 2, 8
    N = (H + 2 * KV) * D
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, S, E)).astype(np.float32)
    w = (rng.standard_normal((E, N)) / np.sqrt(E)).astype(np.float32)
    b = (rng.standard_normal(N) * 0.1).astype(np.float32)
    wo = (rng.standard_normal((E, E)) / np.sqrt(E)).astype(np.float32)
    shape = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    inits = [numpy_helper.from_array(w.T.copy() if transb else w, "Wqkv"),
             numpy_helper.from_array(b, "bqkv"), numpy_helper.from_array(wo, "Wo"),
             shape("s2d", [B * S, E]), shape("s3d", [B, S, N]),
             shape("split", [H * D, KV * D, KV * D]),
             shape("qh", [B, S, H, D]), shape("kvh", [B, S, KV, D]),
             shape("kv5", [B, KV, 1, S, D]), shape("kve", [B, KV, H // KV, S, D]),
             shape("kv4", [B, H, S, D]), shape("o3", [B, S, E]),
             numpy_helper.from_array(np.array(1 / np.sqrt(D), np.float32), "scale")]
    nodes = [
        helper.make_node("Reshape", ["x", "s2d"], ["x2"]),
        helper.make_node("Gemm", ["x2", "Wqkv", "bqkv"], ["qkv2"], transB=int(transb)),
        helper.make_node("Reshape", ["qkv2", "s3d"], ["qkv"]),
        helper.make_node("Split", ["qkv", "split"], ["q0", "k0", "v0"], axis=2),
        helper.make_node("Reshape", ["q0", "qh"], ["q1"]),
        helper.make_node("Transpose", ["q1"], ["q"], perm=[0, 2, 1, 3]),
    ]
    for t in ("k", "v"):
        nodes += [
            helper.make_node("Reshape", [f"{t}0", "kvh"], [f"{t}1"]),
            helper.make_node("Transpose", [f"{t}1"], [f"{t}2"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"{t}2", "kv5"], [f"{t}3"]),
            helper.make_node("Expand", [f"{t}3", "kve"], [f"{t}4"]),
            helper.make_node("Reshape", [f"{t}4", "kv4"], [t]),
        ]
    nodes += [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s0"]),
        helper.make_node("Mul", ["s0", "scale"], ["s1"]),
        helper.make_node("Softmax", ["s1"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["a0"]),
        helper.make_node("Transpose", ["a0"], ["a1"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["a1", "o3"], ["a2"]),
        helper.make_node("MatMul", ["a2", "Wo"], ["o"]),
        helper.make_node("Add", ["o", "x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "fused_qkv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, S, E])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, S, E])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              path)
    # The float64 reference.
    x64 = x.astype(np.float64)
    qkv = x64.reshape(B * S, E) @ w.astype(np.float64) + b
    qkv = qkv.reshape(B, S, N)
    q = qkv[..., :H * D].reshape(B, S, H, D).transpose(0, 2, 1, 3)
    heads = lambda t: np.repeat(t.reshape(B, S, KV, D).transpose(0, 2, 1, 3),
                                H // KV, axis=1)
    k, v = heads(qkv[..., H * D:(H + KV) * D]), heads(qkv[..., (H + KV) * D:])
    sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
    p = np.exp(sc - sc.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    a = (p @ v).transpose(0, 2, 1, 3).reshape(B, S, E)
    return {"x": x}, a @ wo.astype(np.float64) + x64


def _packed_qkv_model(path, select):
    """timm's attention: x [2, 8, 32] -> MatMul Wqkv [32, 96] + bqkv ->
    Reshape [2, 8, 3, 4, 8] -> Transpose (2, 0, 3, 1, 4) -> q, k, v by
    Gather of index 0, 1, 2 (qkv[0]...) or by Split into three and Squeeze
    (qkv.unbind(0)) -> softmax(q k^T / sqrt(8)) v -> MatMul Wo. Returns the
    inputs and the float64 numpy reference."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    B, S, E, H, D = 2, 8, 32, 4, 8
    rng = np.random.default_rng(11)
    x = rng.standard_normal((B, S, E)).astype(np.float32)
    w = (rng.standard_normal((E, 3 * E)) / np.sqrt(E)).astype(np.float32)
    b = (rng.standard_normal(3 * E) * 0.1).astype(np.float32)
    wo = (rng.standard_normal((E, E)) / np.sqrt(E)).astype(np.float32)
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    inits = [numpy_helper.from_array(w, "Wqkv"), numpy_helper.from_array(b, "bqkv"),
             numpy_helper.from_array(wo, "Wo"), i64("s5", [B, S, 3, H, D]),
             i64("o3", [B, S, E]), i64("ones", [1, 1, 1]), i64("axis0", [0]),
             i64("i0", 0), i64("i1", 1), i64("i2", 2),
             numpy_helper.from_array(np.array(1 / np.sqrt(D), np.float32), "scale")]
    nodes = [helper.make_node("MatMul", ["x", "Wqkv"], ["p"]),
             helper.make_node("Add", ["p", "bqkv"], ["pb"]),
             helper.make_node("Reshape", ["pb", "s5"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[2, 0, 3, 1, 4])]
    if select == "gather":
        nodes += [helper.make_node("Gather", ["t", f"i{i}"], [n], axis=0)
                  for i, n in enumerate("qkv")]
    else:
        nodes += [helper.make_node("Split", ["t", "ones"], ["q1", "k1", "v1"], axis=0)]
        nodes += [helper.make_node("Squeeze", [f"{n}1", "axis0"], [n]) for n in "qkv"]
    nodes += [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s0"]),
        helper.make_node("Mul", ["s0", "scale"], ["s1"]),
        helper.make_node("Softmax", ["s1"], ["pr"], axis=-1),
        helper.make_node("MatMul", ["pr", "v"], ["a0"]),
        helper.make_node("Transpose", ["a0"], ["a1"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["a1", "o3"], ["a2"]),
        helper.make_node("MatMul", ["a2", "Wo"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "packed_qkv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, S, E])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, S, E])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              path)
    t = (x.astype(np.float64) @ w + b).reshape(B, S, 3, H, D).transpose(2, 0, 3, 1, 4)
    q, k, v = t[0], t[1], t[2]
    sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
    pr = np.exp(sc - sc.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    return {"x": x}, (pr @ v).transpose(0, 2, 1, 3).reshape(B, S, E) @ wo


@pytest.mark.parametrize("select", ["gather", "unbind"])
def test_packed_qkv_splits_heads(select, tmp_path):
    """Megatron on timm's packed QKV (reshape to [.., 3, heads, d], then
    qkv[i] or unbind): cut into q, k and v projections, the heads split and
    one all-reduce moves data. Before, the reshape's size-3 dim blocked the
    split and attention ran whole on every device. Outputs match float64
    numpy (rel L2 1e-5)."""
    path = str(tmp_path / "packed_qkv.onnx")
    inputs, ref = _packed_qkv_model(path, select)
    args = llmc_runner.write_inputs(inputs, str(tmp_path / "in"))
    for mesh in ("tp=2", "tp=4"):
        res = llmc_runner.run_llmc(path, args, str(tmp_path / mesh), ["y"],
                                   timeout=TIMEOUT_S,
                                   extra_args=["--mesh", mesh, "--strategy", "megatron"])
        assert res.returncode == 0, res.stderr[-2000:]
        err = models.rel_l2(res.outputs["y"], ref)
        assert err <= SAME_AS_ONE_DEVICE, f"{mesh}: rel L2 {err:.3e} vs float64 numpy"
        s = _explain(path, mesh)
        moved = [(c["kind"], c["tensor"]) for c in s["collectives"] if c["bytes"] > 0]
        assert [kind for kind, _ in moved] == ["all_reduce"], (mesh, moved)
        weights = {t["name"]: t["sharding"] for t in s["tensors"]
                   if t["kind"] == "weight"}
        assert weights.get("Wqkv[:, 64:96]") == "[-, tp]", weights


@pytest.mark.parametrize("transb", [False, True], ids=["w", "w-transposed"])
@pytest.mark.parametrize("mesh", ["tp=2", "dp=2,tp=2"])
def test_fused_qkv_gemm_splits_heads(transb, mesh, tmp_path):
    """Megatron on a fused QKV Gemm: the projection is cut into q, k and v
    (llmc-split-fused-projections), so the heads split and the only data
    moved is one all-reduce after the output projection; the bias is cut
    when the devices load it. Outputs match float64 numpy (rel L2 1e-5)."""
    path = str(tmp_path / "fused_qkv.onnx")
    inputs, ref = _fused_qkv_model(path, transb)
    args = llmc_runner.write_inputs(inputs, str(tmp_path / "in"))
    res = llmc_runner.run_llmc(path, args, str(tmp_path / "out"), ["y"],
                               timeout=TIMEOUT_S,
                               extra_args=["--mesh", mesh, "--strategy", "megatron"])
    assert res.returncode == 0, res.stderr[-2000:]
    err = models.rel_l2(res.outputs["y"], ref)
    assert err <= SAME_AS_ONE_DEVICE, f"rel L2 {err:.3e} vs float64 numpy"
    s = _explain(path, mesh)
    moved = [(c["kind"], c["tensor"]) for c in s["collectives"] if c["bytes"] > 0]
    assert [kind for kind, _ in moved] == ["all_reduce"], moved
    assert not [c for c in s["collectives"] if c["kind"] == "split"], s["collectives"]
    weights = {t["name"]: t["sharding"] for t in s["tensors"] if t["kind"] == "weight"}
    cut = "[0:32, :]" if transb else "[:, 0:32]"
    assert weights.get("Wqkv" + cut) == ("[tp, -]" if transb else "[-, tp]"), weights
    assert "Wqkv" not in weights, weights
    # Pinned, the fused weight stays as it is (and the heads stay whole).
    s = _explain(path, mesh, extra=["--shard", "Wqkv=-,-"])
    weights = {t["name"] for t in s["tensors"] if t["kind"] == "weight"}
    assert "Wqkv" in weights, weights


# ---------------------------------------------------------------------------
# Errors: one line `error: ...`, exit status 1.
# ---------------------------------------------------------------------------

def _mesh_models():
    path = os.path.join(REPO, "test", "llmc", "Inputs", "mesh_models.py")
    spec = importlib.util.spec_from_file_location("mesh_models", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    """The MLP of mesh-run.test (x [4,8,64], w1, b1, w2), a one-device
    artifact and a tp=2 artifact of it."""
    d = str(tmp_path_factory.mktemp("mesh_mlp"))
    _mesh_models().make(d)
    onnx_path = os.path.join(d, "mlp.onnx")
    for art, extra in (("plain.llmcx", []), ("tp2.llmcx", ["--mesh", "tp=2"])):
        res = llmc_runner.call_llmc(["compile", onnx_path, "-o",
                                     os.path.join(d, art), *extra])
        assert res.returncode == 0, res.stderr
    return d


def _mlp_cases(d):
    m = os.path.join(d, "mlp.onnx")
    run = ["run", m, "--input", f"x={d}/x.npy", "--output-dir", f"{d}/out"]
    no_tensor = f"error: {m}: --shard nope: the model has no tensor 'nope' " \
                "(inputs and weights: x, w1, w2, b1)"
    return {
        "unknown-pin": (run + ["--mesh", "tp=2", "--shard", "nope=tp"], no_tensor),
        "unknown-pin-megatron": (run + ["--mesh", "tp=2", "--strategy", "megatron",
                                        "--shard", "nope=tp"], no_tensor),
        "unknown-pin-explain": (["explain", m, "--mesh", "tp=2", "--shard",
                                 "nope=tp"], no_tensor),
        "mesh-size-0": (run + ["--mesh", "tp=0"],
                        f"error: {m}: --mesh 'tp=0': axis 'tp' needs a size "
                        "from 1 to 999999"),
        "mesh-size-0-second-axis": (run + ["--mesh", "dp=2,tp=0"],
                                    f"error: {m}: --mesh 'dp=2,tp=0': axis 'tp' "
                                    "needs a size from 1 to 999999"),
        "mesh-no-size": (run + ["--mesh", "tp"],
                         f"error: {m}: --mesh 'tp': expected axes like 'tp=2' "
                         "or 'dp=2,tp=4'"),
        "mesh-empty": (run + ["--mesh", ""],
                       "error: --mesh needs axes, e.g. --mesh tp=2 or --mesh "
                       "dp=2,tp=4"),
        "device-memory": (run + ["--mesh", "tp=2", "--strategy", "megatron",
                                 "--device-memory", "0.00001"],
                          f"error: {m}: the plan needs 0.1 MB per device "
                          "(weights, inputs and live activations at the peak) "
                          "but --device-memory is 0.0 MB"),
        "device-memory-0": (run + ["--mesh", "tp=2", "--device-memory", "0"],
                            "error: --device-memory must be a positive number "
                            "of GB"),
        "link-bandwidth-0": (run + ["--mesh", "tp=2", "--link-bandwidth", "0"],
                             "error: --link-bandwidth must be a positive "
                             "number of GB/s"),
        "pin-quoted": (run + ["--mesh", "tp=2", "--shard", "x='tp'"],
                       "error: --shard 'x='tp'': quotes and braces are not "
                       "allowed"),
        "llmc-run-timeout-0": (None, "error: --collective-timeout must be a "
                               "positive number of seconds, got '0'"),
        "mesh-axis-twice": (run + ["--mesh", "tp=2,tp=2"],
                            f"error: {m}: --mesh 'tp=2,tp=2': axis 'tp' is "
                            "given twice"),
        "shard-without-mesh": (run + ["--shard", "x=tp,-,-"],
                               "error: --shard and --strategy need --mesh "
                               "(e.g. --mesh tp=2)"),
        "strategy-without-mesh": (run + ["--strategy", "megatron"],
                                  "error: --shard and --strategy need --mesh "
                                  "(e.g. --mesh tp=2)"),
        "shard-without-mesh-explain": (["explain", m, "--shard", "x=tp,-,-"],
                                       "error: --shard and --strategy need "
                                       "--mesh (e.g. --mesh tp=2)"),
        "unknown-strategy": (run + ["--mesh", "tp=2", "--strategy", "bogus"],
                             f"error: {m}: --strategy 'bogus': expected dp, "
                             "megatron, megatron-sp, experts, auto or none"),
        "dp-not-divisible": (run + ["--mesh", "tp=8", "--strategy", "dp"],
                             f"error: {m}: --strategy dp: nothing in the model "
                             "can be split over mesh 'tp=8' (no input's batch "
                             "dim is divisible by the axis)"),
        "experts-no-3d-weight": (run + ["--mesh", "tp=2", "--strategy", "experts"],
                                 f"error: {m}: --strategy experts: nothing in "
                                 "the model can be split over mesh 'tp=2' (no "
                                 "3-D expert weight with a divisible leading "
                                 "dim)"),
        "pin-rank": (run + ["--mesh", "tp=2", "--shard", "x=tp"],
                     f"error: {m}: --shard x: 'tp' gives 1 dims but the tensor "
                     "has 3"),
        "pin-axis-not-in-mesh": (run + ["--mesh", "tp=2", "--shard", "x=dp,-,-"],
                                 f"error: {m}: --shard x: 'dp,-,-' names axis "
                                 "'dp', which is not in the mesh 'tp=2'"),
        "pin-not-divisible": (run + ["--mesh", "tp=3", "--shard", "w1=tp,-"],
                              f"error: {m}: --shard w1: dim 0 (size 64) is not "
                              "divisible by mesh axis 'tp' (size 3)"),
        "artifact-mesh": (["run", f"{d}/tp2.llmcx", "--input", f"x={d}/x.npy",
                           "--output-dir", f"{d}/out", "--mesh", "tp=2"],
                          "error: --mesh is for models: an artifact runs on "
                          "the mesh it was compiled for"),
        "plain-artifact-mesh": (["run", f"{d}/plain.llmcx", "--input",
                                 f"x={d}/x.npy", "--output-dir", f"{d}/out",
                                 "--mesh", "tp=2"],
                                "error: --mesh is for models: an artifact runs "
                                "on the mesh it was compiled for"),
        "collective-timeout-0": (run + ["--mesh", "tp=2", "--collective-timeout",
                                        "0"],
                                 "error: --collective-timeout must be a "
                                 "positive number of seconds"),
        "collective-timeout-negative": (run + ["--mesh", "tp=2",
                                               "--collective-timeout", "-1"],
                                        "error: --collective-timeout must be a "
                                        "positive number of seconds"),
    }


ERROR_CASES = list(_mlp_cases("D"))


@pytest.mark.parametrize("case", ERROR_CASES)
def test_mesh_error(case, mlp):
    args, expected = _mlp_cases(mlp)[case]
    if args is None:  # llmc-run, the runtime alone
        llmc_run = os.path.join(os.path.dirname(llmc_runner.llmc_path()), "llmc-run")
        res = subprocess.run([llmc_run, f"{mlp}/tp2.llmcx", f"x={mlp}/x.npy",
                              "--collective-timeout", "0"], capture_output=True,
                             text=True, timeout=TIMEOUT_S)
    else:
        res = llmc_runner.call_llmc(args, timeout=TIMEOUT_S)
    lines = res.stderr.splitlines()
    assert res.returncode == 1, (res.returncode, res.stderr[-2000:])
    assert lines and lines[0] == expected, res.stderr
    assert len(lines) == 1 and res.stdout == "", (res.stdout, res.stderr)


@pytest.mark.parametrize("option", [["--shard", "x=tp,-,-"], ["--strategy", "dp"]])
def test_artifact_rejects_partitioning_options(option, mlp):
    res = llmc_runner.call_llmc(["run", f"{mlp}/tp2.llmcx", "--input",
                                 f"x={mlp}/x.npy", "--output-dir",
                                 f"{mlp}/out-opt", *option], timeout=TIMEOUT_S)
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert res.stderr == ("error: --shard, --strategy and --link-bandwidth are "
                          "for models: an artifact runs as it was partitioned "
                          "when compiled\n"), res.stderr
