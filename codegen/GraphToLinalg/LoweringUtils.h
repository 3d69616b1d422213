//===- LoweringUtils.h - Shared helpers of the graph lowering --*- C++ -*-===//

#ifndef LLMC_CODEGEN_GRAPHTOLINALG_LOWERINGUTILS_H
#define LLMC_CODEGEN_GRAPHTOLINALG_LOWERINGUTILS_H

#include "llmc/Codegen/Passes.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"

namespace mlir::llmc::lowering {

using IndexedBody =
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// The converted (signless) type of a graph tensor value's type.
RankedTensorType convertedType(const TypeConverter &converter, Type type);

/// tensor.empty of `type`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type);

/// fn(x) for every element x of the tensor `value`, as a new tensor of
/// element type `element` (one elementwise linalg.generic).
Value mapElements(OpBuilder &b, Location loc, Value value, Type element,
                  function_ref<Value(OpBuilder &, Location, Value)> fn);

/// A tensor of `type` filled with `value`.
Value filledTensor(OpBuilder &b, Location loc, RankedTensorType type,
                   Value value);

/// A linalg.generic without inputs whose body computes each result element
/// from its indices: the form of every gather-like lowering.
Value buildIndexedGeneric(OpBuilder &b, Location loc, RankedTensorType type,
                          IndexedBody body);

/// Index into a dim of `size` from an integer (or float) scalar index:
/// negative values count from the end (unless `wrapNegative` is false), and
/// the result is clamped into [0, size) so that no input can read out of
/// bounds.
Value clampedIndex(OpBuilder &b, Location loc, Value index, int64_t size,
                   bool wrapNegative = true);

/// clampedIndex for the index a gather or scatter `op` reads from its
/// indices. When `op` carries kIndexCheckAttr (llmc-convert-graph-to-linalg's
/// check-indices: the symbol of a string naming the node), an index outside
/// [-size, size) also calls the runtime's llmc_index_error, which fails
/// the run.
Value checkedIndex(OpBuilder &b, Location loc, Operation *op, Value index,
                   int64_t size);
constexpr const char *kIndexCheckAttr = "llmc.index_check";
constexpr const char *kIndexErrorFn = "llmc_index_error";

/// arith.constant of a scalar of `type`.
Value scalarConstant(OpBuilder &b, Location loc, Type type, double value);

/// The lowest (`lowest`) or highest value of a storage type: -inf/+inf for
/// floats, the integer limits (unsigned ones for `isUnsigned`) otherwise.
/// The neutral start of a max (min) reduction or pool.
Value extremeValue(OpBuilder &b, Location loc, Type type, bool lowest,
                   bool isUnsigned);

/// acc + product of `factors` (float or integer), the body of every
/// multiply-accumulate contraction. Float factors narrower than `acc` are
/// widened to its type first.
Value multiplyAdd(OpBuilder &b, Location loc, ValueRange factors, Value acc);

/// The type a contraction into `type` accumulates in: f32 for f16/bf16
/// elements (rounded once at the end, as cuBLAS, cuDNN and ONNX Runtime
/// do), `type` itself otherwise.
RankedTensorType accumulatorType(RankedTensorType type);
/// `value` with its elements rounded (arith.truncf) to `element`; `value`
/// itself when it has that element type already.
Value narrowTo(OpBuilder &b, Location loc, Value value, Type element);

/// tensor.reshape of `value` to the static `type`.
Value reshapeTo(OpBuilder &b, Location loc, Value value, RankedTensorType type);
/// The same, as tensor.collapse_shape/expand_shape (through 1-D when the
/// reshape is neither), which linalg fusion folds into the loops around
/// it; tensor.reshape for 0-D or dynamic shapes.
Value foldableReshapeTo(OpBuilder &b, Location loc, Value value,
                        RankedTensorType type);

/// The initial accumulator of a convolution into `type` (N, C, ...): the
/// per-channel `bias` (may be null; widened to `type`'s elements if
/// narrower) broadcast over the other dims, or zero.
Value channelBiasOrZero(OpBuilder &b, Location loc, Value bias,
                        RankedTensorType type);

/// tensor.pad of `value` with `low`/`high` pads and a constant scalar.
Value padWith(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> low,
              ArrayRef<int64_t> high, Value padValue);

} // namespace mlir::llmc::lowering

#endif // LLMC_CODEGEN_GRAPHTOLINALG_LOWERINGUTILS_H
