//===- GraphToLinalgPass.cpp - The graph -> linalg conversion driver ------===//
//
// A thin driver: the type converter (unsigned -> signless), the shared
// helpers of the per-family pattern files, and a full conversion that leaves
// no graph op behind.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_CONVERTGRAPHTOLINALGPASS
#include "llmc/Codegen/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

GraphTypeConverter::GraphTypeConverter() {
  addConversion([](Type t) { return t; });
  addConversion([](RankedTensorType t) -> Type {
    return t.clone(graph::getStorageType(t.getElementType()));
  });
  auto cast = [](OpBuilder &b, Type type, ValueRange inputs,
                 Location loc) -> Value {
    return UnrealizedConversionCastOp::create(b, loc, type, inputs).getResult(0);
  };
  addSourceMaterialization(cast);
  addTargetMaterialization(cast);
}

RankedTensorType lowering::convertedType(const TypeConverter &converter,
                                         Type type) {
  return cast<RankedTensorType>(converter.convertType(type));
}

Value lowering::emptyTensor(OpBuilder &b, Location loc, RankedTensorType type) {
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
}

Value lowering::mapElements(
    OpBuilder &b, Location loc, Value value, Type element,
    function_ref<Value(OpBuilder &, Location, Value)> fn) {
  auto in = cast<RankedTensorType>(value.getType());
  auto type = RankedTensorType::get(in.getShape(), element);
  SmallVector<AffineMap> maps(
      2, AffineMap::getMultiDimIdentityMap(in.getRank(), b.getContext()));
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{value},
             ValueRange{emptyTensor(b, loc, type)}, maps,
             SmallVector<utils::IteratorType>(in.getRank(),
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, fn(nb, l, args[0]));
             })
      .getResult(0);
}

Value lowering::filledTensor(OpBuilder &b, Location loc, RankedTensorType type,
                             Value value) {
  return linalg::FillOp::create(b, loc, value, emptyTensor(b, loc, type))
      .getResult(0);
}

Value lowering::buildIndexedGeneric(OpBuilder &b, Location loc,
                                    RankedTensorType type, IndexedBody body) {
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps{
      AffineMap::getMultiDimIdentityMap(rank, b.getContext())};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{}, ValueRange{emptyTensor(b, loc, type)},
      maps, iterators, [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> ivs;
        for (int64_t d = 0; d < rank; ++d)
          ivs.push_back(linalg::IndexOp::create(nb, nloc, d));
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, ivs));
      });
  return generic.getResult(0);
}

Value lowering::clampedIndex(OpBuilder &b, Location loc, Value index,
                             int64_t size, bool wrapNegative) {
  Type i64 = b.getI64Type();
  if (isa<FloatType>(index.getType()))
    index = arith::FPToSIOp::create(b, loc, i64, index);
  else if (index.getType() != i64)
    index = arith::ExtSIOp::create(b, loc, i64, index);
  Value sizeV = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(size));
  Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
  Value last = arith::ConstantOp::create(b, loc,
                                         b.getI64IntegerAttr(std::max<int64_t>(size - 1, 0)));
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, index, zero);
  Value wrapped =
      wrapNegative
          ? (Value)arith::SelectOp::create(
                b, loc, negative, arith::AddIOp::create(b, loc, index, sizeV),
                index)
          : index;
  Value clamped = arith::MaxSIOp::create(
      b, loc, zero, arith::MinSIOp::create(b, loc, wrapped, last));
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), clamped);
}

Value lowering::checkedIndex(OpBuilder &b, Location loc, Operation *op,
                             Value index, int64_t size) {
  auto site = op->getAttrOfType<FlatSymbolRefAttr>(kIndexCheckAttr);
  if (!site)
    return clampedIndex(b, loc, index, size);
  Type i64 = b.getI64Type();
  Value wide = index;
  if (isa<FloatType>(wide.getType()))
    wide = arith::FPToSIOp::create(b, loc, i64, wide);
  else if (wide.getType() != i64)
    wide = arith::ExtSIOp::create(b, loc, i64, wide);
  Value low = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(-size));
  Value high = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(size));
  Value bad = arith::OrIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, wide, low),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, wide, high));
  auto check = scf::IfOp::create(b, loc, bad, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(check.thenBlock()->getTerminator());
    auto module = op->getParentOfType<ModuleOp>();
    auto global = module.lookupSymbol<memref::GlobalOp>(site.getAttr());
    Value text = memref::GetGlobalOp::create(b, loc, global.getType(),
                                             site.getValue());
    auto any = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
    text = memref::CastOp::create(b, loc, any, text);
    func::CallOp::create(b, loc, kIndexErrorFn, TypeRange{},
                         ValueRange{wide, high, text});
  }
  return clampedIndex(b, loc, index, size);
}

