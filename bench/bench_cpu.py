#!/usr/bin/env python3
"""CPU benchmark: llmc vs ONNX Runtime vs IREE vs PyTorch eager on the
end-to-end models of test/e2e/models.py, all timed in the same run.

    .venv/bin/python bench/bench_cpu.py [--models resnet50,gpt2_mini]
        [--runs 20] [--warmup 30] [--rounds 3] [--threads 2] [--timeout 1800]
        [--workdir DIR]

What is measured (wall-clock; medians). Every system is set up first
(compiled, session created); then --rounds timing rounds run the systems one
after another, in a rotating order, so that a slow spell of a shared machine
falls on all of them alike. Each round times --runs calls after --warmup
untimed ones; a system's figure is the median of its rounds' medians.
  llmc           steady-state execution: `llmc bench OUT.llmcx --input ...
                 --runs R --warmup W` (R, W = --runs, --warmup) loads the
                 artifact once, makes W untimed runs, then times R runs
                 in-process; the round's figure is the median it prints (the
                 min / max over all rounds are shown in the second table).
                 Threads: LLMC_NUM_THREADS=--threads (the runtime's pool,
                 under which OpenBLAS runs single-threaded).
  llmc compile   wall time of the whole `llmc compile MODEL.onnx -o OUT.llmcx`
                 process (import, lowering, LLVM code generation, writing the
                 artifact with its weights); no inputs are given to it.
  ORT            onnxruntime.InferenceSession (CPUExecutionProvider,
                 intra_op_num_threads=--threads, default graph optimizations),
                 median of --runs session.run calls after --warmup.
  IREE           iree-import-onnx, then iree-compile
                 --iree-hal-target-device=local
                 --iree-hal-local-target-device-backends=llvm-cpu
                 --iree-llvmcpu-target-cpu=host; run through iree.runtime with
                 the local-task driver (--task_topology_max_group_count=
                 --threads), median of --runs calls (inputs from numpy, outputs
                 copied back to host) after --warmup.
  IREE compile   wall time of iree-compile (import time printed separately).
  torch eager    the PyTorch module, torch.set_num_threads(--threads),
                 torch.no_grad(), median of --runs calls after --warmup.
Ratios are llmc median / other median (> 1 means llmc is slower).
Every system's first output is also checked against the float64 PyTorch
reference (relative L2 error) and shown in a second table; llmc's comes from
`llmc run OUT.llmcx --input ... --output-dir DIR` (the artifact, run once).

A failure of one system on one model shows as `error` in the table, the
reason is printed below it, and the benchmark goes on.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import llmc_runner  # noqa: E402
import models  # noqa: E402

SYSTEMS = ("llmc", "ort", "iree", "torch")
REL_L2_TOL = 1e-4  # same bar as test/python/test_e2e_models.py


class BenchError(Exception):
    """A system failed on a model; str() is the short reason."""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def median_time(fn, runs, warmup):
    # The same warm-up rule as `llmc bench`: `warmup` runs, or fewer once
    # they have taken 2 seconds (at least one).
    t_end = time.perf_counter() + 2.0
    for _ in range(warmup):
        fn()
        if time.perf_counter() > t_end:
            break
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt_time(t):
    if t is None:
        return "-"
    if isinstance(t, str):
        return t
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms" if t < 0.1 else f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_ratio(a, b):
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        return "-"
    r = a / b
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def accuracy(outputs, case):
    """rel L2 of the first output vs the float64 reference (string)."""
    name = next(iter(case.ref_fp64))
    ref = case.ref_fp64[name]
    got = np.asarray(outputs[0])
    if got.shape != ref.shape:
        return f"shape {list(got.shape)} != {list(ref.shape)}"
    if not np.isfinite(got).all():
        return "non-finite"
    err = models.rel_l2(got, ref)
    return f"{err:.1e}" + ("" if err <= REL_L2_TOL else " (WRONG)")


def run_cmd(cmd, timeout, what):
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} timed out after {timeout:.0f}s")
    except OSError as e:
        raise BenchError(f"{what}: cannot run {cmd[0]}: {e}")
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        err = llmc_runner.first_error_line(proc.stderr) or \
            (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"{what} exited {proc.returncode}: {err[:300]}")
    return wall


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def machine_info():
    model, cpus = platform.processor() or "?", os.cpu_count()
    cores = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
        info = {k.strip(): v.strip() for k, v in info.items()}
        model = info.get("Model name", model)
        cpus = info.get("CPU(s)", cpus)
        cps, sockets = info.get("Core(s) per socket"), info.get("Socket(s)")
        if cps and sockets:
            cores = int(cps) * int(sockets)
    except (OSError, ValueError):
        pass
    return model, cpus, cores


# ---------------------------------------------------------------------------
# systems
# ---------------------------------------------------------------------------

def _llmc_call(args, what, cli_args, env=None):
    res = llmc_runner.call_llmc(cli_args, timeout=args.timeout, env=env)
    if res.timed_out:
        raise BenchError(f"{what} timed out after {args.timeout:.0f}s")
    if res.returncode != 0:
        err = llmc_runner.first_error_line(res.stderr) or \
            (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"{what} exited {res.returncode}: {err[:300]}")
    return res


def bench_llmc(case, args, workdir):
    """(median, {min, max, ...}, compile wall time, accuracy) in seconds."""
    input_args = llmc_runner.write_inputs(case.inputs, os.path.join(workdir, "in"))
    out_names = list(case.ref_fp64)
    env = {"LLMC_NUM_THREADS": str(args.threads)}
    artifact = os.path.join(workdir, "model.llmcx")
    compile_s = _llmc_call(args, "llmc compile",
                           ["compile", case.onnx_path, "-o", artifact]).wall_s
    res = llmc_runner.run_llmc(artifact, input_args, os.path.join(workdir, "out"),
                               out_names, timeout=args.timeout, env=env)
    if res.timed_out:
        raise BenchError(f"llmc run timed out after {args.timeout:.0f}s")
    if res.returncode != 0:
        err = llmc_runner.first_error_line(res.stderr) or \
            (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"llmc run exited {res.returncode}: {err[:300]}")
    if any(v is None for v in res.outputs.values()):
        raise BenchError("llmc run: an output file is missing")
    acc = accuracy([res.outputs[n] for n in out_names], case)
    stats = {}

    def timer():
        out = _llmc_call(args, "llmc bench",
                         ["bench", artifact, *input_args, "--runs", str(args.runs),
                          "--warmup", str(args.warmup)], env=env).stdout
        r = llmc_runner.parse_bench(out)
        if r is None:
            raise BenchError(f"llmc bench: no timing line in {out.strip()[:200]!r}")
        stats["min"] = min(stats.get("min", r["min"]), r["min"])
        stats["max"] = max(stats.get("max", r["max"]), r["max"])
        return r["median"]
    return timer, stats, compile_s, acc


def bench_ort(case, args):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    t0 = time.perf_counter()
    sess = ort.InferenceSession(case.onnx_path, sess_options=so,
                                providers=["CPUExecutionProvider"])
    init_s = time.perf_counter() - t0
    feeds = dict(case.inputs)
    outs = sess.run(None, feeds)
    return (lambda: median_time(lambda: sess.run(None, feeds), args.runs,
                                args.warmup)), init_s, accuracy(outs, case)


def bench_iree(case, args, workdir):
    try:
        import iree.runtime as rt
    except ImportError as e:
        raise BenchError(f"iree.runtime not importable: {e}")
    bindir = os.path.dirname(sys.executable)
    imp = shutil.which("iree-import-onnx", path=bindir) or shutil.which("iree-import-onnx")
    comp = shutil.which("iree-compile", path=bindir) or shutil.which("iree-compile")
    if not imp or not comp:
        raise BenchError("iree-import-onnx / iree-compile not found "
                         "(pip install iree-base-compiler)")
    mlir = os.path.join(workdir, "model.mlir")
    vmfb = os.path.join(workdir, "model.vmfb")
    import_s = run_cmd([imp, case.onnx_path, "-o", mlir], args.timeout,
                       "iree-import-onnx")
    compile_s = run_cmd([comp, mlir, "--iree-hal-target-device=local",
                         "--iree-hal-local-target-device-backends=llvm-cpu",
                         "--iree-llvmcpu-target-cpu=host", "-o", vmfb],
                        args.timeout, "iree-compile")
    config = rt.Config("local-task")
    ctx = rt.SystemContext(config=config)
    vm = rt.VmModule.mmap(config.vm_instance, vmfb)
    ctx.add_vm_module(vm)
    fnames = [f for f in vm.function_names
              if not f.startswith("__") and not f.endswith("$async")]
    if len(fnames) != 1:
        raise BenchError(f"IREE module has entry points {vm.function_names}")
    fn = ctx.modules[vm.name][fnames[0]]
    inputs = list(case.inputs.values())

    def call():
        out = fn(*inputs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return [o.to_host() for o in outs]

    outs = call()
    return (lambda: median_time(call, args.runs, args.warmup)), compile_s, \
        import_s, accuracy(outs, case)


def bench_torch(name, case, args):
    import torch
    model, tinputs, _ = models.build_torch_model(name)
    targs = list(tinputs.values())
    with torch.no_grad():
        out = model(*targs)
        outs = [out] if isinstance(out, torch.Tensor) else list(out)
        acc = accuracy([o.numpy() for o in outs], case)

    def call():
        with torch.no_grad():
            model(*targs)
    return (lambda: median_time(call, args.runs, args.warmup)), acc


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(models.MODELS),
                    help="comma-separated subset of: " + ", ".join(models.MODELS))
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of: " + ", ".join(SYSTEMS))
    ap.add_argument("--runs", type=int, default=20,
                    help="timed runs for every system (median)")
    ap.add_argument("--warmup", type=int, default=30,
                    help="untimed warm-up runs for every system in every "
                    "round, ending early once they took 2 s (default 30)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timing rounds, the systems interleaved (in a "
                    "rotating order) so that a slow spell of a shared "
                    "machine hits all of them; the median of the rounds' "
                    "medians is reported (default 3)")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for ORT, IREE and torch, and OpenBLAS "
                    "threads for llmc (default 2)")
    ap.add_argument("--timeout", type=float, default=1800.0,
                    help="seconds allowed for one llmc / iree-compile call")
    ap.add_argument("--workdir", help="keep intermediate files here "
                    "(default: a temporary directory, removed at the end)")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--runs and --rounds must be at least 1 and --warmup at least 0")

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in models.MODELS]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad_sys = [s for s in systems if s not in SYSTEMS]
    if unknown or bad_sys:
        ap.error(f"unknown model(s) {unknown} / system(s) {bad_sys}")

    try:
        import torch
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
    except Exception:  # noqa: BLE001 (torch missing or already initialised)
        pass
    if "iree" in systems:
        try:
            import iree.runtime as rt
            rt.flags.parse_flags(f"--task_topology_max_group_count={args.threads}")
        except Exception:  # noqa: BLE001 (reported per model)
            pass

    workroot = args.workdir or tempfile.mkdtemp(prefix="llmc-bench-")
    os.makedirs(workroot, exist_ok=True)
    start = time.time()
    load0 = os.getloadavg()
    llmc_bin = llmc_runner.llmc_path()
    llmc_stat0 = _mtime(llmc_bin)

    res = {n: {} for n in names}
    errors = []
    try:
        for name in names:
            print(f"[bench] {name}: exporting / loading model", file=sys.stderr,
                  flush=True)
            try:
                case = models.get(name)
            except Exception as e:  # noqa: BLE001
                for s in systems:
                    res[name][s] = "error"
                errors.append((name, "export", f"{type(e).__name__}: {e}"))
                continue
            r = res[name]
            timers = {}

            def failed(system, e):
                r[system] = "error"
                timers.pop(system, None)
                if isinstance(e, BenchError):
                    errors.append((name, system, str(e)))
                else:
                    tb = traceback.format_exception_only(type(e), e)[-1].strip()
                    errors.append((name, system, tb[:400]))
                if system == "llmc":
                    r.setdefault("llmc_compile", "error")
                if system == "iree":
                    r["iree_compile"] = "error"

            # Set-up (compile, session, export) and accuracy, per system.
            for system in systems:
                print(f"[bench] {name}: {system} set-up", file=sys.stderr, flush=True)
                wd = os.path.join(workroot, name, system)
                os.makedirs(wd, exist_ok=True)
                try:
                    if system == "llmc":
                        timers["llmc"], r["llmc_stats"], r["llmc_compile"], \
                            r["llmc_acc"] = bench_llmc(case, args, wd)
                    elif system == "ort":
                        timers["ort"], r["ort_init"], r["ort_acc"] = bench_ort(case, args)
                    elif system == "iree":
                        timers["iree"], r["iree_compile"], r["iree_import"], \
                            r["iree_acc"] = bench_iree(case, args, wd)
                    elif system == "torch":
                        timers["torch"], r["torch_acc"] = bench_torch(name, case, args)
                except Exception as e:  # noqa: BLE001
                    failed(system, e)
            # Timing rounds, the systems interleaved in a rotating order.
            medians = {s: [] for s in timers}
            for k in range(args.rounds):
                order = [s for s in systems if s in timers]
                order = order[k % len(order):] + order[:k % len(order)] if order else []
                for system in order:
                    try:
                        medians[system].append(timers[system]())
                    except Exception as e:  # noqa: BLE001
                        failed(system, e)
            for system, ts in medians.items():
                if system in timers and ts:
                    r[system] = statistics.median(ts)
                print(f"[bench] {name}: {system} -> {fmt_time(r.get(system))}",
                      file=sys.stderr, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workroot, ignore_errors=True)

    # ---- report ----------------------------------------------------------
    cpu, cpus, cores = machine_info()
    load1 = os.getloadavg()
    import onnxruntime
    vers = [f"onnxruntime {onnxruntime.__version__}"]
    try:
        import iree.compiler
        import importlib.metadata as md
        vers.append(f"iree-base-compiler {md.version('iree-base-compiler')}, "
                    f"iree-base-runtime {md.version('iree-base-runtime')}")
    except Exception:  # noqa: BLE001
        vers.append("iree: not installed")
    try:
        import torch
        vers.append(f"torch {torch.__version__}")
    except Exception:  # noqa: BLE001
        pass
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    llmc_stat1 = _mtime(llmc_bin)
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(llmc_stat1)) \
        if llmc_stat1 else "missing"

    print()
    print(f"Machine: {cpu}, {cpus} CPU(s)"
          + (f", {cores} core(s)" if cores else "")
          + f"; threads per system: {args.threads} (llmc: LLMC_NUM_THREADS); "
          f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end")
    print(f"Versions: llmc {commit} (binary {llmc_bin}, built {built}); "
          + "; ".join(vers))
    if llmc_stat0 != llmc_stat1:
        print("WARNING: the llmc binary was rebuilt during this run; llmc "
              "timings may mix two builds.")
    if max(load0[0], load1[0]) > (os.cpu_count() or 1):
        print(f"WARNING: the machine was busy (load average above); "
              f"multi-threaded timings (torch's OpenMP especially) suffer "
              f"from CPU contention.")
    print(f"Runs: every system median of {args.rounds} interleaved rounds, "
          f"each the median of {args.runs} runs after {args.warmup} "
          f"warm-up (llmc: `llmc bench` on the artifact); llmc compile = "
          f"`llmc compile -o` wall time. Total {time.time() - start:.0f}s.")
    print()
    hdr = ["model", "llmc", "ORT", "IREE", "torch eager",
           "llmc/ORT", "llmc/IREE", "llmc/torch", "llmc compile",
           "IREE compile"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|")
    for name in names:
        r = res[name]
        row = [name, fmt_time(r.get("llmc")), fmt_time(r.get("ort")),
               fmt_time(r.get("iree")), fmt_time(r.get("torch")),
               fmt_ratio(r.get("llmc"), r.get("ort")),
               fmt_ratio(r.get("llmc"), r.get("iree")),
               fmt_ratio(r.get("llmc"), r.get("torch")),
               fmt_time(r.get("llmc_compile")), fmt_time(r.get("iree_compile"))]
        print("| " + " | ".join(row) + " |")

    print()
    print(f"Accuracy: relative L2 error of the first output vs the float64 "
          f"PyTorch reference ((WRONG) when > {REL_L2_TOL:.0e}); other timings")
    print()
    print("| model | llmc | ORT | IREE | torch eager | llmc min / max | "
          "ORT session init | IREE import |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for name in names:
        r = res[name]
        st = r.get("llmc_stats")
        calls = f"{fmt_time(st['min'])} / {fmt_time(st['max'])}" if st else "-"
        print("| " + " | ".join([
            name, r.get("llmc_acc", "-"), r.get("ort_acc", "-"),
            r.get("iree_acc", "-"), r.get("torch_acc", "-"), calls,
            fmt_time(r.get("ort_init")), fmt_time(r.get("iree_import"))]) + " |")

    if errors:
        print()
        print("Errors:")
        for name, system, msg in errors:
            print(f"- {name} / {system}: {msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
