#!/usr/bin/env bash
# Build llmc (via setup.sh), then compile and run the bundled example model.
#
#   scripts/example.sh
#
# Generates examples/tiny_cnn.onnx + examples/tiny_cnn_input.npy if missing,
# runs `llmc run` on them and prints every output next to an independent
# numpy float64 reference.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
LLMC="$REPO/build/bin/llmc"
OUT=/tmp/llmc-example-out

"$REPO/scripts/setup.sh"

cd "$REPO"
# Writes the model/input only when missing; always prints the reference.
"$PY" examples/make_example.py

[[ -x "$LLMC" ]] || { echo "error: $LLMC not found (build failed?)" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
echo "+ $LLMC run examples/tiny_cnn.onnx --input x=examples/tiny_cnn_input.npy --output-dir $OUT"
"$LLMC" run examples/tiny_cnn.onnx --input x=examples/tiny_cnn_input.npy --output-dir "$OUT"

"$PY" - "$OUT" <<'EOF'
import glob, os, sys
import numpy as np
sys.path.insert(0, "examples")
sys.dont_write_bytecode = True
import onnx
import make_example

out_dir = sys.argv[1]
ref = make_example.reference(onnx.load(make_example.MODEL),
                             np.load(make_example.INPUT))
files = sorted(glob.glob(os.path.join(out_dir, "*.npy")))
if not files:
    sys.exit(f"error: llmc wrote no .npy outputs to {out_dir}")
np.set_printoptions(precision=6, suppress=True)
for f in files:
    name = os.path.splitext(os.path.basename(f))[0]
    a = np.load(f)
    print(f"output {name}: dtype={a.dtype} shape={list(a.shape)}")
    print(f"  values:   {a}")
    if name in ref:
        r = ref[name]
        print(f"  expected: {r.astype(np.float32)}")
        if a.shape == r.shape:
            print(f"  max abs diff vs numpy reference: {np.abs(a.astype(np.float64) - r).max():.3g}")
        else:
            print(f"  shape mismatch vs reference {list(r.shape)}")
EOF

# The same model for an NVIDIA GPU (sm_90): compiling needs no GPU; the
# artifact's program (kernels, GEMMs, arena) is shown without one. Running
# it needs a CUDA device (elsewhere llmc says "no CUDA device").
echo "+ $LLMC compile examples/tiny_cnn.onnx --target cuda -o $OUT/tiny_cnn.cuda.llmcx"
"$LLMC" compile examples/tiny_cnn.onnx --target cuda -o "$OUT/tiny_cnn.cuda.llmcx"
echo "+ ${LLMC%/llmc}/llmc-run $OUT/tiny_cnn.cuda.llmcx --describe"
"${LLMC%/llmc}/llmc-run" "$OUT/tiny_cnn.cuda.llmcx" --describe | head -16
