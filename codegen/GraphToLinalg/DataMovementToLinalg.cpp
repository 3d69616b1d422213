//===- DataMovementToLinalg.cpp - Reshapes, slices, gathers, scatters -----===//
//
// Layout-only ops become tensor ops (reshape, concat, constant pads) or
// linalg.transpose. Everything that computes where to read (slices with any
// step, reflect/edge pads, tiles, gathers, one_hot, resize, trilu) becomes an
// index-computing generic: each result element reads input[f(indices)].
// Every data-dependent index is clamped into its dim; with check-indices a
// gather's or scatter's index out of its dim is also reported to the
// runtime (checkedIndex), which fails the run. Scatters are loop nests
// updating the result tensor in place after bufferization.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::lowering;

namespace {
Value idx(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantIndexOp::create(b, l, v);
}

/// Lowers a graph op with one index-computing generic.
template <typename OpTy>
struct IndexedPattern : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using Adaptor = typename OpTy::Adaptor;

  virtual Value element(OpTy op, Adaptor adaptor, OpBuilder &b, Location l,
                        ValueRange ivs) const = 0;

  LogicalResult
  matchAndRewrite(OpTy op, Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = convertedType(*this->getTypeConverter(),
                              op->getResult(0).getType());
    rewriter.replaceOp(op, buildIndexedGeneric(
                               rewriter, op.getLoc(), type,
                               [&](OpBuilder &b, Location l, ValueRange ivs) {
                                 return element(op, adaptor, b, l, ivs);
                               }));
    return success();
  }
};

struct SliceLowering : IndexedPattern<graph::SliceOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::SliceOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    SmallVector<Value> in;
    for (auto [d, iv] : llvm::enumerate(ivs)) {
      Value scaled = arith::MulIOp::create(b, l, iv, idx(b, l, op.getSteps()[d]));
      in.push_back(arith::AddIOp::create(b, l, scaled, idx(b, l, op.getStarts()[d])));
    }
    return tensor::ExtractOp::create(b, l, a.getInput(), in);
  }
};

struct TileLowering : IndexedPattern<graph::TileOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::TileOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    auto inType = cast<RankedTensorType>(a.getInput().getType());
    SmallVector<Value> in;
    for (auto [d, iv] : llvm::enumerate(ivs))
      in.push_back(arith::RemUIOp::create(
          b, l, iv, idx(b, l, std::max<int64_t>(inType.getDimSize(d), 1))));
    return tensor::ExtractOp::create(b, l, a.getInput(), in);
  }
};

struct PadLowering : OpConversionPattern<graph::PadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::PadOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = convertedType(*getTypeConverter(), op.getType());
    auto inType = cast<RankedTensorType>(a.getInput().getType());
    int64_t rank = inType.getRank();
    ArrayRef<int64_t> pads = op.getPads();
    if (op.getMode() == "constant") {
      Value v = scalarConstant(rewriter, loc, type.getElementType(),
                               op.getValue().convertToDouble());
      rewriter.replaceOp(op, padWith(rewriter, loc, a.getInput(),
                                     pads.take_front(rank),
                                     pads.drop_front(rank), v));
      return success();
    }
    bool reflect = op.getMode() == "reflect";
    rewriter.replaceOp(
        op, buildIndexedGeneric(
                rewriter, loc, type, [&](OpBuilder &b, Location l, ValueRange ivs) {
                  SmallVector<Value> in;
                  for (int64_t d = 0; d < rank; ++d) {
                    int64_t n = inType.getDimSize(d);
                    // i = out - pad, then mirrored or clamped into [0, n).
                    Value i = arith::SubIOp::create(
                        b, l, arith::IndexCastOp::create(b, l, b.getI64Type(), ivs[d]),
                        arith::ConstantOp::create(b, l, b.getI64IntegerAttr(pads[d])));
                    if (reflect && n > 1) {
                      Value zero = arith::ConstantOp::create(b, l, b.getI64IntegerAttr(0));
                      Value last = arith::ConstantOp::create(b, l, b.getI64IntegerAttr(n - 1));
                      Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, zero);
                      i = arith::SelectOp::create(b, l, neg, arith::SubIOp::create(b, l, zero, i), i);
                      Value over = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, i, last);
                      Value twice = arith::ConstantOp::create(b, l, b.getI64IntegerAttr(2 * (n - 1)));
                      i = arith::SelectOp::create(b, l, over, arith::SubIOp::create(b, l, twice, i), i);
                    }
                    in.push_back(clampedIndex(b, l, i, n, /*wrapNegative=*/false));
                  }
                  return tensor::ExtractOp::create(b, l, a.getInput(), in);
                }));
    return success();
  }
};

