#!/usr/bin/env bash
# Build (via setup.sh) and run every llmc test stage:
#   (a) lit tests in build/test (if configured)
#   (b) ONNX conformance suites from libonnx-testdata, against
#       test/conformance/xfail.txt
#   (b2) the ONNX wheel's backend node tests (onnx in .venv), as suite
#       onnx-wheel-node, against test/conformance/xfail-onnx-wheel.txt
#   (c) pytest suites under test/python (if present)
# The last line printed is always `N passed, M failed` (sum over stages);
# the exit status is non-zero when anything failed.
#
#   scripts/test.sh
#
# Environment:
#   LLMC_TEST_JOBS       parallel conformance tests (default: nproc)
#   LLMC_TEST_TIMEOUT    per-test conformance timeout in seconds (default 120)
#   LLMC_TEST_FILTER     regex passed to the conformance runner's --filter
#   (and everything setup.sh reads, e.g. LLMC_BUILD_TARGETS)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VPY="$REPO/.venv/bin/python"
LIT=/usr/lib/llvm-22/bin/lit
DATA=/usr/share/libonnx-testdata/data
LLMC="$REPO/build/bin/llmc"

TOTAL_PASS=0
TOTAL_FAIL=0
STAGES=()
LOGDIR="$(mktemp -d -t llmc-test.XXXXXX)"
trap 'rm -rf "$LOGDIR"' EXIT

finish() {
  echo
  echo "=== test.sh summary ==="
  local s
  for s in "${STAGES[@]}"; do echo "  $s"; done
  echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
  if ((TOTAL_FAIL > 0)); then exit 1; fi
  exit 0
}

# add_stage NAME PASSED FAILED
add_stage() {
  TOTAL_PASS=$((TOTAL_PASS + $2))
  TOTAL_FAIL=$((TOTAL_FAIL + $3))
  STAGES+=("$1: $2 passed, $3 failed")
}

# run_logged LOG CMD... : run CMD with output shown and saved; returns its status.
run_logged() {
  local log="$1" status
  shift
  set +e
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

# --- setup / build ---------------------------------------------------------
if ! "$REPO/scripts/setup.sh"; then
  echo "error: scripts/setup.sh failed (dependencies or build)" >&2
  add_stage setup 0 1
  finish
fi

# --- (a) lit ---------------------------------------------------------------
if [[ -f "$REPO/build/test/lit.site.cfg.py" ]]; then
  echo "=== lit ==="
  status=0
  run_logged "$LOGDIR/lit.log" "$LIT" -sv "$REPO/build/test" || status=$?
  # lit summary lines look like "  Passed            : 12 (85.71%)".
  read -r p f < <(/usr/bin/python3 - "$LOGDIR/lit.log" <<'EOF'
import re, sys
counts = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^\s+([A-Za-z][A-Za-z ]*?)\s*:\s*(\d+)\s*\(", line)
    if m:
        counts[m.group(1)] = int(m.group(2))
ok = sum(counts.get(k, 0) for k in ("Passed", "Passed With Retry", "Expectedly Failed"))
bad = sum(counts.get(k, 0) for k in ("Failed", "Unexpectedly Passed", "Unresolved", "Timed Out"))
print(ok, bad)
EOF
  )
  if ((status != 0 && f == 0)); then f=1; fi  # lit itself failed (config error, ...)
  add_stage lit "$p" "$f"
else
  echo "=== lit: skipped (build/test/lit.site.cfg.py not found) ==="
fi

# --- (b) ONNX conformance -----------------------------------------------------
# conformance_stage NAME ARGS... : run_conformance.py with the common options
# and ARGS (suites, xfail list, report), counted as stage NAME.
conformance_stage() {
  local name="$1" status=0 line p f
  shift
  local conf_args=(
    --llmc "$LLMC" "$@"
    --jobs "${LLMC_TEST_JOBS:-$(nproc)}"
    --timeout "${LLMC_TEST_TIMEOUT:-120}"
  )
  if [[ -n "${LLMC_TEST_FILTER:-}" ]]; then conf_args+=(--filter "$LLMC_TEST_FILTER"); fi
  echo "=== $name ==="
  run_logged "$LOGDIR/$name.log" "$VPY" "$REPO/test/conformance/run_conformance.py" \
    "${conf_args[@]}" || status=$?
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGDIR/$name.log" | tail -n1 || true)"
  if [[ -n "$line" ]]; then
    p="${line%% passed*}"
    f="${line#*, }"; f="${f%% failed}"
    if ((status != 0 && f == 0)); then f=1; fi
  else
    p=0; f=1  # runner died before its summary
  fi
  add_stage "$name" "$p" "$f"
}

conformance_stage conformance \
  --suite "$DATA/node" --suite "$DATA/pytorch-converted" \
  --suite "$DATA/pytorch-operator" --suite "$DATA/simple" \
  --xfail "$REPO/test/conformance/xfail.txt" --compare-unfused \
  --cuda compile --cuda-xfail "$REPO/test/conformance/xfail-cuda.txt" \
  --report "$REPO/build/conformance-report.json"

# --- (b2) the ONNX wheel's backend node tests --------------------------------
# Newer than libonnx-testdata's (opsets up to 24); the suite is named
# onnx-wheel-node so that its xfail keys differ from the node/... ones.
WHEEL_NODE="$("$VPY" -c 'import os, onnx; print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node"))' 2>/dev/null || true)"
if [[ -n "$WHEEL_NODE" && -d "$WHEEL_NODE" ]]; then
  conformance_stage conformance-onnx-wheel \
    --suite "onnx-wheel-node=$WHEEL_NODE" --compare-unfused \
    --xfail "$REPO/test/conformance/xfail-onnx-wheel.txt" \
    --report "$REPO/build/conformance-onnx-wheel-report.json"
