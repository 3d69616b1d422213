//===- GraphOps.cpp - Verifiers, type inference, custom syntax ------------===//
//
// Type inference follows the ONNX operator specifications for static shapes;
// verifiers reject what the lowering could not execute correctly.
//
//===----------------------------------------------------------------------===//

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::llmc::graph;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<int64_t>>
mlir::llmc::graph::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x == y || y == 1)
      out[i] = x;
    else if (x == 1)
      out[i] = y;
    else
      return failure();
  }
  return out;
}

bool mlir::llmc::graph::isUnsignedInteger(Type type) {
  auto intType = dyn_cast<IntegerType>(getElementTypeOrSelf(type));
  return intType && intType.isUnsigned();
}

Type mlir::llmc::graph::getStorageType(Type type) {
  auto intType = dyn_cast<IntegerType>(type);
  if (intType && !intType.isSignless())
    return IntegerType::get(type.getContext(), intType.getWidth());
  return type;
}

static RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type elementType) {
  return RankedTensorType::get(shape, elementType);
}

static int64_t shapeElementCount(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Checks `axis` against `rank`: valid axes are in [0, rank).
static LogicalResult checkAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank)
    return op->emitOpError("axis ") << axis << " is out of range for rank "
                                    << rank;
  return success();
}

//===----------------------------------------------------------------------===//
// Type inference
//===----------------------------------------------------------------------===//

static LogicalResult inferBroadcast(std::optional<Location> loc,
                                    ValueRange operands, Type elementType,
                                    SmallVectorImpl<Type> &results) {
  SmallVector<int64_t> shape;
  for (Value v : operands) {
    auto type = cast<RankedTensorType>(v.getType());
    FailureOr<SmallVector<int64_t>> b = broadcastShapes(shape, type.getShape());
    if (failed(b))
      return emitOptionalError(loc, "operands are not broadcast-compatible");
    shape = *b;
  }
  results.push_back(tensorOf(shape, elementType));
  return success();
}

#define LLMC_INFER_BROADCAST(OP, ELEMENT_TYPE)                                 \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *context, std::optional<Location> location,                  \
      ValueRange operands, DictionaryAttr, OpaqueProperties, RegionRange,      \
      SmallVectorImpl<Type> &inferred) {                                       \
    if (operands.size() < 2)                                                   \
      return failure();                                                        \
    Type lhsElement = getElementTypeOrSelf(operands[0].getType());             \
    (void)lhsElement;                                                          \
    return inferBroadcast(location, operands, ELEMENT_TYPE, inferred);         \
  }