struct TriluLowering : IndexedPattern<graph::TriluOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::TriluOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    int64_t rank = ivs.size();
    Value x = tensor::ExtractOp::create(b, l, a.getInput(), ivs);
    if (rank < 2)
      return x;
    Type i64 = b.getI64Type();
    Value row = arith::IndexCastOp::create(b, l, i64, ivs[rank - 2]);
    Value col = arith::IndexCastOp::create(b, l, i64, ivs[rank - 1]);
    Value diff = arith::SubIOp::create(b, l, col, row);
    Value k = arith::ConstantOp::create(b, l, b.getI64IntegerAttr(op.getK()));
    Value keep = arith::CmpIOp::create(
        b, l, op.getUpper() ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
        diff, k);
    return arith::SelectOp::create(b, l, keep, x,
                                   scalarConstant(b, l, x.getType(), 0));
  }
};

struct GatherLowering : IndexedPattern<graph::GatherOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::GatherOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    int64_t axis = op.getAxis();
    int64_t q = op.getIndices().getType().getRank();
    auto dataType = cast<RankedTensorType>(a.getData().getType());
    Value index = tensor::ExtractOp::create(b, l, a.getIndices(),
                                            ivs.slice(axis, q));
    SmallVector<Value> in(ivs.take_front(axis));
    in.push_back(checkedIndex(b, l, op, index, dataType.getDimSize(axis)));
    llvm::append_range(in, ivs.drop_front(axis + q));
    return tensor::ExtractOp::create(b, l, a.getData(), in);
  }
};

struct GatherElementsLowering : IndexedPattern<graph::GatherElementsOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::GatherElementsOp op, Adaptor a, OpBuilder &b,
                Location l, ValueRange ivs) const override {
    int64_t axis = op.getAxis();
    auto dataType = cast<RankedTensorType>(a.getData().getType());
    Value index = tensor::ExtractOp::create(b, l, a.getIndices(), ivs);
    SmallVector<Value> in(ivs);
    in[axis] = checkedIndex(b, l, op, index, dataType.getDimSize(axis));
    // Dims other than axis may be larger in data than in indices: fine.
    return tensor::ExtractOp::create(b, l, a.getData(), in);
  }
};

struct GatherNDLowering : IndexedPattern<graph::GatherNDOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::GatherNDOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    auto dataType = cast<RankedTensorType>(a.getData().getType());
    auto indicesType = cast<RankedTensorType>(a.getIndices().getType());
    int64_t batch = op.getBatchDims(), q = indicesType.getRank();
    int64_t depth = indicesType.getShape().back();
    SmallVector<Value> in(ivs.take_front(batch));
    SmallVector<Value> tuple(ivs.take_front(q - 1));
    tuple.push_back(Value());
    for (int64_t t = 0; t < depth; ++t) {
      tuple.back() = idx(b, l, t);
      Value index = tensor::ExtractOp::create(b, l, a.getIndices(), tuple);
      in.push_back(
          checkedIndex(b, l, op, index, dataType.getDimSize(batch + t)));
    }
    llvm::append_range(in, ivs.drop_front(q - 1));
    return tensor::ExtractOp::create(b, l, a.getData(), in);
  }
};

struct OneHotLowering : IndexedPattern<graph::OneHotOp> {
  using IndexedPattern::IndexedPattern;
  Value element(graph::OneHotOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    int64_t axis = op.getAxis();
    int64_t depth = op.getOutput().getType().getDimSize(axis);
    SmallVector<Value> at(ivs);
    at.erase(at.begin() + axis);
    Value index = tensor::ExtractOp::create(b, l, a.getIndices(), at);
    Type i64 = b.getI64Type();
    if (isa<FloatType>(index.getType()))
      index = arith::FPToSIOp::create(b, l, i64, index);
    else if (index.getType() != i64)
      index = arith::ExtSIOp::create(b, l, i64, index);
    // Negative indices count from the end of the depth.
    Value zero = arith::ConstantOp::create(b, l, b.getI64IntegerAttr(0));
    Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, index, zero);
    index = arith::SelectOp::create(
        b, l, neg,
        arith::AddIOp::create(b, l, index,
                              arith::ConstantOp::create(b, l, b.getI64IntegerAttr(depth))),
        index);
    Value pos = arith::IndexCastOp::create(b, l, i64, ivs[axis]);
    Value hit = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, index, pos);
    Value off = tensor::ExtractOp::create(b, l, a.getValues(), ValueRange{idx(b, l, 0)});
    Value on = tensor::ExtractOp::create(b, l, a.getValues(), ValueRange{idx(b, l, 1)});
    return arith::SelectOp::create(b, l, hit, on, off);
  }
};

