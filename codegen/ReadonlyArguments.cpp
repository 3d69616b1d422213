//===- ReadonlyArguments.cpp - Inputs and weights are never written -------===//

#include "llmc/Codegen/Passes.h"

#include "llvm/ADT/BitVector.h"

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
    if (failed(dedupeKernelResults()))
      return signalPassFailure();
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

  /// A kernel function (private, called from the module) that returns one
  /// value twice, as two fused outputs that folding made equal: the calls'
  /// duplicate results are replaced by the first, and the function returns
  /// it once. Left alone, bufferization gave both results one buffer and
  /// buffer-results-to-out-params crashed on it (found by
  /// test/fuzz/random_graphs.py --cuda; the CPU inlines its kernels first).
  LogicalResult dedupeKernelResults() {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isPublic() || func.isExternal() || !func.getBody().hasOneBlock())
        continue;
      auto ret = dyn_cast<func::ReturnOp>(func.getBody().front().getTerminator());
      if (!ret)
        continue;
      // first[i]: the first result returning the same value as result i.
      SmallVector<unsigned> first;
      llvm::DenseMap<Value, unsigned> seen;
      for (auto [i, v] : llvm::enumerate(ret.getOperands()))
        first.push_back(seen.try_emplace(v, i).first->second);
      if (llvm::all_of(llvm::enumerate(first),
                       [](auto p) { return p.index() == p.value(); }))
        continue;
      std::optional<SymbolTable::UseRange> uses = func.getSymbolUses(module);
      if (!uses)
        continue;
      SmallVector<func::CallOp> calls;
      bool onlyCalls = true;
      for (const SymbolTable::SymbolUse &use : *uses) {
        auto call = dyn_cast<func::CallOp>(use.getUser());
        onlyCalls &= call != nullptr;
        if (call)
          calls.push_back(call);
      }
      if (!onlyCalls)
        continue;
      llvm::BitVector drop(first.size());
      for (auto [i, f] : llvm::enumerate(first))
        if (f != i)
          drop.set(i);
      for (func::CallOp call : calls) {
        for (auto [i, f] : llvm::enumerate(first))
          if (f != i)
            call.getResult(i).replaceAllUsesWith(call.getResult(f));
        OpBuilder b(call);
        SmallVector<Type> types;
        for (auto [i, t] : llvm::enumerate(call.getResultTypes()))
          if (!drop.test(i))
            types.push_back(t);
        auto fresh = func::CallOp::create(b, call.getLoc(), func.getSymName(),
                                          types, call.getOperands());
        fresh->setAttrs(call->getAttrs());
        unsigned next = 0;
        for (unsigned i = 0; i < call.getNumResults(); ++i)
          if (!drop.test(i))
            call.getResult(i).replaceAllUsesWith(fresh.getResult(next++));
        call.erase();
      }
      SmallVector<Value> kept;
      for (auto [i, v] : llvm::enumerate(ret.getOperands()))
        if (!drop.test(i))
          kept.push_back(v);
      OpBuilder b(ret);
      func::ReturnOp::create(b, ret.getLoc(), kept);
      ret.erase();
      if (failed(func.eraseResults(drop)))
        return func.emitOpError("cannot drop its duplicate results"), failure();
    }
    return success();
  }
};
} // namespace
