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
                if not self.inputs and not args:
                    raise CaptureError(f"{type(root).__name__}.forward takes more "
                                       "inputs than example_inputs gives")
                # Parameters past the example inputs take their defaults
                # (args holds the default), as Python values when not tensors.
                value = self.inputs.pop(0) if self.inputs else args[0]
                if not _holds_tensor(value):
                    node.graph.erase_node(node)
                    return value
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
    def __init__(self, gm, values, name, frozen=()):
        import torch
        self.torch = torch
        self.frozen = set(frozen)
        self.gm = gm
        self.values = values
        self.b = _llmc.GraphBuilder(name)
        self.env = {}
        self.constants = 0
        # Nodes whose values do not depend on the graph's inputs (weights,
        # buffers, torch.arange/torch.full masks, RoPE tables, what is
        # computed from them and from shapes): their recorded values are
        # constants.
        self.static = set()

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
        # np.require keeps a 0-d constant 0-d (numpy 1's ascontiguousarray
        # would make it [1]).
        return self.b.constant(name or f"const{self.constants}",
                               np.require(array, requirements="C"))

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
        placeholders = 0
        for node in self.gm.graph.nodes:
            self._note_static(node, placeholders)
            if node.op == "placeholder":
                v = self.values[node]
                placeholders += 1
                if not self.is_tensor(v):
                    continue
                if placeholders - 1 in self.frozen:  # a weight folded in
                    self.env[node] = _Value(self.constant(_to_numpy(v), node.name))
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

    def _note_static(self, node, placeholders):
        if node.op == "placeholder":
            # Weights folded in; sizes (Dynamo's SymInt inputs under
            # dynamic=True) are values of this specialisation.
            if placeholders in self.frozen or not _holds_tensor(self.values.get(node)):
                self.static.add(node)
        elif node.op == "get_attr":
            self.static.add(node)
        elif node.op in ("call_function", "call_method", "call_module"):
            key = (_function_key(node.target) if node.op == "call_function"
                   else node.target if node.op == "call_method" else None)
            if key in _SHAPE_ONLY or all(a in self.static
                                         for a in node.all_input_nodes):
                self.static.add(node)

    def _fold(self, node):
        """The node's recorded value as constants: for an op with no
        handler whose value does not depend on the inputs (torch.arange,
        torch.full, zeros_like...)."""
        value = self.values[node]
        if self.is_tensor(value):
            return self.constant(_to_numpy(value), node.name)
        return [self.constant(_to_numpy(v), f"{node.name}_{i}") if self.is_tensor(v)
                else None for i, v in enumerate(value)]

    def _with_values(self, node):
        """`node`, or a view of it whose arguments that are Python values
        computed in the graph (sizes under Dynamo's dynamic=True: sym_size,
        arithmetic on SymInts) are those values, as the handlers expect."""
        import torch.fx

        def sub(a):
            if isinstance(a, torch.fx.Node) and a in self.values and \
                    not _holds_tensor(self.values[a]):
                return self.values[a]
            if isinstance(a, (list, tuple)):
                return type(a)(sub(x) for x in a)
            if isinstance(a, dict):
                return {k: sub(v) for k, v in a.items()}
            return a
        args, kwargs = sub(node.args), sub(node.kwargs)
        if args == node.args and kwargs == node.kwargs:
            return node
        return _NodeView(node, args, kwargs)

    def emit(self, node):
        original = node
        node = self._with_values(node)
        at = self.where(node)
        key = (_function_key(node.target) if node.op == "call_function" else
               node.target if node.op == "call_method" else None)
        if key in _RANDOM or (isinstance(key, str) and key.split(".")[-1] in _RANDOM_NAMES):
            # Folded, its values would be the example run's on every call.
            self.fail(node, f"random op {key}")
        if node in self.static and node.op != "call_module" and (
                key in _SHAPE_ONLY or key in _FACTORIES or
                (_FUNCTIONS if node.op == "call_function" else _METHODS).get(key) is None):
            result = self._fold(node)
        elif node.op == "call_module":
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
            self.env[original] = [_Value(r) if r is not None else None for r in result]
        else:
            self.env[original] = _Value(result)


class _Value(int):
    """A value number of the graph builder (distinct from Python ints)."""


