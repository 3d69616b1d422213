#!/usr/bin/env python3
"""End-to-end GPU latency of llmc against PyTorch eager and torch.compile,
measured in the same run on the same GPU, for the GPT-2-style, BERT-style
and ResNet-50 models (test/e2e/models.py) at batch 1 and batch 32.

Two phases, because the GPU machine has no LLVM (llmc cannot compile
there) and this one has no GPU:

    # here (after scripts/setup.sh): each model exported at each batch with
    # Debian's torch (/usr/bin/python3, as the e2e tests do), compiled to a
    # CUDA artifact, with its inputs, PyTorch's fp32 outputs and the model's
    # weights (state_dict), and the runtime-only llmc-run, into one folder
    /usr/bin/python3 bench/bench_gpu_e2e.py prepare bench/e2e-out [--chip sm_90]
        [--models gpt2_mini,bert_mini,resnet50] [--batches 1,32]
    # on the GPU machine (numpy, torch; torchvision for ResNet-50), from the
    # repository root
    python3 bench/bench_gpu_e2e.py measure bench/e2e-out [--runs 50]
    # here, without a GPU: the PyTorch side only, on the CPU (checks the
    # folder and the harness; times nothing worth reporting)
    .venv/bin/python bench/bench_gpu_e2e.py measure bench/e2e-out --dry-run

What is timed, for every system alike: host to host latency of one
inference, the inputs taken from host memory and the outputs brought back
(llmc-run's --runs times `Artifact::run`, which does the same), median of
--runs runs after warm-up. llmc runs plain and replayed as a CUDA graph;
PyTorch in fp32 with TF32 off (llmc's default), eager and torch.compile
(default mode), each on the weights the artifact holds. Every llmc output
is checked against PyTorch's fp32 output from the prepare phase (relative
L2 error at most 1e-4) before its time counts.

So that the folder travels light, no weights file goes with it: prepare
draws every floating parameter and buffer of the model again from numpy's
seeded generator, with the mean and spread the model's own initialisation
gave it (absolute values where those were all non-negative, as a batch
norm's variance), and plan.json keeps those statistics; measure rebuilds
the model and draws the same values (numpy's RandomState is the same on
every version). Inputs over 1 MB are drawn there likewise. The prepared
folder for ResNet-50 still holds two 100 MB artifacts: more than the
session device tool carries (64 MiB); bench/gpu_check.sh prepares the
GPT-2-style, BERT-style and MobileNetV3-Small models.
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import models  # noqa: E402  (test/e2e/models.py)

DEFAULT_MODELS = ["gpt2_mini", "bert_mini", "resnet50"]
TOLERANCE = 1e-4


def batched(inputs, batch):
    """The builder's example inputs, repeated along dim 0 to `batch` rows."""
    import torch
    out = {}
    for name, t in inputs.items():
        reps = math.ceil(batch / t.shape[0])
        out[name] = torch.cat([t] * reps)[:batch].contiguous()
    return out


BIG_INPUT = 1 << 20  # bytes: larger inputs are drawn again on the GPU machine


def seeded_weights(model, stats=None, seed=models.SEED):
    """Draws every floating tensor of `model`'s state_dict from
    numpy.random.RandomState(seed), in key order, as normal(mean, std) of
    `stats` (key -> [mean, std, non-negative]); without `stats`, of the
    tensors' own values, and returns those statistics."""
    import torch
    rng = np.random.RandomState(seed)
    state = model.state_dict()
    seen = {}
    with torch.no_grad():
        for key in sorted(state):
            t = state[key]
            if not t.is_floating_point():
                continue
            if stats is None:
                v = t.double()
                seen[key] = [float(v.mean()),
                             float(v.std()) if v.numel() > 1 else 0.0,
                             bool((v >= 0).all())]
            mean, std, nonneg = (stats or seen)[key]
            draw = rng.standard_normal(tuple(t.shape)) * std + mean
            if nonneg:
                draw = np.abs(draw)
            t.copy_(torch.from_numpy(draw).to(t.dtype))
    return seen


def drawn_input(spec):
    """The input an entry's "drawn" spec describes (seed, shape, dtype)."""
    rng = np.random.RandomState(spec["seed"])
    return rng.standard_normal(spec["shape"]).astype(spec["dtype"])


