#!/usr/bin/python3
"""Run ONNX backend conformance tests (model.onnx + test_data_set_N) through llmc.

    run_conformance.py --llmc build/bin/llmc \\
        --suite /usr/share/libonnx-testdata/data/node \\
        --suite /usr/share/libonnx-testdata/data/simple \\
        --xfail test/conformance/xfail.txt [--jobs N] [--filter REGEX] \\
        [--timeout SEC] [--report FILE.json] [--update-xfail] [-v]

A suite is DIR (named by its basename) or NAME=DIR, which names it NAME:
two suites whose folders share a basename (the ONNX wheel's `node` and
libonnx-testdata's) get distinct xfail keys, e.g.
`--suite onnx-wheel-node=.venv/.../onnx/backend/test/data/node`.

Each test directory holds model.onnx and test_data_set_*/{input,output}_N.pb.
For every data set the inputs are written as .npy files and

    llmc run model.onnx --input NAME=FILE.npy ... --output-dir TMP

is run; each expected output is compared against TMP/<output name>.npy.
With --cuda run, the models run on the CUDA device (`--target cuda`); with
--cuda compile, each model is also compiled for CUDA (no device needed).

Outcomes:
  PASS     all outputs match (floats: rtol 1e-3, atol 1e-5, NaN==NaN, infs
           must match; ints/bools/strings exact; shape and dtype must match)
  FAIL     llmc exited 0 but an output is wrong or missing
  ERROR    llmc exited 1 and printed an `error:` line (unsupported op, ...),
           or the harness cannot express the test (sequence/optional I/O)
  CRASH    llmc died by a signal, exited with a code other than 0/1, or
           exited 1 without printing an `error:` line
  TIMEOUT  llmc ran longer than --timeout seconds

Data conventions: tensors are exchanged as .npy files with their natural
numpy dtype. STRING tensors are written as numpy unicode ('<U') arrays (no
pickling); outputs may be '<U' or '|S' (utf-8). The libonnx test data stores
BFLOAT16 tensors as raw uint16 bits, so those are exchanged as uint16.

xfail file: one `suite/test: reason` per line (suite = the suite's name,
e.g. `node/test_abs: Abs not supported`), `#` starts a comment.
A listed test is expected to FAIL, ERROR or TIMEOUT; a listed test that
passes is an "unexpected pass", and a CRASH is never expected, listed or not.
An unlisted test is expected to PASS.

The last line printed is `N passed, M failed`: N tests behaved as expected,
M did not. The exit status is 1 when M > 0.

Only the standard library, numpy and onnx are needed (works with Debian's
onnx 1.12 and with newer onnx in the .venv).
"""

import argparse
import collections
import concurrent.futures
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnx
from onnx import numpy_helper

PASS, FAIL, ERROR, CRASH, TIMEOUT = "PASS", "FAIL", "ERROR", "CRASH", "TIMEOUT"
OUTCOMES = (PASS, FAIL, ERROR, CRASH, TIMEOUT)
# Outcomes a listed (xfail) test may have without failing the run.
XFAIL_OK = (FAIL, ERROR, TIMEOUT)

RTOL, ATOL = 1e-3, 1e-5
ERROR_LINE_RE = re.compile(r"\berror:")
MAX_REASON = 200


class HarnessError(Exception):
    """The harness cannot run this test (reported as ERROR)."""


# ---------------------------------------------------------------------------
# Test discovery
# ---------------------------------------------------------------------------

class Test:
    def __init__(self, suite, name, path):
        self.suite, self.name, self.path = suite, name, path
        self.key = f"{suite}/{name}"


def parse_suite(spec):
    """Return (name, directory) of a --suite argument: DIR or NAME=DIR."""
    name, eq, sdir = spec.partition("=")
    if eq and name and os.sep not in name and not os.path.isdir(spec):
        return name, os.path.abspath(sdir)
    sdir = os.path.abspath(spec)
    return os.path.basename(sdir.rstrip(os.sep)), sdir


