"""llmc: a deep-learning graph compiler, from Python.

    import llmc
    exe = llmc.compile("model.onnx")                 # a path, bytes or onnx.ModelProto
    (y,) = exe(x)                                    # numpy in, numpy out
    exe.save("model.llmcx"); exe = llmc.load("model.llmcx")

    exe = llmc.compile(torch_module, example_inputs=(x,))   # captured with torch.fx
    y = exe(x)                                       # torch in, torch out

    llmc.passes.run(mlir_text, "builtin.module(canonicalize)")

Errors are raised as llmc.errors.* exceptions (CompileError with the ONNX
node or module path in `.node`, InputError, LoadError, PipelineError).
"""

import os
import tempfile
from collections import namedtuple

import numpy as np

from . import _llmc, errors, passes
from .report import Kernel, Report
from .errors import (CaptureError, CompileError, InputError, LlmcError,
                     LoadError, PipelineError, UnsupportedError)

__all__ = ["compile", "load", "Executable", "DeviceArray", "TensorInfo",
           "Report", "Kernel",
           "passes", "errors",
           "register_torch_backend", "LlmcError", "CompileError",
           "UnsupportedError", "CaptureError", "LoadError", "InputError",
           "PipelineError"]

#: An array on the GPU a CUDA executable runs on (Executable.to_device).
DeviceArray = _llmc.DeviceArray

TensorInfo = namedtuple("TensorInfo", "name shape dtype")
TensorInfo.__doc__ = "Name, shape (tuple) and dtype (numpy name) of a tensor."


def _is_torch_tensor(x):
    t = type(x)
    return t.__module__.startswith("torch") and t.__name__ in ("Tensor", "Parameter")


def _to_numpy(x, writable=False):
    """A numpy view of `x` (no copy where possible); `writable` for a
    donated input, which the run updates in place (DLPack views are
    read-only)."""
    if isinstance(x, np.ndarray):
        return x
    if _is_torch_tensor(x):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16: its bits
            x = x.view(__import__("torch").int16)
        if writable:
            try:
                return x.numpy()  # shares the tensor's memory, writable
            except (TypeError, RuntimeError):
                pass
        try:
            return np.from_dlpack(x)  # no copy
        except (TypeError, RuntimeError, BufferError, AttributeError):
            return x.numpy()
    return np.asarray(x)


def _to_torch(a, dtype):
    import torch
    if dtype == "bfloat16":
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    try:
        return torch.utils.dlpack.from_dlpack(a)  # no copy
    except (TypeError, RuntimeError, BufferError, AttributeError):
        return torch.from_numpy(a)


