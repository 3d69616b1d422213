//===- ContractionToLinalg.cpp - Contractions, convolutions, pooling ------===//
//
// matmul and einsum are multiply-accumulate generics whose maps are the
// ops' own iteration-space maps. Convolutions and pools pad their input
// first (tensor.pad), then run the op's map with the pads removed; pools
// get their window loops' extent from a shape-only operand, as linalg's
// named pooling ops do.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::lowering;

namespace {
/// A generic that multiplies its inputs and accumulates into a zero-filled
/// result, with the given iteration space (f16/bf16 in f32, rounded once).
template <typename OpTy>
struct ContractionToGeneric : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = convertedType(*this->getTypeConverter(), op.getType());
    RankedTensorType accType = accumulatorType(type);
    Value acc = filledTensor(
        rewriter, loc, accType,
        scalarConstant(rewriter, loc, accType.getElementType(), 0));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{accType}, adaptor.getOperands(),
        ValueRange{acc}, op.getIterationSpaceMaps(),
        op.getIterationSpaceIterators(),
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(
              b, l, multiplyAdd(b, l, args.drop_back(), args.back()));
        });
    rewriter.replaceOp(op, narrowTo(rewriter, loc, generic.getResult(0),
                                    type.getElementType()));
    return success();
  }
};

/// Maps of a windowed op over loops (n, c|m, o..., [c,] k...) reading the
/// already padded input at o * stride + k * dilation.
AffineExpr windowExpr(MLIRContext *ctx, unsigned outDim, unsigned kDim,
                      int64_t stride, int64_t dilation) {
  return getAffineDimExpr(outDim, ctx) * stride +
         getAffineDimExpr(kDim, ctx) * dilation;
}

struct ConvToGeneric : OpConversionPattern<graph::ConvOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ConvOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = convertedType(*getTypeConverter(), op.getType());
    auto wType = cast<RankedTensorType>(adaptor.getWeight().getType());
    Type t = type.getElementType();
    int64_t s = type.getRank() - 2;
    ArrayRef<int64_t> pads = op.getPads();
    SmallVector<int64_t> low(2, 0), high(2, 0);
    low.append(pads.begin(), pads.begin() + s);
    high.append(pads.begin() + s, pads.end());
    Value input = padWith(rewriter, loc, adaptor.getInput(), low, high,
                          scalarConstant(rewriter, loc, t, 0));
    // Loops (n, m, o_1..o_s, c, k_1..k_s).
    int64_t numLoops = 3 + 2 * s;
    int64_t mPerGroup = wType.getDimSize(0) / op.getGroup();
    int64_t cPerGroup = wType.getDimSize(1);
    AffineExpr n = getAffineDimExpr(0, ctx), m = getAffineDimExpr(1, ctx),
               c = getAffineDimExpr(2 + s, ctx);
    SmallVector<AffineExpr> in{n, m.floorDiv(mPerGroup) * cPerGroup + c};
    SmallVector<AffineExpr> w{m, c}, out{n, m};
    for (int64_t i = 0; i < s; ++i) {
      in.push_back(windowExpr(ctx, 2 + i, 3 + s + i, op.getStrides()[i],
                              op.getDilations()[i]));
      w.push_back(getAffineDimExpr(3 + s + i, ctx));
      out.push_back(getAffineDimExpr(2 + i, ctx));
    }
    SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, in, ctx),
                                AffineMap::get(numLoops, 0, w, ctx),
                                AffineMap::get(numLoops, 0, out, ctx)};
    // f16/bf16 accumulate in f32 and round once.
    RankedTensorType accType = accumulatorType(type);
    Value init = channelBiasOrZero(rewriter, loc, adaptor.getBias(), accType);
    SmallVector<utils::IteratorType> iterators(2 + s,
                                               utils::IteratorType::parallel);
    iterators.append(1 + s, utils::IteratorType::reduction);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{accType},
        ValueRange{input, adaptor.getWeight()}, ValueRange{init}, maps,
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l,
                                  multiplyAdd(b, l, args.take_front(2), args[2]));
        });
    rewriter.replaceOp(op, narrowTo(rewriter, loc, generic.getResult(0), t));
    return success();
  }
};

