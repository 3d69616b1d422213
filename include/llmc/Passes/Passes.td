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

def LiftAttentionPass : Pass<"llmc-lift-attention", "func::FuncOp"> {
  let summary = "Makes scaled dot-product attention one graph.attention op.";
  let description = [{
    Finds `matmul(softmax(S), V)` over the last axis (graph.softmax or its
    decomposition: x - max, exp, divided by the sum) where S is
    `matmul(Q, transpose(K))` (K's last two dims swapped) followed, in any
    order, by scalings (mul or div by a positive scalar constant) and
    masks (an added tensor, or a graph.where that puts -inf, or a constant
    at most -1e30, where the mask is false: the same after the softmax),
    with Q, K, V of rank 4 ([B, H, L, D], [B, H, S, D], [B, H, S, E]) and
    nothing else reading the scores. K and V may be repeats of fewer KV
    heads (grouped-query attention, see llmc-fold-grouped-heads): the op
    reads the unrepeated heads. The chain becomes

    ```mlir
    %q5 = graph.reshape %q : ... -> tensor<B x KVH x G x L x D>
    %a = graph.attention %q5, %k, %v, %bias {scale = ...} : ...
    %o = graph.reshape %a : ... -> tensor<B x H x L x E>
    ```

    with the masks summed into one additive bias (reshaped to the scores'
    five dims). Lifted only where the target has the fused kernel:
    `target=cpu` (the default) and f32; with `target=cuda` the pass changes
    nothing (the chain is lowered as it is).
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "cpu: lift f32 attention; cuda: leave the chain as it is">,
  ];
  let dependentDialects = ["::mlir::llmc::graph::GraphDialect"];
}

def FoldGroupedHeadsPass : Pass<"llmc-fold-grouped-heads", "func::FuncOp"> {
  let summary = "Grouped-query attention without repeating the KV heads.";
  let description = [{
    Grouped-query attention (Llama 2/3, Mistral...) repeats each of its KV
    heads G times to meet the query heads: `repeat_kv` / `repeat_interleave`,
    a reshape that adds a unit dim, a graph.broadcast_to of it to G and a
    reshape that merges it into the heads. Lowered as written, that writes
    and reads G copies of the keys and values (of the whole KV cache, per
    layer and step, when decoding). A matmul reading such a repeat (the
    keys through a transpose of their last two dims, or the values) is
    rewritten to read the KV heads themselves: query head h is KV head
    h / G's group member h % G, so the lhs [..., H, L, E] is reshaped to
    [..., KVH, G*L, E] (the same elements), multiplied by the unrepeated
    [..., KVH, S, E] operand, and the result reshaped back to
    [..., H, L, N]. Exact: every output element is the same dot product.

    ```mlir
    %r = graph.reshape %k : tensor<1x2x8x4xf32> -> tensor<1x2x1x8x4xf32>
    %b = graph.broadcast_to %r : tensor<1x2x1x8x4xf32> -> tensor<1x2x3x8x4xf32>
    %x = graph.reshape %b : tensor<1x2x3x8x4xf32> -> tensor<1x6x8x4xf32>
    %t = graph.transpose %x {perm = array<i64: 0, 1, 3, 2>} ...
    %s = graph.matmul %q, %t : tensor<1x6x1x4xf32>, tensor<1x6x4x8xf32> -> tensor<1x6x1x8xf32>
    ```
    becomes a matmul of %q reshaped to [1, 2, 3, 4] by %k's transpose,
    reshaped to [1, 6, 1, 8]. A matmul whose lhs batch dims differ from the
    repeat's, or a broadcast that repeats anything but a unit dim right
    after the heads, is left as it is.
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

def PropagateShardingPass : Pass<"llmc-propagate-sharding", "ModuleOp"> {
  let summary = "Decides the sharding of every tensor of @main over a device mesh.";
  let description = [{
    Describes @main to the sharding planner (plain C++,
    `llmc/Sharding/ShardingPlanner.h`): every op by its iteration space
    (`IterationSpaceOpInterface`), each loop a factor shared by the operand
    and result dims it indexes. User pins (`shard`, by input or weight name)
    come first, then the strategy's seeds; factor propagation decides the
    rest, and the planner's cost model resolves conflicts. The pass records
    the mesh (`llmc.mesh` and a `shard.grid @mesh`), each argument's
    sharding (`llmc.sharding`, `llmc.sharding_reason`), each op's factor
    assignment (`llmc.factor_axes`, one mesh axis or -1 per loop) and its
    results' shardings, and a summary for `llmc explain`
    (`llmc.sharding_plan`). It changes no type: `llmc-partition` does.

    ```mlir
    func.func @main(%x: tensor<8x16xf32>, %w1: tensor<16x32xf32> {llmc.weight = ...}, ...)
      %h = graph.matmul %x, %w1 ...
    ```
    with `mesh=tp=2 strategy=megatron` becomes
    ```mlir
    shard.grid @mesh(shape = 2)
    func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, -]"},
                    %w1: tensor<16x32xf32> {llmc.sharding = "[-, tp]", ...}, ...)
      %h = graph.matmul %x, %w1 {llmc.factor_axes = array<i64: -1, 0, -1>,
                                 llmc.sharding = ["[-, tp]"]} ...
    ```
  }];
  let options = [
    Option<"mesh", "mesh", "std::string", /*default=*/"\"\"",
           "The device mesh, e.g. tp=2 or dp=2,tp=4">,
    Option<"strategy", "strategy", "std::string", /*default=*/"\"auto\"",
           "dp, megatron, megatron-sp, experts, auto or none">,
    ListOption<"shard", "shard", "std::string",
               "Pins NAME=AXIS,-,... (one entry per dim; '-' keeps a dim whole)">,
    Option<"linkBandwidth", "link-bandwidth", "double", /*default=*/"450e9",
           "Link bandwidth per direction in bytes/s, for the cost model">,
  ];
  let dependentDialects = ["::mlir::llmc::graph::GraphDialect",
                           "::mlir::shard::ShardDialect"];
}

def PartitionPass : Pass<"llmc-partition", "ModuleOp"> {
  let summary = "Rewrites @main into one SPMD program over local shapes.";
  let description = [{
    Reads what `llmc-propagate-sharding` decided and rewrites @main into the
    program every device runs: each argument, result and op gets its local
    shape (a split dim divided by its axis size), and where a tensor's
    sharding differs from what its user needs, upstream `shard` collectives
    move it: `shard.all_reduce` (partial sums to whole), `shard.reduce_scatter`
    (partial sums to a split dim), `shard.all_gather`, `shard.all_to_all`,
    and `shard.all_slice` (a whole tensor cut to the device's part, no
    communication). Results keep their sharding in `llmc.sharding` for the
    runtime, which reassembles split outputs. Without `llmc.mesh` it does
    nothing.

    ```mlir
    %y = graph.matmul %g, %w2 {llmc.factor_axes = array<i64: -1, -1, 0>} : ... -> tensor<8x16xf32>
    %r = graph.add %y, %x : ...
    ```
    becomes
    ```mlir
    %y = graph.matmul %g, %w2 : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
    %s = shard.all_reduce %y on @mesh grid_axes = [0] : tensor<8x16xf32> -> tensor<8x16xf32>
    %r = graph.add %s, %x : ...
    ```
  }];
  let dependentDialects = ["::mlir::llmc::graph::GraphDialect",
                           "::mlir::shard::ShardDialect"];
}

#endif // LLMC_PASSES_PASSES
