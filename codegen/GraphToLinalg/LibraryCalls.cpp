//===- LibraryCalls.cpp - Contractions marked for the runtime's BLAS ------===//
//
// f32/f64 matmul and f32 1-D/2-D convolution (and, for CUDA's cuBLASLt,
// f16/bf16 matmul accumulating in f32) lower to linalg.generic ops
// that compute exactly what the op means (so the IR stays correct whatever
// runs it) and carry a `library_call` attribute naming the runtime kernel
// (OpenBLAS GEMM, im2col) that computes the same thing faster. After
// bufferization, `llmc-lower-library-calls` replaces each marked generic by
// a call. Cases the kernels do not cover (other types, mixed batch
// broadcasting, 3-D convolution) use the plain generic lowering.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::lowering;

namespace {
/// Benefit above the generic lowering's, so these win when they apply.
constexpr unsigned kLibraryBenefit = 2;

int64_t product(ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

/// A multiply-accumulate generic over `inputs` (only the first two are
/// multiplied; others are kernel parameters the body ignores) into `init`.
Value markedContraction(OpBuilder &b, Location loc, StringRef libraryCall,
                        ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                        ArrayRef<utils::IteratorType> iterators) {
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        // Narrower float factors are widened to the accumulator's type.
        linalg::YieldOp::create(
            nb, l, multiplyAdd(nb, l, args.take_front(2), args.back()));
      });
  generic.setLibraryCallAttr(b.getStringAttr(libraryCall));
  return generic.getResult(0);
}

/// When `v` is a graph.transpose that swaps only its last two dims, the
/// (converted) tensor it transposes; a null value otherwise.
Value storedTransposed(Value v, ConversionPatternRewriter &rewriter) {
  auto transpose = v.getDefiningOp<graph::TransposeOp>();
  if (!transpose)
    return {};
  auto perm = transpose.getPerm();
  int64_t rank = perm.size();
  if (rank < 2 || perm[rank - 2] != rank - 1 || perm[rank - 1] != rank - 2)
    return {};
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (perm[i] != i)
      return {};
  Value stored = rewriter.getRemappedValue(transpose.getInput());
  if (!stored || stored.getType() != transpose.getInput().getType())
    return {};
  return stored;
}

struct MatMulToBlas : OpConversionPattern<graph::MatMulOp> {
  MatMulToBlas(const TypeConverter &converter, MLIRContext *ctx, bool halfGemms)
      : OpConversionPattern(converter, ctx, kLibraryBenefit),
        halfGemms(halfGemms) {}
  bool halfGemms;

