//===- OnnxSignalOps.cpp - DFT, STFT, Col2Im, MaxUnpool, Det... -----------===//
//
// Ops of signal and image processing and of linear algebra, written with
// graph ops the compiler already has (so fusion, the CPU and CUDA take them
// as they are):
//
//  * DFT (opsets 17 and 20): along its axis, the signal (zero padded or cut
//    to dft_length) times the cos and sin matrices of the transform, made
//    at compile time in double precision: y_r = x_r C + x_i S and
//    y_i = x_i C - x_r S (the inverse: the conjugate, divided by n). A
//    GEMM per part: O(n^2) per signal, exact to rounding; `onesided` keeps
//    the n / 2 + 1 first bins. Complex values are ONNX's trailing dim of 2.
//  * STFT (opset 17): the frames gathered by a constant index table, times
//    the window, then the DFT of each frame.
//  * Col2Im (opset 18): a transposed convolution, one group per channel,
//    whose kernel is one-hot: block element k of channel c lands where its
//    tap reads (strides, dilations and pads as the op's).
//  * ReverseSequence (opset 10): a GatherElements along the time axis with
//    indices computed from sequence_lens at run time (lens - 1 - t below
//    the length, t above).
//  * MaxUnpool (opsets 9-22): a ScatterElements of the values into zeros at
//    their flat indices (MaxPool's Indices), reshaped to the inferred
//    output and zero padded at the end to a larger output_shape.
//  * Det (opsets 11-22): LU factorization with partial pivoting, unrolled
//    over the static matrix size: per column the pivot (the largest
//    magnitude at or below the diagonal, ArgMax), a row swap (GatherElements
//    with computed indices; each swap flips the sign), the pivot into the
//    product, and the rows below eliminated. A zero pivot makes the
//    determinant 0 (it divides by 1 instead, so nothing becomes NaN).
//
//===----------------------------------------------------------------------===//

#include "OnnxBody.h"

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