#define LLMC_SAME_ELEMENT lhsElement
#define LLMC_BOOL_ELEMENT IntegerType::get(context, 1)
LLMC_INFER_BROADCAST(AddOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(SubOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(MulOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(DivOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(PowOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(ModOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(MinOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(MaxOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(PReluOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(BitShiftOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(AndOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(OrOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(XorOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(BitwiseAndOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(BitwiseOrOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(BitwiseXorOp, LLMC_SAME_ELEMENT)
LLMC_INFER_BROADCAST(EqualOp, LLMC_BOOL_ELEMENT)
LLMC_INFER_BROADCAST(LessOp, LLMC_BOOL_ELEMENT)
LLMC_INFER_BROADCAST(LessEqualOp, LLMC_BOOL_ELEMENT)
LLMC_INFER_BROADCAST(GreaterOp, LLMC_BOOL_ELEMENT)
LLMC_INFER_BROADCAST(GreaterEqualOp, LLMC_BOOL_ELEMENT)
#undef LLMC_INFER_BROADCAST

LogicalResult WhereOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        ValueRange operands, DictionaryAttr,
                                        OpaqueProperties, RegionRange,
                                        SmallVectorImpl<Type> &inferred) {
  if (operands.size() != 3)
    return failure();
  if (getElementTypeOrSelf(operands[1].getType()) !=
      getElementTypeOrSelf(operands[2].getType()))
    return emitOptionalError(loc, "both branches must have one element type");
  return inferBroadcast(loc, operands,
                        getElementTypeOrSelf(operands[1].getType()), inferred);
}

/// Result shape of a reduction over sorted, non-negative `axes`.
static SmallVector<int64_t> reducedShape(ArrayRef<int64_t> shape,
                                         ArrayRef<int64_t> axes,
                                         bool keepdims) {
  SmallVector<int64_t> out;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (llvm::is_contained(axes, static_cast<int64_t>(i))) {
      if (keepdims)
        out.push_back(1);
    } else {
      out.push_back(d);
    }
  }
  return out;
}

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                         ValueRange operands,
                                         DictionaryAttr attributes,
                                         OpaqueProperties properties,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  inferred.push_back(tensorOf(
      reducedShape(type.getShape(), adaptor.getAxes(), adaptor.getKeepdims()),
      type.getElementType()));
  return success();
}

LogicalResult ArgReduceOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  int64_t axis = adaptor.getAxis();
  inferred.push_back(
      tensorOf(reducedShape(type.getShape(), {axis}, adaptor.getKeepdims()),
               IntegerType::get(context, 64)));
  return success();
}

LogicalResult TopKOp::inferReturnTypes(MLIRContext *context,
                                       std::optional<Location>,
                                       ValueRange operands,
                                       DictionaryAttr attributes,
                                       OpaqueProperties properties,
                                       RegionRange regions,
                                       SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  SmallVector<int64_t> shape(type.getShape());
  int64_t axis = adaptor.getAxis();
  if (axis >= 0 && axis < static_cast<int64_t>(shape.size()))
    shape[axis] = adaptor.getK();
  inferred.push_back(tensorOf(shape, type.getElementType()));
  inferred.push_back(tensorOf(shape, IntegerType::get(context, 64)));
  return success();
}

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr,
                                         OpaqueProperties, RegionRange,
                                         SmallVectorImpl<Type> &inferred) {
  auto lhs = cast<RankedTensorType>(operands[0].getType());
  auto rhs = cast<RankedTensorType>(operands[1].getType());
  if (lhs.getRank() == 0 || rhs.getRank() == 0)
    return emitOptionalError(loc, "matmul operands must have rank >= 1");
  if (lhs.getElementType() != rhs.getElementType())
    return emitOptionalError(loc, "matmul operands must have one element type");
  // Promote 1-D operands as numpy does, then drop the added dims.
  SmallVector<int64_t> a(lhs.getShape()), b(rhs.getShape());
  bool lhsVector = a.size() == 1, rhsVector = b.size() == 1;
  if (lhsVector)
    a.insert(a.begin(), 1);
  if (rhsVector)
    b.push_back(1);
  if (a.back() != b[b.size() - 2])
    return emitOptionalError(loc, "matmul contraction dims differ: ", a.back(),
                             " vs ", b[b.size() - 2]);
  FailureOr<SmallVector<int64_t>> batch =
      broadcastShapes(ArrayRef<int64_t>(a).drop_back(2),
                      ArrayRef<int64_t>(b).drop_back(2));
  if (failed(batch))
    return emitOptionalError(loc, "matmul batch dims do not broadcast");
  SmallVector<int64_t> shape = *batch;
  if (!lhsVector)
    shape.push_back(a[a.size() - 2]);
  if (!rhsVector)
    shape.push_back(b.back());
  inferred.push_back(tensorOf(shape, lhs.getElementType()));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if (static_cast<int64_t>(perm.size()) != type.getRank())
    return emitOptionalError(loc, "perm size differs from the input rank");
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= type.getRank())
      return emitOptionalError(loc, "perm entry out of range");
    shape.push_back(type.getDimSize(p));
  }
  inferred.push_back(tensorOf(shape, type.getElementType()));
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        ValueRange operands,
                                        DictionaryAttr attributes,
                                        OpaqueProperties properties,
                                        RegionRange regions,
                                        SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  inferred.push_back(tensorOf(adaptor.getSizes(), type.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         ValueRange operands,
                                         DictionaryAttr attributes,
                                         OpaqueProperties properties,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  if (operands.empty())
    return emitOptionalError(loc, "concat needs at least one input");
  auto first = cast<RankedTensorType>(operands[0].getType());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= first.getRank())
    return emitOptionalError(loc, "concat axis out of range");
  SmallVector<int64_t> shape(first.getShape());
  shape[axis] = 0;
  for (Value v : operands) {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() != first.getRank() ||
        type.getElementType() != first.getElementType())
      return emitOptionalError(loc, "concat inputs differ in rank or type");
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (d != axis && type.getDimSize(d) != first.getDimSize(d))
        return emitOptionalError(loc, "concat inputs differ in dim ", d);
    shape[axis] += type.getDimSize(axis);
  }
  inferred.push_back(tensorOf(shape, first.getElementType()));
  return success();
}

LogicalResult PadOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                      ValueRange operands,
                                      DictionaryAttr attributes,
                                      OpaqueProperties properties,
                                      RegionRange regions,
                                      SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> pads = adaptor.getPads();
  if (static_cast<int64_t>(pads.size()) != 2 * type.getRank())
    return emitOptionalError(loc, "pads must hold 2 * rank values");
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t d = 0; d < type.getRank(); ++d)
    shape[d] += pads[d] + pads[d + type.getRank()];
  inferred.push_back(tensorOf(shape, type.getElementType()));
  return success();
}

LogicalResult TileOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                       ValueRange operands,
                                       DictionaryAttr attributes,
                                       OpaqueProperties properties,
                                       RegionRange regions,
                                       SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> repeats = adaptor.getRepeats();
  if (static_cast<int64_t>(repeats.size()) != type.getRank())
    return emitOptionalError(loc, "repeats must hold one value per dim");
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t d = 0; d < type.getRank(); ++d)
    shape[d] *= repeats[d];
  inferred.push_back(tensorOf(shape, type.getElementType()));
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         ValueRange operands,
                                         DictionaryAttr attributes,
                                         OpaqueProperties properties,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto data = cast<RankedTensorType>(adaptor.getData().getType());
  auto indices = cast<RankedTensorType>(adaptor.getIndices().getType());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= data.getRank())
    return emitOptionalError(loc, "gather axis out of range");
  SmallVector<int64_t> shape(data.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, data.getShape().drop_front(axis + 1));
  inferred.push_back(tensorOf(shape, data.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError("approximate must be \"none\" or \"tanh\"");
  return success();
}

LogicalResult BitShiftOp::verify() {
  if (getDirection() != "LEFT" && getDirection() != "RIGHT")
    return emitOpError("direction must be \"LEFT\" or \"RIGHT\"");
  return success();
}

LogicalResult BroadcastToOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("element types differ");
  FailureOr<SmallVector<int64_t>> b =
      broadcastShapes(in.getShape(), out.getShape());
  if (failed(b) || ArrayRef<int64_t>(*b) != out.getShape())
    return emitOpError("input does not broadcast to the result shape");
  return success();
}

static const char *const kReduceKinds[] = {
    "sum", "mean", "max", "min", "prod", "l1", "l2", "log_sum",
    "log_sum_exp", "sum_square"};

LogicalResult ReduceOp::verify() {
  if (!llvm::is_contained(kReduceKinds, getKind()))
    return emitOpError("unknown reduction kind \"") << getKind() << "\"";
  int64_t rank = getInput().getType().getRank(), previous = -1;
  for (int64_t axis : getAxes()) {
    if (failed(checkAxis(*this, axis, rank)))
      return failure();
    if (axis <= previous)
      return emitOpError("axes must be sorted and unique");
    previous = axis;
  }
  return success();
}

LogicalResult ArgReduceOp::verify() {
  if (getKind() != "max" && getKind() != "min")
    return emitOpError("kind must be \"max\" or \"min\"");
  return checkAxis(*this, getAxis(), getInput().getType().getRank());
}

LogicalResult CumSumOp::verify() {
  return checkAxis(*this, getAxis(), getInput().getType().getRank());
}

LogicalResult TopKOp::verify() {
  auto type = getInput().getType();
  if (failed(checkAxis(*this, getAxis(), type.getRank())))
    return failure();
  int64_t k = static_cast<int64_t>(getK());
  if (k < 0 || k > type.getDimSize(getAxis()))
    return emitOpError("k = ") << k << " exceeds the axis size "
                               << type.getDimSize(getAxis());
  return success();
}

template <typename OpTy>
static LogicalResult verifyAxisOp(OpTy op) {
  return checkAxis(op, op.getAxis(), op.getInput().getType().getRank());
}
LogicalResult SoftmaxOp::verify() { return verifyAxisOp(*this); }
LogicalResult LogSoftmaxOp::verify() { return verifyAxisOp(*this); }
LogicalResult HardmaxOp::verify() { return verifyAxisOp(*this); }

LogicalResult AttentionOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  auto out = getOutput().getType();
  if (q.getRank() != 5 || k.getRank() != 4 || v.getRank() != 4 ||
      out.getRank() != 5)
    return emitOpError("query and result must be [B, KVH, G, L, D|E], key "
                       "and value [B, KVH, S, D|E]");
  Type element = q.getElementType();
  if (k.getElementType() != element || v.getElementType() != element ||
      out.getElementType() != element ||
      (getBias() && getBias().getType().getElementType() != element))
    return emitOpError("operands and result must have one element type");
  ArrayRef<int64_t> qs = q.getShape(), ks = k.getShape(), vs = v.getShape();
  if (ks[0] != qs[0] || vs[0] != qs[0] || ks[1] != qs[1] || vs[1] != qs[1])
    return emitOpError("key and value must have the query's batch and KV "
                       "heads");
  if (ks[2] != vs[2])
    return emitOpError("key and value must have the same number of keys");
  if (ks[3] != qs[4])
    return emitOpError("key must have the query's head size ") << qs[4];
  SmallVector<int64_t> want{qs[0], qs[1], qs[2], qs[3], vs[3]};
  if (out.getShape() != ArrayRef<int64_t>(want))
    return emitOpError("result must be [B, KVH, G, L, E] = ")
           << "[" << want[0] << ", " << want[1] << ", " << want[2] << ", "
           << want[3] << ", " << want[4] << "]";
  if (Value bias = getBias()) {
    auto b = cast<RankedTensorType>(bias.getType());
    SmallVector<int64_t> scores{qs[0], qs[1], qs[2], qs[3], ks[2]};
    bool ok = b.getRank() == 5;
    for (int64_t d = 0; ok && d < 5; ++d)
      ok = b.getDimSize(d) == 1 || b.getDimSize(d) == scores[d];
    if (!ok)
      return emitOpError("bias must broadcast to the scores [B, KVH, G, L, S]");
  }
  return success();
}

LogicalResult LayerNormOp::verify() {
  auto type = getInput().getType();
  if (failed(checkAxis(*this, getAxis(), type.getRank())))
    return failure();
  if (getOutput().getType() != type)
    return emitOpError("result type must equal the input type");
  return success();
}

LogicalResult BatchNormOp::verify() {
  auto type = getInput().getType();
  if (type.getRank() < 2)
    return emitOpError("input must have rank >= 2 (N, C, ...)");
  for (Value v : {getScale(), getBias(), getMean(), getVariance()}) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() != 1 || t.getDimSize(0) != type.getDimSize(1))
      return emitOpError("scale, bias, mean and variance must be 1-D of the "
                         "channel count ")
             << type.getDimSize(1);
  }
  if (getOutput().getType() != type)
    return emitOpError("result type must equal the input type");
  return success();
}

LogicalResult InstanceNormOp::verify() {
  auto type = getInput().getType();
  if (type.getRank() < 3)
    return emitOpError("input must have rank >= 3 (N, C, spatial...)");
  for (Value v : {getScale(), getBias()}) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() != 1 || t.getDimSize(0) != type.getDimSize(1))
      return emitOpError("scale and bias must be 1-D of the channel count ")
             << type.getDimSize(1);
  }
  return success();
}