struct ResizeLowering : IndexedPattern<graph::ResizeOp> {
  using IndexedPattern::IndexedPattern;

  /// Source coordinate (f64) of output position `iv` along dim `d`.
  static Value sourceCoordinate(graph::ResizeOp op, OpBuilder &b, Location l,
                                Value iv, int64_t d) {
    Type f64 = b.getF64Type();
    int64_t inLen = op.getInput().getType().getDimSize(d);
    double scale = op.getScales()[d];
    auto c = [&](double v) { return scalarConstant(b, l, f64, v); };
    Value x = arith::UIToFPOp::create(
        b, l, f64, arith::IndexCastOp::create(b, l, b.getI64Type(), iv));
    StringRef mode = op.getCoordinateTransformationMode();
    if (mode == "asymmetric")
      return arith::DivFOp::create(b, l, x, c(scale));
    // ONNX resizes to the unrounded length in * scale.
    double resized = inLen * scale;
    if (mode == "align_corners")
      return resized <= 1 ? c(0)
                          : (Value)arith::MulFOp::create(
                                b, l, x, c(double(inLen - 1) / (resized - 1)));
    Value shifted = arith::DivFOp::create(
        b, l, arith::AddFOp::create(b, l, x, c(0.5)), c(scale));
    if (mode == "tf_half_pixel_for_nn")
      return shifted;
    if (mode == "half_pixel_symmetric") {
      // Centred: offset = in / 2 * (1 - out_int / out).
      int64_t outLen = op.getOutput().getType().getDimSize(d);
      double offset = inLen / 2.0 * (1.0 - static_cast<double>(outLen) / resized);
      return arith::SubFOp::create(
          b, l, arith::AddFOp::create(b, l, shifted, c(offset)), c(0.5));
    }
    if (mode == "pytorch_half_pixel" && resized <= 1)
      return c(0);
    return arith::SubFOp::create(b, l, shifted, c(0.5));
  }

  static Value toIndex(OpBuilder &b, Location l, Value f, int64_t size) {
    return clampedIndex(b, l, arith::FPToSIOp::create(b, l, b.getI64Type(), f),
                        size, /*wrapNegative=*/false);
  }

