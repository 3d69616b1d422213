// llmc-partition after llmc-propagate-sharding (each part has its own
// propagation options, so split-file cuts the file), and on hand-annotated
// input.
// RUN: rm -rf %t && split-file --leading-lines %s %t
// RUN: llmc-opt %t/megatron.mlir -split-input-file -llmc-propagate-sharding="mesh=tp=2 strategy=megatron" -llmc-partition | FileCheck %t/megatron.mlir
// RUN: llmc-opt %t/megatron-sp.mlir -split-input-file -llmc-propagate-sharding="mesh=tp=2 strategy=megatron-sp" -llmc-partition | FileCheck %t/megatron-sp.mlir
// RUN: llmc-opt %t/dp.mlir -split-input-file -llmc-propagate-sharding="mesh=dp=2 strategy=dp" -llmc-partition | FileCheck %t/dp.mlir
// RUN: llmc-opt %t/replicated.mlir -split-input-file -llmc-propagate-sharding="mesh=tp=2 strategy=none" -llmc-partition | FileCheck %t/replicated.mlir
// RUN: llmc-opt %t/annotated.mlir -split-input-file -llmc-partition | FileCheck %t/annotated.mlir

// Must not change: a module without llmc.mesh, whatever its other
// annotations, is left as it is.
// RUN: llmc-opt %t/no-mesh.mlir -split-input-file > %t/no-mesh.plain
// RUN: llmc-opt %t/no-mesh.mlir -split-input-file -llmc-partition > %t/no-mesh.out
// RUN: diff %t/no-mesh.plain %t/no-mesh.out

// Ops whose result depends on a loop's absolute position keep their loops
// whole.
// RUN: llmc-opt %t/position.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=none shard={'y=-,tp'}},llmc-partition)" | FileCheck %t/position.mlir

// Propagating again with another mesh: the grid follows the new mesh.
// RUN: llmc-opt %t/remesh.mlir -llmc-propagate-sharding="mesh=tp=2 strategy=megatron" -llmc-propagate-sharding="mesh=tp=4 strategy=megatron" -llmc-partition | FileCheck %t/remesh.mlir

// Must not change: llmc-partition on a partitioned module does nothing.
// RUN: llmc-opt %t/twice.mlir -llmc-propagate-sharding="mesh=tp=2 strategy=megatron" -llmc-partition > %t/once.out
// RUN: llmc-opt %t/twice.mlir -llmc-propagate-sharding="mesh=tp=2 strategy=megatron" -llmc-partition -llmc-partition > %t/twice.out
// RUN: diff %t/once.out %t/twice.out
// RUN: FileCheck %t/twice.mlir < %t/twice.out

//--- megatron.mlir

// Megatron MLP: every value gets its local type (the 16x32 weight split on
// tp=2 is 16x16 per device), the factor attributes are gone, and one
// all-reduce resolves fc2's partial sums before the residual add.
// CHECK:       module attributes {llmc.mesh = "tp=2"
// CHECK-NEXT:    shard.grid @mesh(shape = 2)
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[-, -]"
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x16xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]"
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<16x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]"
// CHECK-SAME:    -> (tensor<8x16xf32> {llmc.sharding = "[-, -]"}) {
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] : tensor<8x16xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[S:.*]] = shard.all_reduce %[[Y]] on @mesh grid_axes = [0] {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[S]], %[[X]] : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    return %[[R]] : tensor<8x16xf32>
// CHECK-NEXT:  }
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

// -----