LogicalResult GemmOp::verify() {
  auto a = getA().getType(), b = getB().getType();
  if (a.getRank() != 2 || b.getRank() != 2)
    return emitOpError("A and B must be 2-D");
  int64_t m = getTransA() ? a.getDimSize(1) : a.getDimSize(0);
  int64_t ka = getTransA() ? a.getDimSize(0) : a.getDimSize(1);
  int64_t kb = getTransB() ? b.getDimSize(1) : b.getDimSize(0);
  int64_t n = getTransB() ? b.getDimSize(0) : b.getDimSize(1);
  if (ka != kb)
    return emitOpError("contraction dims differ: ") << ka << " vs " << kb;
  auto out = getOutput().getType();
  if (out.getRank() != 2 || out.getDimSize(0) != m || out.getDimSize(1) != n)
    return emitOpError("result must be ") << m << "x" << n;
  if (getC()) {
    FailureOr<SmallVector<int64_t>> bc = broadcastShapes(
        cast<RankedTensorType>(getC().getType()).getShape(), out.getShape());
    if (failed(bc) || ArrayRef<int64_t>(*bc) != out.getShape())
      return emitOpError("C does not broadcast to the result");
  }
  return success();
}

LogicalResult EinsumOp::verify() {
  StringRef eq = getEquation();
  auto [lhs, rhs] = eq.split("->");
  if (!eq.contains("->") || eq.contains("..."))
    return emitOpError("equation must be explicit (\"ab,bc->ac\"), without ...");
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  if (terms.size() != getInputs().size())
    return emitOpError("equation has ")
           << terms.size() << " inputs, op has " << getInputs().size();
  llvm::DenseMap<char, int64_t> sizes;
  for (auto [term, input] : llvm::zip(terms, getInputs())) {
    auto type = cast<RankedTensorType>(input.getType());
    if (static_cast<int64_t>(term.size()) != type.getRank())
      return emitOpError("term \"") << term << "\" does not match rank "
                                    << type.getRank();
    for (auto [i, c] : llvm::enumerate(term)) {
      auto [it, inserted] = sizes.try_emplace(c, type.getDimSize(i));
      if (!inserted && it->second != type.getDimSize(i))
        return emitOpError("letter '") << c << "' has two sizes";
    }
  }
  auto out = getOutput().getType();
  if (static_cast<int64_t>(rhs.size()) != out.getRank())
    return emitOpError("output term does not match the result rank");
  for (auto [i, c] : llvm::enumerate(rhs)) {
    auto it = sizes.find(c);
    if (it == sizes.end() || it->second != out.getDimSize(i))
      return emitOpError("output letter '") << c << "' is unknown or resized";
  }
  return success();
}

