#!/usr/bin/env python3
"""Differential testing: random ONNX graphs through llmc and ONNX Runtime.

    random_graphs.py [--count N] [--seed S] [--jobs J] [--llmc PATH]
                     [--out DIR] [--min-ops 5] [--max-ops 40] [--cuda]

Each graph (NNSmith-style: drawn op by op from the supported set, every
operand chosen among the values so far so that shapes type-check) is
written at opset 17 with seeded float32 inputs, then run by ONNX Runtime
(the reference), by `llmc run` and by `llmc run --no-fusion`. Outputs must
agree with ONNX Runtime's within |a - b| <= 1e-4 + 1e-4 |b| element by
element (infinities and NaNs where ONNX Runtime has them). Inputs lie in
[-2, 2] and every op keeps values finite and moderate (Sqrt of |x|, Log of
1 + |x|, Div by 0.5 + |x|, Exp after Tanh), so that a difference is a bug
and not rounding blown up.

A graph llmc refuses with its one-line `error:` (an op it does not import)
counts as refused, not failed; anything else that goes wrong -- a crash
(a signal), a hang (the timeout), a mismatch, or output missing -- is a
failure, kept under --out as a reproducer: model.onnx, the inputs, ONNX
Runtime's outputs and `repro.sh` with the failing command. With --cuda,
each graph is also compiled for CUDA (no GPU needed: the program built and
its PTX assembled by ptxas), which must succeed or refuse in one line.

The last line is `random graphs: N run, M failed, K refused`; the exit
status is 1 when one failed. test/python/test_random_graphs.py runs 200
graphs with a fixed seed in the test suite.
"""

import argparse
import concurrent.futures
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPSET = 17
# One-line errors that are the compiler's own bugs, not refusals of a model
# (invalid IR a pass built, a pattern that failed to apply).
INTERNAL_ERRORS = ("does not dominate", "failed to legalize", "failed to verify",
                   "op was not bufferized", "LLVM ERROR", "Assertion",
                   "expects different type", "operand type mismatch")
RTOL = ATOL = 1e-4