class Executable:
    """A compiled model: call it with arrays (numpy or torch, positionally in
    input order or by name); it returns arrays of the kind it was given (one
    array for a one-output model, a tuple otherwise, or as the captured
    module returns)."""

    def __init__(self, artifact_bytes, path, returns_tuple=None, display_name="",
                 verify_key=b""):
        self._bytes = artifact_bytes
        self._artifact = _llmc.Artifact(path, display_name, verify_key)
        self._returns_tuple = returns_tuple
        # A dynamic artifact: its dims by name, {name: (min, max)}; in the
        # inputs' shapes a dynamic dim is its name, in the outputs' None.
        dims = self._artifact.dynamic
        self.dynamic = {d[0]: (d[1], d[2]) for d in dims}
        inputs = [[n, d, list(s)] for n, d, s in self._artifact.inputs]
        for name, _, _, _, _, refs in dims:
            for i, axis in refs:
                inputs[i][2][axis] = name
        self.inputs = [TensorInfo(n, tuple(s), d) for n, d, s in inputs]
        self.outputs = [TensorInfo(n, tuple(None if x < 0 else x for x in s), d)
                        for n, d, s in self._artifact.outputs]
        # Output name -> the donated input it is, updated in place.
        self.donated = {self.outputs[o].name: self.inputs[i].name
                        for o, i in enumerate(self._artifact.aliases) if i >= 0}

    @property
    def target(self):
        """"cpu-x86_64" or "cuda-sm_XX"."""
        return self._artifact.target

    def to_device(self, array):
        """A copy of `array` in the memory of the GPU this CUDA executable
        runs on (an llmc.DeviceArray). Given as an input, it is read where
        it is; given as a donated input (compile(..., donate=[...])), it is
        updated in place and returned: a decode loop's KV caches stay on the
        GPU between steps. `.numpy()` copies it back; torch and CuPy see it
        through __cuda_array_interface__ (torch CUDA tensors are taken as
        inputs the same way)."""
        return self._artifact.to_device(np.ascontiguousarray(array))

    @property
    def input_names(self):
        return [t.name for t in self.inputs]

    @property
    def output_names(self):
        return [t.name for t in self.outputs]

    def __call__(self, *args, **kwargs):
        names = self.input_names
        if len(args) > len(names):
            raise InputError(f"the model takes {len(names)} inputs, "
                             f"{len(args) + len(kwargs)} given")
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise InputError(f"the model has no input named '{k}' "
                                 f"(inputs: {', '.join(names)})")
            if k in given:
                raise InputError(f"input '{k}' is given twice")
            given[k] = v
        missing = [n for n in names if n not in given]
        if missing:
            raise InputError(f"missing input '{missing[0]}'")
        as_torch = any(_is_torch_tensor(v) for v in given.values())
        donated = set(self.donated.values())
        # A CUDA executable reads CUDA arrays (torch, CuPy, DeviceArray)
        # where they are; other executables get host copies.
        on_gpu = self.target.startswith("cuda")
        # (A CPU executable copies torch's to the host and refuses others.)
        arrays = [given[n] if hasattr(given[n], "__cuda_array_interface__")
                  and (on_gpu or not _is_torch_tensor(given[n]))
                  else _to_numpy(given[n], n in donated) for n in names]
        outs = self._artifact.run(arrays)
        if as_torch:
            device = next((v.device for v in given.values()
                           if _is_torch_tensor(v) and v.device.type == "cuda"
                           and on_gpu), None)
            outs = [o if _is_torch_tensor(o) else
                    _to_torch(o, t.dtype) if device is None else
                    _to_torch(o, t.dtype).to(device)
                    for o, t in zip(outs, self.outputs)]
        if self._returns_tuple or (self._returns_tuple is None and len(outs) != 1):
            return tuple(outs)
        return outs[0]

    def report(self):
        """What the compiler decided (`llmc explain` for the artifact's
        target): a Report of every kernel, its ONNX nodes, bytes, FLOPs and
        roofline estimate, and the totals."""
        text = self._artifact.report
        if not text:
            raise LoadError("the artifact carries no report")
        return Report.from_json(text)

    def save(self, path):
        """Writes the artifact (loadable with llmc.load or `llmc run`)."""
        with open(os.fspath(path), "wb") as f:
            f.write(self._bytes)

    def __repr__(self):
        ins = ", ".join(f"{t.name}: {t.dtype}{list(t.shape)}" for t in self.inputs)
        outs = ", ".join(f"{t.name}: {t.dtype}{list(t.shape)}" for t in self.outputs)
        return f"<llmc.Executable ({ins}) -> ({outs})>"


def _read(path, error, what):
    import stat
    try:
        # Only a regular file: a FIFO would block open(), a device never end.
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{path}: {what}" + ("is a directory" if stat.S_ISDIR(mode)
                                             else "not a regular file (a FIFO or a device)"))
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise error(f"{path}: {what}{e.strerror}") from e


def load(path, verify_key=None):
    """Loads an artifact written by Executable.save or `llmc compile`. With
    `verify_key` (bytes, at least 16), the artifact must be signed with that
    key (`llmc compile --sign KEYFILE`): an unsigned or altered one raises
    LoadError before anything in it is read."""
    path = os.fspath(path)
    return Executable(_read(path, LoadError, ""), path,
                      verify_key=bytes(verify_key or b""))


def _finish(write, display_name):
    """Runs write(artifact_path), then loads the artifact; messages name the
    model as `display_name`, not the temporary file."""
    with tempfile.TemporaryDirectory(prefix="llmc-") as d:
        path = os.path.join(d, "model.llmcx")
        returns_tuple = write(path)
        with open(path, "rb") as f:
            data = f.read()
        return Executable(data, path, returns_tuple, display_name)