/// Shared checks of conv-like ops: spatial attrs sized to the spatial rank.
static LogicalResult verifyWindowAttrs(Operation *op, int64_t spatialRank,
                                       ArrayRef<int64_t> strides,
                                       ArrayRef<int64_t> pads,
                                       ArrayRef<int64_t> dilations) {
  if (static_cast<int64_t>(strides.size()) != spatialRank ||
      static_cast<int64_t>(dilations.size()) != spatialRank ||
      static_cast<int64_t>(pads.size()) != 2 * spatialRank)
    return op->emitOpError("strides, dilations need ")
           << spatialRank << " values and pads " << 2 * spatialRank;
  for (int64_t s : strides)
    if (s <= 0)
      return op->emitOpError("strides must be positive");
  for (int64_t d : dilations)
    if (d <= 0)
      return op->emitOpError("dilations must be positive");
  for (int64_t p : pads)
    if (p < 0)
      return op->emitOpError("pads must be non-negative");
  return success();
}

LogicalResult ConvOp::verify() {
  auto x = getInput().getType(), w = getWeight().getType();
  auto out = getOutput().getType();
  if (x.getRank() < 3 || w.getRank() != x.getRank() ||
      out.getRank() != x.getRank())
    return emitOpError("input, weight and result must share a rank >= 3");
  int64_t spatial = x.getRank() - 2;
  if (failed(verifyWindowAttrs(*this, spatial, getStrides(), getPads(),
                               getDilations())))
    return failure();
  int64_t group = getGroup();
  if (group <= 0 || x.getDimSize(1) % group || w.getDimSize(0) % group ||
      x.getDimSize(1) / group != w.getDimSize(1))
    return emitOpError("channels ")
           << x.getDimSize(1) << " and weight " << w.getDimSize(0) << "x"
           << w.getDimSize(1) << " do not fit group " << group;
  if (out.getDimSize(0) != x.getDimSize(0) ||
      out.getDimSize(1) != w.getDimSize(0))
    return emitOpError("result must be N x M x ...");
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t window = (w.getDimSize(2 + i) - 1) * getDilations()[i] + 1;
    int64_t padded = x.getDimSize(2 + i) + getPads()[i] + getPads()[i + spatial];
    int64_t expected = padded < window ? 0 : (padded - window) / getStrides()[i] + 1;
    if (expected <= 0 || out.getDimSize(2 + i) != expected)
      return emitOpError("spatial dim ")
             << i << " of the result should be " << expected;
  }
  if (getBias()) {
    auto b = cast<RankedTensorType>(getBias().getType());
    if (b.getRank() != 1 || b.getDimSize(0) != w.getDimSize(0))
      return emitOpError("bias must be 1-D of the output channel count");
  }
  return success();
}

