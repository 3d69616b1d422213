//===- Passes.h - Graph-level passes of llmc -------------------*- C++ -*-===//

#ifndef LLMC_PASSES_PASSES_H
#define LLMC_PASSES_PASSES_H

#include "llmc/Dialect/Graph/IR/GraphOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::llmc {

#define GEN_PASS_DECL
#include "llmc/Passes/Passes.h.inc"

/// Adds the patterns that decompose every DecomposableOpInterface op.
void populateDecomposeCompositeOpsPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "llmc/Passes/Passes.h.inc"

} // namespace mlir::llmc

#endif // LLMC_PASSES_PASSES_H
