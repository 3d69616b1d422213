//===- OnnxNNOps.cpp - Importers of ONNX neural-network ops ---------------===//
//
// Convolutions, pooling, normalizations, softmax-like ops, MatMul, Gemm,
// Dropout and Einsum. Window ops resolve ONNX's auto_pad, ceil_mode and
// output_shape here into the explicit pads and exact result shapes that the
// graph ops verify.
//
//===----------------------------------------------------------------------===//

#include "OnnxBody.h"
#include "OnnxImportContext.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

namespace {
using Results = FailureOr<SmallVector<Value>>;

/// Checks that the listed inputs that are present share input 0's element
/// type: the graph ops do not convert.
LogicalResult checkElementTypes(NodeContext &c, ArrayRef<unsigned> inputs) {
  Type expected = c.inputType(0).getElementType();
  for (unsigned i : inputs)
    if (c.hasInput(i) && c.inputType(i).getElementType() != expected)
      return c.emitError("input ")
             << i << " has element type " << c.inputType(i).getElementType()
             << " but input 0 has " << expected;
  return success();
}

//===----------------------------------------------------------------------===//
// Windows: Conv, ConvTranspose, pools
//===----------------------------------------------------------------------===//

/// Window attributes, one value per spatial dim; `pads` holds the begin pads
/// then the end pads.
struct Window {
  std::string autoPad;
  SmallVector<int64_t> kernel, strides, dilations, pads;

