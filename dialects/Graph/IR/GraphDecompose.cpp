//===- GraphDecompose.cpp - Composite graph ops into primitive ones -------===//
//
// DecomposableOpInterface: softmax, normalizations and GEMM rewrite
// themselves into reductions and elementwise ops. Fusion sees the composite
// op whole; the lowering to linalg only ever sees primitives.
//
//===----------------------------------------------------------------------===//

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::llmc::graph;

namespace {
/// Builds graph ops at one location with inferred result types.
struct GraphBuilder {
  RewriterBase &b;
  Location loc;

  Value scalar(Type element, double v) {
    auto type = RankedTensorType::get({}, element);
    Attribute attr = isa<FloatType>(element)
                         ? (Attribute)b.getFloatAttr(element, v)
                         : (Attribute)b.getIntegerAttr(element, (int64_t)v);
    return ConstantOp::create(b, loc, type, DenseElementsAttr::get(type, attr));
  }
  Value reduce(Value x, StringRef kind, ArrayRef<int64_t> axes) {
    return ReduceOp::create(b, loc, x, b.getStringAttr(kind),
                            b.getDenseI64ArrayAttr(axes), b.getBoolAttr(true));
  }
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value exp(Value x) { return ExpOp::create(b, loc, x.getType(), x); }
  Value log(Value x) { return LogOp::create(b, loc, x.getType(), x); }
  Value sqrt(Value x) { return SqrtOp::create(b, loc, x.getType(), x); }
  /// Reshapes a 1-D per-channel tensor to [C, 1, ..., 1] for NC... inputs.
  Value perChannel(Value v, int64_t rank) {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape(rank - 1, 1);
    shape[0] = type.getDimSize(0);
    return ReshapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), v);
  }
  /// (x - mean) / sqrt(variance + epsilon), reducing over `axes`.
  Value normalize(Value x, ArrayRef<int64_t> axes, double epsilon) {
    Type element = getElementTypeOrSelf(x.getType());
    Value centered = sub(x, reduce(x, "mean", axes));
    Value variance = reduce(mul(centered, centered), "mean", axes);
    return div(centered, sqrt(add(variance, scalar(element, epsilon))));
  }
};

SmallVector<int64_t> range(int64_t from, int64_t to) {
  SmallVector<int64_t> r;
  for (int64_t i = from; i < to; ++i)
    r.push_back(i);
  return r;
}
} // namespace

LogicalResult SoftmaxOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  Value shifted = g.sub(getInput(), g.reduce(getInput(), "max", {static_cast<int64_t>(getAxis())}));
  Value e = g.exp(shifted);
  rewriter.replaceOp(*this, g.div(e, g.reduce(e, "sum", {static_cast<int64_t>(getAxis())})));
  return success();
}

LogicalResult LogSoftmaxOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  Value shifted = g.sub(getInput(), g.reduce(getInput(), "max", {static_cast<int64_t>(getAxis())}));
  Value sum = g.reduce(g.exp(shifted), "sum", {static_cast<int64_t>(getAxis())});
  rewriter.replaceOp(*this, g.sub(shifted, g.log(sum)));
  return success();
}

LogicalResult HardmaxOp::decompose(RewriterBase &rewriter) {
  auto type = getInput().getType();
  int64_t axis = getAxis(), n = type.getDimSize(axis);
  Value argmax = ArgReduceOp::create(
      rewriter, getLoc(), getInput(), rewriter.getStringAttr("max"),
      rewriter.getI64IntegerAttr(axis), rewriter.getBoolAttr(true),
      rewriter.getBoolAttr(false));
  // Positions along the axis, shaped to broadcast against the input.
  SmallVector<int64_t> shape(type.getRank(), 1);
  shape[axis] = n;
  auto iotaType = RankedTensorType::get(shape, rewriter.getI64Type());
  SmallVector<int64_t> positions = range(0, n);
  Value iota = ConstantOp::create(
      rewriter, getLoc(), iotaType,
      DenseElementsAttr::get(iotaType, ArrayRef<int64_t>(positions)));
  Value hit = EqualOp::create(rewriter, getLoc(), iota, argmax);
  rewriter.replaceOpWithNewOp<CastOp>(*this, type, hit);
  return success();
}

