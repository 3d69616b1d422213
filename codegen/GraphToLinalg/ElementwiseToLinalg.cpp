//===- ElementwiseToLinalg.cpp - Elementwise graph ops to linalg.generic --===//
//
// One pattern for every elementwise op: the indexing maps come from the op's
// IterationSpaceOpInterface and the body from its ScalarComputeOpInterface.
// Broadcast dims (constant-0 map results) read element 0 of a size-1 dim.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::lowering;

namespace {
struct ElementwiseToGeneric
    : OpInterfaceConversionPattern<graph::ScalarComputeOpInterface> {
  using OpInterfaceConversionPattern::OpInterfaceConversionPattern;

  LogicalResult
  matchAndRewrite(graph::ScalarComputeOpInterface op, ArrayRef<Value> operands,
                  ConversionPatternRewriter &rewriter) const override {
    auto space = cast<graph::IterationSpaceOpInterface>(op.getOperation());
    Location loc = op.getLoc();
    auto resultType =
        convertedType(*getTypeConverter(), op->getResult(0).getType());
    SmallVector<AffineMap> maps = space.getIterationSpaceMaps();
    SmallVector<utils::IteratorType> iterators =
        space.getIterationSpaceIterators();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType}, operands,
        ValueRange{emptyTensor(rewriter, loc, resultType)}, maps, iterators,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value r = op.buildScalarComputation(b, nloc, args.drop_back());
          linalg::YieldOp::create(b, nloc, r);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct ConstantToArith : OpConversionPattern<graph::ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(graph::ConstantOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = convertedType(*getTypeConverter(), op.getType());
    Attribute value = op.getValue();
    if (type != op.getType()) {
      // Same bits, signless type.
      if (auto dense = dyn_cast<DenseElementsAttr>(value))
        value = dense.bitcast(type.getElementType());
      else if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
        value = DenseResourceElementsAttr::get(type, resource.getRawHandle());
      else
        return rewriter.notifyMatchFailure(op, "unknown constant kind");
    }
    // A large splat is filled at run time, not stored: as a constant it
    // became a global of its full size in the code (a 40 GB ConstantOfShape
    // ran LLVM out of memory).
    auto splat = dyn_cast<DenseElementsAttr>(value);
    if (splat && splat.isSplat() && type.getElementType().isIntOrFloat() &&
        type.getNumElements() *
                std::max<int64_t>(1, type.getElementTypeBitWidth() / 8) >
            kLargeSplatBytes) {
      Location loc = op.getLoc();
      Value scalar = arith::ConstantOp::create(
          rewriter, loc, cast<TypedAttr>(splat.getSplatValue<Attribute>()));
      Value fill =
          linalg::FillOp::create(rewriter, loc, scalar,
                                 emptyTensor(rewriter, loc, type))
              .getResult(0);
      rewriter.replaceOp(op, fill);
      return success();
    }
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, type,
                                                   cast<TypedAttr>(value));
    return success();
  }
  /// Splats above this many bytes are filled at run time.
  static constexpr int64_t kLargeSplatBytes = 1 << 20;
};
} // namespace

void mlir::llmc::populateElementwiseToLinalgPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<ElementwiseToGeneric>(converter, patterns.getContext());
  patterns.add<ConstantToArith>(converter, patterns.getContext());
}
