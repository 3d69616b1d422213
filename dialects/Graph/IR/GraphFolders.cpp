//===- GraphFolders.cpp - Folders and canonicalization of graph ops -------===//
//
// Folding matters beyond tidiness: exported models compute shapes with small
// subgraphs (Shape -> Gather -> Unsqueeze -> Concat -> Reshape). With static
// shapes these fold to constants, which the importer then reads as the
// static attributes of the consuming op.
//
//===----------------------------------------------------------------------===//

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/ADT/APSInt.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llmc::graph;

/// Constants up to this many elements are folded through; larger ones are
/// left to run-time code.
static constexpr int64_t kMaxFoldElements = 4096;

static DenseElementsAttr denseConstant(Attribute attr) {
  auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
  if (!dense || dense.getNumElements() > kMaxFoldElements)
    return nullptr;
  return dense;
}

/// Strides of a row-major shape.
static SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// Linear index into `shape` (broadcast onto `outShape`) of the element at
/// linear index `linear` of `outShape`.
static int64_t broadcastIndex(int64_t linear, ArrayRef<int64_t> outShape,
                              ArrayRef<int64_t> shape) {
  SmallVector<int64_t> outStrides = stridesOf(outShape);
  SmallVector<int64_t> strides = stridesOf(shape);
  int64_t offset = outShape.size() - shape.size(), index = 0;
  for (size_t d = 0; d < outShape.size(); ++d) {
    int64_t coord = (linear / outStrides[d]) % std::max<int64_t>(outShape[d], 1);
    if (d < static_cast<size_t>(offset))
      continue;
    int64_t size = shape[d - offset];
    index += (size == 1 ? 0 : coord) * strides[d - offset];
  }
  return index;
}