  Value element(graph::ResizeOp op, Adaptor a, OpBuilder &b, Location l,
                ValueRange ivs) const override {
    auto inType = cast<RankedTensorType>(a.getInput().getType());
    int64_t rank = ivs.size();
    if (op.getMode() == "nearest") {
      SmallVector<Value> in;
      for (int64_t d = 0; d < rank; ++d) {
        if (inType.getDimSize(d) == op.getOutput().getType().getDimSize(d) &&
            op.getScales()[d] == 1.0) {
          in.push_back(ivs[d]);
          continue;
        }
        Value x = sourceCoordinate(op, b, l, ivs[d], d);
        StringRef nm = op.getNearestMode();
        Value r;
        if (nm == "floor")
          r = math::FloorOp::create(b, l, x);
        else if (nm == "ceil")
          r = math::CeilOp::create(b, l, x);
        else if (nm == "round_prefer_ceil")
          r = math::FloorOp::create(b, l, arith::AddFOp::create(
                                              b, l, x, scalarConstant(b, l, x.getType(), 0.5)));
        else
          r = math::CeilOp::create(b, l, arith::SubFOp::create(
                                             b, l, x, scalarConstant(b, l, x.getType(), 0.5)));
        in.push_back(toIndex(b, l, r, inType.getDimSize(d)));
      }
      return tensor::ExtractOp::create(b, l, a.getInput(), in);
    }
    // Multilinear (2 taps per resized dim) or multicubic (4): a weighted
    // sum over every combination of the resized dims' taps.
    Type t = inType.getElementType();
    bool cubic = op.getMode() == "cubic";
    unsigned width = cubic ? 4 : 2;
    SmallVector<int64_t> resized;
    SmallVector<SmallVector<Value, 4>> taps(rank), weights(rank);
    auto c = [&](double v) { return scalarConstant(b, l, b.getF64Type(), v); };
    auto add = [&](Value x, Value y) { return arith::AddFOp::create(b, l, x, y); };
    auto sub = [&](Value x, Value y) { return arith::SubFOp::create(b, l, x, y); };
    auto mul = [&](Value x, Value y) { return arith::MulFOp::create(b, l, x, y); };
    for (int64_t d = 0; d < rank; ++d) {
      if (inType.getDimSize(d) == op.getOutput().getType().getDimSize(d) &&
          op.getScales()[d] == 1.0)
        continue;
      resized.push_back(d);
      int64_t n = inType.getDimSize(d);
      Value x = sourceCoordinate(op, b, l, ivs[d], d);
      Value x0 = math::FloorOp::create(b, l, x);
      Value ratio = sub(x, x0);
      if (!cubic) {
        taps[d] = {toIndex(b, l, x0, n), toIndex(b, l, add(x0, c(1)), n)};
        weights[d] = {sub(c(1), ratio), ratio};
        continue;
      }
      // Keys' cubic convolution kernel with coefficient A at the distances
      // 1 + r, r, 1 - r, 2 - r of the taps x0 - 1 .. x0 + 2.
      double A = op.getCubicCoeffA().convertToDouble();
      auto far = [&](Value s) { // 1 < |s| < 2
        return sub(mul(add(mul(sub(mul(c(A), s), c(5 * A)), s), c(8 * A)), s),
                   c(4 * A));
      };
      auto near = [&](Value s) { // |s| <= 1
        return add(mul(mul(sub(mul(c(A + 2), s), c(A + 3)), s), s), c(1));
      };
      Value r1 = sub(c(1), ratio);
      weights[d] = {far(add(ratio, c(1))), near(ratio), near(r1),
                    far(add(r1, c(1)))};
      for (int k = 0; k < 4; ++k) {
        Value at = add(x0, c(k - 1));
        taps[d].push_back(toIndex(b, l, at, n));
        if (!op.getExcludeOutside())
          continue;
        // Outside the input: no weight (renormalized below).
        Value inside = arith::AndIOp::create(
            b, l,
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, at, c(0)),
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLE, at,
                                  c(n - 1)));
        weights[d][k] = arith::SelectOp::create(b, l, inside, weights[d][k], c(0));
      }
      if (op.getExcludeOutside()) {
        Value total = add(add(weights[d][0], weights[d][1]),
                          add(weights[d][2], weights[d][3]));
        for (Value &w : weights[d])
          w = arith::DivFOp::create(b, l, w, total);
      }
    }
    Value sum = scalarConstant(b, l, b.getF64Type(), 0);
    unsigned corners = 1;
    for (size_t i = 0; i < resized.size(); ++i)
      corners *= width;
    for (unsigned corner = 0; corner < corners; ++corner) {
      SmallVector<Value> in(ivs);
      Value w = scalarConstant(b, l, b.getF64Type(), 1);
      unsigned rest = corner;
      for (int64_t d : resized) {
        unsigned side = rest % width;
        rest /= width;
        in[d] = taps[d][side];
        w = arith::MulFOp::create(b, l, w, weights[d][side]);
      }
      Value v = tensor::ExtractOp::create(b, l, a.getInput(), in);
      Value vf = isa<FloatType>(t) ? (Value)arith::ExtFOp::create(b, l, b.getF64Type(), v)
                                   : (Value)arith::SIToFPOp::create(b, l, b.getF64Type(), v);
      if (t.isF64())
        vf = v;
      sum = arith::AddFOp::create(b, l, sum, arith::MulFOp::create(b, l, w, vf));
    }
    if (t.isF64())
      return sum;
    if (isa<FloatType>(t))
      return arith::TruncFOp::create(b, l, t, sum);
    return arith::FPToSIOp::create(b, l, t,
                                   math::RoundEvenOp::create(b, l, sum));
  }
};

struct ReshapeLowering : OpConversionPattern<graph::ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ReshapeOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, foldableReshapeTo(rewriter, op.getLoc(), a.getInput(),
                                     convertedType(*getTypeConverter(),
                                                   op.getType())));
    return success();
  }
};

