"""Run `llmc` (run / compile / bench) on a model with numpy inputs; shared by
the e2e tests and bench/bench_cpu.py.

The llmc binary may be briefly missing or replaced while it is being relinked
by a concurrent build: call_llmc (and run_llmc) waits for it to appear and
retries a call whose binary changed underneath it (or could not be executed),
but never retries a plain failure.
"""

import collections
import os
import re
import subprocess
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_LLMC = os.path.join(REPO, "build", "bin", "llmc")

# llmc prints `error: ...` and exits 1 for models it cannot compile; an
# unsupported operator reads e.g. "node 'X': unsupported operator Foo (opset 9)".
ERROR_LINE_RE = re.compile(r"\berror:.*", re.I)
UNSUPPORTED_RE = re.compile(r"\berror:.*\bunsupported\b", re.I)

LlmcResult = collections.namedtuple(
    "LlmcResult", "returncode stdout stderr wall_s outputs timed_out")


def llmc_path():
    return os.environ.get("LLMC", DEFAULT_LLMC)


def _stat(path):
    try:
        st = os.stat(path)
        return (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def wait_for_binary(path, wait_s=180.0):
    """Wait (up to wait_s) until `path` exists, is executable and has not
    changed for a second (a relink in progress). Returns True if it is there."""
    deadline = time.monotonic() + wait_s
    while True:
        s1 = _stat(path)
        if s1 is not None and os.access(path, os.X_OK):
            time.sleep(1.0)
            if _stat(path) == s1:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(2.0)


def output_file(out_dir, name):
    """Where `llmc run` writes output `name` ('/' in names becomes '_')."""
    return os.path.join(out_dir, name.replace("/", "_") + ".npy")


def write_inputs(inputs, in_dir):
    """Save each input as IN_DIR/<i>.npy; returns the --input arguments."""
    os.makedirs(in_dir, exist_ok=True)
    args = []
    for i, (name, value) in enumerate(inputs.items()):
        path = os.path.join(in_dir, f"input_{i}.npy")
        np.save(path, np.ascontiguousarray(value))
        args += ["--input", f"{name}={path}"]
    return args


def call_llmc(args, timeout=600, llmc=None, retries=3, env=None):
    """Run `llmc ARGS...` once (retrying only around a relink of the binary).

    Returns LlmcResult with outputs=None; wall_s is the wall time of the
    llmc process; returncode is None (and timed_out True) on a timeout.
    `env`, if given, is added to this process's environment.
    """
    llmc = llmc or llmc_path()
    cmd = [llmc, *args]
    full_env = dict(os.environ, **env) if env else None
    for attempt in range(retries + 1):
        if not wait_for_binary(llmc):
            return LlmcResult(127, "", f"llmc binary not found: {llmc}", 0.0,
                              None, False)
        before = _stat(llmc)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=timeout, env=full_env)
        except subprocess.TimeoutExpired as e:
            wall = time.perf_counter() - t0
            return LlmcResult(None, _text(e.stdout), _text(e.stderr), wall,
                              None, True)
        except OSError as e:  # ENOENT / ETXTBSY while being relinked
            if attempt < retries:
                time.sleep(2.0)
                continue
            return LlmcResult(127, "", f"cannot execute {llmc}: {e}", 0.0,
                              None, False)
        wall = time.perf_counter() - t0
        changed = _stat(llmc) != before
        if proc.returncode != 0 and (changed or proc.returncode in (126, 127)) \
                and attempt < retries:
            continue  # the binary was replaced during the run: run again
        break
    return LlmcResult(proc.returncode, proc.stdout, proc.stderr, wall, None,
                      False)


def run_llmc(onnx_path, input_args, out_dir, output_names, timeout=600,
             llmc=None, extra_args=(), retries=3, env=None):
    """Run `llmc run MODEL --input ... --output-dir OUT_DIR` and load outputs.

    MODEL is an ONNX file (compiled on the fly: wall_s is compile + execute)
    or an artifact from `llmc compile -o` (wall_s is load + execute).
    Returns LlmcResult; `outputs` maps each of `output_names` to its array (or
    is None when llmc failed or an output file is missing).
    """
    os.makedirs(out_dir, exist_ok=True)
    res = call_llmc(["run", onnx_path, *input_args, "--output-dir", out_dir,
                     *extra_args], timeout=timeout, llmc=llmc, retries=retries,
                    env=env)
    outputs = None
    if res.returncode == 0:
        outputs = {}
        for name in output_names:
            path = output_file(out_dir, name)
            outputs[name] = np.load(path) if os.path.exists(path) else None
    return res._replace(outputs=outputs)


# `llmc bench` prints one line:
#   PATH: N runs after W warm-up: median X ms  min X ms  p90 X ms  max X ms
BENCH_RE = re.compile(
    r"(\d+) runs after (\d+) warm-up: median ([\d.]+) ms\s+min ([\d.]+) ms"
    r"\s+p90 ([\d.]+) ms\s+max ([\d.]+) ms")


def parse_bench(stdout):
    """The times of an `llmc bench` line, in seconds: dict with runs, warmup,
    median, min, p90, max; None if there is no such line."""
    m = BENCH_RE.search(stdout or "")
    if not m:
        return None
    runs, warmup, *ms = m.groups()
    return dict(runs=int(runs), warmup=int(warmup),
                **{k: float(v) / 1e3
                   for k, v in zip(("median", "min", "p90", "max"), ms)})


def first_error_line(text):
    m = ERROR_LINE_RE.search(text or "")
    return m.group(0).strip() if m else None


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b