class Graph:
    """A graph being drawn: nodes, initializers and the values so far (name
    -> shape)."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs = [], [], []
        self.values = {}  # name -> shape (float32 tensors only)
        self.const_shapes = {}  # initializer name -> shape
        self.counter = 0

    def name(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def add_input(self, shape):
        n = self.name("x")
        self.inputs.append((n, shape))
        self.values[n] = shape
        return n

    def const(self, array, prefix="c"):
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array, n))
        self.const_shapes[n] = tuple(array.shape)
        return n

    def shape(self, name):
        return self.values[name] if name in self.values else self.const_shapes[name]

    def node(self, op, inputs, shape, **attrs):
        out = self.name(op.lower() + "_")
        self.nodes.append(helper.make_node(op, inputs, [out],
                                           name=f"{op}_{self.counter}", **attrs))
        self.values[out] = shape
        return out

    def pick(self, pred=lambda s: True):
        cands = [v for v, s in self.values.items() if pred(s)]
        return self.rng.choice(cands) if cands else None


def broadcast_shape(a, b):
    out = []
    for x, y in zip(((1,) * (len(b) - len(a)) + a), ((1,) * (len(a) - len(b)) + b)):
        if x != y and x != 1 and y != 1:
            return None
        out.append(max(x, y))
    return tuple(out)


# --- the ops: each draws its operands from g and adds its node, or returns
# --- None when nothing so far fits.

def op_unary(g):
    rng = g.rng
    x = g.pick()
    s = g.values[x]
    kind = rng.choice(["Relu", "Neg", "Abs", "Tanh", "Sigmoid", "Sqrt", "Log",
                       "Exp", "Erf", "Floor", "Ceil", "LeakyRelu", "Elu",
                       "Softsign", "Softplus", "Reciprocal", "Sin", "Cos",
                       "HardSigmoid", "Round", "Sign", "Selu", "Clip"])
    if kind == "Sqrt":
        return g.node("Sqrt", [g.node("Abs", [x], s)], s)
    if kind == "Log":
        one = g.const(np.array(1.0, np.float32))
        return g.node("Log", [g.node("Add", [g.node("Abs", [x], s), one], s)], s)
    if kind == "Exp":
        return g.node("Exp", [g.node("Tanh", [x], s)], s)
    if kind == "Reciprocal":
        half = g.const(np.array(0.5, np.float32))
        return g.node("Reciprocal", [g.node("Add", [g.node("Abs", [x], s), half], s)], s)
    if kind == "Softplus":
        return g.node("Softplus", [g.node("Tanh", [x], s)], s)
    if kind == "LeakyRelu":
        return g.node("LeakyRelu", [x], s, alpha=round(rng.uniform(0.01, 0.3), 3))
    if kind == "Elu":
        return g.node("Elu", [x], s, alpha=round(rng.uniform(0.5, 1.5), 3))
    if kind == "Clip":
        lo = g.const(np.array(rng.uniform(-1.5, 0), np.float32))
        hi = g.const(np.array(rng.uniform(0, 1.5), np.float32))
        return g.node("Clip", [x, lo, hi], s)
    if kind == "Round":
        # Halves round to even; keep values off the .5 boundary ties that
        # float rounding of earlier ops could move.
        return g.node("Round", [x], s)
    return g.node(kind, [x], s)


def op_binary(g):
    rng = g.rng
    a = g.pick()
    sa = g.values[a]
    # A partner whose shape broadcasts with a's, or a new constant.
    partners = [v for v, s in g.values.items() if broadcast_shape(sa, s)]
    if partners and rng.random() < 0.7:
        b = rng.choice(partners)
    else:
        shape = list(sa)
        for i in range(len(shape)):
            if rng.random() < 0.4:
                shape[i] = 1
        if shape and rng.random() < 0.3:
            shape = shape[rng.randint(0, len(shape) - 1):]
        b = g.const(np.random.default_rng(rng.randint(0, 2**31)).uniform(
            -2, 2, shape).astype(np.float32))
    sb = g.shape(b)
    out = broadcast_shape(sa, sb)
    kind = rng.choice(["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Where"])
    if kind == "Div":
        half = g.const(np.array(0.5, np.float32))
        den = g.node("Add", [g.node("Abs", [b], sb), half], sb)
        return g.node("Div", [a, den], out)
    if kind == "Pow":
        # A positive base, an exponent in [-1, 1].
        half = g.const(np.array(0.5, np.float32))
        base = g.node("Add", [g.node("Abs", [a], sa), half], sa)
        return g.node("Pow", [base, g.node("Tanh", [b], sb)], out)
    if kind == "Where":
        cond = g.name("cond")
        g.nodes.append(helper.make_node("Greater", [a, b], [cond], name=f"Greater_{g.counter}"))
        return g.node("Where", [cond, a, b], out)
    return g.node(kind, [a, b], out)


def op_matmul(g):
    rng = g.rng
    a = g.pick(lambda s: 2 <= len(s) <= 4)
    if a is None:
        return None
    sa = g.values[a]
    k = sa[-1]
    n = rng.randint(1, 8)
    # B: a value with matching K (and batch dims that broadcast), or a weight.
    cands = [v for v, s in g.values.items()
             if len(s) >= 2 and s[-2] == k and broadcast_shape(sa[:-2], s[:-2]) is not None]
    if cands and rng.random() < 0.5:
        b = rng.choice(cands)
        sb = g.values[b]
    else:
        sb = (k, n)
        b = g.const(np.random.default_rng(rng.randint(0, 2**31)).uniform(
            -1, 1, sb).astype(np.float32), "w")
    out = broadcast_shape(sa[:-2], tuple(sb[:-2])) + (sa[-2], sb[-1])
    if rng.random() < 0.3 and len(sa) == 2 and len(sb) == 2:
        bias = g.const(np.random.default_rng(rng.randint(0, 2**31)).uniform(
            -1, 1, (sb[-1],)).astype(np.float32), "bias")
        return g.node("Gemm", [a, b, bias], out, alpha=1.0, beta=1.0)
    return g.node("MatMul", [a, b], out)


def op_transpose(g):
    x = g.pick(lambda s: len(s) >= 2)
    if x is None:
        return None
    s = g.values[x]
    perm = list(range(len(s)))
    g.rng.shuffle(perm)
    return g.node("Transpose", [x], tuple(s[p] for p in perm), perm=perm)


def op_reshape(g):
    x = g.pick()
    s = g.values[x]
    total = int(np.prod(s)) if s else 1
    # A random factorisation of the element count, rank 1 to 4.
    dims, left = [], total
    for _ in range(g.rng.randint(0, 3)):
        divs = [d for d in range(1, left + 1) if left % d == 0]
        d = g.rng.choice(divs)
        dims.append(d)
        left //= d
    dims.append(left)
    g.rng.shuffle(dims)
    shape = g.const(np.array(dims, np.int64), "shape")
    return g.node("Reshape", [x, shape], tuple(dims))


def op_reduce(g):
    rng = g.rng
    x = g.pick(lambda s: len(s) >= 1)
    s = g.values[x]
    kind = rng.choice(["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                       "ReduceL2", "ReduceSumSquare", "ReduceProd"])
    axes = sorted(rng.sample(range(len(s)), rng.randint(1, len(s))))
    keep = rng.randint(0, 1)
    out = tuple(1 if i in axes else d for i, d in enumerate(s)) if keep else \
        tuple(d for i, d in enumerate(s) if i not in axes)
    if kind == "ReduceProd":
        # Products of up to 8x8x... values in [-2, 2] overflow nothing, but
        # keep them near 1.
        x = g.node("Tanh", [x], s)
    if kind == "ReduceSum":  # axes as an input from opset 13
        ax = g.const(np.array(axes, np.int64), "axes")
        return g.node(kind, [x, ax], out, keepdims=keep)
    return g.node(kind, [x], out, axes=axes, keepdims=keep)


def op_softmax(g):
    x = g.pick(lambda s: len(s) >= 1)
    s = g.values[x]
    axis = g.rng.randint(-len(s), len(s) - 1)
    kind = g.rng.choice(["Softmax", "LogSoftmax"])
    return g.node(kind, [x], s, axis=axis)


def op_layernorm(g):
    x = g.pick(lambda s: len(s) >= 1 and s[-1] > 1)
    if x is None:
        return None
    s = g.values[x]
    axis = g.rng.randint(-len(s), len(s) - 1)
    norm = s[axis:] if axis >= 0 else s[len(s) + axis:]
    seed = g.rng.randint(0, 2**31)
    scale = g.const(np.random.default_rng(seed).uniform(0.5, 1.5, norm).astype(np.float32))
    bias = g.const(np.random.default_rng(seed + 1).uniform(-1, 1, norm).astype(np.float32))
    return g.node("LayerNormalization", [x, scale, bias], s, axis=axis,
                  epsilon=1e-3)


def op_concat(g):
    x = g.pick(lambda s: len(s) >= 1)
    s = g.values[x]
    axis = g.rng.randrange(len(s))
    same = [v for v, t in g.values.items()
            if len(t) == len(s) and all(t[i] == s[i] for i in range(len(s)) if i != axis)]
    parts = [x] + g.rng.sample(same, min(len(same), g.rng.randint(1, 3)))
    out = list(s)
    out[axis] = sum(g.values[p][axis] for p in parts)
    return g.node("Concat", parts, tuple(out), axis=axis)


def op_slice(g):
    x = g.pick(lambda s: len(s) >= 1 and max(s) >= 2)
    if x is None:
        return None
    s = g.values[x]
    axis = g.rng.choice([i for i, d in enumerate(s) if d >= 2])
    start = g.rng.randint(0, s[axis] - 1)
    end = g.rng.randint(start + 1, s[axis])
    step = g.rng.choice([1, 1, 2])
    out = list(s)
    out[axis] = len(range(start, end, step))
    ins = [x, g.const(np.array([start], np.int64), "starts"),
           g.const(np.array([end], np.int64), "ends"),
           g.const(np.array([axis], np.int64), "axes"),
           g.const(np.array([step], np.int64), "steps")]
    return g.node("Slice", ins, tuple(out))


def op_gather(g):
    x = g.pick(lambda s: len(s) >= 1)
    s = g.values[x]
    axis = g.rng.randrange(len(s))
    n = g.rng.randint(1, 4)
    idx = np.random.default_rng(g.rng.randint(0, 2**31)).integers(
        -s[axis], s[axis], size=(n,)).astype(np.int64)
    out = s[:axis] + (n,) + s[axis + 1:]
    return g.node("Gather", [x, g.const(idx, "idx")], out, axis=axis)


def op_unsqueeze(g):
    x = g.pick(lambda s: len(s) <= 3)
    if x is None:
        return None
    s = g.values[x]
    if g.rng.random() < 0.5 and 1 in s:
        axes = [i for i, d in enumerate(s) if d == 1][:1]
        out = tuple(d for i, d in enumerate(s) if i not in axes)
        return g.node("Squeeze", [x, g.const(np.array(axes, np.int64), "axes")], out)
    axis = g.rng.randint(0, len(s))
    out = s[:axis] + (1,) + s[axis:]
    return g.node("Unsqueeze", [x, g.const(np.array([axis], np.int64), "axes")], out)


def op_expand(g):
    x = g.pick(lambda s: 1 in s)
    if x is None:
        return None
    s = g.values[x]
    out = tuple(g.rng.randint(2, 4) if d == 1 and g.rng.random() < 0.7 else d for d in s)
    return g.node("Expand", [x, g.const(np.array(out, np.int64), "shape")], out)


def op_conv(g):
    rng = g.rng
    x = g.pick(lambda s: len(s) == 4 and s[2] >= 2 and s[3] >= 2)
    if x is None:
        # Make one from a value of 4 elements or more per channel.
        return None
    n, c, h, w = g.values[x]
    kind = rng.choice(["Conv", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool"])
    k = rng.randint(1, min(3, h, w))
    stride = rng.randint(1, 2)
    pad = rng.randint(0, k - 1)
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    if kind == "GlobalAveragePool":
        return g.node(kind, [x], (n, c, 1, 1))
    if kind in ("MaxPool", "AveragePool"):
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride],
                     pads=[pad] * 4)
        if kind == "AveragePool":
            attrs["count_include_pad"] = rng.randint(0, 1)
        return g.node(kind, [x], (n, c, oh, ow), **attrs)
    group = rng.choice([d for d in (1, c) if c % d == 0])
    m = rng.randint(1, 6) * group if group > 1 else rng.randint(1, 6)
    seed = rng.randint(0, 2**31)
    wt = g.const(np.random.default_rng(seed).uniform(
        -1, 1, (m, c // group, k, k)).astype(np.float32), "w")
    ins = [x, wt]
    if rng.random() < 0.5:
        ins.append(g.const(np.random.default_rng(seed + 1).uniform(
            -1, 1, (m,)).astype(np.float32), "bias"))
    return g.node("Conv", ins, (n, m, oh, ow), kernel_shape=[k, k],
                  strides=[stride, stride], pads=[pad] * 4, group=group)


def op_misc(g):
    rng = g.rng
    kind = rng.choice(["Flatten", "Tile", "Pad", "CumSum", "Split", "Identity"])
    x = g.pick(lambda s: len(s) >= 1)
    s = g.values[x]
    if kind == "Flatten":
        axis = rng.randint(0, len(s))
        a = int(np.prod(s[:axis])) if axis else 1
        return g.node("Flatten", [x], (a, int(np.prod(s[axis:])) if axis < len(s) else 1),
                      axis=axis)
    if kind == "Tile":
        reps = [rng.randint(1, 2) for _ in s]
        return g.node("Tile", [x, g.const(np.array(reps, np.int64), "reps")],
                      tuple(d * r for d, r in zip(s, reps)))
    if kind == "Pad":
        pads = [rng.randint(0, 2) for _ in range(2 * len(s))]
        mode = rng.choice(["constant", "reflect", "edge"])
        if mode == "reflect":
            pads = [min(p, s[i % len(s)] - 1) for i, p in enumerate(pads)]
        out = tuple(d + pads[i] + pads[i + len(s)] for i, d in enumerate(s))
        return g.node("Pad", [x, g.const(np.array(pads, np.int64), "pads")], out,
                      mode=mode)
    if kind == "CumSum":
        axis = rng.randrange(len(s))
        return g.node("CumSum", [x, g.const(np.array(axis, np.int64), "axis")], s,
                      exclusive=rng.randint(0, 1), reverse=rng.randint(0, 1))
    if kind == "Split":
        axis = rng.randrange(len(s))
        if s[axis] < 2:
            return g.node("Identity", [x], s)
        first = rng.randint(1, s[axis] - 1)
        outs = [g.name("split_"), g.name("split_")]
        g.nodes.append(helper.make_node(
            "Split", [x, g.const(np.array([first, s[axis] - first], np.int64), "split")],
            outs, axis=axis, name=f"Split_{g.counter}"))
        for o, d in zip(outs, (first, s[axis] - first)):
            t = list(s)
            t[axis] = d
            g.values[o] = tuple(t)
        return outs[rng.randint(0, 1)]
    return g.node("Identity", [x], s)


def op_more(g):
    """Ops with more structure: normalisations, index-producing reductions,
    TopK, Einsum, ConvTranspose, Resize, depth/space moves, variadic ops."""
    rng = g.rng
    kind = rng.choice(["BatchNormalization", "InstanceNormalization", "ArgMax",
                       "TopK", "Einsum", "ConvTranspose", "Resize",
                       "DepthToSpace", "SpaceToDepth", "Sum", "Mean", "PRelu",
                       "HardSwish", "Shrink", "ThresholdedRelu", "Celu",
                       "LpNormalization", "MeanVarianceNormalization",
                       "ReduceLogSumExp", "GlobalMaxPool", "LRN", "Trilu",
                       "GatherElements", "Mod", "Max3"])
    seed = rng.randint(0, 2**31)
    uni = lambda shape, lo=-1.0, hi=1.0: np.random.default_rng(seed).uniform(
        lo, hi, shape).astype(np.float32)
    if kind in ("BatchNormalization", "InstanceNormalization", "LRN",
                "GlobalMaxPool", "ConvTranspose", "Resize", "DepthToSpace",
                "SpaceToDepth", "MeanVarianceNormalization"):
        x = g.pick(lambda s: len(s) == 4)
        if x is None:
            return None
        n, c, h, w = g.values[x]
        if kind == "BatchNormalization":
            ins = [x, g.const(uni((c,), 0.5, 1.5)), g.const(uni((c,))),
                   g.const(uni((c,))), g.const(uni((c,), 0.5, 2.0))]
            return g.node(kind, ins, (n, c, h, w), epsilon=1e-3)
        if kind == "InstanceNormalization":
            if h * w < 2:
                return None
            return g.node(kind, [x, g.const(uni((c,), 0.5, 1.5)), g.const(uni((c,)))],
                          (n, c, h, w), epsilon=1e-3)
        if kind == "MeanVarianceNormalization":
            if n * h * w < 2:
                return None
            return g.node(kind, [x], (n, c, h, w))
        if kind == "LRN":
            return g.node(kind, [x], (n, c, h, w), size=rng.choice([1, 3, 5]),
                          alpha=1e-3, beta=0.75, bias=1.0)
        if kind == "GlobalMaxPool":
            return g.node(kind, [x], (n, c, 1, 1))
        if kind == "ConvTranspose":
            k, stride = rng.randint(1, 3), rng.randint(1, 2)
            m = rng.randint(1, 4)
            pad = rng.randint(0, k - 1)
            oh, ow = (h - 1) * stride + k - 2 * pad, (w - 1) * stride + k - 2 * pad
            if oh < 1 or ow < 1:
                return None
            return g.node(kind, [x, g.const(uni((c, m, k, k)), "w")], (n, m, oh, ow),
                          kernel_shape=[k, k], strides=[stride, stride],
                          pads=[pad] * 4)
        if kind == "Resize":
            mode = rng.choice(["nearest", "linear"])
            oh, ow = rng.randint(1, 2 * h), rng.randint(1, 2 * w)
            sizes = g.const(np.array([n, c, oh, ow], np.int64), "sizes")
            attrs = dict(mode=mode)
            if mode == "linear":
                attrs["coordinate_transformation_mode"] = rng.choice(
                    ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"])
            else:
                attrs["coordinate_transformation_mode"] = "asymmetric"
                attrs["nearest_mode"] = "floor"
            return g.node(kind, [x, "", "", sizes], (n, c, oh, ow), **attrs)
        if kind == "DepthToSpace":
            if c % 4:
                return None
            return g.node(kind, [x], (n, c // 4, h * 2, w * 2), blocksize=2,
                          mode=rng.choice(["DCR", "CRD"]))
        if h % 2 or w % 2:
            return None
        return g.node("SpaceToDepth", [x], (n, c * 4, h // 2, w // 2), blocksize=2)
    x = g.pick(lambda s: len(s) >= 1)
    s = g.values[x]
    if kind == "ArgMax":
        axis = rng.randrange(len(s))
        keep = rng.randint(0, 1)
        out = tuple(1 if i == axis else d for i, d in enumerate(s)) if keep else \
            tuple(d for i, d in enumerate(s) if i != axis)
        idx = g.name("argmax_")
        g.nodes.append(helper.make_node(rng.choice(["ArgMax", "ArgMin"]), [x], [idx],
                                        axis=axis, keepdims=keep,
                                        name=f"Arg_{g.counter}"))
        return g.node("Cast", [idx], out, to=TensorProto.FLOAT)
    if kind == "TopK":
        axis = rng.randrange(len(s))
        k = rng.randint(1, s[axis])
        vals, idx = g.name("topk_"), g.name("topk_idx_")
        g.nodes.append(helper.make_node(
            "TopK", [x, g.const(np.array([k], np.int64), "k")], [vals, idx],
            axis=axis, largest=rng.randint(0, 1), name=f"TopK_{g.counter}"))
        out = list(s)
        out[axis] = k
        g.values[vals] = tuple(out)
        return vals
    if kind == "Einsum":
        if len(s) < 2:
            return None
        letters = "abcd"[:len(s)]
        w = uni((s[-1], rng.randint(1, 6)))
        return g.node("Einsum", [x, g.const(w, "w")],
                      s[:-1] + (w.shape[1],),
                      equation=f"{letters},{letters[-1]}z->{letters[:-1]}z")
    if kind in ("Sum", "Mean", "Max3"):
        same = [v for v, t in g.values.items() if t == s]
        parts = [x] + rng.sample(same, min(len(same), 2))
        return g.node({"Max3": "Max"}.get(kind, kind), parts, s)
    if kind == "PRelu":
        return g.node(kind, [x, g.const(uni(s[-1:]), "slope")], s)
    if kind == "Shrink":
        return g.node(kind, [x], s, bias=0.1, lambd=0.5)
    if kind == "ThresholdedRelu":
        return g.node(kind, [x], s, alpha=0.3)
    if kind == "Celu":
        return g.node(kind, [x], s, alpha=0.7)
    if kind == "HardSwish":
        return g.node(kind, [x], s)
    if kind == "LpNormalization":
        # Away from zero vectors: ONNX defines their norm's 0 / 0 as NaN
        # (its test data), ONNX Runtime gives 0.
        half = g.const(np.array(0.5, np.float32))
        pos = g.node("Add", [g.node("Abs", [x], s), half], s)
        return g.node(kind, [pos], s, axis=rng.randrange(len(s)), p=rng.choice([1, 2]))
    if kind == "ReduceLogSumExp":
        axes = sorted(rng.sample(range(len(s)), rng.randint(1, len(s))))
        return g.node(kind, [x], tuple(1 if i in axes else d for i, d in enumerate(s)),
                      axes=axes, keepdims=1)
    if kind == "Trilu":
        if len(s) < 2:
            return None
        return g.node(kind, [x, g.const(np.array(rng.randint(-2, 2), np.int64), "k")],
                      s, upper=rng.randint(0, 1))
    if kind == "GatherElements":
        axis = rng.randrange(len(s))
        out = tuple(rng.randint(1, d) if i == axis else d for i, d in enumerate(s))
        idx = np.random.default_rng(seed).integers(-s[axis], s[axis], out).astype(np.int64)
        return g.node(kind, [x, g.const(idx, "idx")], out, axis=axis)
    # Mod: fmod by a positive divisor.
    half = g.const(np.array(0.75, np.float32))
    return g.node("Mod", [x, half], s, fmod=1)


OPS = [(op_unary, 5), (op_binary, 5), (op_matmul, 2), (op_transpose, 1),
       (op_reshape, 1), (op_reduce, 2), (op_softmax, 1), (op_layernorm, 1),
       (op_concat, 1), (op_slice, 1), (op_gather, 1), (op_unsqueeze, 1),
       (op_expand, 1), (op_conv, 2), (op_misc, 2), (op_more, 4)]


def random_graph(seed, min_ops, max_ops):
    """A model and its inputs, drawn from `seed`."""
    rng = random.Random(seed)
    g = Graph(rng)
    for _ in range(rng.randint(1, 3)):
        rank = rng.choice([1, 2, 2, 3, 3, 4, 4])
        g.add_input(tuple(rng.randint(1, 8) for _ in range(rank)))
    target = rng.randint(min_ops, max_ops)
    ops, weights = zip(*OPS)
    tries = 0
    while len(g.nodes) < target and tries < 10 * max_ops:
        tries += 1
        op = rng.choices(ops, weights)[0]
        before = (len(g.nodes), len(g.inits))
        try:
            out = op(g)
        except (ValueError, IndexError):
            out = None
        if out is None:
            del g.nodes[before[0]:]
            del g.inits[before[1]:]
            continue
        # Keep tensors small: at most 4096 elements.
        if int(np.prod(g.values[out])) > 4096 or any(d == 0 for d in g.values[out]):
            del g.nodes[before[0]:]
            del g.inits[before[1]:]
            g.values.pop(out, None)
    produced = [n.output[0] for n in g.nodes if n.output[0] in g.values]
    outs = [produced[-1]] if produced else [g.inputs[0][0]]
    outs += [v for v in rng.sample(produced, min(2, len(produced))) if v not in outs]
    graph = helper.make_graph(
        g.nodes, f"random_{seed}",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in g.inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, g.values[o]) for o in outs],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=8)
    data = np.random.default_rng(seed)
    inputs = {n: data.uniform(-2, 2, s).astype(np.float32) for n, s in g.inputs}
    return model, inputs


def compare(name, got, want):
    """"" or why `got` differs from `want`."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"{name}: {got.dtype}{list(got.shape)}, ONNX Runtime {want.dtype}{list(want.shape)}"
    special = ~np.isfinite(want)
    if not np.array_equal(np.isnan(got), np.isnan(want)) or \
            not np.array_equal(got[special & ~np.isnan(want)], want[special & ~np.isnan(want)]):
        return f"{name}: NaN or infinity where ONNX Runtime has none, or the reverse"
    fin = ~special
    err = np.abs(got[fin].astype(np.float64) - want[fin])
    bound = ATOL + RTOL * np.abs(want[fin].astype(np.float64))
    bad = int(np.sum(err > bound))
    if bad:
        i = int(np.argmax(err - bound))
        return (f"{name}: {bad}/{want.size} values differ (largest excess at "
                f"{i}: {got[fin].flat[i]!r} vs {want[fin].flat[i]!r})")
    return ""


