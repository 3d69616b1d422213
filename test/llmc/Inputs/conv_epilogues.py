"""Inputs and a float64 numpy reference for Inputs/conv_epilogues.onnxtxt.

    conv_epilogues.py make DIR [nan]   writes DIR/<input>.npy (nan: one
                                       pixel of x is NaN)
    conv_epilogues.py check DIR OUTDIR checks OUTDIR/<output>.npy

Six 3x3 convolutions (pads 1) of x with a bias: followed by a ReLU; by a
residual add of r and a ReLU; by a ReLU with a constant bias; by nothing;
by a ReLU whose input is also an output; by a sigmoid. Every output must be
FLOAT [2,4,6,6] and agree with the reference within rtol 1e-5, atol 1e-5
(fp32 accumulation, no TF32), with NaN exactly where the reference has
NaN: a NaN pixel poisons the outputs whose window holds it, through the
ReLU (ONNX's Relu(NaN) is NaN) and the sigmoid. Prints `<output> ok` for
each.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conv_relu import conv  # noqa: E402

INPUTS = ("x", "r", "w1", "w2", "w3", "w4", "w5", "w6", "b")
BC = np.array([0.25, -0.5, 0.125, -0.0625])


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(5)
        for n in INPUTS:
            shape = {"x": (2, 4, 6, 6), "r": (2, 4, 6, 6), "b": (4,)}.get(
                n, (4, 4, 3, 3))
            a = rng.randn(*shape).astype(np.float32)
            if n == "x" and sys.argv[3:] == ["nan"]:
                a[0, 1, 2, 3] = np.nan
            np.save(os.path.join(d, n + ".npy"), a)
        return
    i = {n: np.load(os.path.join(d, n + ".npy")).astype(np.float64)
         for n in INPUTS}

    def c(w, bias):
        return conv(i["x"], i[w], (1, 1, 1, 1)) + bias[None, :, None, None]

    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    want = {
        "y_relu": relu(c("w1", i["b"])),
        "y_residual": relu(i["r"] + c("w2", i["b"])),
        "y_const": relu(c("w3", BC)),
        "y_plain": c("w4", i["b"]),
        "y_shared": relu(c("w5", i["b"])),
        "y_shared_sum": c("w5", i["b"]),
        "y_sigmoid": 1 / (1 + np.exp(-c("w6", i["b"]))),
    }
    failed = False
    for name, ref in want.items():
        got = np.load(os.path.join(sys.argv[3], name + ".npy"))
        if got.dtype != np.float32 or got.shape != ref.shape:
            print(f"{name}: got {got.dtype} {got.shape}, want float32 {ref.shape}")
            failed = True
        elif not np.array_equal(np.isnan(got), np.isnan(ref)):
            print(f"{name}: NaN at {int(np.isnan(got).sum())} places, the "
                  f"reference at {int(np.isnan(ref).sum())}, or elsewhere")
            failed = True
        elif not np.allclose(got, ref, rtol=1e-5, atol=1e-5, equal_nan=True):
            print(f"{name}: max abs error {np.nanmax(np.abs(got - ref)):.3g} "
                  "beyond rtol 1e-5, atol 1e-5")
            failed = True
        else:
            print(f"{name} ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
