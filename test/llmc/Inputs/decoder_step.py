"""A Llama-style decode step with a static KV cache (test/e2e/models.py's
"test" decoder: 2 layers, GQA 4/2, RMSNorm, RoPE, SwiGLU, 64 cache
positions, T = 1), its inputs and PyTorch's outputs, for runs that keep the
caches on the device (llmc-run --donated-on-device).

    decoder_step.py make DIR           DIR/decoder.onnx, inputs, expected
    decoder_step.py check DIR OUTDIR   OUTDIR's outputs against expected

The caches hold 9 positions already (random, as a prompt would leave
them); the step writes position 9. Repeating the step with the same inputs
rewrites the same slot with the same keys, so any number of in-place runs
must give the one step's outputs. Logits and caches within relative L2
1e-4 of PyTorch's (fp32). Prints `decoder ok`.
"""

import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ["logits", "present_key_0", "present_value_0", "present_key_1",
         "present_value_1"]


def make(d):
    sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))
    import models
    import torch
    os.makedirs(d, exist_ok=True)
    onnx_path, weights = models.decoder_file("test", 1)
    shutil.copy(onnx_path, os.path.join(d, "decoder.onnx"))
    c = models.DECODER_CONFIGS["test"]
    hd = c["d"] // c["heads"]
    rng = np.random.default_rng(9)
    caches = []
    for _ in range(2 * c["layers"]):
        a = np.zeros((c["batch"], c["kv_heads"], c["max_seq"], hd), np.float32)
        a[:, :, :9] = rng.standard_normal((c["batch"], c["kv_heads"], 9, hd))
        caches.append(a)
    ids = rng.integers(0, c["vocab"], (c["batch"], 1)).astype(np.int64)
    pos = np.array([9], np.int64)
    names = ["input_ids", "input_pos", "past_key_0", "past_value_0",
             "past_key_1", "past_value_1"]
    for n, a in zip(names, [ids, pos] + caches):
        np.save(os.path.join(d, n + ".npy"), a)
    with torch.no_grad():
        out = models.decoder_module("test", weights)(
            torch.from_numpy(ids), torch.from_numpy(pos),
            *[torch.from_numpy(a.copy()) for a in caches])
    os.makedirs(os.path.join(d, "expected"), exist_ok=True)
    for n, t in zip(NAMES, out):
        np.save(os.path.join(d, "expected", n + ".npy"), t.numpy())


def check(d, out):
    for n in NAMES:
        e = np.load(os.path.join(d, "expected", n + ".npy")).astype(np.float64)
        a = np.load(os.path.join(out, n + ".npy")).astype(np.float64)
        err = np.linalg.norm(a - e) / np.linalg.norm(e)
        if a.shape != e.shape or not err < 1e-4:
            sys.exit(f"{n}: relative L2 {err:.3g} (shape {a.shape})")
    print("decoder ok")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