def _contiguous(a):
    """`a` C-contiguous, of its own rank (numpy 1's ascontiguousarray makes
    a 0-d array 1-d, which would specialise a scalar input to [1])."""
    return np.require(a, requirements="C")


def _examples(example_inputs):
    if example_inputs is None:
        return []
    if isinstance(example_inputs, dict):
        return [(k, _contiguous(_to_numpy(v))) for k, v in example_inputs.items()]
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    return [("", _contiguous(_to_numpy(v))) for v in example_inputs]


def compile(model, target="cpu", example_inputs=None, **options):
    """Compiles `model` for `target` ("cpu", "cuda" for sm_90, or
    "cuda:sm_80|sm_86|sm_89|sm_90") and returns an Executable. A CUDA
    executable needs a CUDA device where it is loaded: without one, LoadError
    says "no CUDA device" (the compiled artifact can still be saved by
    compiling again where one is present, or with `llmc compile`).

    `model` is a path to an ONNX file, the bytes of one, an onnx.ModelProto,
    or a torch.nn.Module (then `example_inputs`, a tuple of tensors, is
    required: the module is captured with torch.fx at those shapes). For ONNX
    models, `example_inputs` (a tuple in input order or a dict by name) fixes
    symbolic dims. Options: name= (the model's name in messages), fusion=
    (default True; False compiles one loop nest per op, without llmc-fuse),
    tf32= (CUDA only, default False: f32 GEMMs and convolutions may use TF32
    tensor cores).

    Several devices: mesh= (a dict of named axes, e.g. {"dp": 2, "tp": 4},
    or the text "dp=2,tp=4") partitions the model over a mesh of CPU devices
    (one thread each); strategy= ("dp", "megatron", "megatron-sp",
    "experts", "auto" (the default) or "none") seeds the sharding
    propagation; shard= pins tensors by input or weight name, e.g.
    {"wte": ("tp", None)} or {"wte": "tp,-"}; link_bandwidth= (GB/s per
    direction, default 450) is what the cost model and report() assume.

    dynamic= (ONNX models) makes dims vary between calls: a dict of the
    model's symbolic dims (or "INPUT:AXIS") to ranges, e.g. {"batch": (1, 8),
    "seq": (1, 512)}, or the text "batch=1..8,seq=1..512". The executable
    runs every size in the ranges from variants the compiler chose (padded
    where padding provably changes nothing kept, else one per size; see
    docs/llm-inference.md); a size outside them raises InputError naming the
    input and the range. `Executable.dynamic` lists the ranges.

    donate= (input names) gives those inputs' buffers to the code: an output
    computed from one in place (a KV cache written by a scatter) is returned
    in it, without a copy. Calling the executable then updates a donated
    array in place (when it is writable and C-contiguous: else a copy is)
    and returns it as that output; `Executable.donated` maps each such
    output to its input. CPU, one device."""
    name = options.pop("name", None)
    fusion = bool(options.pop("fusion", True))
    donate = options.pop("donate", None) or ()
    if isinstance(donate, str):
        donate = [donate]
    tf32 = bool(options.pop("tf32", False))
    # The compile calls' keyword options: the mesh's and the donated inputs.
    more = _sharding_options(options.pop("mesh", None),
                             options.pop("strategy", None),
                             options.pop("shard", None),
                             options.pop("link_bandwidth", None))
    more["donate"] = [str(d) for d in donate]
    dynamic = _dynamic_text(options.pop("dynamic", None))
    options_frozen = options.pop("_frozen", ())
    if options:
        raise TypeError(f"unknown option(s): {', '.join(sorted(options))}")
    if not isinstance(target, str):
        raise TypeError("target must be a string such as 'cpu'")
    if type(model).__name__ == "ModelProto" or hasattr(model, "SerializeToString"):
        data, path = model.SerializeToString(), ""
    elif isinstance(model, (bytes, bytearray, memoryview)):
        data, path = bytes(model), ""
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        data = _read(path, CompileError, "cannot read the model: ")
    elif dynamic:
        raise TypeError("dynamic= is for ONNX models (a torch.nn.Module is "
                        "captured at its example inputs' shapes; "
                        "torch.compile(backend='llmc', dynamic=True) pads new "
                        "sizes to powers of two where that is proven)")
    elif type(model).__name__ == "ExportedProgram":  # torch.export
        from . import fx
        if example_inputs is None:
            args, kwargs = model.example_inputs or ((), {})
            if kwargs:
                raise TypeError("the exported program takes keyword inputs: give "
                                "example_inputs as a tuple")
            example_inputs = args
        if not isinstance(example_inputs, (tuple, list)):
            example_inputs = (example_inputs,)
        builder, names, returns_tuple = fx.capture(model.module(), example_inputs, name)
        # The exported graph returns a flat tuple; a module that returned one
        # tensor gets one tensor back.
        spec = getattr(model.call_spec, "out_spec", None)
        if len(names) == 1 and spec is not None and spec.is_leaf():
            returns_tuple = False

        def write(artifact):
            builder.compile(target, artifact, fusion, tf32, **more)
            return returns_tuple
        return _finish(write, name or "the exported program")
    elif _is_torch_module(model):
        if example_inputs is None:
            raise TypeError("compiling a torch.nn.Module needs example_inputs "
                            "(a tuple of tensors)")
        from . import fx
        builder, _, returns_tuple = fx.capture(model, example_inputs, name,
                                               options_frozen)

        def write(artifact):
            builder.compile(target, artifact, fusion, tf32, **more)
            return returns_tuple
        return _finish(write, name or type(model).__name__)
    else:
        raise TypeError(f"cannot compile a {type(model).__name__}: give a path, "
                        "bytes, an onnx.ModelProto or a torch.nn.Module")
    examples = _examples(example_inputs)

    if dynamic:
        more["dynamic"] = dynamic

    def write(artifact):
        _llmc.compile_onnx(data, name or path, target, examples, artifact,
                           fusion, tf32, **more)
        return None
    return _finish(write, name or path or "the model")


