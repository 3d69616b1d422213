//===- InitAll.cpp - The one place that registers dialects and passes -----===//

#include "llmc/InitAll.h"

#include "llmc/Codegen/Passes.h"
#include "llmc/Dialect/Graph/IR/GraphDialect.h"
#include "llmc/Passes/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::llmc::registerAllDialects(DialectRegistry &registry) {
  registry.insert<graph::GraphDialect>();
  // The pipelines go through linalg, tensor, bufferization, scf, memref and
  // LLVM, whose external interface models (bufferization, inlining...) are
  // registered with them.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  registerAttentionBufferization(registry);
}

void mlir::llmc::registerAllPasses() {
  mlir::registerAllPasses();
  registerLLMCPasses();
  registerLLMCCodegenPasses();
}
