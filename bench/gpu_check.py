#!/usr/bin/env python3
"""llmc's CUDA path checked on a GPU machine in one prepared run.

The GPU machine has no LLVM (llmc cannot compile there) and this one has
no GPU, so the check has two phases; bench/gpu_check.sh is the entry point
(it picks the interpreters and finds cuBLASLt and cuDNN):

    bench/gpu_check.sh prepare [DIR] [--quick] [--chip sm_90]   # here
    bench/gpu_check.sh run [DIR] [--out DIR]                     # GPU machine
    bench/gpu_check.sh --dry-run [--quick]                       # here

prepare writes DIR (default build/gpu-check): llmc-run (the runtime alone),
CUDA artifacts compiled here with their inputs and reference outputs
computed here on the CPU, and plan.json. It must stay under the 64 MiB
that the device tool carries with the working tree (prepare refuses more).

run, from the repository root on the GPU machine, writes under --out
(default $OUT) gpu_check.json (every step's result and measurement) and
gpu_check.log (what it printed). Steps:

  environment   nvidia-smi, the driver, torch, the cuBLASLt and cuDNN found
  describe      `llmc-run ART --describe` of every prepared artifact
  lit           test/llmc/cuda-run.test's RUN lines (the `REQUIRES:
                cuda-device` lit test): its `llmc compile` and `make` lines
                ran in prepare, its llmc-run and check lines run here, and
                every `| FileCheck` line's CHECK lines must appear in order
  kernels       bench_gpu_kernels.py measure: fused kernels' GB/s against a
                device-to-device copy
  e2e           bench_gpu_e2e.py measure: GPT-2-style, BERT-style and
                MobileNetV3-Small at batch 1 and 32, llmc plain and as a
                CUDA graph (outputs within relative L2 1e-4 of PyTorch's
                fp32 outputs computed here), against PyTorch eager and
                torch.compile on that GPU
  conformance   every libonnx-testdata conformance model that compiles for
                CUDA (run_conformance.py --cuda-export), run with llmc-run,
                its outputs compared as the conformance harness does
                (rtol 1e-3, atol 1e-5)
  multi-gpu     the MLP of test/llmc/Inputs/mesh_models.py compiled here
                for CUDA meshes (tp=1, tp=2 and dp=2 under megatron and
                dp), run by llmc-run over as many GPUs with NCCL, eager and
                as CUDA graphs, each output within relative L2 1e-5 of
                numpy's float64 reference; a mesh larger than the machine
                is skipped with its reason (tp=1 still runs NCCL's calls on
                a communicator of one)
  pytest        skipped with its reason: the Python package links LLVM and
                MLIR, which the GPU machine lacks

A step that fails does not stop the next; the whole run keeps within
--budget seconds (default 480: the device tool allows 10 minutes a call),
each command within its own timeout.

--dry-run (here, tested by test/python/test_gpu_check.py) prepares, then
runs every step with everything but the device: each llmc-run on the GPU
becomes `llmc run` of the same model on the CPU (the same inputs, the same
checks and comparisons), lines that need the device (--cuda-graph and
--profile runs) are listed as skipped, and the benchmarks run their own
--dry-run. The last line is `gpu_check: N passed, M failed, K skipped`;
the exit status is 1 when a step failed.
"""

import argparse
import concurrent.futures
import glob
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LIT_TEST = os.path.join(REPO, "test", "llmc", "cuda-run.test")
DATA = "/usr/share/libonnx-testdata/data"
SUITES = ("node", "pytorch-converted", "pytorch-operator", "simple")
CARRY_LIMIT = 56 << 20  # bytes: 64 MiB carried, less the working tree
E2E_MODELS, E2E_BATCHES = "gpt2_mini,bert_mini,mobilenet_v3_small", "1,32"
QUICK_FILTER = (r"^node/test_(relu|softmax_axis_1|matmul_2d|gemm_default_"
                r"matrix_bias|conv_with_strides_padding|maxpool_2d_default)$")


