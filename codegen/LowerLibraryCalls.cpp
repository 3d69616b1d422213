//===- LowerLibraryCalls.cpp - Marked generics to runtime kernel calls ----===//

#include "LibraryCall.h"
#include "llmc/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_LOWERLIBRARYCALLSPASS
#include "llmc/Codegen/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

namespace {
struct LowerLibraryCallsPass final
    : ::mlir::llmc::impl::LowerLibraryCallsPassBase<LowerLibraryCallsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::GenericOp> marked;
    module.walk([&](linalg::GenericOp op) {
      if (op.getLibraryCallAttr())
        marked.push_back(op);
    });
    for (linalg::GenericOp op : marked) {
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError("has a library_call but works on tensors: run "
                       "llmc-lower-library-calls after bufferization");
        return signalPassFailure();
      }
      OpBuilder b(op);
      if (failed(callLibrary(b, op, op.getLibraryCallAttr().getValue(),
                             op->getOperands())))
        return signalPassFailure();
      op.erase();
    }
    // The device grid of a partitioned program is only referred to by its
    // collectives, which are calls now: nothing after this lowers it.
    for (auto grid : llvm::make_early_inc_range(module.getOps<shard::GridOp>()))
      if (SymbolTable::symbolKnownUseEmpty(grid, module))
        grid.erase();
  }
};
} // namespace
