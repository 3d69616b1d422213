"""Attention models that exercise every path of the fused attention kernels.

    attention_cases.py make DIR      # DIR/NAME.onnxtxt and DIR/NAME/*.npy
    attention_cases.py check DIR NAME OUTDIR

Each case is scaled dot-product attention as an exporter writes it
(MatMul, Transpose, a scaling, masks, Softmax, MatMul), which
llmc-lift-attention makes one graph.attention: on the CPU the runtime's
tiled kernel, on CUDA the flash-attention kernel (codegen/
FlashAttention.cpp), whose two block shapes and edge cases these cover:

  prefill   GQA (8 query heads on 2 KV heads, by Unsqueeze/Expand/
            Reshape), 40 rows and keys (a partial key tile), D = E = 64, a
            causal mask by Where with a fill of -3e38: 8 rows per block
  decode    one query row (L = 1), GQA as above, 77 keys, an additive
            padding mask input [B, 1, 1, S] with -inf (batch 1 masks every
            key: its rows are NaN, as the written-out softmax gives): the
            warps split the keys and combine
  odd       no mask, D = 7 (odd), E = 20 (a partial column tile), 9 rows
            (a partial block), 33 keys, scaling by Div
  rank3     nn.MultiheadAttention's batched matmuls, rank 3: [6, 5, 16]
            queries, 70 keys, E = 48: the decode shape with 5 rows

check compares OUTDIR/y.npy with numpy in float64 (rtol 1e-4, atol 1e-5;
NaN where the reference is NaN) and prints `NAME y SHAPE ok`.
"""

import os
import sys

import numpy as np

CASES = ("prefill", "decode", "odd", "rank3")


def ints(values):
    return ",".join(str(int(v)) for v in values)


def gqa(kv, heads, length, dim, batch, shape_name):
    """Unsqueeze, Expand, Reshape: KV heads repeated for the query heads."""
    return (
        f"  {kv}5 = Unsqueeze ({kv}, ax2)\n"
        f"  {kv}e = Expand ({kv}5, e_{kv})\n"
        f"  {kv}r = Reshape ({kv}e, {shape_name})\n")


def model(name):
    if name == "prefill":
        B, H, KVH, L, S, D = 2, 8, 2, 40, 40, 64
        causal = np.tril(np.ones((L, S), bool))
        return f"""<ir_version: 8, opset_import: ["" : 17]>
agraph (float[{B},{H},{L},{D}] q, float[{B},{KVH},{S},{D}] k, float[{B},{KVH},{S},{D}] v) => (float[{B},{H},{L},{D}] y)
<float[1] s = {{0.125}}, int64[5] e_k = {{{B},{KVH},{H // KVH},{S},{D}}}, int64[5] e_v = {{{B},{KVH},{H // KVH},{S},{D}}}, int64[1] ax2 = {{2}}, int64[4] shp = {{{B},{H},{S},{D}}}, bool[{L},{S}] causal = {{{ints(causal.ravel())}}}, float[1] fill = {{-3e38}}>
{{
{gqa("k", H, S, D, B, "shp")}{gqa("v", H, S, D, B, "shp")}  kt = Transpose <perm = [0,1,3,2]> (kr)
  sc = MatMul (q, kt)
  ss = Mul (sc, s)
  sm = Where (causal, ss, fill)
  p = Softmax <axis = -1> (sm)
  y = MatMul (p, vr)
}}
"""
    if name == "decode":
        B, H, KVH, L, S, D = 2, 8, 2, 1, 77, 64
        return f"""<ir_version: 8, opset_import: ["" : 17]>
agraph (float[{B},{H},{L},{D}] q, float[{B},{KVH},{S},{D}] k, float[{B},{KVH},{S},{D}] v, float[{B},1,1,{S}] mask) => (float[{B},{H},{L},{D}] y)
<float[1] s = {{0.125}}, int64[5] e_k = {{{B},{KVH},{H // KVH},{S},{D}}}, int64[5] e_v = {{{B},{KVH},{H // KVH},{S},{D}}}, int64[1] ax2 = {{2}}, int64[4] shp = {{{B},{H},{S},{D}}}>
{{
{gqa("k", H, S, D, B, "shp")}{gqa("v", H, S, D, B, "shp")}  kt = Transpose <perm = [0,1,3,2]> (kr)
  sc = MatMul (q, kt)
  ss = Mul (sc, s)
  sm = Add (ss, mask)
  p = Softmax <axis = -1> (sm)
  y = MatMul (p, vr)
}}
"""
    if name == "odd":
        B, H, L, S, D, E = 1, 3, 9, 33, 7, 20
        return f"""<ir_version: 8, opset_import: ["" : 17]>
agraph (float[{B},{H},{L},{D}] q, float[{B},{H},{S},{D}] k, float[{B},{H},{S},{E}] v) => (float[{B},{H},{L},{E}] y)
<float[1] r = {{2.6457513}}>
{{
  kt = Transpose <perm = [0,1,3,2]> (k)
  sc = MatMul (q, kt)
  ss = Div (sc, r)
  p = Softmax <axis = -1> (ss)
  y = MatMul (p, v)
}}
"""
    if name == "rank3":
        N, L, S, D, E = 6, 5, 70, 16, 48
        return f"""<ir_version: 8, opset_import: ["" : 17]>
agraph (float[{N},{L},{D}] q, float[{N},{S},{D}] k, float[{N},{S},{E}] v) => (float[{N},{L},{E}] y)
<float[1] s = {{0.25}}>
{{
  kt = Transpose <perm = [0,2,1]> (k)
  sc = MatMul (q, kt)
  ss = Mul (sc, s)
  p = Softmax <axis = -1> (ss)
  y = MatMul (p, v)
}}
"""
    raise SystemExit("unknown case " + name)