LogicalResult ConvTransposeOp::verify() {
  auto x = getInput().getType(), w = getWeight().getType();
  auto out = getOutput().getType();
  if (x.getRank() < 3 || w.getRank() != x.getRank() ||
      out.getRank() != x.getRank())
    return emitOpError("input, weight and result must share a rank >= 3");
  int64_t spatial = x.getRank() - 2;
  if (failed(verifyWindowAttrs(*this, spatial, getStrides(), getPads(),
                               getDilations())))
    return failure();
  int64_t group = getGroup();
  if (group <= 0 || x.getDimSize(1) != w.getDimSize(0) ||
      x.getDimSize(1) % group)
    return emitOpError("weight must be C x M/group x k...");
  if (out.getDimSize(1) != w.getDimSize(1) * group)
    return emitOpError("result channels must be ") << w.getDimSize(1) * group;
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t full = (x.getDimSize(2 + i) - 1) * getStrides()[i] +
                   (w.getDimSize(2 + i) - 1) * getDilations()[i] + 1;
    if (out.getDimSize(2 + i) + getPads()[i] + getPads()[i + spatial] < full)
      return emitOpError("spatial dim ") << i << " of the result is too small";
  }
  return success();
}

static LogicalResult verifyPool(Operation *op, RankedTensorType in,
                                RankedTensorType out, ArrayRef<int64_t> kernel,
                                ArrayRef<int64_t> strides,
                                ArrayRef<int64_t> pads,
                                ArrayRef<int64_t> dilations) {
  int64_t spatial = in.getRank() - 2;
  if (spatial < 1 || out.getRank() != in.getRank())
    return op->emitOpError("input and result must share a rank >= 3");
  if (static_cast<int64_t>(kernel.size()) != spatial)
    return op->emitOpError("kernel_shape needs ") << spatial << " values";
  if (failed(verifyWindowAttrs(op, spatial, strides, pads, dilations)))
    return failure();
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t window = (kernel[i] - 1) * dilations[i] + 1;
    int64_t padded = in.getDimSize(2 + i) + pads[i] + pads[i + spatial];
    int64_t expected = (padded - window) / strides[i] + 1;
    if (kernel[i] <= 0 || expected <= 0 || out.getDimSize(2 + i) != expected)
      return op->emitOpError("spatial dim ")
             << i << " of the result should be " << expected;
  }
  return success();
}

