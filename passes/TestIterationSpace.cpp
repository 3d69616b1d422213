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
    WalkResult result =
        getOperation().walk([&](graph::IterationSpaceOpInterface op) {
          if (failed(check(op)))
            return WalkResult::interrupt();
          SmallVector<Attribute> iterators, maps;
          for (utils::IteratorType it : op.getIterationSpaceIterators())
            iterators.push_back(
                b.getStringAttr(utils::stringifyIteratorType(it)));
          for (AffineMap map : op.getIterationSpaceMaps())
            maps.push_back(AffineMapAttr::get(map));
          op->setAttr("llmc.iterators", b.getArrayAttr(iterators));
          op->setAttr("llmc.maps", b.getArrayAttr(maps));
          return WalkResult::advance();
        });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  /// The description must be self-consistent: one map per operand and
  /// result, each over all the loops and with one result per tensor dim.
  static LogicalResult check(graph::IterationSpaceOpInterface op) {
    SmallVector<AffineMap> maps = op.getIterationSpaceMaps();
    size_t loops = op.getIterationSpaceIterators().size();
    SmallVector<Value> values(op->getOperands());
    llvm::append_range(values, op->getResults());
    if (maps.size() != values.size())
      return op.emitOpError("iteration space has ")
             << maps.size() << " maps for " << values.size()
             << " operands and results";
    for (auto [i, map, value] : llvm::enumerate(maps, values)) {
      auto type = cast<RankedTensorType>(value.getType());
      if (map.getNumDims() != loops ||
          map.getNumResults() != static_cast<unsigned>(type.getRank()))
        return op.emitOpError("iteration space map #")
               << i << " " << AffineMapAttr::get(map) << " does not fit " << loops
               << " loops and a tensor of rank " << type.getRank();
    }
    return success();
  }
};
} // namespace
