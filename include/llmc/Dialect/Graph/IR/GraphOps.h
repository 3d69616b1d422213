//===- GraphOps.h - Operations of the graph dialect ------------*- C++ -*-===//

#ifndef LLMC_DIALECT_GRAPH_IR_GRAPHOPS_H
#define LLMC_DIALECT_GRAPH_IR_GRAPHOPS_H

#include "llmc/Dialect/Graph/IR/GraphDialect.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"

namespace mlir::llmc::graph::detail {
/// Iterators of an elementwise op: one parallel loop per result dim.
llvm::SmallVector<utils::IteratorType> getElementwiseIterators(Operation *op);
/// Maps of an elementwise op: numpy broadcasting of each operand onto the
/// result's loops (size-1 broadcast dims map to the constant 0).
llvm::SmallVector<AffineMap> getElementwiseMaps(Operation *op);
} // namespace mlir::llmc::graph::detail

#include "llmc/Dialect/Graph/IR/GraphInterfaces.h.inc"

namespace mlir::llmc::graph {
/// Marks an op whose result depends on the absolute position of its loops
/// (see Graph_PositionDependent in GraphOps.td).
template <typename ConcreteType>
class PositionDependent
    : public OpTrait::TraitBase<ConcreteType, PositionDependent> {};

/// A position-dependent op whose result at a position depends on nothing
/// but that position and its operands there (see Graph_PrefixConsistent).
template <typename ConcreteType>
class PrefixConsistent
    : public OpTrait::TraitBase<ConcreteType, PrefixConsistent> {};
} // namespace mlir::llmc::graph

#define GET_OP_CLASSES
#include "llmc/Dialect/Graph/IR/GraphOps.h.inc"

namespace mlir::llmc::graph {
/// Constants of at most this many elements are inline dense attributes (the
/// importer and the graph builder make them so; larger ones are resource
/// blobs), and llmc-fuse copies them into the groups that use them.
inline constexpr int64_t kInlineConstantLimit = 64;
/// Bytes of a statically shaped int or float tensor (i1 counts as a byte),
/// or -1 for any other type.
int64_t getStaticTensorBytes(Type type);
/// Numpy broadcast of two static shapes; failure if incompatible.
FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> a,
                                                ArrayRef<int64_t> b);
/// Element type with the signedness dropped (uiN -> iN), as lowered.
Type getStorageType(Type type);
/// True for uiN element types.
bool isUnsignedInteger(Type type);
/// True when `op` swaps only the last two dims and every user is an f32 or
/// f64 matmul: the BLAS (OpenBLAS, cuBLASLt) reads the stored operand
/// transposed in place, so the transpose costs nothing and is not a kernel.
bool isReadTransposedByMatMul(TransposeOp op);
} // namespace mlir::llmc::graph

#endif // LLMC_DIALECT_GRAPH_IR_GRAPHOPS_H
