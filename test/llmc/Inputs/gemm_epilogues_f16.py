"""Inputs and a float64 numpy reference for Inputs/gemm_epilogues_f16.onnxtxt.

    gemm_epilogues_f16.py make DIR         writes DIR/<input>.npy (float16)
    gemm_epilogues_f16.py check DIR OUTDIR checks OUTDIR/<output>.npy

Four f16 matmuls with a bias: alone, then a ReLU, the tanh GELU, the erf
GELU. Outputs must be float16 and agree with the float64 reference within
rtol 1e-2, atol 1e-2: f16 rounding of the operands' products and of every
step after the matmul (the CPU computes the bias and activation in f16; a
cuBLASLt epilogue computes them in f32 and rounds once). Prints
`<output> ok` for each.
"""

import math
import os
import sys

import numpy as np

NAMES = ("x", "w1", "w2", "w3", "w4", "b")


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(17)
        shapes = {"x": (2, 16, 32), "b": (48,)}
        for n in NAMES:
            v = rng.randn(*shapes.get(n, (32, 48))) * (0.25 if n[0] == "w" else 1)
            np.save(os.path.join(d, n + ".npy"), v.astype(np.float16))
        return
    i = {n: np.load(os.path.join(d, n + ".npy")).astype(np.float64) for n in NAMES}
    a = {k: i["x"] @ i[w] + i["b"] for k, w in (("bias", "w1"), ("relu", "w2"),
                                                ("gelu", "w3"), ("erf", "w4"))}
    erf = np.vectorize(math.erf)
    want = {
        "y_bias": a["bias"],
        "y_relu": np.maximum(a["relu"], 0),
        "y_gelu": 0.5 * a["gelu"] * (1 + np.tanh(0.7978845608 * (a["gelu"] + 0.044715 * a["gelu"] ** 3))),
        "y_erf": 0.5 * a["erf"] * (1 + erf(a["erf"] / math.sqrt(2))),
    }
    failed = False
    for name, ref in want.items():
        got = np.load(os.path.join(sys.argv[3], name + ".npy"))
        ok = (got.dtype == np.float16 and got.shape == ref.shape and
              np.allclose(got.astype(np.float64), ref, rtol=1e-2, atol=1e-2))
        if ok:
            print(f"{name} ok")
        else:
            err = np.abs(got.astype(np.float64) - ref).max() if got.shape == ref.shape else None
            print(f"{name}: got {got.dtype} {got.shape}, max abs error {err}")
        failed |= not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