class _NodeView:
    """An fx node with other args and kwargs (see _Capture._with_values); it
    is the node for every other purpose, dict keys included."""

    def __init__(self, node, args, kwargs):
        self._node, self.args, self.kwargs = node, args, kwargs

    def __getattr__(self, name):
        return getattr(self._node, name)

    def __hash__(self):
        return hash(self._node)

    def __eq__(self, other):
        return self._node is (other._node if isinstance(other, _NodeView) else other)


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
    packet = getattr(target, "overloadpacket", None)
    if packet is not None:  # an ATen OpOverload (torch.export): aten.add.Tensor
        # In-place variants (add_, relu_) read as their values: the graph is
        # dataflow, and the traced code uses the returned value.
        return "aten." + packet.__name__.rstrip("_")
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    if mod in ("_operator", "operator"):
        return "operator." + name
    if mod.startswith("torch.nn.functional"):
        return "F." + name
    if mod == "torch._C._nn" and name in ("linear", "gelu"):
        return "torch." + name
    return "torch." + name


def _kw(node, index, name, default=None):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _axis(d, rank):
    return d + rank if d < 0 else d


# -- elementwise -----------------------------------------------------------

def _cast_to(c, v, dtype, at):
    """Value `v` converted to numpy dtype name `dtype` (a no-op when it is)."""
    if c.b.dtype(v) == dtype:
        return v
    return c.op("graph.cast", [v], types=[_tensor_type(c.shape(v), dtype)], at=at)[0]


def _promoted(c, node, a, b, at, compare=False):
    """Operands `a` and `b` (values or Python scalars) in the dtype PyTorch
    computes `node` in: its result's for arithmetic (so int tensor / float
    scalar, float16 + float32 and bool * float follow torch's promotion),
    torch.result_type of the operands for a comparison."""
    import torch
    if compare:
        def probe(x, raw):
            return c.values[raw] if isinstance(x, _Value) else x
        raws = (node.args + (node.kwargs.get("other"),))[:2]
        dtype = _dtype_name(torch.result_type(probe(a, raws[0]), probe(b, raws[1])))
    else:
        dtype = _dtype_name(c.values[node].dtype)
    if dtype == "bool" and not compare:  # logical ops on bools stay bool
        dtype = c.b.dtype(a if isinstance(a, _Value) else b)
    tensors = [_cast_to(c, x, dtype, at) if isinstance(x, _Value) else None
               for x in (a, b)]
    like = tensors[0] if tensors[0] is not None else tensors[1]
    return [t if t is not None else c.tensor(x, like) for t, x in zip(tensors, (a, b))]


def _binary(opname):
    def handle(c, node, at):
        a, b = c.arg(node.args[0]), c.arg(node.args[1] if len(node.args) > 1
                                          else node.kwargs.get("other"))
        alpha = node.kwargs.get("alpha")
        if alpha is not None and alpha != 1:
            b = b * alpha if not isinstance(b, _Value) else c.op(
                "graph.mul", [b, c.tensor(alpha, b)], at=at)[0]
        a, b = _promoted(c, node, a, b, at)
        return c.op(opname, [a, b], types=[c.out_type(node)], at=at)[0]
    return handle


def _compare(opname, swap=False):
    def handle(c, node, at):
        a, b = c.arg(node.args[0]), c.arg(node.args[1] if len(node.args) > 1
                                          else node.kwargs.get("other"))
        a, b = _promoted(c, node, a, b, at, compare=True)
        if swap:
            a, b = b, a
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
    if _function_key(node.target) in ("t", "torch.t", "aten.t"):
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


def _conv_fn(c, node, x, w, b, stride, padding, dilation, groups, at):
    nd = len(c.shape(w)) - 2
    if isinstance(padding, str):
        if padding != "valid":
            c.fail(node, f"convolution with padding={padding!r}")
        padding = 0
    pad = _pair(padding, nd)
    operands = [x, w] + ([b] if b is not None else [])
    return c.op("graph.conv", operands,
                {"strides": _array(_pair(stride, nd)), "pads": _array(pad + pad),
                 "dilations": _array(_pair(dilation, nd)), "group": _i64(groups)},
                [c.out_type(node)], at)[0]


def _conv(c, node, mod, at):
    if getattr(mod, "padding_mode", "zeros") != "zeros":
        c.fail(node, f"{type(mod).__name__} with padding_mode={mod.padding_mode!r}")
    return _conv_fn(c, node, c.arg(node.args[0]), _param(c, node, mod, "weight"),
                    _param(c, node, mod, "bias"), mod.stride, mod.padding, mod.dilation,
                    mod.groups, at)


def _conv_call(c, node, at):
    """torch.conv2d / aten.conv2d (input, weight, bias, stride, padding,
    dilation, groups)."""
    a = [c.arg(_kw(node, i, k, d)) for i, (k, d) in enumerate(
        [("input", None), ("weight", None), ("bias", None), ("stride", 1),
         ("padding", 0), ("dilation", 1), ("groups", 1)])]
    return _conv_fn(c, node, *a, at)


