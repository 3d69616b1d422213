//===- LiftAttention.cpp - One op for scaled dot-product attention --------===//
//
// matmul(softmax(mask(scale(matmul(Q, K^T)))), V) becomes graph.attention,
// grouped-query attention's repeated KV heads read unrepeated. See the pass
// description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "HeadRepeat.h"
#include "llmc/Passes/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::llmc {
#define GEN_PASS_DEF_LIFTATTENTIONPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::graph;

namespace {
/// The value of a scalar (or splat) float constant.
std::optional<double> scalarValue(Value v) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.isSplat() ||
      !isa<FloatType>(attr.getElementType()))
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

/// A fill the softmax cannot tell from -inf: a masked score becomes it
/// whatever the score was (|score| far below its rounding step).
bool isMaskFill(double v) { return std::isinf(v) ? v < 0 : v <= -1e30; }

/// numpy broadcasting of two shapes (they are known to broadcast).
SmallVector<int64_t> broadcastShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t n = std::max(a.size(), b.size());
  SmallVector<int64_t> out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    out[i] = x == 1 ? y : x;
  }
  return out;
}

/// `v` has no user but `user`.
bool onlyFeeds(Value v, Operation *user) {
  return llvm::all_of(v.getUsers(), [&](Operation *u) { return u == user; });
}

/// K from the scores' rhs K^T (its last two dims swapped): a transpose's
/// input when the transpose only swaps them, a transpose of that input by
/// the rest of the permutation otherwise, or a new transpose of K^T.
Value untransposed(PatternRewriter &rewriter, Location loc, Value kt) {
  auto type = cast<RankedTensorType>(kt.getType());
  int64_t r = type.getRank();
  SmallVector<int64_t> perm;
  Value x = kt;
  if (auto t = kt.getDefiningOp<TransposeOp>()) {
    perm.assign(t.getPerm().begin(), t.getPerm().end());
    x = t.getInput();
  } else {
    for (int64_t d = 0; d < r; ++d)
      perm.push_back(d);
  }
  std::swap(perm[r - 2], perm[r - 1]);
  bool identity = true;
  for (int64_t d = 0; d < r; ++d)
    identity &= perm[d] == d;
  if (identity)
    return x;
  SmallVector<int64_t> shape(type.getShape());
  std::swap(shape[r - 2], shape[r - 1]);
  return TransposeOp::create(rewriter, loc,
                             RankedTensorType::get(shape, type.getElementType()),
                             x, rewriter.getDenseI64ArrayAttr(perm));
}

/// `v` of rank 3 [N, X, Y] as [N, 1, X, Y].
Value withHeads(PatternRewriter &rewriter, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != 3)
    return v;
  SmallVector<int64_t> shape{type.getDimSize(0), 1, type.getDimSize(1),
                             type.getDimSize(2)};
  return ReshapeOp::create(rewriter, loc,
                           RankedTensorType::get(shape, type.getElementType()), v);
}

/// The input of a softmax over the last of `rank` dims that `p` is: a
/// graph.softmax, or its decomposition (x - max, exp, / sum), each part read
/// by the softmax alone. `readers` gets the ops that read the input.
Value softmaxInput(Value p, SmallVectorImpl<Operation *> &readers) {
  auto rank = cast<RankedTensorType>(p.getType()).getRank();
  if (auto softmax = p.getDefiningOp<SoftmaxOp>()) {
    if (static_cast<int64_t>(softmax.getAxis()) != rank - 1)
      return {};
    readers.push_back(softmax);
    return softmax.getInput();
  }
  auto lastAxis = [&](ReduceOp r, StringRef kind) {
    return r && r.getKind() == kind && r.getKeepdims() &&
           r.getAxes().size() == 1 && r.getAxes()[0] == rank - 1;
  };
  auto div = p.getDefiningOp<DivOp>();
  if (!div)
    return {};
  auto exp = div.getLhs().getDefiningOp<ExpOp>();
  auto sum = div.getRhs().getDefiningOp<ReduceOp>();
  if (!exp || !lastAxis(sum, "sum") || sum.getInput() != exp.getResult())
    return {};
  auto sub = exp.getInput().getDefiningOp<SubOp>();
  if (!sub)
    return {};
  auto max = sub.getRhs().getDefiningOp<ReduceOp>();
  if (!lastAxis(max, "max") || max.getInput() != sub.getLhs())
    return {};
  for (Operation *u : exp->getUsers())
    if (u != div && u != sum)
      return {};
  if (!sum->hasOneUse() || !sub->hasOneUse() || !max->hasOneUse())
    return {};
  readers.append({max, sub});
  return sub.getLhs();
}

