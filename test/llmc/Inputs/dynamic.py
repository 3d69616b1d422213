"""Inputs and float64 numpy references for test/llmc/dynamic.test.

  dynamic.py make DIR NAME=B,S ...    x (and g) of each size into DIR/NAME/
  dynamic.py check DIR OUT NAME       OUT's outputs against numpy
"""
import os
import sys

import numpy as np

W = np.array([0.5, -0.25, 0.125, 1.0, -1.0, 0.75, 0.5, -0.5, 0.25, 0.25,
              -0.75, 1.5, 1.0, -1.25, 0.5, 0.25]).reshape(4, 4)
B = np.array([0.1, -0.2, 0.3, -0.4])


def make(root, specs):
    for spec in specs:
        name, sizes = spec.split("=")
        b, s = map(int, sizes.split(","))
        rng = np.random.default_rng(b * 100 + s)
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), rng.standard_normal((b, s, 4)).astype(np.float32))
        np.save(os.path.join(d, "g.npy"), rng.standard_normal((b, 4)).astype(np.float32))


def check(root, out, name):
    x = np.load(os.path.join(root, name, "x.npy")).astype(np.float64)
    g = np.load(os.path.join(root, name, "g.npy")).astype(np.float64)
    a = x @ W + B
    e = np.exp(a - a.max(axis=1, keepdims=True))
    expected = {"y": np.maximum(a, 0), "s": e / e.sum(axis=1, keepdims=True),
                "z": g * B}
    for k, want in expected.items():
        got = np.load(os.path.join(out, k + ".npy"))
        if got.shape != want.shape:
            print(f"{name} {k}: shape {got.shape}, expected {want.shape}")
            return
        err = np.abs(got - want).max()
        if err > 1e-5:
            print(f"{name} {k}: max error {err}")
            return
    print(f"{name} ok {tuple(x.shape)}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3:])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
