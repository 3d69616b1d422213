//===- ConvPadding.cpp - A library convolution's padded input -------------===//
//
// The convolution lowering (GraphToLinalg/LibraryCalls.cpp) pads the input
// explicitly, so that the marked generic computes exactly what the op means
// on any target. cuDNN pads by itself: on CUDA the pad's fill and copy are
// left out when this matcher recognises them (KernelsToGpu keeps them on the
// host, and the CUDA program folds them into the convolution step).
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/Passes.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::llmc;

bool mlir::llmc::isLibraryConv(linalg::GenericOp op) {
  StringAttr call = op.getLibraryCallAttr();
  return call && call.getValue() == "llmc_conv2d_f32";
}

bool mlir::llmc::isZeroFill(Operation *op, Value buffer) {
  auto isZero = [](Value v) {
    return matchPattern(v, m_AnyZeroFloat()) || matchPattern(v, m_Zero());
  };
  if (auto fill = dyn_cast<linalg::FillOp>(op))
    return fill.getOutputs()[0] == buffer && isZero(fill.getInputs()[0]);
  if (auto map = dyn_cast<linalg::MapOp>(op)) {
    if (!map.getInputs().empty() || map.getInit() != buffer)
      return false;
    auto yield = dyn_cast<linalg::YieldOp>(map.getMapper().front().getTerminator());
    return yield && yield.getNumOperands() == 1 && isZero(yield.getOperand(0));
  }
  return false;
}

Value mlir::llmc::bufferRoot(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

std::optional<ConvPadding> mlir::llmc::matchConvPadding(linalg::GenericOp conv) {
  if (!isLibraryConv(conv) || conv.getNumDpsInputs() != 3)
    return std::nullopt;
  ConvPadding p;
  p.padded = conv.getDpsInputs()[0].getDefiningOp<memref::AllocOp>();
  if (!p.padded || p.padded->getBlock() != conv->getBlock())
    return std::nullopt;
  MemRefType type = p.padded.getType();
  if (type.getRank() != 4 || !type.hasStaticShape() ||
      !type.getLayout().isIdentity())
    return std::nullopt;
  // Users: the fill, the interior view (read only by the copy), the
  // convolution; deallocations after it.
  for (Operation *user : p.padded->getUsers()) {
    if (user == conv)
      continue;
    if (isa<memref::DeallocOp>(user) && conv->isBeforeInBlock(user))
      continue;
    if (auto view = dyn_cast<memref::SubViewOp>(user); view && !p.interior) {
      p.interior = view;
      continue;
    }
    if (!p.fill && isZeroFill(user, p.padded))
      p.fill = user;
    else
      return std::nullopt;
  }
  if (!p.fill || !p.interior || !p.interior->hasOneUse())
    return std::nullopt;
  p.copy = dyn_cast<memref::CopyOp>(*p.interior->getUsers().begin());
  if (!p.copy || p.copy.getTarget() != p.interior.getResult())
    return std::nullopt;
  // Block order: fill, copy, convolution.
  Block *block = conv->getBlock();
  if (p.fill->getBlock() != block || p.copy->getBlock() != block ||
      !p.fill->isBeforeInBlock(p.copy) || !p.copy->isBeforeInBlock(conv))
    return std::nullopt;
  // The interior: whole batch and channels, unit strides, equal padding on
  // both sides of each spatial dim.
  if (!p.interior.hasUnitStride() ||
      llvm::any_of(p.interior.getStaticOffsets(), ShapedType::isDynamic) ||
      llvm::any_of(p.interior.getStaticSizes(), ShapedType::isDynamic))
    return std::nullopt;
  ArrayRef<int64_t> offsets = p.interior.getStaticOffsets(),
                    sizes = p.interior.getStaticSizes();
  ArrayRef<int64_t> shape = type.getShape();
  if (offsets[0] != 0 || offsets[1] != 0 || sizes[0] != shape[0] ||
      sizes[1] != shape[1])
    return std::nullopt;
  p.padH = offsets[2];
  p.padW = offsets[3];
  if (shape[2] - sizes[2] - p.padH != p.padH ||
      shape[3] - sizes[3] - p.padW != p.padW)
    return std::nullopt;
  // The source: a dense buffer of the interior's shape, which nothing
  // between the copy and the convolution uses (so it still holds what was
  // copied).
  p.source = p.copy.getSource();
  auto sourceType = dyn_cast<MemRefType>(p.source.getType());
  if (!sourceType || !sourceType.getLayout().isIdentity() ||
      sourceType.getShape() != sizes)
    return std::nullopt;
  Value root = bufferRoot(p.source);
  for (Operation *op = p.copy->getNextNode(); op && op != conv;
       op = op->getNextNode()) {
    if (isa<ViewLikeOpInterface>(op))
      continue;
    for (Value operand : op->getOperands())
      if (bufferRoot(operand) == root)
        return std::nullopt;
  }
  return p;
}