def _param(c, node, mod, name):
    t = getattr(mod, name, None)
    if t is None:
        return None
    return c.constant(_to_numpy(t), f"{node.target}.{name}")


def _batch_norm_fn(c, node, x, mean, var, weight, bias, eps, at):
    if mean is None or var is None:
        c.fail(node, "batch normalisation without running statistics")
    ch = c.shape(x)[1]
    dtype = c.b.dtype(x)
    weight = weight if weight is not None else c.constant(np.ones(ch, dtype))
    bias = bias if bias is not None else c.constant(np.zeros(ch, dtype))
    return c.op("graph.batch_norm", [x, weight, bias, mean, var],
                {"epsilon": _f64(eps)}, [c.out_type(node)], at)[0]


def _batch_norm(c, node, mod, at):
    return _batch_norm_fn(c, node, c.arg(node.args[0]),
                          _param(c, node, mod, "running_mean"),
                          _param(c, node, mod, "running_var"),
                          _param(c, node, mod, "weight") if mod.affine else None,
                          _param(c, node, mod, "bias") if mod.affine else None,
                          mod.eps, at)


def _batch_norm_call(c, node, at, aten=False):
    """F.batch_norm(input, running_mean, running_var, weight, bias, training,
    momentum, eps) or aten.batch_norm(input, weight, bias, running_mean,
    running_var, training, momentum, eps, cudnn_enabled): inference only."""
    names = (["input", "weight", "bias", "running_mean", "running_var"] if aten else
             ["input", "running_mean", "running_var", "weight", "bias"])
    a = dict((k, c.arg(_kw(node, i, k))) for i, k in enumerate(names))
    if _kw(node, 5, "training", False):
        c.fail(node, "batch normalisation in training mode")
    return _batch_norm_fn(c, node, a["input"], a["running_mean"], a["running_var"],
                          a["weight"], a["bias"], _kw(node, 7, "eps", 1e-5), at)


def _max_pool_fn(c, node, x, kernel, stride, padding, dilation, ceil_mode, at):
    if ceil_mode:
        c.fail(node, "max pooling with ceil_mode")
    k = _pair(kernel)
    s_, p, d = _pair(stride or kernel), _pair(padding), _pair(dilation)
    return c.op("graph.max_pool", [x],
                {"kernel_shape": _array(k), "strides": _array(s_), "pads": _array(p + p),
                 "dilations": _array(d)}, [c.out_type(node)], at)[0]


def _max_pool(c, node, mod, at):
    if getattr(mod, "return_indices", False):
        c.fail(node, "MaxPool with return_indices")
    return _max_pool_fn(c, node, c.arg(node.args[0]), mod.kernel_size, mod.stride,
                        mod.padding, mod.dilation, mod.ceil_mode, at)


def _max_pool_call(c, node, at):
    if _kw(node, 6, "return_indices", False):
        c.fail(node, "max pooling with return_indices")
    return _max_pool_fn(c, node, c.arg(node.args[0]), _kw(node, 1, "kernel_size"),
                        _kw(node, 2, "stride"), _kw(node, 3, "padding", 0),
                        _kw(node, 4, "dilation", 1), _kw(node, 5, "ceil_mode", False), at)


def _avg_pool_fn(c, node, x, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override, at):
    if ceil_mode or divisor_override:
        c.fail(node, "average pooling with ceil_mode or divisor_override")
    k, s_ = _pair(kernel), _pair(stride or kernel)
    p = _pair(padding)
    counted = p + p if count_include_pad else [0] * 4
    return c.op("graph.avg_pool", [x],
                {"kernel_shape": _array(k), "strides": _array(s_), "pads": _array(p + p),
                 "count_pads": _array(counted)}, [c.out_type(node)], at)[0]


def _avg_pool(c, node, mod, at):
    return _avg_pool_fn(c, node, c.arg(node.args[0]), mod.kernel_size, mod.stride,
                        mod.padding, mod.ceil_mode, mod.count_include_pad,
                        getattr(mod, "divisor_override", None), at)


def _avg_pool_call(c, node, at):
    return _avg_pool_fn(c, node, c.arg(node.args[0]), _kw(node, 1, "kernel_size"),
                        _kw(node, 2, "stride"), _kw(node, 3, "padding", 0),
                        _kw(node, 4, "ceil_mode", False),
                        _kw(node, 5, "count_include_pad", True),
                        _kw(node, 6, "divisor_override"), at)


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