def run_one(seed, args):
    """{"seed", "status": pass|fail|refused, "why"} for graph `seed`."""
    import onnxruntime as ort
    model, inputs = random_graph(seed, args.min_ops, args.max_ops)
    d = tempfile.mkdtemp(prefix=f"llmc-rg-{seed}-")
    try:
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        try:
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            names = [o.name for o in sess.get_outputs()]
            want = dict(zip(names, sess.run(None, inputs)))
        except Exception as e:  # noqa: BLE001 - the generator made a graph ORT refuses
            return {"seed": seed, "status": "skipped", "why": f"ONNX Runtime: {str(e)[:200]}"}
        argv = []
        for n, a in inputs.items():
            np.save(os.path.join(d, f"{n}.npy"), a)
            argv += ["--input", f"{n}={os.path.join(d, n + '.npy')}"]
        for mode, extra in (("fused", []), ("unfused", ["--no-fusion"])):
            out = os.path.join(d, f"out-{mode}")
            cmd = [args.llmc, "run", path, *argv, "--output-dir", out, *extra]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True,
                                   timeout=args.timeout)
            except subprocess.TimeoutExpired:
                return keep(d, seed, args, cmd, want, f"{mode}: timed out after {args.timeout} s")
            err = (p.stderr or "").strip()
            if p.returncode != 0:
                lines = err.splitlines()
                if p.returncode == 1 and len(lines) == 1 and lines[0].startswith(
                        "error: ") and not any(w in lines[0] for w in INTERNAL_ERRORS):
                    return {"seed": seed, "status": "refused", "why": lines[0][:300]}
                return keep(d, seed, args, cmd, want,
                            f"{mode}: exit status {p.returncode}: {err[-300:]}")
            for name, w in want.items():
                f = os.path.join(out, name + ".npy")
                if not os.path.exists(f):
                    return keep(d, seed, args, cmd, want, f"{mode}: no output '{name}'")
                why = compare(name, np.load(f), w)
                if why:
                    return keep(d, seed, args, cmd, want, f"{mode}: {why}")
        if args.cuda:
            # No GPU here: the CUDA program must build (its PTX assembled by
            # ptxas), or be refused in one line; never a crash.
            cmd = [args.llmc, "compile", path, "--target", "cuda", "-o",
                   os.path.join(d, "cuda.llmcx")]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True,
                                   timeout=args.timeout)
            except subprocess.TimeoutExpired:
                return keep(d, seed, args, cmd, want, f"cuda: timed out after {args.timeout} s")
            lines = (p.stderr or "").strip().splitlines()
            if p.returncode != 0 and not (p.returncode == 1 and len(lines) == 1
                                          and lines[0].startswith("error: ")):
                return keep(d, seed, args, cmd, want,
                            f"cuda: exit status {p.returncode}: {(p.stderr or '')[-300:]}")
            if p.returncode != 0 and any(w in lines[0] for w in INTERNAL_ERRORS):
                return keep(d, seed, args, cmd, want, "cuda: " + lines[0][:300])
            if p.returncode != 0:
                return {"seed": seed, "status": "refused", "why": "cuda: " + lines[0][:300]}
        return {"seed": seed, "status": "pass", "why": ""}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def keep(d, seed, args, cmd, want, why):
    """Copies the failing graph under --out as a reproducer."""
    result = {"seed": seed, "status": "fail", "why": why}
    if args.out:
        r = os.path.join(args.out, f"graph-{seed}")
        shutil.rmtree(r, ignore_errors=True)
        shutil.copytree(d, r, ignore=shutil.ignore_patterns("out-*"))
        for name, w in want.items():
            np.save(os.path.join(r, f"expected-{name}.npy"), w)
        line = " ".join(shlex.quote(c.replace(d, r)) for c in cmd)
        with open(os.path.join(r, "repro.sh"), "w") as f:
            f.write(f"#!/bin/sh\n# {why}\n{line}\n")
        result["repro"] = r
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1, help="the first graph's seed")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--llmc", default=os.path.join(REPO, "build", "bin", "llmc"))
    ap.add_argument("--out", help="folder for reproducers of failures")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--min-ops", type=int, default=5)
    ap.add_argument("--max-ops", type=int, default=40)
    ap.add_argument("--json", help="write every graph's result here")
    ap.add_argument("--cuda", action="store_true",
                    help="also compile each graph for CUDA (PTX through ptxas)")
    args = ap.parse_args(argv)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, s, args)
                   for s in range(args.seed, args.seed + args.count)]
        for f in concurrent.futures.as_completed(futures):
            r = f.result()
            results.append(r)
            if r["status"] == "fail":
                print(f"FAIL seed {r['seed']}: {r['why']}" +
                      (f" (reproducer: {r['repro']})" if "repro" in r else ""),
                      flush=True)
    results.sort(key=lambda r: r["seed"])
    counts = {k: sum(r["status"] == k for r in results)
              for k in ("pass", "fail", "refused", "skipped")}
    refusals = {}
    for r in results:
        if r["status"] == "refused":
            why = r["why"].split(": ", 2)[-1]
            refusals[why] = refusals.get(why, 0) + 1
    for why, n in sorted(refusals.items(), key=lambda x: -x[1])[:10]:
        print(f"refused {n}x: {why}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"random graphs: {counts['pass'] + counts['fail']} run, "
          f"{counts['fail']} failed, {counts['refused']} refused"
          + (f", {counts['skipped']} skipped (ONNX Runtime refused)"
             if counts["skipped"] else ""))
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
