"""The Python package: llmc.compile / load / Executable, torch.fx capture,
llmc.passes, and the errors, against independent references (onnxruntime,
numpy, PyTorch in fp32 with relative L2 error 1e-4).

Needs the built package on the path (scripts/setup.sh installs a .pth for
/usr/bin/python3 and the test venv); skipped with the reason otherwise.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

llmc = pytest.importorskip("llmc", reason="the llmc Python package is not built "
                           "(run scripts/setup.sh)")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
EXAMPLE = os.path.join(REPO, "examples", "tiny_cnn.onnx")


@pytest.fixture(autouse=True, scope="module")
def _example_model():
    """examples/tiny_cnn.onnx and its input are generated, not committed."""
    if not (os.path.exists(EXAMPLE) and
            os.path.exists(os.path.join(REPO, "examples", "tiny_cnn_input.npy"))):
        subprocess.run(["/usr/bin/python3",
                        os.path.join(REPO, "examples", "make_example.py"), "--quiet"],
                       check=True)


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _onnx_model(op, dtype, shape=(2, 3), name="m"):
    from onnx import TensorProto, helper
    elem = (TensorProto.BFLOAT16 if dtype == "bfloat16"
            else helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
    inputs = ["x"] if op in ("Not", "Neg", "Abs") else ["x", "x"]
    node = helper.make_node(op, inputs, ["y"], name="n0")
    graph = helper.make_graph([node], name,
                              [helper.make_tensor_value_info("x", elem, shape)],
                              [helper.make_tensor_value_info("y", elem, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


# --- ONNX models ----------------------------------------------------------------

def test_compile_path_bytes_and_modelproto_agree_with_onnxruntime():
    import onnx
    import onnxruntime as ort
    x = np.load(os.path.join(REPO, "examples", "tiny_cnn_input.npy"))
    ref = ort.InferenceSession(EXAMPLE, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    with open(EXAMPLE, "rb") as f:
        data = f.read()
    for model in (EXAMPLE, data, onnx.load(EXAMPLE)):
        exe = llmc.compile(model)
        assert exe.input_names == ["x"] and exe.output_names == ["probs"]
        assert exe.inputs[0].shape == (1, 3, 8, 8) and exe.inputs[0].dtype == "float32"
        y = exe(x)
        assert isinstance(y, np.ndarray) and y.dtype == np.float32
        assert rel_l2(y, ref) < 1e-5
        assert rel_l2(exe(x=x), ref) < 1e-5  # by name


NUMPY_DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32",
                "int64", "uint8", "uint16", "uint32", "uint64", "bool"]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_inputs_of_every_dtype(dtype):
    op = "Not" if dtype == "bool" else "Add"
    exe = llmc.compile(_onnx_model(op, dtype))
    rng = np.random.default_rng(0)
    if dtype == "bool":
        x = rng.random((2, 3)) > 0.5
        want = ~x
    else:
        x = (rng.random((2, 3)) * 50).astype(dtype)
        want = x + x
    y = exe(x)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, want)


TORCH_DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "int16",
                "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_torch_inputs_of_every_dtype_come_back_as_torch(dtype):
    torch = pytest.importorskip("torch")
    op = "Not" if dtype == "bool" else "Add"
    exe = llmc.compile(_onnx_model(op, dtype))
    tdtype = getattr(torch, dtype)
    if dtype == "bool":
        x = torch.rand(2, 3) > 0.5
        want = ~x
    else:
        x = (torch.rand(2, 3) * 50).to(tdtype)
        want = x + x
    y = exe(x)
    assert isinstance(y, torch.Tensor) and y.dtype == tdtype
    assert torch.equal(y, want)


def test_symbolic_dims_specialised_from_example_inputs(tmp_path):
    from onnx import TensorProto, helper
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    graph = helper.make_graph(
        [node], "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    exe = llmc.compile(model, example_inputs=(x,))
    assert exe.inputs[0].shape == (5, 4)
    np.testing.assert_array_equal(exe(x), np.maximum(x, 0))


def test_save_and_load_round_trip(tmp_path):
    x = np.load(os.path.join(REPO, "examples", "tiny_cnn_input.npy"))
    exe = llmc.compile(EXAMPLE)
    want = exe(x)
    path = tmp_path / "tiny.llmcx"
    exe.save(path)
    again = llmc.load(path)
    assert again.input_names == exe.input_names
    assert again.outputs == exe.outputs
    np.testing.assert_array_equal(again(x), want)
    # The same file runs under the command-line runtime.
    llmc_bin = os.environ.get("LLMC", os.path.join(REPO, "build", "bin", "llmc"))
    np.save(tmp_path / "x.npy", x)
    subprocess.run([llmc_bin, "run", str(path), "--input", f"x={tmp_path / 'x.npy'}",
                    "--output-dir", str(tmp_path / "out")], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "probs.npy"), want)


def test_report_is_llmc_explain_as_objects(tmp_path):
    """Executable.report() carries what `llmc explain` prints for the same
    model and target, survives save/load, and changes with fusion."""
    import json
    import onnx
    exe = llmc.compile(EXAMPLE)
    r = exe.report()
    llmc_bin = os.environ.get("LLMC", os.path.join(REPO, "build", "bin", "llmc"))
    cli = json.loads(subprocess.run([llmc_bin, "explain", EXAMPLE, "--format", "json"],
                                    capture_output=True, text=True, check=True).stdout)
    assert r.target == cli["target"] == "cpu"
    assert [(k.name, k.kind, k.op, k.nodes) for k in r.kernels] == \
        [(k["name"], k["kind"], k.get("op"), k["nodes"]) for k in cli["kernels"]]
    assert (r.bytes, r.flops) == (cli["summary"]["bytes"], cli["summary"]["flops"])
    # Every ONNX node of the model is in some kernel, and only those.
    onnx_nodes = {n.name for n in onnx.load(EXAMPLE).graph.node}
    assert {n for k in r.kernels for n in k.nodes} == onnx_nodes
    assert r.bytes == sum(k.bytes_in + k.bytes_out for k in r.kernels)
    # Conv of x 1x3x8x8 by w 4x3x3x3, pad 1: 4*8*8 outputs of 3*3*3
    # multiply-adds; it reads x, w and b (fp32) and writes 1x4x8x8.
    conv = next(k for k in r.kernels if k.op == "graph.conv")
    assert conv.flops == 2 * (4 * 8 * 8) * (3 * 3 * 3)
    assert (conv.bytes_in, conv.bytes_out) == (4 * (3 * 64 + 4 * 27 + 4), 4 * 4 * 64)
    assert "kernels: 4" in str(r)
    path = tmp_path / "m.llmcx"
    exe.save(path)
    assert llmc.load(path).report() == r
    unfused = llmc.compile(EXAMPLE, fusion=False).report()
    assert len(unfused.kernels) > len(r.kernels)
    assert unfused.bytes > r.bytes


def test_bfloat16_travels_as_bits_in_numpy():
    """numpy has no bfloat16: a bf16 input takes uint16 (or int16) bits and
    a bf16 output comes back as uint16 bits, equal to PyTorch's rounding."""
    torch = pytest.importorskip("torch")
    exe = llmc.compile(_onnx_model("Add", "bfloat16"))
    x = torch.randn(2, 3).to(torch.bfloat16)
    want = (x + x).view(torch.int16).numpy().view(np.uint16)
    bits = x.view(torch.int16).numpy()
    for given in (bits, bits.view(np.uint16)):
        y = exe(given)
        assert y.dtype == np.uint16
        np.testing.assert_array_equal(y, want)


