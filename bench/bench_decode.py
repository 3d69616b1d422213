#!/usr/bin/env python3
"""Decode benchmark: greedy generation with a static KV cache, llmc against
ONNX Runtime and PyTorch eager, side by side in one run (CPU).

    .venv/bin/python bench/bench_decode.py [--config bench] [--batches 1,8]
        [--prompt 32] [--tokens 32] [--rounds 3] [--threads N]
        [--systems llmc,llmc-copy,ort,torch]

The model is test/e2e/models.py's static-cache Llama-style decoder
(DECODER_CONFIGS[--config]; "bench": 8 layers, d 512, 8 query / 4 KV heads,
SwiGLU 1536, vocab 8000, 33M parameters, caches of 256 positions), exported
by Debian's torch 1.13 twice per batch size: T = --prompt (the prefill) and
T = 1 (one decode step). The same two ONNX files go to llmc and ONNX
Runtime; PyTorch runs the module with the same weights. `llmc-copy` is
llmc without --donate: each decode step copies every cache into its output
(what donation saves).

One generation: the caches start at zero, the prefill runs the prompt at
positions 0..P-1, then --tokens decode steps each feed the argmax token at
the next position. Timed separately:
  prefill   one call on the prompt: ms, and prompt tokens/s (batch x P / s);
  decode    the --tokens steps: tokens/s (batch x steps / s) and ms/token.
Each system is set up first (llmc compiles both files once, the decode
artifact with every cache donated, so each step updates the caches in place;
ORT creates its sessions, CPUExecutionProvider, intra-op threads = --threads;
torch: torch.set_num_threads(--threads), inference mode). --rounds rounds
then run the systems one after another in a rotating order; a figure is the
median over rounds. Ratios are against ONNX Runtime (> 1: faster than ORT).

Correctness: the generated tokens of every system must equal PyTorch's, and
llmc's prefill logits agree with PyTorch's within relative L2 1e-4.

Memory-bandwidth utilisation (MBU) of decode: bytes one step must read (every
weight once, fp32, plus the KV caches of every layer, read whole: the static
cache is attended over all its positions under the mask) per step time,
over the machine's memory bandwidth measured in the same run (a 512 MB copy
by torch: read + write bytes / time). The compiler's own estimate of a step
(`llmc explain` on the decode file: bytes its kernels move, the scatter's
cache copy included, which donation removes) is printed beside it.
"""

import argparse
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

import numpy as np  # noqa: E402

import models  # noqa: E402


def rel_l2(a, e):
    a = np.asarray(a, np.float64).ravel()
    e = np.asarray(e, np.float64).ravel()
    return float(np.linalg.norm(a - e) / np.linalg.norm(e))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_bandwidth(torch):
    """Read + write bytes per second of a 512 MB copy (best of 5)."""
    a = torch.ones(128 * 1024 * 1024)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - t)
    return 2 * a.numel() * 4 / best


class Caches:
    """Zeroed caches of `config` for `batch` sequences, as numpy arrays."""

    def __init__(self, config, batch):
        c = models.DECODER_CONFIGS[config]
        hd = c["d"] // c["heads"]
        self.arrays = [np.zeros((batch, c["kv_heads"], c["max_seq"], hd), np.float32)
                       for _ in range(2 * c["layers"])]


def generate(step_fn, prefill_fn, prompt, tokens, fresh_caches):
    """Greedy generation: (prefill seconds, decode seconds, tokens [B, n],
    prefill logits)."""
    caches = fresh_caches()
    P = prompt.shape[1]
    t = time.perf_counter()
    logits, caches = prefill_fn(prompt, np.arange(P, dtype=np.int64), caches)
    prefill_s = time.perf_counter() - t
    first_logits = np.array(logits)
    nxt = np.asarray(logits)[:, -1].argmax(-1)
    out = [nxt]
    t = time.perf_counter()
    for i in range(tokens):
        logits, caches = step_fn(nxt[:, None].astype(np.int64),
                                 np.array([P + i], np.int64), caches)
        nxt = np.asarray(logits)[:, -1].argmax(-1)
        out.append(nxt)
    decode_s = time.perf_counter() - t
    return prefill_s, decode_s, np.stack(out, 1), first_logits


def setup_llmc(llmc, prefill_path, step_path, cache_names, batch, donate=True):
    t = time.perf_counter()
    prefill = llmc.compile(prefill_path, name=f"prefill_b{batch}")
    step = llmc.compile(step_path, name=f"decode_b{batch}",
                        donate=cache_names if donate else None)
    compile_s = time.perf_counter() - t
    assert len(step.donated) == (len(cache_names) if donate else 0), step.donated

    def run(exe):
        def f(ids, pos, caches):
            out = exe(ids, pos, *caches)
            return out[0], list(out[1:])
        return f
    return run(prefill), run(step), compile_s, step