LogicalResult MaxPoolOp::verify() {
  return verifyPool(*this, getInput().getType(), getOutput().getType(),
                    getKernelShape(), getStrides(), getPads(), getDilations());
}

LogicalResult AvgPoolOp::verify() {
  SmallVector<int64_t> ones(getKernelShape().size(), 1);
  if (getCountPads().size() != getPads().size())
    return emitOpError("count_pads must have as many values as pads");
  return verifyPool(*this, getInput().getType(), getOutput().getType(),
                    getKernelShape(), getStrides(), getPads(), ones);
}

LogicalResult ConstantOp::verify() {
  if (getValue().getType() != getOutput().getType())
    return emitOpError("value type differs from the result type");
  return success();
}

LogicalResult ShapeOp::verify() {
  auto out = getOutput().getType();
  if (out.getRank() != 1 || out.getDimSize(0) != getInput().getType().getRank())
    return emitOpError("result must be 1-D with one entry per input dim");
  return success();
}

LogicalResult SizeOp::verify() {
  if (getOutput().getType().getRank() != 0)
    return emitOpError("result must be 0-D");
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("element types differ");
  if (shapeElementCount(in.getShape()) != shapeElementCount(out.getShape()))
    return emitOpError("element count changes from ")
           << shapeElementCount(in.getShape()) << " to "
           << shapeElementCount(out.getShape());
  return success();
}

LogicalResult TransposeOp::verify() {
  SmallVector<bool> seen(getPerm().size(), false);
  for (int64_t p : getPerm()) {
    if (p < 0 || p >= static_cast<int64_t>(seen.size()) || seen[p])
      return emitOpError("perm is not a permutation");
    seen[p] = true;
  }
  return success();
}

LogicalResult SliceOp::verify() {
  auto in = getInput().getType();
  int64_t rank = in.getRank();
  if (static_cast<int64_t>(getStarts().size()) != rank ||
      static_cast<int64_t>(getSizes().size()) != rank ||
      static_cast<int64_t>(getSteps().size()) != rank)
    return emitOpError("starts, sizes and steps need one value per dim");
  for (int64_t d = 0; d < rank; ++d) {
    int64_t start = getStarts()[d], size = getSizes()[d], step = getSteps()[d];
    if (step == 0)
      return emitOpError("step must not be 0");
    if (size < 0)
      return emitOpError("size must not be negative");
    if (size == 0)
      continue;
    int64_t last = start + (size - 1) * step;
    if (start < 0 || start >= in.getDimSize(d) || last < 0 ||
        last >= in.getDimSize(d))
      return emitOpError("slice of dim ") << d << " reads out of bounds";
  }
  return success();
}

