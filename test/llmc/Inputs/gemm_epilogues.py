"""Inputs and a float64 numpy reference for Inputs/gemm_epilogues.onnxtxt.

    gemm_epilogues.py make DIR         writes DIR/x.npy, w1..w6.npy, b.npy
    gemm_epilogues.py check DIR OUTDIR checks OUTDIR/y_*.npy

Six matmuls of x (2 x 16 x 32) by 32 x 48 weights, each plus the bias b:
alone, then ReLU, tanh-approximated GELU (the form cuBLASLt's epilogue
computes), erf GELU, ReLU with the sum also read elsewhere, and the tanh
form with a wrong constant (0.0447). Every output must be FLOAT
[2,16,48] and agree with the reference within rtol 1e-5, atol 1e-5
(fp32 accumulation over 32 products, no TF32), and the tanh GELUs within
atol 1e-4 (cuBLASLt's GELU epilogue may use a faster tanh). Prints
`NAME ok` for each.
"""

import math
import os
import sys

import numpy as np

WEIGHTS = ("w1", "w2", "w3", "w4", "w5", "w6")


def tanh_gelu(a, k=0.044715):
    return 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + k * a ** 3)))


def main():
    mode, d = sys.argv[1], sys.argv[2]
    names = ("x",) + WEIGHTS + ("b",)
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(5)
        shapes = {"x": (2, 16, 32), "b": (48,)}
        for n in names:
            np.save(os.path.join(d, n + ".npy"),
                    (rng.randn(*shapes.get(n, (32, 48))) * 0.3).astype(np.float32))
        return
    v = {n: np.load(os.path.join(d, n + ".npy")).astype(np.float64) for n in names}
    x, b = v["x"], v["b"]
    a = [x @ v[w] + b for w in WEIGHTS]
    erf = np.vectorize(math.erf)
    want = {
        "y_bias": (a[0], 1e-5),
        "y_relu": (np.maximum(a[1], 0), 1e-5),
        "y_gelu": (tanh_gelu(a[2]), 1e-4),
        "y_erf": (0.5 * a[3] * (1 + erf(a[3] * 0.70710678)), 1e-5),
        "y_shared": (np.maximum(a[4], 0), 1e-5),
        "y_shared_sum": (a[4] + (x @ v["w5"]), 1e-5),
        "y_bad_gelu": (tanh_gelu(a[5], 0.0447), 1e-4),
    }
    failed = False
    for name, (ref, atol) in want.items():
        got = np.load(os.path.join(sys.argv[3], name + ".npy"))
        if got.dtype != np.float32 or got.shape != ref.shape:
            print(f"{name}: got {got.dtype} {got.shape}, want float32 {ref.shape}")
            failed = True
            continue
        if not np.allclose(got, ref, rtol=1e-5, atol=atol):
            err = np.abs(got - ref).max()
            print(f"{name}: max abs error {err:.3g} beyond rtol 1e-5, atol {atol}")
            failed = True
            continue
        print(f"{name} ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