def setup_ort(ort, prefill_path, step_path, inputs, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sessions = [ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"])
                for p in (prefill_path, step_path)]

    def run(sess):
        def f(ids, pos, caches):
            out = sess.run(None, dict(zip(inputs, [ids, pos] + caches)))
            return out[0], out[1:]
        return f
    return run(sessions[0]), run(sessions[1])


def setup_torch(torch, module):
    def f(ids, pos, caches):
        with torch.inference_mode():
            out = module(torch.from_numpy(ids), torch.from_numpy(pos),
                         *[torch.from_numpy(c) if isinstance(c, np.ndarray) else c
                           for c in caches])
        return out[0].numpy(), list(out[1:])
    return f, f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="bench")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--systems", default="llmc,llmc-copy,ort,torch")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("LLMC_NUM_THREADS", str(args.threads))
    import llmc
    systems = args.systems.split(",")
    ort = None
    if "ort" in systems:
        import onnxruntime as ort

    c = models.DECODER_CONFIGS[args.config]
    if args.prompt + args.tokens + 1 > c["max_seq"]:
        sys.exit(f"--prompt + --tokens must stay below the cache's {c['max_seq']} positions")
    inputs, _ = models.decoder_io_names(args.config)
    cache_names = inputs[2:]
    hd = c["d"] // c["heads"]
    bandwidth = memory_bandwidth(torch)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, threads {args.threads}, "
          f"copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    print(f"torch {torch.__version__}" + (f", onnxruntime {ort.__version__}" if ort else ""))
    print(f"model: {args.config} decoder {c}, prompt {args.prompt}, "
          f"{args.tokens} decoded tokens, rounds {args.rounds}")

    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        prefill_path, weights = models.decoder_file(args.config, args.prompt, batch)
        step_path, _ = models.decoder_file(args.config, 1, batch)
        module = models.decoder_module(args.config, weights)
        params = sum(p.numel() for p in module.parameters())
        step_bytes = params * 4 + 2 * c["layers"] * batch * c["kv_heads"] * c["max_seq"] * hd * 4
        fns = {}
        notes = {}
        if "llmc" in systems:
            pre, step, compile_s, exe = setup_llmc(llmc, prefill_path, step_path,
                                                   cache_names, batch)
            fns["llmc"] = (pre, step)
            explain = llmc.compile(step_path).report()
            notes["llmc"] = (f"compile {compile_s:.1f} s (both files); explain: "
                             f"{explain.bytes / 1e6:.1f} MB per step")
        if "llmc-copy" in systems:
            pre, step, _, _ = setup_llmc(llmc, prefill_path, step_path, cache_names,
                                         batch, donate=False)
            fns["llmc-copy"] = (pre, step)
        if "ort" in systems:
            fns["ort"] = setup_ort(ort, prefill_path, step_path, inputs, args.threads)
        if "torch" in systems:
            fns["torch"] = setup_torch(torch, module)
        prompt = np.random.default_rng(11).integers(0, c["vocab"], (batch, args.prompt))
        fresh = lambda: Caches(args.config, batch).arrays  # noqa: E731

        # Warm-up and correctness: one generation each.
        results = {}
        for name, (pre, step) in fns.items():
            results[name] = generate(step, pre, prompt, min(args.tokens, 4), fresh)
        if "torch" in results:
            ref_tokens, ref_logits = results["torch"][2], results["torch"][3]
            for name, r in results.items():
                same = np.array_equal(r[2], ref_tokens)
                err = rel_l2(r[3], ref_logits)
                print(f"batch {batch} {name}: tokens {'equal to' if same else 'DIFFER from'} "
                      f"PyTorch's, prefill logits rel L2 {err:.1e}")
                if not same or err > 1e-4:
                    sys.exit(f"{name} disagrees with PyTorch")

        times = {name: ([], []) for name in fns}
        order = list(fns)
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                pre, step = fns[name]
                p_s, d_s, _, _ = generate(step, pre, prompt, args.tokens, fresh)
                times[name][0].append(p_s)
                times[name][1].append(d_s)
        med = {n: (statistics.median(p), statistics.median(d)) for n, (p, d) in times.items()}
        for name in fns:
            p_s, d_s = med[name]
            row = {
                "batch": batch, "system": name,
                "prefill_ms": p_s * 1e3, "prefill_tps": batch * args.prompt / p_s,
                "decode_tps": batch * args.tokens / d_s,
                "ms_per_step": d_s * 1e3 / args.tokens,
                "mbu": step_bytes / (d_s / args.tokens) / bandwidth,
            }
            if "ort" in med:
                row["prefill_vs_ort"] = med["ort"][0] / p_s
                row["decode_vs_ort"] = med["ort"][1] / d_s
            rows.append(row)
        for name, note in notes.items():
            print(f"batch {batch} {name}: {note}")
        print(f"batch {batch}: a decode step reads {step_bytes / 1e6:.1f} MB "
              f"(weights {params * 4 / 1e6:.1f} MB + KV caches)")

    print()
    print("| batch | system | prefill ms | prefill tok/s | decode tok/s | ms/step | "
          "prefill vs ORT | decode vs ORT | decode MBU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        vs = lambda k: f"{r[k]:.2f}x" if k in r else "-"  # noqa: E731
        print(f"| {r['batch']} | {r['system']} | {r['prefill_ms']:.1f} | "
              f"{r['prefill_tps']:.0f} | {r['decode_tps']:.1f} | {r['ms_per_step']:.2f} | "
              f"{vs('prefill_vs_ort')} | {vs('decode_vs_ort')} | {100 * r['mbu']:.0f}% |")
    print("\nA GPU run (tokens/s against PyTorch eager and torch.compile, MBU on "
          "HBM) needs a CUDA device and donated caches on it: not measured here.")


if __name__ == "__main__":
    main()