def _dynamic_text(dynamic):
    """dynamic= (see compile) as --dynamic's text, or ""."""
    if dynamic is None:
        return ""
    if isinstance(dynamic, str):
        return dynamic
    if not isinstance(dynamic, dict):
        raise TypeError("dynamic= maps dim names to ranges, e.g. "
                        "{'batch': (1, 8)}, or is the text 'batch=1..8'")
    items = []
    for dim, span in dynamic.items():
        if isinstance(span, str):
            items.append(f"{dim}={span}")
            continue
        if (not isinstance(span, (tuple, list)) or len(span) != 2 or
                any(isinstance(v, bool) or not isinstance(v, int) for v in span)):
            raise TypeError(f"dynamic[{dim!r}] is a range (min, max) of ints, "
                            "e.g. (1, 8)")
        items.append(f"{dim}={span[0]}..{span[1]}")
    return ",".join(items)


def _sharding_options(mesh, strategy, shard, link_bandwidth):
    """The keyword arguments of the compile calls for mesh=, strategy=,
    shard= and link_bandwidth= (see compile)."""
    if mesh is None:
        if shard or strategy is not None:
            raise TypeError("shard= and strategy= need mesh= (e.g. mesh={'tp': 2})")
        return {}
    if not mesh:
        raise TypeError("mesh= needs axes, e.g. mesh={'tp': 2}")
    if shard is not None and not isinstance(shard, dict):
        raise TypeError("shard= maps tensor names to shardings, e.g. "
                        "{'wte': ('tp', None)}")
    if isinstance(mesh, dict):
        for axis, size in mesh.items():
            if not isinstance(axis, str) or isinstance(size, bool) or not isinstance(size, int):
                raise TypeError("mesh= maps axis names to sizes, e.g. {'dp': 2, 'tp': 4}")
        text = ",".join(f"{axis}={size}" for axis, size in mesh.items())
    elif isinstance(mesh, str):
        text = mesh
    else:
        raise TypeError("mesh= is a dict such as {'tp': 2} or a string such as 'tp=2'")
    pins = []
    for tensor, spec in (shard or {}).items():
        if isinstance(spec, str):
            dims = spec
        elif isinstance(spec, (tuple, list)):
            dims = ",".join("-" if d is None else str(d) for d in spec)
        else:
            raise TypeError(f"shard[{tensor!r}] is a string such as 'tp,-' or a "
                            "tuple such as ('tp', None)")
        pins.append(f"{tensor}={dims}")
    bandwidth = 450.0 if link_bandwidth is None else float(link_bandwidth)
    return {"mesh": text, "strategy": strategy or "auto", "shards": pins,
            "link_bandwidth": bandwidth * 1e9}


