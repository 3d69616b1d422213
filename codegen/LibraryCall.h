//===- LibraryCall.h - Calls of the runtime's kernels -----------*- C++ -*-===//
//
// What llmc-lower-library-calls and graph.attention's bufferization share
// when they call a runtime kernel through its C interface
// (`_mlir_ciface_<name>`): operands cast to fully dynamic strided memrefs,
// and one private declaration of the kernel per module.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_LIBRARYCALL_H
#define LLMC_CODEGEN_LIBRARYCALL_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::llmc {

/// Calls kernel `name` at `op` with `operands` (memrefs of any layout, cast
/// to memref<?x...x?xT, strided<[?, ...], offset: ?>>), declaring it in the
/// module first. Fails, with an error on `op`, when the module declares
/// `name` with other operand types.
inline LogicalResult callLibrary(OpBuilder &b, Operation *op, StringRef name,
                                 ValueRange operands) {
  SmallVector<Value> args;
  SmallVector<Type> types;
  for (Value operand : operands) {
    auto type = cast<MemRefType>(operand.getType());
    SmallVector<int64_t> dynamic(type.getRank(), ShapedType::kDynamic);
    auto layout = StridedLayoutAttr::get(type.getContext(),
                                         ShapedType::kDynamic, dynamic);
    auto any = MemRefType::get(dynamic, type.getElementType(), layout);
    args.push_back(memref::CastOp::create(b, op->getLoc(), any, operand));
    types.push_back(any);
  }
  auto module = op->getParentOfType<ModuleOp>();
  FunctionType fnType = b.getFunctionType(types, {});
  if (auto existing = module.lookupSymbol<func::FuncOp>(name)) {
    if (existing.getFunctionType() != fnType)
      return op->emitOpError("calls '")
             << name << "' with operand types " << fnType
             << " but it is declared " << existing.getFunctionType();
  } else {
    OpBuilder top = OpBuilder::atBlockEnd(module.getBody());
    auto fn = func::FuncOp::create(top, module.getLoc(), name, fnType);
    fn.setPrivate();
    fn->setAttr("llvm.emit_c_interface", top.getUnitAttr());
  }
  func::CallOp::create(b, op->getLoc(), name, TypeRange{}, args);
  return success();
}

} // namespace mlir::llmc

#endif // LLMC_CODEGEN_LIBRARYCALL_H
