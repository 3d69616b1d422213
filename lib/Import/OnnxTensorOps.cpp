//===- OnnxTensorOps.cpp - Importers of ONNX tensor ops -------------------===//
//
// Constants, shape manipulation, data movement and indexing. Shapes are
// static: every shape-like operand (Reshape's shape, Slice's starts, Pad's
// pads...) must be known at compile time, and ops whose result depends only
// on shapes or attributes (Shape, Size, Range, EyeLike...) become constants.
//
// Ops whose output shape depends on data (Compress, NonZero, Unique) are
// deliberately not registered.
//
//===----------------------------------------------------------------------===//

#include "OnnxImportContext.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

namespace {
using ImportResult = FailureOr<SmallVector<Value>>;
using OptionalInts = std::optional<SmallVector<int64_t>>;

/// Constants built element by element here (Range, EyeLike) are refused
/// above this many elements rather than materialized in memory.
constexpr int64_t kMaxMaterializedElements = int64_t(1) << 24;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Number of elements of `shape`; nullopt on a negative dim or overflow.
std::optional<int64_t> elementCount(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || llvm::MulOverflow(n, d, n))
      return std::nullopt;
  return n;
}

/// Length of the walk from `from` towards `to` (excluded) by `step` (not
/// 0): max(ceil((to - from) / step), 0), computed unsigned so that no
/// difference of int64 values overflows.
uint64_t stridedCount(int64_t from, int64_t to, int64_t step) {
  bool forward = step > 0;
  if (forward ? to <= from : to >= from)
    return 0;
  uint64_t distance =
      forward ? static_cast<uint64_t>(to) - static_cast<uint64_t>(from)
              : static_cast<uint64_t>(from) - static_cast<uint64_t>(to);
  uint64_t stride =
      forward ? static_cast<uint64_t>(step) : 0 - static_cast<uint64_t>(step);
  return llvm::divideCeil(distance, stride);
}

bool isIndexTensor(Type type) {
  Type element = getElementTypeOrSelf(type);
  return element.isSignlessInteger(32) || element.isSignlessInteger(64);
}

/// The ONNX name of this node's op, for messages.
std::string opName(NodeContext &c, StringRef what = "") {
  std::string s = c.node.op_type();
  if (!what.empty())
    s += " " + what.str();
  return s;
}

/// Normalizes one axis. Unlike NodeContext::normalizeAxis it refuses every
/// axis of a rank-0 tensor, which has no dim to index.
FailureOr<int64_t> axisOf(NodeContext &c, int64_t axis, int64_t rank) {
  if (rank == 0)
    return c.emitError("axis ") << axis << " is out of range for rank 0";
  return c.normalizeAxis(axis, rank);
}

/// Normalizes a list of axes; a repeated axis is an error.
FailureOr<SmallVector<int64_t>>
normalizeAxes(NodeContext &c, ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<int64_t> out;
  for (int64_t axis : axes) {
    FailureOr<int64_t> a = axisOf(c, axis, rank);
    if (failed(a))
      return failure();
    if (llvm::is_contained(out, *a))
      return c.emitError("axis ") << axis << " is repeated";
    out.push_back(*a);
  }
  return out;
}

/// An int list that opsets before `inputSince` give as attribute `name` and
/// later ones as input `index` (Squeeze's axes, Split's split...); nullopt
/// when the node does not give it.
FailureOr<OptionalInts> intsByOpset(NodeContext &c, StringRef name,
                                    unsigned index, int64_t inputSince) {
  if (c.opset < inputSince)
    return c.hasAttr(name) ? OptionalInts(c.getInts(name)) : std::nullopt;
  if (!c.hasInput(index))
    return OptionalInts();
  FailureOr<SmallVector<int64_t>> v = c.constantInts(index, opName(c, name));
  if (failed(v))
    return failure();
  return OptionalInts(std::move(*v));
}

/// Reads input `i` as a scalar (a 1-element tensor of any rank).
template <typename T, typename Reader>
FailureOr<T> scalarInput(NodeContext &c, unsigned i, StringRef what,
                         Reader read) {
  auto values = (c.*read)(i, what);
  if (failed(values))
    return failure();
  if (values->size() != 1)
    return c.emitError(what) << " must hold one value, not " << values->size();
  return values->front();
}

FailureOr<int64_t> scalarInt(NodeContext &c, unsigned i, StringRef what) {
  return scalarInput<int64_t>(c, i, what, &NodeContext::constantInts);
}

FailureOr<double> scalarFloat(NodeContext &c, unsigned i, StringRef what) {
  return scalarInput<double>(c, i, what, &NodeContext::constantFloats);
}

/// Constant data of `type` from integers: exact for integer element types
/// (i1 included), converted for float ones.
DenseElementsAttr elementsFromInts(RankedTensorType type,
                                   ArrayRef<int64_t> values) {
  Type element = type.getElementType();
  if (auto floatType = dyn_cast<FloatType>(element)) {
    SmallVector<APFloat> data;
    data.reserve(values.size());
    for (int64_t v : values) {
      APFloat f(floatType.getFloatSemantics());
      f.convertFromAPInt(APInt(64, static_cast<uint64_t>(v), true),
                         /*IsSigned=*/true, APFloat::rmNearestTiesToEven);
      data.push_back(f);
    }
    return DenseElementsAttr::get(type, data);
  }
  unsigned width = element.getIntOrFloatBitWidth();
  SmallVector<APInt> data;
  data.reserve(values.size());
  for (int64_t v : values)
    data.push_back(APInt(width, static_cast<uint64_t>(v), /*isSigned=*/true,
                         /*implicitTrunc=*/true));
  return DenseElementsAttr::get(type, data);
}

/// Constant data of a float-typed `type`, rounded to its precision.
DenseElementsAttr elementsFromDoubles(RankedTensorType type,
                                      ArrayRef<double> values) {
  auto floatType = cast<FloatType>(type.getElementType());
  SmallVector<APFloat> data;
  data.reserve(values.size());
  for (double v : values) {
    APFloat f(v);
    bool lost = false;
    f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
              &lost);
    data.push_back(f);
  }
  return DenseElementsAttr::get(type, data);
}

ImportResult constant(NodeContext &c, ElementsAttr value) {
  return single(g::ConstantOp::create(c.b, c.loc, value.getType(), value));
}

ImportResult constant(NodeContext &c, DenseElementsAttr value) {
  return constant(c, cast<ElementsAttr>(value));
}