else
  echo "error: the onnx wheel's backend test data is missing (.venv onnx)" >&2
  add_stage conformance-onnx-wheel 0 1
fi

# --- (c) pytest ------------------------------------------------------------
# pytest_stage NAME PYTHON [pytest args...]
pytest_stage() {
  local name="$1" py="$2" status=0 p f
  shift 2
  echo "=== $name ==="
  run_logged "$LOGDIR/$name.log" "$py" -m pytest -q -rs -p no:cacheprovider "$@" \
    || status=$?
  if ((status == 5)); then
    add_stage "$name" 0 0  # no tests collected
    return
  fi
  # Final line like "3 failed, 10 passed, 1 skipped, 2 errors in 1.2s".
  read -r p f < <(/usr/bin/python3 - "$LOGDIR/$name.log" <<'EOF'
import re, sys
lines = [l for l in open(sys.argv[1], errors="replace") if l.strip()]
counts = {}
for line in reversed(lines):
    found = re.findall(r"(\d+) (passed|failed|errors?|xfailed|xpassed)\b", line)
    if found and re.search(r" in [0-9.]+s", line):
        for n, k in found:
            counts[k.rstrip("s") if k.startswith("error") else k] = int(n)
        break
ok = counts.get("passed", 0) + counts.get("xfailed", 0) + counts.get("xpassed", 0)
bad = counts.get("failed", 0) + counts.get("error", 0)
print(ok, bad)
EOF
  )
  if ((status != 0 && f == 0)); then f=1; fi
  add_stage "$name" "$p" "$f"
}

if [[ -d "$REPO/test/python" ]]; then
  # The venv: torch 2.11 (torch.compile, torch.export), onnxruntime.
  pytest_stage pytest "$VPY" "$REPO/test/python"
  # Debian's python3 with its torch 1.13: the torch.fx capture path alone.
  pytest_stage pytest-debian-torch /usr/bin/python3 \
    "$REPO/test/python/test_python_api.py" -k "fx_capture or multihead"
fi

finish