def test_inputs_are_read_in_place_and_never_written():
    """C-contiguous inputs are passed to the code without a copy; the code
    must not write them (llmc-readonly-arguments), strided views are made
    contiguous, and every call returns fresh output arrays."""
    exe = llmc.compile(_onnx_model("Add", "float32", shape=(4, 6)))
    base = np.random.default_rng(3).standard_normal((4, 12)).astype(np.float32)
    before = base.copy()
    strided = base[:, ::2]                    # not C-contiguous
    y1 = exe(strided)
    np.testing.assert_array_equal(y1, strided + strided)
    fortran = np.asfortranarray(base[:, :6])
    np.testing.assert_array_equal(exe(fortran), fortran + fortran)
    y2 = exe(np.ascontiguousarray(strided))
    np.testing.assert_array_equal(base, before)
    assert y2 is not y1 and not np.shares_memory(y1, y2)
    y2[...] = 0                               # outputs belong to the caller
    np.testing.assert_array_equal(y1, strided + strided)


# --- errors -----------------------------------------------------------------------

def test_bad_model_bytes_raise_compile_error():
    with pytest.raises(llmc.CompileError) as e:
        llmc.compile(b"this is not an onnx model")
    assert "<model>" in e.value.message


def test_missing_file_raises_compile_error(tmp_path):
    with pytest.raises(llmc.CompileError, match="cannot read the model"):
        llmc.compile(str(tmp_path / "nope.onnx"))


