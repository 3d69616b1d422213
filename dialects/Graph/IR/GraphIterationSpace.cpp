//===- GraphIterationSpace.cpp - IterationSpaceOpInterface for graph ops --===//
//
// One description per op of how its loops map onto its operands and results.
// Sharding, fusion and layout selection read these maps; the lowering to
// linalg builds linalg.generic ops from them where an op has a scalar body.
//
// Conventions (see GraphInterfaces.td): a constant 0 result marks a broadcast
// dim of size 1; a symbol marks a dim indexed at data-dependent positions.
//
//===----------------------------------------------------------------------===//

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::llmc::graph;
using utils::IteratorType;

static RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

static SmallVector<IteratorType> parallel(int64_t n) {
  return SmallVector<IteratorType>(n, IteratorType::parallel);
}

/// Map from `numLoops` loops broadcasting a tensor of `shape` onto the
/// trailing loops (numpy broadcasting against a result of `resultShape`).
static AffineMap broadcastMap(MLIRContext *ctx, ArrayRef<int64_t> shape,
                              ArrayRef<int64_t> resultShape) {
  int64_t numLoops = resultShape.size();
  int64_t offset = numLoops - shape.size();
  SmallVector<AffineExpr> exprs;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (d == 1 && resultShape[offset + i] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(offset + i, ctx));
  }
  return AffineMap::get(numLoops, 0, exprs, ctx);
}

/// A map of `numLoops` loops whose results are `exprs` (symbols allowed).
static AffineMap mapOf(MLIRContext *ctx, int64_t numLoops,
                       ArrayRef<AffineExpr> exprs) {
  unsigned numSymbols = 0;
  for (AffineExpr e : exprs)
    e.walk([&](AffineExpr sub) {
      if (auto s = dyn_cast<AffineSymbolExpr>(sub))
        numSymbols = std::max(numSymbols, s.getPosition() + 1);
    });
  return AffineMap::get(numLoops, numSymbols, exprs, ctx);
}

static SmallVector<AffineExpr> dims(MLIRContext *ctx, int64_t from,
                                    int64_t count) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < count; ++i)
    exprs.push_back(getAffineDimExpr(from + i, ctx));
  return exprs;
}

SmallVector<IteratorType>
mlir::llmc::graph::detail::getElementwiseIterators(Operation *op) {
  return parallel(tensorType(op->getResult(0)).getRank());
}

SmallVector<AffineMap>
mlir::llmc::graph::detail::getElementwiseMaps(Operation *op) {
  MLIRContext *ctx = op->getContext();
  ArrayRef<int64_t> result = tensorType(op->getResult(0)).getShape();
  SmallVector<AffineMap> maps;
  for (Value operand : op->getOperands())
    maps.push_back(broadcastMap(ctx, tensorType(operand).getShape(), result));
  for (Value r : op->getResults())
    maps.push_back(broadcastMap(ctx, tensorType(r).getShape(), result));
  return maps;
}

//===----------------------------------------------------------------------===//
// Reductions: loops are the input's dims, reduced dims are reductions.
//===----------------------------------------------------------------------===//

static SmallVector<IteratorType> reductionIterators(int64_t rank,
                                                    ArrayRef<int64_t> axes) {
  SmallVector<IteratorType> it = parallel(rank);
  for (int64_t a : axes)
    it[a] = IteratorType::reduction;
  return it;
}