struct TransposeLowering : OpConversionPattern<graph::TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::TransposeOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = convertedType(*getTypeConverter(), op.getType());
    auto t = linalg::TransposeOp::create(
        rewriter, op.getLoc(), a.getInput(),
        emptyTensor(rewriter, op.getLoc(), type), op.getPerm());
    rewriter.replaceOp(op, t->getResults());
    return success();
  }
};

struct ConcatLowering : OpConversionPattern<graph::ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ConcatOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = convertedType(*getTypeConverter(), op.getType());
    // One tensor.concat: it bufferizes to one buffer and a copy per input.
    // A chain of insert_slices (what it decomposes to) costs one-shot
    // bufferization's analysis time quadratic or worse in its length (200
    // inputs took 28 s, 400 never finished).
    SmallVector<Value> nonEmpty;
    for (Value input : a.getInputs())
      if (cast<RankedTensorType>(input.getType()).getNumElements() != 0)
        nonEmpty.push_back(input);
    if (nonEmpty.size() > 1) {
      rewriter.replaceOp(op, tensor::ConcatOp::create(rewriter, loc, type,
                                                      op.getAxis(), nonEmpty));
      return success();
    }
    Value result = emptyTensor(rewriter, loc, type);
    int64_t offset = 0, axis = op.getAxis();
    for (Value input : a.getInputs()) {
      auto inType = cast<RankedTensorType>(input.getType());
      SmallVector<OpFoldResult> offsets(type.getRank(), rewriter.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes, strides(type.getRank(),
                                               rewriter.getIndexAttr(1));
      for (int64_t s : inType.getShape())
        sizes.push_back(rewriter.getIndexAttr(s));
      offsets[axis] = rewriter.getIndexAttr(offset);
      offset += inType.getDimSize(axis);
      if (inType.getNumElements() == 0)
        continue;
      result = tensor::InsertSliceOp::create(rewriter, loc, input, result,
                                             offsets, sizes, strides);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Scatters: a loop nest over the updates, inserting into the data tensor.
template <typename OpTy>
struct ScatterLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using Adaptor = typename OpTy::Adaptor;

  /// Data index written by the update at `ivs`.
  virtual SmallVector<Value> target(OpTy op, Adaptor a, OpBuilder &b,
                                    Location l, ValueRange ivs) const = 0;

  LogicalResult
  matchAndRewrite(OpTy op, Adaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto updates = cast<RankedTensorType>(a.getUpdates().getType());
    SmallVector<Value> lbs, ubs, steps;
    for (int64_t s : updates.getShape()) {
      lbs.push_back(idx(rewriter, loc, 0));
      ubs.push_back(idx(rewriter, loc, s));
      steps.push_back(idx(rewriter, loc, 1));
    }
    StringRef reduction = op.getReduction();
    bool isFloat = isa<FloatType>(updates.getElementType());
    bool isUnsigned = graph::isUnsignedInteger(op.getData().getType());
    scf::LoopNest nest = scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps, ValueRange{a.getData()},
        [&](OpBuilder &b, Location l, ValueRange ivs,
            ValueRange iter) -> scf::ValueVector {
          Value u = tensor::ExtractOp::create(b, l, a.getUpdates(), ivs);
          SmallVector<Value> at = target(op, a, b, l, ivs);
          if (reduction != "none") {
            Value old = tensor::ExtractOp::create(b, l, iter[0], at);
            if (reduction == "add")
              u = isFloat ? (Value)arith::AddFOp::create(b, l, old, u)
                          : (Value)arith::AddIOp::create(b, l, old, u);
            else if (reduction == "mul")
              u = isFloat ? (Value)arith::MulFOp::create(b, l, old, u)
                          : (Value)arith::MulIOp::create(b, l, old, u);
            else if (reduction == "max")
              u = isFloat ? (Value)arith::MaximumFOp::create(b, l, old, u)
                  : isUnsigned ? (Value)arith::MaxUIOp::create(b, l, old, u)
                               : (Value)arith::MaxSIOp::create(b, l, old, u);
            else
              u = isFloat ? (Value)arith::MinimumFOp::create(b, l, old, u)
                  : isUnsigned ? (Value)arith::MinUIOp::create(b, l, old, u)
                               : (Value)arith::MinSIOp::create(b, l, old, u);
          }
          return {tensor::InsertOp::create(b, l, u, iter[0], at)};
        });
    rewriter.replaceOp(op, nest.results);
    return success();
  }
};

