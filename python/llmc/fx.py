"""Captures a torch.nn.Module with torch.fx into llmc's graph dialect.

The module is traced symbolically (torch.fx), then run once on the example
inputs by an fx Interpreter that records every node's value: tensors give
each node its exact shape and dtype (shape propagation), and everything else
(`x.shape`, sizes, slices, Python arithmetic on them) becomes a constant of
the capture. Each tensor-producing node is then emitted as graph-dialect ops
through llmc's C++ graph builder: no ONNX file in between. A node with no
translation is reported by its op and the module path of the call.

Works with torch 1.13 (Debian's: torch.fx only) and torch 2.x, where the same
translation serves the `torch.compile(backend="llmc")` backend and graphs
from torch.export (both hand over fx graphs).
"""

import math
import operator

import numpy as np

from . import _llmc
from .errors import CaptureError, LlmcError

_TORCH_TO_MLIR = {
    "float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16",
    "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8",
    "uint8": "ui8", "bool": "i1",
}


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _tensor_type(shape, dtype):
    elem = _TORCH_TO_MLIR.get(_dtype_name(dtype))
    if elem is None:
        raise CaptureError(f"dtype {dtype} is not supported by llmc")
    dims = "x".join(str(int(d)) for d in shape)
    return f"tensor<{dims}x{elem}>" if dims else f"tensor<{elem}>"


def _i64(v):
    return f"{int(v)} : i64"


def _f64(v):
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return "0x" + np.array(v, dtype=np.float64).view(np.uint64).item().to_bytes(
            8, "big").hex().upper() + " : f64"
    return f"{v:.17e} : f64"


def _array(values):
    values = [int(v) for v in values]
    return "array<i64: " + ", ".join(map(str, values)) + ">" if values else "array<i64>"


def _str(s):
    return '"' + s + '"'


def _bool(b):
    return "true" if b else "false"


def _pair(v, n=2):
    return list(v) if isinstance(v, (tuple, list)) else [v] * n


def _make_tracer(root, example_inputs):
    """A torch.fx Tracer that runs the module on the example inputs while it
    traces (each node's value computed as the node is created), records the
    module path of every call, and hands Python values (shapes, sizes and
    what is computed from them) back to the traced code as plain values: so
    `B, T, C = x.shape` and `buf[:T]` trace, and the graph keeps only tensor
    computations, at the example's shapes."""
    import torch
    import torch.fx
    from torch.fx.node import map_aggregate

    class ConcreteProxy(torch.fx.Proxy):
        """Attributes that are plain values on the example (x.shape,
        x.ndim, x.dtype) are those values; methods stay traced."""

        def __getattr__(self, k):
            d = self.__dict__
            if k.startswith("_") or "node" not in d or "tracer" not in d:
                return super().__getattr__(k)
            value = d["tracer"].values.get(d["node"])
            if value is not None:
                attr = getattr(value, k, None)
                if attr is not None and not callable(attr) and \
                        not isinstance(attr, torch.Tensor):
                    return attr
            return super().__getattr__(k)

        def __iter__(self):
            value = self.tracer.values.get(self.node)
            if isinstance(value, (tuple, list)):
                return iter([self[i] for i in range(len(value))])
            return super().__iter__()

    class Tracer(torch.fx.Tracer):
        def __init__(self):
            super().__init__()
            self.path = [""]
            self.values = {}
            self.inputs = list(example_inputs)

        # While a node's value is computed, the module calls and attribute
        # reads that torch.fx intercepts during tracing run for real.
        evaluating = 0

        def getattr(self, attr, attr_val, parameter_proxy_cache):
            if self.evaluating:
                return attr_val
            return super().getattr(attr, attr_val, parameter_proxy_cache)

        def call_module(self, m, forward, args, kwargs):
            if self.evaluating:
                return forward(*args, **kwargs)
            name = self.path_of_module(m)
            self.path.append(name)
            try:
                return super().call_module(m, forward, args, kwargs)
            finally:
                self.path.pop()

        def proxy(self, node):
            return ConcreteProxy(node, self)

        def concrete(self, a):
            return map_aggregate(
                a, lambda x: self.values[x.node] if isinstance(x, torch.fx.Proxy) else x)

        def evaluate(self, kind, target, args, kwargs):
            if kind == "get_attr":
                return _fetch_attr(root, target)
            cargs, ckwargs = self.concrete(args), self.concrete(kwargs)
            if kind == "call_function":
                return target(*cargs, **ckwargs)
            if kind == "call_method":
                return getattr(cargs[0], target)(*cargs[1:], **ckwargs)
            if kind == "call_module":
                return root.get_submodule(target)(*cargs, **ckwargs)
            return NotImplemented

        def create_proxy(self, kind, target, args, kwargs, *rest, **kw):
            proxy = super().create_proxy(kind, target, args, kwargs, *rest, **kw)
            node = proxy.node
            node.meta["llmc_module_path"] = self.path[-1]
            if kind == "placeholder":
                if not self.inputs:
                    raise CaptureError(f"{type(root).__name__}.forward takes more "
                                       "inputs than example_inputs gives")
                value = self.inputs.pop(0)
            else:
                self.evaluating += 1
                try:
                    value = self.evaluate(kind, target, args, kwargs)
                finally:
                    self.evaluating -= 1
                if value is NotImplemented:
                    return proxy
            self.values[node] = value
            if kind != "placeholder" and not _holds_tensor(value):
                # A Python value (a size, a shape, a dtype...): the traced
                # code goes on with the value itself.
                if not node.users:
                    node.graph.erase_node(node)
                    del self.values[node]
                return value
            return proxy

    return Tracer()


