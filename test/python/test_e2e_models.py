"""End-to-end model tests: real networks exported from PyTorch, run by llmc.

For each model of test/e2e/models.py (ResNet-50, MobileNetV3-small, a small
ViT, a GPT-2-style decoder, a BERT-style encoder; seeded random weights,
exported once to build/e2e-models/ and cached) this runs

    llmc run MODEL.onnx --input NAME=FILE.npy ... --output-dir DIR

and compares every output with the PyTorch reference computed in float64:

    ||llmc - ref_fp64||_2 / ||ref_fp64||_2 <= REL_L2_TOL = 1e-4

(PyTorch's own float32 result is ~1e-7..1e-6 away from the float64 one; the
summary prints both numbers). The tolerance is fixed: never loosen it to make
a model pass. A model is skipped only when llmc reports an `error:` about an
unsupported operation; the skip reason is printed. Any other failure of llmc
(crash, timeout, other error, missing/misshaped output) fails the test.

Run (slow models, marked `slow`, run by default):
    .venv/bin/python -m pytest test/python -q
    .venv/bin/python -m pytest test/python -q -m "not slow"   # quick subset
Environment: LLMC (binary, default build/bin/llmc), LLMC_E2E_CACHE (model
cache root, default build/e2e-models), LLMC_E2E_TIMEOUT (seconds per llmc run,
default 1800).
"""

import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import llmc_runner  # noqa: E402
import models  # noqa: E402

# Relative L2 error allowed for llmc's float32 result against the float64
# PyTorch reference.
REL_L2_TOL = 1e-4
TIMEOUT_S = float(os.environ.get("LLMC_E2E_TIMEOUT", "1800"))


def _params():
    for name in models.MODELS:
        marks = [pytest.mark.slow] if name in models.SLOW else []
        yield pytest.param(name, marks=marks, id=name)


def _record(config, line):
    config.__dict__.setdefault("llmc_e2e_results", []).append(line)
    print(line)


def _compare(case, outputs):
    """Problems and a summary of `outputs` (name -> array) against the
    float64 reference, within REL_L2_TOL."""
    problems, summary = [], []
    for out, ref64 in case.ref_fp64.items():
        got = outputs.get(out)
        if got is None:
            problems.append(f"{out}: output file missing")
            continue
        if got.shape != ref64.shape or got.dtype != np.float32:
            problems.append(f"{out}: got {got.dtype}{list(got.shape)}, "
                            f"expected float32{list(ref64.shape)}")
            continue
        err = models.rel_l2(got, ref64) if np.isfinite(got).all() else float("inf")
        floor = models.rel_l2(case.ref_fp32[out], ref64)
        summary.append(f"{out} rel L2 {err:.2e} (torch fp32 {floor:.2e})")
        if not err <= REL_L2_TOL:
            problems.append(f"{out}: relative L2 error {err:.3e} > {REL_L2_TOL:.0e} "
                            f"vs the float64 reference (torch fp32: {floor:.2e})")
    return problems, summary


@pytest.mark.parametrize("name", list(_params()))
def test_e2e_model(name, tmp_path, request):
    case = models.get(name)
    input_args = llmc_runner.write_inputs(case.inputs, str(tmp_path / "in"))
    res = llmc_runner.run_llmc(case.onnx_path, input_args, str(tmp_path / "out"),
                               list(case.ref_fp64), timeout=TIMEOUT_S)
    tag = f"{name:20s} llmc run {res.wall_s:7.1f}s"
    if res.timed_out:
        _record(request.config, f"{tag}  FAIL: timed out after {TIMEOUT_S:.0f}s")
        pytest.fail(f"llmc run timed out after {TIMEOUT_S:.0f}s")
    if res.returncode != 0:
        err = llmc_runner.first_error_line(res.stderr)
        if err and llmc_runner.UNSUPPORTED_RE.search(err):
            _record(request.config, f"{tag}  SKIP: {err}")
            pytest.skip(f"{name}: llmc does not support this model yet: {err}")
        _record(request.config,
                f"{tag}  FAIL: llmc exited {res.returncode}: {err or 'no error line'}")
        pytest.fail(f"llmc run failed (exit {res.returncode}):\n"
                    f"{res.stderr[-4000:]}")

    problems, summary = _compare(case, res.outputs)
    status = "FAIL" if problems else "ok"
    _record(request.config, f"{tag}  {status}: " + "; ".join(summary or problems))
    assert not problems, "\n".join(problems)


