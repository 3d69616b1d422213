"""Inputs and a reference for Inputs/topk_order.onnxtxt.

    topk_order.py make DIR         writes DIR/x.npy
    topk_order.py check DIR OUTDIR checks OUTDIR/<output>.npy

x has ties and NaNs. The order llmc documents: values best first (NaN
above every number, as in PyTorch: first among the largest, last among the
smallest), then lower indices first. The reference sorts each row by that
key in Python; values must match exactly (NaN where NaN), indices exactly.
Prints `<output> ok` for each.
"""

import math
import os
import sys

import numpy as np

ROWS = [
    [3.0, 1.0, 3.0, -2.0, 1.0, 3.0, 0.5],
    [float("nan"), 2.0, -1.0, float("nan"), 2.0, 7.0, -1.0],
    [-0.0, 0.0, 4.0, 4.0, -5.0, float("nan"), 0.25],
]


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), np.array(ROWS, dtype=np.float32))
        return
    x = np.load(os.path.join(d, "x.npy")).astype(np.float64)

    def order(row, largest):
        def key(i):
            v = row[i]
            if math.isnan(v):
                return (0 if largest else 1, 0.0, i)
            return (1 if largest else 0, -v if largest else v, i)
        return sorted(range(len(row)), key=key)[:4]

    want = {}
    for name, largest in (("top", True), ("bottom", False)):
        idx = np.array([order(r, largest) for r in x], dtype=np.int64)
        want[name] = np.take_along_axis(x, idx, 1).astype(np.float32)
        want[name + "_i"] = idx
    failed = False
    for name, ref in want.items():
        got = np.load(os.path.join(sys.argv[3], name + ".npy"))
        same = (got.dtype == ref.dtype and got.shape == ref.shape and
                np.array_equal(got, ref, equal_nan=ref.dtype.kind == "f"))
        print(f"{name} ok" if same else f"{name}: got {got.tolist()}, want {ref.tolist()}")
        failed |= not same
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
