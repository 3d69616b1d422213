//===- ReadonlyArguments.cpp - Inputs and weights are never written -------===//

#include "llmc/Codegen/Passes.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_READONLYARGUMENTSPASS
#include "llmc/Codegen/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;

namespace {
struct ReadonlyArgumentsPass final
    : ::mlir::llmc::impl::ReadonlyArgumentsPassBase<ReadonlyArgumentsPass> {
  using Base::Base;
  void runOnOperation() override {
    StringRef name = bufferization::BufferizationDialect::kWritableAttrName;
    BoolAttr no = BoolAttr::get(&getContext(), false);
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      for (unsigned i = 0; i < func.getNumArguments(); ++i) {
        if (!isa<TensorType>(func.getArgument(i).getType()))
          continue;
        // A donated input is the code's to update in place.
        if (func.getArgAttr(i, ::mlir::llmc::kDonatedAttr))
          continue;
        auto given = func.getArgAttrOfType<BoolAttr>(i, name);
        if (given && given.getValue()) {
          func.emitError("argument ")
              << i << " of @" << func.getSymName()
              << " is marked writable, but the runtime passes the caller's "
                 "buffers and the weights in place";
          return signalPassFailure();
        }
        func.setArgAttr(i, name, no);
      }
      // Each result gets a buffer of its own: a value returned again is
      // returned as a copy (the caller hands in one buffer per output).
      for (auto ret : func.getOps<func::ReturnOp>()) {
        OpBuilder b(ret);
        llvm::SmallPtrSet<Value, 8> seen;
        for (OpOperand &operand : ret->getOpOperands()) {
          Value v = operand.get();
          auto type = dyn_cast<RankedTensorType>(v.getType());
          if (!type || seen.insert(v).second)
            continue;
          operand.set(bufferization::AllocTensorOp::create(
              b, ret.getLoc(), type, ValueRange{}, /*copy=*/v));
        }
      }
    }
  }
};
} // namespace