// A constant bias that a column-parallel layer needs split is cut once,
// not on every run: a splat becomes the device's smaller splat (no
// all_slice). The output stays split; the runtime reassembles it.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    -> (tensor<8x16xf32> {llmc.sharding = "[-, tp]"}) {
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    graph.constant dense<5.000000e-01> : tensor<32xf32>
// CHECK-NEXT:    %[[BS:.*]] = graph.constant dense<5.000000e-01> : tensor<16xf32>
// CHECK-NOT:     shard.all_slice
// CHECK-NEXT:    %[[HB:.*]] = graph.add %[[H]], %[[BS]] : tensor<8x16xf32>, tensor<16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[HB]] : tensor<8x16xf32>
// CHECK-NEXT:    return %[[G]] : tensor<8x16xf32>
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %b = graph.constant dense<0.5> : tensor<32xf32> loc("b1")
  %hb = graph.add %h, %b : tensor<8x32xf32>, tensor<32xf32> -> tensor<8x32xf32> loc("bias")
  %g = graph.relu %hb : tensor<8x32xf32> loc("act")
  return %g : tensor<8x32xf32>
}

// -----

// A bias of distinct values becomes a weight of @main (a resource named
// after the constant), split like the layer's columns: each device cuts
// its part when it loads its weights.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[B:[^:]*]]: tensor<2xf32> {llmc.sharding = "[tp]", llmc.sharding_reason = "a constant, cut when a device loads it", llmc.weight = dense_resource<b1> : tensor<4xf32>}
// CHECK-NOT:     shard.all_slice
// CHECK:         graph.add %{{.*}}, %[[B]] : tensor<8x2xf32>, tensor<2xf32> -> tensor<8x2xf32>
// CHECK:         b1: "0x{{[0-9A-F]+}}0000803F000000400000404000008040"
func.func @main(%x: tensor<8x4xf32> {llmc.name = "x"},
                %w1: tensor<4x4xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<4x4xf32>}) -> tensor<8x4xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x4xf32>, tensor<4x4xf32> -> tensor<8x4xf32> loc("fc1")
  %b = graph.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32> loc("b1")
  %hb = graph.add %h, %b : tensor<8x4xf32>, tensor<4xf32> -> tensor<8x4xf32> loc("bias")
  %g = graph.relu %hb : tensor<8x4xf32> loc("act")
  return %g : tensor<8x4xf32>
}

// -----

