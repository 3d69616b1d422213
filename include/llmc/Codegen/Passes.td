//===- Passes.td - Codegen passes of llmc ------------------*- tablegen -*-===//

#ifndef LLMC_CODEGEN_PASSES
#define LLMC_CODEGEN_PASSES

include "mlir/Pass/PassBase.td"

def ConvertGraphToLinalgPass
    : Pass<"llmc-convert-graph-to-linalg", "ModuleOp"> {
  let summary = "Lowers the graph dialect to linalg, tensor, arith and math.";
  let description = [{
    Elementwise ops become `linalg.generic` ops built from their
    IterationSpaceOpInterface maps and ScalarComputeOpInterface bodies;
    reductions, contractions, convolutions and pools become generics with
    reduction loops; data movement becomes tensor ops or index-computing
    generics. Unsigned element types become signless (the op bodies keep
    the unsigned semantics). Composite ops must have been decomposed first
    (`llmc-decompose-composite-ops`); any graph op left over is an error
    naming the op.

    ```mlir
    %z = graph.add %x, %y : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    ```
    becomes
    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %z = linalg.generic {indexing_maps = [#id, #id, #id], ...}
        ins(%x, %y : ...) outs(%e : ...) {
      ^bb0(%a: f32, %b: f32, %o: f32):
        %s = arith.addf %a, %b : f32
        linalg.yield %s : f32
    } -> tensor<4xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::func::FuncDialect"
  ];
}

#endif // LLMC_CODEGEN_PASSES