struct ScatterElementsLowering : ScatterLowering<graph::ScatterElementsOp> {
  using ScatterLowering::ScatterLowering;
  SmallVector<Value> target(graph::ScatterElementsOp op, Adaptor a,
                            OpBuilder &b, Location l,
                            ValueRange ivs) const override {
    auto dataType = cast<RankedTensorType>(a.getData().getType());
    int64_t axis = op.getAxis();
    SmallVector<Value> at(ivs);
    Value index = tensor::ExtractOp::create(b, l, a.getIndices(), ivs);
    at[axis] = checkedIndex(b, l, op, index, dataType.getDimSize(axis));
    return at;
  }
};

struct ScatterNDLowering : ScatterLowering<graph::ScatterNDOp> {
  using ScatterLowering::ScatterLowering;
  SmallVector<Value> target(graph::ScatterNDOp op, Adaptor a, OpBuilder &b,
                            Location l, ValueRange ivs) const override {
    auto dataType = cast<RankedTensorType>(a.getData().getType());
    auto indicesType = cast<RankedTensorType>(a.getIndices().getType());
    int64_t q = indicesType.getRank(), depth = indicesType.getShape().back();
    SmallVector<Value> at, tuple(ivs.take_front(q - 1));
    tuple.push_back(Value());
    for (int64_t t = 0; t < depth; ++t) {
      tuple.back() = idx(b, l, t);
      Value index = tensor::ExtractOp::create(b, l, a.getIndices(), tuple);
      at.push_back(checkedIndex(b, l, op, index, dataType.getDimSize(t)));
    }
    llvm::append_range(at, ivs.drop_front(q - 1));
    return at;
  }
};