LogicalResult LayerNormOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  int64_t rank = getInput().getType().getRank();
  Value y = g.normalize(getInput(), range(getAxis(), rank),
                        getEpsilon().convertToDouble());
  y = g.mul(y, getScale());
  if (getBias())
    y = g.add(y, getBias());
  rewriter.replaceOp(*this, y);
  return success();
}

LogicalResult BatchNormOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  int64_t rank = getInput().getType().getRank();
  Type element = getInput().getType().getElementType();
  // y = (x - mean) * (scale / sqrt(var + eps)) + bias; the factor depends
  // only on parameters, so it is computed once per channel.
  Value factor = g.div(g.perChannel(getScale(), rank),
                       g.sqrt(g.add(g.perChannel(getVariance(), rank),
                                    g.scalar(element, getEpsilon().convertToDouble()))));
  Value y = g.mul(g.sub(getInput(), g.perChannel(getMean(), rank)), factor);
  rewriter.replaceOp(*this, g.add(y, g.perChannel(getBias(), rank)));
  return success();
}

LogicalResult InstanceNormOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  int64_t rank = getInput().getType().getRank();
  Value y = g.normalize(getInput(), range(2, rank),
                        getEpsilon().convertToDouble());
  y = g.mul(y, g.perChannel(getScale(), rank));
  rewriter.replaceOp(*this, g.add(y, g.perChannel(getBias(), rank)));
  return success();
}

LogicalResult GemmOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  Value a = getA(), b = getB();
  if (getTransA())
    a = TransposeOp::create(rewriter, getLoc(), a, ArrayRef<int64_t>{1, 0});
  if (getTransB())
    b = TransposeOp::create(rewriter, getLoc(), b, ArrayRef<int64_t>{1, 0});
  Type element = getOutput().getType().getElementType();
  Value y = MatMulOp::create(rewriter, getLoc(), a, b);
  double alpha = getAlpha().convertToDouble(), beta = getBeta().convertToDouble();
  if (alpha != 1.0)
    y = g.mul(y, g.scalar(element, alpha));
  if (getC() && beta != 0.0) {
    Value c = getC();
    if (beta != 1.0)
      c = g.mul(c, g.scalar(element, beta));
    y = g.add(y, c);
  }
  if (y.getType() != getOutput().getType())
    y = BroadcastToOp::create(rewriter, getLoc(), getOutput().getType(), y);
  rewriter.replaceOp(*this, y);
  return success();
}

LogicalResult AttentionOp::decompose(RewriterBase &rewriter) {
  GraphBuilder g{rewriter, getLoc()};
  Location loc = getLoc();
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  Type t = q.getElementType();
  int64_t B = q.getDimSize(0), KVH = q.getDimSize(1), G = q.getDimSize(2),
          L = q.getDimSize(3), D = q.getDimSize(4), S = k.getDimSize(2),
          E = v.getDimSize(3);
  auto type = [&](ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, t);
  };
  // Per KV head, its G query heads' rows as one matrix [G * L, D].
  Value rows = ReshapeOp::create(rewriter, loc, type({B, KVH, G * L, D}),
                                 getQuery());
  Value keysT = TransposeOp::create(rewriter, loc, type({B, KVH, D, S}),
                                    getKey(),
                                    rewriter.getDenseI64ArrayAttr({0, 1, 3, 2}));
  Value scores = MatMulOp::create(rewriter, loc, type({B, KVH, G * L, S}),
                                  rows, keysT);
  scores = ReshapeOp::create(rewriter, loc, type({B, KVH, G, L, S}), scores);
  scores = g.mul(scores, g.scalar(t, getScale().convertToDouble()));
  if (getBias())
    scores = g.add(scores, getBias());
  // The softmax over the keys, written out.
  Value shifted = g.sub(scores, g.reduce(scores, "max", {4}));
  Value e = g.exp(shifted);
  Value probs = g.div(e, g.reduce(e, "sum", {4}));
  probs = ReshapeOp::create(rewriter, loc, type({B, KVH, G * L, S}), probs);
  Value out = MatMulOp::create(rewriter, loc, type({B, KVH, G * L, E}), probs,
                               getValue());
  rewriter.replaceOpWithNewOp<ReshapeOp>(*this, getType(), out);
  return success();
}