namespace {
using Results = FailureOr<SmallVector<Value>>;

RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

Value reshape(NodeContext &c, Value x, ArrayRef<int64_t> shape) {
  auto t = typeOf(x);
  if (t.getShape() == shape)
    return x;
  return g::ReshapeOp::create(c.b, c.loc, t.clone(shape), x);
}

Value slice(NodeContext &c, Value x, int64_t axis, int64_t start,
            int64_t size) {
  auto t = typeOf(x);
  SmallVector<int64_t> starts(t.getRank(), 0), sizes(t.getShape()),
      steps(t.getRank(), 1);
  starts[axis] = start;
  sizes[axis] = size;
  return g::SliceOp::create(c.b, c.loc, x, c.b.getDenseI64ArrayAttr(starts),
                            c.b.getDenseI64ArrayAttr(sizes),
                            c.b.getDenseI64ArrayAttr(steps));
}

Value transpose(NodeContext &c, Value x, ArrayRef<int64_t> perm) {
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return x;
  return g::TransposeOp::create(c.b, c.loc, x, c.b.getDenseI64ArrayAttr(perm));
}

/// A constant [rows, cols] matrix of element type `et`, from doubles.
Value matrix(NodeContext &c, Type et, int64_t rows, int64_t cols,
             ArrayRef<double> values) {
  auto type = RankedTensorType::get({rows, cols}, et);
  auto ft = cast<FloatType>(et);
  SmallVector<APFloat> data;
  for (double v : values) {
    APFloat f(v);
    bool lost;
    f.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
    data.push_back(f);
  }
  return g::ConstantOp::create(c.b, c.loc, type,
                               DenseElementsAttr::get(type, data));
}

/// The DFT of `x` ([..., n at axis, ..., 1 or 2]) along `axis`, of length
/// `length` (x zero padded or cut to it): [..., bins, ..., 2].
FailureOr<Value> dft(NodeContext &c, Value x, int64_t axis, int64_t length,
                     bool inverse, bool onesided) {
  auto xt = typeOf(x);
  int64_t rank = xt.getRank();
  auto et = dyn_cast<FloatType>(xt.getElementType());
  if (!et || rank < 2 || (xt.getDimSize(rank - 1) != 1 &&
                          xt.getDimSize(rank - 1) != 2)) {
    c.emitError("the signal must be float [..., n, 1 or 2], got ") << xt;
    return failure();
  }
  if (axis < 0 || axis >= rank - 1) {
    c.emitError("axis ") << axis << " is not a signal dim of " << xt;
    return failure();
  }
  if (length < 1) {
    c.emitError("dft_length must be positive, got ") << length;
    return failure();
  }
  bool complex = xt.getDimSize(rank - 1) == 2;
  if (onesided && inverse) {
    c.emitError("onesided inverse DFT is not supported");
    return failure();
  }
  int64_t bins = onesided ? length / 2 + 1 : length;
  // The parts, [..., n, ...] each, with the signal dim moved last.
  SmallVector<int64_t> partShape(xt.getShape().drop_back());
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < rank - 1; ++d)
    if (d != axis)
      perm.push_back(d);
  perm.push_back(axis);
  auto part = [&](int64_t which) {
    Value p = reshape(c, slice(c, x, rank - 1, which, 1), partShape);
    p = transpose(c, p, perm);
    // Zero padded or cut to the transform's length.
    int64_t n = partShape[axis], last = rank - 2;
    if (n > length)
      p = slice(c, p, last, 0, length);
    if (n < length) {
      SmallVector<int64_t> pads(2 * (rank - 1), 0);
      pads[last + rank - 1] = length - n;
      p = g::PadOp::create(c.b, c.loc, p, c.b.getDenseI64ArrayAttr(pads),
                           c.b.getStringAttr("constant"),
                           c.b.getF64FloatAttr(0.0));
    }
    // At least [1, n]: the products are GEMMs.
    if (rank - 1 == 1)
      p = reshape(c, p, {1, length});
    return p;
  };
  Value re = part(0), im = complex ? part(1) : Value();
  // cos and sin of 2 pi j k / n (j: sample, k: bin), the inverse's divided
  // by n; angles reduced mod n first, so large n keeps its accuracy.
  SmallVector<double> cosines, sines;
  double scale = inverse ? 1.0 / static_cast<double>(length) : 1.0;
  for (int64_t j = 0; j < length; ++j)
    for (int64_t k = 0; k < bins; ++k) {
      double angle = 2 * M_PI * static_cast<double>((j * k) % length) /
                     static_cast<double>(length);
      cosines.push_back(std::cos(angle) * scale);
      sines.push_back(std::sin(angle) * scale);
    }
  Value cosM = matrix(c, et, length, bins, cosines);
  Value sinM = matrix(c, et, length, bins, sines);
  auto mm = [&](Value a, Value m) {
    return g::MatMulOp::create(c.b, c.loc, a, m).getResult();
  };
  // forward: e^{-i theta}; inverse: e^{+i theta}.
  Value yr = mm(re, cosM), yi;
  Value rs = mm(re, sinM);
  if (im) {
    Value ic = mm(im, cosM), is = mm(im, sinM);
    yr = inverse ? g::SubOp::create(c.b, c.loc, yr, is).getResult()
                 : g::AddOp::create(c.b, c.loc, yr, is).getResult();
    yi = inverse ? g::AddOp::create(c.b, c.loc, ic, rs).getResult()
                 : g::SubOp::create(c.b, c.loc, ic, rs).getResult();
  } else {
    yi = inverse ? rs : g::NegOp::create(c.b, c.loc, rs.getType(), rs).getResult();
  }
  // Back to [..., bins, ...] in the signal dim's place, then [..., 2].
  SmallVector<int64_t> moved;
  for (int64_t p : perm)
    moved.push_back(p == axis ? bins : partShape[p]);
  SmallVector<int64_t> inversePerm(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inversePerm[p] = static_cast<int64_t>(i);
  SmallVector<int64_t> outShape(partShape);
  outShape[axis] = bins;
  SmallVector<int64_t> withPart(outShape);
  withPart.push_back(1);
  auto back = [&](Value v) {
    v = reshape(c, v, moved);
    v = transpose(c, v, inversePerm);
    return reshape(c, v, withPart);
  };
  return g::ConcatOp::create(c.b, c.loc, ValueRange{back(yr), back(yi)},
                             c.b.getI64IntegerAttr(rank - 1))
      .getResult();
}

/// A scalar integer input known at compile time.
FailureOr<int64_t> scalarInput(NodeContext &c, unsigned i, StringRef what) {
  FailureOr<SmallVector<int64_t>> v = c.constantInts(i, what);
  if (failed(v))
    return failure();
  if (v->size() != 1) {
    c.emitError(what) << " must hold one value, got " << v->size();
    return failure();
  }
  return v->front();
}

Results importDft(NodeContext &c) {
  auto xt = c.inputType(0);
  int64_t rank = xt.getRank();
  int64_t axis = c.opset >= 20 ? -2 : c.getInt("axis", 1);
  if (c.opset >= 20 && c.hasInput(2)) {
    FailureOr<int64_t> a = scalarInput(c, 2, "DFT axis");
    if (failed(a))
      return failure();
    axis = *a;
  }
  FailureOr<int64_t> normalized = c.normalizeAxis(axis, rank);
  if (failed(normalized))
    return failure();
  int64_t length = *normalized < rank ? xt.getDimSize(*normalized) : 0;
  if (c.hasInput(1)) {
    FailureOr<int64_t> l = scalarInput(c, 1, "dft_length");
    if (failed(l))
      return failure();
    length = *l;
  }
  bool inverse = c.getInt("inverse", 0) != 0,
       onesided = c.getInt("onesided", 0) != 0;
  FailureOr<Value> y =
      dft(c, c.input(0), *normalized, length, inverse, onesided);
  if (failed(y))
    return failure();
  return single(*y);
}

Results importStft(NodeContext &c) {
  auto xt = c.inputType(0);
  if (xt.getRank() != 3) {
    c.emitError("the signal must be [batch, length, 1 or 2], got ") << xt;
    return failure();
  }
  FailureOr<int64_t> step = scalarInput(c, 1, "frame_step");
  if (failed(step))
    return failure();
  int64_t frameLength = -1;
  if (c.hasInput(2)) {
    auto wt = c.inputType(2);
    if (wt.getRank() != 1) {
      c.emitError("window must be 1-D, got ") << wt;
      return failure();
    }
    frameLength = wt.getDimSize(0);
  }
  if (c.hasInput(3)) {
    FailureOr<int64_t> l = scalarInput(c, 3, "frame_length");
    if (failed(l))
      return failure();
    if (frameLength >= 0 && *l != frameLength) {
      c.emitError("frame_length ") << *l << " differs from the window's "
                                   << frameLength;
      return failure();
    }
    frameLength = *l;
  }
  int64_t length = xt.getDimSize(1);
  if (frameLength < 1 || frameLength > length || *step < 1) {
    c.emitError("frames of ") << frameLength << " every " << *step
                              << " do not fit a signal of " << length
                              << " (a window or frame_length is needed)";
    return failure();
  }
  int64_t frames = (length - frameLength) / *step + 1;
  SmallVector<int64_t> index;
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t j = 0; j < frameLength; ++j)
      index.push_back(f * *step + j);
  auto indexType = RankedTensorType::get({frames, frameLength},
                                         c.b.getI64Type());
  Value indices = g::ConstantOp::create(
      c.b, c.loc, indexType,
      DenseElementsAttr::get(indexType, ArrayRef<int64_t>(index)));
  // [batch, frames, frameLength, 1 or 2]
  Value framed =
      g::GatherOp::create(c.b, c.loc, c.input(0), indices, c.b.getI64IntegerAttr(1));
  if (c.hasInput(2)) {
    Value window = reshape(c, c.input(2), {1, 1, frameLength, 1});
    framed = g::MulOp::create(c.b, c.loc, framed, window);
  }
  FailureOr<Value> y = dft(c, framed, 2, frameLength, false,
                           c.getInt("onesided", 1) != 0);
  if (failed(y))
    return failure();
  return single(*y);
}