// A softmax and a max over the split dim see it whole: one all_gather,
// shared by both; a sum over it is partial and all-reduced before it is
// returned (outputs are never partial).
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    -> (tensor<8x32xf32> {llmc.sharding = "[-, -]"}, tensor<8xf32> {llmc.sharding = "[-]"}, tensor<8xf32> {llmc.sharding = "[-]"}) {
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[HG:.*]] = shard.all_gather %[[H]] on @mesh grid_axes = [0] gather_axis = 1 {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<8x32xf32>
// CHECK-NEXT:    %[[P:.*]] = graph.softmax %[[HG]] {axis = 1 : i64} : tensor<8x32xf32>
// CHECK-NEXT:    %[[M:.*]] = graph.reduce %[[HG]] {{.*}}kind = "max"} : tensor<8x32xf32> -> tensor<8xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.reduce %[[H]] {{.*}}kind = "sum"} : tensor<8x16xf32> -> tensor<8xf32>
// CHECK-NEXT:    %[[SR:.*]] = shard.all_reduce %[[S]] on @mesh grid_axes = [0] {llmc.step = 1 : i64} : tensor<8xf32> -> tensor<8xf32>
// CHECK-NEXT:    return %[[P]], %[[M]], %[[SR]]
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> (tensor<8x32xf32>, tensor<8xf32>, tensor<8xf32>) {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %p = graph.softmax %h {axis = 1 : i64} : tensor<8x32xf32> loc("probs")
  %m = graph.reduce %h {kind = "max", axes = array<i64: 1>, keepdims = false} : tensor<8x32xf32> -> tensor<8xf32> loc("rowmax")
  %s = graph.reduce %h {kind = "sum", axes = array<i64: 1>, keepdims = false} : tensor<8x32xf32> -> tensor<8xf32> loc("rowsum")
  return %p, %m, %s : tensor<8x32xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

// Attention: the heads are split, so the reshapes and transposes get local
// shapes with 2 of the 4 heads per device; one all-reduce after the output
// projection.
// CHECK-LABEL: func.func @main(
// CHECK-NOT:     shard.
// CHECK:         graph.reshape %{{.*}} : tensor<4x8x16xf32> -> tensor<4x8x2x8xf32>
// CHECK-NOT:     shard.
// CHECK:         graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : tensor<4x8x2x8xf32> -> tensor<4x2x8x8xf32>
// CHECK-NOT:     shard.
// CHECK:         graph.softmax %{{.*}} {axis = 3 : i64} : tensor<4x2x8x8xf32>
// CHECK-NOT:     shard.
// CHECK:         %[[CR:.*]] = graph.reshape %{{.*}} : tensor<4x8x2x8xf32> -> tensor<4x8x16xf32>
// CHECK-NEXT:    %[[O:.*]] = graph.matmul %[[CR]], %{{.*}} : tensor<4x8x16xf32>, tensor<16x32xf32> -> tensor<4x8x32xf32>
// CHECK-NEXT:    %[[OR:.*]] = shard.all_reduce %[[O]] on @mesh grid_axes = [0] {llmc.step = 0 : i64}
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[OR]], %{{.*}} : tensor<4x8x32xf32>, tensor<4x8x32xf32>
// CHECK-NEXT:    return %[[R]]
func.func @main(%x: tensor<4x8x32xf32> {llmc.name = "x"},
                %wq: tensor<32x32xf32> {llmc.name = "wq", llmc.weight = dense<1.0> : tensor<32x32xf32>},
                %wk: tensor<32x32xf32> {llmc.name = "wk", llmc.weight = dense<1.0> : tensor<32x32xf32>},
                %wv: tensor<32x32xf32> {llmc.name = "wv", llmc.weight = dense<1.0> : tensor<32x32xf32>},
                %wo: tensor<32x32xf32> {llmc.name = "wo", llmc.weight = dense<1.0> : tensor<32x32xf32>}) -> tensor<4x8x32xf32> {
  %q = graph.matmul %x, %wq : tensor<4x8x32xf32>, tensor<32x32xf32> -> tensor<4x8x32xf32> loc("q_proj")
  %k = graph.matmul %x, %wk : tensor<4x8x32xf32>, tensor<32x32xf32> -> tensor<4x8x32xf32> loc("k_proj")
  %v = graph.matmul %x, %wv : tensor<4x8x32xf32>, tensor<32x32xf32> -> tensor<4x8x32xf32> loc("v_proj")
  %qr = graph.reshape %q : tensor<4x8x32xf32> -> tensor<4x8x4x8xf32> loc("q_heads")
  %kr = graph.reshape %k : tensor<4x8x32xf32> -> tensor<4x8x4x8xf32> loc("k_heads")
  %vr = graph.reshape %v : tensor<4x8x32xf32> -> tensor<4x8x4x8xf32> loc("v_heads")
  %qt = graph.transpose %qr {perm = array<i64: 0, 2, 1, 3>} : tensor<4x8x4x8xf32> -> tensor<4x4x8x8xf32> loc("q_t")
  %kt = graph.transpose %kr {perm = array<i64: 0, 2, 3, 1>} : tensor<4x8x4x8xf32> -> tensor<4x4x8x8xf32> loc("k_t")
  %vt = graph.transpose %vr {perm = array<i64: 0, 2, 1, 3>} : tensor<4x8x4x8xf32> -> tensor<4x4x8x8xf32> loc("v_t")
  %s = graph.matmul %qt, %kt : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32> loc("scores")
  %p = graph.softmax %s {axis = 3 : i64} : tensor<4x4x8x8xf32> loc("probs")
  %c = graph.matmul %p, %vt : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32> loc("context")
  %ct = graph.transpose %c {perm = array<i64: 0, 2, 1, 3>} : tensor<4x4x8x8xf32> -> tensor<4x8x4x8xf32> loc("merge_t")
  %cr = graph.reshape %ct : tensor<4x8x4x8xf32> -> tensor<4x8x32xf32> loc("merge")
  %o = graph.matmul %cr, %wo : tensor<4x8x32xf32>, tensor<32x32xf32> -> tensor<4x8x32xf32> loc("o_proj")
  %r = graph.add %o, %x : tensor<4x8x32xf32>, tensor<4x8x32xf32> -> tensor<4x8x32xf32> loc("res")
  return %r : tensor<4x8x32xf32>
}

//--- megatron-sp.mlir

// Sequence parallelism: the input and the residual stream are split on the
// sequence dim; an all_gather feeds the column-parallel layer and a
// reduce_scatter turns the row-parallel layer's partial sums back into
// sequence parts.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<2x4x16xf32> {llmc.name = "x", llmc.sharding = "[-, tp, -]"
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x16xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]"
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<16x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]"
// CHECK-SAME:    -> (tensor<2x4x16xf32> {llmc.sharding = "[-, tp, -]"}) {
// CHECK-NEXT:    %[[XG:.*]] = shard.all_gather %[[X]] on @mesh grid_axes = [0] gather_axis = 1 {llmc.step = 0 : i64} : tensor<2x4x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[XG]], %[[W1]] : tensor<2x8x16xf32>, tensor<16x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] : tensor<2x8x16xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] : tensor<2x8x16xf32>, tensor<16x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    %[[YS:.*]] = shard.reduce_scatter %[[Y]] on @mesh grid_axes = [0] scatter_axis = 1 {llmc.step = 1 : i64} : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[YS]], %[[X]] : tensor<2x4x16xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
// CHECK-NEXT:    return %[[R]] : tensor<2x4x16xf32>
func.func @main(%x: tensor<2x8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<2x8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<2x8x16xf32>, tensor<16x32xf32> -> tensor<2x8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<2x8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<2x8x32xf32>, tensor<32x16xf32> -> tensor<2x8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x8x16xf32> loc("res")
  return %r : tensor<2x8x16xf32>
}