/// A 1-D (or, with `scalar`, 0-D) i64 constant.
ImportResult i64Constant(NodeContext &c, ArrayRef<int64_t> values,
                         bool scalar = false) {
  SmallVector<int64_t, 1> shape;
  if (!scalar)
    shape.push_back(values.size());
  auto type = RankedTensorType::get(shape, c.b.getI64Type());
  return constant(c, DenseElementsAttr::get(type, values));
}

/// graph.reshape of `x` to `shape`, whose element count callers checked;
/// `x` itself when the shape does not change.
Value reshape(NodeContext &c, Value x, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getShape() == shape)
    return x;
  return g::ReshapeOp::create(c.b, c.loc, type.clone(shape), x);
}

/// graph.slice of `x` with in-bounds arguments; `x` itself when the slice
/// takes everything in order. Where a dim keeps at most one element its
/// step no longer matters: it becomes 1 (and an empty dim starts at 0), so
/// that the verifier and the lowering see simple values.
Value slice(NodeContext &c, Value x, ArrayRef<int64_t> starts,
            ArrayRef<int64_t> sizes, ArrayRef<int64_t> steps) {
  SmallVector<int64_t> first(starts), stride(steps);
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] <= 1)
      stride[d] = 1;
    if (sizes[d] == 0)
      first[d] = 0;
  }
  auto type = cast<RankedTensorType>(x.getType());
  bool whole = type.getShape() == sizes &&
               llvm::all_of(first, [](int64_t s) { return s == 0; }) &&
               llvm::all_of(stride, [](int64_t s) { return s == 1; });
  if (whole)
    return x;
  return g::SliceOp::create(c.b, c.loc, x, c.b.getDenseI64ArrayAttr(first),
                            c.b.getDenseI64ArrayAttr(sizes),
                            c.b.getDenseI64ArrayAttr(stride));
}

/// Checks that `perm` is a permutation of [0, rank).
LogicalResult checkPermutation(NodeContext &c, ArrayRef<int64_t> perm,
                               int64_t rank) {
  if (static_cast<int64_t>(perm.size()) != rank)
    return c.emitError("perm has ")
           << perm.size() << " entries but the input has rank " << rank;
  SmallVector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return c.emitError("perm is not a permutation of the input's dims");
    seen[p] = true;
  }
  return success();
}

Value transpose(NodeContext &c, Value x, ArrayRef<int64_t> perm) {
  return g::TransposeOp::create(c.b, c.loc, x, c.b.getDenseI64ArrayAttr(perm));
}

//===----------------------------------------------------------------------===//
// Constants and shape queries
//===----------------------------------------------------------------------===//

ImportResult importConstant(NodeContext &c) {
  if (c.hasAttr("sparse_value"))
    return c.emitError("unsupported: sparse Constant (sparse_value)");
  if (c.hasAttr("value_string") || c.hasAttr("value_strings"))
    return c.emitError("unsupported: string Constant");
  if (c.hasAttr("value")) {
    FailureOr<ElementsAttr> value = c.getTensorAttr("value");
    if (failed(value))
      return failure();
    return constant(c, *value);
  }
  if (c.hasAttr("value_int"))
    return i64Constant(c, {c.getInt("value_int", 0)}, /*scalar=*/true);
  if (c.hasAttr("value_ints"))
    return i64Constant(c, c.getInts("value_ints"));
  bool scalar = c.hasAttr("value_float");
  if (scalar || c.hasAttr("value_floats")) {
    SmallVector<double> values =
        scalar ? SmallVector<double>{c.getFloat("value_float", 0)}
               : c.getFloats("value_floats");
    SmallVector<int64_t, 1> shape;
    if (!scalar)
      shape.push_back(values.size());
    auto type = RankedTensorType::get(shape, c.b.getF32Type());
    return constant(c, elementsFromDoubles(type, values));
  }
  return c.emitError("Constant has no value attribute");
}

ImportResult importShape(NodeContext &c) {
  ArrayRef<int64_t> shape = c.inputType(0).getShape();
  int64_t rank = shape.size();
  // Opset 15's start/end: negative ones count from the end, then both are
  // clamped into [0, rank]. Older opsets have neither, so defaults apply.
  auto clampAxis = [rank](int64_t axis) {
    return std::clamp<int64_t>(axis < 0 ? axis + rank : axis, 0, rank);
  };
  int64_t start = clampAxis(c.getInt("start", 0));
  int64_t end = std::max(start, clampAxis(c.getInt("end", rank)));
  return i64Constant(c, shape.slice(start, end - start));
}

ImportResult importSize(NodeContext &c) {
  std::optional<int64_t> count = elementCount(c.inputType(0).getShape());
  if (!count)
    return c.emitError("input size overflows");
  return i64Constant(c, {*count}, /*scalar=*/true);
}

ImportResult importConstantOfShape(NodeContext &c) {
  FailureOr<SmallVector<int64_t>> shape =
      c.constantInts(0, "ConstantOfShape shape");
  if (failed(shape))
    return failure();
  if (!elementCount(*shape))
    return c.emitError("ConstantOfShape shape has a negative dim or its size "
                       "overflows");
  Attribute value = c.b.getF32FloatAttr(0);
  if (c.hasAttr("value")) {
    FailureOr<ElementsAttr> attr = c.getTensorAttr("value");
    if (failed(attr))
      return failure();
    auto dense = dyn_cast<DenseElementsAttr>(*attr);
    if (!dense || dense.getNumElements() != 1)
      return c.emitError("ConstantOfShape value must hold one element");
    value = *dense.value_begin<Attribute>();
  }
  auto type = RankedTensorType::get(*shape, cast<TypedAttr>(value).getType());
  return constant(c, DenseElementsAttr::get(type, value));
}

ImportResult importEyeLike(NodeContext &c) {
  RankedTensorType in = c.inputType(0);
  if (in.getRank() != 2)
    return c.emitError("EyeLike input must be 2-D, not rank ") << in.getRank();
  Type element = in.getElementType();
  if (c.hasAttr("dtype")) {
    element = c.elementType(static_cast<int32_t>(c.getInt("dtype", 0)));
    if (!element)
      return c.emitError("unsupported EyeLike dtype ") << c.getInt("dtype", 0);
  }
  int64_t rows = in.getDimSize(0), cols = in.getDimSize(1);
  int64_t count = rows * cols; // the importer bounded the input's size
  if (count > kMaxMaterializedElements)
    return c.emitError("EyeLike result of ")
           << count << " elements is too large to build as a constant";
  SmallVector<int64_t> values(count, 0);
  int64_t k = c.getInt("k", 0);
  // Diagonals outside the matrix leave it all zeros (and k + i could
  // overflow for them).
  if (k > -rows && k < cols)
    for (int64_t i = 0; i < rows; ++i)
      if (i + k >= 0 && i + k < cols)
        values[i * cols + i + k] = 1;
  return constant(
      c,
      elementsFromInts(RankedTensorType::get(in.getShape(), element), values));
}