  LogicalResult
  matchAndRewrite(graph::MatMulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto outType = convertedType(*getTypeConverter(), op.getType());
    Type t = outType.getElementType();
    bool half = t.isF16() || t.isBF16();
    if (!t.isF32() && !t.isF64() && !(half && halfGemms))
      return rewriter.notifyMatchFailure(op, "the BLAS has no such type");
    // f16/bf16 operands accumulate in f32 into an f32 result (cuBLASLt's
    // compute type), narrowed afterwards.
    Type acc = half ? Type(rewriter.getF32Type()) : t;
    auto lhs = cast<RankedTensorType>(adaptor.getLhs().getType());
    auto rhs = cast<RankedTensorType>(adaptor.getRhs().getType());
    // Promote 1-D operands as numpy does.
    SmallVector<int64_t> a(lhs.getShape()), b(rhs.getShape());
    if (a.size() == 1)
      a.insert(a.begin(), 1);
    if (b.size() == 1)
      b.push_back(1);
    int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
    int64_t batchRank = std::max(a.size(), b.size()) - 2;
    SmallVector<int64_t> batch(batchRank, 1);
    for (auto *shape : {&a, &b})
      for (size_t i = 0; i + 2 < shape->size(); ++i) {
        int64_t &d = batch[batchRank - (shape->size() - 2) + i];
        d = std::max(d, (*shape)[i]);
      }
    // Each operand's batch is either the whole batch or all ones.
    auto batchOf = [&](ArrayRef<int64_t> shape) -> std::optional<int64_t> {
      if (product(shape.drop_back(2)) == 1)
        return 1;
      SmallVector<int64_t> padded(batchRank - (shape.size() - 2), 1);
      llvm::append_range(padded, shape.drop_back(2));
      if (ArrayRef<int64_t>(padded) == ArrayRef<int64_t>(batch))
        return product(batch);
      return std::nullopt;
    };
    std::optional<int64_t> batchA = batchOf(a), batchB = batchOf(b);
    if (!batchA || !batchB)
      return rewriter.notifyMatchFailure(op, "mixed batch broadcasting");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    int64_t total = product(batch);
    // An operand that is a transpose of the last two dims is read in place,
    // transposed by the BLAS, instead of being materialised.
    Value lhsStored = storedTransposed(op.getLhs(), rewriter);
    Value rhsStored = storedTransposed(op.getRhs(), rewriter);
    bool transA = static_cast<bool>(lhsStored), transB = static_cast<bool>(rhsStored);
    Value a3 = transA ? reshapeTo(rewriter, loc, lhsStored,
                                  RankedTensorType::get({*batchA, k, m}, t))
                      : reshapeTo(rewriter, loc, adaptor.getLhs(),
                                  RankedTensorType::get({*batchA, m, k}, t));
    Value b3 = transB ? reshapeTo(rewriter, loc, rhsStored,
                                  RankedTensorType::get({*batchB, n, k}, t))
                      : reshapeTo(rewriter, loc, adaptor.getRhs(),
                                  RankedTensorType::get({*batchB, k, n}, t));
    auto cType = RankedTensorType::get({total, m, n}, acc);
    Value init = filledTensor(rewriter, loc, cType,
                              scalarConstant(rewriter, loc, acc, 0));
    // Loops (b, m, n, k); a batch of 1 broadcasts (map result 0).
    AffineExpr bi = getAffineDimExpr(0, ctx), mi = getAffineDimExpr(1, ctx),
               ni = getAffineDimExpr(2, ctx), ki = getAffineDimExpr(3, ctx);
    AffineExpr zero = getAffineConstantExpr(0, ctx);
    AffineExpr ba = *batchA == 1 ? zero : bi, bb = *batchB == 1 ? zero : bi;
    SmallVector<AffineMap> maps{
        AffineMap::get(4, 0,
                       transA ? ArrayRef<AffineExpr>{ba, ki, mi}
                              : ArrayRef<AffineExpr>{ba, mi, ki},
                       ctx),
        AffineMap::get(4, 0,
                       transB ? ArrayRef<AffineExpr>{bb, ni, ki}
                              : ArrayRef<AffineExpr>{bb, ki, ni},
                       ctx),
        AffineMap::get(4, 0, getAffineConstantExpr(0, ctx)),
        AffineMap::get(4, 0, {bi, mi, ni}, ctx)};
    SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    auto paramsType = RankedTensorType::get({2}, rewriter.getI64Type());
    Value params = arith::ConstantOp::create(
        rewriter, loc, paramsType,
        DenseElementsAttr::get(paramsType,
                               ArrayRef<int64_t>{transA ? 1 : 0, transB ? 1 : 0}));
    StringRef call = t.isF32()   ? "llmc_matmul_f32"
                     : t.isF64() ? "llmc_matmul_f64"
                     : t.isF16() ? "llmc_matmul_f16"
                                 : "llmc_matmul_bf16";
    Value c3 = markedContraction(rewriter, loc, call, {a3, b3, params}, init,
                                 maps, iterators);
    if (half) // c = truncf(c32), elementwise.
      c3 = mapElements(rewriter, loc, c3, t,
                       [&](OpBuilder &nb, Location l, Value x) -> Value {
                         return arith::TruncFOp::create(nb, l, t, x);
                       });
    rewriter.replaceOp(op, reshapeTo(rewriter, loc, c3, outType));
    return success();
  }
};