static AffineMap reducedMap(MLIRContext *ctx, int64_t rank,
                            ArrayRef<int64_t> axes, bool keepdims) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d) {
    if (!llvm::is_contained(axes, d))
      exprs.push_back(getAffineDimExpr(d, ctx));
    else if (keepdims)
      exprs.push_back(getAffineConstantExpr(0, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

SmallVector<IteratorType> ReduceOp::getIterationSpaceIterators() {
  return reductionIterators(getInput().getType().getRank(), getAxes());
}
SmallVector<AffineMap> ReduceOp::getIterationSpaceMaps() {
  int64_t rank = getInput().getType().getRank();
  return {AffineMap::getMultiDimIdentityMap(rank, getContext()),
          reducedMap(getContext(), rank, getAxes(), getKeepdims())};
}

SmallVector<IteratorType> ArgReduceOp::getIterationSpaceIterators() {
  return reductionIterators(getInput().getType().getRank(), {static_cast<int64_t>(getAxis())});
}
SmallVector<AffineMap> ArgReduceOp::getIterationSpaceMaps() {
  int64_t rank = getInput().getType().getRank();
  return {AffineMap::getMultiDimIdentityMap(rank, getContext()),
          reducedMap(getContext(), rank, {static_cast<int64_t>(getAxis())}, getKeepdims())};
}

// cumsum: loops are the input dims plus one summed position j (last loop);
// out[.., i, ..] accumulates in[.., j, ..] for j <= i.
SmallVector<IteratorType> CumSumOp::getIterationSpaceIterators() {
  SmallVector<IteratorType> it = parallel(getInput().getType().getRank());
  it.push_back(IteratorType::reduction);
  return it;
}
SmallVector<AffineMap> CumSumOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getInput().getType().getRank();
  SmallVector<AffineExpr> in = dims(ctx, 0, rank);
  in[getAxis()] = getAffineDimExpr(rank, ctx);
  return {mapOf(ctx, rank + 1, in), mapOf(ctx, rank + 1, dims(ctx, 0, rank))};
}

SmallVector<IteratorType> TopKOp::getIterationSpaceIterators() {
  return reductionIterators(getInput().getType().getRank(), {static_cast<int64_t>(getAxis())});
}
SmallVector<AffineMap> TopKOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getInput().getType().getRank();
  SmallVector<AffineExpr> out = dims(ctx, 0, rank);
  out[getAxis()] = getAffineSymbolExpr(0, ctx);
  AffineMap outMap = mapOf(ctx, rank, out);
  return {AffineMap::getMultiDimIdentityMap(rank, ctx), outMap, outMap};
}

//===----------------------------------------------------------------------===//
// Composite ops.
//===----------------------------------------------------------------------===//

template <typename OpTy>
static SmallVector<IteratorType> axisOpIterators(OpTy op) {
  return reductionIterators(op.getInput().getType().getRank(), {static_cast<int64_t>(op.getAxis())});
}
template <typename OpTy>
static SmallVector<AffineMap> axisOpMaps(OpTy op) {
  int64_t rank = op.getInput().getType().getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, op.getContext());
  return {id, id};
}
SmallVector<IteratorType> SoftmaxOp::getIterationSpaceIterators() {
  return axisOpIterators(*this);
}
SmallVector<AffineMap> SoftmaxOp::getIterationSpaceMaps() {
  return axisOpMaps(*this);
}
SmallVector<IteratorType> LogSoftmaxOp::getIterationSpaceIterators() {
  return axisOpIterators(*this);
}
SmallVector<AffineMap> LogSoftmaxOp::getIterationSpaceMaps() {
  return axisOpMaps(*this);
}
SmallVector<IteratorType> HardmaxOp::getIterationSpaceIterators() {
  return axisOpIterators(*this);
}
SmallVector<AffineMap> HardmaxOp::getIterationSpaceMaps() {
  return axisOpMaps(*this);
}

// attention: loops (b, kvh, g, i, j, d, e); j and d are reductions.
SmallVector<IteratorType> AttentionOp::getIterationSpaceIterators() {
  SmallVector<IteratorType> it = parallel(7);
  it[4] = it[5] = IteratorType::reduction;
  return it;
}
SmallVector<AffineMap> AttentionOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  auto dims = [&](ArrayRef<unsigned> loops) {
    SmallVector<AffineExpr> exprs;
    for (unsigned l : loops)
      exprs.push_back(getAffineDimExpr(l, ctx));
    return AffineMap::get(7, 0, exprs, ctx);
  };
  SmallVector<AffineMap> maps{dims({0, 1, 2, 3, 5}), dims({0, 1, 4, 5}),
                              dims({0, 1, 4, 6})};
  if (Value bias = getBias()) {
    // The scores' loops (b, kvh, g, i, j); a dim of size 1 broadcasts.
    ArrayRef<int64_t> q = tensorType(getQuery()).getShape();
    SmallVector<int64_t> scores(q.take_front(4));
    scores.push_back(tensorType(getKey()).getDimSize(2));
    SmallVector<AffineMap> one{broadcastMap(ctx, tensorType(bias).getShape(), scores)};
    // Scores' loop d is the op's loop d (b, kvh, g, i, j): the same dims.
    maps.push_back(AffineMap::get(7, 0, one.front().getResults(), ctx));
  }
  maps.push_back(dims({0, 1, 2, 3, 6}));
  return maps;
}