const char *const kRangeInputs[] = {"Range start", "Range limit",
                                    "Range delta"};

/// Range over floats: the spec's count and start + i * delta, computed in
/// double and rounded to the element type.
ImportResult floatRange(NodeContext &c, RankedTensorType scalarType) {
  SmallVector<double, 3> v;
  for (auto [i, what] : llvm::enumerate(kRangeInputs)) {
    FailureOr<double> x = scalarFloat(c, i, what);
    if (failed(x))
      return failure();
    if (!std::isfinite(*x))
      return c.emitError(what) << " must be finite";
    v.push_back(*x);
  }
  double start = v[0], limit = v[1], delta = v[2];
  if (delta == 0)
    return c.emitError("Range delta must not be 0");
  double count = std::max(std::ceil((limit - start) / delta), 0.0);
  if (!(count <= kMaxMaterializedElements))
    return c.emitError("Range of ")
           << count << " elements is too large to build as a constant";
  SmallVector<double> values;
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i)
    values.push_back(start + i * delta);
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    scalarType.getElementType());
  return constant(c, elementsFromDoubles(type, values));
}

/// Range over integers, exactly in int64.
ImportResult intRange(NodeContext &c, RankedTensorType scalarType) {
  SmallVector<int64_t, 3> v;
  for (auto [i, what] : llvm::enumerate(kRangeInputs)) {
    FailureOr<int64_t> x = scalarInt(c, i, what);
    if (failed(x))
      return failure();
    v.push_back(*x);
  }
  int64_t start = v[0], limit = v[1], delta = v[2];
  if (delta == 0)
    return c.emitError("Range delta must not be 0");
  uint64_t count = stridedCount(start, limit, delta);
  if (count > static_cast<uint64_t>(kMaxMaterializedElements))
    return c.emitError("Range of ")
           << count << " elements is too large to build as a constant";
  // Accumulate rather than multiply: every value lies between start and
  // limit, so nothing overflows (i * delta alone could).
  SmallVector<int64_t> values;
  for (uint64_t i = 0; i < count; ++i)
    values.push_back(i == 0 ? start : values.back() + delta);
  auto type = RankedTensorType::get({static_cast<int64_t>(count)},
                                    scalarType.getElementType());
  return constant(c, elementsFromInts(type, values));
}

ImportResult importRange(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  for (unsigned i = 1; i < 3; ++i)
    if (c.inputType(i).getElementType() != type.getElementType())
      return c.emitError("Range inputs must share one element type");
  if (isa<FloatType>(type.getElementType()))
    return floatRange(c, type);
  if (type.getElementType().isInteger(1))
    return c.emitError("Range of booleans is not supported");
  return intRange(c, type);
}

//===----------------------------------------------------------------------===//
// Reshapes
//===----------------------------------------------------------------------===//

ImportResult importReshape(NodeContext &c) {
  ArrayRef<int64_t> in = c.inputType(0).getShape();
  FailureOr<SmallVector<int64_t>> requested =
      c.constantInts(1, "Reshape shape");
  if (failed(requested))
    return failure();
  bool allowZero = c.getInt("allowzero", 0) != 0;
  SmallVector<int64_t> shape = *requested;
  std::optional<size_t> inferred;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    // Without allowzero, 0 copies the input's dim at the same position.
    if (shape[i] == 0 && !allowZero) {
      if (i >= in.size())
        return c.emitError("Reshape shape entry ")
               << i << " is 0 (copy the input dim) but the input has rank "
               << in.size();
      shape[i] = in[i];
    }
    if (shape[i] == -1) {
      if (inferred)
        return c.emitError("Reshape shape has more than one -1");
      inferred = i;
      continue;
    }
    if (shape[i] < -1)
      return c.emitError("Reshape shape has invalid dim ") << shape[i];
    if (llvm::MulOverflow(known, shape[i], known))
      return c.emitError("Reshape shape's size overflows");
  }
  int64_t total = *elementCount(in);
  if (inferred) {
    if (known == 0 || total % known != 0)
      return c.emitError("Reshape cannot infer the -1 dim: ")
             << total << " elements do not divide into " << known;
    shape[*inferred] = total / known;
  } else if (known != total) {
    return c.emitError("Reshape changes the element count from ")
           << total << " to " << known;
  }
  return single(reshape(c, c.input(0), shape));
}