def _holds_tensor(value):
    import torch
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_tensor(v) for v in value)
    return False


def _fetch_attr(root, target):
    obj = root
    for part in str(target).split("."):
        obj = getattr(obj, part)
    return obj


def _record_values(gm, example_inputs):
    """Runs `gm` on the example inputs; returns {node: value}."""
    import torch
    import torch.fx

    values = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            values[n] = result
            return result

    with torch.no_grad():
        Recorder(gm).run(*example_inputs)
    return values


class _Capture:
    def __init__(self, gm, values, name):
        import torch
        self.torch = torch
        self.gm = gm
        self.values = values
        self.b = _llmc.GraphBuilder(name)
        self.env = {}
        self.constants = 0

    # -- helpers ---------------------------------------------------------
    def where(self, node):
        path = node.meta.get("llmc_module_path") or ""
        if node.op == "call_module":
            path = str(node.target)
        return f"{path}:{node.name}" if path else node.name

    def fail(self, node, what):
        path = node.meta.get("llmc_module_path") or (
            str(node.target) if node.op == "call_module" else "")
        raise CaptureError(
            f"cannot capture {what} (fx node '{node.name}'"
            + (f", in module '{path}'" if path else "") + ")",
            node=path or node.name)

    def is_tensor(self, v):
        return isinstance(v, self.torch.Tensor)

    def arg(self, a):
        """The capture of an fx argument: a value number for tensors, the
        Python value otherwise."""
        import torch.fx
        if isinstance(a, torch.fx.Node):
            if a in self.env:
                return self.env[a]
            return self.values[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.arg(x) for x in a)
        return a

    def constant(self, array, name=None):
        self.constants += 1
        return self.b.constant(name or f"const{self.constants}", np.ascontiguousarray(array))

    def tensor(self, a, like):
        """`a` as a value number: tensors as they are, Python scalars as a
        0-d constant of the dtype of value `like`."""
        if isinstance(a, _Value):
            return a
        dtype = self.b.dtype(like)
        if dtype == "bfloat16":
            c = self.op("graph.constant", [], {"value": f"dense<{float(a)!r}> : tensor<bf16>"},
                        ["tensor<bf16>"])
            return c[0]
        return self.constant(np.array(a, dtype=dtype))

    def op(self, name, operands, attrs=None, types=None, at=""):
        return self.b.op(name, list(operands), list((attrs or {}).items()),
                         list(types or []), at)

    def out_type(self, node):
        v = self.values[node]
        return _tensor_type(v.shape, v.dtype)

    def shape(self, v):
        return list(self.b.shape(v))

    # -- emission ----------------------------------------------------------
    def run(self):
        outputs = []
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                v = self.values[node]
                if not self.is_tensor(v):
                    continue
                self.env[node] = _Value(self.b.input(
                    node.name, _numpy_dtype(v.dtype), list(v.shape)))
            elif node.op == "get_attr":
                v = self.values.get(node)
                if v is None:
                    v = self.values[node] = _fetch_attr(self.gm, node.target)
                if self.is_tensor(v):
                    self.env[node] = _Value(self.constant(_to_numpy(v), str(node.target)))
            elif node.op == "output":
                outputs = node.args[0]
            else:
                if _holds_tensor(self.values[node]):
                    self.emit(node)
        flat = outputs if isinstance(outputs, (tuple, list)) else [outputs]
        names = []
        for i, o in enumerate(flat):
            v = self.arg(o)
            if not isinstance(v, _Value):
                raise CaptureError(f"output {i} is not a tensor computed by the graph")
            name = f"output_{i}" if len(flat) > 1 else "output"
            self.b.output(name, int(v))
            names.append(name)
        return names, isinstance(outputs, (tuple, list))

    def emit(self, node):
        at = self.where(node)
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            handler = _MODULES.get(type(mod).__name__)
            if handler is None:
                self.fail(node, f"module {type(mod).__name__}")
            result = handler(self, node, mod, at)
        elif node.op == "call_function":
            handler = _FUNCTIONS.get(_function_key(node.target))
            if handler is None:
                self.fail(node, f"function {_function_key(node.target)}")
            result = handler(self, node, at)
        elif node.op == "call_method":
            handler = _METHODS.get(node.target)
            if handler is None:
                self.fail(node, f"method Tensor.{node.target}")
            result = handler(self, node, at)
        else:
            self.fail(node, f"fx op {node.op}")
        if isinstance(result, list):
            self.env[node] = [ _Value(r) for r in result ]
        else:
            self.env[node] = _Value(result)


