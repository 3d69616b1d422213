#!/usr/bin/env bash
# llmc's CUDA path checked on a GPU machine in one prepared run (issue 22).
#
#   bench/gpu_check.sh prepare [DIR] [--quick] [--chip sm_90]
#       here, after scripts/setup.sh: CUDA artifacts, inputs and CPU-computed
#       references into DIR (default build/gpu-check), small enough to carry
#   bench/gpu_check.sh run [DIR] [--out DIR]
#       on the GPU machine, from the repository root, with only what the
#       device tool carries (the working tree and DIR): writes
#       gpu_check.json and gpu_check.log under --out (default $OUT)
#   bench/gpu_check.sh --dry-run [--quick] [DIR]
#       here: prepare, then run everything but the device (each llmc-run
#       of a CUDA artifact becomes `llmc run` of its model on the CPU)
#
# The device tool's call, after `prepare`:
#   run(command="bench/gpu_check.sh run", carry=["build/gpu-check"], timeout_s=540)
# The steps, the checks and the tolerances: bench/gpu_check.py's docstring.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# Here the test venv's python (numpy, onnx, torch 2.x); on the GPU machine
# the plain python3, which holds PyTorch.
if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
export PYTHONUNBUFFERED=1

case "${1:-}" in
  prepare)
    shift
    exec "$PY" "$REPO/bench/gpu_check.py" prepare "$@" ;;
  run)
    shift
    exec "$PY" "$REPO/bench/gpu_check.py" run "$@" ;;
  --dry-run)
    shift
    quick=() dir="$REPO/build/gpu-check-dry"
    for a in "$@"; do
      case "$a" in
        --quick) quick=(--quick) ;;
        *) dir="$a" ;;
      esac
    done
    "$PY" "$REPO/bench/gpu_check.py" prepare "$dir" "${quick[@]}"
    exec "$PY" "$REPO/bench/gpu_check.py" run "$dir" --dry-run --out "$dir/out" ;;
  *)
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2 ;;
esac