def test_paths_that_are_not_regular_files_raise_at_once(tmp_path):
    """A FIFO would block open() forever, /dev/zero never end, a folder
    throw: each is one clear error."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(llmc.CompileError, match="not a regular file"):
        llmc.compile(str(fifo))
    with pytest.raises(llmc.CompileError, match="not a regular file"):
        llmc.compile("/dev/zero")
    with pytest.raises(llmc.LoadError, match="is a directory"):
        llmc.load(str(tmp_path))


def test_unsupported_op_names_the_node():
    from onnx import TensorProto, helper
    node = helper.make_node("NonZero", ["x"], ["y"], name="find_them")
    graph = helper.make_graph(
        [node], "nz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [1, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(llmc.CompileError) as e:
        llmc.compile(model)
    assert e.value.node == "find_them"
    assert "NonZero" in e.value.message and "find_them" in e.value.message


def test_wrong_input_shape_dtype_and_count_raise_input_error():
    exe = llmc.compile(_onnx_model("Add", "float32"))
    with pytest.raises(llmc.InputError, match=r"must be FLOAT \[2,3\], got FLOAT \[3,2\]"):
        exe(np.zeros((3, 2), np.float32))
    with pytest.raises(llmc.InputError, match=r"must be FLOAT \[2,3\], got INT32"):
        exe(np.zeros((2, 3), np.int32))
    with pytest.raises(llmc.InputError, match="takes 1 inputs"):
        exe(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(llmc.InputError, match="no input named 'y'"):
        exe(y=np.zeros((2, 3), np.float32))
    with pytest.raises(llmc.InputError, match="missing input 'x'"):
        exe()


def test_loading_garbage_raises_load_error(tmp_path):
    bad = tmp_path / "bad.llmcx"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(llmc.LoadError):
        llmc.load(bad)


def test_unknown_option_and_target():
    with pytest.raises(TypeError, match="unknown option"):
        llmc.compile(EXAMPLE, optimise=True)
    with pytest.raises(llmc.CompileError, match="unknown target 'tpu'"):
        llmc.compile(EXAMPLE, target="tpu")


def test_cuda_target():
    """target="cuda" compiles a CUDA artifact; loading it needs a device.
    With one, the result is the CPU's within fp32 rounding; without, the
    error says there is no CUDA device."""
    x = np.load(os.path.join(REPO, "examples", "tiny_cnn_input.npy"))
    with pytest.raises(llmc.CompileError, match="tf32 is for a cuda target"):
        llmc.compile(EXAMPLE, tf32=True)
    if not os.path.exists("/dev/nvidia0"):
        with pytest.raises(llmc.LoadError, match="no CUDA device"):
            llmc.compile(EXAMPLE, target="cuda")
        with pytest.raises(llmc.LoadError, match="no CUDA device"):
            llmc.compile(EXAMPLE, target="cuda", tf32=True)
        return
    want = llmc.compile(EXAMPLE)(x)
    got = llmc.compile(EXAMPLE, target="cuda")(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # TF32 rounds the convolution's inputs to a 10-bit mantissa.
    got = llmc.compile(EXAMPLE, target="cuda", tf32=True)(x)
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-3)


# --- torch.fx capture ------------------------------------------------------------

def _capture_and_compare(name):
    torch = pytest.importorskip("torch")
    import models
    module, inputs, _ = models.build_torch_model(name)
    args = tuple(inputs.values())
    exe = llmc.compile(module, example_inputs=args)
    with torch.no_grad():
        ref = module(*args)
    out = exe(*args)
    refs = ref if isinstance(ref, tuple) else (ref,)
    outs = out if isinstance(out, tuple) else (out,)
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert isinstance(o, torch.Tensor) and o.shape == r.shape
        err = rel_l2(o.numpy(), r.numpy())
        assert err < 1e-4, f"{name}: relative L2 error {err:.2e}"


@pytest.mark.slow
def test_fx_capture_resnet50_matches_pytorch():
    _capture_and_compare("resnet50")


@pytest.mark.slow
def test_fx_capture_gpt2_matches_pytorch():
    _capture_and_compare("gpt2_mini")


def test_fx_capture_small_cnn_with_tuple_output():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            pooled = y.mean(dim=(2, 3))
            return self.fc(pooled), pooled.softmax(-1)

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 8, 8)
    exe = llmc.compile(net, example_inputs=(x,))
    out = exe(x)
    with torch.no_grad():
        ref = net(x)
    assert isinstance(out, tuple) and len(out) == 2
    for o, r in zip(out, ref):
        assert rel_l2(o.numpy(), r.numpy()) < 1e-5
    # numpy in, numpy out, for the same executable.
    assert isinstance(exe(x.numpy())[0], np.ndarray)


def test_fx_capture_reports_unsupported_call_with_module_path():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Inner(nn.Module):
        def forward(self, x):
            return torch.fft.fft(x).real

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Inner()

        def forward(self, x):
            return self.block(x) + 1

    with pytest.raises(llmc.CaptureError) as e:
        llmc.compile(Outer(), example_inputs=(torch.randn(4, 8),))
    assert "fft" in e.value.message and "block" in e.value.message
    assert e.value.node == "block"


def test_fx_capture_needs_example_inputs():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="example_inputs"):
        llmc.compile(torch.nn.ReLU())


# --- torch.compile -------------------------------------------------------------------

def _dynamo():
    torch = pytest.importorskip("torch")
    major = int(torch.__version__.split(".")[0])
    if major < 2:
        pytest.skip(f"torch.compile needs torch 2.x; this is torch {torch.__version__}")
    assert llmc.register_torch_backend()
    return torch


@pytest.mark.parametrize("name", ["gpt2_mini", "mobilenet_v3_small"])
def test_torch_compile_backend_matches_eager(name):
    """A transformer block stack and a CNN through torch.compile(backend="llmc")."""
    torch = _dynamo()
    import models
    module, inputs, _ = models.build_torch_model(name)
    args = tuple(inputs.values())
    compiled = torch.compile(module, backend="llmc")
    with torch.no_grad():
        err = rel_l2(compiled(*args).numpy(), module(*args).numpy())
    torch._dynamo.reset()
    assert err < 1e-4, f"{name}: relative L2 error {err:.2e}"


def test_torch_compile_backend_recompiles_for_a_new_shape():
    torch = _dynamo()
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(),
                              torch.nn.LayerNorm(16)).eval()
    compiled = torch.compile(net, backend="llmc")
    with torch.no_grad():
        for batch in (2, 5, 2):
            x = torch.randn(batch, 8)
            assert rel_l2(compiled(x).numpy(), net(x).numpy()) < 1e-5
    torch._dynamo.reset()


def test_torch_compile_backend_reports_unsupported_call():
    torch = _dynamo()

    def f(x):
        return torch.fft.fft(x).real + 1

    with pytest.raises(Exception) as e:
        torch.compile(f, backend="llmc")(torch.randn(4, 8))
    torch._dynamo.reset()
    assert "cannot capture" in str(e.value) and "fft" in str(e.value)


def test_torch_export_program_matches_pytorch():
    """torch.export graphs (ATen ops; attention as scaled_dot_product_attention)."""
    torch = _dynamo()
    import models
    module, inputs, _ = models.build_torch_model("vit_mini")
    args = tuple(inputs.values())
    program = torch.export.export(module.eval(), args)
    out = llmc.compile(program)(*args)
    with torch.no_grad():
        ref = module(*args)
    assert isinstance(out, torch.Tensor) and out.shape == ref.shape
    assert rel_l2(out.numpy(), ref.numpy()) < 1e-4


def test_fx_capture_vit_with_multihead_attention_matches_pytorch():
    _capture_and_compare("vit_mini")


def test_fx_capture_multihead_attention_weights():
    """nn.MultiheadAttention, sequence-first, returning its head-averaged
    attention weights as well."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(16, 4).eval()
    q, kv = torch.randn(5, 2, 16), torch.randn(7, 2, 16)
    exe = llmc.compile(mha, example_inputs=(q, kv, kv))
    out, weights = exe(q, kv, kv)
    with torch.no_grad():
        ref_out, ref_weights = mha(q, kv, kv)
    assert rel_l2(out.numpy(), ref_out.numpy()) < 1e-5
    assert weights.shape == (2, 5, 7)
    assert rel_l2(weights.numpy(), ref_weights.numpy()) < 1e-5