class _Value(int):
    """A value number of the graph builder (distinct from Python ints)."""


def _numpy_dtype(dtype):
    name = _dtype_name(dtype)
    return "bool" if name == "bool" else name


def _to_numpy(t):
    t = t.detach().cpu().contiguous()
    if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16: its bits
        return t.view(__import__("torch").int16).numpy().view(np.uint16)
    return t.numpy()


def _function_key(target):
    if isinstance(target, str):
        return target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    if mod in ("_operator", "operator"):
        return "operator." + name
    if mod.startswith("torch.nn.functional"):
        return "F." + name
    return "torch." + name


def _kw(node, index, name, default=None):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _axis(d, rank):
    return d + rank if d < 0 else d


# -- elementwise -----------------------------------------------------------

def _binary(opname):
    def handle(c, node, at):
        a, b = c.arg(node.args[0]), c.arg(node.args[1] if len(node.args) > 1
                                          else node.kwargs.get("other"))
        like = a if isinstance(a, _Value) else b
        a, b = c.tensor(a, like), c.tensor(b, like)
        alpha = node.kwargs.get("alpha")
        if alpha is not None and alpha != 1:
            b = c.op("graph.mul", [b, c.tensor(alpha, like)], at=at)[0]
        return c.op(opname, [a, b], types=[c.out_type(node)], at=at)[0]
    return handle


def _rbinary(opname):
    def handle(c, node, at):
        a, b = c.arg(node.args[0]), c.arg(node.args[1])
        like = a if isinstance(a, _Value) else b
        return c.op(opname, [c.tensor(b, like), c.tensor(a, like)],
                    types=[c.out_type(node)], at=at)[0]
    return handle


def _unary(opname, attrs=None):
    def handle(c, node, at, *_):
        return c.op(opname, [c.arg(node.args[0])], attrs, [c.out_type(node)], at)[0]
    return handle


def _module_unary(opname, attrs=None):
    def handle(c, node, mod, at):
        return c.op(opname, [c.arg(node.args[0])], attrs, [c.out_type(node)], at)[0]
    return handle


def _gelu(c, node, at, approximate=None):
    if approximate is None:
        approximate = node.kwargs.get("approximate", "none")
    return c.op("graph.gelu", [c.arg(node.args[0])],
                {"approximate": _str(approximate)}, [c.out_type(node)], at)[0]


