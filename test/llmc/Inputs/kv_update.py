"""Inputs and a float64 numpy reference for Inputs/kv_update.onnxtxt.

    kv_update.py make DIR          writes DIR/cache.npy, idx.npy, k.npy, w.npy
    kv_update.py check DIR OUTDIR  checks OUTDIR/y.npy and OUTDIR/present.npy

present = cache with row idx (per batch) replaced by k (ScatterElements on
axis 1, a KV cache's update), y = present @ w. present must equal the
reference exactly, y within rtol 1e-5, atol 1e-6. Prints `kv ok`.
"""

import os
import sys

import numpy as np


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(3)
        np.save(os.path.join(d, "cache.npy"), rng.randn(2, 8, 4).astype(np.float32))
        np.save(os.path.join(d, "idx.npy"), np.array([[[5] * 4], [[2] * 4]], np.int64))
        np.save(os.path.join(d, "k.npy"), rng.randn(2, 1, 4).astype(np.float32))
        np.save(os.path.join(d, "w.npy"), rng.randn(4, 3).astype(np.float32))
        return
    cache, idx, k, w = (np.load(os.path.join(d, n + ".npy"))
                        for n in ("cache", "idx", "k", "w"))
    present = cache.copy()
    for b in range(2):
        present[b, idx[b, 0, 0]] = k[b, 0]
    y = present.astype(np.float64) @ w.astype(np.float64)
    out = sys.argv[3]
    got_present = np.load(os.path.join(out, "present.npy"))
    got_y = np.load(os.path.join(out, "y.npy"))
    if not np.array_equal(got_present, present):
        sys.exit("present differs from the reference")
    if got_y.shape != y.shape or not np.allclose(got_y, y, rtol=1e-5, atol=1e-6):
        sys.exit("y beyond rtol 1e-5, atol 1e-6")
    # The inputs on disk are never written, donated or not.
    if not np.array_equal(np.load(os.path.join(d, "cache.npy")),
                          np.random.RandomState(3).randn(2, 8, 4).astype(np.float32)):
        sys.exit("the input file changed")
    print("kv ok")


if __name__ == "__main__":
    main()
