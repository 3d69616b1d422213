//===- CollectivesToLinalg.cpp - shard collectives as runtime calls -------===//
//
// The collectives llmc-partition inserts (upstream `shard` ops) become
// linalg.generic ops marked with a `library_call` naming the runtime's
// collective kernel for their element type and rank
// (`llmc_collective_<type>_r<rank>`, runtime/Collectives.cpp), which
// llmc-lower-library-calls turns into a call after bufferization. The
// generic's body is what the collective computes on a group of one device
// (a copy, or the first part of its input), so the IR stays well-formed
// whatever runs it; the kernel's parameters say what it really is:
// [kind, mesh axis, dim, reduction, group size, step, second dim].
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "llmc/Runtime/Collectives.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::lowering;

namespace {
using ::llmc::runtime::CollectiveKind;

int64_t reductionCode(shard::ReductionKind kind) {
  using ::llmc::runtime::ReduceKind;
  switch (kind) {
  case shard::ReductionKind::Max:
    return static_cast<int64_t>(ReduceKind::Max);
  case shard::ReductionKind::Min:
    return static_cast<int64_t>(ReduceKind::Min);
  default:
    return static_cast<int64_t>(ReduceKind::Sum);
  }
}

/// "f32", "bf16", "i64"... as the runtime's kernel names spell them; empty
/// when it has no kernel for the type.
std::string typeName(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF64())
    return "f64";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isInteger(64))
    return "i64";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(8))
    return "i8";
  // Booleans are bytes too, but a kernel's name fixes its MLIR signature:
  // they use the u8 kernels, whose name no signless type takes.
  if (t.isInteger(1))
    return "u8";
  return "";
}

template <typename OpTy>
struct CollectiveToLibraryCall : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;

  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(
        op, op.getGridAttr());
    ArrayRef<int16_t> axes = op.getGridAxes();
    if (!grid || axes.size() != 1)
      return op.emitOpError(
          "has no runtime kernel: collectives run over one axis of a known "
          "shard.grid");
    int64_t groupSize = grid.getShape()[axes[0]];
    Value input = adaptor.getInput();
    auto in = cast<RankedTensorType>(input.getType());
    auto out = convertedType(*this->getTypeConverter(), op.getType());
    std::string type = typeName(in.getElementType());
    if (type.empty() || in.getRank() > 8)
      return op.emitOpError("has no runtime kernel for ")
             << in << " (collectives take f32, f64, f16, bf16, i64, i32, i8 "
                      "and bool tensors of rank 0 to 8)";
    int64_t kind = 0, dim = -1, dim2 = -1, reduction = 0;
    if constexpr (std::is_same_v<OpTy, shard::AllReduceOp>) {
      kind = static_cast<int64_t>(CollectiveKind::AllReduce);
      reduction = reductionCode(op.getReduction());
    } else if constexpr (std::is_same_v<OpTy, shard::AllGatherOp>) {
      kind = static_cast<int64_t>(CollectiveKind::AllGather);
      dim = op.getGatherAxis().getSExtValue();
    } else if constexpr (std::is_same_v<OpTy, shard::ReduceScatterOp>) {
      kind = static_cast<int64_t>(CollectiveKind::ReduceScatter);
      dim = op.getScatterAxis().getSExtValue();
      reduction = reductionCode(op.getReduction());
    } else if constexpr (std::is_same_v<OpTy, shard::AllToAllOp>) {
      kind = static_cast<int64_t>(CollectiveKind::AllToAll);
      dim = op.getSplitAxis().getSExtValue();
      dim2 = op.getConcatAxis().getSExtValue();
    } else {
      kind = static_cast<int64_t>(CollectiveKind::Split);
      dim = op.getSliceAxis().getSExtValue();
    }
    int64_t step = 0;
    if (auto attr = op->template getAttrOfType<IntegerAttr>("llmc.step"))
      step = attr.getInt();
    auto paramsType = RankedTensorType::get({7}, rewriter.getI64Type());
    Value params = arith::ConstantOp::create(
        rewriter, loc, paramsType,
        DenseElementsAttr::get(
            paramsType, ArrayRef<int64_t>{kind, axes[0], dim, reduction,
                                          groupSize, step, dim2}));
    // Loops over the result; the input is read at the same index, wrapped
    // into its extent along a dim it is smaller in (a group of one's view).
    // Where the sizes differ the index is never a plain loop, so linalg
    // takes the loop's extent from the result alone.
    MLIRContext *ctx = rewriter.getContext();
    int64_t rank = out.getRank();
    SmallVector<AffineExpr> inExprs;
    for (int64_t d = 0; d < rank; ++d) {
      AffineExpr e = getAffineDimExpr(d, ctx);
      if (in.getDimSize(d) != out.getDimSize(d))
        e = e % std::min(in.getDimSize(d), out.getDimSize(d));
      inExprs.push_back(e);
    }
    // The parameters are an operand the body ignores (as the BLAS calls'
    // are): read at a constant index.
    SmallVector<AffineMap> maps{
        AffineMap::get(rank, 0, inExprs, ctx),
        AffineMap::get(rank, 0, {getAffineConstantExpr(0, ctx)}, ctx),
        AffineMap::getMultiDimIdentityMap(rank, ctx)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{out}, ValueRange{input, params},
        ValueRange{emptyTensor(rewriter, loc, out)}, maps, iterators,
        [](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, args[0]);
        });
    generic.setLibraryCallAttr(rewriter.getStringAttr(
        "llmc_collective_" + type + "_r" + std::to_string(rank)));
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};
} // namespace

void mlir::llmc::populateCollectivesToLinalgPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<CollectiveToLibraryCall<shard::AllReduceOp>,
               CollectiveToLibraryCall<shard::AllGatherOp>,
               CollectiveToLibraryCall<shard::ReduceScatterOp>,
               CollectiveToLibraryCall<shard::AllToAllOp>,
               CollectiveToLibraryCall<shard::AllSliceOp>>(
      converter, patterns.getContext());
}