ImportResult importFlatten(NodeContext &c) {
  ArrayRef<int64_t> in = c.inputType(0).getShape();
  int64_t rank = in.size();
  // The axis may equal the rank (everything goes to the outer dim).
  int64_t axis = c.getInt("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return c.emitError("Flatten axis ")
           << c.getInt("axis", 1) << " is out of range for rank " << rank;
  int64_t outer = *elementCount(in.take_front(axis));
  int64_t inner = *elementCount(in.drop_front(axis));
  return single(reshape(c, c.input(0), {outer, inner}));
}

ImportResult importSqueeze(NodeContext &c) {
  ArrayRef<int64_t> in = c.inputType(0).getShape();
  int64_t rank = in.size();
  FailureOr<OptionalInts> axes = intsByOpset(c, "axes", 1, 13);
  if (failed(axes))
    return failure();
  SmallVector<bool> drop(rank, false);
  if (*axes && !(*axes)->empty()) {
    FailureOr<SmallVector<int64_t>> normalized = normalizeAxes(c, **axes, rank);
    if (failed(normalized))
      return failure();
    for (int64_t a : *normalized) {
      if (in[a] != 1)
        return c.emitError("cannot squeeze dim ") << a << " of size " << in[a];
      drop[a] = true;
    }
  } else {
    // No axes: every size-1 dim goes.
    for (int64_t d = 0; d < rank; ++d)
      drop[d] = in[d] == 1;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d)
    if (!drop[d])
      shape.push_back(in[d]);
  return single(reshape(c, c.input(0), shape));
}

ImportResult importUnsqueeze(NodeContext &c) {
  ArrayRef<int64_t> in = c.inputType(0).getShape();
  FailureOr<OptionalInts> axes = intsByOpset(c, "axes", 1, 13);
  if (failed(axes))
    return failure();
  if (!*axes)
    return c.emitError("Unsqueeze needs axes");
  // Axes index the output, whose rank counts the inserted dims.
  int64_t outRank = in.size() + (*axes)->size();
  FailureOr<SmallVector<int64_t>> normalized =
      normalizeAxes(c, **axes, outRank);
  if (failed(normalized))
    return failure();
  SmallVector<int64_t> shape;
  const int64_t *next = in.begin();
  for (int64_t d = 0; d < outRank; ++d)
    shape.push_back(llvm::is_contained(*normalized, d) ? 1 : *next++);
  return single(reshape(c, c.input(0), shape));
}

/// reshape -> transpose -> reshape, the spec's definition of DepthToSpace
/// and SpaceToDepth.
Value shuffle(NodeContext &c, Value x, ArrayRef<int64_t> split,
              ArrayRef<int64_t> perm, ArrayRef<int64_t> result) {
  return reshape(c, transpose(c, reshape(c, x, split), perm), result);
}

/// Blocksize of DepthToSpace/SpaceToDepth and the NCHW dims of the input.
FailureOr<int64_t> blockSize(NodeContext &c, SmallVectorImpl<int64_t> &dims) {
  RankedTensorType type = c.inputType(0);
  if (type.getRank() != 4)
    return c.emitError(opName(c))
           << " input must be 4-D (NCHW), not rank " << type.getRank();
  dims.assign(type.getShape().begin(), type.getShape().end());
  int64_t block = c.getInt("blocksize", 0);
  if (block <= 0)
    return c.emitError(opName(c)) << " blocksize must be positive";
  return block;
}

ImportResult importDepthToSpace(NodeContext &c) {
  SmallVector<int64_t> dims;
  FailureOr<int64_t> block = blockSize(c, dims);
  if (failed(block))
    return failure();
  int64_t b = *block, n = dims[0], ch = dims[1], h = dims[2], w = dims[3];
  // ch % b^2 without computing b^2, which may overflow.
  if (ch % b != 0 || (ch / b) % b != 0)
    return c.emitError("DepthToSpace channels ")
           << ch << " are not divisible by blocksize^2 (blocksize " << b << ")";
  int64_t outH, outW;
  if (llvm::MulOverflow(h, b, outH) || llvm::MulOverflow(w, b, outW))
    return c.emitError("DepthToSpace result size overflows");
  int64_t outC = ch / b / b;
  std::string mode = c.getString("mode", "DCR");
  SmallVector<int64_t> result = {n, outC, outH, outW};
  if (mode == "DCR")
    return single(shuffle(c, c.input(0), {n, b, b, outC, h, w},
                          {0, 3, 4, 1, 5, 2}, result));
  if (mode == "CRD")
    return single(shuffle(c, c.input(0), {n, outC, b, b, h, w},
                          {0, 1, 4, 2, 5, 3}, result));
  return c.emitError("DepthToSpace mode must be DCR or CRD, not '")
         << mode << "'";
}

ImportResult importSpaceToDepth(NodeContext &c) {
  SmallVector<int64_t> dims;
  FailureOr<int64_t> block = blockSize(c, dims);
  if (failed(block))
    return failure();
  int64_t b = *block, n = dims[0], ch = dims[1], h = dims[2], w = dims[3];
  if (h % b != 0 || w % b != 0)
    return c.emitError("SpaceToDepth spatial dims ")
           << h << "x" << w << " are not divisible by blocksize " << b;
  int64_t outC;
  if (llvm::MulOverflow(ch, b, outC) || llvm::MulOverflow(outC, b, outC))
    return c.emitError("SpaceToDepth result size overflows");
  return single(shuffle(c, c.input(0), {n, ch, h / b, b, w / b, b},
                        {0, 3, 5, 1, 2, 4}, {n, outC, h / b, w / b}));
}

//===----------------------------------------------------------------------===//
// Transpose, Slice, Concat, Split
//===----------------------------------------------------------------------===//

ImportResult importTranspose(NodeContext &c) {
  int64_t rank = c.inputType(0).getRank();
  SmallVector<int64_t> perm;
  if (c.hasAttr("perm")) {
    perm = c.getInts("perm");
  } else {
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  }
  if (failed(checkPermutation(c, perm, rank)))
    return failure();
  return single(transpose(c, c.input(0), perm));
}

/// One dim of an ONNX slice, clamped as the spec says: negative starts and
/// ends count from the end, then starts go into [0, dim] and ends into
/// [0, dim] for positive steps, [0, dim - 1] and [-1, dim - 1] for negative
/// ones.
struct DimSlice {
  int64_t start, size, step;
};

DimSlice clampSlice(int64_t start, int64_t end, int64_t step, int64_t dim) {
  // An empty dim has no range to clamp into ([0, -1] for negative steps).
  if (dim == 0)
    return {0, 0, 1};
  // Adding dim (>= 0) to a negative value cannot overflow.
  if (start < 0)
    start += dim;
  if (end < 0)
    end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
  }
  return {start, static_cast<int64_t>(stridedCount(start, end, step)), step};
}

ImportResult importSlice(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  int64_t rank = type.getRank();
  SmallVector<int64_t> starts, ends, axes, steps;
  bool haveAxes, haveSteps = false;
  if (c.opset < 10) {
    starts = c.getInts("starts");
    ends = c.getInts("ends");
    haveAxes = c.hasAttr("axes");
    axes = c.getInts("axes");
  } else {
    auto read = [&](unsigned i, StringRef what,
                    SmallVectorImpl<int64_t> &out) -> LogicalResult {
      FailureOr<SmallVector<int64_t>> v = c.constantInts(i, what);
      if (failed(v))
        return failure();
      out.assign(v->begin(), v->end());
      return success();
    };
    haveAxes = c.hasInput(3);
    haveSteps = c.hasInput(4);
    if (failed(read(1, "Slice starts", starts)) ||
        failed(read(2, "Slice ends", ends)) ||
        (haveAxes && failed(read(3, "Slice axes", axes))) ||
        (haveSteps && failed(read(4, "Slice steps", steps))))
      return failure();
  }
  if (!haveAxes)
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (!haveSteps)
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return c.emitError("Slice starts, ends, axes and steps differ in length");
  FailureOr<SmallVector<int64_t>> normalized = normalizeAxes(c, axes, rank);
  if (failed(normalized))
    return failure();

  SmallVector<int64_t> outStarts(rank, 0), sizes(type.getShape()),
      outSteps(rank, 1);
  for (auto [i, axis] : llvm::enumerate(*normalized)) {
    if (steps[i] == 0)
      return c.emitError("Slice step must not be 0");
    DimSlice s =
        clampSlice(starts[i], ends[i], steps[i], type.getDimSize(axis));
    outStarts[axis] = s.start;
    sizes[axis] = s.size;
    outSteps[axis] = s.step;
  }
  return single(slice(c, c.input(0), outStarts, sizes, outSteps));
}