/// The largest head dim (D and E) the CUDA kernel takes
/// (KernelsToGpu.cpp's flash attention).
constexpr int64_t kMaxCudaHeadDim = 128;

struct LiftAttention : OpRewritePattern<MatMulOp> {
  LiftAttention(MLIRContext *ctx, int64_t maxHeadDim)
      : OpRewritePattern(ctx), maxHeadDim(maxHeadDim) {}
  /// 0: any.
  int64_t maxHeadDim;

  LogicalResult matchAndRewrite(MatMulOp pv,
                                PatternRewriter &rewriter) const override {
    auto outType = cast<RankedTensorType>(pv.getType());
    SmallVector<Operation *> readers;
    Value softmaxIn = softmaxInput(pv.getLhs(), readers);
    if (!softmaxIn || (outType.getRank() != 3 && outType.getRank() != 4) ||
        !outType.getElementType().isF32() || !outType.hasStaticShape() ||
        !onlyFeeds(pv.getLhs(), pv) ||
        llvm::any_of(softmaxIn.getUsers(), [&](Operation *u) {
          return !llvm::is_contained(readers, u);
        }))
      return rewriter.notifyMatchFailure(pv, "not matmul(softmax(scores), V)");

    // Walk back from the softmax's input to the scores' matmul, collecting
    // the scalings and masks: scores = qk * scale + sum(biases).
    double scale = 1.0;
    struct Bias {
      Value tensor;    // null: the mask of maskFills' next where
      double scaledBy; // the scalings between it and the softmax
    };
    SmallVector<Bias> biases;
    SmallVector<std::pair<Operation *, Value>> maskFills; // where, fill side
    Value s = softmaxIn;
    Operation *user = nullptr; // the softmax: its readers checked above
    MatMulOp qk;
    // The chain's ops, whose locations (ONNX nodes) the op takes.
    SmallVector<Location> locs;
    while (true) {
      if (user && !onlyFeeds(s, user))
        return rewriter.notifyMatchFailure(pv, "the scores have other readers");
      Operation *def = s.getDefiningOp();
      if (!def)
        return rewriter.notifyMatchFailure(pv, "scores from an argument");
      if ((qk = dyn_cast<MatMulOp>(def)))
        break;
      locs.push_back(def->getLoc());
      user = def;
      auto same = [&](Value x) { return x.getType() == s.getType(); };
      if (isa<MulOp, DivOp>(def)) {
        Value x = def->getOperand(0), c = def->getOperand(1);
        std::optional<double> k = scalarValue(c);
        if ((!k || !same(x)) && isa<MulOp>(def)) {
          std::swap(x, c);
          k = scalarValue(c);
        }
        if (!k || !same(x) || !(*k > 0) || !std::isfinite(*k))
          return rewriter.notifyMatchFailure(pv, "not a positive scaling");
        // Walking back, a scaling comes before the masks already seen: it
        // scales the scores only, and the masks found further back.
        scale *= isa<MulOp>(def) ? *k : 1.0 / *k;
        s = x;
        continue;
      }
      if (auto add = dyn_cast<AddOp>(def)) {
        Value x = add.getLhs(), b = add.getRhs();
        if (!same(x))
          std::swap(x, b);
        if (!same(x) || x == b)
          return rewriter.notifyMatchFailure(pv, "not scores plus a mask");
        biases.push_back({b, scale});
        s = x;
        continue;
      }
      if (auto where = dyn_cast<WhereOp>(def)) {
        std::optional<double> fillTrue = scalarValue(where.getLhs());
        std::optional<double> fillFalse = scalarValue(where.getRhs());
        bool scoresOnTrue = same(where.getLhs()) && fillFalse &&
                            isMaskFill(*fillFalse);
        bool scoresOnFalse = same(where.getRhs()) && fillTrue &&
                             isMaskFill(*fillTrue);
        if (scoresOnTrue == scoresOnFalse)
          return rewriter.notifyMatchFailure(pv, "not a mask filling -inf");
        // The mask as a bias, built below: 0 where the scores stay.
        maskFills.push_back({where, scoresOnTrue ? where.getRhs()
                                                 : where.getLhs()});
        biases.push_back({Value(), scale});
        s = scoresOnTrue ? where.getLhs() : where.getRhs();
        continue;
      }
      return rewriter.notifyMatchFailure(pv, "unknown op between the matmuls");
    }
    Value q = qk.getLhs(), v = pv.getRhs(), kt = qk.getRhs();
    int64_t rank = outType.getRank();
    auto qType = cast<RankedTensorType>(q.getType());
    auto ktType = cast<RankedTensorType>(kt.getType());
    auto vType = cast<RankedTensorType>(v.getType());
    if (qType.getRank() != rank || ktType.getRank() != rank ||
        vType.getRank() != rank || !qType.hasStaticShape() ||
        qType.getShape().drop_back(2) != ktType.getShape().drop_back(2) ||
        vType.getShape().drop_back(2) != qType.getShape().drop_back(2))
      return rewriter.notifyMatchFailure(pv, "Q, K, V are not [B, H, rows, dim]");
    // Grouped queries: K and V repeat fewer KV heads.
    int64_t group = 1;
    Value kHeads, vHeads;
    if (rank == 4) {
      Value kr = kt;
      if (auto t = kt.getDefiningOp<TransposeOp>();
          t && t.getPerm()[0] == 0 && t.getPerm()[1] == 1 && t.getPerm()[2] == 3 &&
          t.getPerm()[3] == 2)
        kr = t.getInput();
      std::optional<HeadRepeat> rk = matchHeadRepeat(kr);
      std::optional<HeadRepeat> rv = matchHeadRepeat(v);
      if (rk && rv && rk->group == rv->group) {
        kHeads = rk->heads;
        vHeads = rv->heads;
        group = rk->group;
      }
    }
    // The CUDA kernel keeps a query row and a key tile's rows of D and E
    // floats on chip: up to kMaxCudaHeadDim.
    if (maxHeadDim > 0 &&
        (cast<RankedTensorType>(q.getType()).getShape().back() > maxHeadDim ||
         cast<RankedTensorType>(v.getType()).getShape().back() > maxHeadDim))
      return rewriter.notifyMatchFailure(pv, "head dims beyond the kernel's");
    // Every mask must broadcast to the scores: checked before any op is made.
    {
      SmallVector<int64_t> scores(outType.getShape().drop_back());
      scores.push_back(ktType.getShape().back());
      unsigned fill = 0;
      for (Bias &b : biases) {
        SmallVector<int64_t> shape;
        if (b.tensor) {
          shape.assign(cast<RankedTensorType>(b.tensor.getType()).getShape().begin(),
                       cast<RankedTensorType>(b.tensor.getType()).getShape().end());
          if (!cast<RankedTensorType>(b.tensor.getType()).getElementType().isF32())
            return rewriter.notifyMatchFailure(pv, "a mask that is not f32");
        } else {
          auto [where, fillValue] = maskFills[fill++];
          shape = broadcastShape(
              cast<RankedTensorType>(cast<WhereOp>(where).getCondition().getType())
                  .getShape(),
              cast<RankedTensorType>(fillValue.getType()).getShape());
        }
        if (int64_t(shape.size()) > rank)
          return rewriter.notifyMatchFailure(pv, "a mask of a higher rank");
        SmallVector<int64_t> padded(rank - shape.size(), 1);
        llvm::append_range(padded, shape);
        for (int64_t d = 0; d < rank; ++d)
          if (padded[d] != 1 && padded[d] != scores[d])
            return rewriter.notifyMatchFailure(pv, "a mask that does not broadcast");
      }
    }
    locs.insert(locs.begin(), qk.getLoc());
    std::reverse(locs.begin() + 1, locs.end());
    if (Operation *softmaxOp = pv.getLhs().getDefiningOp()) {
      // The softmax (or its parts, in program order).
      for (Operation *r : readers)
        locs.push_back(r->getLoc());
      locs.push_back(softmaxOp->getLoc());
    }
    locs.push_back(pv.getLoc());
    Location loc = rewriter.getFusedLoc(locs);
    Value k = kHeads ? kHeads : untransposed(rewriter, loc, kt);
    if (vHeads)
      v = vHeads;
    q = withHeads(rewriter, loc, q);
    k = withHeads(rewriter, loc, k);
    v = withHeads(rewriter, loc, v);
    qType = cast<RankedTensorType>(q.getType());
    auto kType = cast<RankedTensorType>(k.getType());
    vType = cast<RankedTensorType>(v.getType());
    Type f32 = rewriter.getF32Type();
    int64_t B = qType.getDimSize(0),
            L = qType.getDimSize(2), D = qType.getDimSize(3),
            KVH = kType.getDimSize(1),
            E = vType.getDimSize(3);
    auto scalar = [&](double x) -> Value {
      auto t = RankedTensorType::get({}, f32);
      return ConstantOp::create(rewriter, loc, t,
                                DenseElementsAttr::get(t, (float)x));
    };
    // One additive bias: the masks as 0 / fill, scaled by what came after.
    Value bias;
    unsigned fill = 0;
    for (Bias &b : biases) {
      Value t = b.tensor;
      if (!t) {
        auto [where, fillValue] = maskFills[fill++];
        auto cond = cast<WhereOp>(where).getCondition();
        bool scoresOnTrue = fillValue == cast<WhereOp>(where).getRhs();
        auto type = RankedTensorType::get(
            broadcastShape(cast<RankedTensorType>(cond.getType()).getShape(),
                           cast<RankedTensorType>(fillValue.getType()).getShape()),
            f32);
        Value zero = scalar(0.0);
        t = scoresOnTrue ? WhereOp::create(rewriter, loc, type, cond, zero, fillValue)
                         : WhereOp::create(rewriter, loc, type, cond, fillValue, zero);
      }
      if (b.scaledBy != 1.0)
        t = MulOp::create(rewriter, loc, t, scalar(b.scaledBy));
      bias = bias ? (Value)AddOp::create(rewriter, loc, bias, t) : t;
    }
    if (bias) {
      // numpy-broadcast to the scores [B, H, L, S], then H split as (KVH, G).
      auto bt = cast<RankedTensorType>(bias.getType());
      SmallVector<int64_t> b4(rank - bt.getRank(), 1);
      llvm::append_range(b4, bt.getShape());
      if (rank == 3) // [N, L, S]: the heads dim of size 1 after N
        b4.insert(b4.begin() + 1, 1);
      SmallVector<int64_t> b5{b4[0], b4[1] == 1 ? 1 : KVH, b4[1] == 1 ? 1 : group,
                              b4[2], b4[3]};
      bias = ReshapeOp::create(rewriter, loc, RankedTensorType::get(b5, f32), bias);
    }
    Value q5 = ReshapeOp::create(
        rewriter, loc, RankedTensorType::get({B, KVH, group, L, D}, f32), q);
    Value attention = AttentionOp::create(
        rewriter, loc, RankedTensorType::get({B, KVH, group, L, E}, f32), q5, k,
        v, bias, rewriter.getF64FloatAttr(scale));
    rewriter.replaceOpWithNewOp<ReshapeOp>(pv, outType, attention);
    return success();
  }
};

struct LiftAttentionPass final
    : ::mlir::llmc::impl::LiftAttentionPassBase<LiftAttentionPass> {
  using Base::Base;
  void runOnOperation() override {
    if (target != "cpu" && target != "cuda") {
      getOperation().emitError() << "llmc-lift-attention: unknown target '"
                                 << target << "' (expected cpu or cuda)";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<LiftAttention>(&getContext(),
                                target == "cuda" ? kMaxCudaHeadDim : 0);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