/// Transposed convolution as a direct one: scatter the input into a zero
/// tensor at stride `s` (insert_slice with strides), then convolve with the
/// spatially flipped weight:
///   out[n, m, o] = sum_{c, k} P[n, ch(m, c), o + pad + k * d]
///                             * w[ch(m, c), m mod M/g, K - 1 - k]
/// where x[i] sits at P[(K - 1) * d + i * s].
struct ConvTransposeToGeneric : OpConversionPattern<graph::ConvTransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ConvTransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = convertedType(*getTypeConverter(), op.getType());
    auto xType = cast<RankedTensorType>(adaptor.getInput().getType());
    auto wType = cast<RankedTensorType>(adaptor.getWeight().getType());
    Type t = type.getElementType();
    int64_t s = type.getRank() - 2;
    ArrayRef<int64_t> strides = op.getStrides(), dilations = op.getDilations();
    ArrayRef<int64_t> pads = op.getPads();

    SmallVector<int64_t> pShape{xType.getDimSize(0), xType.getDimSize(1)};
    SmallVector<OpFoldResult> offsets(2, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes, steps(2, rewriter.getIndexAttr(1));
    for (int64_t d : xType.getShape())
      sizes.push_back(rewriter.getIndexAttr(d));
    for (int64_t i = 0; i < s; ++i) {
      int64_t reach = (wType.getDimSize(2 + i) - 1) * dilations[i];
      int64_t needed = type.getDimSize(2 + i) + pads[i] + reach;
      int64_t filled = reach + (xType.getDimSize(2 + i) - 1) * strides[i] + 1;
      pShape.push_back(std::max(needed, filled));
      offsets.push_back(rewriter.getIndexAttr(reach));
      steps.push_back(rewriter.getIndexAttr(strides[i]));
    }
    Value zero = scalarConstant(rewriter, loc, t, 0);
    Value scattered = filledTensor(rewriter, loc,
                                   RankedTensorType::get(pShape, t), zero);
    scattered = tensor::InsertSliceOp::create(rewriter, loc, adaptor.getInput(),
                                              scattered, offsets, sizes, steps);
    Value weight = adaptor.getWeight();
    Value flipped = buildIndexedGeneric(
        rewriter, loc, wType, [&](OpBuilder &b, Location l, ValueRange ivs) {
          SmallVector<Value> at(ivs);
          for (int64_t i = 0; i < s; ++i)
            at[2 + i] = arith::SubIOp::create(
                b, l, arith::ConstantIndexOp::create(b, l, wType.getDimSize(2 + i) - 1),
                ivs[2 + i]);
          return tensor::ExtractOp::create(b, l, weight, at);
        });

    // Expose the groups so that every map is a projection: loops
    // (n, g, mm, o_1..o_s, c, k_1..k_s) over P as [N, G, C/G, L...], the
    // weight as [G, C/G, M/G, K...] and the result as [N, G, M/G, O...].
    int64_t groups = op.getGroup();
    int64_t mPerGroup = wType.getDimSize(1);
    int64_t cPerGroup = xType.getDimSize(1) / groups;
    auto split = [&](Value v, int64_t dim, int64_t perGroup) {
      auto vt = cast<RankedTensorType>(v.getType());
      SmallVector<int64_t> shape(vt.getShape().take_front(dim));
      shape.push_back(groups);
      shape.push_back(perGroup);
      llvm::append_range(shape, vt.getShape().drop_front(dim + 1));
      return reshapeTo(rewriter, loc, v,
                       RankedTensorType::get(shape, vt.getElementType()));
    };
    Value groupedInput = split(scattered, 1, cPerGroup);
    Value groupedWeight = split(flipped, 0, cPerGroup);
    SmallVector<int64_t> outShape{type.getDimSize(0), groups, mPerGroup};
    llvm::append_range(outShape, type.getShape().drop_front(2));
    auto groupedType = RankedTensorType::get(outShape, t);

    int64_t numLoops = 4 + 2 * s;
    AffineExpr n = getAffineDimExpr(0, ctx), g = getAffineDimExpr(1, ctx),
               mm = getAffineDimExpr(2, ctx), c = getAffineDimExpr(3 + s, ctx);
    SmallVector<AffineExpr> in{n, g, c}, w{g, c, mm}, out{n, g, mm};
    for (int64_t i = 0; i < s; ++i) {
      AffineExpr o = getAffineDimExpr(3 + i, ctx);
      AffineExpr k = getAffineDimExpr(4 + s + i, ctx);
      in.push_back(o + pads[i] + k * dilations[i]);
      w.push_back(k);
      out.push_back(o);
    }
    SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, in, ctx),
                                AffineMap::get(numLoops, 0, w, ctx),
                                AffineMap::get(numLoops, 0, out, ctx)};
    // f16/bf16 accumulate in f32 and round once (the bias added first).
    RankedTensorType accGrouped = accumulatorType(groupedType);
    Value init = filledTensor(
        rewriter, loc, accGrouped,
        scalarConstant(rewriter, loc, accGrouped.getElementType(), 0));
    SmallVector<utils::IteratorType> iterators(3 + s,
                                               utils::IteratorType::parallel);
    iterators.append(1 + s, utils::IteratorType::reduction);
    Value result =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{accGrouped},
            ValueRange{groupedInput, groupedWeight}, ValueRange{init}, maps,
            iterators,
            [&](OpBuilder &b, Location l, ValueRange args) {
              linalg::YieldOp::create(
                  b, l, multiplyAdd(b, l, args.take_front(2), args[2]));
            })
            .getResult(0);
    RankedTensorType accType = accumulatorType(type);
    result = reshapeTo(rewriter, loc, result, accType);
    if (adaptor.getBias()) {
      AffineMap id = AffineMap::getMultiDimIdentityMap(type.getRank(), ctx);
      SmallVector<AffineMap> biasMaps{
          id, AffineMap::get(type.getRank(), 0, getAffineDimExpr(1, ctx), ctx),
          id};
      result = linalg::GenericOp::create(
                   rewriter, loc, TypeRange{accType},
                   ValueRange{result, adaptor.getBias()},
                   ValueRange{emptyTensor(rewriter, loc, accType)}, biasMaps,
                   SmallVector<utils::IteratorType>(
                       type.getRank(), utils::IteratorType::parallel),
                   [&](OpBuilder &b, Location l, ValueRange args) {
                     linalg::YieldOp::create(
                         b, l, multiplyAdd(b, l, args.slice(1, 1), args[0]));
                   })
                   .getResult(0);
    }
    rewriter.replaceOp(op, narrowTo(rewriter, loc, result, t));
    return success();
  }
};

