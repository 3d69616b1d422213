"""Inputs and a float64 numpy reference for Inputs/matmul_softmax.onnxtxt.

    matmul_softmax.py make DIR         writes DIR/x.npy, w.npy, b.npy
    matmul_softmax.py check DIR OUTDIR checks OUTDIR/y.npy

y = Softmax(x @ w + b) over the last axis, x [2,16,32], w [32,64], b [64].
The output must be FLOAT [2,16,64] and agree with the reference within
rtol 1e-5, atol 1e-6 (fp32 GEMM and exp, no TF32). Prints `y ok`.
"""

import os
import sys

import numpy as np


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(7)
        np.save(os.path.join(d, "x.npy"), rng.randn(2, 16, 32).astype(np.float32))
        np.save(os.path.join(d, "w.npy"), rng.randn(32, 64).astype(np.float32) * 0.3)
        np.save(os.path.join(d, "b.npy"), rng.randn(64).astype(np.float32))
        return
    x, w, b = (np.load(os.path.join(d, n + ".npy")).astype(np.float64)
               for n in ("x", "w", "b"))
    a = x @ w + b
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    want = e / e.sum(axis=-1, keepdims=True)
    got = np.load(os.path.join(sys.argv[3], "y.npy"))
    if got.dtype != np.float32 or got.shape != want.shape:
        sys.exit(f"y: got {got.dtype} {got.shape}, want float32 {want.shape}")
    err = np.abs(got - want).max()
    if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
        sys.exit(f"y: max abs error {err:.3g} beyond rtol 1e-5, atol 1e-6")
    print("y ok")


if __name__ == "__main__":
    main()