/// Folds a binary op on two small constants of one integer or float type
/// (integers only unless `floats`).
template <typename IntFn, typename FloatFn>
static Attribute foldBinary(Operation *op, ArrayRef<Attribute> operands,
                            IntFn intFn, FloatFn floatFn, bool floats = true) {
  DenseElementsAttr lhs = denseConstant(operands[0]);
  DenseElementsAttr rhs = denseConstant(operands[1]);
  if (!lhs || !rhs)
    return {};
  auto outType = cast<RankedTensorType>(op->getResult(0).getType());
  if (outType.getNumElements() > kMaxFoldElements)
    return {};
  Type element = outType.getElementType();
  ArrayRef<int64_t> outShape = outType.getShape();
  int64_t n = outType.getNumElements();
  if (auto intType = dyn_cast<IntegerType>(element)) {
    if (intType.getWidth() == 1 || !intType.isSignless())
      return {};
    auto a = llvm::to_vector(lhs.getValues<APInt>());
    auto b = llvm::to_vector(rhs.getValues<APInt>());
    SmallVector<APInt> out;
    for (int64_t i = 0; i < n; ++i) {
      APInt x = a[broadcastIndex(i, outShape, lhs.getType().getShape())];
      APInt y = b[broadcastIndex(i, outShape, rhs.getType().getShape())];
      std::optional<APInt> r = intFn(x, y);
      if (!r)
        return {};
      out.push_back(*r);
    }
    return DenseElementsAttr::get(outType, out);
  }
  if (floats && isa<FloatType>(element)) {
    auto a = llvm::to_vector(lhs.getValues<APFloat>());
    auto b = llvm::to_vector(rhs.getValues<APFloat>());
    SmallVector<APFloat> out;
    for (int64_t i = 0; i < n; ++i) {
      APFloat x = a[broadcastIndex(i, outShape, lhs.getType().getShape())];
      APFloat y = b[broadcastIndex(i, outShape, rhs.getType().getShape())];
      out.push_back(floatFn(x, y));
    }
    return DenseElementsAttr::get(outType, out);
  }
  return {};
}

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> { return x + y; },
      [](APFloat x, const APFloat &y) {
        x.add(y, APFloat::rmNearestTiesToEven);
        return x;
      });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> { return x - y; },
      [](APFloat x, const APFloat &y) {
        x.subtract(y, APFloat::rmNearestTiesToEven);
        return x;
      });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> { return x * y; },
      [](APFloat x, const APFloat &y) {
        x.multiply(y, APFloat::rmNearestTiesToEven);
        return x;
      });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> {
        if (y.isZero() || (y.isAllOnes() && x.isMinSignedValue()))
          return std::nullopt;
        return x.sdiv(y);
      },
      [](APFloat x, const APFloat &y) {
        x.divide(y, APFloat::rmNearestTiesToEven);
        return x;
      });
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  DenseElementsAttr in = denseConstant(adaptor.getInput());
  if (!in)
    return {};
  Type from = in.getElementType(), to = getOutput().getType().getElementType();
  // 8-bit floats convert at run time only (their rounding, NaNs and
  // overflow are the lowering's, in one place).
  auto small = [](Type t) {
    return isa<FloatType>(t) && t.getIntOrFloatBitWidth() <= 8;
  };
  if (small(from) || small(to))
    return {};
  auto fromInt = dyn_cast<IntegerType>(from);
  auto toInt = dyn_cast<IntegerType>(to);
  // Integer <-> integer and integer -> float casts of small constants: the
  // ones shape subgraphs use.
  if (fromInt && toInt && toInt.getWidth() > 1) {
    SmallVector<APInt> out;
    for (APInt v : in.getValues<APInt>())
      out.push_back(fromInt.isUnsigned() || fromInt.getWidth() == 1
                        ? v.zextOrTrunc(toInt.getWidth())
                        : v.sextOrTrunc(toInt.getWidth()));
    return DenseElementsAttr::get(getOutput().getType(), out);
  }
  if (fromInt && isa<FloatType>(to) && fromInt.getWidth() > 1) {
    SmallVector<APFloat> out;
    for (APInt v : in.getValues<APInt>()) {
      APFloat f(cast<FloatType>(to).getFloatSemantics());
      f.convertFromAPInt(v, !fromInt.isUnsigned(), APFloat::rmNearestTiesToEven);
      out.push_back(f);
    }
    return DenseElementsAttr::get(getOutput().getType(), out);
  }
  // Float -> integer casts truncate toward zero (as ONNX's Cast and numpy
  // do); a NaN, an infinity or a value out of the type's range is left to
  // run time.
  if (isa<FloatType>(from) && toInt && toInt.getWidth() > 1 &&
      in.getNumElements() <= kMaxFoldElements) {
    SmallVector<APInt> out;
    for (APFloat v : in.getValues<APFloat>()) {
      llvm::APSInt i(toInt.getWidth(), toInt.isUnsigned());
      bool exact;
      if (v.convertToInteger(i, APFloat::rmTowardZero, &exact) &
          APFloat::opInvalidOp)
        return {};
      out.push_back(i);
    }
    return DenseElementsAttr::get(getOutput().getType(), out);
  }
  // Float -> float casts of small constants (rounded to nearest, ties to
  // even, as ONNX's Cast does): scalars written in f32 for an f16 model.
  auto fromFloat = dyn_cast<FloatType>(from);
  auto toFloat = dyn_cast<FloatType>(to);
  if (fromFloat && toFloat && in.getNumElements() <= (1 << 16)) {
    SmallVector<APFloat> out;
    for (APFloat v : in.getValues<APFloat>()) {
      bool lost;
      v.convert(toFloat.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &lost);
      out.push_back(v);
    }
    return DenseElementsAttr::get(getOutput().getType(), out);
  }
  return {};
}

OpFoldResult BroadcastToOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  if (auto splat = dyn_cast_or_null<SplatElementsAttr>(adaptor.getInput()))
    return SplatElementsAttr::get(getOutput().getType(),
                                  splat.getSplatValue<Attribute>());
  return {};
}

