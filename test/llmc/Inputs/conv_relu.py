"""Inputs and a float64 numpy reference for Inputs/conv_relu.onnxtxt.

    conv_relu.py make DIR         writes DIR/x.npy, w.npy, b.npy, dw.npy, w3.npy
    conv_relu.py check DIR OUTDIR checks OUTDIR/y.npy

Three convolutions: dilated 3x3 with bias (pads 2), ReLU, depthwise 3x3
stride 2 (pads 1), ReLU, 2x2 stride 2 with padding only below and to the
right. The output must be FLOAT [2,5,2,2] and agree with the reference
within rtol 1e-5, atol 1e-5 (fp32 accumulation, no TF32). Prints `y ok`.
"""

import os
import sys

import numpy as np


def conv(x, w, pads, stride=1, dilation=1, group=1):
    """ONNX Conv (cross-correlation) in float64; pads = (top, left, bottom,
    right)."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    oh = (h - dilation * (r - 1) - 1) // stride + 1
    ow = (wd - dilation * (s - 1) - 1) // stride + 1
    y = np.zeros((n, k, oh, ow))
    kg = k // group
    for g in range(group):
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(r):
            for j in range(s):
                patch = xs[:, :, i * dilation:i * dilation + stride * (oh - 1) + 1:stride,
                           j * dilation:j * dilation + stride * (ow - 1) + 1:stride]
                y[:, g * kg:(g + 1) * kg] += np.einsum(
                    "nchw,kc->nkhw", patch, w[g * kg:(g + 1) * kg, :, i, j])
    return y


def main():
    mode, d = sys.argv[1], sys.argv[2]
    names = ("x", "w", "b", "dw", "w3")
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(11)
        shapes = {"x": (2, 3, 8, 8), "w": (4, 3, 3, 3), "b": (4,),
                  "dw": (4, 1, 3, 3), "w3": (5, 4, 2, 2)}
        for n in names:
            np.save(os.path.join(d, n + ".npy"),
                    rng.randn(*shapes[n]).astype(np.float32))
        return
    x, w, b, dw, w3 = (np.load(os.path.join(d, n + ".npy")).astype(np.float64)
                       for n in names)
    r = np.maximum(conv(x, w, (2, 2, 2, 2), dilation=2) + b[None, :, None, None], 0)
    s = np.maximum(conv(r, dw, (1, 1, 1, 1), stride=2, group=4), 0)
    want = conv(s, w3, (0, 0, 1, 1), stride=2)
    got = np.load(os.path.join(sys.argv[3], "y.npy"))
    if got.dtype != np.float32 or got.shape != want.shape:
        sys.exit(f"y: got {got.dtype} {got.shape}, want float32 {want.shape}")
    err = np.abs(got - want).max()
    if not np.allclose(got, want, rtol=1e-5, atol=1e-5):
        sys.exit(f"y: max abs error {err:.3g} beyond rtol 1e-5, atol 1e-5")
    print("y ok")


if __name__ == "__main__":
    main()