/// TopK by selection: for each row along the axis, k rounds, round j
/// picking the first element in the output order after the one round j-1
/// picked. The order is total: values best first (NaN above every number,
/// as in PyTorch), then lower indices first, so the result is stable and
/// every round finds one. O(k * n) per row and no scratch memory: the loop
/// nest runs as it is on the CPU and as a sequential kernel on CUDA.
struct TopKLowering : OpConversionPattern<graph::TopKOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::TopKOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = cast<RankedTensorType>(a.getInput().getType());
    auto valuesType = convertedType(*getTypeConverter(), op.getValues().getType());
    auto indicesType = convertedType(*getTypeConverter(), op.getIndices().getType());
    Type t = inType.getElementType();
    bool isFloat = isa<FloatType>(t);
    bool isUnsigned = graph::isUnsignedInteger(op.getInput().getType());
    bool largest = op.getLargest();
    int64_t axis = op.getAxis(), n = inType.getDimSize(axis), k = op.getK();
    Type i64 = rewriter.getI64Type();

    SmallVector<Value> lbs, ubs, steps;
    for (int64_t d = 0; d < inType.getRank(); ++d) {
      if (d == axis)
        continue;
      lbs.push_back(idx(rewriter, loc, 0));
      ubs.push_back(idx(rewriter, loc, inType.getDimSize(d)));
      steps.push_back(idx(rewriter, loc, 1));
    }
    auto at = [&](ValueRange outer, Value position) {
      SmallVector<Value> index(outer.begin(), outer.end());
      index.insert(index.begin() + axis, position);
      return index;
    };
    // x above y in value order: NaN above every number.
    auto above = [&](OpBuilder &b, Location l, Value x, Value y) -> Value {
      if (!isFloat)
        return arith::CmpIOp::create(b, l,
                                     isUnsigned ? arith::CmpIPredicate::ugt
                                                : arith::CmpIPredicate::sgt,
                                     x, y);
      Value xNan = arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, x, x);
      Value yNumber =
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::ORD, y, y);
      return arith::OrIOp::create(
          b, l, arith::AndIOp::create(b, l, xNan, yNumber),
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, y));
    };
    // x level with y: equal, or both NaN.
    auto level = [&](OpBuilder &b, Location l, Value x, Value y) -> Value {
      if (!isFloat)
        return arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, x, y);
      Value bothNan = arith::AndIOp::create(
          b, l, arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, x, x),
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, y, y));
      return arith::OrIOp::create(
          b, l, bothNan,
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, x, y));
    };
    // (x, i) before (y, j) in the output order.
    auto before = [&](OpBuilder &b, Location l, Value x, Value i, Value y,
                      Value j) -> Value {
      Value better = largest ? above(b, l, x, y) : above(b, l, y, x);
      Value earlier =
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, j);
      return arith::OrIOp::create(
          b, l, better,
          arith::AndIOp::create(b, l, level(b, l, x, y), earlier));
    };
    auto i64Constant = [&](OpBuilder &b, Location l, int64_t v) -> Value {
      return arith::ConstantOp::create(b, l, b.getI64IntegerAttr(v));
    };
    scf::LoopNest rows = scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps,
        ValueRange{emptyTensor(rewriter, loc, valuesType),
                   emptyTensor(rewriter, loc, indicesType)},
        [&](OpBuilder &b, Location l, ValueRange outer,
            ValueRange results) -> scf::ValueVector {
          // State: the outputs, and the last pick (index -1 before the
          // first round).
          auto rounds = scf::ForOp::create(
              b, l, idx(b, l, 0), idx(b, l, k), idx(b, l, 1),
              ValueRange{results[0], results[1], scalarConstant(b, l, t, 0),
                         i64Constant(b, l, -1)},
              [&](OpBuilder &rb, Location rl, Value j, ValueRange state) {
                Value last = state[2], lastIndex = state[3];
                Value first = arith::CmpIOp::create(
                    rb, rl, arith::CmpIPredicate::slt, lastIndex,
                    i64Constant(rb, rl, 0));
                auto scan = scf::ForOp::create(
                    rb, rl, idx(rb, rl, 0), idx(rb, rl, n), idx(rb, rl, 1),
                    ValueRange{scalarConstant(rb, rl, t, 0),
                               i64Constant(rb, rl, -1)},
                    [&](OpBuilder &sb, Location sl, Value i, ValueRange best) {
                      Value x = tensor::ExtractOp::create(sb, sl, a.getInput(),
                                                          at(outer, i));
                      Value iv = arith::IndexCastOp::create(sb, sl, i64, i);
                      // A candidate comes after the last pick; it wins if
                      // there is no best yet or it comes before the best.
                      Value after = arith::OrIOp::create(
                          sb, sl, first,
                          before(sb, sl, last, lastIndex, x, iv));
                      Value none = arith::CmpIOp::create(
                          sb, sl, arith::CmpIPredicate::slt, best[1],
                          i64Constant(sb, sl, 0));
                      Value wins = arith::OrIOp::create(
                          sb, sl, none, before(sb, sl, x, iv, best[0], best[1]));
                      Value take = arith::AndIOp::create(sb, sl, after, wins);
                      scf::YieldOp::create(
                          sb, sl,
                          ValueRange{arith::SelectOp::create(sb, sl, take, x, best[0]),
                                     arith::SelectOp::create(sb, sl, take, iv,
                                                             best[1])});
                    });
                Value bestValue = scan.getResult(0), bestIndex = scan.getResult(1);
                Value values = tensor::InsertOp::create(rb, rl, bestValue, state[0],
                                                        at(outer, j));
                Value indices = tensor::InsertOp::create(rb, rl, bestIndex,
                                                         state[1], at(outer, j));
                scf::YieldOp::create(
                    rb, rl, ValueRange{values, indices, bestValue, bestIndex});
              });
          return {rounds.getResult(0), rounds.getResult(1)};
        });
    rewriter.replaceOp(op, rows.results);
    return success();
  }
};

/// shape and size normally fold away; lower any left to constants.
template <typename OpTy>
struct ShapeQueryLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto value = dyn_cast_or_null<DenseElementsAttr>(
        op.fold(typename OpTy::FoldAdaptor({}, op)).template dyn_cast<Attribute>());
    if (!value)
      return rewriter.notifyMatchFailure(op, "does not fold");
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, value);
    return success();
  }
};
} // namespace

void mlir::llmc::populateDataMovementToLinalgPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<SliceLowering, TileLowering, PadLowering, TriluLowering,
               GatherLowering, GatherElementsLowering, GatherNDLowering,
               OneHotLowering, ResizeLowering, ReshapeLowering,
               TransposeLowering, ConcatLowering, ScatterElementsLowering,
               ScatterNDLowering, TopKLowering, ShapeQueryLowering<graph::ShapeOp>,
               ShapeQueryLowering<graph::SizeOp>>(converter,
                                                  patterns.getContext());
}