ImportResult importConcat(NodeContext &c) {
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < c.numInputs(); ++i)
    if (c.hasInput(i))
      inputs.push_back(c.input(i));
  if (inputs.empty())
    return c.emitError("Concat needs at least one input");
  // The axis became required in opset 4; before, it defaulted to 1.
  if (!c.hasAttr("axis") && c.opset >= 4)
    return c.emitError("Concat needs an axis");
  auto first = cast<RankedTensorType>(inputs[0].getType());
  FailureOr<int64_t> axis = axisOf(c, c.getInt("axis", 0), first.getRank());
  if (failed(axis))
    return failure();
  // Checked here: the op's type inference cannot report a mismatch.
  for (Value v : inputs) {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() != first.getRank() ||
        type.getElementType() != first.getElementType())
      return c.emitError("Concat inputs differ in rank or element type: ")
             << first << " and " << type;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (d != *axis && type.getDimSize(d) != first.getDimSize(d))
        return c.emitError("Concat inputs ")
               << first << " and " << type << " differ in dim " << d;
  }
  if (inputs.size() == 1)
    return single(inputs[0]);
  return single(
      g::ConcatOp::create(c.b, c.loc, inputs, c.b.getI64IntegerAttr(*axis)));
}

/// Sizes of Split's outputs along a dim of size `dim`.
FailureOr<SmallVector<int64_t>> splitSizes(NodeContext &c, int64_t dim) {
  unsigned outputs = c.numOutputs();
  FailureOr<OptionalInts> given = intsByOpset(c, "split", 1, 13);
  if (failed(given))
    return failure();
  SmallVector<int64_t> sizes;
  if (*given && !(*given)->empty()) {
    sizes = **given;
  } else {
    int64_t parts = outputs;
    if (c.opset >= 18 && c.hasAttr("num_outputs")) {
      parts = c.getInt("num_outputs", 0);
      if (parts != static_cast<int64_t>(outputs))
        return c.emitError("Split num_outputs ")
               << parts << " differs from the " << outputs << " outputs listed";
    }
    if (parts <= 0)
      return c.emitError("Split has no outputs");
    if (dim % parts == 0) {
      sizes.assign(parts, dim / parts);
    } else if (c.opset >= 18) {
      // Opset 18: chunks of ceil(dim / parts), the last one smaller.
      int64_t chunk = dim / parts + 1;
      sizes.assign(parts, chunk);
      sizes.back() = dim - chunk * (parts - 1);
      if (sizes.back() < 0)
        return c.emitError("Split cannot cut dim ")
               << dim << " into " << parts << " chunks of " << chunk;
    } else {
      return c.emitError("Split cannot divide dim ")
             << dim << " into " << parts << " equal parts";
    }
  }
  if (sizes.size() != outputs)
    return c.emitError("Split gives ")
           << sizes.size() << " sizes for " << outputs << " outputs";
  int64_t sum = 0;
  for (int64_t s : sizes)
    if (s < 0 || llvm::AddOverflow(sum, s, sum))
      return c.emitError("Split sizes must be non-negative");
  if (sum != dim)
    return c.emitError("Split sizes add up to ")
           << sum << " but the dim has size " << dim;
  return sizes;
}