# --- passes ---------------------------------------------------------------------------

RELU = """
func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = graph.relu %x : tensor<2xf32>
  %1 = graph.relu %0 : tensor<2xf32>
  return %1 : tensor<2xf32>
}
"""


def test_pass_pipeline_runs_and_returns_ir():
    out = llmc.passes.run(RELU, "builtin.module(llmc-convert-graph-to-linalg)")
    assert "linalg.generic" in out and "graph.relu" not in out


def test_pass_pipeline_syntax_error_raises_with_diagnostics():
    with pytest.raises(llmc.PipelineError) as e:
        llmc.passes.run(RELU, "builtin.module(canonicalize")
    assert "invalid pass pipeline" in e.value.message
    assert "builtin.module(canonicalize" in e.value.diagnostics
    with pytest.raises(llmc.PipelineError, match="no-such-pass"):
        llmc.passes.run(RELU, "builtin.module(no-such-pass)")


def test_pass_pipeline_bad_ir_raises_with_location():
    with pytest.raises(llmc.PipelineError) as e:
        llmc.passes.run("func.func @f( {", "builtin.module(canonicalize)")
    assert "<input>:1" in e.value.diagnostics


def test_registered_passes_list_llmc_and_upstream():
    names = dict(llmc.passes.registered())
    assert "llmc-convert-graph-to-linalg" in names
    assert "canonicalize" in names
    assert names["llmc-decompose-composite-ops"]


