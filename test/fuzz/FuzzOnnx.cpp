//===- FuzzOnnx.cpp - libFuzzer target: ONNX bytes -> import -> verify ----===//
//
// The bytes are a model, binary protobuf (FuzzOnnx) or, built with
// LLMC_FUZZ_TEXT, the ONNX text format (FuzzOnnxText): parsed, checked by
// libonnx's checker, imported into the graph dialect and verified, inside
// the 64 MiB of tensors a fuzzed model may ask for (LLMC_MEMORY_LIMIT).
// Errors are fine; a crash, a hang, an uncaught exception, a sanitizer
// report, a leak or invalid IR from an accepted model is a finding. (A
// message quoting a name that holds a newline is made one line by the
// diagnostic handler every entry point uses, OneLineDiagnosticHandler.)
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  setenv("LLMC_MEMORY_LIMIT", "0.0625", 1); // 64 MiB
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The importer loads the dialects it builds (graph, func).
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler handler(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
#ifdef LLMC_FUZZ_TEXT
  const char *path = "fuzz.onnxtxt";
#else
  const char *path = "fuzz.onnx";
#endif
  auto module = mlir::llmc::importOnnxModelFromBuffer(
      context,
      llvm::StringRef(reinterpret_cast<const char *>(data), size), path, {});
  if (mlir::succeeded(module) && mlir::failed(mlir::verify(**module)))
    __builtin_trap(); // the importer built invalid IR
  return 0;
}
