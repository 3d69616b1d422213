"""Models quantized by ONNX Runtime's own tool, run by llmc against ONNX
Runtime on the same quantized file.

onnxruntime.quantization.quantize_dynamic (int8 weights, activations
quantized at run time: DynamicQuantizeLinear, MatMulInteger,
DequantizeLinear) on the GPT-2-style and BERT-style models of
test/e2e/models.py. llmc imports the quantization ops as their ONNX
definitions (lib/Import/OnnxQuantOps.cpp). Tolerances: the integer
arithmetic is exact, so the GPT-2-style model matches to 1e-6; in the
BERT-style one, float differences of 1e-7 upstream (llmc's polynomial erf)
move a few activations across a rounding boundary of DynamicQuantizeLinear,
one quantization step each, which shows as rel L2 up to 3e-2.
"""

import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import models  # noqa: E402

import llmc  # noqa: E402

ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")


@pytest.mark.slow
@pytest.mark.parametrize("name,tolerance", [("gpt2_mini", 1e-6), ("bert_mini", 3e-2)])
def test_quantize_dynamic_matches_onnx_runtime(name, tolerance, tmp_path):
    case = getattr(models, name)()
    path = str(tmp_path / f"{name}.int8.onnx")
    quantization.quantize_dynamic(case.onnx_path, path,
                                  weight_type=quantization.QuantType.QInt8)
    sess = ort.InferenceSession(path)
    exe = llmc.compile(path)
    got = exe(**case.inputs)
    got = got if isinstance(got, tuple) else (got,)
    want = sess.run(None, case.inputs)
    for g, w, o in zip(got, want, sess.get_outputs()):
        assert g.shape == w.shape
        err = np.linalg.norm(g - w) / np.linalg.norm(w)
        assert err <= tolerance, (o.name, err)