// -----

// Token ids [batch, sequence] are integers of rank 2: their sequence dim is
// seeded too, so the embedding's output is split on it, as the 3-D input
// above.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[IDS:[^:]*]]: tensor<2x4xi64> {llmc.name = "ids", llmc.sharding = "[-, tp]", llmc.sharding_reason = "strategy megatron-sp: sequence dim"}
// CHECK-SAME:    %[[EMB:[^:]*]]: tensor<32x16xf32> {llmc.name = "emb", llmc.sharding = "[-, -]"
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x16xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]"
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<16x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]"
// CHECK-SAME:    -> (tensor<2x4x16xf32> {llmc.sharding = "[-, tp, -]"}) {
// CHECK-NEXT:    %[[X:.*]] = graph.gather %[[EMB]], %[[IDS]] {axis = 0 : i64} : tensor<32x16xf32>, tensor<2x4xi64> -> tensor<2x4x16xf32>
// CHECK-NEXT:    %[[XG:.*]] = shard.all_gather %[[X]] on @mesh grid_axes = [0] gather_axis = 1 {llmc.step = 0 : i64} : tensor<2x4x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[XG]], %[[W1]] : tensor<2x8x16xf32>, tensor<16x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] : tensor<2x8x16xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] : tensor<2x8x16xf32>, tensor<16x16xf32> -> tensor<2x8x16xf32>
// CHECK-NEXT:    %[[YS:.*]] = shard.reduce_scatter %[[Y]] on @mesh grid_axes = [0] scatter_axis = 1 {llmc.step = 1 : i64} : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[YS]], %[[X]] : tensor<2x4x16xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
// CHECK-NEXT:    return %[[R]] : tensor<2x4x16xf32>
func.func @main(%ids: tensor<2x8xi64> {llmc.name = "ids"},
                %emb: tensor<32x16xf32> {llmc.name = "emb", llmc.weight = dense<1.0> : tensor<32x16xf32>},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<2x8x16xf32> {
  %x = graph.gather %emb, %ids {axis = 0 : i64} : tensor<32x16xf32>, tensor<2x8xi64> -> tensor<2x8x16xf32> loc("embed")
  %h = graph.matmul %x, %w1 : tensor<2x8x16xf32>, tensor<16x32xf32> -> tensor<2x8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<2x8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<2x8x32xf32>, tensor<32x16xf32> -> tensor<2x8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x8x16xf32> loc("res")
  return %r : tensor<2x8x16xf32>
}

//--- dp.mlir

// Data parallelism: the batch dim is local (4 of 8 rows), the weights are
// whole, there is no collective, and the result says it is split on dp.
// CHECK:       module attributes {llmc.mesh = "dp=2"
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<4x16xf32> {llmc.name = "x", llmc.sharding = "[dp, -]"
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, -]"
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[-, -]"
// CHECK-SAME:    -> (tensor<4x16xf32> {llmc.sharding = "[dp, -]"}) {
// CHECK-NOT:     shard.
// CHECK:         %[[H:.*]] = graph.matmul %[[X]], %[[W1]] : tensor<4x16xf32>, tensor<16x32xf32> -> tensor<4x32xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] : tensor<4x32xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] : tensor<4x32xf32>, tensor<32x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[Y]], %[[X]] : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT:    return %[[R]] : tensor<4x16xf32>
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

// -----

// A slice keeps its sizes attribute in step with its local result type.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<4x16xf32>
// CHECK-NEXT:    graph.slice %[[X]] {sizes = array<i64: 4, 8>, starts = array<i64: 0, 4>, steps = array<i64: 1, 1>} : tensor<4x16xf32> -> tensor<4x8xf32>
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x8xf32> {
  %s = graph.slice %x {starts = array<i64: 0, 4>, sizes = array<i64: 8, 8>, steps = array<i64: 1, 1>} : tensor<8x16xf32> -> tensor<8x8xf32> loc("cut")
  return %s : tensor<8x8xf32>
}

//--- replicated.mlir

// Must not change the program: when propagation decided everything is
// replicated (strategy none, no pin), no type changes and no collective is
// inserted; the result is marked whole.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[-, -]"
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, -]"
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[-, -]"
// CHECK-SAME:    -> (tensor<8x16xf32> {llmc.sharding = "[-, -]"}) {
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] : tensor<8x32xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[Y]], %[[X]] : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    return %[[R]] : tensor<8x16xf32>
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- annotated.mlir

