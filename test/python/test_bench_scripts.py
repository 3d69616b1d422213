"""The GPU benchmark scripts' preparation phases, which run here (no GPU is
needed to prepare): they must keep producing a folder that their measure
phase reads. Nothing is timed.

- bench/bench_gpu_kernels.py prepare: each kernel compiles to one launch;
- bench/bench_gpu_e2e.py prepare (GPT-2-style at batch 1, with Debian's
  torch as the script requires): an artifact, inputs, PyTorch's outputs
  and a plan that names them, with the statistics the weights are drawn
  from again on the GPU machine.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLMC = os.path.join(REPO, "build", "bin", "llmc")
DEBIAN_PYTHON = "/usr/bin/python3"


def _has_ptxas():
    return any(os.access(os.path.join(p, "ptxas"), os.X_OK)
               for p in os.environ.get("PATH", "").split(os.pathsep) +
               ["/usr/local/cuda/bin"])


pytestmark = pytest.mark.skipif(
    not os.path.exists(LLMC) or not _has_ptxas(),
    reason="needs build/bin/llmc and ptxas (the CUDA toolkit)")


def test_kernel_benchmark_prepares_one_launch_per_kernel(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(REPO, "bench", "bench_gpu_kernels.py"),
                          "prepare", str(tmp_path)],
                         check=True, capture_output=True, text=True).stdout
    plan = json.load(open(tmp_path / "plan.json"))
    assert sorted(plan) == ["bias_gelu", "layernorm", "rmsnorm", "softmax"]
    for name in plan:
        assert f"{name}: one kernel" in out
        assert (tmp_path / f"{name}.llmcx").exists()
    assert os.access(tmp_path / "llmc-run", os.X_OK)


def test_e2e_benchmark_prepares_artifact_inputs_and_reference(tmp_path):
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import torch"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("Debian's python3 has no torch (python3-torch): prepare "
                    "exports with it")
    subprocess.run([DEBIAN_PYTHON, os.path.join(REPO, "bench", "bench_gpu_e2e.py"),
                    "prepare", str(tmp_path), "--models", "gpt2_mini",
                    "--batches", "1"], check=True, capture_output=True, text=True)
    plan = json.load(open(tmp_path / "plan.json"))
    assert plan["chip"] == "sm_90"
    (entry,) = plan["entries"]
    assert (entry["model"], entry["batch"], entry["tag"]) == ("gpt2_mini", 1, "gpt2_mini_b1")
    assert entry["inputs"] == ["input_ids"] and entry["outputs"] == ["logits"]
    assert entry["steps"].startswith("steps: ")
    ids = np.load(tmp_path / "gpt2_mini_b1.in.input_ids.npy")
    logits = np.load(tmp_path / "gpt2_mini_b1.ref.logits.npy")
    assert ids.shape == (1, 32) and ids.dtype == np.int64
    assert logits.shape == (1, 32, 1000) and np.isfinite(logits).all()
    describe = subprocess.run([str(tmp_path / "llmc-run"), str(tmp_path / "gpt2_mini_b1.llmcx"),
                               "--describe"], check=True, capture_output=True,
                              text=True).stdout
    assert "target: cuda-sm_90" in describe
    assert "input: input_ids INT64 [1,32]" in describe
    # No weights file travels: measure draws the weights again from these
    # statistics and numpy's seeded generator (test_gpu_check.py runs that).
    assert not list(tmp_path.glob("*.pt"))
    stats = plan["weights"]["gpt2_mini"]
    assert stats and all(len(v) == 3 for v in stats.values())