def input_files(d, entry):
    """The entry's input files, writing the drawn ones when missing."""
    files = []
    for k in entry["inputs"]:
        f = os.path.join(d, f"{entry['tag']}.in.{k}.npy")
        spec = entry.get("drawn", {}).get(k)
        if spec and not os.path.exists(f):
            np.save(f, drawn_input(spec))
        files.append(f)
    return files


def rel_l2(got, want):
    got, want = got.astype(np.float64), want.astype(np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def prepare(args):
    import torch
    if int(torch.__version__.split(".")[0]) >= 2:
        sys.exit("error: prepare exports with Debian's torch 1.13: run it with "
                 "/usr/bin/python3")
    out = os.path.abspath(args.dir)
    os.makedirs(out, exist_ok=True)
    llmc = os.path.join(REPO, "build", "bin", "llmc")
    shutil.copy2(os.path.join(REPO, "build", "bin", "llmc-run"), out)
    plan, weights = [], {}
    for name in args.models.split(","):
        model, example, output_names = models.build_torch_model(name)
        weights[name] = seeded_weights(model)
        for batch in (int(b) for b in args.batches.split(",")):
            tag = f"{name}_b{batch}"
            inputs = batched(example, batch)
            drawn = {}
            for i, (k, v) in enumerate(inputs.items()):
                if v.is_floating_point() and v.numel() * 4 > BIG_INPUT:
                    drawn[k] = {"seed": models.SEED + batch + i,
                                "shape": list(v.shape), "dtype": "float32"}
                    inputs[k] = torch.from_numpy(drawn_input(drawn[k]))
            with torch.no_grad():
                ref = model(*inputs.values())
            ref = (ref,) if isinstance(ref, torch.Tensor) else ref
            with tempfile.TemporaryDirectory() as tmp:
                onnx_path = os.path.join(tmp, tag + ".onnx")
                # As test/e2e/models.py exports (autograd on: see there).
                with torch.enable_grad():
                    torch.onnx.export(model, tuple(inputs.values()), onnx_path,
                                      input_names=list(inputs),
                                      output_names=output_names,
                                      opset_version=models.OPSET,
                                      do_constant_folding=True,
                                      training=torch.onnx.TrainingMode.EVAL)
                art = os.path.join(out, tag + ".llmcx")
                subprocess.run([llmc, "compile", onnx_path, "--target",
                                f"cuda:{args.chip}", "-o", art], check=True)
            for k, v in inputs.items():
                if k not in drawn:
                    np.save(os.path.join(out, f"{tag}.in.{k}.npy"), v.numpy())
            for k, v in zip(output_names, ref):
                np.save(os.path.join(out, f"{tag}.ref.{k}.npy"), v.numpy())
            describe = subprocess.run([os.path.join(out, "llmc-run"), art,
                                       "--describe"], check=True,
                                      capture_output=True, text=True).stdout
            steps = re.search(r"^steps: .*$", describe, re.M).group(0)
            print(f"{tag}: {steps}")
            plan.append({"model": name, "batch": batch, "tag": tag,
                         "inputs": list(inputs), "outputs": output_names,
                         "drawn": drawn, "steps": steps})
    with open(os.path.join(out, "plan.json"), "w") as f:
        json.dump({"chip": args.chip, "entries": plan, "weights": weights}, f)
    print(f"wrote {out}: carry it to the GPU machine and run "
          f"`python3 bench/bench_gpu_e2e.py measure {args.dir}`")


def time_torch(fn, host_inputs, device, runs, warmup):
    """Median ms of host inputs -> fn -> host outputs."""
    import torch

    def once():
        args = [torch.from_numpy(a).to(device) for a in host_inputs]
        with torch.no_grad():
            out = fn(*args)
        out = (out,) if isinstance(out, torch.Tensor) else out
        return [o.cpu().numpy() for o in out]

    for _ in range(warmup):
        outs = once()
    ms = []
    for _ in range(runs):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        outs = once()  # .cpu() synchronises
        ms.append((time.perf_counter() - start) * 1e3)
    return statistics.median(ms), outs


def time_llmc(d, entry, files, runs, graph):
    """Median ms of `llmc-run --runs` (host to host), and the outputs."""
    outdir = os.path.join(d, entry["tag"] + (".graph" if graph else "") + ".out")
    cmd = [os.path.join(d, "llmc-run"), os.path.join(d, entry["tag"] + ".llmcx"),
           *files, "--runs", str(runs), "--output-dir", outdir]
    if graph:
        cmd.append("--cuda-graph")
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    median = float(re.search(r"median ([0-9.]+) ms", text).group(1))
    outs = [np.load(os.path.join(outdir, o + ".npy")) for o in entry["outputs"]]
    return median, outs


def measure(args):
    import torch
    d = os.path.abspath(args.dir)
    plan = json.load(open(os.path.join(d, "plan.json")))
    results, failures = [], []
    device_name = "cpu (dry run)"
    if args.dry_run:
        device = "cpu"
    elif not torch.cuda.is_available():
        sys.exit("error: no CUDA device (measure runs on the GPU machine; "
                 "--dry-run checks the harness on the CPU)")
    else:
        device = "cuda"
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        device_name = torch.cuda.get_device_name()
        print(f"device: {device_name}; torch {torch.__version__}; "
              f"artifacts for {plan['chip']}\n")
    print("| model | batch | llmc ms | llmc graph ms | eager ms | compile ms "
          "| vs eager | vs compile | llmc rel. err |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    built = {}
    for entry in plan["entries"]:
        tag, name = entry["tag"], entry["model"]
        files = input_files(d, entry)
        host = [np.load(f) for f in files]
        refs = [np.load(os.path.join(d, f"{tag}.ref.{k}.npy"))
                for k in entry["outputs"]]
        row = {"llmc": None, "graph": None, "eager": None, "compile": None}
        err = None
        if not args.dry_run:
            try:
                row["llmc"], outs = time_llmc(d, entry, files, args.runs, False)
                row["graph"], gouts = time_llmc(d, entry, files, args.runs, True)
                err = max(rel_l2(o, r) for o, r in zip(outs + gouts, refs + refs))
            except subprocess.CalledProcessError as e:
                failures.append(f"{tag}: llmc-run failed (exit {e.returncode}): "
                                f"{(e.stderr or '').strip()[-500:]}")
                row["llmc"] = row["graph"] = None
            if err is not None and err > TOLERANCE:
                failures.append(f"{tag}: llmc's output is off PyTorch's by "
                                f"{err:.2e} (relative L2; at most {TOLERANCE:g})")
                row["llmc"] = row["graph"] = None  # a wrong answer has no time
        try:
            if name not in built:
                model, _, _ = models.build_torch_model(name)
                seeded_weights(model, plan["weights"][name])
                built[name] = model.to(device).eval()
            model = built[name]
            row["eager"], outs = time_torch(model, host, device, args.runs, 5)
            terr = max(rel_l2(o, r) for o, r in zip(outs, refs))
            if terr > TOLERANCE:
                failures.append(f"{tag}: PyTorch here is off its prepare-time "
                                f"output by {terr:.2e}: not the artifact's weights")
                row["eager"] = None
            elif not args.no_compile:
                compiled = torch.compile(model)
                row["compile"], _ = time_torch(compiled, host, device, args.runs, 5)
        except ImportError as e:  # torchvision missing on the GPU machine
            print(f"note: {tag}: no PyTorch baseline: {e}")
        results.append({"model": name, "batch": entry["batch"],
                        "llmc_ms": row["llmc"], "llmc_graph_ms": row["graph"],
                        "eager_ms": row["eager"], "compile_ms": row["compile"],
                        "llmc_rel_l2": err})

        def cell(v):
            return "-" if v is None else f"{v:.3f}"

        def ratio(a, b):
            return "-" if a is None or b is None else f"{b / a:.2f}x"
        print(f"| {name} | {entry['batch']} | {cell(row['llmc'])} | "
              f"{cell(row['graph'])} | {cell(row['eager'])} | "
              f"{cell(row['compile'])} | {ratio(row['llmc'], row['eager'])} | "
              f"{ratio(row['llmc'], row['compile'])} | "
              f"{'-' if err is None else f'{err:.1e}'} |", flush=True)
    print("\nvs eager / vs compile: PyTorch's time over llmc's (above 1: llmc "
          "is faster).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name, "torch": torch.__version__,
                       "chip": plan["chip"], "runs": args.runs,
                       "rows": results, "failures": failures}, f, indent=1)
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
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--batches", default="1,32")
    m = sub.add_parser("measure")
    m.add_argument("dir")
    m.add_argument("--runs", type=int, default=50)
    m.add_argument("--dry-run", action="store_true",
                   help="the PyTorch side only, on the CPU")
    m.add_argument("--no-compile", action="store_true",
                   help="no torch.compile baseline (eager only)")
    m.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    args = ap.parse_args()
    prepare(args) if args.phase == "prepare" else measure(args)


if __name__ == "__main__":
    main()