Results importCol2Im(NodeContext &c) {
  auto xt = c.inputType(0);
  FailureOr<SmallVector<int64_t>> image = c.constantInts(1, "image_shape");
  FailureOr<SmallVector<int64_t>> block = c.constantInts(2, "block_shape");
  if (failed(image) || failed(block))
    return failure();
  int64_t n = static_cast<int64_t>(image->size());
  if (n < 1 || static_cast<int64_t>(block->size()) != n || xt.getRank() != 3) {
    c.emitError("input must be [N, C * prod(block), L] with image_shape and "
                "block_shape of one size each per spatial dim, got ")
        << xt;
    return failure();
  }
  SmallVector<int64_t> dilations = c.getInts("dilations", SmallVector<int64_t>(n, 1));
  SmallVector<int64_t> strides = c.getInts("strides", SmallVector<int64_t>(n, 1));
  SmallVector<int64_t> pads = c.getInts("pads", SmallVector<int64_t>(2 * n, 0));
  if (static_cast<int64_t>(dilations.size()) != n ||
      static_cast<int64_t>(strides.size()) != n ||
      static_cast<int64_t>(pads.size()) != 2 * n) {
    c.emitError("dilations, strides and pads must have one value per spatial "
                "dim (pads two)");
    return failure();
  }
  int64_t blockSize = 1;
  SmallVector<int64_t> blocks; // per dim, the number of blocks
  int64_t count = 1;
  for (int64_t d = 0; d < n; ++d) {
    int64_t extent = dilations[d] * ((*block)[d] - 1) + 1;
    int64_t padded = (*image)[d] + pads[d] + pads[d + n];
    if ((*block)[d] < 1 || strides[d] < 1 || dilations[d] < 1 ||
        padded < extent) {
      c.emitError("the block does not fit the padded image in dim ") << d;
      return failure();
    }
    blockSize *= (*block)[d];
    blocks.push_back((padded - extent) / strides[d] + 1);
    count *= blocks.back();
  }
  int64_t rows = xt.getDimSize(1);
  if (rows % blockSize || xt.getDimSize(2) != count) {
    c.emitError("input ") << xt << " must be [N, C * " << blockSize << ", "
                          << count << "]";
    return failure();
  }
  int64_t channels = rows / blockSize;
  auto et = dyn_cast<FloatType>(xt.getElementType());
  if (!et) {
    c.emitError("Col2Im needs a float input, got ") << xt;
    return failure();
  }
  // [N, C * K, blocks...] into a transposed convolution whose kernel
  // [C * K, 1, block...] puts tap k of channel c at k.
  SmallVector<int64_t> grid{xt.getDimSize(0), rows};
  llvm::append_range(grid, blocks);
  Value x = reshape(c, c.input(0), grid);
  SmallVector<int64_t> kernelShape{rows, 1};
  llvm::append_range(kernelShape, *block);
  auto kernelType = RankedTensorType::get(kernelShape, et);
  SmallVector<APFloat> kernel;
  APFloat zero = APFloat::getZero(et.getFloatSemantics()),
          one = APFloat::getOne(et.getFloatSemantics());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < blockSize; ++k)
      kernel.push_back(r % blockSize == k ? one : zero);
  Value weights = g::ConstantOp::create(
      c.b, c.loc, kernelType, DenseElementsAttr::get(kernelType, kernel));
  SmallVector<int64_t> outShape{xt.getDimSize(0), channels};
  llvm::append_range(outShape, *image);
  return single(g::ConvTransposeOp::create(
      c.b, c.loc, RankedTensorType::get(outShape, et), x, weights, Value(),
      c.b.getDenseI64ArrayAttr(strides), c.b.getDenseI64ArrayAttr(pads),
      c.b.getDenseI64ArrayAttr(dilations), c.b.getI64IntegerAttr(channels)));
}