class Log:
    """Prints, and keeps, every line (gpu_check.log)."""

    def __init__(self):
        self.lines = []

    def __call__(self, *parts):
        text = " ".join(str(p) for p in parts)
        print(text, flush=True)
        self.lines.append(text)


log = Log()
DEADLINE = [float("inf")]  # time.monotonic() by which run must be done


def left(most):
    """Seconds a step may take: `most`, or what is left before the
    deadline (at least 1)."""
    return max(1, min(most, int(DEADLINE[0] - time.monotonic())))


def sh(cmd, timeout=None, cwd=None):
    """Runs `cmd` (a list, or a string through bash); (rc, stdout+stderr)."""
    try:
        p = subprocess.run(cmd, shell=isinstance(cmd, str), executable=(
            "/bin/bash" if isinstance(cmd, str) else None),
            capture_output=True, text=True, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout + p.stderr
    except FileNotFoundError as e:
        return 127, f"{e.filename}: not found"
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return 124, (out.decode(errors="replace") if isinstance(out, bytes)
                     else out) + f"\n(timed out after {timeout} s)"


def size_of(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


# ---------------------------------------------------------------------------
# cuda-run.test's RUN lines
# ---------------------------------------------------------------------------

def lit_runs():
    """The lit test's RUN lines (continuations joined) and its CHECK lines
    by prefix."""
    runs, checks = [], {}
    for line in open(LIT_TEST):
        m = re.match(r"#\s*RUN:\s*(.*)$", line)
        if m:
            runs.append(m.group(1).strip())
            continue
        m = re.match(r"#\s*([A-Z0-9-]+):\s*(.*)$", line)
        if m and m.group(1) not in ("REQUIRES", "UNSUPPORTED", "XFAIL"):
            checks.setdefault(m.group(1), []).append(m.group(2).strip())
    return runs, checks


def lit_kind(run):
    """prepare (make inputs, compile), skip (JIT on CUDA: needs LLVM there)
    or device."""
    if re.search(r"(^|&&\s*)llmc compile ", run) or " make " in run:
        return "prepare"
    if run.startswith("llmc run "):
        return "skip"
    return "device"


def lit_substitute(run, tmp, bindir):
    """lit's substitutions, with %t inside the prepared folder."""
    run = run.replace("%S", os.path.dirname(LIT_TEST))
    run = run.replace("%PYTHON", shlex.quote(sys.executable))
    run = run.replace("%t", tmp)
    run = re.sub(r"(^|&&\s*|\|\s*)llmc-run ", lambda m: m.group(1) +
                 shlex.quote(os.path.join(bindir, "llmc-run")) + " ", run)
    run = re.sub(r"(^|&&\s*)llmc ", lambda m: m.group(1) +
                 shlex.quote(os.path.join(REPO, "build", "bin", "llmc")) + " ", run)
    return run


def file_check(text, patterns):
    """None when `patterns` appear in `text` in order (FileCheck's CHECK),
    else the first one missing."""
    pos = 0
    for p in patterns:
        i = text.find(p, pos)
        if i < 0:
            return p
        pos = i + len(p)
    return None


def as_cpu_run(run, artifacts):
    """A device line as its CPU counterpart for --dry-run: llmc-run of a
    CUDA artifact becomes `llmc run` of its model on the CPU; None for
    lines that only mean something on the device."""
    if "--cuda-graph" in run or "--profile" in run:
        return None
    m = re.match(r"llmc-run (\S+) (.*)$", run.split("|")[0].strip())
    if not m:
        return run
    model = artifacts.get(m.group(1))
    return f"llmc run {model} {m.group(2)}" + (
        " |" + run.split("|", 1)[1] if "|" in run else "")


def prepare_lit(d, chip):
    runs, _ = lit_runs()
    tmp = os.path.join(d, "lit", "t")
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    for run in runs:
        if lit_kind(run) != "prepare":
            continue
        run = run.replace("--target cuda ", f"--target cuda:{chip} ")
        rc, out = sh(lit_substitute(run, tmp, os.path.join(REPO, "build", "bin")))
        if rc != 0:
            sys.exit(f"error: prepare: {run}: exit {rc}\n{out}")
    return sum(1 for r in runs if lit_kind(r) == "prepare")


def step_lit(d, dry_run):
    runs, checks = lit_runs()
    tmp = os.path.join(d, "lit", "t")
    artifacts = {}
    for run in runs:
        m = re.search(r"llmc compile (\S+) .*-o (\S+)", run)
        if m:
            artifacts[m.group(2)] = m.group(1)
    passed, failed, skipped = [], [], []
    unmade = []  # output folders of skipped lines: their checks skip too

    def skip(run, why):
        skipped.append({"run": run, "why": why})
        m = re.search(r"--output-dir (\S+)", run)
        if m:
            unmade.append(m.group(1))

    for run in runs:
        kind = lit_kind(run)
        if kind == "prepare":
            continue
        if kind == "skip":
            skip(run, "llmc run (JIT) needs LLVM")
            continue
        if any(re.search(re.escape(u) + r"(\s|$)", run) for u in unmade):
            skip(run, "checks the output of a skipped line")
            continue
        line = as_cpu_run(run, artifacts) if dry_run else run
        if line is None:
            skip(run, "needs the device (dry run)")
            continue
        check = None
        if "| FileCheck" in line:
            line, fc = line.split("| FileCheck", 1)
            m = re.search(r"--check-prefix[= ](\S+)", fc)
            check = m.group(1) if m else "CHECK"
        rc, out = sh(lit_substitute(line.strip(), tmp, d), timeout=left(120))
        missing = file_check(out, checks.get(check, [])) if check else None
        if rc != 0 or missing is not None:
            why = f"exit {rc}" if rc != 0 else f"no '{check}: {missing}'"
            failed.append({"run": run, "why": why, "output": out[-1500:]})
            log(f"  FAIL {run}\n    {why}\n    " + out[-600:].replace("\n", "\n    "))
        else:
            passed.append(run)
    log(f"  {len(passed)} lines passed, {len(failed)} failed, "
        f"{len(skipped)} skipped")
    return (not failed), {"passed": len(passed), "failed": failed,
                          "skipped": skipped}


# ---------------------------------------------------------------------------
# Conformance models
# ---------------------------------------------------------------------------

def prepare_conformance(d, chip, quick):
    out = os.path.join(d, "conformance")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, os.path.join(REPO, "test", "conformance",
                                        "run_conformance.py"),
           "--llmc", os.path.join(REPO, "build", "bin", "llmc"),
           "--xfail", os.path.join(REPO, "test", "conformance", "xfail.txt"),
           "--cuda", "compile", "--cuda-target", f"cuda:{chip}",
           "--cuda-xfail", os.path.join(REPO, "test", "conformance",
                                        "xfail-cuda.txt"),
           "--cuda-export", out, "--jobs", str(os.cpu_count() or 2)]
    for s in SUITES:
        cmd += ["--suite", os.path.join(DATA, s)]
    if quick:
        cmd += ["--filter", QUICK_FILTER]
    rc, text = sh(cmd)
    print(text.strip().splitlines()[-1] if text.strip() else "")
    if rc != 0:  # the CPU conformance must pass before its CUDA half counts
        sys.exit(f"error: prepare: the conformance run failed:\n{text[-3000:]}")
    count = len(os.listdir(out))
    # xz halves the artifacts (the PTX is text): 15 MB of ~900 models
    # travel as about 7.
    with tarfile.open(out + ".tar.xz", "w:xz", preset=6) as tar:
        tar.add(out, arcname="conformance")
    shutil.rmtree(out)
    return count


def unpack_conformance(d):
    """DIR/conformance from DIR/conformance.tar.xz, once."""
    packed = os.path.join(d, "conformance.tar.xz")
    if not os.path.isdir(os.path.join(d, "conformance")) and os.path.exists(packed):
        with tarfile.open(packed, "r:xz") as tar:
            for m in tar.getmembers():  # only plain files and folders, inside
                if not (m.isfile() or m.isdir()) or m.name.startswith(
                        ("/", "..")) or "/../" in m.name:
                    raise RuntimeError(f"{packed}: unexpected member {m.name}")
            tar.extractall(d)


def run_entry(entry_dir, d, dry_run):
    """(key, None) when the model's outputs match, else (key, reason)."""
    import numpy as np
    from run_conformance import compare
    e = json.load(open(os.path.join(entry_dir, "entry.json")))
    outdir = os.path.join(entry_dir, "got")
    shutil.rmtree(outdir, ignore_errors=True)
    inputs = [f"{n}={os.path.join(entry_dir, f'in_{i}.npy')}"
              for i, n in enumerate(e["inputs"])]
    if dry_run:
        cmd = [os.path.join(REPO, "build", "bin", "llmc"), "run", e["model"]]
        cmd += [a for i in inputs for a in ("--input", i)]
    else:
        cmd = [os.path.join(d, "llmc-run"), os.path.join(entry_dir, "model.llmcx"),
               *inputs]
    if time.monotonic() > DEADLINE[0]:
        return e["key"], "not run: the check's time was up"
    rc, out = sh(cmd + ["--output-dir", outdir], timeout=left(120))
    if rc != 0:
        return e["key"], f"exit {rc}: {out.strip()[-300:]}"
    for i, name in enumerate(e["outputs"]):
        path = os.path.join(outdir, f"{name}.npy")
        if not os.path.exists(path):
            return e["key"], f"output '{name}' not written"
        why = compare(name, np.load(os.path.join(entry_dir, f"out_{i}.npy"),
                                    allow_pickle=False),
                      np.load(path, allow_pickle=False))
        if why:
            return e["key"], why
    return e["key"], None


def step_conformance(d, dry_run, jobs):
    sys.path.insert(0, os.path.join(REPO, "test", "conformance"))
    unpack_conformance(d)
    entries = sorted(glob.glob(os.path.join(d, "conformance", "*", "entry.json")))
    failed = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for key, why in pool.map(
                lambda p: run_entry(os.path.dirname(p), d, dry_run), entries):
            if why:
                failed[key] = why
                log(f"  FAIL {key}: {why}")
    log(f"  {len(entries) - len(failed)} of {len(entries)} models match")
    return (not failed and bool(entries)), {
        "models": len(entries), "passed": len(entries) - len(failed),
        "failed": failed}


# ---------------------------------------------------------------------------
# The rest of the steps
# ---------------------------------------------------------------------------

def find_library(names):
    """The first of `names` in the library path, /usr/local/cuda or the pip
    packages' nvidia/ folders (PyTorch's wheels bring cuBLAS, cuDNN and
    NCCL)."""
    dirs = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    dirs += ["/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"]
    for site in sys.path:
        dirs += glob.glob(os.path.join(site, "nvidia", "*", "lib"))
        dirs += glob.glob(os.path.join(site, "nvidia", "*", "*", "lib"))
    for n in names:
        for p in dirs:
            if os.path.exists(os.path.join(p, n)):
                return os.path.join(p, n)
    return None


def step_environment(dry_run):
    info = {"host": platform.node(), "python": sys.version.split()[0]}
    rc, out = sh(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                  "compute_cap", "--format=csv,noheader"], timeout=30)
    info["nvidia-smi"] = out.strip() if rc == 0 else f"unavailable (exit {rc})"
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["devices"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        info["torch"] = None
        info["devices"] = 0
    # Every later step's processes (llmc-run, the benchmarks) inherit these.
    env = os.environ
    for var, names in (("LLMC_CUBLASLT", ["libcublasLt.so.13", "libcublasLt.so.12"]),
                       ("LLMC_CUDNN", ["libcudnn.so.9"]),
                       ("LLMC_NCCL", ["libnccl.so.2"])):
        path = env.get(var) or find_library(names)
        info[var] = path
        if path:  # cuDNN 9 opens its engine libraries from the library path
            env[var] = path
            env["LD_LIBRARY_PATH"] = os.path.dirname(path) + (
                ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    for k, v in info.items():
        log(f"  {k}: {v}")
    return dry_run or info["devices"] > 0, info


def step_describe(d):
    unpack_conformance(d)
    arts = sorted(glob.glob(os.path.join(d, "**", "*.llmcx"), recursive=True))
    failed = {}
    for a in arts:
        rc, out = sh([os.path.join(d, "llmc-run"), a, "--describe"], timeout=left(60))
        if rc != 0 or not re.search(r"^steps: ", out, re.M):
            failed[os.path.relpath(a, d)] = out.strip()[-300:]
    log(f"  {len(arts) - len(failed)} of {len(arts)} artifacts described")
    for k, v in failed.items():
        log(f"  FAIL {k}: {v}")
    return (not failed and bool(arts)), {"artifacts": len(arts), "failed": failed}


MESHES = (("tp1", "tp=1", "megatron"), ("tp2", "tp=2", "megatron"),
          ("dp2", "tp=2", "dp"))


def prepare_multi_gpu(d, chip):
    """The MLP, its input and float64 reference, and its CUDA mesh
    artifacts, into d/mesh."""
    m = os.path.join(d, "mesh")
    os.makedirs(m)
    models = os.path.join(REPO, "test", "llmc", "Inputs", "mesh_models.py")
    rc, text = sh([sys.executable, models, "make", m])
    if rc != 0:
        sys.exit(f"error: prepare: mesh_models.py make:\n{text[-2000:]}")
    sys.path.insert(0, os.path.dirname(models))
    import numpy as np
    import mesh_models
    np.save(os.path.join(m, "reference.npy"), mesh_models.reference(m))
    llmc = os.path.join(REPO, "build", "bin", "llmc")
    for name, mesh, strategy in MESHES:
        rc, text = sh([llmc, "compile", os.path.join(m, "mlp.onnx"), "--target",
                       f"cuda:{chip}", "--mesh", mesh, "--strategy", strategy,
                       "-o", os.path.join(m, f"{name}.llmcx")])
        if rc != 0:
            sys.exit(f"error: prepare: compiling the {mesh} mesh:\n{text[-2000:]}")
    return len(MESHES)


def step_multi_gpu(d, dry_run, devices):
    import numpy as np
    m = os.path.join(d, "mesh")
    want = np.load(os.path.join(m, "reference.npy"))
    details, ok = {"devices": devices, "meshes": {}}, True
    for name, mesh, strategy in MESHES:
        n = 1
        for part in mesh.split(","):
            n *= int(part.split("=")[1])
        entry = details["meshes"].setdefault(name, {"mesh": mesh,
                                                    "strategy": strategy})
        if not dry_run and n > devices:
            entry["status"] = "skip"
            entry["why"] = f"needs {n} GPUs; this machine has {devices}"
            log(f"  skip {name}: {entry['why']}")
            continue
        for graph in (False, True):
            if dry_run and graph:
                continue
            tag = "graph" if graph else "eager"
            o = os.path.join(m, f"out-{name}-{tag}")
            if dry_run:
                cmd = [os.path.join(REPO, "build", "bin", "llmc"), "run",
                       os.path.join(m, "mlp.onnx"), "--mesh", mesh,
                       "--strategy", strategy, "--input",
                       "x=" + os.path.join(m, "x.npy"), "--output-dir", o]
            else:
                cmd = [os.path.join(d, "llmc-run"),
                       os.path.join(m, f"{name}.llmcx"),
                       os.path.join(m, "x.npy"), "--output-dir", o, "--runs", "3",
                       "--collective-timeout", "30"] + (["--cuda-graph"] if graph else [])
            t = time.monotonic()
            rc, text = sh(cmd, timeout=left(120))
            result = {"seconds": round(time.monotonic() - t, 2), "rc": rc}
            if rc == 0:
                got = np.load(os.path.join(o, "y.npy")).astype(np.float64)
                rel = float(np.linalg.norm(got - want) / np.linalg.norm(want))
                result["rel_l2"] = rel
                result["ok"] = rel <= 1e-5
                m_ms = re.search(r"median ([0-9.]+) ms", text)
                if m_ms:
                    result["median_ms"] = float(m_ms.group(1))
            else:
                result["ok"] = False
                result["error"] = text.strip()[-500:]
            ok &= result["ok"]
            entry[tag] = result
            log(f"  {'ok  ' if result['ok'] else 'FAIL'} {name} {tag}: "
                + (f"rel L2 {result.get('rel_l2', 0):.2e}" if rc == 0
                   else result["error"]))
    return ok, details


def step_bench(script, d, out, dry_run, extra):
    name = os.path.splitext(os.path.basename(script))[0]
    report = os.path.join(out, name + ".json")
    cmd = [sys.executable, os.path.join(HERE, script), "measure", d,
           "--json", report] + extra + (["--dry-run"] if dry_run else [])
    rc, text = sh(cmd, timeout=left(420))
    for line in text.rstrip().splitlines():
        log("  " + line)
    result = json.load(open(report)) if os.path.exists(report) else {}
    result["exit"] = rc
    return rc == 0, result


def run(args):
    d = os.path.abspath(args.dir)
    out = os.path.abspath(args.out or os.environ.get("OUT") or
                          os.path.join(d, "out"))
    os.makedirs(out, exist_ok=True)
    plan = json.load(open(os.path.join(d, "plan.json")))
    report = {"mode": "dry-run" if args.dry_run else "device",
              "chip": plan["chip"], "prepared": plan, "steps": []}
    start = time.monotonic()
    DEADLINE[0] = start + args.budget

    def step(name, fn):
        log(f"== {name}")
        t = time.monotonic()
        try:
            if t > DEADLINE[0]:
                raise TimeoutError(f"not run: the {args.budget} s budget "
                                   "was spent")
            ok, details = fn()
        except Exception as e:  # noqa: BLE001 - one step never stops the rest
            ok, details = False, {"exception": f"{type(e).__name__}: {e}"}
            log(f"  FAIL {name}: {type(e).__name__}: {e}")
        status = details.pop("_status", "pass" if ok else "fail")
        report["steps"].append({"name": name, "status": status,
                                "seconds": round(time.monotonic() - t, 1),
                                "details": details})
        log(f"   {status} ({time.monotonic() - t:.1f} s)")
        write()

    def write():
        report["seconds"] = round(time.monotonic() - start, 1)
        with open(os.path.join(out, "gpu_check.json"), "w") as f:
            json.dump(report, f, indent=1)
        with open(os.path.join(out, "gpu_check.log"), "w") as f:
            f.write("\n".join(log.lines) + "\n")

    def environment():
        ok, info = step_environment(args.dry_run)
        report["environment"] = dict(info)
        return ok, info

    step("environment", environment)
    step("describe", lambda: step_describe(d))
    step("lit", lambda: step_lit(d, args.dry_run))
    step("kernels", lambda: step_bench("bench_gpu_kernels.py",
                                       os.path.join(d, "kernels"), out,
                                       args.dry_run, []))
    step("e2e", lambda: step_bench("bench_gpu_e2e.py", os.path.join(d, "e2e"),
                                   out, args.dry_run,
                                   ["--runs", str(args.runs)] +
                                   (["--no-compile"] if args.dry_run else [])))
    step("conformance", lambda: step_conformance(d, args.dry_run, args.jobs))
    devices = report.get("environment", {}).get("devices", 0)
    step("multi-gpu", lambda: step_multi_gpu(d, args.dry_run, devices))
    step("pytest", lambda: (True, {
        "_status": "skip",
        "why": "the Python package links LLVM and MLIR, which the GPU "
               "machine lacks; its CUDA artifacts run through llmc-run's "
               "runtime, checked above"}))
    counts = {s: sum(1 for x in report["steps"] if x["status"] == s)
              for s in ("pass", "fail", "skip")}
    report["summary"] = counts
    log(f"wrote {out}/gpu_check.json and gpu_check.log "
        f"({time.monotonic() - start:.0f} s)")
    log(f"gpu_check: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['skip']} skipped")
    write()
    return 1 if counts["fail"] else 0


def prepare(args):
    d = os.path.abspath(args.dir)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    bindir = os.path.join(REPO, "build", "bin")
    shutil.copy2(os.path.join(bindir, "llmc-run"), d)
    plan = {"chip": args.chip, "quick": args.quick, "made": time.strftime(
        "%Y-%m-%d %H:%M:%S"), "commit": sh(["git", "-C", REPO, "rev-parse",
                                             "HEAD"])[1].strip()}
    t = time.monotonic()
    plan["lit_lines"] = prepare_lit(d, args.chip)
    print(f"lit: {plan['lit_lines']} prepare lines ({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    plan["conformance_models"] = prepare_conformance(d, args.chip, args.quick)
    print(f"conformance: {plan['conformance_models']} CUDA artifacts "
          f"({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    rc, text = sh([sys.executable, os.path.join(HERE, "bench_gpu_kernels.py"),
                   "prepare", os.path.join(d, "kernels"), "--chip", args.chip])
    if rc != 0:
        sys.exit(f"error: prepare: bench_gpu_kernels.py:\n{text[-3000:]}")
    print(f"kernels: prepared ({time.monotonic() - t:.0f} s)")
    plan["mesh_artifacts"] = prepare_multi_gpu(d, args.chip)
    print(f"multi-gpu: {plan['mesh_artifacts']} CUDA mesh artifacts")
    t = time.monotonic()
    models, batches = (("gpt2_mini", "1") if args.quick else
                       (E2E_MODELS, E2E_BATCHES))
    rc, text = sh([args.export_python, os.path.join(HERE, "bench_gpu_e2e.py"),
                   "prepare", os.path.join(d, "e2e"), "--chip", args.chip,
                   "--models", models, "--batches", batches])
    if rc != 0:
        sys.exit(f"error: prepare: bench_gpu_e2e.py:\n{text[-3000:]}")
    print(f"e2e: {models} at batch {batches} ({time.monotonic() - t:.0f} s)")
    # The copies of llmc-run the bench folders hold are this one.
    for sub in ("kernels", "e2e"):
        os.remove(os.path.join(d, sub, "llmc-run"))
        os.symlink("../llmc-run", os.path.join(d, sub, "llmc-run"))
    with open(os.path.join(d, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    size = size_of(d)
    print(f"prepared {d}: {size / 2**20:.1f} MiB")
    if size > CARRY_LIMIT:
        sys.exit(f"error: {d} holds {size / 2**20:.1f} MiB: more than the "
                 f"{CARRY_LIMIT >> 20} MiB the device tool carries beside "
                 "the working tree")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="phase", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dir", nargs="?", default=os.path.join(REPO, "build", "gpu-check"))
    p.add_argument("--chip", default="sm_90")
    p.add_argument("--quick", action="store_true",
                   help="a few conformance models and GPT-2-style at batch 1")
    p.add_argument("--export-python", default="/usr/bin/python3",
                   help="the interpreter whose torch exports the e2e models "
                        "(Debian's torch 1.13)")
    r = sub.add_parser("run")
    r.add_argument("dir", nargs="?", default=os.path.join(REPO, "build", "gpu-check"))
    r.add_argument("--out", help="where the report goes (default $OUT)")
    r.add_argument("--dry-run", action="store_true",
                   help="everything but the device, on this machine's CPU")
    r.add_argument("--jobs", type=int, default=8,
                   help="conformance models run at a time (default 8)")
    r.add_argument("--budget", type=int, default=480,
                   help="seconds for the whole run (default 480): a step "
                        "that would start later fails as not run")
    r.add_argument("--runs", type=int, default=30,
                   help="timed runs per e2e measurement (default 30)")
    args = ap.parse_args()
    return prepare(args) if args.phase == "prepare" else run(args)


if __name__ == "__main__":
    sys.exit(main())
