#!/usr/bin/env bash
# Prepare everything needed to build and test llmc. Idempotent: when all is
# already in place this only runs a few quick checks and a no-op ninja.
#
#   scripts/setup.sh
#
# Environment:
#   LLMC_BUILD_TARGETS  ninja targets to build (default: empty = all)
#   LLMC_BUILD_JOBS     ninja -j value (default: 2)
#   LLMC_SKIP_APT=1     skip the apt package check
#   LLMC_SKIP_VENV=1    skip the venv / pip step
#   LLMC_SKIP_BUILD=1   skip cmake configure + ninja build
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
VENV="$REPO/.venv"
BUILD="$REPO/build"
REQS="$REPO/scripts/requirements-test.txt"
LLVM_BIN=/usr/lib/llvm-22/bin

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

APT_PACKAGES=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  pybind11-dev python3-dev libflatbuffers-dev flatbuffers-compiler
  ninja-build cmake
  python3-numpy python3-onnx python3-pytest python3-torch python3-torchvision
  libopenblas-dev python3-venv libgtest-dev
  libopenmpi-dev openmpi-bin libssl-dev libclang-rt-22-dev
)

# --- 1. apt packages ---------------------------------------------------------
install_apt_packages() {
  local missing=() pkg status
  local -A installed=()
  # One dpkg-query for all packages; unknown ones are simply not listed.
  while read -r pkg status; do
    if [[ "$status" == installed ]]; then installed["${pkg%%:*}"]=1; fi
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
             "${APT_PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${APT_PACKAGES[@]}"; do
    [[ -n "${installed[$pkg]:-}" ]] || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0

  log "installing missing apt packages: ${missing[*]}"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 ||
      die "not root and sudo not available; install manually: ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}

# --- 2. test venv --------------------------------------------------------------
setup_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    "$PY" -m venv --system-site-packages "$VENV"
  fi
  [[ -f "$REQS" ]] || die "missing $REQS"

  # The stamp records the requirements hash and the interpreter version, so a
  # changed requirements file (or a rebuilt venv) triggers a reinstall.
  local stamp="$VENV/.requirements-test.stamp" want
  want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  log "installing test requirements into $VENV"
  rm -f "$stamp"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    -r "$REQS" || die "pip install -r $REQS failed"
  printf '%s\n' "$want" >"$stamp"
}

# --- 3. configure + build ---------------------------------------------------
build() {
  if [[ ! -f "$BUILD/build.ninja" ]]; then
    log "configuring $BUILD"
    cmake -G Ninja -S "$REPO" -B "$BUILD" \
      -DCMAKE_BUILD_TYPE=Release \
      -DLLVM_EXTERNAL_LIT="$LLVM_BIN/lit" \
      -DCMAKE_C_COMPILER=clang-22 \
      -DCMAKE_CXX_COMPILER=clang++-22
  fi
  local targets=()
  # Word-split on purpose: LLMC_BUILD_TARGETS="llmc llmc-opt".
  read -r -a targets <<<"${LLMC_BUILD_TARGETS:-}"
  ninja -C "$BUILD" -j"${LLMC_BUILD_JOBS:-2}" "${targets[@]}"
}

# --- 4. the Python package ----------------------------------------------------
# `import llmc` for /usr/bin/python3 (its user site-packages) and for the test
# venv: a .pth file naming the built package folder.
install_python_package() {
  local pkg="$BUILD/python_packages" site
  [[ -d "$pkg/llmc" ]] || return 0
  site="$("$PY" -m site --user-site)"
  mkdir -p "$site"
  printf '%s\n' "$pkg" >"$site/llmc.pth"
  if [[ -x "$VENV/bin/python" ]]; then
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    printf '%s\n' "$pkg" >"$site/llmc.pth"
  fi
}

[[ "${LLMC_SKIP_APT:-0}" == 1 ]] || install_apt_packages
[[ "${LLMC_SKIP_VENV:-0}" == 1 ]] || setup_venv
[[ "${LLMC_SKIP_BUILD:-0}" == 1 ]] || build
[[ "${LLMC_SKIP_BUILD:-0}" == 1 ]] || install_python_package
