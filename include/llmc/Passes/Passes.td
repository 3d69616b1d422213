//===- Passes.td - Graph-level passes of llmc --------------*- tablegen -*-===//

#ifndef LLMC_PASSES_PASSES
#define LLMC_PASSES_PASSES

include "mlir/Pass/PassBase.td"

def DecomposeCompositeOpsPass
    : Pass<"llmc-decompose-composite-ops", "func::FuncOp"> {
  let summary = "Rewrites composite graph ops into primitive graph ops.";
  let description = [{
    Every op implementing `DecomposableOpInterface` (softmax, log_softmax,
    hardmax, layer_norm, batch_norm, instance_norm, gemm) is replaced by the
    reductions and elementwise ops it stands for. Runs after the passes that
    want to see composite ops whole, and before the lowering to linalg.

    ```mlir
    %y = graph.softmax %x {axis = 1 : i64} : tensor<2x3xf32>
    ```
    becomes
    ```mlir
    %m = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "max"} ...
    %d = graph.sub %x, %m ...
    %e = graph.exp %d ...
    %s = graph.reduce %e {axes = array<i64: 1>, keepdims = true, kind = "sum"} ...
    %y = graph.div %e, %s ...
    ```
  }];
  let dependentDialects = ["::mlir::llmc::graph::GraphDialect"];
}

def TestIterationSpacePass
    : Pass<"llmc-test-iteration-space", "func::FuncOp"> {
  let summary = "Attaches each op's iteration space as an attribute (testing).";
  let description = [{
    For every op implementing `IterationSpaceOpInterface`, sets
    `llmc.iterators` (an array of "parallel"/"reduction" strings) and
    `llmc.maps` (an array of affine maps, operands then results), so that
    lit tests can check the description each op gives of itself.
  }];
}

def OutlineWeightsPass : Pass<"llmc-outline-weights", "ModuleOp"> {
  let summary = "Turns large constant weights into arguments of @main.";
  let description = [{
    Every `graph.constant` of `@main` that holds a resource blob of at least
    `min-elements` elements becomes a new trailing argument of `@main`,
    carrying the blob as its `llmc.weight` attribute. Code generation then
    never copies weights into the generated code: the runtime passes them
    in (the JIT hands over the blob in place; an artifact maps them from its
    file).

    ```mlir
    func.func @main(%x: tensor<1x512xf32>) -> tensor<1x10xf32> {
      %w = graph.constant dense_resource<fc.weight> : tensor<512x10xf32>
      ...
    ```
    becomes
    ```mlir
    func.func @main(%x: tensor<1x512xf32>,
        %w: tensor<512x10xf32> {llmc.weight = dense_resource<fc.weight> : tensor<512x10xf32>})
    ```
  }];
  let options = [
    Option<"minElements", "min-elements", "int64_t", /*default=*/"1024",
           "Smallest constant (in elements) that becomes an argument">
  ];
  let dependentDialects = ["::mlir::llmc::graph::GraphDialect"];
}

def FusePass : Pass<"llmc-fuse", "func::FuncOp"> {
  let summary = "Groups memory-bound graph ops into fusion groups (kernels).";
  let description = [{
    Describes every op of the function to the fusion planner (plain C++,
    `llmc/Fusion/FusionPlanner.h`): elementwise, data movement, reduction,
    contraction or opaque, with its bytes and flops. The planner's cost model
    merges the groups that save the most memory traffic within the target's
    kernel budget; each group becomes a `graph.fusion_group`. Contractions
    (matmul, gemm, conv) and opaque ops stay outside, as library calls or
    kernels of their own. Small constants (at most 64 elements) used in a
    group are copied into it; other tensors are its inputs.

    ```mlir
    %s = graph.add %x, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
    %r = graph.relu %s : tensor<4x8xf32>
    ```
    becomes
    ```mlir
    %r = graph.fusion_group "loop" (%x, %b) {bytes_read = 160 : i64, bytes_written = 128 : i64}
        : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>, %c: tensor<8xf32>):
      %s = graph.add %a, %c : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
      %t = graph.relu %s : tensor<4x8xf32>
      graph.yield %t : tensor<4x8xf32>
    }
    ```
    With `remarks`, every decision of the planner is a remark on the
    consumer op, with the cost model's reason.

    On the `cuda` target, an f32 1-D or 2-D convolution is a cuDNN call and
    its bias an epilogue: the bias first becomes a broadcast `graph.add`
    after the convolution, which then fuses into the consumer's group.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cuda\"",
           "Kernel budget of the target: cpu or cuda">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Emit each fusion decision as a remark">,
  ];
  let dependentDialects = ["::mlir::llmc::graph::GraphDialect"];
}

#endif // LLMC_PASSES_PASSES