// Hand-annotated Megatron MLP (what llmc-propagate-sharding writes, without
// the plan): the same program as the megatron part.
// The module is marked partitioned (a second llmc-partition leaves it).
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.partitioned} {
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.sharding = "[-, -]"},
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x16xf32> {llmc.sharding = "[-, tp]"},
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<16x16xf32> {llmc.sharding = "[tp, -]"})
// CHECK-SAME:    -> (tensor<8x16xf32> {llmc.sharding = "[-, -]"}) {
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] : tensor<8x16xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[S:.*]] = shard.all_reduce %[[Y]] on @mesh grid_axes = [0] {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[S]], %[[X]] : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    return %[[R]] : tensor<8x16xf32>
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, -]"},
                  %w1: tensor<16x32xf32> {llmc.sharding = "[-, tp]"},
                  %w2: tensor<32x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<8x16xf32> {
    %h = graph.matmul %x, %w1 {llmc.factor_axes = array<i64: -1, 0, -1>} : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32>
    %g = graph.relu %h {llmc.factor_axes = array<i64: -1, 0>} : tensor<8x32xf32>
    %y = graph.matmul %g, %w2 {llmc.factor_axes = array<i64: -1, -1, 0>} : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32>
    %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// An argument split on one dim that its user needs split on another moves
// by one all_to_all.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<4x16xf32> {llmc.sharding = "[tp, -]"}) -> (tensor<8x8xf32> {llmc.sharding = "[-, tp]"}) {
// CHECK-NEXT:    %[[T:.*]] = shard.all_to_all %[[X]] on @mesh grid_axes = [0] split_axis = 1 concat_axis = 0 {llmc.step = 0 : i64} : tensor<4x16xf32> -> tensor<8x8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[T]] : tensor<8x8xf32>
// CHECK-NEXT:    return %[[R]]
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<8x16xf32> {
    %r = graph.relu %x {llmc.factor_axes = array<i64: -1, 0>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A partial sum whose user needs it split: one reduce_scatter. The partial
// value comes from an op (a matmul whose contraction loop is split); an
// argument cannot be partial (see partition-invalid.mlir).
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x8xf32> {llmc.sharding = "[-, tp]"}, %[[W:[^:]*]]: tensor<8x16xf32> {llmc.sharding = "[tp, -]"}) -> (tensor<4x16xf32> {llmc.sharding = "[tp, -]"}) {
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[X]], %[[W]] : tensor<8x8xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    %[[S:.*]] = shard.reduce_scatter %[[Y]] on @mesh grid_axes = [0] scatter_axis = 0 {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[S]] : tensor<4x16xf32>
// CHECK-NEXT:    return %[[R]]
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, tp]"}, %w: tensor<16x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<8x16xf32> {
    %y = graph.matmul %x, %w {llmc.factor_axes = array<i64: -1, -1, 0>} : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
    %r = graph.relu %y {llmc.factor_axes = array<i64: 0, -1>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A sum reduce over a split dim is partial; a user that needs it whole gets
// it through one all_reduce (a sum).
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x8xf32> {llmc.sharding = "[-, tp]"}) -> (tensor<8xf32> {llmc.sharding = "[-]"}) {
// CHECK-NEXT:    %[[S:.*]] = graph.reduce %[[X]] {axes = array<i64: 1>, keepdims = false, kind = "sum"} : tensor<8x8xf32> -> tensor<8xf32>
// CHECK-NEXT:    %[[A:.*]] = shard.all_reduce %[[S]] on @mesh grid_axes = [0] {llmc.step = 0 : i64} : tensor<8xf32> -> tensor<8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[A]] : tensor<8xf32>
// CHECK-NEXT:    return %[[R]]
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, tp]"}) -> tensor<8xf32> {
    %s = graph.reduce %x {kind = "sum", axes = array<i64: 1>, keepdims = false, llmc.factor_axes = array<i64: -1, 0>} : tensor<8x16xf32> -> tensor<8xf32>
    %r = graph.relu %s : tensor<8xf32>
    return %r : tensor<8xf32>
  }
}

