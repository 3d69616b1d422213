# -*- Python -*-
import os

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

llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = ["llmc", "llmc-opt", "llmc-run", "llmc-unittests"]
llvm_config.add_tool_substitutions(tools, [config.llmc_tools_dir])
config.substitutions.append(
    ("%llmc_run_path", os.path.join(config.llmc_tools_dir, "llmc-run")))

# GPU execution tests declare `REQUIRES: cuda-device`; lit sets the feature
# only where a device is present.
if os.path.exists("/dev/nvidia0") and os.environ.get("LLMC_TEST_CUDA", "1") != "0":
    config.available_features.add("cuda-device")

# Every PTX module a test generates is assembled by ptxas (offline, no GPU
# needed): tests that do so declare `REQUIRES: ptxas`, set where the CUDA
# toolkit is installed (scripts/setup.sh checks for it).
ptxas = os.environ.get("LLMC_PTXAS", "/usr/local/cuda/bin/ptxas")
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
else:
    print(f"note: ptxas not found at {ptxas}: PTX assembly tests are unsupported")