SmallVector<IteratorType> LayerNormOp::getIterationSpaceIterators() {
  int64_t rank = getInput().getType().getRank();
  SmallVector<IteratorType> it = parallel(rank);
  for (int64_t d = getAxis(); d < rank; ++d)
    it[d] = IteratorType::reduction;
  return it;
}
SmallVector<AffineMap> LayerNormOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  SmallVector<AffineMap> maps{AffineMap::getMultiDimIdentityMap(shape.size(), ctx)};
  maps.push_back(broadcastMap(ctx, tensorType(getScale()).getShape(), shape));
  if (getBias())
    maps.push_back(broadcastMap(ctx, tensorType(getBias()).getShape(), shape));
  maps.push_back(maps.front());
  return maps;
}

/// Maps for per-channel (dim 1) parameters of NC... tensors.
static AffineMap channelMap(MLIRContext *ctx, int64_t rank) {
  return AffineMap::get(rank, 0, {getAffineDimExpr(1, ctx)}, ctx);
}

SmallVector<IteratorType> BatchNormOp::getIterationSpaceIterators() {
  return parallel(getInput().getType().getRank());
}
SmallVector<AffineMap> BatchNormOp::getIterationSpaceMaps() {
  int64_t rank = getInput().getType().getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, getContext());
  AffineMap c = channelMap(getContext(), rank);
  return {id, c, c, c, c, id};
}

SmallVector<IteratorType> InstanceNormOp::getIterationSpaceIterators() {
  int64_t rank = getInput().getType().getRank();
  SmallVector<IteratorType> it = parallel(rank);
  for (int64_t d = 2; d < rank; ++d)
    it[d] = IteratorType::reduction;
  return it;
}
SmallVector<AffineMap> InstanceNormOp::getIterationSpaceMaps() {
  int64_t rank = getInput().getType().getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, getContext());
  AffineMap c = channelMap(getContext(), rank);
  return {id, c, c, id};
}

// gemm: loops (m, n, k).
SmallVector<IteratorType> GemmOp::getIterationSpaceIterators() {
  return {IteratorType::parallel, IteratorType::parallel,
          IteratorType::reduction};
}
SmallVector<AffineMap> GemmOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  AffineExpr m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
             k = getAffineDimExpr(2, ctx);
  SmallVector<AffineMap> maps{
      mapOf(ctx, 3, getTransA() ? SmallVector<AffineExpr>{k, m}
                                : SmallVector<AffineExpr>{m, k}),
      mapOf(ctx, 3, getTransB() ? SmallVector<AffineExpr>{n, k}
                                : SmallVector<AffineExpr>{k, n})};
  ArrayRef<int64_t> out = getOutput().getType().getShape();
  if (getC()) {
    AffineMap c = broadcastMap(ctx, tensorType(getC()).getShape(), out);
    maps.push_back(AffineMap::get(3, 0, c.getResults(), ctx));
  }
  maps.push_back(mapOf(ctx, 3, {m, n}));
  return maps;
}

//===----------------------------------------------------------------------===//
// Contractions, convolutions, pooling.
//===----------------------------------------------------------------------===//

// matmul: loops are the result dims, then k. 1-D operands have no m or n.
SmallVector<IteratorType> MatMulOp::getIterationSpaceIterators() {
  SmallVector<IteratorType> it = parallel(getOutput().getType().getRank());
  it.push_back(IteratorType::reduction);
  return it;
}
SmallVector<AffineMap> MatMulOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  auto lhs = getLhs().getType(), rhs = getRhs().getType();
  auto out = getOutput().getType();
  int64_t numLoops = out.getRank() + 1;
  AffineExpr k = getAffineDimExpr(out.getRank(), ctx);
  bool lhsVector = lhs.getRank() == 1, rhsVector = rhs.getRank() == 1;
  int64_t batchRank = out.getRank() - (lhsVector ? 0 : 1) - (rhsVector ? 0 : 1);
  ArrayRef<int64_t> batch = out.getShape().take_front(batchRank);
  auto batchExprs = [&](ArrayRef<int64_t> shape) {
    AffineMap b = broadcastMap(ctx, shape, batch);
    return SmallVector<AffineExpr>(b.getResults());
  };
  SmallVector<AffineExpr> l, r;
  if (!lhsVector) {
    l = batchExprs(lhs.getShape().drop_back(2));
    l.push_back(getAffineDimExpr(batchRank, ctx));
  }
  l.push_back(k);
  if (!rhsVector) {
    r = batchExprs(rhs.getShape().drop_back(2));
    r.push_back(k);
    r.push_back(getAffineDimExpr(out.getRank() - 1, ctx));
  } else {
    r.push_back(k);
  }
  return {mapOf(ctx, numLoops, l), mapOf(ctx, numLoops, r),
          mapOf(ctx, numLoops, dims(ctx, 0, out.getRank()))};
}

