//===- ReductionToLinalg.cpp - Reductions to linalg.generic ---------------===//
//
// graph.reduce and graph.arg_reduce become one generic each over the input's
// loops (the op's iteration space) writing the result without the reduced
// dims; keepdims is a reshape afterwards. f16/bf16 sums, means, norms and
// products accumulate in f32 and are narrowed once at the end. graph.cumsum is a generic with one
// extra reduction loop over the summed position.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::lowering;

namespace {
/// Map from the input's loops to the result with the reduced dims dropped.
AffineMap droppedMap(MLIRContext *ctx, int64_t rank, ArrayRef<int64_t> axes) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d)
    if (!llvm::is_contained(axes, d))
      exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

SmallVector<int64_t> droppedShape(ArrayRef<int64_t> shape,
                                  ArrayRef<int64_t> axes) {
  SmallVector<int64_t> out;
  for (auto [d, s] : llvm::enumerate(shape))
    if (!llvm::is_contained(axes, static_cast<int64_t>(d)))
      out.push_back(s);
  return out;
}

struct ReduceToGeneric : OpConversionPattern<graph::ReduceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = convertedType(*getTypeConverter(), op.getInput().getType());
    auto outType = convertedType(*getTypeConverter(), op.getType());
    Type t = inType.getElementType();
    bool isFloat = isa<FloatType>(t);
    bool isUnsigned = graph::isUnsignedInteger(op.getInput().getType());
    StringRef kind = op.getKind();
    ArrayRef<int64_t> axes = op.getAxes();
    int64_t rank = inType.getRank();
    // f16/bf16 sums and products accumulate in f32 and are narrowed once at
    // the end (a max or min is exact in any precision).
    bool extremum = kind == "max" || kind == "min";
    Type accElem = isa<Float16Type, BFloat16Type>(t) && !extremum
                       ? Type(rewriter.getF32Type())
                       : t;
    auto accType =
        RankedTensorType::get(droppedShape(inType.getShape(), axes), accElem);

    Value init;
    if (extremum)
      init = extremeValue(rewriter, loc, t, kind == "max", isUnsigned);
    else
      init = scalarConstant(rewriter, loc, accElem, kind == "prod" ? 1.0 : 0.0);
    Value acc = filledTensor(rewriter, loc, accType, init);

    auto add = [&](OpBuilder &b, Location l, Value x, Value y) -> Value {
      return isFloat ? (Value)arith::AddFOp::create(b, l, x, y)
                     : (Value)arith::AddIOp::create(b, l, x, y);
    };
    auto mul = [&](OpBuilder &b, Location l, Value x, Value y) -> Value {
      return isFloat ? (Value)arith::MulFOp::create(b, l, x, y)
                     : (Value)arith::MulIOp::create(b, l, x, y);
    };
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    for (int64_t a : axes)
      iterators[a] = utils::IteratorType::reduction;
    SmallVector<AffineMap> maps{
        AffineMap::getMultiDimIdentityMap(rank, getContext()),
        droppedMap(getContext(), rank, axes)};
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{accType}, ValueRange{adaptor.getInput()},
        ValueRange{acc}, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0], r = args[1], out;
          if (accElem != t)
            x = arith::ExtFOp::create(b, l, accElem, x);
          if (kind == "max")
            out = isFloat ? (Value)arith::MaximumFOp::create(b, l, r, x)
                  : isUnsigned ? (Value)arith::MaxUIOp::create(b, l, r, x)
                               : (Value)arith::MaxSIOp::create(b, l, r, x);
          else if (kind == "min")
            out = isFloat ? (Value)arith::MinimumFOp::create(b, l, r, x)
                  : isUnsigned ? (Value)arith::MinUIOp::create(b, l, r, x)
                               : (Value)arith::MinSIOp::create(b, l, r, x);
          else if (kind == "prod")
            out = mul(b, l, r, x);
          else if (kind == "l1")
            out = add(b, l, r,
                      isFloat ? (Value)math::AbsFOp::create(b, l, x)
                              : (Value)math::AbsIOp::create(b, l, x));
          else if (kind == "l2" || kind == "sum_square")
            out = add(b, l, r, mul(b, l, x, x));
          else if (kind == "log_sum_exp")
            out = add(b, l, r, math::ExpOp::create(b, l, x));
          else
            out = add(b, l, r, x);
          linalg::YieldOp::create(b, l, out);
        });
    Value result = generic.getResult(0);

    // Post-processing that needs the whole sum.
    int64_t count = 1;
    for (int64_t a : axes)
      count *= inType.getDimSize(a);
    if (kind == "mean" || kind == "l2" || kind == "log_sum" ||
        kind == "log_sum_exp") {
      result = mapElements(
          rewriter, loc, result, accElem,
          [&](OpBuilder &b, Location l, Value x) -> Value {
            if (kind == "mean") {
              Value n = scalarConstant(b, l, accElem, count);
              return isFloat      ? (Value)arith::DivFOp::create(b, l, x, n)
                     : isUnsigned ? (Value)arith::DivUIOp::create(b, l, x, n)
                                  : (Value)arith::DivSIOp::create(b, l, x, n);
            }
            if (kind == "l2")
              return isFloat ? (Value)math::SqrtOp::create(b, l, x) : x;
            return isFloat ? (Value)math::LogOp::create(b, l, x) : x;
          });
    }
    if (accElem != t)
      result = mapElements(rewriter, loc, result, t,
                           [&](OpBuilder &b, Location l, Value x) -> Value {
                             return arith::TruncFOp::create(b, l, t, x);
                           });
    rewriter.replaceOp(op, reshapeTo(rewriter, loc, result, outType));
    return success();
  }
};

