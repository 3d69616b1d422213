# -*- Python -*-
import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config

config.name = "LLMC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs",
                   "conformance", "python", "e2e"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llmc_obj_root, "test")

# FileCheck: a variable defined in one CHECK-LABEL block is not visible in
# the next, and an unused --check-prefix is an error.
config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"

llvm_config.use_default_substitutions()
config.substitutions.append(("%PYTHON", "/usr/bin/python3"))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
# The llmc Python package as built (tests that import llmc under the fake
# CUDA driver, which must be on LD_LIBRARY_PATH from the process start).
config.substitutions.append(
    ("%llmc_python", os.path.join(config.llmc_obj_root, "python_packages")))

llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = ["llmc", "llmc-opt", "llmc-run", "llmc-unittests"]
llvm_config.add_tool_substitutions(tools, [config.llmc_tools_dir])
config.substitutions.append(
    ("%llmc_run_path", os.path.join(config.llmc_tools_dir, "llmc-run")))

# GPU execution tests declare `REQUIRES: cuda-device`; lit sets the feature
# only where a device is present.
if os.path.exists("/dev/nvidia0") and os.environ.get("LLMC_TEST_CUDA", "1") != "0":
    config.available_features.add("cuda-device")

# The fake CUDA driver, cuBLASLt and cuDNN (test/fake-cuda), which record
# every call the runtime makes: tests that run through them declare
# `REQUIRES: fake-cuda` and put %fakecuda first on LD_LIBRARY_PATH.
fake_cuda = getattr(config, "llmc_fake_cuda_dir", "")
if fake_cuda and os.path.exists(os.path.join(fake_cuda, "libcuda.so.1")):
    config.available_features.add("fake-cuda")
    config.substitutions.append(("%fakecuda", fake_cuda))

# Every PTX module a test generates is assembled by ptxas (offline, no GPU
# needed): tests that do so declare `REQUIRES: ptxas`, set where the CUDA
# toolkit is installed (scripts/setup.sh checks for it).
ptxas = os.environ.get("LLMC_PTXAS", "/usr/local/cuda/bin/ptxas")
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
else:
    print(f"note: ptxas not found at {ptxas}: PTX assembly tests are unsupported")

# Several processes under mpirun (test/llmc/mesh-mpi.test): `REQUIRES:
# mpirun`, set where Open MPI 4's launcher is on PATH (mpirun.openmpi, or an
# `mpirun` that says it is Open MPI: Debian may also have MPICH's) and its
# libmpi.so.40 loads. %mpirun runs as root too (containers), quietly (no
# banner when a process exits 1), over shared memory and loopback TCP only.
def find_openmpi_launcher():
    for name in ["mpirun.openmpi", "mpirun"]:
        path = shutil.which(name)
        if not path:
            continue
        try:
            version = subprocess.run([path, "--version"], capture_output=True,
                                     text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if "Open MPI" in version or "OpenRTE" in version:
            return path
    return None

mpirun = find_openmpi_launcher()
# Loaded in a child, so that lit's own process stays free of MPI.
if mpirun and subprocess.run(
        ["/usr/bin/python3", "-c", "import ctypes; ctypes.CDLL('libmpi.so.40')"],
        capture_output=True).returncode != 0:
    mpirun = None
if mpirun:
    config.available_features.add("mpirun")
    config.substitutions.append(
        ("%mpirun", mpirun + " -q --allow-run-as-root --oversubscribe"
         " --mca btl self,vader,tcp --mca btl_tcp_if_include lo"
         " --mca btl_vader_single_copy_mechanism none"))
else:
    print("note: no Open MPI 4 (mpirun, libmpi.so.40): multi-process tests "
          "are unsupported")