/// Letters of an explicit einsum equation: output letters first, then the
/// summed letters in order of appearance.
static SmallVector<char> einsumLoops(StringRef equation) {
  auto [lhs, rhs] = equation.split("->");
  SmallVector<char> loops(rhs.begin(), rhs.end());
  for (char c : lhs)
    if (c != ',' && !llvm::is_contained(loops, c))
      loops.push_back(c);
  return loops;
}

SmallVector<IteratorType> EinsumOp::getIterationSpaceIterators() {
  SmallVector<char> loops = einsumLoops(getEquation());
  SmallVector<IteratorType> it = parallel(loops.size());
  for (size_t i = getOutput().getType().getRank(); i < loops.size(); ++i)
    it[i] = IteratorType::reduction;
  return it;
}
SmallVector<AffineMap> EinsumOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  SmallVector<char> loops = einsumLoops(getEquation());
  auto [lhs, rhs] = getEquation().split("->");
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  terms.push_back(rhs);
  SmallVector<AffineMap> maps;
  for (StringRef term : terms) {
    SmallVector<AffineExpr> exprs;
    for (char c : term)
      exprs.push_back(
          getAffineDimExpr(llvm::find(loops, c) - loops.begin(), ctx));
    maps.push_back(mapOf(ctx, loops.size(), exprs));
  }
  return maps;
}

// conv: loops (n, m, o_1..o_s, c, k_1..k_s) where c runs over one group's
// input channels; input channel = (m floordiv (M/g)) * (C/g) + c.
SmallVector<IteratorType> ConvOp::getIterationSpaceIterators() {
  int64_t s = getInput().getType().getRank() - 2;
  SmallVector<IteratorType> it = parallel(2 + s);
  it.append(1 + s, IteratorType::reduction);
  return it;
}
SmallVector<AffineMap> ConvOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  auto x = getInput().getType(), w = getWeight().getType();
  int64_t s = x.getRank() - 2, numLoops = 3 + 2 * s;
  int64_t mPerGroup = w.getDimSize(0) / getGroup();
  int64_t cPerGroup = w.getDimSize(1);
  AffineExpr n = getAffineDimExpr(0, ctx), m = getAffineDimExpr(1, ctx),
             c = getAffineDimExpr(2 + s, ctx);
  SmallVector<AffineExpr> in{n, m.floorDiv(mPerGroup) * cPerGroup + c};
  SmallVector<AffineExpr> wt{m, c}, out{n, m};
  for (int64_t i = 0; i < s; ++i) {
    AffineExpr o = getAffineDimExpr(2 + i, ctx);
    AffineExpr k = getAffineDimExpr(3 + s + i, ctx);
    in.push_back(o * getStrides()[i] + k * getDilations()[i] - getPads()[i]);
    wt.push_back(k);
    out.push_back(o);
  }
  SmallVector<AffineMap> maps{mapOf(ctx, numLoops, in), mapOf(ctx, numLoops, wt)};
  if (getBias())
    maps.push_back(mapOf(ctx, numLoops, {m}));
  maps.push_back(mapOf(ctx, numLoops, out));
  return maps;
}

