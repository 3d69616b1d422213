//===- AttentionBufferization.cpp - graph.attention as a kernel call ------===//
//
// On the CPU, f32 graph.attention reaches bufferization whole (see
// llmc-convert-graph-to-linalg's library-attention option). Its bufferization
// reads its operands' buffers, allocates the result's and calls the
// runtime's fused kernel (runtime/AttentionKernel.cpp):
//   llmc_attention_f32(q, k, v, bias, params, out)
//   llmc_attention_nobias_f32(q, k, v, params, out)
// with fully dynamic strided memrefs and params = [scale] (f64).
//
//===----------------------------------------------------------------------===//

#include "LibraryCall.h"
#include "llmc/Codegen/Passes.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::bufferization;

namespace {
struct AttentionBufferization
    : BufferizableOpInterface::ExternalModel<AttentionBufferization,
                                             mlir::llmc::graph::AttentionOp> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &,
                                      const AnalysisState &) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *, Value) const { return true; }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto attention = cast<mlir::llmc::graph::AttentionOp>(op);
    Location loc = op->getLoc();
    SmallVector<Value> args;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer = getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      args.push_back(*buffer);
    }
    auto resultType = attention.getType();
    auto outType = MemRefType::get(resultType.getShape(),
                                   resultType.getElementType());
    FailureOr<Value> out =
        options.createAlloc(rewriter, loc, outType, ValueRange{});
    if (failed(out))
      return failure();
    // params = [scale].
    auto paramsType = MemRefType::get({1}, rewriter.getF64Type());
    Value params = memref::AllocaOp::create(rewriter, loc, paramsType);
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value scale = arith::ConstantOp::create(
        rewriter, loc, rewriter.getF64FloatAttr(
                           attention.getScale().convertToDouble()));
    memref::StoreOp::create(rewriter, loc, scale, params, ValueRange{zero});
    args.push_back(params);
    args.push_back(*out);

    StringRef name = attention.getBias() ? "llmc_attention_f32"
                                         : "llmc_attention_nobias_f32";
    if (failed(mlir::llmc::callLibrary(rewriter, op, name, args)))
      return failure();
    replaceOpWithBufferizedValues(rewriter, op, *out);
    return success();
  }
};
} // namespace

void mlir::llmc::registerAttentionBufferization(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, graph::GraphDialect *) {
    graph::AttentionOp::attachInterface<AttentionBufferization>(*ctx);
  });
}