PTXAS = os.environ.get("LLMC_PTXAS", "/usr/local/cuda/bin/ptxas")
LLMC_BIN = os.environ.get("LLMC", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "build", "bin", "llmc"))


@pytest.mark.parametrize("chip", ["sm_80", "sm_90"])
@pytest.mark.parametrize("name", list(_params()))
def test_e2e_model_ptx_assembles(name, chip, tmp_path):
    """Every end-to-end model compiles for CUDA (no GPU needed): one PTX
    module holding a kernel per fusion group or op outside the library
    calls, which ptxas assembles for the chip."""
    import subprocess
    if not os.access(PTXAS, os.X_OK):
        pytest.skip(f"ptxas not found at {PTXAS} (the CUDA toolkit)")
    case = models.get(name)
    ptx = tmp_path / f"{name}.{chip}.ptx"
    subprocess.run([LLMC_BIN, "compile", case.onnx_path, "--target", f"cuda:{chip}",
                    "--emit", "ptx", "-o", str(ptx)], check=True, timeout=TIMEOUT_S)
    text = ptx.read_text()
    assert f".target {chip}" in text
    kernels = text.count(".entry ")
    assert kernels > 0
    subprocess.run([PTXAS, f"-arch={chip}", str(ptx), "-o", str(tmp_path / "k.cubin")],
                   check=True, timeout=TIMEOUT_S)
    print(f"{name} {chip}: {kernels} kernels, ptxas ok")


LLMC_RUN_BIN = os.path.join(os.path.dirname(LLMC_BIN), "llmc-run")
CUDA_DEVICE = os.path.exists("/dev/nvidia0")


def _llmc_run(artifact, case, tmp_path, *extra):
    """Runs `llmc-run ARTIFACT NAME=FILE.npy ...`; the outputs by name."""
    import subprocess
    args = llmc_runner.write_inputs(case.inputs, str(tmp_path / "in"))
    named = [a for a in args if a != "--input"]
    out_dir = tmp_path / "out"
    subprocess.run([LLMC_RUN_BIN, str(artifact), *named, "--output-dir",
                    str(out_dir), *extra], check=True, timeout=TIMEOUT_S)
    return {n: np.load(llmc_runner.output_file(str(out_dir), n))
            for n in case.ref_fp64
            if os.path.exists(llmc_runner.output_file(str(out_dir), n))}


@pytest.mark.parametrize("name", list(_params()))
def test_e2e_model_llmc_run_cpu(name, tmp_path):
    """A CPU artifact run by llmc-run (the runtime alone, no compiler
    libraries) gives the float64 reference's result within REL_L2_TOL."""
    import subprocess
    case = models.get(name)
    artifact = tmp_path / f"{name}.llmcx"
    subprocess.run([LLMC_BIN, "compile", case.onnx_path, "-o", str(artifact)],
                   check=True, timeout=TIMEOUT_S)
    problems, summary = _compare(case, _llmc_run(artifact, case, tmp_path))
    print(f"{name} llmc-run cpu: " + "; ".join(summary or problems))
    assert not problems, "\n".join(problems)


def _describe(artifact):
    import subprocess
    return subprocess.run([LLMC_RUN_BIN, str(artifact), "--describe"], check=True,
                          capture_output=True, text=True, timeout=120).stdout