def discover(suite_specs, filter_re):
    """Return (tests to run, skipped keys, keys of all test dirs)."""
    tests, skipped, existing = [], [], set()
    for spec in suite_specs:
        suite, sdir = parse_suite(spec)
        if not os.path.isdir(sdir):
            raise SystemExit(f"error: suite directory not found: {sdir}")
        for name in sorted(os.listdir(sdir)):
            path = os.path.join(sdir, name)
            if not os.path.isdir(path):
                continue
            t = Test(suite, name, path)
            existing.add(t.key)
            if filter_re and not filter_re.search(t.key):
                continue
            if not os.path.isfile(os.path.join(path, "model.onnx")):
                skipped.append(t.key)  # e.g. data/real: only data.json
                continue
            tests.append(t)
    return tests, skipped, existing


# ---------------------------------------------------------------------------
# Tensor I/O
# ---------------------------------------------------------------------------

def _index(path):
    m = re.search(r"_(\d+)\.pb$", path)
    return int(m.group(1)) if m else -1


def _pb_files(ds_dir, kind):
    return sorted(glob.glob(os.path.join(ds_dir, f"{kind}_*.pb")), key=_index)


def load_tensor(path):
    tp = onnx.TensorProto()
    with open(path, "rb") as f:
        tp.ParseFromString(f.read())
    return tp.name, numpy_helper.to_array(tp)


def value_kind(value_info):
    """'tensor', 'sequence', 'optional', ... for a graph input/output."""
    kind = value_info.type.WhichOneof("value")
    return (kind or "unknown").replace("_type", "")


def to_npy_array(a):
    if a.dtype == object:  # STRING tensor: bytes or str objects
        vals = [v.decode("utf-8") if isinstance(v, bytes) else str(v)
                for v in a.ravel()]
        return np.array(vals, dtype=np.str_).reshape(a.shape)
    # np.ascontiguousarray would turn a 0-d array into a 1-d one.
    return np.array(as_bits(a), order="C", copy=True)


def _as_str_list(a):
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in a.ravel()]


# Types numpy lacks, which the onnx wheel's test data holds as ml_dtypes
# arrays: llmc exchanges them as their bits (uint16 for bfloat16, uint8
# for the 8-bit floats and the 4-bit types, one to a byte), compared
# exactly.
BITS_TYPES = {"bfloat16": np.uint16, "float8_e4m3fn": np.uint8,
              "float8_e4m3fnuz": np.uint8, "float8_e5m2": np.uint8,
              "float8_e5m2fnuz": np.uint8, "int4": np.uint8, "uint4": np.uint8,
              "float4_e2m1fn": np.uint8}


def as_bits(a):
    """`a` as its bits when its dtype is one numpy lacks, else `a`."""
    bits = BITS_TYPES.get(a.dtype.name)
    return a.view(bits) if bits is not None else a


def compare(name, expected, actual):
    """Return None when `actual` matches `expected`, else a reason string."""
    expected = as_bits(expected)
    if expected.dtype == object or expected.dtype.kind in "US":
        if actual.dtype.kind not in "USO":
            return f"output '{name}': dtype {actual.dtype}, expected string"
        if actual.shape != expected.shape:
            return (f"output '{name}': shape {list(actual.shape)}, "
                    f"expected {list(expected.shape)}")
        e, a = _as_str_list(expected), _as_str_list(actual)
        bad = [i for i, (x, y) in enumerate(zip(e, a)) if x != y]
        if bad:
            i = bad[0]
            return (f"output '{name}': {len(bad)}/{len(e)} strings differ, "
                    f"first at flat index {i}: expected {e[i]!r} got {a[i]!r}")
        return None

    if actual.dtype != expected.dtype:
        return f"output '{name}': dtype {actual.dtype}, expected {expected.dtype}"
    if actual.shape != expected.shape:
        return (f"output '{name}': shape {list(actual.shape)}, "
                f"expected {list(expected.shape)}")
    if expected.size == 0:
        return None

    if expected.dtype.kind in "fc":
        wide = np.complex128 if expected.dtype.kind == "c" else np.float64
        e, a = expected.astype(wide), actual.astype(wide)
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.isclose(a, e, rtol=RTOL, atol=ATOL, equal_nan=True)
        if ok.all():
            return None
        bad = np.argwhere(~ok)
        idx = tuple(int(i) for i in bad[0])
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a - e)
            finite = np.isfinite(diff) & ~ok
            maxerr = float(diff[finite].max()) if finite.any() else float("nan")
        return (f"output '{name}': {len(bad)}/{e.size} values differ "
                f"(max abs err {maxerr:.4g}); first at {list(idx)}: "
                f"expected {e[idx]!r} got {a[idx]!r}")

    # integers, booleans: exact
    ok = expected == actual
    if ok.all():
        return None
    bad = np.argwhere(~ok)
    idx = tuple(int(i) for i in bad[0])
    return (f"output '{name}': {len(bad)}/{expected.size} values differ; "
            f"first at {list(idx)}: expected {expected[idx]!r} got {actual[idx]!r}")