OpFoldResult ReduceOp::fold(FoldAdaptor adaptor) {
  StringRef kind = getKind();
  if (getAxes().empty() && getInput().getType() == getOutput().getType() &&
      (kind == "sum" || kind == "mean" || kind == "max" || kind == "min" ||
       kind == "prod"))
    return getInput();
  // Small signed integer reductions: the shape arithmetic of exported models.
  DenseElementsAttr in = denseConstant(adaptor.getInput());
  auto intType = in ? dyn_cast<IntegerType>(in.getElementType()) : nullptr;
  if (!intType || !intType.isSignless() || intType.getWidth() == 1 ||
      (kind != "sum" && kind != "prod" && kind != "max" && kind != "min"))
    return {};
  auto outType = getOutput().getType();
  ArrayRef<int64_t> inShape = in.getType().getShape();
  SmallVector<int64_t> inStrides = stridesOf(inShape);
  // Map each input element to its output element (reduced dims dropped or
  // kept as size 1: the linear order of the kept dims is the same).
  SmallVector<int64_t> keptDims;
  for (int64_t d = 0; d < static_cast<int64_t>(inShape.size()); ++d)
    if (!llvm::is_contained(getAxes(), d))
      keptDims.push_back(d);
  SmallVector<std::optional<APInt>> acc(outType.getNumElements());
  auto values = llvm::to_vector(in.getValues<APInt>());
  for (int64_t i = 0, n = in.getNumElements(); i < n; ++i) {
    int64_t out = 0;
    for (int64_t d : keptDims)
      out = out * inShape[d] + (i / inStrides[d]) % inShape[d];
    APInt v = values[i];
    std::optional<APInt> &a = acc[out];
    if (!a)
      a = v;
    else if (kind == "sum")
      a = *a + v;
    else if (kind == "prod")
      a = *a * v;
    else if (kind == "max")
      a = a->sge(v) ? *a : v;
    else
      a = a->sle(v) ? *a : v;
  }
  SmallVector<APInt> out;
  for (auto &a : acc)
    out.push_back(a ? *a
                    : APInt(intType.getWidth(), kind == "prod" ? 1 : 0));
  return DenseElementsAttr::get(outType, out);
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

OpFoldResult ShapeOp::fold(FoldAdaptor) {
  return DenseElementsAttr::get(getOutput().getType(),
                                getInput().getType().getShape());
}

OpFoldResult SizeOp::fold(FoldAdaptor) {
  return DenseElementsAttr::get(getOutput().getType(),
                                getInput().getType().getNumElements());
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    return dense.reshape(getOutput().getType());
  return {};
}

namespace {
/// reshape(reshape(x)) -> reshape(x).
struct FoldReshapeChain : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto producer = op.getInput().getDefiningOp<ReshapeOp>();
    if (!producer)
      return rewriter.notifyMatchFailure(op, "input is not a reshape");
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), producer.getInput());
    return success();
  }
};

/// reshape(transpose(reshape(x))) where both reshapes only regroup the
/// leading dims and the transpose only permutes the trailing dims the
/// reshapes leave alone -> reshape(transpose(x)): the transpose moves to
/// x's own dims. Exporters write a 4-D tensor's last-two-dims transpose
/// this way (torch's SDPA decomposition: [b, h, s, d] -> [b*h, s, d], then
/// back), which would otherwise merge the batch and heads in between (no
/// split of the heads alone survives that merge).
struct TransposeThroughLeadingReshapes : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto transpose = op.getInput().getDefiningOp<TransposeOp>();
    auto inner = transpose ? transpose.getInput().getDefiningOp<ReshapeOp>()
                           : ReshapeOp();
    if (!inner || !transpose->hasOneUse())
      return rewriter.notifyMatchFailure(op, "no reshape-transpose-reshape");
    auto x = cast<RankedTensorType>(inner.getInput().getType());
    auto mid = cast<RankedTensorType>(inner.getType());
    auto out = cast<RankedTensorType>(op.getType());
    ArrayRef<int64_t> perm = transpose.getPerm();
    int64_t r = perm.size(), k = 0;
    while (k < r && perm[k] == k)
      ++k;
    int64_t trailing = r - k;
    if (k == 0 || k == r || !x.hasStaticShape() || !mid.hasStaticShape() ||
        !out.hasStaticShape() || x.getRank() < trailing ||
        out.getRank() < trailing ||
        x.getShape().take_back(trailing) != mid.getShape().take_back(trailing))
      return rewriter.notifyMatchFailure(op, "the reshapes touch the permuted dims");
    auto permuted = cast<RankedTensorType>(transpose.getType());
    if (out.getShape().take_back(trailing) !=
        permuted.getShape().take_back(trailing))
      return rewriter.notifyMatchFailure(op, "the outer reshape touches them");
    int64_t lead = x.getRank() - trailing;
    SmallVector<int64_t> newPerm;
    for (int64_t i = 0; i < lead; ++i)
      newPerm.push_back(i);
    for (int64_t i = k; i < r; ++i)
      newPerm.push_back(perm[i] - k + lead);
    Value moved = TransposeOp::create(rewriter, transpose.getLoc(),
                                      inner.getInput(), newPerm);
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, out, moved);
    return success();
  }
};

