//===- LowerLibraryCalls.cpp - Marked generics to runtime kernel calls ----===//

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
/// memref<?x...x?xT, strided<[?, ...], offset: ?>> of `type`'s rank.
MemRefType dynamicType(MemRefType type) {
  SmallVector<int64_t> dynamic(type.getRank(), ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic,
                                       dynamic);
  return MemRefType::get(dynamic, type.getElementType(), layout);
}

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
      SmallVector<Value> args;
      SmallVector<Type> types;
      for (Value operand : op->getOperands()) {
        MemRefType type = dynamicType(cast<MemRefType>(operand.getType()));
        args.push_back(memref::CastOp::create(b, op.getLoc(), type, operand));
        types.push_back(type);
      }
      StringRef name = op.getLibraryCallAttr().getValue();
      FunctionType fnType = b.getFunctionType(types, {});
      if (auto existing = module.lookupSymbol<func::FuncOp>(name)) {
        if (existing.getFunctionType() != fnType) {
          op.emitOpError("calls '") << name << "' with operand types "
                                    << fnType << " but it is declared "
                                    << existing.getFunctionType();
          return signalPassFailure();
        }
      } else {
        OpBuilder top = OpBuilder::atBlockEnd(module.getBody());
        auto fn = func::FuncOp::create(top, module.getLoc(), name, fnType);
        fn.setPrivate();
        fn->setAttr("llvm.emit_c_interface", top.getUnitAttr());
      }
      func::CallOp::create(b, op.getLoc(), name, TypeRange{}, args);
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
