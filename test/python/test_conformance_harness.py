"""Self-tests of test/conformance/run_conformance.py (no llmc binary needed).

A fake `llmc` (a small Python script) stands in for the compiler so that the
PASS / FAIL / ERROR / CRASH / TIMEOUT classification, the xfail handling and
the final `N passed, M failed` line can be checked.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(REPO, "test", "conformance", "run_conformance.py")
sys.path.insert(0, os.path.dirname(RUNNER))
import run_conformance as rc  # noqa: E402

NODE = "/usr/share/libonnx-testdata/data/node"


# --- compare() -------------------------------------------------------------

def test_compare_float_tolerance():
    e = np.array([1.0, 100.0, 0.0], np.float32)
    assert rc.compare("y", e, e * (1 + 5e-4)) is None
    assert rc.compare("y", e, e + np.float32(5e-6)) is None
    assert "values differ" in rc.compare("y", e, e * 1.01)


def test_compare_nan_inf():
    e = np.array([np.nan, np.inf, -np.inf], np.float32)
    assert rc.compare("y", e, e.copy()) is None
    assert rc.compare("y", e, np.array([np.nan, np.inf, np.inf], np.float32))
    assert rc.compare("y", e, np.array([0, np.inf, -np.inf], np.float32))
    assert rc.compare("y", e, np.array([np.nan, 3e38, -np.inf], np.float32))


def test_compare_float16_no_overflow():
    e = np.array([65504.0, -65504.0], np.float16)
    assert rc.compare("y", e, e.copy()) is None


def test_compare_dtype_shape():
    e = np.zeros((2, 3), np.float32)
    assert "dtype" in rc.compare("y", e, e.astype(np.float64))
    assert "shape" in rc.compare("y", e, e.reshape(3, 2))
    assert "shape" in rc.compare("y", e, e.reshape(-1))


def test_compare_exact_ints_bools():
    e = np.array([1, 2, 3], np.int64)
    assert rc.compare("y", e, e.copy()) is None
    assert rc.compare("y", e, np.array([1, 2, 4], np.int64))
    b = np.array([True, False])
    assert rc.compare("y", b, b.copy()) is None
    assert rc.compare("y", b, ~b)
    assert rc.compare("y", b, b.astype(np.uint8))


def test_compare_strings():
    e = np.array(["a", "bc"], dtype=object)
    assert rc.compare("y", e, np.array(["a", "bc"])) is None
    assert rc.compare("y", e, np.array([b"a", b"bc"])) is None
    assert rc.compare("y", e, np.array(["a", "bd"]))
    assert rc.compare("y", e, np.array([1, 2]))


def test_compare_empty():
    e = np.zeros((0, 3), np.float32)
    assert rc.compare("y", e, e.copy()) is None


# --- xfail file ------------------------------------------------------------

def test_xfail_roundtrip(tmp_path):
    p = tmp_path / "xfail.txt"
    p.write_text("# header\n\nnode/test_b: reason b\n# mid comment\n"
                 "node/test_a: reason a  # inline\nbogus line\n")
    header, entries = rc.read_xfail(str(p))
    assert header == ["# header", ""]
    assert entries == {"node/test_b": "reason b", "node/test_a": "reason a"}
    rc.write_xfail(str(p), header, entries)
    assert p.read_text() == "# header\n\nnode/test_a: reason a\nnode/test_b: reason b\n"


# --- end to end with a fake llmc -----------------------------------------

FAKE = textwrap.dedent("""\
    #!{python}
    import os, signal, sys, time
    import numpy as np
    args = sys.argv[1:]
    cuda = os.environ.get("FAKE_CUDA", "")
    if args[0] == "compile":
        assert args[args.index("--target") + 1] == "cuda", args
        assert "--input" in args, args
        if cuda == "fail":
            print("llmc: error: op remains on the host", file=sys.stderr)
            sys.exit(1)
        open(args[args.index("-o") + 1], "wb").close()
        sys.exit(0)
    assert args[0] == "run", args
    if cuda == "run":
        assert args[args.index("--target") + 1] == "cuda", args
    else:
        assert "--target" not in args, args
    mode = os.environ.get("FAKE_MODE", "ok")
    inputs = dict(a.split("=", 1) for a in args[args.index("--input") + 1::2]
                  if "=" in a)
    out = args[args.index("--output-dir") + 1]
    if mode == "error":
        print("llmc: error: unsupported op 'Abs'", file=sys.stderr); sys.exit(1)
    if mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "exit1":
        sys.exit(1)
    if mode == "exit2":
        sys.exit(2)
    if mode == "hang":
        time.sleep(60)
    x = np.load(inputs["x"])
    y = np.abs(x)
    if mode == "wrong":
        y = y + 1
    if mode == "dtype":
        y = y.astype(np.float64)
    if mode != "missing":
        np.save(os.path.join(out, "y.npy"), y)
    """)


@pytest.fixture
def fake_llmc(tmp_path):
    p = tmp_path / "llmc"
    p.write_text(FAKE.format(python=sys.executable))
    p.chmod(0o755)
    return str(p)


def run_runner(fake_llmc, tmp_path, mode, xfail=None, extra=(), cuda=""):
    env = dict(os.environ, FAKE_MODE=mode, FAKE_CUDA=cuda)
    cmd = [sys.executable, RUNNER, "--llmc", fake_llmc, "--suite", NODE,
           "--filter", r"^node/test_abs$", "--timeout", "5",
           "--report", str(tmp_path / "report.json"), *extra]
    if xfail is not None:
        xf = tmp_path / "xfail.txt"
        xf.write_text(xfail)
        cmd += ["--xfail", str(xf)]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = p.stdout.strip().splitlines()
    report = json.loads((tmp_path / "report.json").read_text())
    return p.returncode, lines, report["tests"][0]


needs_data = pytest.mark.skipif(not os.path.isdir(os.path.join(NODE, "test_abs")),
                                reason="libonnx-testdata not installed")


@needs_data
@pytest.mark.parametrize("mode,outcome", [
    ("ok", "PASS"), ("wrong", "FAIL"), ("dtype", "FAIL"), ("missing", "FAIL"),
    ("error", "ERROR"), ("segv", "CRASH"), ("exit1", "CRASH"),
    ("exit2", "CRASH"), ("hang", "TIMEOUT"),
])
def test_classification(fake_llmc, tmp_path, mode, outcome):
    if mode == "hang":
        extra = ("--timeout", "1")
    else:
        extra = ()
    code, lines, res = run_runner(fake_llmc, tmp_path, mode, extra=extra)
    assert res["outcome"] == outcome, res
    if outcome == "PASS":
        assert code == 0 and lines[-1] == "1 passed, 0 failed"
        assert "node: 1/1 pass" in lines
    else:
        assert code == 1 and lines[-1] == "0 passed, 1 failed"
        assert "node: 0/1 pass" in lines


@needs_data
@pytest.mark.parametrize("cuda,option,outcome", [
    ("", "compile", "PASS"),      # also compiled for CUDA, which succeeds
    ("fail", "compile", "FAIL"),  # runs on the CPU, but CUDA refuses it
    ("run", "run", "PASS"),       # run with --target cuda
])
def test_cuda_modes(fake_llmc, tmp_path, cuda, option, outcome):
    code, lines, res = run_runner(fake_llmc, tmp_path, "ok",
                                  extra=("--cuda", option), cuda=cuda)
    assert res["outcome"] == outcome, res
    if outcome == "FAIL":
        assert "CUDA compile failed" in res["message"], res
        assert "remains on the host" in res["message"], res


@needs_data
@pytest.mark.parametrize("cuda,outcome", [
    ("fail", "PASS"),  # listed, and the CUDA compile refuses it: expected
    ("", "FAIL"),      # listed, but it compiles: the list is stale
])
def test_cuda_xfail(fake_llmc, tmp_path, cuda, outcome):
    listed = tmp_path / "xfail-cuda.txt"
    listed.write_text("node/test_abs: refused on CUDA\n")
    code, lines, res = run_runner(
        fake_llmc, tmp_path, "ok", cuda=cuda,
        extra=("--cuda", "compile", "--cuda-xfail", str(listed)))
    assert res["outcome"] == outcome, res
    if outcome == "FAIL":
        assert "remove it from the list" in res["message"], res


@needs_data
@pytest.mark.parametrize("mode,code,last", [
    ("error", 0, "1 passed, 0 failed"),   # listed and fails: expected
    ("ok", 1, "0 passed, 1 failed"),      # listed but passes: unexpected
    ("segv", 1, "0 passed, 1 failed"),    # crashes are never expected
])
def test_xfail_listed(fake_llmc, tmp_path, mode, code, last):
    got, lines, _ = run_runner(fake_llmc, tmp_path, mode,
                               xfail="# c\nnode/test_abs: no Abs yet\n")
    assert (got, lines[-1]) == (code, last)


@needs_data
def test_update_xfail(fake_llmc, tmp_path):
    xf = "# header\nnode/test_abs: old reason\nnode/test_no_such_test: gone\n" \
         "simple/test_other: other suite\n"
    code, lines, _ = run_runner(fake_llmc, tmp_path, "error", xfail=xf,
                                extra=("--update-xfail",))
    assert code == 0 and lines[-1] == "1 passed, 0 failed"
    text = (tmp_path / "xfail.txt").read_text()
    assert text == ("# header\n\nnode/test_abs: old reason\n"
                    "simple/test_other: other suite\n")

    # A passing test is dropped; a new failure gets its error line as reason.
    run_runner(fake_llmc, tmp_path, "ok", xfail="node/test_abs: x\n",
               extra=("--update-xfail",))
    assert (tmp_path / "xfail.txt").read_text() == ""
    run_runner(fake_llmc, tmp_path, "error", xfail="",
               extra=("--update-xfail",))
    assert re.fullmatch(r"node/test_abs: llmc: error: unsupported op 'Abs'\n",
                        (tmp_path / "xfail.txt").read_text())


# --- suite names ---------------------------------------------------------

def test_parse_suite(tmp_path):
    d = tmp_path / "node"
    d.mkdir()
    assert rc.parse_suite(str(d)) == ("node", str(d))
    assert rc.parse_suite(str(d) + os.sep) == ("node", str(d))
    assert rc.parse_suite(f"onnx-wheel-node={d}") == ("onnx-wheel-node", str(d))
    # A folder whose own name holds '=' is still a plain DIR.
    odd = tmp_path / "a=b"
    odd.mkdir()
    assert rc.parse_suite(str(odd)) == ("a=b", str(odd))


@needs_data
def test_named_suite(fake_llmc, tmp_path):
    code, lines, res = run_runner(
        fake_llmc, tmp_path, "error", xfail="wheel/test_abs: listed\n",
        extra=("--suite", f"wheel={NODE}", "--filter", r"^(node|wheel)/test_abs$"))
    report = json.loads((tmp_path / "report.json").read_text())
    assert [t["name"] for t in report["tests"]] == ["node/test_abs",
                                                    "wheel/test_abs"]
    # node/test_abs is not listed, wheel/test_abs is: one expected failure.
    assert code == 1 and lines[-1] == "1 passed, 1 failed"
    assert "wheel: 0/1 pass" in lines and "node: 0/1 pass" in lines


def test_reason_shortened():
    t = rc.Test("node", "test_x", "/data/node/test_x")
    r = rc.Result(t)
    r.set(rc.ERROR, "error: /data/node/test_x/model.onnx: node 'n': bad op")
    assert rc.reason_for(r) == "node 'n': bad op"
    r.set(rc.ERROR, "error: /tmp/llmc-conf-test_x-ab12/test_data_set_0/"
          "inputs/input_0.npy: unsupported dtype '<U9'")
    assert rc.reason_for(r) == "error: input_0.npy: unsupported dtype '<U9'"
    r.set(rc.FAIL, "output 'y': 1/6 values differ")
    assert rc.reason_for(r) == "FAIL: output 'y': 1/6 values differ"
