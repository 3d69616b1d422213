#!/usr/bin/env bash
# Builds llmc's libFuzzer targets (ASan + UBSan) and runs each for a while.
#
#   test/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); targets default to all four: npy,
# artifact, onnx, onnx-text (test/fuzz/CMakeLists.txt). The build tree is
# build-fuzz (LLMC_FUZZ_BUILD to change it); seed corpora are made there
# from the conformance models, the lit inputs and artifacts compiled by
# build/bin/llmc, and grow across runs (corpus/TARGET); the inputs of past
# findings (test/fuzz/regressions/TARGET) run first. A crash, a leak, a
# sanitizer report or a timeout is kept as findings/TARGET/crash-* (to
# replay: build-fuzz/bin/llmc-fuzz-TARGET FILE). The last line is
# `fuzz: N targets, E executions, C findings`; exit status 1 with findings.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(npy artifact onnx onnx-text)
B="${LLMC_FUZZ_BUILD:-$REPO/build-fuzz}"
VPY="$REPO/.venv/bin/python"
[[ -x "$VPY" ]] || VPY=/usr/bin/python3

cmake -G Ninja -S "$REPO" -B "$B" -DLLMC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 >/dev/null
ninja -C "$B" llmc-fuzzers >/dev/null

# Seed corpora, made once.
seed() { [[ -d "$B/seeds/$1" ]] && return 1; mkdir -p "$B/seeds/$1"; }
if seed onnx; then
  i=0
  for m in /usr/share/libonnx-testdata/data/{node,simple,pytorch-operator}/*/model.onnx; do
    cp "$m" "$B/seeds/onnx/$((i++)).onnx"
  done
fi
if seed onnx-text; then
  cp "$REPO"/test/llmc/Inputs/*.onnxtxt "$B/seeds/onnx-text/"
fi
if seed npy; then
  "$VPY" - "$B/seeds/npy" <<'PY'
import sys, numpy as np
d = sys.argv[1]
for i, (dt, shape) in enumerate([("float32", (2, 3)), ("float64", ()), ("int64", (5,)),
                                 ("uint8", (1, 2, 3)), ("bool", (4,)), ("float16", (3, 1)),
                                 ("int32", (0, 3)), ("int8", (2, 2, 2, 2))]):
    np.save(f"{d}/{i}.npy", np.arange(int(np.prod(shape)) or 0).astype(dt).reshape(shape))
PY
fi
if seed artifact; then
  L="$REPO/build/bin/llmc"
  I="$REPO/test/llmc/Inputs"
  "$L" compile "$I/relu2.onnxtxt" -o "$B/seeds/artifact/cpu.llmcx"
  "$L" compile "$I/matmul_softmax.onnxtxt" --target cuda -o "$B/seeds/artifact/cuda.llmcx"
  "$L" compile "$I/conv_relu.onnxtxt" --target cuda -o "$B/seeds/artifact/conv.llmcx" || true
  "$L" compile "$I/dynamic_mlp.onnxtxt" --dynamic batch=1..4,seq=2..4 -o "$B/seeds/artifact/dynamic.llmcx"
  "$VPY" "$I/mesh_models.py" make "$B/seeds/mesh" >/dev/null
  "$L" compile "$B/seeds/mesh/mlp.onnx" --mesh tp=2 --strategy megatron -o "$B/seeds/artifact/mesh.llmcx"
  "$L" compile "$B/seeds/mesh/mlp.onnx" --target cuda --mesh tp=2 --strategy megatron -o "$B/seeds/artifact/cuda-mesh.llmcx"
fi

total_execs=0 total_findings=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t" "$B/findings/$t"
  log="$B/fuzz-$t.log"
  set +e
  regress=()
  [[ -d "$REPO/test/fuzz/regressions/$t" ]] && regress=("$REPO/test/fuzz/regressions/$t")
  "$B/bin/llmc-fuzz-$t" "$B/corpus/$t" "$B/seeds/$t" "${regress[@]}" \
    -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$B/findings/$t/" >"$log" 2>&1
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)"
  findings="$(find "$B/findings/$t" -type f | wc -l)"
  total_execs=$((total_execs + ${execs:-0}))
  total_findings=$((total_findings + findings))
  echo "fuzz $t: ${execs:-0} executions, coverage ${cov:-0} edges, $findings findings (log: $log)"
done
echo "fuzz: ${#TARGETS[@]} targets, $total_execs executions, $total_findings findings"
[[ $total_findings -eq 0 ]]
