"""Checks the outputs `llmc run` wrote against a float64 numpy reference.

    check_outputs.py MODEL DIR OUTDIR

MODEL is good or two_inputs (see make_bad_models.py, which wrote their
inputs into DIR); OUTDIR holds the .npy files llmc wrote. The outputs must
be FLOAT of the reference's shape and agree within rtol 1e-6, atol 1e-6.
Prints one line per output: NAME SHAPE DTYPE ok.
"""

import os
import sys

import numpy as np


def reference(model, d):
    if model == "good":
        x = np.load(os.path.join(d, "x.npy")).astype(np.float64)
        b = np.array([0.5, -1.0, 2.0])
        w = np.array([[1, 2, 3], [-1, -2, -3]], np.float64)
        return {"y": np.maximum(x + b, 0.0) * w}
    if model == "two_inputs":
        a = np.load(os.path.join(d, "x.npy")).astype(np.float64)
        b = np.load(os.path.join(d, "b.npy")).astype(np.float64)
        return {"z": a - b * 2.0}
    sys.exit("unknown model " + model)


def main():
    model, d, out = sys.argv[1:4]
    for name, want in reference(model, d).items():
        got = np.load(os.path.join(out, name + ".npy"))
        if got.dtype != np.float32 or got.shape != want.shape:
            sys.exit(f"{name}: got {got.dtype} {got.shape}, want float32 "
                     f"{want.shape}")
        if not np.allclose(got.astype(np.float64), want, rtol=1e-6, atol=1e-6):
            sys.exit(f"{name}: got {got.tolist()}, want {want.tolist()}")
        print(name, list(got.shape), got.dtype, "ok")


if __name__ == "__main__":
    main()