/// The ONNX node `loc` names first, or "".
static std::string firstNodeName(Location loc) {
  std::string name;
  loc->walk([&](Location l) {
    if (auto n = dyn_cast<NameLoc>(l)) {
      name = n.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name;
}

/// check-indices: each gather and scatter gets a constant string naming
/// it (a memref.global that the runtime reads when an index is out of its
/// dim), and the module the runtime's llmc_index_error.
static void markIndexChecks(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  OpBuilder top = OpBuilder::atBlockEnd(module.getBody());
  Type i8 = IntegerType::get(ctx, 8);
  int sites = 0;
  module.walk([&](Operation *op) {
    if (!isa<graph::GatherOp, graph::GatherElementsOp, graph::GatherNDOp,
             graph::ScatterElementsOp, graph::ScatterNDOp>(op))
      return;
    std::string node = firstNodeName(op->getLoc());
    std::string kind = op->getName().stripDialect().str();
    std::string text = node.empty() ? "a " + kind + " node"
                                    : "node '" + node + "' (" + kind + ")";
    std::vector<int8_t> bytes(text.begin(), text.end());
    auto type = MemRefType::get({static_cast<int64_t>(bytes.size())}, i8);
    auto value = DenseElementsAttr::get(
        RankedTensorType::get(type.getShape(), i8), llvm::ArrayRef(bytes));
    std::string name = "llmc_index_site_" + std::to_string(sites++);
    memref::GlobalOp::create(top, op->getLoc(), name,
                             top.getStringAttr("private"), type, value,
                             /*constant=*/true, /*alignment=*/nullptr);
    op->setAttr(lowering::kIndexCheckAttr, FlatSymbolRefAttr::get(ctx, name));
  });
  if (sites == 0 || module.lookupSymbol(lowering::kIndexErrorFn))
    return;
  auto any = MemRefType::get({ShapedType::kDynamic}, i8);
  Type i64 = IntegerType::get(ctx, 64);
  auto fn = func::FuncOp::create(top, module.getLoc(), lowering::kIndexErrorFn,
                                 top.getFunctionType({i64, i64, any}, {}));
  fn.setPrivate();
  fn->setAttr("llvm.emit_c_interface", top.getUnitAttr());
}

Value lowering::scalarConstant(OpBuilder &b, Location loc, Type type,
                               double value) {
  if (isa<FloatType>(type))
    return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
  return arith::ConstantOp::create(
      b, loc, type, b.getIntegerAttr(type, static_cast<int64_t>(value)));
}

Value lowering::extremeValue(OpBuilder &b, Location loc, Type type,
                             bool lowest, bool isUnsigned) {
  if (auto ft = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(
        b, loc, type,
        b.getFloatAttr(type, APFloat::getInf(ft.getFloatSemantics(), lowest)));
  unsigned w = type.getIntOrFloatBitWidth();
  APInt v = isUnsigned ? (lowest ? APInt::getMinValue(w) : APInt::getMaxValue(w))
                       : (lowest ? APInt::getSignedMinValue(w)
                                 : APInt::getSignedMaxValue(w));
  return arith::ConstantOp::create(b, loc, type, b.getIntegerAttr(type, v));
}

/// `v` widened (arith.extf) to the float type `to` when it is a narrower
/// float.
static Value widenTo(OpBuilder &b, Location loc, Value v, Type to) {
  auto from = dyn_cast<FloatType>(v.getType());
  auto wide = dyn_cast<FloatType>(to);
  if (!from || !wide || from.getWidth() >= wide.getWidth())
    return v;
  return arith::ExtFOp::create(b, loc, to, v);
}

Value lowering::multiplyAdd(OpBuilder &b, Location loc, ValueRange factors,
                            Value acc) {
  SmallVector<Value> wide;
  for (Value f : factors)
    wide.push_back(widenTo(b, loc, f, acc.getType()));
  factors = wide;
  Value p = factors.front();
  bool isFloat = isa<FloatType>(p.getType());
  for (Value f : factors.drop_front())
    p = isFloat ? (Value)arith::MulFOp::create(b, loc, p, f)
                : (Value)arith::MulIOp::create(b, loc, p, f);
  return isFloat ? (Value)arith::AddFOp::create(b, loc, acc, p)
                 : (Value)arith::AddIOp::create(b, loc, acc, p);
}

Value lowering::reshapeTo(OpBuilder &b, Location loc, Value value,
                          RankedTensorType type) {
  if (value.getType() == type)
    return value;
  auto shapeType = RankedTensorType::get({type.getRank()}, b.getI64Type());
  Value shape = arith::ConstantOp::create(
      b, loc, shapeType, DenseElementsAttr::get(shapeType, type.getShape()));
  return tensor::ReshapeOp::create(b, loc, type, value, shape);
}

Value lowering::foldableReshapeTo(OpBuilder &b, Location loc, Value value,
                                  RankedTensorType type) {
  if (value.getType() == type)
    return value;
  // As collapse_shape/expand_shape where the ranks allow: linalg's fusion
  // then folds the reshape into the loops around it (a head split or merge
  // stays inside its kernel). A reshape that is neither collapses to 1-D
  // and expands from there.
  auto source = cast<RankedTensorType>(value.getType());
  if (source.hasStaticShape() && type.hasStaticShape() &&
      source.getRank() > 0 && type.getRank() > 0) {
    if (auto re = getReassociationIndicesForReshape(source, type)) {
      if (source.getRank() > type.getRank())
        return tensor::CollapseShapeOp::create(b, loc, type, value, *re);
      if (source.getRank() < type.getRank())
        return tensor::ExpandShapeOp::create(b, loc, type, value, *re);
    }
    auto flat = RankedTensorType::get({source.getNumElements()},
                                      source.getElementType());
    ReassociationIndices all;
    for (int64_t i = 0; i < source.getRank(); ++i)
      all.push_back(i);
    Value v = source.getRank() == 1
                  ? value
                  : tensor::CollapseShapeOp::create(
                        b, loc, flat, value, ArrayRef<ReassociationIndices>{all});
    if (type.getRank() == 1)
      return v;
    ReassociationIndices allOut;
    for (int64_t i = 0; i < type.getRank(); ++i)
      allOut.push_back(i);
    return tensor::ExpandShapeOp::create(b, loc, type, v,
                                         ArrayRef<ReassociationIndices>{allOut});
  }
  auto shapeType = RankedTensorType::get({type.getRank()}, b.getI64Type());
  Value shape = arith::ConstantOp::create(
      b, loc, shapeType, DenseElementsAttr::get(shapeType, type.getShape()));
  return tensor::ReshapeOp::create(b, loc, type, value, shape);
}

RankedTensorType lowering::accumulatorType(RankedTensorType type) {
  Type t = type.getElementType();
  if (!t.isF16() && !t.isBF16())
    return type;
  return RankedTensorType::get(type.getShape(),
                               Float32Type::get(type.getContext()));
}

Value lowering::narrowTo(OpBuilder &b, Location loc, Value value,
                         Type element) {
  if (cast<RankedTensorType>(value.getType()).getElementType() == element)
    return value;
  return mapElements(b, loc, value, element,
                     [&](OpBuilder &nb, Location l, Value x) -> Value {
                       return arith::TruncFOp::create(nb, l, element, x);
                     });
}

Value lowering::channelBiasOrZero(OpBuilder &b, Location loc, Value bias,
                                  RankedTensorType type) {
  if (!bias)
    return filledTensor(b, loc, type,
                        scalarConstant(b, loc, type.getElementType(), 0));
  MLIRContext *ctx = b.getContext();
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps{
      AffineMap::get(rank, 0, getAffineDimExpr(1, ctx), ctx),
      AffineMap::getMultiDimIdentityMap(rank, ctx)};
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{bias},
             ValueRange{emptyTensor(b, loc, type)}, maps,
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l, widenTo(nb, l, args[0], type.getElementType()));
             })
      .getResult(0);
}

Value lowering::padWith(OpBuilder &b, Location loc, Value value,
                        ArrayRef<int64_t> low, ArrayRef<int64_t> high,
                        Value padValue) {
  if (llvm::all_of(low, [](int64_t p) { return p == 0; }) &&
      llvm::all_of(high, [](int64_t p) { return p == 0; }))
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  for (size_t d = 0; d < shape.size(); ++d)
    shape[d] += low[d] + high[d];
  auto padded = RankedTensorType::get(shape, type.getElementType());
  SmallVector<OpFoldResult> lo, hi;
  for (size_t d = 0; d < shape.size(); ++d) {
    lo.push_back(b.getIndexAttr(low[d]));
    hi.push_back(b.getIndexAttr(high[d]));
  }
  return tensor::PadOp::create(b, loc, padded, value, lo, hi, padValue);
}

namespace {
struct ConvertGraphToLinalgPass final
    : ::mlir::llmc::impl::ConvertGraphToLinalgPassBase<ConvertGraphToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    if (checkIndices)
      markIndexChecks(getOperation());
    GraphTypeConverter converter;
    ConversionTarget target(*ctx);
    target.addIllegalDialect<graph::GraphDialect>();
    target.addIllegalOp<shard::AllReduceOp, shard::AllGatherOp,
                        shard::ReduceScatterOp, shard::AllToAllOp,
                        shard::AllSliceOp>();
    // The grid stays until the collectives that refer to it are calls.
    target.addLegalOp<ModuleOp, UnrealizedConversionCastOp, shard::GridOp>();
    // check-indices: the node's name and the runtime's report.
    target.addLegalOp<memref::GlobalOp, memref::GetGlobalOp, memref::CastOp>();
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect>();
    // f32 attention for the runtime's fused kernel stays whole: its
    // bufferization makes it a call (codegen/AttentionBufferization.cpp).
    target.addDynamicallyLegalOp<graph::AttentionOp>([&](graph::AttentionOp op) {
      return libraryAttention && op.getType().getElementType().isF32() &&
             op.getType().hasStaticShape();
    });
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return converter.isSignatureLegal(op.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    RewritePatternSet patterns(ctx);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    populateElementwiseToLinalgPatterns(converter, patterns);
    populateReductionToLinalgPatterns(converter, patterns);
    populateContractionToLinalgPatterns(converter, patterns);
    populateDataMovementToLinalgPatterns(converter, patterns);
    populateCollectivesToLinalgPatterns(converter, patterns);
    if (useLibraryCalls)
      populateLibraryCallPatterns(converter, patterns, halfGemms);
    if (failed(applyFullConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