def _is_torch_module(x):
    for cls in type(x).__mro__:
        if cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module":
            return True
    return False


def _is_weight(placeholder, value):
    """A Dynamo graph input that is a parameter or a buffer of the module."""
    import torch
    return isinstance(value, torch.nn.Parameter) or "_buffers_" in placeholder.name or \
        "_parameters_" in placeholder.name


def _size_symbols(gm, frozen):
    """Dynamo's symbolic sizes in `gm` (dynamic=True): {symbol: [(argument,
    dim)]} of the live tensor inputs' dims, {symbol: [argument]} of the
    graph's SymInt inputs, and {symbol: why} of the symbols that another
    input's size is an expression of (they are not padded)."""
    import torch
    dims, ints, tied = {}, {}, {}
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    for i, node in enumerate(placeholders):
        if i in frozen:
            continue
        v = node.meta.get("example_value")
        sizes = [v] if isinstance(v, torch.SymInt) else (
            list(v.shape) if isinstance(v, torch.Tensor) else [])
        for d, n in enumerate(sizes):
            expr = getattr(getattr(n, "node", None), "expr", None)
            if not isinstance(n, torch.SymInt) or expr is None:
                continue
            if getattr(expr, "is_Symbol", False):
                if isinstance(v, torch.SymInt):
                    ints.setdefault(str(expr), []).append(i)
                else:
                    dims.setdefault(str(expr), []).append((i, d))
            else:
                # A size that is an expression of symbols (past + 1): padding
                # them alone would leave it inconsistent.
                for free in getattr(expr, "free_symbols", ()):
                    tied[str(free)] = f"input {i} has a size {expr} computed from it"
    return dims, ints, tied


def _bucket(n):
    """The power of two at least n."""
    return 1 << max(0, (int(n) - 1).bit_length())