def inputs(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    if name == "prefill":
        return {"q": f(2, 8, 40, 64), "k": f(2, 2, 40, 64), "v": f(2, 2, 40, 64)}
    if name == "decode":
        mask = np.zeros((2, 1, 1, 77), np.float32)
        mask[0, ..., 60:] = -np.inf  # padding after 60 keys
        mask[1] = -np.inf  # every key masked: NaN rows
        return {"q": f(2, 8, 1, 64), "k": f(2, 2, 77, 64),
                "v": f(2, 2, 77, 64), "mask": mask}
    if name == "odd":
        return {"q": f(1, 3, 9, 7), "k": f(1, 3, 33, 7), "v": f(1, 3, 33, 20)}
    return {"q": f(6, 5, 16), "k": f(6, 70, 16), "v": f(6, 70, 48)}


def reference(name, x):
    q, k, v = (x[n].astype(np.float64) for n in "qkv")
    if q.ndim == 4 and k.shape[1] != q.shape[1]:  # GQA
        k = np.repeat(k, q.shape[1] // k.shape[1], axis=1)
        v = np.repeat(v, q.shape[1] // v.shape[1], axis=1)
    scale = {"prefill": 0.125, "decode": 0.125, "odd": 1 / 2.6457513,
             "rank3": 0.25}[name]
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if name == "prefill":
        L, S = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((L, S), bool)), scores, -3e38)
    if name == "decode":
        scores = scores + x["mask"].astype(np.float64)
    with np.errstate(invalid="ignore"):
        top = scores.max(axis=-1, keepdims=True)
        p = np.exp(scores - top)
        p = p / p.sum(axis=-1, keepdims=True)
    return p @ v


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        d = sys.argv[2]
        for name in CASES:
            os.makedirs(os.path.join(d, name), exist_ok=True)
            with open(os.path.join(d, name + ".onnxtxt"), "w") as out:
                out.write(model(name))
            for n, a in inputs(name).items():
                np.save(os.path.join(d, name, n + ".npy"), a)
        return
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        d, name, out = sys.argv[2:]
        x = {n: np.load(os.path.join(d, name, n + ".npy"))
             for n in inputs(name)}
        want = reference(name, x)
        got = np.load(os.path.join(out, "y.npy"))
        if got.dtype != np.float32 or got.shape != want.shape:
            sys.exit(f"{name}: got {got.dtype} {got.shape}, want float32 "
                     f"{want.shape}")
        ok = np.allclose(got.astype(np.float64), want, rtol=1e-4, atol=1e-5,
                         equal_nan=True)
        if not ok:
            err = np.nanmax(np.abs(got - want))
            sys.exit(f"{name}: max abs error {err:.3e} (NaN where the "
                     f"reference has none: {int(np.sum(np.isnan(got) & ~np.isnan(want)))})")
        print(name, "y", list(got.shape), "ok")
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
