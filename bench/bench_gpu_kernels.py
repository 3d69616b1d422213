#!/usr/bin/env python3
"""GPU benchmark of llmc's fused memory-bound kernels: the bandwidth each
achieves as a fraction of a device-to-device copy's, measured in the same
run on the same GPU (the target is at least 80%).

Two phases, because the GPU machine has no LLVM (llmc cannot run there) and
this one has no GPU:

    # here (after scripts/setup.sh): the models, their CUDA artifacts and
    # the runtime-only llmc-run, into one folder (a few MB: it travels to
    # the GPU machine; the inputs are made again there from their seed)
    .venv/bin/python bench/bench_gpu_kernels.py prepare bench/gpu-out [--chip sm_90]
    # on the GPU machine (numpy and torch), from the repository root
    python3 bench/bench_gpu_kernels.py measure bench/gpu-out

Kernels (fp32, ROWS x COLS = 8192 x 1024, 32 MB per tensor):
  softmax     Softmax over the last axis
  layernorm   LayerNormalization with scale and bias
  rmsnorm     x / sqrt(mean(x^2) + eps) * g, as its primitive ONNX ops
  bias_gelu   (x + b) then tanh-GELU, as its primitive ONNX ops
Each compiles to one row or loop kernel (prepare checks the CUDA program
has exactly one launch and no library call).

measure: `llmc-run ART INPUTS --profile` times every step of one run with
CUDA events, after --runs warm-up runs; the kernel's bytes are its buffers
(inputs read once, output written once), its GB/s bytes / time. The copy
is torch's `dst.copy_(src)` of the same 32 MB, timed with CUDA events over
100 copies after 10 warm-up ones, counting bytes read and written. Every
kernel's output is also checked against numpy in float64 (rtol 1e-4).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ROWS, COLS = 8192, 1024
EPS = 1e-5
TOLERANCE = 1e-4  # max |got - want| / (|want| + 1e-3)


def models():
    """name -> (ONNX text, {input: array}, float64 reference function)."""
    rng = np.random.RandomState(0)
    x = rng.randn(ROWS, COLS).astype(np.float32)
    g = (1 + 0.1 * rng.randn(COLS)).astype(np.float32)
    b = (0.1 * rng.randn(COLS)).astype(np.float32)
    head = '<ir_version: 8, opset_import: ["" : 17]>\n'
    shape = f"float[{ROWS},{COLS}]"

    def softmax(i):
        x = i["x"].astype(np.float64)
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def layernorm(i):
        x = i["x"].astype(np.float64)
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + EPS) * i["g"] + i["b"]

    def rmsnorm(i):
        x = i["x"].astype(np.float64)
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * i["g"]

    def bias_gelu(i):
        h = i["x"].astype(np.float64) + i["b"]
        return 0.5 * h * (1 + np.tanh(0.7978845608028654 * (h + 0.044715 * h ** 3)))

    return {
        "softmax": (head + f"""softmax ({shape} x) => ({shape} y)
{{
  y = Softmax <axis = -1> (x)
}}""", {"x": x}, softmax),
        "layernorm": (head + f"""layernorm ({shape} x, float[{COLS}] g, float[{COLS}] b) => ({shape} y)
{{
  y = LayerNormalization <axis = -1, epsilon = {EPS}> (x, g, b)
}}""", {"x": x, "g": g, "b": b}, layernorm),
        "rmsnorm": (head + f"""rmsnorm ({shape} x, float[{COLS}] g) => ({shape} y)
<float eps = {{{EPS}}}>
{{
  sq = Mul (x, x)
  ms = ReduceMean <axes = [-1], keepdims = 1> (sq)
  v = Add (ms, eps)
  r = Sqrt (v)
  n = Div (x, r)
  y = Mul (n, g)
}}""", {"x": x, "g": g}, rmsnorm),
        "bias_gelu": (head + f"""bias_gelu ({shape} x, float[{COLS}] b) => ({shape} y)