/// transpose(transpose(x)) -> transpose(x) with the composed permutation.
struct FoldTransposeChain : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto producer = op.getInput().getDefiningOp<TransposeOp>();
    if (!producer)
      return rewriter.notifyMatchFailure(op, "input is not a transpose");
    SmallVector<int64_t> perm;
    for (int64_t p : op.getPerm())
      perm.push_back(producer.getPerm()[p]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, producer.getInput(), perm);
    return success();
  }
};
} // namespace

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<FoldReshapeChain, TransposeThroughLeadingReshapes>(context);
}

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<FoldTransposeChain>(context);
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  bool identity = true;
  for (auto [i, p] : llvm::enumerate(getPerm()))
    identity &= static_cast<int64_t>(i) == p;
  if (identity)
    return getInput();
  DenseElementsAttr in = denseConstant(adaptor.getInput());
  if (!in)
    return {};
  if (in.isSplat())
    return in.resizeSplat(getOutput().getType());
  auto values = llvm::to_vector(in.getValues<Attribute>());
  ArrayRef<int64_t> outShape = getOutput().getType().getShape();
  SmallVector<int64_t> inStrides = stridesOf(in.getType().getShape());
  SmallVector<int64_t> outStrides = stridesOf(outShape);
  SmallVector<Attribute> out;
  for (int64_t i = 0, n = getOutput().getType().getNumElements(); i < n; ++i) {
    int64_t index = 0;
    for (size_t d = 0; d < outShape.size(); ++d)
      index += ((i / outStrides[d]) % outShape[d]) * inStrides[getPerm()[d]];
    out.push_back(values[index]);
  }
  return DenseElementsAttr::get(getOutput().getType(), out);
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getOutput().getType() &&
      llvm::all_of(getStarts(), [](int64_t s) { return s == 0; }) &&
      llvm::all_of(getSteps(), [](int64_t s) { return s == 1; }))
    return getInput();
  DenseElementsAttr in = denseConstant(adaptor.getInput());
  if (!in)
    return {};
  if (in.isSplat())
    return in.resizeSplat(getOutput().getType());
  auto values = llvm::to_vector(in.getValues<Attribute>());
  ArrayRef<int64_t> outShape = getOutput().getType().getShape();
  SmallVector<int64_t> inStrides = stridesOf(in.getType().getShape());
  SmallVector<int64_t> outStrides = stridesOf(outShape);
  SmallVector<Attribute> out;
  for (int64_t i = 0, n = getOutput().getType().getNumElements(); i < n; ++i) {
    int64_t index = 0;
    for (size_t d = 0; d < outShape.size(); ++d) {
      int64_t coord = (i / outStrides[d]) % outShape[d];
      index += (getStarts()[d] + coord * getSteps()[d]) * inStrides[d];
    }
    out.push_back(values[index]);
  }
  return DenseElementsAttr::get(getOutput().getType(), out);
}

OpFoldResult ConcatOp::fold(FoldAdaptor adaptor) {
  if (getInputs().size() == 1)
    return getInputs().front();
  SmallVector<DenseElementsAttr> parts;
  for (Attribute a : adaptor.getInputs()) {
    DenseElementsAttr d = denseConstant(a);
    if (!d)
      return {};
    parts.push_back(d);
  }
  auto outType = getOutput().getType();
  if (outType.getNumElements() > kMaxFoldElements)
    return {};
  // Copy axis-major blocks: for each outer index, each part's inner block.
  int64_t axis = getAxis();
  ArrayRef<int64_t> outShape = outType.getShape();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= outShape[d];
  SmallVector<SmallVector<Attribute>> values;
  SmallVector<int64_t> blocks;
  for (DenseElementsAttr p : parts) {
    values.push_back(llvm::to_vector(p.getValues<Attribute>()));
    int64_t block = 1;
    for (int64_t d = axis; d < p.getType().getRank(); ++d)
      block *= p.getType().getDimSize(d);
    blocks.push_back(block);
  }
  SmallVector<Attribute> out;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t p = 0; p < parts.size(); ++p)
      for (int64_t i = 0; i < blocks[p]; ++i)
        out.push_back(values[p][o * blocks[p] + i]);
  return DenseElementsAttr::get(outType, out);
}