def _silu(c, x, node, at):
    s = c.op("graph.sigmoid", [x], at=at)[0]
    return c.op("graph.mul", [x, s], types=[c.out_type(node)], at=at)[0]


def _rsqrt(c, node, at):
    s = c.op("graph.sqrt", [c.arg(node.args[0])], at=at)[0]
    return c.op("graph.reciprocal", [s], types=[c.out_type(node)], at=at)[0]


def _clip(c, x, lo, hi, node, at):
    attrs = {}
    if lo is not None:
        attrs["min"] = _f64(lo)
    if hi is not None:
        attrs["max"] = _f64(hi)
    return c.op("graph.clip", [x], attrs, [c.out_type(node)], at)[0]


def _cast(c, node, at):
    return c.op("graph.cast", [c.arg(node.args[0])], types=[c.out_type(node)], at=at)[0]


def _masked_fill(c, node, at):
    x, mask, value = (c.arg(a) for a in node.args[:3])
    fill = c.tensor(value, x)
    return c.op("graph.where", [mask, fill, x], types=[c.out_type(node)], at=at)[0]


def _where(c, node, at):
    cond, a, b = (c.arg(x) for x in node.args[:3])
    like = a if isinstance(a, _Value) else b
    return c.op("graph.where", [cond, c.tensor(a, like), c.tensor(b, like)],
                types=[c.out_type(node)], at=at)[0]


# -- shapes ----------------------------------------------------------------

def _reshape(c, node, at):
    return c.op("graph.reshape", [c.arg(node.args[0])], types=[c.out_type(node)], at=at)[0]


def _identity(c, node, at, *_):
    return c.arg(node.args[0])


def _transpose(c, node, at):
    x = c.arg(node.args[0])
    rank = len(c.shape(x))
    if node.target in ("t",) or getattr(node.target, "__name__", "") == "t":
        d0, d1 = 0, 1 if rank == 2 else 0
    else:
        d0, d1 = _kw(node, 1, "dim0"), _kw(node, 2, "dim1")
    perm = list(range(rank))
    if rank >= 2:
        a, b = _axis(d0, rank), _axis(d1, rank)
        perm[a], perm[b] = perm[b], perm[a]
    return c.op("graph.transpose", [x], {"perm": _array(perm)}, [c.out_type(node)], at)[0]


def _permute(c, node, at):
    x = c.arg(node.args[0])
    dims = node.args[1:] if len(node.args) > 2 or not isinstance(
        node.args[1] if len(node.args) > 1 else None, (tuple, list)) else node.args[1]
    dims = list(c.arg(dims)) if dims else list(c.arg(node.kwargs.get("dims")))
    rank = len(c.shape(x))
    return c.op("graph.transpose", [x], {"perm": _array([_axis(d, rank) for d in dims])},
                [c.out_type(node)], at)[0]


def _slice_along(c, x, axis, start, size, step=1, at="", types=None):
    shape = c.shape(x)
    starts, sizes, steps = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], sizes[axis], steps[axis] = start, size, step
    return c.op("graph.slice", [x], {"starts": _array(starts), "sizes": _array(sizes),
                                     "steps": _array(steps)}, types, at)[0]