// -----

// Arguments that are not statically shaped tensors (a scalar, a dynamic
// batch) are not described: they stay whole and their users see them
// whole, even where llmc.factor_axes asks to split the dynamic dim (the
// attribute is dropped, and a dynamic result gets no llmc.sharding); the
// static argument next to them is still cut. (This once crashed.)
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[N:[^:]*]]: i32, %[[D:[^:]*]]: tensor<?x16xf32>, %[[X:[^:]*]]: tensor<4x16xf32> {llmc.sharding = "[tp, -]"})
// CHECK-SAME:    -> (tensor<?x16xf32>, tensor<4x16xf32> {llmc.sharding = "[tp, -]"}) {
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[D]] : tensor<?x16xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.relu %[[X]] : tensor<4x16xf32>
// CHECK-NEXT:    return %[[R]], %[[S]] : tensor<?x16xf32>, tensor<4x16xf32>
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%n: i32, %d: tensor<?x16xf32>, %x: tensor<8x16xf32> {llmc.sharding = "[tp, -]"}) -> (tensor<?x16xf32>, tensor<8x16xf32>) {
    %r = graph.relu %d {llmc.factor_axes = array<i64: 0, -1>} : tensor<?x16xf32>
    %s = graph.relu %x {llmc.factor_axes = array<i64: 0, -1>} : tensor<8x16xf32>
    return %r, %s : tensor<?x16xf32>, tensor<8x16xf32>
  }
}