// conv_transpose: loops (n, m, i_1..i_s, c, k_1..k_s): each input position i
// scatters into output position i * stride + k * dilation - pad.
SmallVector<IteratorType> ConvTransposeOp::getIterationSpaceIterators() {
  int64_t s = getInput().getType().getRank() - 2;
  SmallVector<IteratorType> it = parallel(2 + s);
  it.append(1 + s, IteratorType::reduction);
  return it;
}
SmallVector<AffineMap> ConvTransposeOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  auto x = getInput().getType(), w = getWeight().getType();
  int64_t s = x.getRank() - 2, numLoops = 3 + 2 * s;
  int64_t mPerGroup = w.getDimSize(1);
  int64_t cPerGroup = x.getDimSize(1) / getGroup();
  AffineExpr n = getAffineDimExpr(0, ctx), m = getAffineDimExpr(1, ctx),
             c = getAffineDimExpr(2 + s, ctx);
  AffineExpr channel = m.floorDiv(mPerGroup) * cPerGroup + c;
  SmallVector<AffineExpr> in{n, channel}, wt{channel, m % mPerGroup}, out{n, m};
  for (int64_t i = 0; i < s; ++i) {
    AffineExpr pos = getAffineDimExpr(2 + i, ctx);
    AffineExpr k = getAffineDimExpr(3 + s + i, ctx);
    in.push_back(pos);
    wt.push_back(k);
    out.push_back(pos * getStrides()[i] + k * getDilations()[i] - getPads()[i]);
  }
  SmallVector<AffineMap> maps{mapOf(ctx, numLoops, in), mapOf(ctx, numLoops, wt)};
  if (getBias())
    maps.push_back(mapOf(ctx, numLoops, {m}));
  maps.push_back(mapOf(ctx, numLoops, out));
  return maps;
}

// pools: loops (n, c, o_1..o_s, k_1..k_s).
static SmallVector<IteratorType> poolIterators(int64_t rank) {
  SmallVector<IteratorType> it = parallel(rank);
  it.append(rank - 2, IteratorType::reduction);
  return it;
}
static SmallVector<AffineMap> poolMaps(MLIRContext *ctx, int64_t rank,
                                       ArrayRef<int64_t> strides,
                                       ArrayRef<int64_t> pads,
                                       ArrayRef<int64_t> dilations) {
  int64_t s = rank - 2, numLoops = rank + s;
  SmallVector<AffineExpr> in = dims(ctx, 0, 2), out = dims(ctx, 0, rank);
  for (int64_t i = 0; i < s; ++i)
    in.push_back(getAffineDimExpr(2 + i, ctx) * strides[i] +
                 getAffineDimExpr(rank + i, ctx) *
                     (dilations.empty() ? 1 : dilations[i]) -
                 pads[i]);
  return {mapOf(ctx, numLoops, in), mapOf(ctx, numLoops, out)};
}
SmallVector<IteratorType> MaxPoolOp::getIterationSpaceIterators() {
  return poolIterators(getInput().getType().getRank());
}
SmallVector<AffineMap> MaxPoolOp::getIterationSpaceMaps() {
  return poolMaps(getContext(), getInput().getType().getRank(), getStrides(),
                  getPads(), getDilations());
}
SmallVector<IteratorType> AvgPoolOp::getIterationSpaceIterators() {
  return poolIterators(getInput().getType().getRank());
}
SmallVector<AffineMap> AvgPoolOp::getIterationSpaceMaps() {
  return poolMaps(getContext(), getInput().getType().getRank(), getStrides(),
                  getPads(), {});
}

//===----------------------------------------------------------------------===//
// Data movement: loops are the result's dims.
//===----------------------------------------------------------------------===//

template <typename OpTy>
static SmallVector<IteratorType> resultIterators(OpTy op) {
  return parallel(cast<RankedTensorType>(op->getResult(0).getType()).getRank());
}
static AffineMap resultIdentity(Operation *op) {
  return AffineMap::getMultiDimIdentityMap(
      tensorType(op->getResult(0)).getRank(), op->getContext());
}

SmallVector<IteratorType> ConstantOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> ConstantOp::getIterationSpaceMaps() {
  return {resultIdentity(*this)};
}