struct ArgReduceToGeneric : OpConversionPattern<graph::ArgReduceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ArgReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = convertedType(*getTypeConverter(), op.getInput().getType());
    Type t = inType.getElementType();
    bool isFloat = isa<FloatType>(t);
    bool isUnsigned = graph::isUnsignedInteger(op.getInput().getType());
    bool isMax = op.getKind() == "max", last = op.getSelectLastIndex();
    int64_t axis = op.getAxis(), rank = inType.getRank();
    SmallVector<int64_t> shape = droppedShape(inType.getShape(), {axis});
    auto valueType = RankedTensorType::get(shape, t);
    auto indexType = RankedTensorType::get(shape, rewriter.getI64Type());
    Value values = filledTensor(rewriter, loc, valueType,
                                extremeValue(rewriter, loc, t, isMax, isUnsigned));
    Value indices = filledTensor(rewriter, loc, indexType,
                                 scalarConstant(rewriter, loc,
                                                rewriter.getI64Type(), -1));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators[axis] = utils::IteratorType::reduction;
    AffineMap outMap = droppedMap(getContext(), rank, {axis});
    SmallVector<AffineMap> maps{
        AffineMap::getMultiDimIdentityMap(rank, getContext()), outMap, outMap};
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{valueType, indexType},
        ValueRange{adaptor.getInput()}, ValueRange{values, indices}, maps,
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0], best = args[1], bestIndex = args[2];
          Value i = arith::IndexCastOp::create(
              b, l, b.getI64Type(), linalg::IndexOp::create(b, l, axis));
          Value better;
          if (isFloat) {
            auto p = isMax ? (last ? arith::CmpFPredicate::OGE
                                   : arith::CmpFPredicate::OGT)
                           : (last ? arith::CmpFPredicate::OLE
                                   : arith::CmpFPredicate::OLT);
            better = arith::CmpFOp::create(b, l, p, x, best);
          } else {
            arith::CmpIPredicate p =
                isMax ? (last ? (isUnsigned ? arith::CmpIPredicate::uge
                                            : arith::CmpIPredicate::sge)
                              : (isUnsigned ? arith::CmpIPredicate::ugt
                                            : arith::CmpIPredicate::sgt))
                      : (last ? (isUnsigned ? arith::CmpIPredicate::ule
                                            : arith::CmpIPredicate::sle)
                              : (isUnsigned ? arith::CmpIPredicate::ult
                                            : arith::CmpIPredicate::slt));
            better = arith::CmpIOp::create(b, l, p, x, best);
          }
          // The first element always wins, so an all-extreme row has index 0.
          Value unset = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::slt, bestIndex,
              arith::ConstantOp::create(b, l, b.getI64IntegerAttr(0)));
          better = arith::OrIOp::create(b, l, better, unset);
          linalg::YieldOp::create(
              b, l,
              ValueRange{arith::SelectOp::create(b, l, better, x, best),
                         arith::SelectOp::create(b, l, better, i, bestIndex)});
        });
    rewriter.replaceOp(op, reshapeTo(rewriter, loc, generic.getResult(1),
                                     convertedType(*getTypeConverter(),
                                                   op.getType())));
    return success();
  }
};

struct CumSumToGeneric : OpConversionPattern<graph::CumSumOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::CumSumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = convertedType(*getTypeConverter(), op.getType());
    Type t = type.getElementType();
    bool isFloat = isa<FloatType>(t);
    int64_t axis = op.getAxis(), rank = type.getRank();
    // Loops: the result's dims, then j over the axis (from a shape-only
    // operand). out[i] = sum over j of (j before-or-at i ? in[j] : 0).
    auto jType = RankedTensorType::get({type.getDimSize(axis)}, t);
    SmallVector<AffineExpr> inExprs;
    for (int64_t d = 0; d < rank; ++d)
      inExprs.push_back(getAffineDimExpr(d == axis ? rank : d, getContext()));
    SmallVector<AffineMap> maps{
        AffineMap::get(rank + 1, 0, inExprs, getContext()),
        AffineMap::get(rank + 1, 0, getAffineDimExpr(rank, getContext())),
        AffineMap::getMultiDimIdentityMap(rank + 1, getContext())
            .getMajorSubMap(rank)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    Value zero = scalarConstant(rewriter, loc, t, 0);
    Value acc = filledTensor(rewriter, loc, type, zero);
    bool exclusive = op.getExclusive(), reverse = op.getReverse();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type},
        ValueRange{adaptor.getInput(), emptyTensor(rewriter, loc, jType)},
        ValueRange{acc}, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value i = linalg::IndexOp::create(b, l, axis);
          Value j = linalg::IndexOp::create(b, l, rank);
          arith::CmpIPredicate p =
              reverse ? (exclusive ? arith::CmpIPredicate::ugt
                                   : arith::CmpIPredicate::uge)
                      : (exclusive ? arith::CmpIPredicate::ult
                                   : arith::CmpIPredicate::ule);
          Value take = arith::CmpIOp::create(b, l, p, j, i);
          Value x = arith::SelectOp::create(b, l, take, args[0], zero);
          Value sum = isFloat ? (Value)arith::AddFOp::create(b, l, args[2], x)
                              : (Value)arith::AddIOp::create(b, l, args[2], x);
          linalg::YieldOp::create(b, l, sum);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};
} // namespace

void mlir::llmc::populateReductionToLinalgPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<ReduceToGeneric, ArgReduceToGeneric, CumSumToGeneric>(
      converter, patterns.getContext());
}
