"""Partitioned execution (`llmc run --mesh`) of the end-to-end models.

For models of test/e2e/models.py (gpt2_mini, bert_mini, vit_mini, llama_mini,
moe_mini) this runs

    llmc run MODEL.onnx --input ... --output-dir DIR --mesh MESH --strategy S

on a mesh of CPU devices (one thread each) and compares every output with

  - the same model run by llmc on one device: rel L2 <= SAME_AS_ONE_DEVICE
    (1e-5; partitioning only reorders float32 sums), and
  - the float64 PyTorch reference: rel L2 <= REL_L2_TOL (1e-4, as
    test_e2e_models.py).

Coverage: every strategy (dp, megatron, megatron-sp, auto; experts on
moe_mini) on tp=2; a subset on tp=4 and dp=2,tp=2 (SUBSET), the whole
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

MODELS = ["gpt2_mini", "bert_mini", "vit_mini", "llama_mini", "moe_mini"]
MESHES = ["tp=2", "tp=4", "dp=2,tp=2"]
STRATEGIES = ["dp", "megatron", "megatron-sp", "auto"]
FULL = os.environ.get("LLMC_SHARDING_FULL", "0") not in ("", "0")
# Besides every strategy on tp=2: (mesh, strategy) pairs run on every model.
SUBSET = {("tp=4", "dp"), ("tp=4", "megatron"), ("tp=4", "megatron-sp"),
          ("tp=4", "experts"),
          ("dp=2,tp=2", "dp"), ("dp=2,tp=2", "megatron"),
          ("dp=2,tp=2", "auto"), ("dp=2,tp=2", "experts")}

# Strategies that do not apply to a model by design, with the message llmc
# gives. (None today: moe_mini's expert einsums decompose into GEMMs over
# its reshaped 3-D weights, which megatron splits like dense layers;
# megatron-sp splits the sequence dim of x.)
KNOWN_REJECTIONS = {}


def _combos():
    for name in MODELS:
        strategies = STRATEGIES + (["experts"] if name == "moe_mini" else [])
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

def _explain(path, mesh, strategy="megatron"):
    res = llmc_runner.call_llmc(["explain", path, "--mesh", mesh, "--strategy",
                                 strategy, "--format", "json"], timeout=TIMEOUT_S)
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
    if name == "llama_mini":
        # Nothing but the all-reduces moves data: 2 KV heads split over 2
        # devices, and on tp=4, where they do not split, the K/V projections
        # stay whole (each device cuts the heads it needs, locally).
        moved = [c for c in s["collectives"] if c["bytes"] > 0]
        assert moved == reduced, [(c["kind"], c["tensor"]) for c in moved]
    assert s["comm_seconds"] == pytest.approx(
        sum(c["seconds"] for c in s["collectives"]), rel=1e-9)


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