LogicalResult ConcatOp::verify() { return success(); }

LogicalResult PadOp::verify() {
  if (getMode() != "constant" && getMode() != "reflect" && getMode() != "edge")
    return emitOpError("mode must be constant, reflect or edge");
  auto in = getInput().getType();
  for (int64_t p : getPads())
    if (p < 0)
      return emitOpError("pads must be non-negative");
  if (getMode() == "reflect")
    for (int64_t d = 0; d < in.getRank(); ++d)
      if ((getPads()[d] > 0 || getPads()[d + in.getRank()] > 0) &&
          (getPads()[d] >= in.getDimSize(d) ||
           getPads()[d + in.getRank()] >= in.getDimSize(d)))
        return emitOpError("reflect pads must be smaller than the dim");
  if (getMode() == "edge")
    for (int64_t d = 0; d < in.getRank(); ++d)
      if (in.getDimSize(d) == 0 &&
          (getPads()[d] > 0 || getPads()[d + in.getRank()] > 0))
        return emitOpError("edge padding of an empty dim");
  return success();
}

LogicalResult TileOp::verify() {
  for (int64_t r : getRepeats())
    if (r < 0)
      return emitOpError("repeats must be non-negative");
  return success();
}

LogicalResult GatherOp::verify() {
  return checkAxis(*this, getAxis(), getData().getType().getRank());
}

LogicalResult GatherElementsOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType();
  if (failed(checkAxis(*this, getAxis(), data.getRank())))
    return failure();
  if (indices.getRank() != data.getRank())
    return emitOpError("indices must have the rank of data");
  if (getOutput().getType().getShape() != indices.getShape())
    return emitOpError("result shape must equal the indices shape");
  return success();
}

LogicalResult GatherNDOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType();
  int64_t b = getBatchDims();
  if (indices.getRank() < 1 || b < 0 || b >= indices.getRank() ||
      b >= data.getRank())
    return emitOpError("batch_dims out of range");
  int64_t depth = indices.getShape().back();
  if (depth < 1 || b + depth > data.getRank())
    return emitOpError("index tuples are longer than data's rank");
  SmallVector<int64_t> shape(indices.getShape().drop_back());
  llvm::append_range(shape, data.getShape().drop_front(b + depth));
  if (getOutput().getType().getShape() != ArrayRef<int64_t>(shape))
    return emitOpError("result shape is not indices[:-1] + data[b+q:]");
  return success();
}

static LogicalResult verifyReduction(Operation *op, StringRef reduction) {
  if (reduction != "none" && reduction != "add" && reduction != "mul" &&
      reduction != "max" && reduction != "min")
    return op->emitOpError("reduction must be none, add, mul, max or min");
  return success();
}

LogicalResult ScatterElementsOp::verify() {
  auto data = getData().getType();
  if (failed(checkAxis(*this, getAxis(), data.getRank())))
    return failure();
  if (getIndices().getType().getShape() != getUpdates().getType().getShape())
    return emitOpError("indices and updates must have one shape");
  if (getOutput().getType() != data)
    return emitOpError("result type must equal the data type");
  return verifyReduction(*this, getReduction());
}

LogicalResult ScatterNDOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType();
  if (indices.getRank() < 1)
    return emitOpError("indices must have rank >= 1");
  int64_t depth = indices.getShape().back();
  if (depth > data.getRank())
    return emitOpError("index tuples are longer than data's rank");
  SmallVector<int64_t> shape(indices.getShape().drop_back());
  llvm::append_range(shape, data.getShape().drop_front(depth));
  if (getUpdates().getType().getShape() != ArrayRef<int64_t>(shape))
    return emitOpError("updates shape is not indices[:-1] + data[q:]");
  if (getOutput().getType() != data)
    return emitOpError("result type must equal the data type");
  return verifyReduction(*this, getReduction());
}

LogicalResult OneHotOp::verify() {
  auto out = getOutput().getType();
  if (out.getRank() != getIndices().getType().getRank() + 1)
    return emitOpError("result rank must be indices rank + 1");
  if (failed(checkAxis(*this, getAxis(), out.getRank())))
    return failure();
  if (getValues().getType().getNumElements() != 2)
    return emitOpError("values must hold [off, on]");
  return success();
}