def _getitem(c, node, at):
    base = c.arg(node.args[0])
    index = c.arg(node.args[1])
    if isinstance(base, list):  # a tuple of tensors (split, chunk)
        return base[index]
    x = base
    shape = c.shape(x)
    if not isinstance(index, tuple):
        index = (index,)
    # Expand the Ellipsis.
    if any(i is Ellipsis for i in index):
        k = index.index(Ellipsis)
        used = sum(1 for i in index if i is not None and i is not Ellipsis)
        index = index[:k] + (slice(None),) * (len(shape) - used) + index[k + 1:]
    starts, sizes, steps = [], [], []
    axis = 0
    for i in index:
        if i is None:
            continue
        if isinstance(i, _Value) or not isinstance(i, (int, slice)):
            c.fail(node, "indexing with a tensor or a non-constant index")
        n = shape[axis]
        if isinstance(i, int):
            s = i + n if i < 0 else i
            starts.append(s); sizes.append(1); steps.append(1)
        else:
            s, e, st = i.indices(n)
            if st <= 0:
                c.fail(node, "a slice with a non-positive step")
            starts.append(s); sizes.append(max(0, (e - s + st - 1) // st)); steps.append(st)
        axis += 1
    while axis < len(shape):
        starts.append(0); sizes.append(shape[axis]); steps.append(1)
        axis += 1
    y = c.op("graph.slice", [x], {"starts": _array(starts), "sizes": _array(sizes),
                                  "steps": _array(steps)}, at=at)[0]
    return c.op("graph.reshape", [y], types=[c.out_type(node)], at=at)[0]


def _split(c, node, at, chunks=False):
    x = c.arg(node.args[0])
    shape = c.shape(x)
    dim = _axis(_kw(node, 2, "dim", 0), len(shape))
    pieces = c.values[node]
    out, start = [], 0
    for p in pieces:
        size = p.shape[dim]
        out.append(_slice_along(c, x, dim, start, size, at=at,
                                types=[_tensor_type(p.shape, p.dtype)]))
        start += size
    return out


def _cat(c, node, at):
    xs = [c.arg(a) for a in _kw(node, 0, "tensors")]
    dim = _kw(node, 1, "dim", 0)
    rank = len(c.shape(xs[0]))
    return c.op("graph.concat", xs, {"axis": _i64(_axis(dim, rank))},
                [c.out_type(node)], at)[0]


def _expand(c, node, at):
    return c.op("graph.broadcast_to", [c.arg(node.args[0])], types=[c.out_type(node)],
                at=at)[0]


# -- reductions, normalisation, contraction ----------------------------------

def _reduce(kind):
    def handle(c, node, at):
        x = c.arg(node.args[0])
        rank = len(c.shape(x))
        dim = _kw(node, 1, "dim")
        keep = bool(_kw(node, 2, "keepdim", False))
        dims = list(range(rank)) if dim is None else (
            list(dim) if isinstance(dim, (tuple, list)) else [dim])
        return c.op("graph.reduce", [x], {"kind": _str(kind),
                                          "axes": _array([_axis(d, rank) for d in dims]),
                                          "keepdims": _bool(keep)},
                    [c.out_type(node)], at)[0]
    return handle


def _softmax(c, node, at, dim=None, log=False):
    x = c.arg(node.args[0])
    if dim is None:
        dim = _kw(node, 1, "dim")
    rank = len(c.shape(x))
    return c.op("graph.log_softmax" if log else "graph.softmax", [x],
                {"axis": _i64(_axis(dim, rank))}, [c.out_type(node)], at)[0]


def _layer_norm(c, x, normalized, weight, bias, eps, node, at):
    shape = c.shape(x)
    dtype = c.b.dtype(x)
    n = list(normalized)
    if weight is None:
        weight = c.constant(np.ones(n, dtype=dtype))
    if bias is None:
        bias = c.constant(np.zeros(n, dtype=dtype))
    return c.op("graph.layer_norm", [x, weight, bias],
                {"axis": _i64(len(shape) - len(n)), "epsilon": _f64(eps)},
                [c.out_type(node)], at)[0]


def _linear(c, x, weight, bias, node, at):
    rank = len(c.shape(x))
    if rank == 2:
        operands = [x, weight] + ([bias] if bias is not None else [])
        return c.op("graph.gemm", operands,
                    {"alpha": _f64(1.0), "beta": _f64(1.0), "transA": "false",
                     "transB": "true"}, [c.out_type(node)], at)[0]
    wt = c.op("graph.transpose", [weight], {"perm": _array([1, 0])}, at=at)[0]
    y = c.op("graph.matmul", [x, wt], at=at)[0]
    if bias is not None:
        y = c.op("graph.add", [y, bias], at=at)[0]
    return y


def _matmul(c, node, at):
    a, b = c.arg(node.args[0]), c.arg(node.args[1])
    return c.op("graph.matmul", [a, b], types=[c.out_type(node)], at=at)[0]


def _conv(c, node, mod, at):
    if getattr(mod, "padding_mode", "zeros") != "zeros":
        c.fail(node, f"{type(mod).__name__} with padding_mode={mod.padding_mode!r}")
    x = c.arg(node.args[0])
    nd = len(mod.kernel_size)
    if isinstance(mod.padding, str):
        if mod.padding == "valid":
            pad = [0] * nd
        else:
            c.fail(node, f"{type(mod).__name__} with padding={mod.padding!r}")
    else:
        pad = list(mod.padding)
    w = c.constant(_to_numpy(mod.weight), f"{node.target}.weight")
    operands = [x, w]
    if mod.bias is not None:
        operands.append(c.constant(_to_numpy(mod.bias), f"{node.target}.bias"))
    return c.op("graph.conv", operands,
                {"strides": _array(mod.stride), "pads": _array(pad + pad),
                 "dilations": _array(mod.dilation), "group": _i64(mod.groups)},
                [c.out_type(node)], at)[0]


def _param(c, node, mod, name):
    t = getattr(mod, name, None)
    if t is None:
        return None
    return c.constant(_to_numpy(t), f"{node.target}.{name}")


def _batch_norm(c, node, mod, at):
    if mod.training and mod.track_running_stats is False:
        c.fail(node, f"{type(mod).__name__} without running statistics")
    x = c.arg(node.args[0])
    ch = mod.num_features
    dtype = c.b.dtype(x)
    scale = _param(c, node, mod, "weight") if mod.affine else c.constant(np.ones(ch, dtype))
    bias = _param(c, node, mod, "bias") if mod.affine else c.constant(np.zeros(ch, dtype))
    mean, var = _param(c, node, mod, "running_mean"), _param(c, node, mod, "running_var")
    return c.op("graph.batch_norm", [x, scale, bias, mean, var],
                {"epsilon": _f64(mod.eps)}, [c.out_type(node)], at)[0]


def _max_pool(c, node, mod, at):
    if mod.ceil_mode or getattr(mod, "return_indices", False):
        c.fail(node, "MaxPool with ceil_mode or return_indices")
    nd = 2
    k, s = _pair(mod.kernel_size, nd), _pair(mod.stride or mod.kernel_size, nd)
    p, d = _pair(mod.padding, nd), _pair(mod.dilation, nd)
    return c.op("graph.max_pool", [c.arg(node.args[0])],
                {"kernel_shape": _array(k), "strides": _array(s), "pads": _array(p + p),
                 "dilations": _array(d)}, [c.out_type(node)], at)[0]


def _avg_pool(c, node, mod, at):
    if mod.ceil_mode or getattr(mod, "divisor_override", None):
        c.fail(node, "AvgPool with ceil_mode or divisor_override")
    k, s = _pair(mod.kernel_size), _pair(mod.stride or mod.kernel_size)
    p = _pair(mod.padding)
    counted = p + p if mod.count_include_pad else [0] * 4
    return c.op("graph.avg_pool", [c.arg(node.args[0])],
                {"kernel_shape": _array(k), "strides": _array(s), "pads": _array(p + p),
                 "count_pads": _array(counted)}, [c.out_type(node)], at)[0]


def _adaptive_avg_pool(c, node, at, output_size):
    x = c.arg(node.args[0])
    shape = c.shape(x)
    out = _pair(output_size, len(shape) - 2)
    spatial = shape[2:]
    if all(o in (1, None) for o in out):
        return c.op("graph.reduce", [x], {"kind": _str("mean"),
                                          "axes": _array(range(2, len(shape))),
                                          "keepdims": "true"}, [c.out_type(node)], at)[0]
    if [o if o is not None else s for o, s in zip(out, spatial)] == spatial:
        return x
    c.fail(node, f"adaptive average pooling to {tuple(out)} from {tuple(spatial)}")


def _embedding(c, weight, idx, node, at):
    return c.op("graph.gather", [weight, idx], {"axis": _i64(0)}, [c.out_type(node)], at)[0]


def _flatten(c, node, at):
    return _reshape(c, node, at)


_MODULES = {
    "Conv1d": _conv, "Conv2d": _conv,
    "Linear": lambda c, n, m, at: _linear(
        c, c.arg(n.args[0]), _param(c, n, m, "weight"), _param(c, n, m, "bias"), n, at),
    "BatchNorm1d": _batch_norm, "BatchNorm2d": _batch_norm,
    "LayerNorm": lambda c, n, m, at: _layer_norm(
        c, c.arg(n.args[0]), m.normalized_shape,
        _param(c, n, m, "weight") if m.elementwise_affine else None,
        _param(c, n, m, "bias") if m.elementwise_affine else None, m.eps, n, at),
    "ReLU": _module_unary("graph.relu"),
    "ReLU6": lambda c, n, m, at: _clip(c, c.arg(n.args[0]), 0.0, 6.0, n, at),
    "GELU": lambda c, n, m, at: _gelu(c, n, at, getattr(m, "approximate", "none")),
    "Tanh": _module_unary("graph.tanh"),
    "Sigmoid": _module_unary("graph.sigmoid"),
    "SiLU": lambda c, n, m, at: _silu(c, c.arg(n.args[0]), n, at),
    "Hardswish": _module_unary("graph.hard_swish"),
    "Hardsigmoid": _module_unary("graph.hard_sigmoid",
                                 {"alpha": _f64(1.0 / 6.0), "beta": _f64(0.5)}),
    "LeakyReLU": lambda c, n, m, at: c.op("graph.leaky_relu", [c.arg(n.args[0])],
                                          {"alpha": _f64(m.negative_slope)},
                                          [c.out_type(n)], at)[0],
    "MaxPool2d": _max_pool,
    "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool2d": lambda c, n, m, at: _adaptive_avg_pool(c, n, at, m.output_size),
    "Flatten": lambda c, n, m, at: _reshape(c, n, at),
    "Dropout": lambda c, n, m, at: c.arg(n.args[0]),
    "Identity": lambda c, n, m, at: c.arg(n.args[0]),
    "Embedding": lambda c, n, m, at: _embedding(
        c, _param(c, n, m, "weight"), c.arg(n.args[0]), n, at),
    "Softmax": lambda c, n, m, at: _softmax(c, n, at, dim=m.dim),
    "LogSoftmax": lambda c, n, m, at: _softmax(c, n, at, dim=m.dim, log=True),
}

_FUNCTIONS = {
    "operator.add": _binary("graph.add"), "torch.add": _binary("graph.add"),
    "operator.sub": _binary("graph.sub"), "torch.sub": _binary("graph.sub"),
    "operator.mul": _binary("graph.mul"), "torch.mul": _binary("graph.mul"),
    "operator.truediv": _binary("graph.div"), "torch.div": _binary("graph.div"),
    "operator.pow": _binary("graph.pow"), "torch.pow": _binary("graph.pow"),
    "operator.matmul": _matmul, "torch.matmul": _matmul, "torch.bmm": _matmul,
    "operator.neg": _unary("graph.neg"), "torch.neg": _unary("graph.neg"),
    "operator.invert": _unary("graph.not"),
    "operator.getitem": _getitem,
    "torch.relu": _unary("graph.relu"), "F.relu": _unary("graph.relu"),
    "torch.tanh": _unary("graph.tanh"), "torch.sigmoid": _unary("graph.sigmoid"),
    "torch.exp": _unary("graph.exp"), "torch.log": _unary("graph.log"),
    "torch.sqrt": _unary("graph.sqrt"), "torch.rsqrt": _rsqrt,
    "torch.erf": _unary("graph.erf"), "torch.abs": _unary("graph.abs"),
    "F.gelu": _gelu, "torch.gelu": _gelu,
    "torch.linear": lambda c, n, at: _linear(c, c.arg(n.args[0]), c.arg(_kw(n, 1, "weight")),
                                             c.arg(_kw(n, 2, "bias")), n, at),
    "torch.layer_norm": lambda c, n, at: _layer_norm(
        c, c.arg(n.args[0]), c.arg(_kw(n, 1, "normalized_shape")),
        c.arg(_kw(n, 2, "weight")), c.arg(_kw(n, 3, "bias")), _kw(n, 4, "eps", 1e-5),
        n, at),
    "torch.dropout": _identity, "torch.log_softmax":
        lambda c, n, at: _softmax(c, n, at, log=True),
    "torch.adaptive_avg_pool2d": lambda c, n, at: _adaptive_avg_pool(
        c, n, at, c.arg(_kw(n, 1, "output_size"))), "F.silu": lambda c, n, at: _silu(c, c.arg(n.args[0]), n, at),
    "F.hardswish": _unary("graph.hard_swish"),
    "F.softmax": _softmax, "torch.softmax": _softmax,
    "F.log_softmax": lambda c, n, at: _softmax(c, n, at, log=True),
    "F.layer_norm": lambda c, n, at: _layer_norm(
        c, c.arg(n.args[0]), c.arg(_kw(n, 1, "normalized_shape")),
        c.arg(_kw(n, 2, "weight")), c.arg(_kw(n, 3, "bias")), _kw(n, 4, "eps", 1e-5),
        n, at),
    "F.linear": lambda c, n, at: _linear(c, c.arg(n.args[0]), c.arg(_kw(n, 1, "weight")),
                                         c.arg(_kw(n, 2, "bias")), n, at),
    "F.embedding": lambda c, n, at: _embedding(c, c.arg(n.args[1]), c.arg(n.args[0]), n, at),
    "F.dropout": _identity,
    "F.adaptive_avg_pool2d": lambda c, n, at: _adaptive_avg_pool(
        c, n, at, c.arg(_kw(n, 1, "output_size"))),
    "torch.flatten": _flatten, "torch.reshape": _reshape,
    "torch.transpose": _transpose, "torch.permute": _permute,
    "torch.t": _transpose,
    "torch.cat": _cat, "torch.concat": _cat,
    "torch.split": _split, "torch.chunk": _split,
    "torch.unsqueeze": _reshape, "torch.squeeze": _reshape,
    "torch.where": _where, "torch.masked_fill": _masked_fill,
    "torch.mean": _reduce("mean"), "torch.sum": _reduce("sum"),
    "torch.clamp": lambda c, n, at: _clip(c, c.arg(n.args[0]), _kw(n, 1, "min"),
                                          _kw(n, 2, "max"), n, at),
}

_METHODS = {
    "view": _reshape, "reshape": _reshape, "flatten": _reshape,
    "unsqueeze": _reshape, "squeeze": _reshape, "contiguous": _identity,
    "permute": _permute, "transpose": _transpose, "t": _transpose,
    "expand": _expand, "expand_as": _expand,
    "split": _split, "chunk": _split,
    "softmax": _softmax, "masked_fill": _masked_fill,
    "mean": _reduce("mean"), "sum": _reduce("sum"),
    "add": _binary("graph.add"), "sub": _binary("graph.sub"),
    "mul": _binary("graph.mul"), "div": _binary("graph.div"),
    "matmul": _matmul, "relu": _unary("graph.relu"),
    "sigmoid": _unary("graph.sigmoid"), "tanh": _unary("graph.tanh"),
    "exp": _unary("graph.exp"), "sqrt": _unary("graph.sqrt"),
    "float": _cast, "to": _cast, "type_as": _cast, "int": _cast,
    "long": _cast, "bool": _cast, "half": _cast,
    "clamp": lambda c, n, at: _clip(c, c.arg(n.args[0]), _kw(n, 1, "min"),
                                    _kw(n, 2, "max"), n, at),
}


def capture(module, example_inputs, name=None):
    """Traces `module`, records its values on `example_inputs` and returns
    (builder, output names, whether the module returns a tuple)."""
    import torch.fx
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    name = name or type(module).__name__
    was_training = module.training
    module.eval()
    try:
        with __import__("torch").no_grad():
            if isinstance(module, torch.fx.GraphModule):
                gm = module
                values = _record_values(gm, example_inputs)
            else:
                tracer = _make_tracer(module, example_inputs)
                try:
                    graph = tracer.trace(module)
                except LlmcError:
                    raise
                except Exception as e:  # torch.fx's own error: say where
                    raise CaptureError(f"torch.fx cannot trace {name}: {e}") from e
                gm = torch.fx.GraphModule(tracer.root, graph, name)
                values = tracer.values
    finally:
        module.train(was_training)
    c = _Capture(gm, values, name)
    names, is_tuple = c.run()
    return c.b, names, is_tuple
