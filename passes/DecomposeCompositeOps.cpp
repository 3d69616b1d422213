//===- DecomposeCompositeOps.cpp - Composite graph ops into primitives ----===//
//
// A thin driver: one pattern over DecomposableOpInterface, so a new
// composite op is decomposed by implementing the interface, not by a case
// here.
//
//===----------------------------------------------------------------------===//

#include "llmc/Passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_DECOMPOSECOMPOSITEOPSPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

namespace {
struct DecomposeComposite
    : OpInterfaceRewritePattern<graph::DecomposableOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;
  LogicalResult matchAndRewrite(graph::DecomposableOpInterface op,
                                PatternRewriter &rewriter) const override {
    return op.decompose(rewriter);
  }
};

struct DecomposeCompositeOpsPass final
    : ::mlir::llmc::impl::DecomposeCompositeOpsPassBase<DecomposeCompositeOpsPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeCompositeOpsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::llmc::populateDecomposeCompositeOpsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DecomposeComposite>(patterns.getContext());
}