<float half = {{0.5}}, float one = {{1.0}}, float c = {{0.7978845608028654}}, float k = {{0.044715}}, float three = {{3.0}}>
{{
  h = Add (x, b)
  h3 = Pow (h, three)
  kh3 = Mul (k, h3)
  s = Add (h, kh3)
  cs = Mul (c, s)
  t = Tanh (cs)
  t1 = Add (one, t)
  hh = Mul (half, h)
  y = Mul (hh, t1)
}}""", {"x": x, "b": b}, bias_gelu),
    }


def prepare(args):
    out = os.path.abspath(args.dir)
    os.makedirs(out, exist_ok=True)
    llmc = os.path.join(REPO, "build", "bin", "llmc")
    shutil.copy2(os.path.join(REPO, "build", "bin", "llmc-run"), out)
    plan = {}
    for name, (text, inputs, _) in models().items():
        src = os.path.join(out, name + ".onnxtxt")
        with open(src, "w") as f:
            f.write(text + "\n")
        art = os.path.join(out, name + ".llmcx")
        subprocess.run([llmc, "compile", src, "--target", f"cuda:{args.chip}",
                        "-o", art], check=True)
        text = subprocess.run([os.path.join(out, "llmc-run"), art, "--describe"],
                              check=True, capture_output=True, text=True).stdout
        steps = re.search(r"^steps: (\d+) \((\d+) kernel launches, (\d+) cuBLASLt "
                          r"GEMMs, (\d+) cuDNN convolutions, (\d+) memsets\)",
                          text, re.M).groups()
        if steps[:2] != ("1", "1"):
            sys.exit(f"{name}: expected one kernel launch, got: {text}")
        plan[name] = list(inputs)
        print(f"{name}: one kernel ({text.splitlines()[-1].strip()})")
    with open(os.path.join(out, "plan.json"), "w") as f:
        json.dump(plan, f)
    print(f"wrote {out}: carry it to the GPU machine and run "
          f"`python3 bench/bench_gpu_kernels.py measure {args.dir}`")


def copy_bandwidth(torch):
    src = torch.randn(ROWS, COLS, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(10):
        dst.copy_(src)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(100):
        dst.copy_(src)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / 100
    return 2 * src.numel() * 4 / seconds / 1e9


def measure(args):
    d = os.path.abspath(args.dir)
    plan = json.load(open(os.path.join(d, "plan.json")))
    if args.dry_run:  # everything but the GPU: inputs, references, the table
        device, copy = "cpu (dry run)", None
    else:
        import torch
        if not torch.cuda.is_available():
            sys.exit("error: no CUDA device (measure runs on the GPU machine; "
                     "--dry-run checks the harness on the CPU)")
        device, copy = torch.cuda.get_device_name(), copy_bandwidth(torch)
        print(f"device: {device}; D2D copy {copy:.0f} GB/s "
              f"(bytes read + written)\n")
    print("| kernel | time us | GB/s | fraction of copy | max rel err vs float64 |")
    print("|---|---:|---:|---:|---:|")
    refs = models()
    rows, failures = [], []
    for name, inputs in plan.items():
        # The inputs are made again here (seeded): 32 MB each would not
        # travel to the GPU machine with the artifacts.
        files = [os.path.join(d, f"{name}.{k}.npy") for k in inputs]
        for k, f in zip(inputs, files):
            np.save(f, refs[name][1][k])
        want = refs[name][2]({k: np.load(f) for k, f in zip(inputs, files)})
        if args.dry_run:
            print(f"| {name} | - | - | - | - |")
            rows.append({"kernel": name})
            continue
        outdir = os.path.join(d, name + ".out")
        run = subprocess.run([os.path.join(d, "llmc-run"), os.path.join(d, name + ".llmcx"),
                              *files, "--runs", str(args.warmup), "--profile",
                              "--output-dir", outdir], capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(f"{name}: llmc-run failed (exit {run.returncode}): "
                            f"{run.stderr.strip()[-500:]}")
            continue
        row = [l for l in run.stdout.splitlines() if re.match(r"^0\s", l)][0].split()
        us, gbs = float(row[2]), float(row[4])
        got = np.load(os.path.join(outdir, "y.npy")).astype(np.float64)
        err = float(np.max(np.abs(got - want) / (np.abs(want) + 1e-3)))
        if not err <= TOLERANCE:
            failures.append(f"{name}: output off float64 numpy by {err:.2e} "
                            f"(at most {TOLERANCE:g})")
        print(f"| {name} | {us:.1f} | {gbs:.0f} | {gbs / copy:.0%} | {err:.1e} |")
        rows.append({"kernel": name, "us": us, "gb_per_s": gbs,
                     "fraction_of_copy": gbs / copy, "max_rel_err": err})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device, "copy_gb_per_s": copy, "rows": rows,
                       "failures": failures}, f, indent=1)
    for why in failures:
        print(f"error: {why}", file=sys.stderr)
    if failures:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="phase", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dir")
    p.add_argument("--chip", default="sm_90")
    m = sub.add_parser("measure")
    m.add_argument("dir")
    m.add_argument("--warmup", type=int, default=20)
    m.add_argument("--dry-run", action="store_true",
                   help="inputs and references only, on the CPU")
    m.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    args = ap.parse_args()
    prepare(args) if args.phase == "prepare" else measure(args)


if __name__ == "__main__":
    main()