def _attention(c, q, k, v, mask, is_causal, scale, at):
    """softmax(q k^T * scale + mask) v over the last two dims, q: (..., L, d),
    k and v: (..., S, d). A bool mask keeps where true (SDPA's convention)."""
    qs, ks = c.shape(q), c.shape(k)
    rank, d = len(qs), qs[-1]
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    kt = c.op("graph.transpose", [k], {"perm": _array(perm)}, at=at)[0]
    scores = c.op("graph.matmul", [q, kt], at=at)[0]
    scale = scale if scale is not None else 1.0 / float(d) ** 0.5
    scores = c.op("graph.mul", [scores, c.tensor(scale, q)], at=at)[0]
    if is_causal:
        L, S = qs[-2], ks[-2]
        mask = c.constant(np.tril(np.ones((L, S), dtype=bool)))
    if mask is not None:
        if c.b.dtype(mask) == "bool":
            scores = c.op("graph.where", [mask, scores, c.tensor(float("-inf"), q)],
                          at=at)[0]
        else:
            scores = c.op("graph.add", [scores, mask], at=at)[0]
    probs = c.op("graph.softmax", [scores], {"axis": _i64(rank - 1)}, at=at)[0]
    return c.op("graph.matmul", [probs, v], at=at)[0], probs


def _sdpa(c, node, at):
    if _kw(node, 4, "dropout_p", 0.0):
        c.fail(node, "scaled_dot_product_attention with dropout")
    q, k, v = (c.arg(a) for a in node.args[:3])
    if _kw(node, 7, "enable_gqa", False):
        # Grouped queries: each KV head serves heads(q) / heads(k) query heads.
        hq, hk = c.shape(q)[-3], c.shape(k)[-3]
        if hq % hk:
            c.fail(node, f"grouped-query attention of {hq} query heads over {hk} KV heads")
        if hq != hk:
            def repeat(t):
                shape = c.shape(t)
                shape[-3] = hq
                return _repeat_interleave_to(c, t, hq // hk, len(shape) - 3,
                                             _tensor_type(shape, c.b.dtype(t)), at)
            k, v = repeat(k), repeat(v)
    out, _ = _attention(c, q, k, v, c.arg(_kw(node, 3, "attn_mask")),
                        _kw(node, 5, "is_causal", False), _kw(node, 6, "scale"), at)
    return out


def _mha_core(c, node, query, key, value, heads, w_in, b_in, w_out, b_out,
              need_weights, average, at):
    """nn.MultiheadAttention on (L, N, E) inputs with packed in-projection:
    returns the output (L, N, E) and the attention weights (N, L, S), averaged
    over heads, or None."""
    L, N, E = c.shape(query)
    S = c.shape(key)[0]
    hd = E // heads

    def heads_first(x, i, length):
        w = _slice_along(c, w_in, 0, i * E, E, at=at)
        b = _slice_along(c, b_in, 0, i * E, E, at=at) if b_in is not None else None
        wt = c.op("graph.transpose", [w], {"perm": _array([1, 0])}, at=at)[0]
        y = c.op("graph.matmul", [x, wt], at=at)[0]
        if b is not None:
            y = c.op("graph.add", [y, b], at=at)[0]
        y = c.op("graph.transpose", [y], {"perm": _array([1, 0, 2])}, at=at)[0]
        y = c.op("graph.reshape", [y], types=[_tensor_type((N, length, heads, hd),
                                                           c.b.dtype(x))], at=at)[0]
        return c.op("graph.transpose", [y], {"perm": _array([0, 2, 1, 3])}, at=at)[0]

    q, k, v = heads_first(query, 0, L), heads_first(key, 1, S), heads_first(value, 2, S)
    o, probs = _attention(c, q, k, v, None, False, None, at)
    dtype = c.b.dtype(query)
    o = c.op("graph.transpose", [o], {"perm": _array([2, 0, 1, 3])}, at=at)[0]
    o = c.op("graph.reshape", [o], types=[_tensor_type((L, N, E), dtype)], at=at)[0]
    wt = c.op("graph.transpose", [w_out], {"perm": _array([1, 0])}, at=at)[0]
    o = c.op("graph.matmul", [o, wt], at=at)[0]
    if b_out is not None:
        o = c.op("graph.add", [o, b_out], at=at)[0]
    weights = None
    if need_weights:
        weights = probs if not average else c.op(
            "graph.reduce", [probs], {"kind": _str("mean"), "axes": _array([1]),
                                      "keepdims": "false"}, at=at)[0]
    return o, weights


