"""Inputs and a float64 numpy reference for Inputs/contract_f16.onnxtxt.

    contract_f16.py make DIR ones|random   writes DIR/<input>.npy
    contract_f16.py check DIR OUTDIR       checks OUTDIR/<output>.npy

f16 MatMul, Conv (with a bias), ConvTranspose (with a bias) and Einsum,
each reducing over 4096 terms. They must accumulate in f32 and round once:
with all-ones inputs every output is exactly 4096 (plus the bias), which
f16 accumulation cannot reach (it stops at 2048, where adding 1 no longer
changes an f16). Outputs must be float16 and agree with the float64
reference within rtol 1e-3 (f16 rounding of the result). Prints
`<output> ok` for each.
"""

import os
import sys

import numpy as np

SHAPES = {"x": (2, 4096), "w": (4096, 3), "cx": (1, 4096, 2, 2),
          "cw": (2, 4096, 1, 1), "cb": (2,), "tw": (4096, 2, 1, 1)}


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "make":
        os.makedirs(d, exist_ok=True)
        rng = np.random.RandomState(7)
        for n, shape in SHAPES.items():
            v = np.ones(shape) if sys.argv[3] == "ones" else rng.rand(*shape)
            np.save(os.path.join(d, n + ".npy"), v.astype(np.float16))
        return
    i = {n: np.load(os.path.join(d, n + ".npy")).astype(np.float64) for n in SHAPES}
    conv = np.einsum("nchw,kc->nkhw", i["cx"], i["cw"][:, :, 0, 0])
    convt = np.einsum("nchw,ck->nkhw", i["cx"], i["tw"][:, :, 0, 0])
    bias = i["cb"][None, :, None, None]
    want = {"mm": i["x"] @ i["w"], "conv": conv + bias, "convt": convt + bias,
            "es": i["x"] @ i["w"]}
    failed = False
    for name, ref in want.items():
        got = np.load(os.path.join(sys.argv[3], name + ".npy"))
        ok = (got.dtype == np.float16 and got.shape == ref.shape and
              np.allclose(got.astype(np.float64), ref, rtol=1e-3, atol=0))
        print(f"{name} ok" if ok else f"{name}: got {got.dtype} {got.ravel()[:4]}, want {ref.ravel()[:4]}")
        failed |= not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
