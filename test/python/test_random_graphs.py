"""Differential testing in the suite: 200 random graphs with a fixed seed
through llmc (fused and unfused) against ONNX Runtime
(test/fuzz/random_graphs.py; longer runs: its --count and --seed)."""

import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "fuzz"))

pytest.importorskip("onnxruntime", reason="ONNX Runtime (the reference) is "
                    "not installed")
LLMC = os.path.join(REPO, "build", "bin", "llmc")


def test_random_graphs_agree_with_onnxruntime(tmp_path):
    if not os.access(LLMC, os.X_OK):
        pytest.skip("llmc is not built")
    p = subprocess.run([sys.executable, os.path.join(REPO, "test", "fuzz",
                                                     "random_graphs.py"),
                        "--count", "200", "--seed", "1", "--llmc", LLMC,
                        "--out", str(tmp_path / "repro")],
                       capture_output=True, text=True, timeout=1800)
    last = p.stdout.strip().splitlines()[-1]
    assert p.returncode == 0 and " 0 failed" in last, p.stdout[-4000:]
    run = int(last.split(": ")[1].split(" run")[0])
    # Nearly every graph runs: refusals are the exception.
    assert run >= 190, p.stdout[-4000:]


def test_the_comparison_catches_differences():
    """compare() is what makes a graph fail: it must see one ulp-scale
    change pass and a real one fail, NaNs and infinities in place."""
    import random_graphs as rg
    want = np.linspace(-3, 3, 50).astype(np.float32)
    assert rg.compare("y", want + 1e-6, want) == ""
    bad = want.copy()
    bad[7] += 0.01
    assert "1/50 values differ" in rg.compare("y", bad, want)
    assert "values differ" not in rg.compare("y", want[:49], want)
    special = np.array([np.nan, np.inf, 1.0], np.float32)
    assert rg.compare("y", special.copy(), special) == ""
    assert "NaN or infinity" in rg.compare("y", np.array([0, np.inf, 1], np.float32),
                                           special)


def test_graphs_are_deterministic_and_valid():
    import onnx
    import random_graphs as rg
    a, xa = rg.random_graph(7, 5, 40)
    b, xb = rg.random_graph(7, 5, 40)
    assert a.SerializeToString() == b.SerializeToString()
    assert all(np.array_equal(xa[k], xb[k]) for k in xa)
    onnx.checker.check_model(a, full_check=True)
    assert 5 <= len(a.graph.node)
