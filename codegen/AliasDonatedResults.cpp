//===- AliasDonatedResults.cpp - Donated inputs returned in place ---------===//
//
// After one-shot bufferization, a result whose buffer is a donated argument
// (updated in place) leaves the function: the caller reads that output from
// the input's buffer, and no out-parameter copy is made.
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_ALIASDONATEDRESULTSPASS
#include "llmc/Codegen/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;

namespace {
/// The buffer `v` is: through memref.casts, and through scf.for results
/// whose loop yields its own iteration argument (a scatter's loop nest
/// updating its init in place) to the loop's init.
Value underlying(Value v) {
  while (true) {
    if (auto cast = v.getDefiningOp<memref::CastOp>()) {
      v = cast.getSource();
      continue;
    }
    auto result = dyn_cast<OpResult>(v);
    auto loop = result ? dyn_cast<scf::ForOp>(result.getOwner()) : nullptr;
    if (!loop)
      return v;
    unsigned i = result.getResultNumber();
    if (underlying(loop.getYieldedValues()[i]) != loop.getRegionIterArgs()[i])
      return v;
    v = loop.getInits()[i];
  }
}

/// The function argument `v` is (see underlying), or null.
BlockArgument argumentOf(Value v) {
  return dyn_cast<BlockArgument>(underlying(v));
}

struct AliasDonatedResultsPass final
    : ::mlir::llmc::impl::AliasDonatedResultsPassBase<AliasDonatedResultsPass> {
  using Base::Base;
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      bool donates = false;
      for (unsigned i = 0; i < func.getNumArguments(); ++i)
        donates |= func.getArgAttr(i, ::mlir::llmc::kDonatedAttr) != nullptr;
      if (!donates)
        continue;
      auto returns = llvm::to_vector(func.getOps<func::ReturnOp>());
      if (returns.size() != 1) {
        func.emitError("llmc-alias-donated-results: @")
            << func.getSymName() << " must have one return";
        return signalPassFailure();
      }
      func::ReturnOp ret = returns.front();
      SmallVector<int64_t> aliases(ret.getNumOperands(), -1);
      llvm::BitVector drop(ret.getNumOperands());
      llvm::SmallDenseSet<unsigned> taken;
      for (auto [i, operand] : llvm::enumerate(ret.getOperands())) {
        BlockArgument arg = argumentOf(operand);
        if (!arg || arg.getOwner() != &func.getBody().front() ||
            !func.getArgAttr(arg.getArgNumber(), ::mlir::llmc::kDonatedAttr) ||
            !taken.insert(arg.getArgNumber()).second)
          continue;
        aliases[i] = arg.getArgNumber();
        drop.set(i);
      }
      func->setAttr(::mlir::llmc::kOutputAliasesAttr,
                    DenseI64ArrayAttr::get(&getContext(), aliases));
      if (drop.none())
        continue;
      ret->eraseOperands(drop);
      if (failed(func.eraseResults(drop))) {
        func.emitError("llmc-alias-donated-results: cannot drop results");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