OpFoldResult GatherOp::fold(FoldAdaptor adaptor) {
  DenseElementsAttr data = denseConstant(adaptor.getData());
  DenseElementsAttr indices = denseConstant(adaptor.getIndices());
  if (!data || !indices)
    return {};
  auto outType = getOutput().getType();
  if (outType.getNumElements() > kMaxFoldElements)
    return {};
  auto values = llvm::to_vector(data.getValues<Attribute>());
  SmallVector<int64_t> idx;
  int64_t axisSize = data.getType().getDimSize(getAxis());
  for (APInt v : indices.getValues<APInt>()) {
    int64_t i = v.getSExtValue();
    if (i < 0)
      i += axisSize;
    if (i < 0 || i >= axisSize)
      return {};
    idx.push_back(i);
  }
  ArrayRef<int64_t> shape = data.getType().getShape();
  int64_t outer = 1, inner = 1;
  int64_t axis = getAxis();
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  SmallVector<Attribute> out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : idx)
      for (int64_t k = 0; k < inner; ++k)
        out.push_back(values[(o * axisSize + i) * inner + k]);
  return DenseElementsAttr::get(outType, out);
}

OpFoldResult NegOp::fold(FoldAdaptor adaptor) {
  DenseElementsAttr in = denseConstant(adaptor.getInput());
  if (!in)
    return {};
  if (isa<FloatType>(in.getElementType()))
    return in.mapValues(in.getElementType(), [](const APFloat &v) {
      APFloat r = v;
      r.changeSign();
      return r.bitcastToAPInt();
    });
  auto intType = dyn_cast<IntegerType>(in.getElementType());
  if (!intType || !intType.isSignless() || intType.getWidth() == 1)
    return {};
  return in.mapValues(in.getElementType(),
                      [](const APInt &v) { return -v; });
}

OpFoldResult EqualOp::fold(FoldAdaptor adaptor) {
  DenseElementsAttr lhs = denseConstant(adaptor.getLhs());
  DenseElementsAttr rhs = denseConstant(adaptor.getRhs());
  auto outType = getOutput().getType();
  if (!lhs || !rhs || outType.getNumElements() > kMaxFoldElements)
    return {};
  auto a = llvm::to_vector(lhs.getValues<Attribute>());
  auto b = llvm::to_vector(rhs.getValues<Attribute>());
  SmallVector<bool> out;
  for (int64_t i = 0, n = outType.getNumElements(); i < n; ++i)
    out.push_back(
        a[broadcastIndex(i, outType.getShape(), lhs.getType().getShape())] ==
        b[broadcastIndex(i, outType.getShape(), rhs.getType().getShape())]);
  return DenseElementsAttr::get(outType, ArrayRef<bool>(out));
}

OpFoldResult WhereOp::fold(FoldAdaptor adaptor) {
  DenseElementsAttr cond = denseConstant(adaptor.getCondition());
  DenseElementsAttr lhs = denseConstant(adaptor.getLhs());
  DenseElementsAttr rhs = denseConstant(adaptor.getRhs());
  auto outType = getOutput().getType();
  if (!cond || !lhs || !rhs || outType.getNumElements() > kMaxFoldElements)
    return {};
  auto c = llvm::to_vector(cond.getValues<bool>());
  auto a = llvm::to_vector(lhs.getValues<Attribute>());
  auto b = llvm::to_vector(rhs.getValues<Attribute>());
  ArrayRef<int64_t> shape = outType.getShape();
  SmallVector<Attribute> out;
  for (int64_t i = 0, n = outType.getNumElements(); i < n; ++i)
    out.push_back(c[broadcastIndex(i, shape, cond.getType().getShape())]
                      ? a[broadcastIndex(i, shape, lhs.getType().getShape())]
                      : b[broadcastIndex(i, shape, rhs.getType().getShape())]);
  return DenseElementsAttr::get(outType, out);
}

//===----------------------------------------------------------------------===//
// Logic, comparisons, Mod, Min, Max: what exported shape subgraphs compute
// (the ONNX Attention function's GQA test: Equal, Not, Mod, And, Where).
//===----------------------------------------------------------------------===//

