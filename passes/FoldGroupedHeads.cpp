//===- FoldGroupedHeads.cpp - GQA without repeated KV heads ---------------===//
//
// A matmul that reads KV heads repeated for grouped-query attention (reshape
// to a unit dim, broadcast_to, reshape merging it into the heads) reads the
// unrepeated heads instead: the lhs's heads are regrouped as
// [KV heads, group * rows], one batched matmul per KV head, and the result
// is reshaped back. See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "llmc/Passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_FOLDGROUPEDHEADSPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::graph;

namespace {
/// `x` [..., KVH * G, S, E] as the repeat of `heads` [..., KVH, S, E] (each
/// KV head G times in a row), when it is one.
struct HeadRepeat {
  Value heads;   // [..., KVH, S, E]
  int64_t group; // G
};

std::optional<HeadRepeat> matchRepeat(Value x) {
  auto merged = x.getDefiningOp<ReshapeOp>();
  if (!merged)
    return std::nullopt;
  auto broadcast = merged.getInput().getDefiningOp<BroadcastToOp>();
  if (!broadcast)
    return std::nullopt;
  auto unit = broadcast.getInput().getDefiningOp<ReshapeOp>();
  if (!unit)
    return std::nullopt;
  auto xType = cast<RankedTensorType>(x.getType());
  auto wide = cast<RankedTensorType>(broadcast.getType());
  auto narrow = cast<RankedTensorType>(broadcast.getInput().getType());
  auto heads = cast<RankedTensorType>(unit.getInput().getType());
  int64_t r = xType.getRank();
  if (r < 3 || wide.getRank() != r + 1 || narrow.getRank() != r + 1 ||
      heads.getRank() != r)
    return std::nullopt;
  int64_t h = r - 3; // the heads dim of x
  ArrayRef<int64_t> xs = xType.getShape(), ws = wide.getShape(),
                    ns = narrow.getShape(), hs = heads.getShape();
  // narrow: heads with a unit dim after the heads dim; wide: that dim G.
  for (int64_t d = 0; d <= r; ++d) {
    int64_t fromHeads = d <= h ? hs[d] : d == h + 1 ? 1 : hs[d - 1];
    if (ns[d] != fromHeads || (d != h + 1 && ws[d] != ns[d]))
      return std::nullopt;
  }
  int64_t group = ws[h + 1];
  // x merges (KVH, G) into the heads dim, the other dims unchanged.
  for (int64_t d = 0; d < r; ++d) {
    int64_t want = d < h ? ws[d] : d == h ? ws[h] * group : ws[d + 1];
    if (xs[d] != want)
      return std::nullopt;
  }
  if (group <= 1)
    return std::nullopt;
  return HeadRepeat{unit.getInput(), group};
}

struct FoldRepeatedHeads : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Value rhs = op.getRhs();
    TransposeOp transpose = rhs.getDefiningOp<TransposeOp>();
    if (transpose) {
      ArrayRef<int64_t> perm = transpose.getPerm();
      int64_t r = perm.size();
      bool swapsLastTwo = r >= 3 && perm[r - 2] == r - 1 && perm[r - 1] == r - 2;
      for (int64_t d = 0; swapsLastTwo && d + 2 < r; ++d)
        swapsLastTwo = perm[d] == d;
      if (!swapsLastTwo)
        return rewriter.notifyMatchFailure(op, "rhs transpose is not of the last two dims");
      rhs = transpose.getInput();
    }
    std::optional<HeadRepeat> repeat = matchRepeat(rhs);
    if (!repeat)
      return rewriter.notifyMatchFailure(op, "rhs is no repeat of KV heads");
    auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
    auto rhsType = cast<RankedTensorType>(op.getRhs().getType());
    auto outType = cast<RankedTensorType>(op.getType());
    int64_t r = lhsType.getRank();
    if (rhsType.getRank() != r ||
        lhsType.getShape().drop_back(2) != rhsType.getShape().drop_back(2))
      return rewriter.notifyMatchFailure(op, "lhs batch dims differ from the repeat's");
    int64_t group = repeat->group;
    int64_t kvHeads = lhsType.getDimSize(r - 3) / group;
    Location loc = op.getLoc();
    // lhs [..., H, L, E] -> [..., KVH, G * L, E].
    SmallVector<int64_t> lhsShape(lhsType.getShape());
    lhsShape[r - 3] = kvHeads;
    lhsShape[r - 2] *= group;
    Value lhs = ReshapeOp::create(
        rewriter, loc, RankedTensorType::get(lhsShape, lhsType.getElementType()),
        op.getLhs());
    Value heads = repeat->heads;
    if (transpose) {
      auto headsType = cast<RankedTensorType>(heads.getType());
      SmallVector<int64_t> shape(headsType.getShape());
      std::swap(shape[r - 2], shape[r - 1]);
      heads = TransposeOp::create(
          rewriter, loc, RankedTensorType::get(shape, headsType.getElementType()),
          heads, transpose.getPermAttr());
    }
    SmallVector<int64_t> productShape(outType.getShape());
    productShape[r - 3] = kvHeads;
    productShape[r - 2] *= group;
    Value product = MatMulOp::create(
        rewriter, loc,
        RankedTensorType::get(productShape, outType.getElementType()), lhs, heads);
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, outType, product);
    return success();
  }
};

struct FoldGroupedHeadsPass final
    : ::mlir::llmc::impl::FoldGroupedHeadsPassBase<FoldGroupedHeadsPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldRepeatedHeads>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