ImportResult importSplit(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  FailureOr<int64_t> axis = axisOf(c, c.getInt("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  FailureOr<SmallVector<int64_t>> sizes = splitSizes(c, type.getDimSize(*axis));
  if (failed(sizes))
    return failure();
  SmallVector<int64_t> starts(type.getRank(), 0), shape(type.getShape()),
      steps(type.getRank(), 1);
  SmallVector<Value> results;
  for (auto [i, size] : llvm::enumerate(*sizes)) {
    shape[*axis] = size;
    results.push_back(
        c.hasOutput(i) ? slice(c, c.input(0), starts, shape, steps) : Value());
    starts[*axis] += size;
  }
  return results;
}

//===----------------------------------------------------------------------===//
// Expand, Tile, Pad
//===----------------------------------------------------------------------===//

ImportResult importExpand(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  FailureOr<SmallVector<int64_t>> shape = c.constantInts(1, "Expand shape");
  if (failed(shape))
    return failure();
  if (llvm::any_of(*shape, [](int64_t d) { return d < 0; }))
    return c.emitError("Expand shape has a negative dim");
  // Bidirectional: the result is the broadcast of both shapes, which may be
  // larger than the requested one.
  FailureOr<SmallVector<int64_t>> result =
      g::broadcastShapes(type.getShape(), *shape);
  if (failed(result))
    return c.emitError("Expand cannot broadcast ")
           << type << " to the requested shape";
  if (ArrayRef<int64_t>(*result) == type.getShape())
    return single(c.input(0));
  return single(
      g::BroadcastToOp::create(c.b, c.loc, type.clone(*result), c.input(0)));
}

ImportResult importTile(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  FailureOr<SmallVector<int64_t>> repeats = c.constantInts(1, "Tile repeats");
  if (failed(repeats))
    return failure();
  if (static_cast<int64_t>(repeats->size()) != type.getRank())
    return c.emitError("Tile repeats has ")
           << repeats->size() << " entries for rank " << type.getRank();
  SmallVector<int64_t> shape;
  for (auto [d, r] : llvm::zip(type.getShape(), *repeats)) {
    int64_t size;
    if (r < 0)
      return c.emitError("Tile repeats must be non-negative");
    if (llvm::MulOverflow(d, r, size))
      return c.emitError("Tile result size overflows");
    shape.push_back(size);
  }
  if (!elementCount(shape))
    return c.emitError("Tile result size overflows");
  return single(g::TileOp::create(c.b, c.loc, c.input(0),
                                  c.b.getDenseI64ArrayAttr(*repeats)));
}

/// Pad's pads ([begin..., end...] over every dim) and constant value.
LogicalResult padOperands(NodeContext &c, int64_t rank,
                          SmallVectorImpl<int64_t> &pads, double &value) {
  value = 0;
  if (c.opset < 11) {
    pads.assign(c.getInts("pads"));
    value = c.getFloat("value", 0);
  } else {
    FailureOr<SmallVector<int64_t>> given = c.constantInts(1, "Pad pads");
    if (failed(given))
      return failure();
    pads.assign(given->begin(), given->end());
    if (c.hasInput(2)) {
      FailureOr<SmallVector<double>> v =
          c.constantFloats(2, "Pad constant_value");
      if (failed(v))
        return failure();
      if (v->size() > 1)
        return c.emitError("Pad constant_value must be a scalar");
      if (!v->empty())
        value = v->front();
    }
    // Opset 18: pads only for the listed axes.
    if (c.opset >= 18 && c.hasInput(3)) {
      FailureOr<SmallVector<int64_t>> axes = c.constantInts(3, "Pad axes");
      if (failed(axes))
        return failure();
      FailureOr<SmallVector<int64_t>> normalized =
          normalizeAxes(c, *axes, rank);
      if (failed(normalized))
        return failure();
      size_t n = normalized->size();
      if (pads.size() != 2 * n)
        return c.emitError("Pad pads has ")
               << pads.size() << " entries for " << n << " axes";
      SmallVector<int64_t> full(2 * rank, 0);
      for (auto [i, axis] : llvm::enumerate(*normalized)) {
        full[axis] = pads[i];
        full[axis + rank] = pads[i + n];
      }
      pads.assign(full);
    }
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank)
    return c.emitError("Pad pads has ")
           << pads.size() << " entries for rank " << rank;
  return success();
}

ImportResult importPad(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  int64_t rank = type.getRank();
  std::string mode = c.getString("mode", "constant");
  if (mode == "wrap")
    return c.emitError("unsupported Pad mode 'wrap'");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return c.emitError("unknown Pad mode '") << mode << "'";
  SmallVector<int64_t> pads;
  double value;
  if (failed(padOperands(c, rank, pads, value)))
    return failure();

  // Negative pads crop: slice them off first, then pad with the rest.
  SmallVector<int64_t> starts(rank, 0), sizes(type.getShape()), steps(rank, 1),
      positive(2 * rank, 0);
  for (int64_t d = 0; d < rank; ++d) {
    int64_t dim = type.getDimSize(d), begin = pads[d], end = pads[d + rank];
    if (begin < -dim || end < -dim ||
        dim + std::min<int64_t>(begin, 0) + std::min<int64_t>(end, 0) < 0)
      return c.emitError("Pad crops more than dim ")
             << d << " of size " << dim << " holds";
    starts[d] = -std::min<int64_t>(begin, 0);
    sizes[d] = dim + std::min<int64_t>(begin, 0) + std::min<int64_t>(end, 0);
    positive[d] = std::max<int64_t>(begin, 0);
    positive[d + rank] = std::max<int64_t>(end, 0);
    int64_t padded;
    if (llvm::AddOverflow(sizes[d], positive[d], padded) ||
        llvm::AddOverflow(padded, positive[d + rank], padded))
      return c.emitError("Pad result size overflows");
    bool grows = positive[d] > 0 || positive[d + rank] > 0;
    if (grows && mode == "reflect" &&
        (positive[d] >= sizes[d] || positive[d + rank] >= sizes[d]))
      return c.emitError("reflect pads of dim ")
             << d << " must be smaller than its size " << sizes[d];
    if (grows && mode == "edge" && sizes[d] == 0)
      return c.emitError("edge padding of dim ") << d << ", which is empty";
  }
  if (!elementCount(sizes))
    return c.emitError("Pad result size overflows");
  Value cropped = slice(c, c.input(0), starts, sizes, steps);
  if (llvm::all_of(positive, [](int64_t p) { return p == 0; }))
    return single(cropped);
  return single(
      g::PadOp::create(c.b, c.loc, cropped, c.b.getDenseI64ArrayAttr(positive),
                       c.b.getStringAttr(mode), c.b.getF64FloatAttr(value)));
}

//===----------------------------------------------------------------------===//
// Gather and scatter
//===----------------------------------------------------------------------===//

LogicalResult checkIndices(NodeContext &c, unsigned i) {
  if (!isIndexTensor(c.input(i).getType()))
    return c.emitError(opName(c)) << " indices must be int32 or int64, not "
                                  << c.inputType(i).getElementType();
  return success();
}

ImportResult importGather(NodeContext &c) {
  if (failed(checkIndices(c, 1)))
    return failure();
  FailureOr<int64_t> axis =
      axisOf(c, c.getInt("axis", 0), c.inputType(0).getRank());
  if (failed(axis))
    return failure();
  return single(g::GatherOp::create(c.b, c.loc, c.input(0), c.input(1),
                                    c.b.getI64IntegerAttr(*axis)));
}

/// GatherElements / ScatterElements: indices of data's rank whose dims off
/// the axis stay within data's (so that no access leaves data).
FailureOr<int64_t> elementsAxis(NodeContext &c, RankedTensorType data,
                                RankedTensorType indices) {
  if (failed(checkIndices(c, 1)))
    return failure();
  if (indices.getRank() != data.getRank())
    return c.emitError(opName(c))
           << " indices must have data's rank " << data.getRank();
  FailureOr<int64_t> axis = axisOf(c, c.getInt("axis", 0), data.getRank());
  if (failed(axis))
    return failure();
  for (int64_t d = 0; d < data.getRank(); ++d)
    if (d != *axis && indices.getDimSize(d) > data.getDimSize(d))
      return c.emitError(opName(c))
             << " indices dim " << d << " (" << indices.getDimSize(d)
             << ") exceeds data's (" << data.getDimSize(d) << ")";
  return axis;
}

ImportResult importGatherElements(NodeContext &c) {
  RankedTensorType data = c.inputType(0), indices = c.inputType(1);
  FailureOr<int64_t> axis = elementsAxis(c, data, indices);
  if (failed(axis))
    return failure();
  return single(g::GatherElementsOp::create(
      c.b, c.loc, indices.clone(data.getElementType()), c.input(0), c.input(1),
      c.b.getI64IntegerAttr(*axis)));
}

ImportResult importGatherND(NodeContext &c) {
  if (failed(checkIndices(c, 1)))
    return failure();
  RankedTensorType data = c.inputType(0), indices = c.inputType(1);
  int64_t b = c.getInt("batch_dims", 0);
  if (indices.getRank() < 1 || b < 0 || b >= indices.getRank() ||
      b >= data.getRank())
    return c.emitError("GatherND batch_dims ")
           << b << " is out of range for data rank " << data.getRank()
           << " and indices rank " << indices.getRank();
  if (data.getShape().take_front(b) != indices.getShape().take_front(b))
    return c.emitError("GatherND batch dims of data and indices differ");
  int64_t depth = indices.getShape().back();
  if (depth < 1 || depth > data.getRank() - b)
    return c.emitError("GatherND index tuples of length ")
           << depth << " do not fit data of rank " << data.getRank() << " with "
           << b << " batch dims";
  SmallVector<int64_t> shape(indices.getShape().drop_back());
  llvm::append_range(shape, data.getShape().drop_front(b + depth));
  return single(g::GatherNDOp::create(
      c.b, c.loc, RankedTensorType::get(shape, data.getElementType()),
      c.input(0), c.input(1), c.b.getI64IntegerAttr(b)));
}

/// The `reduction` attribute of the scatter ops (absent before opset 16).
FailureOr<std::string> scatterReduction(NodeContext &c) {
  std::string reduction = c.getString("reduction", "none");
  static const char *const kinds[] = {"none", "add", "mul", "max", "min"};
  if (!llvm::is_contained(kinds, reduction))
    return c.emitError("unsupported ")
           << opName(c) << " reduction '" << reduction << "'";
  return reduction;
}

/// Updates must have data's element type.
LogicalResult checkUpdates(NodeContext &c) {
  if (c.inputType(2).getElementType() != c.inputType(0).getElementType())
    return c.emitError(opName(c)) << " updates and data differ in type";
  return success();
}

ImportResult importScatterElements(NodeContext &c) {
  RankedTensorType data = c.inputType(0), indices = c.inputType(1);
  FailureOr<int64_t> axis = elementsAxis(c, data, indices);
  if (failed(axis) || failed(checkUpdates(c)))
    return failure();
  FailureOr<std::string> reduction = scatterReduction(c);
  if (failed(reduction))
    return failure();
  if (c.inputType(2).getShape() != indices.getShape())
    return c.emitError(opName(c)) << " indices and updates differ in shape";
  return single(g::ScatterElementsOp::create(
      c.b, c.loc, data, c.input(0), c.input(1), c.input(2),
      c.b.getI64IntegerAttr(*axis), c.b.getStringAttr(*reduction)));
}

ImportResult importScatterND(NodeContext &c) {
  if (failed(checkIndices(c, 1)) || failed(checkUpdates(c)))
    return failure();
  RankedTensorType data = c.inputType(0), indices = c.inputType(1);
  FailureOr<std::string> reduction = scatterReduction(c);
  if (failed(reduction))
    return failure();
  if (indices.getRank() < 1)
    return c.emitError("ScatterND indices must have rank >= 1");
  int64_t depth = indices.getShape().back();
  if (depth > data.getRank())
    return c.emitError("ScatterND index tuples of length ")
           << depth << " exceed data's rank " << data.getRank();
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(depth));
  if (c.inputType(2).getShape() != ArrayRef<int64_t>(expected))
    return c.emitError("ScatterND updates must have shape indices[:-1] + "
                       "data[q:]");
  return single(g::ScatterNDOp::create(c.b, c.loc, data, c.input(0), c.input(1),
                                       c.input(2),
                                       c.b.getStringAttr(*reduction)));
}

//===----------------------------------------------------------------------===//
// Trilu, OneHot
//===----------------------------------------------------------------------===//

ImportResult importTrilu(NodeContext &c) {
  RankedTensorType type = c.inputType(0);
  if (type.getRank() < 2)
    return c.emitError("Trilu input must have rank >= 2");
  int64_t k = 0;
  if (c.hasInput(1)) {
    FailureOr<int64_t> given = scalarInt(c, 1, "Trilu k");
    if (failed(given))
      return failure();
    k = *given;
  }
  return single(g::TriluOp::create(c.b, c.loc, type, c.input(0),
                                   c.b.getBoolAttr(c.getInt("upper", 1) != 0),
                                   c.b.getI64IntegerAttr(k)));
}

ImportResult importOneHot(NodeContext &c) {
  RankedTensorType indices = c.inputType(0), values = c.inputType(2);
  if (indices.getElementType().isInteger(1))
    return c.emitError("OneHot indices must be numeric");
  // Depth may be any numeric type; the spec casts it to int64.
  FailureOr<double> depth = scalarFloat(c, 1, "OneHot depth");
  if (failed(depth))
    return failure();
  if (!(*depth >= 1 && *depth < 0x1p62))
    return c.emitError("OneHot depth must be positive, not ") << *depth;
  if (values.getNumElements() != 2)
    return c.emitError("OneHot values must hold [off, on]");
  // The axis indexes the output, one rank higher than indices.
  int64_t outRank = indices.getRank() + 1;
  FailureOr<int64_t> axis = axisOf(c, c.getInt("axis", -1), outRank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(indices.getShape());
  shape.insert(shape.begin() + *axis, static_cast<int64_t>(*depth));
  if (!elementCount(shape))
    return c.emitError("OneHot result size overflows");
  return single(g::OneHotOp::create(
      c.b, c.loc, RankedTensorType::get(shape, values.getElementType()),
      c.input(0), c.input(2), c.b.getI64IntegerAttr(*axis)));
}

//===----------------------------------------------------------------------===//
// Resize, Upsample
//===----------------------------------------------------------------------===//

/// The resampling settings of graph.resize.
struct ResizeModes {
  std::string mode, coordinates, nearest;
  double cubicA = -0.75;
  bool excludeOutside = false;
  std::string policy = "stretch";
};

FailureOr<ResizeModes> resizeModes(NodeContext &c, bool legacy) {
  ResizeModes m;
  m.mode = c.getString("mode", "nearest");
  if (m.mode != "nearest" && m.mode != "linear" &&
      (m.mode != "cubic" || legacy))
    return c.emitError("unsupported ")
           << opName(c) << " mode '" << m.mode << "'";
  // Upsample and Resize-10 predate these attributes: they sample at
  // x_out / scale and take the floor for nearest.
  if (legacy) {
    m.coordinates = "asymmetric";
    m.nearest = "floor";
    return m;
  }
  m.coordinates = c.getString("coordinate_transformation_mode", "half_pixel");
  static const char *const coordinateModes[] = {
      "half_pixel", "asymmetric", "pytorch_half_pixel", "align_corners",
      "tf_half_pixel_for_nn", "half_pixel_symmetric"};
  if (!llvm::is_contained(coordinateModes, m.coordinates))
    return c.emitError("unsupported Resize coordinate_transformation_mode '")
           << m.coordinates << "'";
  m.nearest = c.getString("nearest_mode", "round_prefer_floor");
  static const char *const nearestModes[] = {
      "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  if (!llvm::is_contained(nearestModes, m.nearest))
    return c.emitError("unsupported Resize nearest_mode '") << m.nearest << "'";
  m.cubicA = c.getFloat("cubic_coeff_a", -0.75);
  m.excludeOutside = c.getInt("exclude_outside", 0) != 0;
  if (c.getInt("antialias", 0) != 0)
    return c.emitError("unsupported Resize antialias = 1");
  m.policy = c.getString("keep_aspect_ratio_policy", "stretch");
  if (m.policy != "stretch" && m.policy != "not_larger" &&
      m.policy != "not_smaller")
    return c.emitError("unsupported Resize keep_aspect_ratio_policy '")
           << m.policy << "'";
  return m;
}

/// Where a Resize/Upsample node gives its scales and sizes.
struct ResizeInputs {
  std::optional<SmallVector<double>> scales;
  OptionalInts sizes;
};

FailureOr<ResizeInputs> resizeInputs(NodeContext &c, bool upsample) {
  ResizeInputs in;
  // Optional inputs may be listed with no elements to mean "absent".
  auto given = [&](unsigned i) {
    return c.hasInput(i) && c.inputType(i).getNumElements() != 0;
  };
  auto readScales = [&](unsigned i) -> LogicalResult {
    FailureOr<SmallVector<double>> v = c.constantFloats(i, opName(c, "scales"));
    if (failed(v))
      return failure();
    in.scales = std::move(*v);
    return success();
  };
  if (upsample && c.opset < 9) {
    in.scales = c.getFloats("scales");
  } else if (upsample || c.opset == 10) {
    if (failed(readScales(1)))
      return failure();
  } else {
    if (given(2) && failed(readScales(2)))
      return failure();
    if (given(3)) {
      FailureOr<SmallVector<int64_t>> v = c.constantInts(3, "Resize sizes");
      if (failed(v))
        return failure();
      in.sizes = std::move(*v);
    }
  }
  if (in.scales.has_value() == in.sizes.has_value())
    return c.emitError(opName(c)) << " needs exactly one of scales and sizes";
  return in;
}

ImportResult importResize(NodeContext &c) {
  bool upsample = c.node.op_type() == "Upsample";
  FailureOr<ResizeModes> modes = resizeModes(c, upsample || c.opset < 11);
  if (failed(modes))
    return failure();
  FailureOr<ResizeInputs> given = resizeInputs(c, upsample);
  if (failed(given))
    return failure();
  RankedTensorType type = c.inputType(0);
  int64_t rank = type.getRank();
  if (type.getElementType().isInteger(1))
    return c.emitError(opName(c)) << " of booleans is not supported";

  // Opset 18's axes: scales or sizes for those dims only.
  SmallVector<int64_t> axes;
  if (!upsample && c.opset >= 18 && c.hasAttr("axes")) {
    FailureOr<SmallVector<int64_t>> normalized =
        normalizeAxes(c, c.getInts("axes"), rank);
    if (failed(normalized))
      return failure();
    axes = std::move(*normalized);
  } else {
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  }
  size_t count = given->scales ? given->scales->size() : given->sizes->size();
  if (count != axes.size())
    return c.emitError(opName(c))
           << (given->scales ? " scales" : " sizes") << " has " << count
           << " entries for " << axes.size() << " dims";

  SmallVector<double> scales(rank, 1.0);
  SmallVector<int64_t> shape(type.getShape());
  // keep_aspect_ratio_policy with sizes: one scale for every given axis,
  // the smallest (not_larger) or largest (not_smaller) of out / in, and
  // the sizes rounded from it.
  std::optional<double> common;
  if (given->sizes && modes->policy != "stretch")
    for (auto [i, axis] : llvm::enumerate(axes)) {
      int64_t in = type.getDimSize(axis), out = (*given->sizes)[i];
      if (out <= 0 || in == 0)
        return c.emitError("Resize cannot resize dim ")
               << axis << " from " << in << " to " << out;
      double r = static_cast<double>(out) / static_cast<double>(in);
      common = !common ? r
               : modes->policy == "not_larger" ? std::min(*common, r)
                                               : std::max(*common, r);
    }
  for (auto [i, axis] : llvm::enumerate(axes)) {
    int64_t in = type.getDimSize(axis);
    if (given->scales) {
      // Given scales are kept as is; the output is floor(in * scale).
      double scale = (*given->scales)[i];
      double out = std::floor(static_cast<double>(in) * scale);
      if (!(scale > 0) || !(out < 0x1p62))
        return c.emitError(opName(c)) << " scale " << scale << " of dim "
                                      << axis << " must be positive and finite";
      scales[axis] = scale;
      shape[axis] = static_cast<int64_t>(out);
    } else {
      // Given sizes imply the scale out / in.
      int64_t out = (*given->sizes)[i];
      if (out <= 0 || in == 0)
        return c.emitError("Resize cannot resize dim ")
               << axis << " from " << in << " to " << out;
      if (common) {
        scales[axis] = *common;
        shape[axis] = static_cast<int64_t>(
            std::round(*common * static_cast<double>(in)));
        continue;
      }
      scales[axis] = static_cast<double>(out) / static_cast<double>(in);
      shape[axis] = out;
    }
  }
  if (!elementCount(shape))
    return c.emitError(opName(c)) << " result size overflows";
  return single(g::ResizeOp::create(
      c.b, c.loc, type.clone(shape), c.input(0), c.b.getStringAttr(modes->mode),
      c.b.getStringAttr(modes->coordinates), c.b.getStringAttr(modes->nearest),
      c.b.getDenseF64ArrayAttr(scales), c.b.getF64FloatAttr(modes->cubicA),
      c.b.getBoolAttr(modes->excludeOutside)));
}
} // namespace

void mlir::llmc::onnximport::registerTensorOps(OpImporterRegistry &r) {
  r.add("Constant", importConstant);
  r.add("Identity", [](NodeContext &c) { return single(c.input(0)); });
  r.add("Shape", importShape);
  r.add("Size", importSize);
  r.add("ConstantOfShape", importConstantOfShape);
  r.add("EyeLike", importEyeLike);
  r.add("Range", importRange);

  r.add("Reshape", importReshape);
  r.add("Flatten", importFlatten);
  r.add("Squeeze", importSqueeze);
  r.add("Unsqueeze", importUnsqueeze);
  r.add("DepthToSpace", importDepthToSpace);
  r.add("SpaceToDepth", importSpaceToDepth);

  r.add("Transpose", importTranspose);
  r.add("Slice", importSlice);
  r.add("Concat", importConcat);
  r.add("Split", importSplit);

  r.add("Expand", importExpand);
  r.add("Tile", importTile);
  r.add("Pad", importPad);

  r.add("Gather", importGather);
  r.add("GatherElements", importGatherElements);
  r.add("GatherND", importGatherND);
  r.add("ScatterElements", importScatterElements);
  // Scatter is ScatterElements under its pre-opset-11 name.
  r.add("Scatter", 1, 10, importScatterElements);
  r.add("ScatterND", importScatterND);

  r.add("Trilu", importTrilu);
  r.add("OneHot", importOneHot);

  r.add("Resize", importResize);
  r.add("Upsample", 7, 9, importResize);
}