/// Folds an elementwise op with a bool result (or bool operands) over small
/// constants: `fn` maps the operands' values at one index to the result's.
template <typename Fn>
static Attribute foldToBools(Operation *op, ArrayRef<Attribute> operands,
                             Fn fn) {
  auto outType = cast<RankedTensorType>(op->getResult(0).getType());
  if (outType.getNumElements() > kMaxFoldElements)
    return {};
  SmallVector<DenseElementsAttr> in;
  for (Attribute a : operands) {
    in.push_back(denseConstant(a));
    if (!in.back())
      return {};
  }
  ArrayRef<int64_t> shape = outType.getShape();
  SmallVector<bool> out;
  for (int64_t i = 0, n = outType.getNumElements(); i < n; ++i) {
    SmallVector<int64_t> at;
    for (DenseElementsAttr d : in)
      at.push_back(broadcastIndex(i, shape, d.getType().getShape()));
    std::optional<bool> r = fn(in, at);
    if (!r)
      return {};
    out.push_back(*r);
  }
  return DenseElementsAttr::get(outType, ArrayRef<bool>(out));
}

/// The ordering of lhs against rhs at the given indices (integers by their
/// signedness, floats as IEEE: unordered with a NaN).
static std::optional<APFloat::cmpResult>
compareAt(ArrayRef<DenseElementsAttr> in, ArrayRef<int64_t> at) {
  Type t = in[0].getElementType();
  if (auto intType = dyn_cast<IntegerType>(t)) {
    APInt x = in[0].getValues<APInt>()[at[0]];
    APInt y = in[1].getValues<APInt>()[at[1]];
    bool isSigned = !intType.isUnsigned();
    if (isSigned ? x.slt(y) : x.ult(y))
      return APFloat::cmpLessThan;
    return x == y ? APFloat::cmpEqual : APFloat::cmpGreaterThan;
  }
  if (isa<FloatType>(t))
    return in[0].getValues<APFloat>()[at[0]].compare(
        in[1].getValues<APFloat>()[at[1]]);
  return std::nullopt;
}

template <typename Pred>
static Attribute foldCompare(Operation *op, ArrayRef<Attribute> operands,
                             Pred pred) {
  return foldToBools(op, operands,
                     [&](ArrayRef<DenseElementsAttr> in,
                         ArrayRef<int64_t> at) -> std::optional<bool> {
                       std::optional<APFloat::cmpResult> c = compareAt(in, at);
                       if (!c)
                         return std::nullopt;
                       return pred(*c);
                     });
}

OpFoldResult LessOp::fold(FoldAdaptor adaptor) {
  return foldCompare(*this, adaptor.getOperands(), [](APFloat::cmpResult c) {
    return c == APFloat::cmpLessThan;
  });
}
OpFoldResult LessEqualOp::fold(FoldAdaptor adaptor) {
  return foldCompare(*this, adaptor.getOperands(), [](APFloat::cmpResult c) {
    return c == APFloat::cmpLessThan || c == APFloat::cmpEqual;
  });
}
OpFoldResult GreaterOp::fold(FoldAdaptor adaptor) {
  return foldCompare(*this, adaptor.getOperands(), [](APFloat::cmpResult c) {
    return c == APFloat::cmpGreaterThan;
  });
}
OpFoldResult GreaterEqualOp::fold(FoldAdaptor adaptor) {
  return foldCompare(*this, adaptor.getOperands(), [](APFloat::cmpResult c) {
    return c == APFloat::cmpGreaterThan || c == APFloat::cmpEqual;
  });
}

template <typename Fn>
static Attribute foldLogic(Operation *op, ArrayRef<Attribute> operands,
                           Fn fn) {
  return foldToBools(op, operands,
                     [&](ArrayRef<DenseElementsAttr> in,
                         ArrayRef<int64_t> at) -> std::optional<bool> {
                       SmallVector<bool> v;
                       for (auto [d, i] : llvm::zip(in, at))
                         v.push_back(d.getValues<bool>()[i]);
                       return fn(v);
                     });
}

OpFoldResult NotOp::fold(FoldAdaptor adaptor) {
  return foldLogic(*this, adaptor.getOperands(),
                   [](ArrayRef<bool> v) { return !v[0]; });
}
OpFoldResult AndOp::fold(FoldAdaptor adaptor) {
  return foldLogic(*this, adaptor.getOperands(),
                   [](ArrayRef<bool> v) { return v[0] && v[1]; });
}
OpFoldResult OrOp::fold(FoldAdaptor adaptor) {
  return foldLogic(*this, adaptor.getOperands(),
                   [](ArrayRef<bool> v) { return v[0] || v[1]; });
}
OpFoldResult XorOp::fold(FoldAdaptor adaptor) {
  return foldLogic(*this, adaptor.getOperands(),
                   [](ArrayRef<bool> v) { return v[0] != v[1]; });
}

