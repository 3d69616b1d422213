//===- FusionGroupsToCpu.cpp - Fusion groups as CPU kernel functions ------===//
//
// On the CPU a fusion group becomes a private function (its kernel), whose
// graph ops lower to linalg with everything else; the loops of each kernel
// are then fused by upstream linalg elementwise fusion, and the kernels are
// inlined back by the pipeline (`inline`, `symbol-dce`).
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/Passes.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_OUTLINEFUSIONGROUPSPASS
#define GEN_PASS_DEF_FUSEKERNELLOOPSPASS
#include "llmc/Codegen/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

namespace {
/// The largest body (in ops) a consumer may have after a shared producer is
/// recomputed in it; single-use producers fuse whatever the size.
constexpr size_t kMaxRecomputingBody = 64;

struct OutlineFusionGroupsPass final
    : ::mlir::llmc::impl::OutlineFusionGroupsPassBase<OutlineFusionGroupsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<graph::FusionGroupOp> groups;
    module.walk([&](graph::FusionGroupOp g) { groups.push_back(g); });
    DenseMap<Operation *, int> counts;
    for (graph::FusionGroupOp group : groups) {
      auto caller = group->getParentOfType<func::FuncOp>();
      if (!caller) {
        group.emitOpError("must be inside a function");
        return signalPassFailure();
      }
      std::string name = (caller.getSymName() + "_kernel" +
                          Twine(counts[caller]++)).str();
      OpBuilder b(module.getBodyRegion());
      b.setInsertionPointAfter(caller);
      auto kernel = func::FuncOp::create(
          b, group.getLoc(), name,
          b.getFunctionType(group.getInputs().getTypes(),
                            group.getResultTypes()));
      kernel.setPrivate();
      kernel->setAttr("llmc.kernel", b.getStringAttr(group.getKind()));
      symbols.insert(kernel); // Renames on a clash.
      kernel.getBody().takeBody(group.getBody());
      graph::YieldOp yield = cast<graph::YieldOp>(
          kernel.getBody().front().getTerminator());
      b.setInsertionPoint(yield);
      func::ReturnOp::create(b, yield.getLoc(), yield.getValues());
      yield.erase();
      b.setInsertionPoint(group);
      auto call = func::CallOp::create(b, group.getLoc(), kernel,
                                       group.getInputs());
      group.replaceAllUsesWith(call.getResults());
      group.erase();
    }
  }
};

struct FuseKernelLoopsPass final
    : ::mlir::llmc::impl::FuseKernelLoopsPassBase<FuseKernelLoopsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!func->hasAttr("llmc.kernel"))
      return;
    RewritePatternSet patterns(&getContext());
    // Named ops (transpose, broadcast, copy) as generics, so that they fuse
    // with their producers: a transpose becomes an index map.
    linalg::populateLinalgNamedOpsGeneralizationPatterns(patterns);
    // Fuse a producer into its consumer only when the producer's result is
    // an intermediate of this kernel: the consumer recomputes it inline.
    // A producer that other ops read too is recomputed in each of them, so
    // it is fused only while the consumer's body stays small: chains of
    // values read several times (an LU factorization's rows, each from the
    // previous through a gather, a slice and a subtraction) would otherwise
    // grow the body, and the compile time, exponentially.
    auto control = [](OpOperand *fusedOperand) {
      Operation *producer = fusedOperand->get().getDefiningOp();
      if (!producer || producer->hasAttr("library_call"))
        return false;
      if (fusedOperand->get().hasOneUse())
        return true;
      auto consumer = dyn_cast<linalg::GenericOp>(fusedOperand->getOwner());
      auto shared = dyn_cast<linalg::GenericOp>(producer);
      if (!consumer || !shared)
        return true;
      return consumer.getBody()->getOperations().size() +
                 shared.getBody()->getOperations().size() <=
             kMaxRecomputingBody;
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    // Reshapes between the kernel's loops fold into them: the loops take
    // the expanded shape, so a head split or merge costs no pass of its own.
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    if (failed(applyPatternsGreedily(func, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
