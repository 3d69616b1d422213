"""bench/gpu_check.sh, the one prepared GPU check, in its --dry-run mode:
everything but the device, so that the script does not rot between GPU
loans. The quick preparation (cuda-run.test's artifacts, six conformance
models, the kernel benchmark, GPT-2-style at batch 1) runs here, then every
step of the GPU run with each llmc-run of a CUDA artifact replaced by `llmc
run` of its model on the CPU: the lit test's check scripts, the
conformance comparisons and both benchmarks' harnesses see real outputs.
"""

import json
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLMC = os.path.join(REPO, "build", "bin", "llmc")


def _has(cmd):
    return any(os.access(os.path.join(p, cmd), os.X_OK)
               for p in os.environ.get("PATH", "").split(os.pathsep) +
               ["/usr/local/cuda/bin"])


pytestmark = pytest.mark.skipif(
    not os.path.exists(LLMC) or not _has("ptxas"),
    reason="needs build/bin/llmc and ptxas (the CUDA toolkit)")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The quick preparation, once for this file's tests."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("Debian's python3 has no torch: the e2e models export with it")
    d = tmp_path_factory.mktemp("gpu-check") / "gc"
    p = subprocess.run([os.path.join(REPO, "bench", "gpu_check.sh"), "prepare",
                        str(d), "--quick"], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return d


def _dry_run(d):
    return subprocess.run([os.path.join(REPO, "bench", "gpu_check.sh"), "run",
                           str(d), "--dry-run", "--out", str(d / "out")],
                          capture_output=True, text=True, timeout=900)


def test_gpu_check_dry_run(prepared):
    d = prepared
    p = _dry_run(d)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert p.stdout.rstrip().splitlines()[-1] == \
        "gpu_check: 7 passed, 0 failed, 1 skipped"
    report = json.load(open(d / "out" / "gpu_check.json"))
    steps = {s["name"]: s for s in report["steps"]}
    assert report["mode"] == "dry-run"
    # Every artifact prepared for the GPU is one llmc-run reads.
    assert steps["describe"]["details"]["artifacts"] >= 10
    # The lit test's CPU-checkable lines ran and matched their CHECK lines;
    # the CUDA-graph and profile lines wait for the device.
    lit = steps["lit"]["details"]
    assert lit["passed"] >= 10 and not lit["failed"]
    assert any("--cuda-graph" in s["run"] for s in lit["skipped"])
    conf = steps["conformance"]["details"]
    assert conf["models"] == 6 and conf["passed"] == 6
    # PyTorch rebuilt the model from the seeded weights and matched the
    # outputs computed at prepare time with Debian's torch (relative L2 1e-4).
    e2e = json.load(open(d / "out" / "bench_gpu_e2e.json"))
    (row,) = e2e["rows"]
    assert row["model"] == "gpt2_mini" and row["eager_ms"] > 0
    assert not e2e["failures"]
    # The mesh artifacts' models ran on CPU devices, matching numpy's float64.
    meshes = steps["multi-gpu"]["details"]["meshes"]
    assert sorted(meshes) == ["dp2", "tp1", "tp2"]
    assert all(m["eager"]["rel_l2"] < 1e-5 for m in meshes.values())
    assert (d / "out" / "gpu_check.log").read_text().count("== ") == 8


def test_gpu_check_catches_a_wrong_output(prepared, tmp_path):
    """A reference that does not match makes the step fail (the comparison
    is real): one conformance model's expected output is perturbed."""
    import numpy as np
    d = tmp_path / "gc"
    shutil.copytree(prepared, d, symlinks=True)
    entry = sorted((d / "conformance").iterdir())[0]
    out0 = entry / "out_0.npy"
    a = np.load(out0)
    np.save(out0, (a + 1).astype(a.dtype))
    p = _dry_run(d)
    assert p.returncode == 1
    assert p.stdout.rstrip().splitlines()[-1] == \
        "gpu_check: 6 passed, 1 failed, 1 skipped"
    report = json.load(open(d / "out" / "gpu_check.json"))
    conf = [s for s in report["steps"] if s["name"] == "conformance"][0]
    assert conf["status"] == "fail"
    key = json.load(open(entry / "entry.json"))["key"]
    assert list(conf["details"]["failed"]) == [key]