def _mha_check(c, node, unbatched, masks, separate, bias_kv, zero_attn, dropout):
    if unbatched:
        c.fail(node, "multi-head attention on unbatched (2-D) inputs")
    if any(m is not None for m in masks):
        c.fail(node, "multi-head attention with an attention or key padding mask")
    if separate or bias_kv or zero_attn:
        c.fail(node, "multi-head attention with separate projections, bias_k/bias_v "
               "or add_zero_attn")
    if dropout:
        c.fail(node, "multi-head attention with dropout in training mode")


def _mha_module(c, node, mod, at):
    query, key, value = (c.arg(_kw(node, i, k)) for i, k in
                         enumerate(["query", "key", "value"]))
    _mha_check(c, node, len(c.shape(query)) != 3,
               [node.kwargs.get("key_padding_mask"), node.kwargs.get("attn_mask")] +
               list(node.args[4:5]) + list(node.args[6:7]),
               not mod._qkv_same_embed_dim, mod.bias_k is not None, mod.add_zero_attn,
               False)
    if mod.batch_first:
        query, key, value = (c.op("graph.transpose", [x], {"perm": _array([1, 0, 2])},
                                  at=at)[0] for x in (query, key, value))
    need = bool(_kw(node, 4, "need_weights", True))
    out, weights = _mha_core(
        c, node, query, key, value, mod.num_heads, _param(c, node, mod, "in_proj_weight"),
        _param(c, node, mod, "in_proj_bias"),
        c.constant(_to_numpy(mod.out_proj.weight), f"{node.target}.out_proj.weight"),
        c.constant(_to_numpy(mod.out_proj.bias), f"{node.target}.out_proj.bias")
        if mod.out_proj.bias is not None else None,
        need, bool(node.kwargs.get("average_attn_weights", True)), at)
    if mod.batch_first:
        out = c.op("graph.transpose", [out], {"perm": _array([1, 0, 2])}, at=at)[0]
    return [out, weights]


_MHA_ARGS = ["query", "key", "value", "embed_dim_to_check", "num_heads", "in_proj_weight",
             "in_proj_bias", "bias_k", "bias_v", "add_zero_attn", "dropout_p",
             "out_proj_weight", "out_proj_bias", "training", "key_padding_mask",
             "need_weights", "attn_mask", "use_separate_proj_weight"]


def _mha_call(c, node, at):
    """F.multi_head_attention_forward, what Dynamo records for the module."""
    a = {k: c.arg(_kw(node, i, k)) for i, k in enumerate(_MHA_ARGS)}
    _mha_check(c, node, len(c.shape(a["query"])) != 3,
               [a["key_padding_mask"], a["attn_mask"]], a["use_separate_proj_weight"],
               a["bias_k"] is not None, a["add_zero_attn"],
               a["training"] and a["dropout_p"])
    if node.kwargs.get("is_causal"):
        c.fail(node, "multi-head attention with is_causal")
    need = a["need_weights"] if a["need_weights"] is not None else True
    out, weights = _mha_core(c, node, a["query"], a["key"], a["value"], a["num_heads"],
                             a["in_proj_weight"], a["in_proj_bias"], a["out_proj_weight"],
                             a["out_proj_bias"], need,
                             node.kwargs.get("average_attn_weights", True), at)
    return [out, weights]


def _select(c, node, at):
    """aten.select.int(x, dim, index): one index along dim, dim removed."""
    x = c.arg(node.args[0])
    shape = c.shape(x)
    dim = _axis(node.args[1], len(shape))
    i = node.args[2] + shape[dim] if node.args[2] < 0 else node.args[2]
    y = _slice_along(c, x, dim, i, 1, at=at)
    return c.op("graph.reshape", [y], types=[c.out_type(node)], at=at)[0]