/// Sum- or max-pools an already padded NC... tensor.
Value poolPadded(OpBuilder &b, Location loc, Value input,
                 RankedTensorType outType, ArrayRef<int64_t> kernel,
                 ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations,
                 bool isMax, bool isUnsigned) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = outType.getRank(), s = rank - 2, numLoops = rank + s;
  Type t = outType.getElementType();
  bool isFloat = isa<FloatType>(t);
  SmallVector<AffineExpr> in{getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)};
  SmallVector<AffineExpr> window;
  for (int64_t i = 0; i < s; ++i) {
    in.push_back(windowExpr(ctx, 2 + i, rank + i, strides[i],
                            dilations.empty() ? 1 : dilations[i]));
    window.push_back(getAffineDimExpr(rank + i, ctx));
  }
  SmallVector<AffineMap> maps{
      AffineMap::get(numLoops, 0, in, ctx),
      AffineMap::get(numLoops, 0, window, ctx),
      AffineMap::getMultiDimIdentityMap(numLoops, ctx).getMajorSubMap(rank)};
  Value init = filledTensor(b, loc, outType,
                            isMax ? extremeValue(b, loc, t, true, isUnsigned)
                                  : scalarConstant(b, loc, t, 0));
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators.append(s, utils::IteratorType::reduction);
  Value windowShape = emptyTensor(b, loc, RankedTensorType::get(kernel, t));
  return linalg::GenericOp::create(
             b, loc, TypeRange{outType}, ValueRange{input, windowShape},
             ValueRange{init}, maps, iterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value x = args[0], acc = args[2], r;
               if (!isMax)
                 r = isFloat ? (Value)arith::AddFOp::create(nb, l, acc, x)
                             : (Value)arith::AddIOp::create(nb, l, acc, x);
               else if (isFloat)
                 r = arith::MaximumFOp::create(nb, l, acc, x);
               else
                 r = isUnsigned ? (Value)arith::MaxUIOp::create(nb, l, acc, x)
                                : (Value)arith::MaxSIOp::create(nb, l, acc, x);
               linalg::YieldOp::create(nb, l, r);
             })
      .getResult(0);
}