# ---------------------------------------------------------------------------
# Running one test
# ---------------------------------------------------------------------------

class Result:
    def __init__(self, test):
        self.test = test
        self.outcome = PASS
        self.message = ""
        self.returncode = None
        self.duration = 0.0
        self.command = None
        self.output_tail = ""
        self.expected = True  # filled in later from the xfail list
        self.xfail_listed = False

    def set(self, outcome, message):
        self.outcome, self.message = outcome, one_line(message)


def one_line(s, limit=MAX_REASON * 2):
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def first_error_line(text):
    for line in text.splitlines():
        if ERROR_LINE_RE.search(line):
            return line.strip()
    return None


def last_lines(text, n=3):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def signal_name(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def run_process(cmd, cwd, timeout):
    """Run cmd in its own session; returns (rc|None on timeout, output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out = b""
        return None, (out or b"").decode("utf-8", "replace")
    finally:
        if proc.poll() is None:  # e.g. KeyboardInterrupt
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def run_dataset(args, test, model, ds_dir, tmp, res):
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in inits]
    graph_outputs = list(model.graph.output)

    for vi in graph_inputs:
        kind = value_kind(vi)
        if kind != "tensor":
            raise HarnessError(f"harness: input '{vi.name}' has {kind} type "
                               "(only tensors are supported)")
    for vi in graph_outputs:
        kind = value_kind(vi)
        if kind != "tensor":
            raise HarnessError(f"harness: output '{vi.name}' has {kind} type "
                               "(only tensors are supported)")

    in_dir = os.path.join(tmp, "inputs")
    out_dir = os.path.join(tmp, "outputs")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(in_dir, exist_ok=True)
    os.makedirs(out_dir)

    cmd = [args.llmc, "run", os.path.join(test.path, "model.onnx")]
    if args.cuda == "run":
        cmd += ["--target", "cuda"]
    for f in _pb_files(ds_dir, "input"):
        n = _index(f)
        try:
            name, arr = load_tensor(f)
        except Exception as e:  # noqa: BLE001 - report anything as ERROR
            raise HarnessError(f"harness: cannot read {os.path.basename(f)}: {e}")
        if not name:
            if n >= len(graph_inputs):
                raise HarnessError(f"harness: {os.path.basename(f)} has no name "
                                   f"and the graph has only {len(graph_inputs)} inputs")
            name = graph_inputs[n].name
        npy = os.path.join(in_dir, f"input_{n}.npy")
        np.save(npy, to_npy_array(arr), allow_pickle=False)
        cmd += ["--input", f"{name}={npy}"]
    cmd += ["--output-dir", out_dir]
    res.command = cmd

    expected = []
    for f in _pb_files(ds_dir, "output"):
        n = _index(f)
        try:
            name, arr = load_tensor(f)
        except Exception as e:  # noqa: BLE001
            raise HarnessError(f"harness: cannot read {os.path.basename(f)}: {e}")
        if not name:
            if n >= len(graph_outputs):
                raise HarnessError(f"harness: {os.path.basename(f)} has no name "
                                   f"and the graph has only {len(graph_outputs)} outputs")
            name = graph_outputs[n].name
        expected.append((name, arr))

    rc, output = run_process(cmd, tmp, args.timeout)
    res.returncode = rc
    res.output_tail = output[-4000:]
    if rc is None:
        res.set(TIMEOUT, f"timed out after {args.timeout}s")
        return
    if rc < 0:
        res.set(CRASH, f"killed by {signal_name(-rc)}; {last_lines(output)}")
        return
    if rc not in (0, 1):
        res.set(CRASH, f"exit code {rc}; {last_lines(output)}")
        return
    if rc == 1:
        err = first_error_line(output)
        if err is None:
            res.set(CRASH, f"exit code 1 without an 'error:' line; {last_lines(output)}")
        else:
            res.set(ERROR, err)
        return

    for name, exp in expected:
        path = os.path.join(out_dir, f"{name}.npy")
        if not os.path.isfile(path):
            res.set(FAIL, f"output '{name}': {name}.npy not written")
            return
        try:
            act = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            res.set(FAIL, f"output '{name}': cannot load {name}.npy: {e}")
            return
        why = compare(name, exp, act)
        if why:
            res.set(FAIL, why)
            return

    if args.compare_unfused and os.path.basename(ds_dir).endswith("_0"):
        compare_unfused(args, cmd, out_dir, [n for n, _ in expected], tmp, res)
    if (args.cuda == "compile" and res.outcome == PASS and
            os.path.basename(ds_dir).endswith("_0")):
        compile_cuda(args, cmd, tmp, res, expected)


def compile_cuda(args, cmd, tmp, res, expected):
    """Compiles the model, specialised to the data set's inputs, for CUDA:
    every op must lower to kernels and library calls, and ptxas must accept
    the PTX (when it is installed). With --cuda-export, a compiled model's
    artifact, inputs and expected outputs are kept for a GPU machine."""
    artifact = os.path.join(tmp, "model.cuda.llmcx")
    compile_cmd = ([args.llmc, "compile"] + cmd[2:cmd.index("--output-dir")] +
                   ["--target", args.cuda_target, "-o", artifact])
    rc, output = run_process(compile_cmd, tmp, args.timeout)
    listed = res.test.key in args.cuda_xfail_entries
    if rc == 1 and first_error_line(output) and listed:
        return  # an expected refusal, with its one-line error
    if rc != 0:
        err = first_error_line(output) or last_lines(output)
        res.set(FAIL, f"CUDA compile failed (exit {rc}): {err}")
    elif listed:
        res.set(FAIL, "CUDA compile passed but the test is in --cuda-xfail: "
                      "remove it from the list")
    elif args.cuda_export:
        export_cuda(args, cmd, artifact, expected, res)


def export_cuda(args, cmd, artifact, expected, res):
    """Copies a CUDA-compiled test into --cuda-export DIR/<suite>__<test>/:
    model.llmcx, in_<n>.npy, out_<n>.npy and entry.json (the input and
    output names, and the ONNX model's path), for bench/gpu_check.py."""
    dest = os.path.join(args.cuda_export, f"{res.test.suite}__{res.test.name}")
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    shutil.copy2(artifact, os.path.join(dest, "model.llmcx"))
    inputs = []
    for i, flag in enumerate(cmd):
        if flag == "--input":
            name, _, path = cmd[i + 1].partition("=")
            shutil.copy2(path, os.path.join(dest, f"in_{len(inputs)}.npy"))
            inputs.append(name)
    outputs = []
    for name, arr in expected:
        np.save(os.path.join(dest, f"out_{len(outputs)}.npy"),
                to_npy_array(arr), allow_pickle=False)
        outputs.append(name)
    with open(os.path.join(dest, "entry.json"), "w") as f:
        json.dump({"key": res.test.key, "inputs": inputs, "outputs": outputs,
                   "model": os.path.join(res.test.path, "model.onnx")}, f)


def compare_unfused(args, cmd, fused_dir, names, tmp, res):
    """Runs the model again compiled with --no-fusion and requires the same
    outputs as the fused code, within fp32 rounding (fusion only reorders
    loops: the arithmetic of each element is the same)."""
    out_dir = os.path.join(tmp, "outputs-unfused")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    unfused = cmd[:cmd.index("--output-dir")] + ["--no-fusion", "--output-dir", out_dir]
    rc, output = run_process(unfused, tmp, args.timeout)
    if rc != 0:
        res.set(FAIL, f"--no-fusion run failed (exit {rc}): {last_lines(output)}")
        return
    for name in names:
        a = np.load(os.path.join(fused_dir, f"{name}.npy"), allow_pickle=False)
        b = np.load(os.path.join(out_dir, f"{name}.npy"), allow_pickle=False)
        if a.shape != b.shape or a.dtype != b.dtype:
            res.set(FAIL, f"output '{name}': fused {a.dtype}{list(a.shape)} vs "
                          f"unfused {b.dtype}{list(b.shape)}")
            return
        if a.dtype.kind in "fc":
            rtol = 1e-6 if a.dtype.itemsize >= 4 else 2e-3
            same = np.allclose(a, b, rtol=rtol, atol=rtol, equal_nan=True)
        else:
            same = np.array_equal(a, b)
        if not same:
            res.set(FAIL, f"output '{name}': fused and unfused outputs differ")
            return


def run_test(args, test):
    res = Result(test)
    start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix=f"llmc-conf-{test.name[:40]}-")
    try:
        model = onnx.load(os.path.join(test.path, "model.onnx"))
        datasets = sorted(glob.glob(os.path.join(test.path, "test_data_set_*")),
                          key=lambda p: int(p.rsplit("_", 1)[1])
                          if p.rsplit("_", 1)[1].isdigit() else 1 << 30)
        if not datasets:
            raise HarnessError("harness: no test_data_set_* directory")
        for ds in datasets:
            sub = os.path.join(tmp, os.path.basename(ds))
            os.makedirs(sub)
            run_dataset(args, test, model, ds, sub, res)
            if res.outcome != PASS:
                if len(datasets) > 1:
                    res.message = one_line(f"{os.path.basename(ds)}: {res.message}")
                break
    except HarnessError as e:
        res.set(ERROR, str(e))
    except Exception as e:  # noqa: BLE001 - never let one test kill the run
        res.set(ERROR, f"harness: {type(e).__name__}: {e}")
    finally:
        res.duration = time.monotonic() - start
        if args.keep_temp:
            res.tmpdir = tmp
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------
# xfail list
# ---------------------------------------------------------------------------

def read_xfail(path):
    """Return (header_lines, {key: reason})."""
    header, entries, in_header = [], {}, True
    if not path or not os.path.exists(path):
        return header, entries
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                if in_header:
                    header.append(line)
                continue
            in_header = False
            body = stripped.split(" #", 1)[0].strip() if " #" in stripped else stripped
            key, _, reason = body.partition(":")
            key = key.strip()
            if not key or "/" not in key:
                print(f"warning: {path}:{lineno}: ignoring malformed line: {line}",
                      file=sys.stderr)
                continue
            entries[key] = reason.strip()
    return header, entries


def write_xfail(path, header, entries):
    # Drop trailing blank lines of the header, then one blank separator.
    while header and not header[-1].strip():
        header = header[:-1]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for line in header:
            f.write(line + "\n")
        if header:
            f.write("\n")
        for key in sorted(entries):
            reason = entries[key]
            f.write(f"{key}: {reason}\n" if reason else f"{key}:\n")
    os.replace(tmp, path)


def reason_for(res):
    msg = res.message or res.outcome
    # Keep what follows the model's path, and only the names of the
    # harness's temporary files: reasons stay the same from run to run.
    msg = msg.replace(f"error: {os.path.join(res.test.path, 'model.onnx')}: ", "")
    msg = re.sub(r"[^\s']*/llmc-conf-[^/\s']*/(?:[^\s']*/)?", "", msg)
    if res.outcome != ERROR:
        msg = f"{res.outcome}: {msg}"
    msg = msg.replace("#", "")
    return one_line(msg, MAX_REASON)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llmc", required=True, help="path of the llmc binary")
    ap.add_argument("--suite", action="append", required=True,
                    metavar="[NAME=]DIR",
                    help="suite directory of test dirs, named NAME or its "
                    "basename (repeatable)")
    ap.add_argument("--xfail", metavar="FILE", help="expected-failure list")
    ap.add_argument("--jobs", "-j", type=int, default=2, help="parallel tests (default 2)")
    ap.add_argument("--filter", metavar="REGEX",
                    help="only run tests whose suite/name matches (re.search)")
    ap.add_argument("--timeout", type=float, default=120, metavar="SEC",
                    help="per-test timeout in seconds (default 120)")
    ap.add_argument("--compare-unfused", action="store_true",
                    help="also run each model's first data set compiled with "
                         "--no-fusion and require the same outputs")
    ap.add_argument("--cuda", choices=("compile", "run"),
                    help="compile: also compile each model's first data set "
                         "for CUDA (llmc compile --target cuda: the CUDA "
                         "program, PTX assembled by ptxas) and require it to "
                         "succeed; run: run every data set on the CUDA device "
                         "(llmc run --target cuda) instead of the CPU")
    ap.add_argument("--cuda-xfail", metavar="FILE",
                    help="with --cuda compile: tests whose CUDA compile is "
                         "expected to fail (same format as --xfail)")
    ap.add_argument("--cuda-target", default="cuda", metavar="TARGET",
                    help="with --cuda compile: the --target given to llmc "
                         "(default cuda, i.e. cuda:sm_90)")
    ap.add_argument("--cuda-export", metavar="DIR",
                    help="with --cuda compile: keep each CUDA-compiled test's "
                         "artifact, inputs and expected outputs in DIR (for "
                         "bench/gpu_check.py)")
    ap.add_argument("--report", metavar="FILE", help="write per-test results as JSON")
    ap.add_argument("--update-xfail", action="store_true",
                    help="rewrite --xfail from this run's non-passing tests")
    ap.add_argument("--keep-temp", action="store_true",
                    help="keep each test's temp dir (inputs, outputs)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every test result as it finishes")
    args = ap.parse_args(argv)
    if args.update_xfail and not args.xfail:
        ap.error("--update-xfail needs --xfail FILE")
    if args.jobs < 1:
        ap.error("--jobs must be >= 1")
    if args.cuda_export:
        if args.cuda != "compile":
            ap.error("--cuda-export needs --cuda compile")
        args.cuda_export = os.path.abspath(args.cuda_export)
        os.makedirs(args.cuda_export, exist_ok=True)
    return args


def main(argv=None):
    args = parse_args(argv)
    llmc = args.llmc
    if os.sep not in llmc:
        llmc = shutil.which(llmc) or llmc
    args.llmc = os.path.abspath(llmc)
    if not (os.path.isfile(args.llmc) and os.access(args.llmc, os.X_OK)):
        print(f"error: llmc binary not found or not executable: {args.llmc}",
              file=sys.stderr)
        return 2
    filter_re = re.compile(args.filter) if args.filter else None
    args.cuda_xfail_entries = read_xfail(args.cuda_xfail)[1]

    tests, skipped, existing = discover(args.suite, filter_re)
    if args.xfail and not os.path.exists(args.xfail) and not args.update_xfail:
        print(f"warning: xfail file {args.xfail} does not exist; "
              "every test is expected to pass", file=sys.stderr)
    header, xfail = read_xfail(args.xfail)
    suites = []
    for s in args.suite:
        name = parse_suite(s)[0]
        if name not in suites:
            suites.append(name)

    print(f"llmc conformance: {len(tests)} tests from {', '.join(suites)} "
          f"({args.jobs} jobs, timeout {args.timeout:g}s, llmc {args.llmc})", flush=True)
    if skipped:
        print(f"skipped {len(skipped)} directories without model.onnx", flush=True)

    start = time.monotonic()
    results = []
    lock = threading.Lock()
    done = [0]

    def report(res):
        with lock:
            done[0] += 1
            n = done[0]
            if args.verbose:
                print(f"[{n}/{len(tests)}] {res.outcome:7} {res.test.key} "
                      f"({res.duration:.1f}s){': ' + res.message if res.message else ''}",
                      flush=True)
            elif n % 100 == 0 or n == len(tests):
                print(f"  ... {n}/{len(tests)} done ({time.monotonic() - start:.0f}s)",
                      flush=True)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futs = [pool.submit(run_test, args, t) for t in tests]
        try:
            for fut in concurrent.futures.as_completed(futs):
                res = fut.result()
                results.append(res)
                report(res)
        except KeyboardInterrupt:
            for f in futs:
                f.cancel()
            raise
    results.sort(key=lambda r: (suites.index(r.test.suite), r.test.name))
    elapsed = time.monotonic() - start

    # --update-xfail: listed = every non-passing test; keep known reasons,
    # keep entries for tests that were not run this time (filter, other
    # suites), drop entries naming tests that do not exist in a suite run.
    run_suites = set(suites)
    if args.update_xfail:
        ran = {r.test.key for r in results}
        new = {k: v for k, v in xfail.items() if k not in ran and
               (k.split("/", 1)[0] not in run_suites or k in existing)}
        for r in results:
            if r.outcome != PASS:
                new[r.test.key] = xfail.get(r.test.key) or reason_for(r)
        added = sorted(set(new) - set(xfail))
        removed = sorted(set(xfail) - set(new))
        write_xfail(args.xfail, header, new)
        print(f"updated {args.xfail}: {len(new)} entries "
              f"(+{len(added)} new, -{len(removed)} removed)")
        xfail = new

    # Classify against the xfail list.
    for r in results:
        r.xfail_listed = r.test.key in xfail
        if r.outcome == CRASH:
            r.expected = False
        elif r.xfail_listed:
            r.expected = r.outcome in XFAIL_OK
        else:
            r.expected = r.outcome == PASS

    # Per-suite summary.
    print()
    print(f"=== Summary ({elapsed:.0f}s) ===")
    by_suite = collections.OrderedDict((s, []) for s in suites)
    for r in results:
        by_suite[r.test.suite].append(r)
    for s, rs in by_suite.items():
        c = collections.Counter(r.outcome for r in rs)
        unexp = sum(1 for r in rs if not r.expected)
        listed = sum(1 for r in rs if r.xfail_listed)
        counts = " ".join(f"{o}={c.get(o, 0)}" for o in OUTCOMES)
        print(f"{s:20} {len(rs):5} tests: {counts}  (xfail-listed {listed}, unexpected {unexp})")

    unexpected = [r for r in results if not r.expected]
    if unexpected:
        print()
        print(f"=== Unexpected results ({len(unexpected)}) ===")
        for r in unexpected:
            if r.outcome == PASS:
                tag, msg = "UNEXPECTED PASS", "listed in xfail but passed"
            elif r.outcome == CRASH and r.xfail_listed:
                tag, msg = "CRASH (listed)", r.message
            else:
                tag, msg = r.outcome, r.message
            print(f"{tag:16} {r.test.key}: {msg}")

    if xfail and not args.update_xfail:
        stale = sorted(k for k in xfail
                       if k.split("/", 1)[0] in run_suites and k not in existing)
        if stale:
            print()
            print(f"note: {len(stale)} xfail entries name tests that do not exist: "
                  + ", ".join(stale[:10]) + (" ..." if len(stale) > 10 else ""))

    if args.report:
        data = {
            "llmc": args.llmc,
            "suites": suites,
            "elapsed_s": round(elapsed, 2),
            "tests": [{
                "name": r.test.key,
                "suite": r.test.suite,
                "outcome": r.outcome,
                "expected": r.expected,
                "xfail_listed": r.xfail_listed,
                "message": r.message,
                "returncode": r.returncode,
                "duration_s": round(r.duration, 3),
                "command": r.command,
                "output_tail": r.output_tail if r.outcome != PASS else "",
                **({"tmpdir": r.tmpdir} if getattr(r, "tmpdir", None) else {}),
            } for r in results],
        }
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        print(f"\nwrote {args.report}")

    print()
    for s, rs in by_suite.items():
        npass = sum(1 for r in rs if r.outcome == PASS)
        print(f"{s}: {npass}/{len(rs)} pass")
    n_ok = sum(1 for r in results if r.expected)
    print(f"{n_ok} passed, {len(unexpected)} failed")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
