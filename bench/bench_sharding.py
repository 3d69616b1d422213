#!/usr/bin/env python3
"""Sharding benchmark: one device against a mesh of N CPU devices, side by
side in one run, on the end-to-end models of test/e2e/models.py.

    .venv/bin/python bench/bench_sharding.py [--models gpt2_mini,llama_mini]
        [--configs 1,tp=2:megatron,tp=2:dp,tp=4:megatron] [--runs 20]
        [--warmup 10] [--rounds 3] [--workdir DIR]

For every model and configuration (a mesh and a strategy; `1` is the plain
single-device program), the script
  * compiles an artifact: `llmc compile MODEL --mesh M --strategy S`;
  * checks its outputs (`llmc run OUT.llmcx`) against the single-device
    artifact's: relative L2 error, which must stay within 1e-5;
  * times it: `llmc bench OUT.llmcx --runs R --warmup W`, --rounds rounds in
    a rotating order over the configurations, median of the rounds' medians;
  * reads the plan from `llmc explain --mesh M --strategy S --format json`:
    the collectives (count, bytes per device) and the memory of one device
    (weights it holds, the buffer plan's peak).
Ratios are against the single-device figure of the same model.

The CPU devices of a mesh are threads of one process sharing the machine's
cores (and the runtime's thread pool): the CPU figures show the cost of the
partitioned program and its collectives, not a speed-up that more hardware
would bring. Multi-GPU figures (tensor-parallel scaling, all-reduce bus
bandwidth beside nccl-tests) need a machine with GPUs: this script says
so instead of printing any (bench/gpu_check.sh's multi-gpu step runs CUDA
mesh artifacts where GPUs are lent).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

import numpy as np  # noqa: E402

import models  # noqa: E402

LLMC = os.path.join(REPO, "build", "bin", "llmc")
DEFAULT_CONFIGS = "1,tp=2:megatron,tp=2:megatron-sp,tp=2:dp,tp=4:megatron,dp=2,tp=2:megatron"


def parse_configs(text):
    """'1,tp=2:megatron,dp=2,tp=2:megatron' -> [(None, None), ('tp=2',
    'megatron'), ('dp=2,tp=2', 'megatron')]: a mesh's axes run on until the
    ':strategy' that ends it."""
    configs, axes = [], []
    for part in text.split(","):
        part = part.strip()
        if part == "1":
            configs.append((None, None))
            continue
        mesh_part, _, strategy = part.partition(":")
        axes.append(mesh_part)
        if strategy:
            configs.append((",".join(axes), strategy))
            axes = []
    if axes:
        configs.append((",".join(axes), "auto"))
    return configs


def label(config):
    mesh, strategy = config
    return "1 device" if mesh is None else f"{mesh} {strategy}"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def mesh_args(config):
    mesh, strategy = config
    return [] if mesh is None else ["--mesh", mesh, "--strategy", strategy]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="gpt2_mini,llama_mini,bert_mini")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if not os.access(LLMC, os.X_OK):
        sys.exit(f"error: {LLMC} is missing: run scripts/setup.sh first")
    configs = parse_configs(a.configs)
    if (None, None) not in configs:
        configs.insert(0, (None, None))
    work = a.workdir or tempfile.mkdtemp(prefix="llmc-bench-sharding.")
    os.makedirs(work, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; llmc: {LLMC}")
    rows = []
    for name in [m for m in a.models.split(",") if m]:
        case = models.get(name)
        in_dir = os.path.join(work, name, "inputs")
        os.makedirs(in_dir, exist_ok=True)
        inputs = []
        for k, v in case.inputs.items():
            path = os.path.join(in_dir, k + ".npy")
            np.save(path, v)
            inputs += ["--input", f"{k}={path}"]
        built = {}
        for config in configs:
            tag = label(config).replace(" ", "_").replace(",", "_").replace("=", "")
            art = os.path.join(work, name, tag + ".llmcx")
            r = run([LLMC, "compile", case.onnx_path, "-o", art] + mesh_args(config))
            if r.returncode != 0:
                rows.append((name, config, None, r.stderr.strip().splitlines()[-1]))
                continue
            out = os.path.join(work, name, tag + ".out")
            r = run([LLMC, "run", art, "--output-dir", out] + inputs)
            if r.returncode != 0:
                rows.append((name, config, None, r.stderr.strip()))
                continue
            outs = {k: np.load(os.path.join(out, k + ".npy")) for k in case.ref_fp64}
            e = run([LLMC, "explain", case.onnx_path, "--format", "json"] + mesh_args(config))
            plan = json.loads(e.stdout) if e.returncode == 0 else {}
            built[config] = (art, outs, plan)
        times = {c: [] for c in built}
        order = list(built)
        for rnd in range(a.rounds):
            for config in order[rnd % len(order):] + order[:rnd % len(order)]:
                r = run([LLMC, "bench", built[config][0], "--runs", str(a.runs),
                         "--warmup", str(a.warmup)] + inputs)
                m = re.search(r"median ([0-9.]+) ms", r.stdout)
                if m:
                    times[config].append(float(m.group(1)))
        base = built.get((None, None))
        for config, (art, outs, plan) in built.items():
            err = max(models.rel_l2(outs[k], base[1][k]) for k in outs) if base else float("nan")
            ref = max(models.rel_l2(outs[k], case.ref_fp64[k]) for k in outs)
            sharding = plan.get("sharding", {})
            summary = plan.get("summary", {})
            rows.append((name, config, {
                "ms": statistics.median(times[config]) if times[config] else float("nan"),
                "err": err, "ref": ref,
                "collectives": len(sharding.get("collectives", [])),
                "comm_bytes": sum(c["bytes"] for c in sharding.get("collectives", [])),
                "weights": sharding.get("weight_bytes_per_device",
                                        sharding.get("weight_bytes_total")),
                "peak": summary.get("peak_memory_bytes", 0),
            }, None))
    print()
    print(f"{'model':12s} {'configuration':22s} {'median ms':>10s} {'vs 1':>6s} "
          f"{'colls':>5s} {'sent/dev':>10s} {'weights/dev':>12s} {'peak/dev':>10s} "
          f"{'vs 1 dev':>9s} {'ref L2':>9s}")
    single = {}
    for name, config, r, error in rows:
        if r and config == (None, None):
            single[name] = r
    for name, config, r, error in rows:
        if error:
            print(f"{name:12s} {label(config):22s} error: {error}")
            continue
        s = single.get(name)
        ratio = r["ms"] / s["ms"] if s and s["ms"] else float("nan")
        weights = r["weights"]
        print(f"{name:12s} {label(config):22s} {r['ms']:10.3f} {ratio:6.2f} "
              f"{r['collectives']:5d} {r['comm_bytes'] / 1024:8.1f}KB "
              f"{'-' if weights is None else f'{weights / 1048576:.2f}MB':>12s} "
              f"{r['peak'] / 1048576:8.2f}MB "
              f"{r['err']:9.2e} {r['ref']:9.2e}")
    print()
    print("GPU: multi-GPU figures (tensor-parallel scaling, all-reduce bus "
          "bandwidth against nccl-tests) are not measured: this run used no "
          "GPU machine (llmc's NCCL path is tested on the fake driver; "
          "bench/gpu_check.sh runs it on GPUs).")
    bad = [r for _, _, r, e in rows if r and not r["err"] <= 1e-5]
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    if bad:
        sys.exit("error: a partitioned program differs from one device by more than 1e-5")


if __name__ == "__main__":
    main()