def _aten_slice(c, node, at):
    """aten.slice.Tensor(x, dim, start, end, step)."""
    x = c.arg(node.args[0])
    shape = c.shape(x)
    dim = _axis(_kw(node, 1, "dim", 0), len(shape))
    start, end = _kw(node, 2, "start"), _kw(node, 3, "end")
    step = _kw(node, 4, "step", 1)
    s, e, st = slice(start, end, step).indices(shape[dim])
    return _slice_along(c, x, dim, s, max(0, (e - s + st - 1) // st), st, at,
                        [c.out_type(node)])


def _rsub(c, node, at):
    """aten.rsub(x, other, alpha): other - alpha * x."""
    x = c.arg(node.args[0])
    other = c.tensor(c.arg(node.args[1]), x)
    alpha = _kw(node, 2, "alpha", 1)
    if alpha != 1:
        x = c.op("graph.mul", [x, c.tensor(alpha, x)], at=at)[0]
    return c.op("graph.sub", [other, x], types=[c.out_type(node)], at=at)[0]


def _not(c, node, at):
    x = c.arg(node.args[0])
    name = "graph.not" if c.b.dtype(x) == "bool" else "graph.bitwise_not"
    return c.op(name, [x], types=[c.out_type(node)], at=at)[0]


def _embedding(c, weight, idx, node, at):
    return c.op("graph.gather", [weight, idx], {"axis": _i64(0)}, [c.out_type(node)], at)[0]


def _flatten(c, node, at):
    return _reshape(c, node, at)


def _repeat_interleave_fn(c, node, x, repeats, dim, at):
    """Each slice along `dim` repeated `repeats` times in place
    (GQA's KV heads): reshape, broadcast, reshape."""
    if isinstance(repeats, _Value) or not isinstance(repeats, int):
        c.fail(node, "repeat_interleave with a tensor of repeats")
    shape = c.shape(x)
    if dim is None:
        x = c.op("graph.reshape", [x], types=[_tensor_type(
            [int(np.prod(shape))], c.b.dtype(x))], at=at)[0]
        shape, dim = c.shape(x), 0
    return _repeat_interleave_to(c, x, repeats, _axis(dim, len(shape)),
                                 c.out_type(node), at)


def _repeat_interleave_to(c, x, repeats, dim, out_type, at):
    shape, dtype = c.shape(x), c.b.dtype(x)
    one = shape[:dim + 1] + [1] + shape[dim + 1:]
    wide = shape[:dim + 1] + [repeats] + shape[dim + 1:]
    y = c.op("graph.reshape", [x], types=[_tensor_type(one, dtype)], at=at)[0]
    y = c.op("graph.broadcast_to", [y], types=[_tensor_type(wide, dtype)], at=at)[0]
    return c.op("graph.reshape", [y], types=[out_type], at=at)[0]


def _repeat_interleave(c, node, at):
    x = c.arg(node.args[0])
    return _repeat_interleave_fn(c, node, x, c.arg(_kw(node, 1, "repeats")),
                                 _kw(node, 2, "dim"), at)


def _topk(c, node, at):
    """torch.topk(x, k, dim=-1, largest=True, sorted=True): [values, indices]."""
    x = c.arg(node.args[0])
    rank = len(c.shape(x))
    values, indices = c.values[node]
    return c.op("graph.topk", [x], {
        "k": _i64(_kw(node, 1, "k")), "axis": _i64(_axis(_kw(node, 2, "dim", -1), rank)),
        "largest": _bool(_kw(node, 3, "largest", True)),
        "sorted": _bool(_kw(node, 4, "sorted", True))},
        [_tensor_type(values.shape, values.dtype),
         _tensor_type(indices.shape, indices.dtype)], at)


def _scatter(c, node, at):
    """torch.scatter(x, dim, index, src or value, reduce=None)."""
    x = c.arg(node.args[0])
    rank = len(c.shape(x))
    dim = _axis(_kw(node, 1, "dim"), rank)
    index = c.arg(_kw(node, 2, "index"))
    src = c.arg(_kw(node, 3, "src", node.kwargs.get("value")))
    reduce = node.kwargs.get("reduce")
    kinds = {None: "none", "add": "add", "sum": "add", "multiply": "mul",
             "prod": "mul", "amax": "max", "amin": "min"}
    if reduce not in kinds or node.kwargs.get("include_self") is False:
        c.fail(node, f"scatter with reduce={reduce!r}")
    if not isinstance(src, _Value):  # a scalar value: one per index
        src = c.op("graph.broadcast_to", [c.tensor(src, x)],
                   types=[_tensor_type(c.shape(index), c.b.dtype(x))], at=at)[0]
    src = _cast_to(c, src, c.b.dtype(x), at)
    return c.op("graph.scatter_elements", [x, index, src],
                {"axis": _i64(dim), "reduction": _str(kinds[reduce])},
                [c.out_type(node)], at)[0]


def _einsum(c, node, at):
    """torch.einsum(equation, *operands), operands also as one list."""
    equation = node.args[0].replace(" ", "")
    operands = node.args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    xs = [c.arg(o) for o in operands]
    if "..." in equation:
        c.fail(node, f"einsum with an ellipsis ('{equation}')")
    if "->" not in equation:  # implicit form: letters seen once, sorted
        letters = equation.replace(",", "")
        equation += "->" + "".join(sorted(l for l in set(letters) if letters.count(l) == 1))
    return c.op("graph.einsum", xs, {"equation": _str(equation)},
                [c.out_type(node)], at)[0]


def _stack(c, node, at):
    xs = [c.arg(a) for a in _kw(node, 0, "tensors")]
    shape = c.shape(xs[0])
    dim = _axis(_kw(node, 1, "dim", 0), len(shape) + 1)
    one = shape[:dim] + [1] + shape[dim:]
    parts = [c.op("graph.reshape", [x], types=[_tensor_type(one, c.b.dtype(x))],
                  at=at)[0] for x in xs]
    if len(parts) == 1:
        return parts[0]
    return c.op("graph.concat", parts, {"axis": _i64(dim)}, [c.out_type(node)], at)[0]


def _trilu(upper):
    def handle(c, node, at):
        return c.op("graph.trilu", [c.arg(node.args[0])],
                    {"upper": _bool(upper), "k": _i64(_kw(node, 1, "diagonal", 0))},
                    [c.out_type(node)], at)[0]
    return handle


# Ops whose value depends only on their operands' shapes and dtypes: a
# constant whatever the inputs hold.
_SHAPE_ONLY = {
    "torch.zeros_like", "torch.ones_like", "torch.full_like", "torch.empty_like",
    "aten.zeros_like", "aten.ones_like", "aten.full_like", "aten.empty_like",
    "zeros_like", "ones_like", "new_zeros", "new_ones", "new_full", "new_empty",
    "aten.new_zeros", "aten.new_ones", "aten.new_full", "aten.new_empty",
    "aten.sym_size", "aten.scalar_tensor",
}
# Random ops: never folded (every call draws anew), never captured.
_RANDOM_NAMES = {"rand", "randn", "randint", "rand_like", "randn_like",
                 "randint_like", "randperm", "bernoulli", "multinomial", "normal",
                 "normal_", "uniform_", "exponential_", "poisson", "random_",
                 "native_dropout"}
_RANDOM = {f"torch.{n}" for n in _RANDOM_NAMES} | {f"aten.{n}" for n in _RANDOM_NAMES}
# Tensor factories: folded to their values.
_FACTORIES = {
    "torch.arange", "torch.full", "torch.zeros", "torch.ones", "torch.empty",
    "torch.tensor", "torch.eye", "torch.linspace",
    "aten.arange", "aten.full", "aten.zeros", "aten.ones", "aten.empty",
    "aten.eye", "aten.linspace", "aten.lift_fresh_copy", "aten.scalar_tensor",
}


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
    "MultiheadAttention": _mha_module,
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
    # What Dynamo (torch.compile) records for modules.
    "operator.iadd": _binary("graph.add"), "operator.imul": _binary("graph.mul"),
    "torch.conv1d": _conv_call, "torch.conv2d": _conv_call,
    "F.conv1d": _conv_call, "F.conv2d": _conv_call,
    "F.batch_norm": _batch_norm_call,
    "F.max_pool2d": _max_pool_call, "torch.max_pool2d": _max_pool_call,
    "F.avg_pool2d": _avg_pool_call,
    "F.hardsigmoid": _unary("graph.hard_sigmoid",
                            {"alpha": _f64(1.0 / 6.0), "beta": _f64(0.5)}),
    "F.relu6": lambda c, n, at: _clip(c, c.arg(n.args[0]), 0.0, 6.0, n, at),
    "F.sigmoid": _unary("graph.sigmoid"), "F.tanh": _unary("graph.tanh"),
    "F.multi_head_attention_forward": _mha_call,
    "F.scaled_dot_product_attention": _sdpa,
    "torch.scaled_dot_product_attention": _sdpa,
    "torch.repeat_interleave": _repeat_interleave,
    "torch.topk": _topk, "torch.scatter": _scatter, "torch.einsum": _einsum,
    "torch.stack": _stack, "torch.triu": _trilu(True), "torch.tril": _trilu(False),
    "torch.cos": _unary("graph.cos"), "torch.sin": _unary("graph.sin"),
    "torch.eq": _compare("graph.equal"), "operator.eq": _compare("graph.equal"),
    "torch.lt": _compare("graph.less"), "operator.lt": _compare("graph.less"),
    "torch.le": _compare("graph.less_equal"), "operator.le": _compare("graph.less_equal"),
    "torch.gt": _compare("graph.greater"), "operator.gt": _compare("graph.greater"),
    "torch.ge": _compare("graph.greater_equal"),
    "operator.ge": _compare("graph.greater_equal"),
}