LogicalResult ResizeOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  if (in.getRank() != out.getRank() ||
      static_cast<int64_t>(getScales().size()) != in.getRank())
    return emitOpError("input, result and scales must share a rank");
  if (getMode() != "nearest" && getMode() != "linear" && getMode() != "cubic")
    return emitOpError("mode must be nearest, linear or cubic");
  static const char *const modes[] = {"half_pixel", "asymmetric",
                                      "pytorch_half_pixel", "align_corners",
                                      "tf_half_pixel_for_nn",
                                      "half_pixel_symmetric"};
  if (!llvm::is_contained(modes, getCoordinateTransformationMode()))
    return emitOpError("unsupported coordinate_transformation_mode \"")
           << getCoordinateTransformationMode() << "\"";
  static const char *const nearest[] = {"round_prefer_floor",
                                        "round_prefer_ceil", "floor", "ceil"};
  if (!llvm::is_contained(nearest, getNearestMode()))
    return emitOpError("unsupported nearest_mode \"") << getNearestMode() << "\"";
  for (double s : getScales())
    if (!(s > 0))
      return emitOpError("scales must be positive");
  return success();
}

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

int64_t mlir::llmc::graph::getStaticTensorBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() ||
      !tensor.getElementType().isIntOrFloat())
    return -1;
  int64_t bits = tensor.getElementType().getIntOrFloatBitWidth();
  return tensor.getNumElements() * std::max<int64_t>(1, (bits + 7) / 8);
}

YieldOp FusionGroupOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

LogicalResult FusionGroupOp::verify() {
  StringRef kind = getKind();
  if (kind != "loop" && kind != "row" && kind != "column")
    return emitOpError("kind must be \"loop\", \"row\" or \"column\", got \"")
           << kind << "\"";
  if (getResults().empty())
    return emitOpError("must yield at least one result");
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("has ") << getInputs().size() << " inputs but its body takes "
                               << body.getNumArguments() << " arguments";
  for (auto [i, input, arg] : llvm::enumerate(getInputs(), body.getArguments()))
    if (input.getType() != arg.getType())
      return emitOpError("input ") << i << " is " << input.getType()
                                   << " but body argument " << i << " is "
                                   << arg.getType();
  YieldOp yield = getYield();
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields (") << yield.getValues().getTypes()
                                   << ") but its results are ("
                                   << getResultTypes() << ")";
  for (Operation &op : body.without_terminator()) {
    if (op.getDialect() != (*this)->getDialect())
      return op.emitOpError("is not a graph op: a fusion group holds graph ops only");
    if (isa<MatMulOp, GemmOp, ConvOp, ConvTransposeOp, EinsumOp, FusionGroupOp>(op))
      return op.emitOpError("cannot be inside a fusion group: contractions run as "
                            "library calls");
  }
  if (getBytesRead() < 0 || getBytesWritten() < 0)
    return emitOpError("byte counts must not be negative");
  return success();
}

//===----------------------------------------------------------------------===//
// Custom syntax
//===----------------------------------------------------------------------===//

ParseResult ConstantOp::parse(OpAsmParser &parser, OperationState &result) {
  Attribute value;
  if (parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseAttribute(value))
    return failure();
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements)
    return parser.emitError(parser.getNameLoc(),
                            "expected a dense or resource elements attribute");
  result.getOrAddProperties<ConstantOp::Properties>().value = elements;
  result.addTypes(elements.getType());
  return success();
}

void ConstantOp::print(OpAsmPrinter &p) {
  p.printOptionalAttrDict((*this)->getAttrs(), {"value"});
  p << ' ';
  p.printAttribute(getValue());
}

#define GET_OP_CLASSES
#include "llmc/Dialect/Graph/IR/GraphOps.cpp.inc"

#include "llmc/Dialect/Graph/IR/GraphInterfaces.cpp.inc"

bool mlir::llmc::graph::isReadTransposedByMatMul(TransposeOp op) {
  ArrayRef<int64_t> perm = op.getPerm();
  int64_t rank = perm.size();
  if (rank < 2 || perm[rank - 2] != rank - 1 || perm[rank - 1] != rank - 2)
    return false;
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (perm[i] != i)
      return false;
  return !op->use_empty() && llvm::all_of(op->getUsers(), [](Operation *u) {
    auto matmul = dyn_cast<MatMulOp>(u);
    if (!matmul)
      return false;
    Type t = getElementTypeOrSelf(matmul.getType());
    return t.isF32() || t.isF64();
  });
}