// -----

// Two axes: an op without llmc.factor_axes sees its operands whole (both
// axes gathered, one collective per axis, numbered in order), and a split
// value used twice the same way is moved once.
// CHECK:       module attributes {llmc.mesh = "dp=2,tp=2", llmc.partitioned} {
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<4x4xf32> {llmc.sharding = "[dp, tp]"}) -> (tensor<8x8xf32> {llmc.sharding = "[-, -]"}) {
// CHECK-NEXT:    %[[G0:.*]] = shard.all_gather %[[X]] on @mesh grid_axes = [0] gather_axis = 0 {llmc.step = 0 : i64} : tensor<4x4xf32> -> tensor<8x4xf32>
// CHECK-NEXT:    %[[G1:.*]] = shard.all_gather %[[G0]] on @mesh grid_axes = [1] gather_axis = 1 {llmc.step = 1 : i64} : tensor<8x4xf32> -> tensor<8x8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[G1]], %[[G1]] : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
// CHECK-NEXT:    return %[[R]]
module attributes {llmc.mesh = "dp=2,tp=2"} {
  shard.grid @mesh(shape = 2x2)
  func.func @main(%x: tensor<8x8xf32> {llmc.sharding = "[dp, tp]"}) -> tensor<8x8xf32> {
    %r = graph.add %x, %x : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
    return %r : tensor<8x8xf32>
  }
}

//--- no-mesh.mlir

// Annotated, but no llmc.mesh on the module: nothing happens.
module {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<8x16xf32> {
    %r = graph.relu %x {llmc.factor_axes = array<i64: -1, 0>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// No annotation at all.
func.func @main(%x: tensor<8x16xf32>, %w: tensor<16x32xf32>) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32>
  return %h : tensor<8x32xf32>
}

//--- position.mlir

// Ops whose result depends on a loop's absolute position (PositionDependent:
// trilu's diagonal, one_hot's depth, resize's coordinates, cumsum's prefix)
// never get a loop split: run on a part, each device would compute with
// its local indices. Here the pinned y asks for its columns on tp: the op
// runs on whole operands and its result is cut (all_slice) for the add.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x8xf32> {llmc.name = "x", llmc.sharding = "[-, -]"
// CHECK-SAME:    %[[Y:[^:]*]]: tensor<8x4xf32> {llmc.name = "y", llmc.sharding = "[-, tp]"
// CHECK-NEXT:    %[[T:.*]] = graph.trilu %[[X]] {k = 0 : i64, upper = false} : tensor<8x8xf32>
// CHECK-NEXT:    %[[TS:.*]] = shard.all_slice %[[T]] on @mesh grid_axes = [0] slice_axis = 1 {llmc.step = 0 : i64} : tensor<8x8xf32> -> tensor<8x4xf32>
// CHECK-NEXT:    graph.add %[[TS]], %[[Y]] : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
func.func @main(%x: tensor<8x8xf32> {llmc.name = "x"}, %y: tensor<8x8xf32> {llmc.name = "y"}) -> tensor<8x8xf32> {
  %t = graph.trilu %x {upper = false, k = 0 : i64} : tensor<8x8xf32> loc("tri")
  %r = graph.add %t, %y : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32> loc("add")
  return %r : tensor<8x8xf32>
}

// -----

// CHECK-LABEL: func.func @main(
// CHECK:         %[[T:.*]] = graph.one_hot %{{.*}}, %{{.*}} {axis = 1 : i64} : tensor<4xi64>, tensor<2xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    %[[TS:.*]] = shard.all_slice %[[T]] on @mesh grid_axes = [0] slice_axis = 1 {llmc.step = 0 : i64} : tensor<4x8xf32> -> tensor<4x4xf32>
// CHECK-NEXT:    graph.add %[[TS]], %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
func.func @main(%i: tensor<4xi64> {llmc.name = "i"}, %v: tensor<2xf32> {llmc.name = "v"}, %y: tensor<4x8xf32> {llmc.name = "y"}) -> tensor<4x8xf32> {
  %t = graph.one_hot %i, %v {axis = 1 : i64} : tensor<4xi64>, tensor<2xf32> -> tensor<4x8xf32> loc("oh")
  %r = graph.add %t, %y : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32> loc("add")
  return %r : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @main(
// CHECK:         %[[T:.*]] = graph.resize %{{.*}} : tensor<4x8xf32> -> tensor<4x16xf32>
// CHECK-NEXT:    %[[TS:.*]] = shard.all_slice %[[T]] on @mesh grid_axes = [0] slice_axis = 1 {llmc.step = 0 : i64} : tensor<4x16xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    graph.add %[[TS]], %{{.*}} : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
func.func @main(%x: tensor<4x8xf32> {llmc.name = "x"}, %y: tensor<4x16xf32> {llmc.name = "y"}) -> tensor<4x16xf32> {
  %t = graph.resize %x {mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor", scales = array<f64: 1.0, 2.0>} : tensor<4x8xf32> -> tensor<4x16xf32> loc("rs")
  %r = graph.add %t, %y : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32> loc("add")
  return %r : tensor<4x16xf32>
}

// -----

// The other way round: a pinned split input is all-gathered before the op
// (a cumsum along the split dim), which runs whole.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[Y:[^:]*]]: tensor<8x4xf32> {llmc.name = "y", llmc.sharding = "[-, tp]"
// CHECK-SAME:    -> (tensor<8x8xf32> {llmc.sharding = "[-, -]"}) {
// CHECK-NEXT:    %[[G:.*]] = shard.all_gather %[[Y]] on @mesh grid_axes = [0] gather_axis = 1 {llmc.step = 0 : i64} : tensor<8x4xf32> -> tensor<8x8xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.cumsum %[[G]] {axis = 1 : i64, exclusive = false, reverse = false} : tensor<8x8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[C]] : tensor<8x8xf32>
// CHECK-NEXT:    return %[[R]]
func.func @main(%y: tensor<8x8xf32> {llmc.name = "y"}) -> tensor<8x8xf32> {
  %c = graph.cumsum %y {axis = 1 : i64, exclusive = false, reverse = false} : tensor<8x8xf32> loc("prefix")
  %r = graph.relu %c : tensor<8x8xf32> loc("act")
  return %r : tensor<8x8xf32>
}

//--- remesh.mlir

// Propagating a second time with another mesh (tp=4 after tp=2) replaces
// the grid's shape (it used to keep shape 2 while the types were cut by 4,
// so the collectives' group was 2): one grid, of the new shape.
// CHECK:       module attributes {llmc.mesh = "tp=4", llmc.partitioned
// CHECK-NEXT:    shard.grid @mesh(shape = 4)
// CHECK-NOT:     shard.grid
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    tensor<16x8xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]"
// CHECK-SAME:    tensor<8x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]"
// CHECK:         shard.all_reduce %{{.*}} on @mesh grid_axes = [0] {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- twice.mlir

// llmc-partition marks the module llmc.partitioned and leaves a marked
// module alone: a second run (diffed above against one run) does not cut
// the local arguments again (w1 stays 16x16, no all_gather, one step 0).
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.partitioned
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    tensor<16x16xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]"
// CHECK-SAME:    tensor<16x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]"
// CHECK-NOT:     shard.all_gather
// CHECK:         shard.all_reduce %{{.*}} {llmc.step = 0 : i64}
// CHECK-NOT:     shard.
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}
