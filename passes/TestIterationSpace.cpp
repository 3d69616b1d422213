//===- TestIterationSpace.cpp - Expose iteration spaces to lit tests ------===//

#include "llmc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_TESTITERATIONSPACEPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

namespace {
struct TestIterationSpacePass final
    : ::mlir::llmc::impl::TestIterationSpacePassBase<TestIterationSpacePass> {
  using Base::Base;
  void runOnOperation() override {
    Builder b(&getContext());
    getOperation().walk([&](graph::IterationSpaceOpInterface op) {
      SmallVector<Attribute> iterators, maps;
      for (utils::IteratorType it : op.getIterationSpaceIterators())
        iterators.push_back(b.getStringAttr(utils::stringifyIteratorType(it)));
      for (AffineMap map : op.getIterationSpaceMaps())
        maps.push_back(AffineMapAttr::get(map));
      op->setAttr("llmc.iterators", b.getArrayAttr(iterators));
      op->setAttr("llmc.maps", b.getArrayAttr(maps));
    });
  }
};
} // namespace