Results importReverseSequence(NodeContext &c) {
  auto xt = c.inputType(0), lt = c.inputType(1);
  int64_t rank = xt.getRank();
  FailureOr<int64_t> batchAxis = c.normalizeAxis(c.getInt("batch_axis", 1), rank);
  FailureOr<int64_t> timeAxis = c.normalizeAxis(c.getInt("time_axis", 0), rank);
  if (failed(batchAxis) || failed(timeAxis))
    return failure();
  if (rank < 2 || *batchAxis == *timeAxis || *batchAxis > 1 || *timeAxis > 1 ||
      lt.getRank() != 1 || lt.getDimSize(0) != xt.getDimSize(*batchAxis) ||
      !lt.getElementType().isInteger(64)) {
    c.emitError("input must be rank >= 2 with batch and time as dims 0 and "
                "1, and sequence_lens int64 [batch], got ")
        << xt << " and " << lt;
    return failure();
  }
  int64_t time = xt.getDimSize(*timeAxis), batch = xt.getDimSize(*batchAxis);
  // [time] and [batch] along their dims, the rest 1.
  SmallVector<int64_t> tShape(rank, 1), bShape(rank, 1);
  tShape[*timeAxis] = time;
  bShape[*batchAxis] = batch;
  SmallVector<int64_t> steps(time);
  std::iota(steps.begin(), steps.end(), 0);
  auto stepsType = RankedTensorType::get(tShape, c.b.getI64Type());
  Value t = g::ConstantOp::create(
      c.b, c.loc, stepsType,
      DenseElementsAttr::get(stepsType, ArrayRef<int64_t>(steps)));
  Value lens = reshape(c, c.input(1), bShape);
  Value one = c.scalarConstant(c.b.getI64Type(), 1);
  Value below = g::LessOp::create(c.b, c.loc, t, lens);
  Value last = g::SubOp::create(c.b, c.loc, lens, one);
  Value reversed = g::SubOp::create(c.b, c.loc, last, t);
  Value index = g::WhereOp::create(c.b, c.loc, below, reversed, t);
  Value full = g::BroadcastToOp::create(
      c.b, c.loc, RankedTensorType::get(xt.getShape(), c.b.getI64Type()), index);
  return single(g::GatherElementsOp::create(c.b, c.loc, xt, c.input(0), full,
                                            c.b.getI64IntegerAttr(*timeAxis)));
}
Results importMaxUnpool(NodeContext &c) {
  auto xt = c.inputType(0), it = c.inputType(1);
  int64_t rank = xt.getRank(), n = rank - 2;
  if (rank < 3 || it.getShape() != xt.getShape() ||
      !it.getElementType().isInteger(64)) {
    c.emitError("X must be N x C x spatial... and I int64 of X's shape, got ")
        << xt << " and " << it;
    return failure();
  }
  SmallVector<int64_t> kernel = c.getInts("kernel_shape");
  SmallVector<int64_t> strides = c.getInts("strides", SmallVector<int64_t>(n, 1));
  SmallVector<int64_t> pads = c.getInts("pads", SmallVector<int64_t>(2 * n, 0));
  if (static_cast<int64_t>(kernel.size()) != n ||
      static_cast<int64_t>(strides.size()) != n ||
      static_cast<int64_t>(pads.size()) != 2 * n) {
    c.emitError("kernel_shape, strides and pads must have one value per "
                "spatial dim (pads two)");
    return failure();
  }
  // The indices are into the inferred output; a larger output_shape pads
  // it with zeros at the end of each dim (the reference's).
  SmallVector<int64_t> outShape{xt.getDimSize(0), xt.getDimSize(1)};
  for (int64_t d = 0; d < n; ++d)
    outShape.push_back((xt.getDimSize(d + 2) - 1) * strides[d] + kernel[d] -
                       pads[d] - pads[d + n]);
  SmallVector<int64_t> given(outShape);
  if (c.hasInput(2)) {
    FailureOr<SmallVector<int64_t>> shape = c.constantInts(2, "output_shape");
    if (failed(shape))
      return failure();
    if (static_cast<int64_t>(shape->size()) != rank) {
      c.emitError("output_shape must have ") << rank << " values";
      return failure();
    }
    given = *shape;
  }
  int64_t total = 1;
  for (auto [d, size] : llvm::enumerate(outShape)) {
    if (size < 1 || given[d] < size) {
      c.emitError("output_shape ")
          << ints(given) << " must hold the unpooled " << ints(outShape);
      return failure();
    }
    total *= size;
  }
  int64_t count = xt.getNumElements();
  auto zerosType = RankedTensorType::get({total}, xt.getElementType());
  Value zeros = g::ConstantOp::create(
      c.b, c.loc, zerosType,
      DenseElementsAttr::get(zerosType,
                             c.b.getZeroAttr(xt.getElementType())));
  Value flat = g::ScatterElementsOp::create(
      c.b, c.loc, zerosType, zeros, reshape(c, c.input(1), {count}),
      reshape(c, c.input(0), {count}), c.b.getI64IntegerAttr(0),
      c.b.getStringAttr("none"));
  Value y = reshape(c, flat, outShape);
  if (given == outShape)
    return single(y);
  SmallVector<int64_t> padding(2 * rank, 0);
  for (int64_t d = 0; d < rank; ++d)
    padding[d + rank] = given[d] - outShape[d];
  return single(g::PadOp::create(c.b, c.loc, y,
                                 c.b.getDenseI64ArrayAttr(padding),
                                 c.b.getStringAttr("constant"),
                                 c.b.getF64FloatAttr(0.0)));
}