void splitPads(ArrayRef<int64_t> pads, SmallVectorImpl<int64_t> &low,
               SmallVectorImpl<int64_t> &high) {
  int64_t s = pads.size() / 2;
  low.assign({0, 0});
  high.assign({0, 0});
  low.append(pads.begin(), pads.begin() + s);
  high.append(pads.begin() + s, pads.end());
}

struct MaxPoolToGeneric : OpConversionPattern<graph::MaxPoolOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::MaxPoolOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = convertedType(*getTypeConverter(), op.getType());
    Type t = type.getElementType();
    bool isUnsigned = graph::isUnsignedInteger(op.getType());
    Value lowest = extremeValue(rewriter, loc, t, /*lowest=*/true, isUnsigned);
    SmallVector<int64_t> low, high;
    splitPads(op.getPads(), low, high);
    Value padded = padWith(rewriter, loc, adaptor.getInput(), low, high, lowest);
    rewriter.replaceOp(op, poolPadded(rewriter, loc, padded, type,
                                      op.getKernelShape(), op.getStrides(),
                                      op.getDilations(), true, isUnsigned));
    return success();
  }
};

struct AvgPoolToGeneric : OpConversionPattern<graph::AvgPoolOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::AvgPoolOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = convertedType(*getTypeConverter(), op.getType());
    auto inType = cast<RankedTensorType>(adaptor.getInput().getType());
    Type t = type.getElementType();
    int64_t rank = type.getRank();
    SmallVector<int64_t> low, high, countLow, countHigh;
    splitPads(op.getPads(), low, high);
    splitPads(op.getCountPads(), countLow, countHigh);
    Value zero = scalarConstant(rewriter, loc, t, 0);
    Value one = scalarConstant(rewriter, loc, t, 1);
    Value sums = poolPadded(rewriter, loc,
                            padWith(rewriter, loc, adaptor.getInput(), low,
                                    high, zero),
                            type, op.getKernelShape(), op.getStrides(), {},
                            false, false);
    // The divisor counts the input positions, plus the pads that count, in
    // each window: pool a ones tensor padded with ones where pads count and
    // zeros elsewhere. It depends only on shapes, so it folds into a
    // constant-like computation of one batch and channel.
    SmallVector<int64_t> onesShape(inType.getShape());
    onesShape[0] = onesShape[1] = 1;
    Value ones = filledTensor(rewriter, loc, RankedTensorType::get(onesShape, t), one);
    Value counted = padWith(rewriter, loc, ones, countLow, countHigh, one);
    SmallVector<int64_t> restLow, restHigh;
    for (int64_t d = 0; d < rank; ++d) {
      restLow.push_back(low[d] - countLow[d]);
      restHigh.push_back(high[d] - countHigh[d]);
    }
    counted = padWith(rewriter, loc, counted, restLow, restHigh, zero);
    SmallVector<int64_t> countShape(type.getShape());
    countShape[0] = countShape[1] = 1;
    auto countType = RankedTensorType::get(countShape, t);
    Value counts = poolPadded(rewriter, loc, counted, countType,
                              op.getKernelShape(), op.getStrides(), {}, false,
                              false);
    MLIRContext *ctx = getContext();
    SmallVector<AffineExpr> countExprs{getAffineConstantExpr(0, ctx),
                                       getAffineConstantExpr(0, ctx)};
    for (int64_t d = 2; d < rank; ++d)
      countExprs.push_back(getAffineDimExpr(d, ctx));
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{sums, counts},
        ValueRange{emptyTensor(rewriter, loc, type)},
        SmallVector<AffineMap>{id, AffineMap::get(rank, 0, countExprs, ctx), id},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l,
                                  arith::DivFOp::create(b, l, args[0], args[1]).getResult());
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};
} // namespace

namespace {
/// Attention not kept for the fused kernel: its matmul, softmax, matmul
/// chain, whose graph ops the conversion then lowers.
struct AttentionToChain : OpConversionPattern<graph::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::AttentionOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    return op.decompose(rewriter);
  }
};
} // namespace

void mlir::llmc::populateContractionToLinalgPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<AttentionToChain>(converter, patterns.getContext());
  patterns.add<ContractionToGeneric<graph::MatMulOp>,
               ContractionToGeneric<graph::EinsumOp>, ConvToGeneric,
               ConvTransposeToGeneric,
               MaxPoolToGeneric, AvgPoolToGeneric>(converter,
                                                   patterns.getContext());
}
