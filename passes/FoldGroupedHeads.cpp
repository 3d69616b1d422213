//===- FoldGroupedHeads.cpp - GQA without repeated KV heads ---------------===//
//
// A matmul that reads KV heads repeated for grouped-query attention (reshape
// to a unit dim, broadcast_to, reshape merging it into the heads) reads the
// unrepeated heads instead: the lhs's heads are regrouped as
// [KV heads, group * rows], one batched matmul per KV head, and the result
// is reshaped back. See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "HeadRepeat.h"
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
using mlir::llmc::HeadRepeat;
using mlir::llmc::matchHeadRepeat;

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
    std::optional<HeadRepeat> repeat = matchHeadRepeat(rhs);
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