// shape and size read no element of their input: no loops at all.
static AffineMap opaqueMap(MLIRContext *ctx, int64_t numLoops, int64_t rank) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    exprs.push_back(getAffineSymbolExpr(i, ctx));
  return AffineMap::get(numLoops, rank, exprs, ctx);
}
SmallVector<IteratorType> ShapeOp::getIterationSpaceIterators() { return {}; }
SmallVector<AffineMap> ShapeOp::getIterationSpaceMaps() {
  return {opaqueMap(getContext(), 0, getInput().getType().getRank()),
          opaqueMap(getContext(), 0, 1)};
}
SmallVector<IteratorType> SizeOp::getIterationSpaceIterators() { return {}; }
SmallVector<AffineMap> SizeOp::getIterationSpaceMaps() {
  return {opaqueMap(getContext(), 0, getInput().getType().getRank()),
          opaqueMap(getContext(), 0, 0)};
}

// reshape: input index = delinearize(linearize(result index)), which affine
// maps express exactly with mod and floordiv.
SmallVector<IteratorType> ReshapeOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> ReshapeOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> in = getInput().getType().getShape();
  ArrayRef<int64_t> out = getOutput().getType().getShape();
  AffineExpr linear = getAffineConstantExpr(0, ctx);
  for (auto [i, d] : llvm::enumerate(out))
    linear = linear * d + getAffineDimExpr(i, ctx);
  SmallVector<AffineExpr> exprs;
  int64_t stride = 1;
  SmallVector<int64_t> strides(in.size());
  for (int64_t i = in.size() - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= std::max<int64_t>(in[i], 1);
  }
  for (auto [i, d] : llvm::enumerate(in))
    exprs.push_back(linear.floorDiv(strides[i]) % std::max<int64_t>(d, 1));
  return {mapOf(ctx, out.size(), exprs), resultIdentity(*this)};
}

SmallVector<IteratorType> TransposeOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> TransposeOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<AffineExpr> exprs(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    exprs[p] = getAffineDimExpr(i, ctx);
  return {mapOf(ctx, perm.size(), exprs), resultIdentity(*this)};
}

SmallVector<IteratorType> SliceOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> SliceOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < getInput().getType().getRank(); ++d)
    exprs.push_back(getAffineDimExpr(d, ctx) * getSteps()[d] + getStarts()[d]);
  return {mapOf(ctx, exprs.size(), exprs), resultIdentity(*this)};
}

// concat: input i covers result positions [offset_i, offset_i + size_i) of
// the axis; its map subtracts the offset.
SmallVector<IteratorType> ConcatOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> ConcatOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getOutput().getType().getRank(), offset = 0;
  SmallVector<AffineMap> maps;
  for (Value input : getInputs()) {
    SmallVector<AffineExpr> exprs = dims(ctx, 0, rank);
    exprs[getAxis()] = exprs[getAxis()] - offset;
    maps.push_back(mapOf(ctx, rank, exprs));
    offset += tensorType(input).getDimSize(getAxis());
  }
  maps.push_back(resultIdentity(*this));
  return maps;
}

SmallVector<IteratorType> PadOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> PadOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getInput().getType().getRank();
  SmallVector<AffineExpr> exprs;
  unsigned symbol = 0;
  for (int64_t d = 0; d < rank; ++d) {
    bool padded = getPads()[d] || getPads()[d + rank];
    // Reflect and edge padding read a position that depends on the loop
    // (not affinely): the loop and a symbol, so that no pass takes the
    // loop and the dim for one.
    if (padded && getMode() != "constant")
      exprs.push_back(getAffineDimExpr(d, ctx) +
                      getAffineSymbolExpr(symbol++, ctx));
    else
      exprs.push_back(getAffineDimExpr(d, ctx) - getPads()[d]);
  }
  return {mapOf(ctx, rank, exprs), resultIdentity(*this)};
}

SmallVector<IteratorType> TileOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> TileOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> in = getInput().getType().getShape();
  SmallVector<AffineExpr> exprs;
  for (auto [d, size] : llvm::enumerate(in))
    exprs.push_back(getAffineDimExpr(d, ctx) % std::max<int64_t>(size, 1));
  return {mapOf(ctx, in.size(), exprs), resultIdentity(*this)};
}

SmallVector<IteratorType> TriluOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> TriluOp::getIterationSpaceMaps() {
  return {resultIdentity(*this), resultIdentity(*this)};
}