def test_load_verifies_signed_artifacts(tmp_path):
    """llmc.load(path, verify_key=...) takes artifacts signed with that key
    (`llmc compile --sign`) and refuses unsigned, otherwise signed and
    altered ones, as llmc-run --verify does."""
    llmc_bin = os.path.join(REPO, "build", "bin", "llmc")
    key, other = tmp_path / "key", tmp_path / "other"
    key.write_bytes(bytes(range(32)))
    other.write_bytes(bytes(range(1, 33)))
    signed, plain = tmp_path / "signed.llmcx", tmp_path / "plain.llmcx"
    subprocess.run([llmc_bin, "compile", EXAMPLE, "-o", str(signed), "--sign",
                    str(key)], check=True)
    subprocess.run([llmc_bin, "compile", EXAMPLE, "-o", str(plain)], check=True)
    x = np.load(os.path.join(REPO, "examples", "tiny_cnn_input.npy"))
    want = llmc.load(plain)(x)
    got = llmc.load(signed, verify_key=key.read_bytes())(x)
    assert np.array_equal(got, want)
    with pytest.raises(llmc.LoadError, match="signed with another key, or altered"):
        llmc.load(signed, verify_key=other.read_bytes())
    with pytest.raises(llmc.LoadError, match="is not signed"):
        llmc.load(plain, verify_key=key.read_bytes())
    data = bytearray(signed.read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / "altered.llmcx").write_bytes(data)
    with pytest.raises(llmc.LoadError, match="signed with another key, or altered"):
        llmc.load(tmp_path / "altered.llmcx", verify_key=key.read_bytes())
    with pytest.raises(llmc.LoadError, match="at least 16 bytes"):
        llmc.load(signed, verify_key=b"short")


def test_computed_index_out_of_its_dim_fails_the_run():
    # Gather(data, i + 2) and ScatterND(data, s - 3, u): an index the model
    # computes out of its dim fails the run (naming the node), instead of
    # being clamped into a silent wrong answer; in-range ones match numpy.
    here = os.path.dirname(os.path.abspath(__file__))
    model = os.path.join(here, "..", "llmc", "Inputs", "computed_index.onnxtxt")
    exe = llmc.compile(model)
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    u = -np.ones((2, 3), np.float32)
    y, z = exe(data, np.array([1, -6]), np.array([[4], [1]]), u)
    want = data.copy()
    want[[1, -2]] = -1
    np.testing.assert_array_equal(y, data[[3, -4]])
    np.testing.assert_array_equal(z, want)
    with pytest.raises(llmc.InputError,
                       match=r"node 'Gather_1' \(gather\) computed index 4 for a "
                             r"dim of 4 \(valid: -4 to 3\)$"):
        exe(data, np.array([0, 2]), np.array([[4], [1]]), u)
    with pytest.raises(llmc.InputError,
                       match=r"node 'ScatterND_3' \(scatter_nd\) computed index "
                             r"-5 for a dim of 4"):
        exe(data, np.array([1, 0]), np.array([[-2], [1]]), u)
    # The next run starts clean.
    y, _ = exe(data, np.array([1, -6]), np.array([[4], [1]]), u)
    np.testing.assert_array_equal(y, data[[3, -4]])