/// Integer Mod, Min and Max fold (signless integers, as foldBinary takes
/// them: the shapes' int64); floats are left to run time.
OpFoldResult ModOp::fold(FoldAdaptor adaptor) {
  if (getFmod())
    return {};
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> {
        if (y.isZero() || (y.isAllOnes() && x.isMinSignedValue()))
          return std::nullopt;
        // The remainder takes the divisor's sign (Python's %).
        APInt r = x.srem(y);
        if (!r.isZero() && r.isNegative() != y.isNegative())
          r += y;
        return r;
      },
      [](APFloat x, const APFloat &) { return x; },
      /*floats=*/false);
}
OpFoldResult MinOp::fold(FoldAdaptor adaptor) {
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> {
        return x.slt(y) ? x : y;
      },
      [](APFloat x, const APFloat &) { return x; }, /*floats=*/false);
}
OpFoldResult MaxOp::fold(FoldAdaptor adaptor) {
  return foldBinary(
      *this, adaptor.getOperands(),
      [](const APInt &x, const APInt &y) -> std::optional<APInt> {
        return x.sgt(y) ? x : y;
      },
      [](APFloat x, const APFloat &) { return x; }, /*floats=*/false);
}

//===----------------------------------------------------------------------===//
// Float shape arithmetic: legacy exports compute sizes in float (Resize's
// scales, Pad's amounts) with Sqrt, Floor, Ceil, Round, Reciprocal and Abs,
// then Cast to int64 (CastOp's fold takes float -> int).
//===----------------------------------------------------------------------===//

/// Folds a unary float op over a small constant, element by element.
template <typename Fn>
static Attribute foldFloatUnary(Attribute operand, Fn fn) {
  DenseElementsAttr in = denseConstant(operand);
  if (!in || !isa<FloatType>(in.getElementType()))
    return {};
  SmallVector<APFloat> out;
  for (APFloat v : in.getValues<APFloat>())
    out.push_back(fn(v));
  return DenseElementsAttr::get(in.getType(), out);
}

static APFloat rounded(APFloat v, APFloat::roundingMode mode) {
  v.roundToIntegral(mode);
  return v;
}

OpFoldResult SqrtOp::fold(FoldAdaptor adaptor) {
  return foldFloatUnary(adaptor.getInput(), [](const APFloat &v) {
    // The double's square root rounds correctly to f32, f16 and bf16 (it
    // has more than twice their precision), and is exact for f64.
    bool lost;
    APFloat d = v;
    d.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
    APFloat r(std::sqrt(d.convertToDouble()));
    r.convert(v.getSemantics(), APFloat::rmNearestTiesToEven, &lost);
    return r;
  });
}
OpFoldResult ReciprocalOp::fold(FoldAdaptor adaptor) {
  return foldFloatUnary(adaptor.getInput(), [](const APFloat &v) {
    APFloat one(v.getSemantics(), 1);
    one.divide(v, APFloat::rmNearestTiesToEven);
    return one;
  });
}
OpFoldResult FloorOp::fold(FoldAdaptor adaptor) {
  return foldFloatUnary(adaptor.getInput(), [](const APFloat &v) {
    return rounded(v, APFloat::rmTowardNegative);
  });
}
OpFoldResult CeilOp::fold(FoldAdaptor adaptor) {
  return foldFloatUnary(adaptor.getInput(), [](const APFloat &v) {
    return rounded(v, APFloat::rmTowardPositive);
  });
}
OpFoldResult RoundOp::fold(FoldAdaptor adaptor) {
  return foldFloatUnary(adaptor.getInput(), [](const APFloat &v) {
    return rounded(v, APFloat::rmNearestTiesToEven); // ONNX: halves to even
  });
}
OpFoldResult AbsOp::fold(FoldAdaptor adaptor) {
  DenseElementsAttr in = denseConstant(adaptor.getInput());
  if (!in)
    return {};
  if (isa<FloatType>(in.getElementType()))
    return foldFloatUnary(in, [](APFloat v) {
      v.clearSign();
      return v;
    });
  auto intType = dyn_cast<IntegerType>(in.getElementType());
  if (!intType || !intType.isSignless() || intType.getWidth() == 1)
    return {};
  return in.mapValues(in.getElementType(),
                      [](const APInt &v) { return v.abs(); });
}
