//===- OutlineWeights.cpp - Large constants become arguments of @main -----===//

#include "llmc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_OUTLINEWEIGHTSPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

namespace {
struct OutlineWeightsPass final
    : ::mlir::llmc::impl::OutlineWeightsPassBase<OutlineWeightsPass> {
  using Base::Base;
  void runOnOperation() override {
    auto main = getOperation().lookupSymbol<func::FuncOp>("main");
    if (!main || main.isExternal())
      return;
    SmallVector<graph::ConstantOp> weights;
    main.walk([&](graph::ConstantOp op) {
      auto blob = dyn_cast<DenseResourceElementsAttr>(op.getValue());
      if (blob && blob.getNumElements() >= minElements)
        weights.push_back(op);
    });
    for (graph::ConstantOp op : weights) {
      unsigned index = main.getNumArguments();
      NamedAttribute weight(StringAttr::get(&getContext(), "llmc.weight"),
                            op.getValue());
      if (failed(main.insertArgument(index, op.getType(),
                                     DictionaryAttr::get(&getContext(), {weight}),
                                     op.getLoc())))
        return signalPassFailure();
      op.replaceAllUsesWith(main.getArgument(index));
      op.erase();
    }
  }
};
} // namespace