# What torch.export records: ATen ops, keyed without their overload name
# (aten.add.Tensor and aten.add.Scalar are both "aten.add").
_ATEN = {
    "add": _binary("graph.add"), "sub": _binary("graph.sub"),
    "mul": _binary("graph.mul"), "div": _binary("graph.div"),
    "pow": _binary("graph.pow"), "rsub": _rsub,
    "neg": _unary("graph.neg"), "relu": _unary("graph.relu"),
    "tanh": _unary("graph.tanh"), "sigmoid": _unary("graph.sigmoid"),
    "exp": _unary("graph.exp"), "log": _unary("graph.log"),
    "sqrt": _unary("graph.sqrt"), "rsqrt": _rsqrt, "erf": _unary("graph.erf"),
    "abs": _unary("graph.abs"), "bitwise_not": _not, "logical_not": _not,
    "gelu": _gelu, "silu": lambda c, n, at: _silu(c, c.arg(n.args[0]), n, at),
    "hardswish": _unary("graph.hard_swish"),
    "hardsigmoid": _FUNCTIONS["F.hardsigmoid"],
    "hardtanh": lambda c, n, at: _clip(c, c.arg(n.args[0]), _kw(n, 1, "min_val", -1.0),
                                       _kw(n, 2, "max_val", 1.0), n, at),
    "clamp": _FUNCTIONS["torch.clamp"],
    "conv1d": _conv_call, "conv2d": _conv_call,
    "batch_norm": lambda c, n, at: _batch_norm_call(c, n, at, aten=True),
    "max_pool2d": _max_pool_call, "avg_pool2d": _avg_pool_call,
    "adaptive_avg_pool2d": _FUNCTIONS["F.adaptive_avg_pool2d"],
    "linear": _FUNCTIONS["torch.linear"], "matmul": _matmul, "bmm": _matmul,
    "mm": _matmul,
    "layer_norm": _FUNCTIONS["F.layer_norm"],
    "softmax": _softmax, "log_softmax": _FUNCTIONS["torch.log_softmax"],
    "embedding": lambda c, n, at: _embedding(c, c.arg(n.args[0]), c.arg(n.args[1]), n, at),
    "scaled_dot_product_attention": _sdpa,
    "dropout": _identity, "alias": _identity, "contiguous": _identity,
    "clone": _identity, "detach": _identity,
    "view": _reshape, "reshape": _reshape, "flatten": _reshape,
    "unflatten": _reshape, "unsqueeze": _reshape, "squeeze": _reshape,
    "permute": _permute, "transpose": _transpose, "t": _transpose,
    "expand": _expand, "cat": _cat, "split": _split, "chunk": _split,
    "select": _select, "slice": _aten_slice,
    "masked_fill": _masked_fill, "where": _where,
    "mean": _reduce("mean"), "sum": _reduce("sum"),
    "to": _cast, "_to_copy": _cast,
    "repeat_interleave": _repeat_interleave, "topk": _topk, "scatter": _scatter,
    "einsum": lambda c, n, at: _einsum(c, n, at), "stack": _stack,
    "triu": _trilu(True), "tril": _trilu(False),
    "cos": _unary("graph.cos"), "sin": _unary("graph.sin"),
    "eq": _compare("graph.equal"), "lt": _compare("graph.less"),
    "le": _compare("graph.less_equal"), "gt": _compare("graph.greater"),
    "ge": _compare("graph.greater_equal"),
}
_FUNCTIONS.update({"aten." + k: v for k, v in _ATEN.items()})

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
    "pow": _binary("graph.pow"), "rsqrt": _rsqrt, "neg": _unary("graph.neg"),
    "log": _unary("graph.log"), "abs": _unary("graph.abs"),
    "cos": _unary("graph.cos"), "sin": _unary("graph.sin"),
    "repeat_interleave": _repeat_interleave, "topk": _topk, "scatter": _scatter,
    "triu": _trilu(True), "tril": _trilu(False),
    "double": _cast, "bfloat16": _cast,
    "eq": _compare("graph.equal"), "lt": _compare("graph.less"),
    "le": _compare("graph.less_equal"), "gt": _compare("graph.greater"),
    "ge": _compare("graph.greater_equal"),
    "__getitem__": _getitem,
}


def capture(module, example_inputs, name=None, frozen=()):
    """Traces `module`, records its values on `example_inputs` and returns
    (builder, output names, whether the module returns a tuple). For a
    ready-made GraphModule (Dynamo, torch.export), placeholders whose
    positions are in `frozen` are folded in as constants (weights)."""
    import torch.fx
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    name = name or type(module).__name__
    # Inference: modules are traced in eval mode (dropout off, running
    # statistics). Ready-made graphs (Dynamo, torch.export) are taken as
    # they are.
    ready = isinstance(module, torch.fx.GraphModule)
    was_training = module.training
    if not ready:
        module.eval()
    try:
        with __import__("torch").no_grad():
            if ready:
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
        if not ready:
            module.train(was_training)
    c = _Capture(gm, values, name, frozen)
    names, is_tuple = c.run()
    return c.b, names, is_tuple