@pytest.mark.parametrize("name", list(_params()))
def test_e2e_model_cuda_artifact(name, tmp_path):
    """Every end-to-end model compiles to a CUDA artifact (no GPU needed):
    its program launches only kernels that its PTX defines, carries ptxas's
    cubin, and its arena is smaller than its temporaries laid end to end."""
    import re
    import subprocess
    if not os.access(PTXAS, os.X_OK):
        pytest.skip(f"ptxas not found at {PTXAS} (the CUDA toolkit)")
    case = models.get(name)
    artifact = tmp_path / f"{name}.llmcx"
    ptx = tmp_path / f"{name}.ptx"
    subprocess.run([LLMC_BIN, "compile", case.onnx_path, "--target", "cuda",
                    "-o", str(artifact)], check=True, timeout=TIMEOUT_S)
    subprocess.run([LLMC_BIN, "compile", case.onnx_path, "--target", "cuda",
                    "--emit", "ptx", "-o", str(ptx)], check=True, timeout=TIMEOUT_S)
    text = _describe(artifact)
    assert "target: cuda-sm_90" in text
    assert re.search(r"^cubin: \d+ bytes for sm_90$", text, re.M), text
    entries = set(re.findall(r"\.entry (\w+)\(", ptx.read_text()))
    launched = re.findall(r"^  \d+ launch (\w+) ", text, re.M)
    assert launched and set(launched) <= entries, set(launched) - entries
    arena, temps = map(int, re.search(
        r"^arena: (\d+) bytes for \d+ temporaries of (\d+) bytes", text, re.M).groups())
    assert arena < temps
    _check_conv_steps(case.onnx_path, text)
    steps = re.search(r"^steps: .*$", text, re.M).group(0)
    print(f"{name}: {steps}; arena {arena} bytes for {temps} bytes of temporaries")


def _check_conv_steps(onnx_path, text):
    """Every 2-D Conv node of the model is one cuDNN convolution step that
    names it first (then the nodes of an epilogue fused into it), with the
    node's filter, output shape, strides, dilations, groups, and padding:
    the node's own when it is equal on both sides
    (the input read in place), none when it is not (the input padded by
    kernels first)."""
    import re
    import onnx
    from onnx import numpy_helper, shape_inference
    model = shape_inference.infer_shapes(onnx.load(onnx_path))
    g = model.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(g.value_info) + list(g.input) + list(g.output)}
    shapes.update({t.name: list(t.dims) for t in g.initializer})
    steps = {}
    for m in re.finditer(
            r"^  \d+ conv FLOAT x (\S+) w (\S+) y (\S+) pad (\S+) stride (\S+) "
            r"dilation (\S+) group (\d+) .*  \((.*)\)$", text, re.M):
        dims = [list(map(int, f.split("x"))) for f in m.groups()[:6]]
        # The convolution's node comes first; a fused epilogue's follow.
        node = m.group(8).split(",")[0]
        assert node not in steps, f"two conv steps for {node}"
        steps[node] = dims + [int(m.group(7))]
    convs = [n for n in g.node if n.op_type == "Conv" and len(shapes[n.input[1]]) == 4]
    assert sorted(steps) == sorted(n.name for n in convs)
    for n in convs:
        x, w, y, pad, stride, dilation, group = steps[n.name]
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        pads = list(a.get("pads", [0, 0, 0, 0]))
        assert w == shapes[n.input[1]], n.name
        assert y == shapes[n.output[0]], n.name
        assert stride == list(a.get("strides", [1, 1])), n.name
        assert dilation == list(a.get("dilations", [1, 1])), n.name
        assert group == a.get("group", 1), n.name
        source = shapes[n.input[0]]
        if pads[:2] == pads[2:]:
            assert pad == pads[:2] and x == source, n.name
        else:
            assert pad == [0, 0], n.name
            assert x == source[:2] + [source[2] + pads[0] + pads[2],
                                      source[3] + pads[1] + pads[3]], n.name


@pytest.mark.parametrize("name", list(_params()))
def test_e2e_model_on_cuda(name, tmp_path):
    """On a CUDA device: the model's CUDA artifact, run by llmc-run, gives
    the float64 reference's result within REL_L2_TOL (fp32, no TF32), run
    step by step and replayed as a CUDA graph."""
    import subprocess
    if not CUDA_DEVICE:
        pytest.skip("no CUDA device (/dev/nvidia0 is absent): the CUDA "
                    "artifact is only compiled and described here")
    case = models.get(name)
    artifact = tmp_path / f"{name}.llmcx"
    subprocess.run([LLMC_BIN, "compile", case.onnx_path, "--target", "cuda",
                    "-o", str(artifact)], check=True, timeout=TIMEOUT_S)
    for extra in ([], ["--cuda-graph", "--runs", "3"]):
        problems, summary = _compare(case, _llmc_run(artifact, case, tmp_path, *extra))
        print(f"{name} cuda {' '.join(extra)}: " + "; ".join(summary or problems))
        assert not problems, "\n".join(problems)