def _torch_backend(gm, example_inputs):
    """The torch.compile backend: parameters and buffers are folded in as
    constants (as Inductor's freezing does: recompile after changing
    weights); one executable per distinct input shape.

    Under dynamic=True Dynamo hands over one graph with symbolic sizes. A
    size is then run on the executable for the next power of two, its
    inputs zero-padded and its outputs cut back, when llmc proves for that
    size's symbol that padding changes nothing kept (the padding analysis
    and translation check of `llmc compile --dynamic`, on the graph captured
    at the power of two and at the smallest size it pads); otherwise, and
    for a symbol once refused, each size gets its own executable, compiled
    on first use and kept. `run.padding` says, per symbol, "padded" or why
    not."""
    import torch
    from . import fx
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    frozen = {i for i, (p, v) in enumerate(zip(placeholders, example_inputs))
              if _is_weight(p, v)}
    live = [i for i, v in enumerate(example_inputs)
            if i not in frozen and isinstance(v, torch.Tensor)]
    sym_dims, sym_ints, tied = _size_symbols(gm, frozen)
    cache, buckets = {}, {}
    padding = dict(tied)  # symbol -> "padded" or why it is not

    def exact(args):
        key = tuple((tuple(args[i].shape), args[i].dtype) for i in live) + tuple(
            int(a) for i, a in enumerate(args)
            if i not in frozen and isinstance(a, (int, torch.SymInt)))
        exe = cache.get(key)
        if exe is None:  # the frozen positions hold the same weights
            exe = cache[key] = compile(gm, example_inputs=args, _frozen=frozen)
        return exe

    def padded_args(args, sizes):
        """`args` with each symbol's dims zero-padded (or cut) and its
        SymInt inputs set to `sizes`."""
        out = list(args)
        for sym, size in sizes.items():
            for i in sym_ints.get(sym, ()):
                out[i] = size
        grow = {}
        for sym, size in sizes.items():
            for i, d in sym_dims[sym]:
                grow.setdefault(i, {})[d] = size
        for i, ds in grow.items():
            t = args[i]
            shape = [ds.get(d, n) for d, n in enumerate(t.shape)]
            if shape != list(t.shape):
                # (Or cut: the proofs capture the graph at smaller sizes.)
                box = tuple(slice(0, min(a, b)) for a, b in zip(shape, t.shape))
                big = torch.zeros(shape, dtype=t.dtype)
                big[box] = t[box]
                out[i] = big
        return out

    def prove_and_compile(args, sizes, values):
        """The executable for `sizes` with each output's padded dims, or None
        when padding some symbol is not proven (it is then refused)."""
        try:
            return prove(args, sizes, values)
        except Exception as e:  # noqa: BLE001 - the size then runs exactly
            for sym, size in sizes.items():
                if size != values[sym] and padding.get(sym) != "padded":
                    padding[sym] = f"capture at the padded size failed: {e}"
            return None

    def prove(args, sizes, values):
        with torch.no_grad():
            big_args = padded_args(args, sizes)
            big, _, returns_tuple = fx.capture(gm, big_args, None, frozen)
            scales = None
            for sym, size in sizes.items():
                if size == values[sym]:
                    continue
                smaller = size // 2 + 1
                small_sizes = dict(sizes, **{sym: smaller})
                small, _, _ = fx.capture(gm, padded_args(args, small_sizes), None, frozen)
                refs = [(live.index(i), d) for i, d in sym_dims[sym]]
                ok, why, s = big.prove_padding(small, refs, size, smaller)
                if not ok:
                    padding[sym] = why
                    return None
                padding[sym] = "padded"
                if scales is None:
                    scales = [[None] * len(x) for x in s]
                for o, x in enumerate(s):
                    for d, scale in enumerate(x):
                        if scale:
                            scales[o][d] = (sym, scale)

        def write(artifact):
            big.compile("cpu", artifact, True, False)
            return returns_tuple
        return _finish(write, "the compiled graph"), scales

    def run(*args):
        values = {sym: int(args[ds[0][0]].shape[ds[0][1]])
                  for sym, ds in sym_dims.items()}
        sizes = {sym: (v if padding.get(sym, "padded") != "padded" else _bucket(v))
                 for sym, v in values.items()}
        if sizes == values:
            out = exact(args)(*[args[i] for i in live])
            return out if isinstance(out, tuple) else (out,)
        key = tuple(sorted(sizes.items())) + tuple(args[i].dtype for i in live)
        entry = buckets.get(key)
        if entry is None:
            entry = buckets[key] = prove_and_compile(args, sizes, values)
        if entry is None:  # refused: this size runs exactly
            out = exact(args)(*[args[i] for i in live])
            return out if isinstance(out, tuple) else (out,)
        exe, scales = entry
        big = padded_args(args, sizes)
        out = exe(*[big[i] for i in live])
        out = out if isinstance(out, tuple) else (out,)
        # Each output cut back along its padded dims: the real size of the
        # symbol padding it, times the dim's scale.
        kept = []
        for o, dims in zip(out, scales):
            index = tuple(slice(0, values[d[0]] * d[1]) if d else slice(None)
                          for d in dims)
            kept.append(o[index])
        return tuple(kept)

    run.padding = padding
    return run


def register_torch_backend():
    """Registers "llmc" as a torch.compile backend (torch 2.x); returns False
    on a torch without torch._dynamo. Not needed where llmc's package
    metadata is on the path (the set-up's build): torch finds the backend
    through its entry point. Done on `import llmc` when torch is already
    imported."""
    try:
        from torch._dynamo import register_backend
        from torch._dynamo.backends import registry
    except ImportError:
        return False
    # Registered already, or listed by torch from llmc's entry point (torch
    # registers it when it loads it: registering here too would be a
    # duplicate).
    if "llmc" in getattr(registry, "_BACKENDS", {}):
        return True
    try:
        register_backend(name="llmc")(_torch_backend)
    except Exception:  # already registered
        pass
    return True


import sys as _sys  # noqa: E402
if "torch" in _sys.modules:
    register_torch_backend()