struct ConvToIm2col : OpConversionPattern<graph::ConvOp> {
  ConvToIm2col(const TypeConverter &converter, MLIRContext *ctx)
      : OpConversionPattern(converter, ctx, kLibraryBenefit) {}

  LogicalResult
  matchAndRewrite(graph::ConvOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto outType = convertedType(*getTypeConverter(), op.getType());
    Type t = outType.getElementType();
    int64_t rank = outType.getRank();
    if (!t.isF32() || (rank != 3 && rank != 4))
      return rewriter.notifyMatchFailure(op, "not a 1-D or 2-D f32 conv");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value x = adaptor.getInput(), w = adaptor.getWeight();
    SmallVector<int64_t> strides(op.getStrides()), pads(op.getPads()),
        dilations(op.getDilations());
    // 1-D runs as 2-D with a height of 1.
    auto lift = [&](Value v) {
      auto vt = cast<RankedTensorType>(v.getType());
      return reshapeTo(rewriter, loc, v,
                       RankedTensorType::get({vt.getDimSize(0),
                                              vt.getDimSize(1), 1,
                                              vt.getDimSize(2)},
                                             vt.getElementType()));
    };
    RankedTensorType type2d = outType;
    if (rank == 3) {
      x = lift(x);
      w = lift(w);
      type2d = RankedTensorType::get({outType.getDimSize(0),
                                      outType.getDimSize(1), 1,
                                      outType.getDimSize(2)},
                                     t);
      strides.insert(strides.begin(), 1);
      dilations.insert(dilations.begin(), 1);
      pads = {0, pads[0], 0, pads[1]};
    }
    Value zero = scalarConstant(rewriter, loc, t, 0);
    x = padWith(rewriter, loc, x, {0, 0, pads[0], pads[1]},
                {0, 0, pads[2], pads[3]}, zero);
    // The output starts as the broadcast bias (or zero); the kernel adds.
    Value init = channelBiasOrZero(rewriter, loc, adaptor.getBias(), type2d);
    auto paramsType = RankedTensorType::get({5}, rewriter.getI64Type());
    Value params = arith::ConstantOp::create(
        rewriter, loc, paramsType,
        DenseElementsAttr::get(
            paramsType, ArrayRef<int64_t>{strides[0], strides[1], dilations[0],
                                          dilations[1], static_cast<int64_t>(op.getGroup())}));
    // Loops (n, m, oh, ow, c, kh, kw) over one group's input channels.
    auto wType = cast<RankedTensorType>(w.getType());
    int64_t mPerGroup = wType.getDimSize(0) / op.getGroup();
    int64_t cPerGroup = wType.getDimSize(1);
    SmallVector<AffineExpr> d;
    for (unsigned i = 0; i < 7; ++i)
      d.push_back(getAffineDimExpr(i, ctx));
    SmallVector<AffineMap> maps{
        AffineMap::get(7, 0,
                       {d[0], d[1].floorDiv(mPerGroup) * cPerGroup + d[4],
                        d[2] * strides[0] + d[5] * dilations[0],
                        d[3] * strides[1] + d[6] * dilations[1]},
                       ctx),
        AffineMap::get(7, 0, {d[1], d[4], d[5], d[6]}, ctx),
        AffineMap::get(7, 0, {getAffineConstantExpr(0, ctx)}, ctx),
        AffineMap::get(7, 0, {d[0], d[1], d[2], d[3]}, ctx)};
    SmallVector<utils::IteratorType> iterators(4, utils::IteratorType::parallel);
    iterators.append(3, utils::IteratorType::reduction);
    Value y = markedContraction(rewriter, loc, "llmc_conv2d_f32", {x, w, params},
                                init, maps, iterators);
    rewriter.replaceOp(op, reshapeTo(rewriter, loc, y, outType));
    return success();
  }
};
} // namespace

void mlir::llmc::populateLibraryCallPatterns(const TypeConverter &converter,
                                             RewritePatternSet &patterns,
                                             bool halfGemms) {
  patterns.add<MatMulToBlas>(converter, patterns.getContext(), halfGemms);
  patterns.add<ConvToIm2col>(converter, patterns.getContext());
}
