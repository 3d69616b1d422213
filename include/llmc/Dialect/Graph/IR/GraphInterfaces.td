//===- GraphInterfaces.td - Interfaces shared by graph ops -*- tablegen -*-===//
//
// The one description of each op that sharding, fusion, layout selection and
// lowering share: how the op's iteration space maps onto its operands and
// results. See DESIGN.md, "One description of each op".
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_GRAPH_INTERFACES
#define LLMC_GRAPH_INTERFACES

include "mlir/IR/OpBase.td"

def Graph_IterationSpaceOpInterface : OpInterface<"IterationSpaceOpInterface"> {
  let cppNamespace = "::mlir::llmc::graph";
  let description = [{
    Describes an op as a loop nest over an iteration space (in the spirit of
    linalg's indexing maps and Shardy's factor-based sharding rules):

    * `getIterationSpaceIterators()` gives one iterator kind per loop
      (parallel or reduction);
    * `getIterationSpaceMaps()` gives one affine map per operand and then one
      per result, from the loops to the tensor's dimensions.

    A result of a map that is a constant `0` marks a broadcast dimension of
    size 1. A map result that uses a symbol (`s0`, ...) marks a dimension that
    is indexed at data-dependent positions (a gathered or scattered dimension):
    passes must not assume that loop and that dimension correspond. Ops whose
    whole access is data dependent describe it this way instead of opting out.
  }];
  let methods = [
    InterfaceMethod<
      "Returns the kind of each loop of the iteration space.",
      "::llvm::SmallVector<::mlir::utils::IteratorType>",
      "getIterationSpaceIterators", (ins), [{}],
      [{ return ::mlir::llmc::graph::detail::getElementwiseIterators($_op.getOperation()); }]>,
    InterfaceMethod<
      "Returns one indexing map per operand, then one per result.",
      "::llvm::SmallVector<::mlir::AffineMap>",
      "getIterationSpaceMaps", (ins), [{}],
      [{ return ::mlir::llmc::graph::detail::getElementwiseMaps($_op.getOperation()); }]>,
  ];
}

def Graph_ScalarComputeOpInterface : OpInterface<"ScalarComputeOpInterface"> {
  let cppNamespace = "::mlir::llmc::graph";
  let description = [{
    An elementwise op that can build its scalar computation: given one scalar
    per operand (in the signless storage type of that operand), build the
    scalar result. The lowering to linalg derives a `linalg.generic` from
    this and the op's iteration space, so no elementwise op has a lowering of
    its own.
  }];
  let methods = [
    InterfaceMethod<
      "Builds the scalar result from one scalar per operand.",
      "::mlir::Value", "buildScalarComputation",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Location":$loc,
           "::mlir::ValueRange":$args)>,
  ];
}

def Graph_DecomposableOpInterface : OpInterface<"DecomposableOpInterface"> {
  let cppNamespace = "::mlir::llmc::graph";
  let description = [{
    A composite op (a normalization, softmax, GEMM with scaling) that fusion
    and pattern matching see as one op, and that can rewrite itself into
    primitive graph ops before lowering.
  }];
  let methods = [
    InterfaceMethod<
      "Replaces the op by primitive graph ops.",
      "::llvm::LogicalResult", "decompose",
      (ins "::mlir::RewriterBase &":$rewriter)>,
  ];
}

#endif // LLMC_GRAPH_INTERFACES