  int64_t rank() const { return kernel.size(); }
  bool same() const {
    return autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER";
  }
  /// Input positions one window spans.
  int64_t extent(int64_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
  /// Splits `total` padding of dim `i` as ONNX does: the odd one goes to the
  /// end for SAME_UPPER and to the beginning otherwise.
  void splitPad(int64_t i, int64_t total) {
    pads[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    pads[i + rank()] = total - pads[i];
  }
};

/// Reads the window attributes for `spatial` dims. The kernel defaults to
/// the weight's spatial dims `weightKernel` (empty for pools, whose
/// kernel_shape is required) and must match them.
FailureOr<Window> readWindow(NodeContext &c, int64_t spatial,
                             ArrayRef<int64_t> weightKernel) {
  Window w;
  w.autoPad = c.getString("auto_pad", "NOTSET");
  if (w.autoPad.empty())
    w.autoPad = "NOTSET";
  if (w.autoPad != "NOTSET" && w.autoPad != "VALID" && !w.same()) {
    c.emitError("unknown auto_pad '") << w.autoPad << "'";
    return failure();
  }
  SmallVector<int64_t> ones(spatial, 1), zeros(2 * spatial, 0);
  w.kernel = c.getInts("kernel_shape", weightKernel);
  w.strides = c.getInts("strides", ones);
  w.dilations = c.getInts("dilations", ones);
  w.pads = c.getInts("pads", zeros);
  auto check = [&](StringRef name, ArrayRef<int64_t> v, int64_t n,
                   int64_t min) {
    if (static_cast<int64_t>(v.size()) == n &&
        llvm::all_of(v, [&](int64_t x) { return x >= min; }))
      return true;
    c.emitError(name) << " must have " << n << " values >= " << min;
    return false;
  };
  if (!check("kernel_shape", w.kernel, spatial, 1) ||
      !check("strides", w.strides, spatial, 1) ||
      !check("dilations", w.dilations, spatial, 1) ||
      !check("pads", w.pads, 2 * spatial, 0))
    return failure();
  if (!weightKernel.empty() && ArrayRef<int64_t>(w.kernel) != weightKernel) {
    c.emitError("kernel_shape does not match the weight's spatial dims");
    return failure();
  }
  return w;
}

/// Replaces the pads by those auto_pad asks for on input spatial sizes `in`
/// of a forward window op (Conv or pool).
void resolveAutoPad(Window &w, ArrayRef<int64_t> in) {
  for (int64_t i = 0; i < w.rank(); ++i) {
    if (w.autoPad == "VALID") {
      w.splitPad(i, 0);
    } else if (w.same()) {
      // Enough padding for ceil(in / stride) outputs.
      int64_t s = w.strides[i], out = (in[i] + s - 1) / s;
      w.splitPad(i, std::max<int64_t>(0, (out - 1) * s + w.extent(i) - in[i]));
    }
  }
}

/// Output spatial sizes of a forward window op on input spatial sizes `in`.
/// With ceil mode, adds to the end pads the extra padding the last window
/// overhangs by, so that the ops' floor formula gives the ceil-mode size.
FailureOr<SmallVector<int64_t>>
forwardSizes(NodeContext &c, ArrayRef<int64_t> in, Window &w, bool ceilMode) {
  // ONNX ignores ceil_mode under SAME padding, sized for ceil(in / stride).
  bool ceil = ceilMode && !w.same();
  SmallVector<int64_t> sizes;
  for (int64_t i = 0, n = w.rank(); i < n; ++i) {
    int64_t s = w.strides[i], window = w.extent(i);
    int64_t padded = in[i] + w.pads[i] + w.pads[i + n];
    if (padded < window) {
      c.emitError("spatial dim ")
          << i << ": the window spans " << window
          << " but the padded input has only " << padded;
      return failure();
    }
    int64_t size = (padded - window + (ceil ? s - 1 : 0)) / s + 1;
    // A last window that would start in the end padding is dropped.
    if (ceil && (size - 1) * s >= in[i] + w.pads[i])
      --size;
    w.pads[i + n] += std::max<int64_t>(0, (size - 1) * s + window - padded);
    sizes.push_back(size);
  }
  return sizes;
}

/// Output spatial sizes of ConvTranspose; resolves output_shape and auto_pad
/// into pads removed from the full output (output_padding included).
FailureOr<SmallVector<int64_t>>
transposedSizes(NodeContext &c, ArrayRef<int64_t> in, Window &w) {
  int64_t n = w.rank();
  SmallVector<int64_t> outPad =
      c.getInts("output_padding", SmallVector<int64_t>(n, 0));
  SmallVector<int64_t> outShape = c.getInts("output_shape");
  // Some exporters give N and C too.
  if (static_cast<int64_t>(outShape.size()) == n + 2)
    outShape.erase(outShape.begin(), outShape.begin() + 2);
  if (static_cast<int64_t>(outPad.size()) != n ||
      llvm::any_of(outPad, [](int64_t p) { return p < 0; }) ||
      (!outShape.empty() && static_cast<int64_t>(outShape.size()) != n)) {
    c.emitError("output_padding and output_shape must have ")
        << n << " non-negative values";
    return failure();
  }
  SmallVector<int64_t> sizes;
  for (int64_t i = 0; i < n; ++i) {
    int64_t full = w.strides[i] * (in[i] - 1) + outPad[i] + w.extent(i);
    int64_t target = !outShape.empty() ? outShape[i]
                     : w.same()        ? in[i] * w.strides[i]
                                       : -1;
    if (target >= 0) {
      // A target beyond the full output is padded at the end with zeros
      // (plus bias), as output_padding would be.
      w.splitPad(i, std::max<int64_t>(0, full - target));
    } else {
      if (w.autoPad == "VALID")
        w.splitPad(i, 0);
      target = full - w.pads[i] - w.pads[i + n];
    }
    if (target <= 0) {
      c.emitError("spatial dim ") << i << " of the output would be " << target;
      return failure();
    }
    sizes.push_back(target);
  }
  return sizes;
}

/// [N, channels, spatial...] in x's element type.
RankedTensorType windowResultType(RankedTensorType x, int64_t channels,
                                  ArrayRef<int64_t> spatial) {
  SmallVector<int64_t> shape{x.getDimSize(0), channels};
  shape.append(spatial.begin(), spatial.end());
  return RankedTensorType::get(shape, x.getElementType());
}

/// Shared checks of Conv and ConvTranspose operands; reads the window.
FailureOr<Window> readConvWindow(NodeContext &c) {
  auto x = c.inputType(0), w = c.inputType(1);
  if (x.getRank() < 3 || w.getRank() != x.getRank()) {
    c.emitError("input and weight must share a rank >= 3 (N x C x "
                "spatial...), got ")
        << x << " and " << w;
    return failure();
  }
  if (failed(checkElementTypes(c, {1, 2})))
    return failure();
  if (c.getInt("group", 1) <= 0) {
    c.emitError("group must be positive");
    return failure();
  }
  return readWindow(c, x.getRank() - 2, w.getShape().drop_front(2));
}

/// Checks that the optional bias is 1-D of `channels` values.
LogicalResult checkBias(NodeContext &c, int64_t channels) {
  if (!c.hasInput(2))
    return success();
  auto b = c.inputType(2);
  if (b.getRank() != 1 || b.getDimSize(0) != channels)
    return c.emitError("bias must be 1-D of ")
           << channels << " output channels, got " << b;
  return success();
}

Results importConv(NodeContext &c) {
  FailureOr<Window> w = readConvWindow(c);
  if (failed(w))
    return failure();
  auto xt = c.inputType(0), wt = c.inputType(1);
  int64_t group = c.getInt("group", 1), channels = xt.getDimSize(1),
          m = wt.getDimSize(0);
  if (channels % group || m % group || channels / group != wt.getDimSize(1)) {
    c.emitError("input channels ")
        << channels << " and weight " << wt << " do not fit group " << group;
    return failure();
  }
  if (failed(checkBias(c, m)))
    return failure();
  ArrayRef<int64_t> in = xt.getShape().drop_front(2);
  resolveAutoPad(*w, in);
  FailureOr<SmallVector<int64_t>> sizes = forwardSizes(c, in, *w, false);
  if (failed(sizes))
    return failure();
  return single(g::ConvOp::create(c.b, c.loc, windowResultType(xt, m, *sizes),
                                  c.input(0), c.input(1), c.input(2),
                                  w->strides, w->pads, w->dilations, group));
}

Results importConvTranspose(NodeContext &c) {
  FailureOr<Window> w = readConvWindow(c);
  if (failed(w))
    return failure();
  auto xt = c.inputType(0), wt = c.inputType(1);
  int64_t group = c.getInt("group", 1), channels = xt.getDimSize(1),
          m = wt.getDimSize(1) * group;
  // The weight is C x M/group x k...
  if (wt.getDimSize(0) != channels || channels % group) {
    c.emitError("weight ") << wt << " must be C x M/group x k... for "
                           << channels << " input channels and group " << group;
    return failure();
  }
  if (failed(checkBias(c, m)))
    return failure();
  FailureOr<SmallVector<int64_t>> sizes =
      transposedSizes(c, xt.getShape().drop_front(2), *w);
  if (failed(sizes))
    return failure();
  return single(g::ConvTransposeOp::create(
      c.b, c.loc, windowResultType(xt, m, *sizes), c.input(0), c.input(1),
      c.input(2), w->strides, w->pads, w->dilations, group));
}

/// Reads a pool's window and resolves auto_pad; `in` gets the input's
/// spatial sizes.
FailureOr<Window> readPoolWindow(NodeContext &c, ArrayRef<int64_t> &in) {
  auto xt = c.inputType(0);
  if (xt.getRank() < 3) {
    c.emitError("input must be N x C x spatial..., got ") << xt;
    return failure();
  }
  in = xt.getShape().drop_front(2);
  FailureOr<Window> w = readWindow(c, xt.getRank() - 2, {});
  if (succeeded(w))
    resolveAutoPad(*w, in);
  return w;
}

Results importMaxPool(NodeContext &c) {
  if (c.hasOutput(1)) {
    c.emitError("unsupported: MaxPool's Indices output");
    return failure();
  }
  ArrayRef<int64_t> in;
  FailureOr<Window> w = readPoolWindow(c, in);
  if (failed(w))
    return failure();
  FailureOr<SmallVector<int64_t>> sizes =
      forwardSizes(c, in, *w, c.getInt("ceil_mode", 0) != 0);
  if (failed(sizes))
    return failure();
  auto xt = c.inputType(0);
  return single(g::MaxPoolOp::create(
      c.b, c.loc, windowResultType(xt, xt.getDimSize(1), *sizes), c.input(0),
      w->kernel, w->strides, w->pads, w->dilations));
}

/// The sum over each window of `x` (float N x C x spatial...): a depthwise
/// convolution with a window of ones, whose zero padding adds nothing, with
/// the window's strides, pads (ceil mode's extra end padding included) and
/// dilations.
Value windowSums(NodeContext &c, Value x, const Window &w,
                 ArrayRef<int64_t> sizes) {
  auto xt = cast<RankedTensorType>(x.getType());
  Type et = xt.getElementType();
  int64_t channels = xt.getDimSize(1);
  SmallVector<int64_t> kernelShape{channels, 1};
  llvm::append_range(kernelShape, w.kernel);
  auto kernelType = RankedTensorType::get(kernelShape, et);
  Value ones = g::ConstantOp::create(
      c.b, c.loc, kernelType,
      DenseElementsAttr::get(kernelType, c.b.getFloatAttr(et, 1.0)));
  return g::ConvOp::create(c.b, c.loc, windowResultType(xt, channels, sizes),
                           x, ones, Value(), w.strides, w.pads, w.dilations,
                           channels);
}

Results importAveragePool(NodeContext &c) {
  ArrayRef<int64_t> in;
  FailureOr<Window> w = readPoolWindow(c, in);
  if (failed(w))
    return failure();
  // The divisor counts the explicit pads (count_include_pad) but never the
  // extra end padding of ceil mode, so take them before it is added.
  SmallVector<int64_t> countPads(w->pads.size(), 0);
  if (c.getInt("count_include_pad", 0))
    countPads = w->pads;
  FailureOr<SmallVector<int64_t>> sizes =
      forwardSizes(c, in, *w, c.getInt("ceil_mode", 0) != 0);
  if (failed(sizes))
    return failure();
  auto xt = c.inputType(0);
  if (llvm::any_of(w->dilations, [](int64_t d) { return d != 1; })) {
    // Dilated: the window sums are a depthwise convolution with a dilated
    // window of ones (zero padding adds nothing), divided by each window's
    // count of taps inside the input (and the explicit pads, with
    // count_include_pad), known at compile time.
    auto et = dyn_cast<FloatType>(xt.getElementType());
    if (!et) {
      c.emitError("AveragePool needs a float input, got ") << xt;
      return failure();
    }
    int64_t n = w->rank();
    Value sum = windowSums(c, c.input(0), *w, *sizes);
    // Per spatial dim, each output position's count of counted taps; the
    // window's count is their product.
    SmallVector<SmallVector<int64_t>> perDim(n);
    for (int64_t d = 0; d < n; ++d)
      for (int64_t o = 0; o < (*sizes)[d]; ++o) {
        int64_t count = 0;
        for (int64_t k = 0; k < w->kernel[d]; ++k) {
          int64_t at = o * w->strides[d] - w->pads[d] + k * w->dilations[d];
          count += at >= -countPads[d] && at < in[d] + countPads[d + n];
        }
        perDim[d].push_back(std::max<int64_t>(count, 1));
      }
    SmallVector<int64_t> countShape{1, 1};
    llvm::append_range(countShape, *sizes);
    auto countType = RankedTensorType::get(countShape, et);
    SmallVector<APFloat> counts;
    int64_t total = countType.getNumElements();
    for (int64_t flat = 0; flat < total; ++flat) {
      int64_t rest = flat;
      double product = 1;
      for (int64_t d = n - 1; d >= 0; --d) {
        product *= static_cast<double>(perDim[d][rest % (*sizes)[d]]);
        rest /= (*sizes)[d];
      }
      APFloat v(product);
      bool lost;
      v.convert(et.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      counts.push_back(v);
    }
    Value divisor = g::ConstantOp::create(
        c.b, c.loc, countType, DenseElementsAttr::get(countType, counts));
    return single(g::DivOp::create(c.b, c.loc, sum, divisor));
  }
  return single(g::AvgPoolOp::create(
      c.b, c.loc, windowResultType(xt, xt.getDimSize(1), *sizes), c.input(0),
      w->kernel, w->strides, w->pads, countPads));
}

/// LpPool: (sum over each window of |x|^p)^(1/p), the sums by windowSums.
Results importLpPool(NodeContext &c) {
  ArrayRef<int64_t> in;
  FailureOr<Window> w = readPoolWindow(c, in);
  if (failed(w))
    return failure();
  auto xt = c.inputType(0);
  if (!isa<FloatType>(xt.getElementType())) {
    c.emitError("LpPool needs a float input, got ") << xt;
    return failure();
  }
  int64_t p = c.getInt("p", 2);
  if (p < 1) {
    c.emitError("LpPool p must be a positive integer, got ") << p;
    return failure();
  }
  FailureOr<SmallVector<int64_t>> sizes =
      forwardSizes(c, in, *w, c.getInt("ceil_mode", 0) != 0);
  if (failed(sizes))
    return failure();
  Type et = xt.getElementType();
  Value x = c.input(0);
  Value powered = g::AbsOp::create(c.b, c.loc, xt, x);
  if (p == 2)
    powered = g::MulOp::create(c.b, c.loc, powered, powered);
  else if (p > 2)
    powered = g::PowOp::create(c.b, c.loc, powered, c.scalarConstant(et, p));
  Value sum = windowSums(c, powered, *w, *sizes);
  if (p == 1)
    return single(sum);
  if (p == 2)
    return single(g::SqrtOp::create(c.b, c.loc, sum.getType(), sum));
  return single(g::PowOp::create(c.b, c.loc, sum,
                                 c.scalarConstant(et, 1.0 / p)));
}

/// GlobalAveragePool and GlobalMaxPool: a reduction over the spatial dims.
OpImporter globalPool(StringRef kind) {
  return [kind = kind.str()](NodeContext &c) -> Results {
    int64_t rank = c.inputType(0).getRank();
    if (rank < 2) {
      c.emitError("input must be N x C x spatial...");
      return failure();
    }
    return single(g::ReduceOp::create(
        c.b, c.loc, c.input(0), kind,
        llvm::to_vector(llvm::seq<int64_t>(2, rank)), /*keepdims=*/true));
  };
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

/// Checks that input `i` is 1-D of the channel count of input 0.
LogicalResult checkPerChannel(NodeContext &c, unsigned i) {
  auto t = c.inputType(i);
  int64_t channels = c.inputType(0).getDimSize(1);
  if (t.getRank() != 1 || t.getDimSize(0) != channels)
    return c.emitError("input ") << i << " must be 1-D of the channel count "
                                 << channels << ", got " << t;
  return success();
}

Results importBatchNorm(NodeContext &c) {
  for (unsigned i = 1; i < c.numOutputs(); ++i)
    if (c.hasOutput(i)) {
      c.emitError("unsupported: BatchNormalization training outputs (only "
                  "the inference output Y is supported)");
      return failure();
    }
  if (c.getInt("training_mode", 0)) {
    c.emitError("unsupported: BatchNormalization in training mode");
    return failure();
  }
  auto xt = c.inputType(0);
  if (xt.getRank() < 2) {
    c.emitError("input must be N x C x ..., got ") << xt;
    return failure();
  }
  // Opset 15 allows other float types for the parameters: convert them.
  SmallVector<Value> params;
  for (unsigned i = 1; i <= 4; ++i) {
    if (failed(checkPerChannel(c, i)))
      return failure();
    Value p = c.input(i);
    if (c.inputType(i).getElementType() != xt.getElementType())
      p = g::CastOp::create(c.b, c.loc,
                            c.inputType(i).clone(xt.getElementType()), p);
    params.push_back(p);
  }
  return single(g::BatchNormOp::create(
      c.b, c.loc, xt, c.input(0), params[0], params[1], params[2], params[3],
      c.b.getF64FloatAttr(c.getFloat("epsilon", 1e-5))));
}

Results importInstanceNorm(NodeContext &c) {
  auto xt = c.inputType(0);
  if (xt.getRank() < 3) {
    c.emitError("input must be N x C x spatial..., got ") << xt;
    return failure();
  }
  if (failed(checkElementTypes(c, {1, 2})) || failed(checkPerChannel(c, 1)) ||
      failed(checkPerChannel(c, 2)))
    return failure();
  return single(g::InstanceNormOp::create(
      c.b, c.loc, xt, c.input(0), c.input(1), c.input(2),
      c.b.getF64FloatAttr(c.getFloat("epsilon", 1e-5))));
}

Results importLayerNorm(NodeContext &c) {
  auto xt = c.inputType(0);
  FailureOr<int64_t> axis = c.normalizeAxis(c.getInt("axis", -1), xt.getRank());
  if (failed(axis) || failed(checkElementTypes(c, {1, 2})))
    return failure();
  // Scale and bias broadcast to the normalized dims.
  ArrayRef<int64_t> normalized = xt.getShape().drop_front(*axis);
  for (unsigned i : {1u, 2u}) {
    if (!c.hasInput(i))
      continue;
    FailureOr<SmallVector<int64_t>> b =
        g::broadcastShapes(c.inputType(i).getShape(), normalized);
    if (failed(b) || ArrayRef<int64_t>(*b) != normalized) {
      c.emitError("input ") << i << " of type " << c.inputType(i)
                            << " does not broadcast to the normalized dims";
      return failure();
    }
  }
  double epsilon = c.getFloat("epsilon", 1e-5);
  SmallVector<Value> results{
      g::LayerNormOp::create(c.b, c.loc, xt, c.input(0), c.input(1), c.input(2),
                             c.b.getI64IntegerAttr(*axis),
                             c.b.getF64FloatAttr(epsilon))};
  if (!c.hasOutput(1) && !c.hasOutput(2))
    return results;
  // The training outputs Mean and InvStdDev, over the normalized dims with
  // those dims kept (stash_type float is the input's type for f32 models).
  SmallVector<int64_t> axes;
  for (int64_t d = *axis; d < xt.getRank(); ++d)
    axes.push_back(d);
  auto reduce = [&](Value v) -> Value {
    return g::ReduceOp::create(c.b, c.loc, v, c.b.getStringAttr("mean"),
                               c.b.getDenseI64ArrayAttr(axes),
                               c.b.getBoolAttr(true));
  };
  Value x = c.input(0), mean = reduce(x);
  Value centered = g::SubOp::create(c.b, c.loc, x, mean);
  Value variance = reduce(g::MulOp::create(c.b, c.loc, centered, centered));
  Value shifted = g::AddOp::create(
      c.b, c.loc, variance, c.scalarConstant(xt.getElementType(), epsilon));
  Value root = g::SqrtOp::create(c.b, c.loc, shifted.getType(), shifted);
  results.push_back(mean);
  results.push_back(
      g::ReciprocalOp::create(c.b, c.loc, root.getType(), root));
  return results;
}

/// GroupNormalization: the channels in `num_groups` groups, each group of
/// each sample normalized over its channels and spatial positions (a layer
/// norm of X viewed as [N, G, C/G * spatial]), then scaled and shifted per
/// channel (opset 21: scale and bias of C) or per group (opset 18: of G).
Results importGroupNorm(NodeContext &c) {
  auto xt = c.inputType(0);
  if (xt.getRank() < 2 || !xt.hasStaticShape() ||
      !isa<FloatType>(xt.getElementType())) {
    c.emitError("X must be a static float N x C x ... tensor, got ") << xt;
    return failure();
  }
  if (failed(checkElementTypes(c, {1, 2})))
    return failure();
  int64_t groups = c.getInt("num_groups", 0);
  int64_t n = xt.getDimSize(0), channels = xt.getDimSize(1);
  if (groups < 1 || channels % groups) {
    c.emitError("num_groups ") << groups << " must divide the " << channels
                               << " channels";
    return failure();
  }
  // Per channel, or per group (repeated over the group's channels).
  SmallVector<Value> affine;
  for (unsigned i : {1u, 2u}) {
    auto t = c.inputType(i);
    int64_t size = t.getRank() == 1 ? t.getDimSize(0) : -1;
    if (size != channels && size != groups) {
      c.emitError("input ") << i << " of type " << t << " must hold "
                            << channels << " channels or " << groups
                            << " groups";
      return failure();
    }
    Value v = c.input(i);
    Type et = t.getElementType();
    if (size != channels) {
      v = g::ReshapeOp::create(c.b, c.loc,
                               RankedTensorType::get({groups, 1}, et), v);
      v = g::BroadcastToOp::create(
          c.b, c.loc,
          RankedTensorType::get({groups, channels / groups}, et), v);
    }
    SmallVector<int64_t> shape(xt.getRank() - 1, 1);
    shape[0] = channels;
    affine.push_back(
        g::ReshapeOp::create(c.b, c.loc, RankedTensorType::get(shape, et), v));
  }
  int64_t inner = xt.getNumElements() / std::max<int64_t>(n, 1) / groups;
  auto grouped =
      RankedTensorType::get({n, groups, inner}, xt.getElementType());
  Value y = g::ReshapeOp::create(c.b, c.loc, grouped, c.input(0));
  // The affine part comes per channel after: a unit scale here.
  auto unitType = RankedTensorType::get({inner}, xt.getElementType());
  Value unit = g::ConstantOp::create(
      c.b, c.loc, unitType,
      DenseElementsAttr::get(unitType,
                             c.b.getFloatAttr(xt.getElementType(), 1.0)));
  y = g::LayerNormOp::create(c.b, c.loc, grouped, y, unit, Value(),
                             c.b.getI64IntegerAttr(2),
                             c.b.getF64FloatAttr(c.getFloat("epsilon", 1e-5)));
  y = g::ReshapeOp::create(c.b, c.loc, xt, y);
  y = g::MulOp::create(c.b, c.loc, y, affine[0]);
  return single(g::AddOp::create(c.b, c.loc, y, affine[1]));
}

/// x / ||x||_p along `axis` (p is 1 or 2).
Results importLpNorm(NodeContext &c) {
  int64_t p = c.getInt("p", 2);
  FailureOr<int64_t> axis =
      c.normalizeAxis(c.getInt("axis", -1), c.inputType(0).getRank());
  if (failed(axis))
    return failure();
  if (p != 1 && p != 2) {
    c.emitError("LpNormalization p must be 1 or 2, got ") << p;
    return failure();
  }
  // x / norm, as ONNX's reference and test data define it: a vector of
  // norm 0 gives 0 / 0 = NaN (test_l2normalization_axis_0 expects it;
  // ONNX Runtime gives 0 there instead).
  Value x = c.input(0);
  Value norm = g::ReduceOp::create(c.b, c.loc, x, p == 1 ? "l1" : "l2",
                                   ArrayRef<int64_t>{*axis}, true);
  return single(g::DivOp::create(c.b, c.loc, x, norm));
}

//===----------------------------------------------------------------------===//
// Softmax family, Dropout
//===----------------------------------------------------------------------===//

/// Softmax, LogSoftmax, Hardmax. Before opset 13 ONNX coerces the input to
/// 2-D [prod(dims[:axis]), prod(dims[axis:])] and normalizes each row.
template <typename OpTy> Results importSoftmaxLike(NodeContext &c) {
  Value x = c.input(0);
  auto type = c.inputType(0);
  bool coerce = c.opset < 13;
  FailureOr<int64_t> axis =
      c.normalizeAxis(c.getInt("axis", coerce ? 1 : -1), type.getRank());
  if (failed(axis))
    return failure();
  // Over the last axis both semantics agree: no reshape needed.
  if (!coerce || *axis == type.getRank() - 1)
    return single(
        OpTy::create(c.b, c.loc, type, x, c.b.getI64IntegerAttr(*axis)));
  int64_t outer = 1, inner = 1;
  for (auto [i, d] : llvm::enumerate(type.getShape()))
    (static_cast<int64_t>(i) < *axis ? outer : inner) *= d;
  auto flat = RankedTensorType::get({outer, inner}, type.getElementType());
  Value y = g::ReshapeOp::create(c.b, c.loc, flat, x);
  y = OpTy::create(c.b, c.loc, flat, y, c.b.getI64IntegerAttr(1));
  return single(g::ReshapeOp::create(c.b, c.loc, type, y));
}

/// Inference Dropout: the identity, and an all-true mask if asked for.
Results importDropout(NodeContext &c) {
  // From opset 12, ratio (default 0.5) and training_mode are inputs. A zero
  // ratio keeps everything even in training mode: still the identity.
  if (c.opset >= 12 && c.hasInput(2)) {
    double ratio = 0.5;
    if (c.hasInput(1)) {
      FailureOr<SmallVector<double>> r = c.constantFloats(1, "Dropout ratio");
      if (failed(r))
        return failure();
      ratio = r->empty() ? ratio : r->front();
    }
    if (ratio != 0) {
      FailureOr<SmallVector<int64_t>> training =
          c.constantInts(2, "Dropout training_mode");
      if (failed(training))
        return failure();
      if (llvm::any_of(*training, [](int64_t t) { return t != 0; })) {
        c.emitError("unsupported: Dropout in training mode (random masks)");
        return failure();
      }
    }
  }
  Value x = c.input(0);
  SmallVector<Value> results{x};
  if (c.hasOutput(1)) {
    // Before opset 10 the mask has the data's type.
    auto type = c.inputType(0);
    Type element = c.opset < 10 ? type.getElementType() : c.b.getI1Type();
    auto maskType = type.clone(element);
    results.push_back(g::ConstantOp::create(
        c.b, c.loc, maskType,
        DenseElementsAttr::get(maskType, c.b.getOneAttr(element))));
  }
  return results;
}

//===----------------------------------------------------------------------===//
// MatMul, Gemm, Einsum
//===----------------------------------------------------------------------===//

Results importMatMul(NodeContext &c) {
  if (failed(checkElementTypes(c, {1})))
    return failure();
  Value a = c.input(0), b = c.input(1);
  SmallVector<Type> inferred;
  // Emits the precise shape error at the node.
  if (failed(g::MatMulOp::inferReturnTypes(
          c.b.getContext(), c.loc, {a, b}, DictionaryAttr(),
          OpaqueProperties(nullptr), RegionRange(), inferred)))
    return failure();
  return single(g::MatMulOp::create(c.b, c.loc, a, b));
}

Results importGemm(NodeContext &c) {
  auto at = c.inputType(0), bt = c.inputType(1);
  if (at.getRank() != 2 || bt.getRank() != 2) {
    c.emitError("A and B must be 2-D, got ") << at << " and " << bt;
    return failure();
  }
  if (failed(checkElementTypes(c, {1, 2})))
    return failure();
  bool transA = c.getInt("transA", 0), transB = c.getInt("transB", 0);
  int64_t m = at.getDimSize(transA ? 1 : 0), ka = at.getDimSize(transA ? 0 : 1);
  int64_t kb = bt.getDimSize(transB ? 1 : 0), n = bt.getDimSize(transB ? 0 : 1);
  if (ka != kb) {
    c.emitError("contraction dims differ: ") << ka << " vs " << kb;
    return failure();
  }
  auto type = RankedTensorType::get({m, n}, at.getElementType());
  if (c.hasInput(2)) {
    FailureOr<SmallVector<int64_t>> bc =
        g::broadcastShapes(c.inputType(2).getShape(), type.getShape());
    if (failed(bc) || ArrayRef<int64_t>(*bc) != type.getShape()) {
      c.emitError("C of type ")
          << c.inputType(2) << " does not broadcast to " << type;
      return failure();
    }
  }
  return single(
      g::GemmOp::create(c.b, c.loc, type, c.input(0), c.input(1), c.input(2),
                        c.b.getF64FloatAttr(c.getFloat("alpha", 1.0)),
                        c.b.getF64FloatAttr(c.getFloat("beta", 1.0)),
                        c.b.getBoolAttr(transA), c.b.getBoolAttr(transB)));
}

/// An einsum equation in graph.einsum's explicit, ellipsis-free form, with
/// the size of each letter.
struct Einsum {
  std::string equation;
  SmallVector<int64_t> shape;
};

/// Normalizes an ONNX einsum equation for operands of `types`: removes
/// spaces, gives each operand's ellipsis fresh letters (right-aligned as in
/// numpy) and makes the output explicit (implicit form: ellipsis letters,
/// then the letters used once, sorted).
FailureOr<Einsum> normalizeEinsum(NodeContext &c,
                                  ArrayRef<RankedTensorType> types) {
  std::string eq;
  for (char ch : c.getString("equation", ""))
    if (!llvm::isSpace(ch))
      eq += ch;
  size_t arrow = eq.find("->");
  bool explicitOutput = arrow != std::string::npos;
  StringRef lhs = StringRef(eq).take_front(arrow),
            rhs = explicitOutput ? StringRef(eq).drop_front(arrow + 2) : "";
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  if (terms.size() != types.size()) {
    c.emitError("einsum equation '")
        << eq << "' has " << terms.size() << " terms for " << types.size()
        << " inputs";
    return failure();
  }
  auto malformed = [&](StringRef term) {
    c.emitError("malformed einsum term '") << term << "' in '" << eq << "'";
    return failure();
  };
  // Letters of a term without its ellipsis; failure if malformed.
  auto lettersOf = [&](StringRef term) -> FailureOr<std::string> {
    size_t dots = term.find("...");
    std::string letters = term.str();
    if (dots != StringRef::npos)
      letters.erase(dots, 3);
    if (!llvm::all_of(letters, llvm::isAlpha))
      return malformed(term);
    return letters;
  };

  // Ellipsis dims per operand, and the fresh letters standing for them.
  SmallVector<int64_t> ellipsisRanks;
  int64_t ellipsisRank = 0;
  for (auto [term, type] : llvm::zip(terms, types)) {
    FailureOr<std::string> letters = lettersOf(term);
    if (failed(letters))
      return failure();
    bool hasDots = term.contains("...");
    int64_t e = type.getRank() - static_cast<int64_t>(letters->size());
    if (e < 0 || (!hasDots && e != 0)) {
      c.emitError("einsum term '")
          << term << "' does not match its operand's rank " << type.getRank();
      return failure();
    }
    ellipsisRanks.push_back(e);
    ellipsisRank = std::max(ellipsisRank, e);
  }
  std::string fresh;
  for (char ch :
       StringRef("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if (static_cast<int64_t>(fresh.size()) < ellipsisRank &&
        eq.find(ch) == std::string::npos)
      fresh += ch;
  if (static_cast<int64_t>(fresh.size()) < ellipsisRank) {
    c.emitError("einsum equation '") << eq << "' has too many dims";
    return failure();
  }

  // Expand the terms and record each letter's size.
  Einsum result;
  llvm::DenseMap<char, int64_t> sizes;
  std::string counted; // input letters, one entry per use
  for (auto [i, term, type] : llvm::enumerate(terms, types)) {
    std::string expanded = term.str();
    if (size_t dots = expanded.find("..."); dots != std::string::npos)
      expanded.replace(dots, 3, fresh.substr(ellipsisRank - ellipsisRanks[i]));
    for (auto [d, ch] : llvm::enumerate(expanded)) {
      auto [it, inserted] = sizes.try_emplace(ch, type.getDimSize(d));
      if (!inserted && it->second != type.getDimSize(d)) {
        if (fresh.find(ch) != std::string::npos)
          c.emitError("unsupported: einsum ellipsis dims differ in size "
                      "across operands (broadcasting them)");
        else
          c.emitError("einsum letter '") << ch << "' has sizes " << it->second
                                         << " and " << type.getDimSize(d);
        return failure();
      }
    }
    counted += expanded;
    result.equation += (i ? "," : "") + expanded;
  }

  std::string out;
  if (explicitOutput) {
    FailureOr<std::string> letters = lettersOf(rhs);
    if (failed(letters))
      return failure();
    out = rhs.str();
    if (size_t dots = out.find("..."); dots != std::string::npos) {
      out.replace(dots, 3, fresh);
    } else if (ellipsisRank > 0) {
      // As numpy: ellipsis dims are kept, never summed away.
      c.emitError("einsum output of '") << eq << "' needs '...' for the "
                                        << "ellipsis dims of its inputs";
      return failure();
    }
  } else {
    std::string once;
    for (char ch : counted)
      if (fresh.find(ch) == std::string::npos && llvm::count(counted, ch) == 1)
        once += ch;
    llvm::sort(once);
    out = fresh + once;
  }
  for (char ch : out) {
    if (!sizes.count(ch) || llvm::count(out, ch) != 1) {
      c.emitError("einsum output letter '")
          << ch << "' is repeated or not in any input";
      return failure();
    }
    result.shape.push_back(sizes[ch]);
  }
  result.equation += "->" + out;
  return result;
}

Results importEinsum(NodeContext &c) {
  SmallVector<Value> inputs;
  SmallVector<RankedTensorType> types;
  for (unsigned i = 0; i < c.numInputs(); ++i) {
    if (!c.hasInput(i)) {
      c.emitError("einsum input ") << i << " is missing";
      return failure();
    }
    inputs.push_back(c.input(i));
    types.push_back(c.inputType(i));
  }
  if (inputs.empty()) {
    c.emitError("einsum needs at least one input");
    return failure();
  }
  if (failed(checkElementTypes(
          c, llvm::to_vector(llvm::seq<unsigned>(1, c.numInputs())))))
    return failure();
  FailureOr<Einsum> e = normalizeEinsum(c, types);
  if (failed(e))
    return failure();
  auto type = RankedTensorType::get(e->shape, types[0].getElementType());
  return single(g::EinsumOp::create(c.b, c.loc, type, inputs, e->equation));
}
/// LRN (AlexNet's local response normalization across channels):
///   Y = X / (bias + alpha / size * sum of X^2 over the `size` channels
///   around each, zeros beyond the edges)^beta,
/// as a body: the squares padded along the channels, `size` shifted slices
/// summed (a window of a few channels; fusion makes it one kernel).
FailureOr<SmallVector<Value>> importLRN(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  if (x.getRank() < 2 || !isFloat(x.getElementType()))
    return c.emitError("input must be a floating-point tensor of rank >= 2 "
                       "(N x C x ...)"),
           failure();
  int64_t size = c.getInt("size", 0);
  if (size < 1 || size > 256)
    return c.emitError("size must be 1 to 256, got ") << size, failure();
  int64_t channels = x.getDimSize(1), rank = x.getRank();
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  SmallVector<int64_t> pads(2 * rank, 0);
  pads[1] = before;
  pads[rank + 1] = after;
  Body b("LRN", {"X"}, {"Y"});
  b("sq", "Mul (X, X)");
  b("pads", intsConst(pads));
  b("padded", "Pad (sq, pads)");
  b("axis", intsConst({1}));
  std::vector<std::string> windows;
  for (int64_t i = 0; i < size; ++i) {
    std::string w = "w" + std::to_string(i);
    b(w + "_start", intsConst({i}));
    b(w + "_end", intsConst({i + channels}));
    b(w, "Slice (padded, " + w + "_start, " + w + "_end, axis)");
    windows.push_back(w);
  }
  b("sum", "Sum (" + llvm::join(windows, ", ") + ")");
  auto constant = [&](const std::string &name, double v) {
    b(name + "32", "Constant <value_float = " + real(v) + "> ()");
    b(name, "CastLike (" + name + "32, X)");
  };
  constant("scale", c.getFloat("alpha", 1e-4) / double(size));
  constant("bias", c.getFloat("bias", 1.0));
  constant("beta", c.getFloat("beta", 0.75));
  b("scaled", "Mul (sum, scale)");
  b("base", "Add (scaled, bias)");
  b("den", "Pow (base, beta)");
  b("Y", "Div (X, den)");
  return c.expandBody(b.finish());
}
} // namespace

void mlir::llmc::onnximport::registerNNOps(OpImporterRegistry &r) {
  r.add("LRN", needs(1, importLRN));
  r.add("Conv", needs(2, importConv));
  r.add("ConvTranspose", needs(2, importConvTranspose));
  r.add("MaxPool", needs(1, importMaxPool));
  r.add("AveragePool", needs(1, importAveragePool));
  r.add("GlobalAveragePool", needs(1, globalPool("mean")));
  r.add("GlobalMaxPool", needs(1, globalPool("max")));
  r.add("BatchNormalization", needs(5, importBatchNorm));
  r.add("InstanceNormalization", needs(3, importInstanceNorm));
  // Standard from opset 17; ONNX Runtime's contrib op of the same name and
  // meaning in the default domain before (its transformer optimizer writes
  // it into opset 11-16 models).
  r.add("LayerNormalization", 1, OpImporterRegistry::kMaxOpset,
        needs(2, importLayerNorm));
  r.add("LpNormalization", needs(1, importLpNorm));
  r.add("LpPool", needs(1, importLpPool));
  r.add("GroupNormalization", 18, OpImporterRegistry::kMaxOpset,
        needs(3, importGroupNorm));
  r.add("Softmax", needs(1, importSoftmaxLike<g::SoftmaxOp>));
  r.add("LogSoftmax", needs(1, importSoftmaxLike<g::LogSoftmaxOp>));
  r.add("Hardmax", needs(1, importSoftmaxLike<g::HardmaxOp>));
  r.add("Dropout", needs(1, importDropout));
  r.add("MatMul", needs(2, importMatMul));
  r.add("Gemm", needs(2, importGemm));
  r.add("Einsum", importEinsum);
}