SmallVector<IteratorType> GatherOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> GatherOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t axis = getAxis(), q = getIndices().getType().getRank();
  int64_t rank = getOutput().getType().getRank();
  SmallVector<AffineExpr> data = dims(ctx, 0, axis);
  data.push_back(getAffineSymbolExpr(0, ctx));
  llvm::append_range(data, dims(ctx, axis + q, rank - axis - q));
  return {mapOf(ctx, rank, data), mapOf(ctx, rank, dims(ctx, axis, q)),
          resultIdentity(*this)};
}

SmallVector<IteratorType> GatherElementsOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> GatherElementsOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getOutput().getType().getRank();
  SmallVector<AffineExpr> data = dims(ctx, 0, rank);
  data[getAxis()] = getAffineSymbolExpr(0, ctx);
  return {mapOf(ctx, rank, data), resultIdentity(*this), resultIdentity(*this)};
}

SmallVector<IteratorType> GatherNDOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> GatherNDOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t b = getBatchDims(), q = getIndices().getType().getRank();
  int64_t depth = getIndices().getType().getShape().back();
  int64_t rank = getOutput().getType().getRank();
  SmallVector<AffineExpr> data = dims(ctx, 0, b);
  for (int64_t i = 0; i < depth; ++i)
    data.push_back(getAffineSymbolExpr(i, ctx));
  llvm::append_range(data, dims(ctx, q - 1, rank - (q - 1)));
  SmallVector<AffineExpr> indices = dims(ctx, 0, q - 1);
  indices.push_back(getAffineSymbolExpr(0, ctx));
  return {mapOf(ctx, rank, data), mapOf(ctx, rank, indices),
          resultIdentity(*this)};
}

// scatters: loops are the updates' dims; data and result are written at
// data-dependent positions.
SmallVector<IteratorType> ScatterElementsOp::getIterationSpaceIterators() {
  return parallel(getUpdates().getType().getRank());
}
SmallVector<AffineMap> ScatterElementsOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getUpdates().getType().getRank();
  SmallVector<AffineExpr> data = dims(ctx, 0, rank);
  data[getAxis()] = getAffineSymbolExpr(0, ctx);
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap dataMap = mapOf(ctx, rank, data);
  return {dataMap, id, id, dataMap};
}

SmallVector<IteratorType> ScatterNDOp::getIterationSpaceIterators() {
  return parallel(getUpdates().getType().getRank());
}
SmallVector<AffineMap> ScatterNDOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t q = getIndices().getType().getRank();
  int64_t depth = getIndices().getType().getShape().back();
  int64_t rank = getUpdates().getType().getRank();
  SmallVector<AffineExpr> data;
  for (int64_t i = 0; i < depth; ++i)
    data.push_back(getAffineSymbolExpr(i, ctx));
  llvm::append_range(data, dims(ctx, q - 1, rank - (q - 1)));
  SmallVector<AffineExpr> indices = dims(ctx, 0, q - 1);
  indices.push_back(getAffineSymbolExpr(0, ctx));
  AffineMap dataMap = mapOf(ctx, rank, data);
  return {dataMap, mapOf(ctx, rank, indices),
          AffineMap::getMultiDimIdentityMap(rank, ctx), dataMap};
}

SmallVector<IteratorType> OneHotOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> OneHotOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  int64_t rank = getOutput().getType().getRank();
  SmallVector<AffineExpr> indices = dims(ctx, 0, rank);
  indices.erase(indices.begin() + getAxis());
  return {mapOf(ctx, rank, indices),
          mapOf(ctx, rank, {getAffineSymbolExpr(0, ctx)}),
          resultIdentity(*this)};
}

SmallVector<IteratorType> ResizeOp::getIterationSpaceIterators() {
  return resultIterators(*this);
}
SmallVector<AffineMap> ResizeOp::getIterationSpaceMaps() {
  MLIRContext *ctx = getContext();
  auto in = getInput().getType(), out = getOutput().getType();
  SmallVector<AffineExpr> exprs;
  unsigned symbol = 0;
  for (int64_t d = 0; d < in.getRank(); ++d) {
    if (in.getDimSize(d) == out.getDimSize(d))
      exprs.push_back(getAffineDimExpr(d, ctx));
    else
      exprs.push_back(getAffineSymbolExpr(symbol++, ctx));
  }
  return {mapOf(ctx, in.getRank(), exprs), resultIdentity(*this)};
}