Results importDet(NodeContext &c) {
  auto xt = c.inputType(0);
  int64_t rank = xt.getRank();
  auto et = dyn_cast<FloatType>(xt.getElementType());
  if (!et || rank < 2 || xt.getDimSize(rank - 1) != xt.getDimSize(rank - 2)) {
    c.emitError("Det needs float [..., M, M], got ") << xt;
    return failure();
  }
  int64_t n = xt.getDimSize(rank - 1);
  if (n > 64) {
    c.emitError("Det of ") << n << " x " << n
                           << " matrices is not supported (at most 64 x 64)";
    return failure();
  }
  SmallVector<int64_t> batch(xt.getShape().drop_back(2));
  SmallVector<int64_t> one(batch);
  one.append({1, 1});
  auto rowType = RankedTensorType::get({n, 1}, c.b.getI64Type());
  SmallVector<int64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  Value rowIdx = g::ConstantOp::create(
      c.b, c.loc, rowType,
      DenseElementsAttr::get(rowType, ArrayRef<int64_t>(rows)));
  auto f = [&](double v) { return c.scalarConstant(et, v); };
  auto i64 = [&](int64_t v) { return c.scalarConstant(c.b.getI64Type(), v); };
  auto where = [&](Value cond, Value x, Value y) {
    return g::WhereOp::create(c.b, c.loc, cond, x, y).getResult();
  };
  Value a = c.input(0);
  Value det = g::BroadcastToOp::create(c.b, c.loc, RankedTensorType::get(one, et),
                                       f(1.0));
  Value sign = det;
  for (int64_t k = 0; k < n; ++k) {
    Value col = slice(c, a, rank - 1, k, 1); // [..., n, 1]
    Value magnitude = g::AbsOp::create(c.b, c.loc, col.getType(), col);
    Value candidate = g::GreaterEqualOp::create(c.b, c.loc, rowIdx, i64(k));
    Value masked = where(candidate, magnitude, f(-1.0));
    Value p = g::ArgReduceOp::create(
        c.b, c.loc, masked, c.b.getStringAttr("max"),
        c.b.getI64IntegerAttr(rank - 2), c.b.getBoolAttr(true),
        c.b.getBoolAttr(false)); // [..., 1, 1]
    // Rows k and p swap places.
    Value isK = g::EqualOp::create(c.b, c.loc, rowIdx, i64(k));
    Value isP = g::EqualOp::create(c.b, c.loc, rowIdx, p);
    Value idx = where(isK, p, where(isP, i64(k), rowIdx)); // [..., n, 1]
    Value full = g::BroadcastToOp::create(
        c.b, c.loc, RankedTensorType::get(xt.getShape(), c.b.getI64Type()),
        idx);
    a = g::GatherElementsOp::create(c.b, c.loc, xt, a, full,
                                    c.b.getI64IntegerAttr(rank - 2));
    Value moved = g::NotOp::create(
        c.b, c.loc, g::EqualOp::create(c.b, c.loc, p, i64(k)));
    sign = where(moved, g::NegOp::create(c.b, c.loc, sign.getType(), sign),
                 sign);
    Value pivot = slice(c, slice(c, a, rank - 2, k, 1), rank - 1, k, 1);
    det = g::MulOp::create(c.b, c.loc, det, pivot);
    if (k + 1 == n)
      break;
    Value zero = g::EqualOp::create(c.b, c.loc, pivot, f(0.0));
    Value safe = where(zero, f(1.0), pivot);
    Value colK = slice(c, a, rank - 1, k, 1);
    Value below = g::GreaterOp::create(c.b, c.loc, rowIdx, i64(k));
    Value factors =
        where(below, g::DivOp::create(c.b, c.loc, colK, safe), f(0.0));
    Value rowK = slice(c, a, rank - 2, k, 1); // [..., 1, n]
    a = g::SubOp::create(c.b, c.loc, a,
                         g::MulOp::create(c.b, c.loc, factors, rowK));
  }
  Value result = g::MulOp::create(c.b, c.loc, det, sign);
  return single(reshape(c, result, batch));
}
} // namespace

void mlir::llmc::onnximport::registerSignalOps(OpImporterRegistry &r) {
  r.add("MaxUnpool", 9, OpImporterRegistry::kMaxOpset, importMaxUnpool);
  r.add("Det", 11, OpImporterRegistry::kMaxOpset, importDet);
  r.add("DFT", 17, OpImporterRegistry::kMaxOpset, importDft);
  r.add("STFT", 17, OpImporterRegistry::kMaxOpset, importStft);
  r.add("Col2Im", 18, OpImporterRegistry::kMaxOpset, importCol2Im);
  r.add("ReverseSequence", 10, OpImporterRegistry::kMaxOpset,
        importReverseSequence);
}