/// lhs,rhs->out with float operands becomes one batched GEMM, as
/// torch.einsum does:
///   transpose(lhs) -> [B.., M.., K..] -> reshape [B.., m, k]
///   transpose(rhs) -> [B.., K.., N..] -> reshape [B.., k, n]
///   matmul -> [B.., m, n] -> reshape [B.., M.., N..] -> transpose to `out`
/// where B are the letters of both operands and the output, M of lhs and the
/// output only, N of rhs and the output only, K of both operands only; m, n
/// and k are the products of their letters' sizes (1 when there are none).
/// Both operands have every batch dim, so the GEMM never broadcasts (the
/// BLAS call takes no mixed broadcasting).
LogicalResult EinsumOp::decompose(RewriterBase &rewriter) {
  if (getInputs().size() != 2 ||
      !isa<FloatType>(getOutput().getType().getElementType()))
    return failure();
  StringRef eq = getEquation();
  size_t arrow = eq.find("->");
  StringRef terms = eq.take_front(arrow), out = eq.drop_front(arrow + 2);
  auto [l, r] = terms.split(',');
  auto unique = [](StringRef t) {
    return llvm::all_of(t, [&](char ch) { return llvm::count(t, ch) == 1; });
  };
  if (!unique(l) || !unique(r) || !unique(out))
    return failure(); // diagonals
  std::string batch, mLetters, nLetters, kLetters;
  for (char ch : l) {
    bool inR = r.contains(ch), inOut = out.contains(ch);
    if (inR && inOut)
      batch += ch;
    else if (inOut)
      mLetters += ch;
    else if (inR)
      kLetters += ch;
    else
      return failure(); // summed within one operand
  }
  for (char ch : r)
    if (!l.contains(ch)) {
      if (!out.contains(ch))
        return failure();
      nLetters += ch;
    }
  Value lhs = getInputs()[0], rhs = getInputs()[1];
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  Type element = lhsType.getElementType();
  if (rhsType.getElementType() != element)
    return failure();
  StringRef lhsLetters = l, rhsLetters = r;
  auto sizeOf = [&](char ch) {
    if (size_t i = lhsLetters.find(ch); i != StringRef::npos)
      return lhsType.getDimSize(i);
    return rhsType.getDimSize(rhsLetters.find(ch));
  };
  auto product = [&](StringRef letters) {
    int64_t n = 1;
    for (char ch : letters)
      n *= sizeOf(ch);
    return n;
  };
  Location loc = getLoc();
  auto reshape = [&](Value v, ArrayRef<int64_t> shape) -> Value {
    auto type = RankedTensorType::get(shape, element);
    return v.getType() == type ? v
                               : ReshapeOp::create(rewriter, loc, type, v)
                                     .getResult();
  };
  // `v` (letters `have`) transposed into the order `want`.
  auto transpose = [&](Value v, StringRef have, StringRef want) -> Value {
    SmallVector<int64_t> perm;
    for (char ch : want)
      perm.push_back(have.find(ch));
    if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
      return v;
    return TransposeOp::create(rewriter, loc, v, perm).getResult();
  };
  SmallVector<int64_t> batchShape;
  for (char ch : batch)
    batchShape.push_back(sizeOf(ch));
  int64_t m = product(mLetters), n = product(nLetters), k = product(kLetters);
  auto with = [&](std::initializer_list<int64_t> tail) {
    SmallVector<int64_t> shape(batchShape);
    shape.append(tail);
    return shape;
  };
  Value a = reshape(transpose(lhs, l, batch + mLetters + kLetters), with({m, k}));
  Value b = reshape(transpose(rhs, r, batch + kLetters + nLetters), with({k, n}));
  Value product3 = MatMulOp::create(rewriter, loc, a, b);
  SmallVector<int64_t> shape(batchShape);
  for (char ch : mLetters + nLetters)
    shape.push_back(sizeOf(ch));
  Value result = transpose(reshape(product3, shape),
                           batch + mLetters + nLetters, out);
  rewriter.replaceOp(*this, result);
  return success();
}
