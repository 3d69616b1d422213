// Each part below needs its own pass options (mesh, strategy, pins), so the
// file is cut by split-file; each part is then a -split-input-file test.
// A pin holds commas, so it is one list element only inside braces:
// shard={'w1=-,tp'} (MLIR's option parser strips shard='w1=-,tp' to
// w1=-,tp and splits it at the comma).
// RUN: rm -rf %t && split-file --leading-lines %s %t
// RUN: llmc-opt %t/megatron.mlir -split-input-file -llmc-propagate-sharding="mesh=tp=2 strategy=megatron" | FileCheck %t/megatron.mlir
// RUN: llmc-opt %t/dp.mlir -split-input-file -llmc-propagate-sharding="mesh=dp=2 strategy=dp" | FileCheck %t/dp.mlir
// RUN: llmc-opt %t/pin.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=none shard={'w1=-,tp'}})" | FileCheck %t/pin.mlir
// RUN: llmc-opt %t/two-axes.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh='dp=2,tp=2' strategy=megatron})" | FileCheck %t/two-axes.mlir

// Must not change: without a mesh the pass does nothing, whatever the other
// options say (even a pin naming no tensor).
// RUN: llmc-opt %t/megatron.mlir -split-input-file > %t/plain.out
// RUN: llmc-opt %t/megatron.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{strategy=megatron shard={'nope=tp'}})" > %t/no-mesh.out
// RUN: diff %t/plain.out %t/no-mesh.out

// megatron-sp on a model without a sequence dim (a 2-D float input) plans
// exactly what megatron plans; only the strategy's name differs.
// RUN: llmc-opt %t/megatron-sp.mlir -llmc-propagate-sharding="mesh=tp=2 strategy=megatron-sp" | FileCheck %t/megatron-sp.mlir
// RUN: llmc-opt %t/megatron-sp.mlir -llmc-propagate-sharding="mesh=tp=2 strategy=megatron-sp" | sed -e 's/megatron-sp/megatron/' > %t/megatron-sp.out
// RUN: llmc-opt %t/megatron-sp.mlir -llmc-propagate-sharding="mesh=tp=2 strategy=megatron" > %t/megatron-2d.out
// RUN: diff %t/megatron-2d.out %t/megatron-sp.out

// RUN: llmc-opt %t/position.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=none shard={'y=-,tp'}})" | FileCheck %t/position.mlir

// RUN: llmc-opt %t/undescribed-argument.mlir -split-input-file -llmc-propagate-sharding="mesh=dp=2 strategy=dp" | FileCheck %t/undescribed-argument.mlir

//--- megatron.mlir

// Megatron MLP: the first layer is column-parallel (w1's columns on tp), the
// split follows the activation into the second layer's contraction, whose
// weight is row-parallel (propagated, not seeded) and whose result is a
// partial sum; the residual add and the output stay replicated. The plan
// records the one all-reduce and the halved weight memory.
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[{\22axis\22:\22tp\22,\22bytes\22:512,\22dim\22:-1,\22kind\22:\22all_reduce\22,{{.*}}\22tensor\22:\22fc2\22,\22user\22:\22res\22}]{{.*}}\22strategy\22:\22megatron\22{{.*}}\22weight_bytes_per_device\22:2048,\22weight_bytes_total\22:4096}"} {
// CHECK-NEXT:    shard.grid @mesh(shape = 2)
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[-, -]", llmc.sharding_reason = "replicated"},
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]", llmc.sharding_reason = "strategy megatron: column-parallel weight", llmc.weight = dense<1.000000e+00> : tensor<16x32xf32>},
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]", llmc.sharding_reason = "propagated from 'fc2' (graph.matmul)", llmc.weight = dense<1.000000e+00> : tensor<32x16xf32>})
// CHECK-SAME:    -> tensor<8x16xf32> {
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] {llmc.factor_axes = array<i64: -1, 0, -1>, llmc.sharding = ["[-, tp]"]} : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] {llmc.factor_axes = array<i64: -1, 0>, llmc.sharding = ["[-, tp]"]} : tensor<8x32xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] {llmc.factor_axes = array<i64: -1, -1, 0>, llmc.sharding = ["[-, -] partial(tp)"]} : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32>
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

// -----

// Attention: the heads follow the hidden split. Q, K and V are
// column-parallel, the reshape [4, 8, 32] -> [4, 8, 4, 8] carries the hidden
// split to the heads dim, the transposes carry it to dim 1, the two batched
// products and the softmax (over the last dim, which stays whole) run per
// head, and the output projection is row-parallel: one all-reduce in all.
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[{{.*}}\22kind\22:\22all_reduce\22,{{.*}}\22tensor\22:\22o_proj\22,\22user\22:\22res\22}]
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<4x8x32xf32> {llmc.name = "x", llmc.sharding = "[-, -, -]", llmc.sharding_reason = "replicated"},
// CHECK-SAME:    %[[WQ:[^:]*]]: tensor<32x32xf32> {llmc.name = "wq", llmc.sharding = "[-, tp]", llmc.sharding_reason = "strategy megatron: column-parallel weight",
// CHECK-SAME:    %[[WK:[^:]*]]: tensor<32x32xf32> {llmc.name = "wk", llmc.sharding = "[-, tp]",
// CHECK-SAME:    %[[WV:[^:]*]]: tensor<32x32xf32> {llmc.name = "wv", llmc.sharding = "[-, tp]",
// CHECK-SAME:    %[[WO:[^:]*]]: tensor<32x32xf32> {llmc.name = "wo", llmc.sharding = "[tp, -]", llmc.sharding_reason = "propagated from 'o_proj' (graph.matmul)",
// CHECK:         %[[Q:.*]] = graph.matmul %[[X]], %[[WQ]] {llmc.factor_axes = array<i64: -1, -1, 0, -1>, llmc.sharding = ["[-, -, tp]"]}
// CHECK:         %[[K:.*]] = graph.matmul %[[X]], %[[WK]] {llmc.factor_axes = array<i64: -1, -1, 0, -1>, llmc.sharding = ["[-, -, tp]"]}
// CHECK:         %[[V:.*]] = graph.matmul %[[X]], %[[WV]] {llmc.factor_axes = array<i64: -1, -1, 0, -1>, llmc.sharding = ["[-, -, tp]"]}
// CHECK:         %[[QR:.*]] = graph.reshape %[[Q]] {llmc.factor_axes = array<i64: -1, -1, 0>, llmc.sharding = ["[-, -, tp, -]"]} : tensor<4x8x32xf32> -> tensor<4x8x4x8xf32>
// CHECK:         %[[KR:.*]] = graph.reshape %[[K]] {{.*}}llmc.sharding = ["[-, -, tp, -]"]}
// CHECK:         %[[VR:.*]] = graph.reshape %[[V]] {{.*}}llmc.sharding = ["[-, -, tp, -]"]}
// CHECK:         %[[QT:.*]] = graph.transpose %[[QR]] {llmc.factor_axes = array<i64: -1, 0, -1, -1>, llmc.sharding = ["[-, tp, -, -]"], perm = array<i64: 0, 2, 1, 3>}
// CHECK:         %[[KT:.*]] = graph.transpose %[[KR]] {{.*}}llmc.sharding = ["[-, tp, -, -]"], perm = array<i64: 0, 2, 3, 1>}
// CHECK:         %[[VT:.*]] = graph.transpose %[[VR]] {{.*}}llmc.sharding = ["[-, tp, -, -]"], perm = array<i64: 0, 2, 1, 3>}
// CHECK:         %[[S:.*]] = graph.matmul %[[QT]], %[[KT]] {llmc.factor_axes = array<i64: -1, 0, -1, -1, -1>, llmc.sharding = ["[-, tp, -, -]"]}
// CHECK:         %[[P:.*]] = graph.softmax %[[S]] {axis = 3 : i64, llmc.factor_axes = array<i64: -1, 0, -1, -1>, llmc.sharding = ["[-, tp, -, -]"]}
// CHECK:         %[[C:.*]] = graph.matmul %[[P]], %[[VT]] {{.*}}llmc.sharding = ["[-, tp, -, -]"]}
// CHECK:         %[[CT:.*]] = graph.transpose %[[C]] {{.*}}llmc.sharding = ["[-, -, tp, -]"]
// CHECK:         %[[CR:.*]] = graph.reshape %[[CT]] {llmc.factor_axes = array<i64: -1, -1, 0>, llmc.sharding = ["[-, -, tp]"]} : tensor<4x8x4x8xf32> -> tensor<4x8x32xf32>
// CHECK:         %[[O:.*]] = graph.matmul %[[CR]], %[[WO]] {llmc.factor_axes = array<i64: -1, -1, -1, 0>, llmc.sharding = ["[-, -, -] partial(tp)"]}
// CHECK:         %[[R:.*]] = graph.add %[[O]], %[[X]] : tensor<4x8x32xf32>
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

// -----

// A softmax or a max over the split dim keeps that dim whole (max and min
// partial results are not combined): they get no factor, and the plan
// gathers their operand. A sum over it is a partial sum instead.
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[{\22axis\22:\22tp\22,\22bytes\22:512,\22dim\22:1,\22kind\22:\22all_gather\22,{{.*}}\22tensor\22:\22fc1\22,\22user\22:\22probs\22},{\22axis\22:\22tp\22,\22bytes\22:32,\22dim\22:-1,\22kind\22:\22all_reduce\22,{{.*}}\22tensor\22:\22rowsum\22,\22user\22:\22output\22}]
// CHECK-LABEL: func.func @main(
// CHECK:         %[[H:.*]] = graph.matmul %{{.*}}, %{{.*}} {llmc.factor_axes = array<i64: -1, 0, -1>, llmc.sharding = ["[-, tp]"]}
// CHECK-NEXT:    %[[P:.*]] = graph.softmax %[[H]] {axis = 1 : i64} : tensor<8x32xf32>
// CHECK-NEXT:    %[[M:.*]] = graph.reduce %[[H]] {axes = array<i64: 1>, keepdims = false, kind = "max"} : tensor<8x32xf32> -> tensor<8xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.reduce %[[H]] {axes = array<i64: 1>, keepdims = false, kind = "sum", llmc.factor_axes = array<i64: -1, 0>, llmc.sharding = ["[-] partial(tp)"]}
// CHECK-NEXT:    return %[[P]], %[[M]], %[[S]]
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> (tensor<8x32xf32>, tensor<8xf32>, tensor<8xf32>) {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %p = graph.softmax %h {axis = 1 : i64} : tensor<8x32xf32> loc("probs")
  %m = graph.reduce %h {kind = "max", axes = array<i64: 1>, keepdims = false} : tensor<8x32xf32> -> tensor<8xf32> loc("rowmax")
  %s = graph.reduce %h {kind = "sum", axes = array<i64: 1>, keepdims = false} : tensor<8x32xf32> -> tensor<8xf32> loc("rowsum")
  return %p, %m, %s : tensor<8x32xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

// An existing shard.grid @mesh is kept, not duplicated.
// CHECK:       module attributes {llmc.mesh = "tp=2",
// CHECK-NEXT:    shard.grid @mesh(shape = 2)
// CHECK-NOT:     shard.grid
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    llmc.sharding = "[-, tp]"
shard.grid @mesh(shape = 2)
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  return %h : tensor<8x32xf32>
}

// -----

// An existing shard.grid @mesh of another shape (left by a run for another
// mesh) takes the new mesh's shape: one grid, which matches llmc.mesh.
// CHECK:       module attributes {llmc.mesh = "tp=2",
// CHECK-NEXT:    shard.grid @mesh(shape = 2)
// CHECK-NOT:     shard.grid
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    llmc.sharding = "[-, tp]"
shard.grid @mesh(shape = 4x2)
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  return %h : tensor<8x32xf32>
}

// -----

// Must not change: a module without @main is left alone (no mesh, no grid,
// no attributes), even with a mesh given.
// CHECK-LABEL: module {
// CHECK-NEXT:    func.func @forward(%{{[^:]*}}: tensor<8x16xf32> {llmc.name = "x"}, %{{[^:]*}}: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.000000e+00> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
// CHECK-NEXT:      graph.matmul %{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32>
// CHECK-NOT:     llmc.
// CHECK-NOT:     shard.grid
func.func @forward(%x: tensor<8x16xf32> {llmc.name = "x"},
                   %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  return %h : tensor<8x32xf32>
}

//--- dp.mlir

// Data parallelism: the input's batch dim on dp, propagated through every
// op; the weights stay replicated, and there is nothing to communicate.
// CHECK:       module attributes {llmc.mesh = "dp=2", llmc.sharding_plan = "{\22collectives\22:[],\22comm_seconds\22:0,\22devices\22:2,{{.*}}\22strategy\22:\22dp\22,{{.*}}\22weight_bytes_per_device\22:4096,\22weight_bytes_total\22:4096}"} {
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[dp, -]", llmc.sharding_reason = "strategy dp: batch dim"},
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, -]", llmc.sharding_reason = "replicated",
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[-, -]", llmc.sharding_reason = "replicated",
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] {llmc.factor_axes = array<i64: 0, -1, -1>, llmc.sharding = ["[dp, -]"]}
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] {llmc.factor_axes = array<i64: 0, -1>, llmc.sharding = ["[dp, -]"]}
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] {llmc.factor_axes = array<i64: 0, -1, -1>, llmc.sharding = ["[dp, -]"]}
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[Y]], %[[X]] {llmc.factor_axes = array<i64: 0, -1>, llmc.sharding = ["[dp, -]"]}
// CHECK-NEXT:    return %[[R]]
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

// An input whose leading dim the axis does not divide stays whole, with a
// remark in the plan; the other input is still split.
// CHECK:       module attributes {llmc.mesh = "dp=2", llmc.sharding_plan = "{{.*}}\22remarks\22:[\22dp: input 'table' keeps dim 0 (size 3) whole: not divisible by axis 'dp'\22]
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[dp, -]", llmc.sharding_reason = "strategy dp: batch dim"},
// CHECK-SAME:    %[[T:[^:]*]]: tensor<3x16xf32> {llmc.name = "table", llmc.sharding = "[-, -]", llmc.sharding_reason = "replicated"})
// CHECK-NEXT:    %[[S:.*]] = graph.reduce %[[T]] {axes = array<i64: 0>, keepdims = false, kind = "sum"} : tensor<3x16xf32> -> tensor<16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[X]], %[[S]] {llmc.factor_axes = array<i64: 0, -1>, llmc.sharding = ["[dp, -]"]}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %t: tensor<3x16xf32> {llmc.name = "table"}) -> tensor<8x16xf32> {
  %s = graph.reduce %t {kind = "sum", axes = array<i64: 0>, keepdims = false} : tensor<3x16xf32> -> tensor<16xf32> loc("pool")
  %r = graph.add %x, %s : tensor<8x16xf32>, tensor<16xf32> -> tensor<8x16xf32> loc("shift")
  return %r : tensor<8x16xf32>
}

//--- pin.mlir

// A user pin alone (strategy none): w1's columns on tp derive the row split
// of w2 and the partial sum of fc2, as Megatron's seeds would; only w1 reads
// "pinned", w2 says where its split came from.
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{{.*}}\22strategy\22:\22none\22
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[-, -]", llmc.sharding_reason = "replicated"},
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]", llmc.sharding_reason = "pinned",
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]", llmc.sharding_reason = "propagated from 'fc2' (graph.matmul)",
// CHECK:         %[[H:.*]] = graph.matmul %[[X]], %[[W1]] {llmc.factor_axes = array<i64: -1, 0, -1>, llmc.sharding = ["[-, tp]"]}
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] {llmc.factor_axes = array<i64: -1, 0>, llmc.sharding = ["[-, tp]"]}
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] {llmc.factor_axes = array<i64: -1, -1, 0>, llmc.sharding = ["[-, -] partial(tp)"]}
// CHECK-NEXT:    graph.add %[[Y]], %[[X]] : tensor<8x16xf32>
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- two-axes.mlir

// Two axes: dp splits the batch, tp the MLP as Megatron does; a loop takes
// at most one axis, a tensor may take both (fc1 is [dp, tp]).
// CHECK:       module attributes {llmc.mesh = "dp=2,tp=2", llmc.sharding_plan = "{{.*}}\22devices\22:4,{{.*}}\22mesh\22:\22dp=2,tp=2\22
// CHECK-NEXT:    shard.grid @mesh(shape = 2x2)
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[dp, -]", llmc.sharding_reason = "strategy dp: batch dim"},
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]", llmc.sharding_reason = "strategy megatron: column-parallel weight",
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]", llmc.sharding_reason = "propagated from 'fc2' (graph.matmul)",
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] {llmc.factor_axes = array<i64: 0, 1, -1>, llmc.sharding = ["[dp, tp]"]}
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] {llmc.factor_axes = array<i64: 0, 1>, llmc.sharding = ["[dp, tp]"]}
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] {llmc.factor_axes = array<i64: 0, -1, 1>, llmc.sharding = ["[dp, -] partial(tp)"]}
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[Y]], %[[X]] {llmc.factor_axes = array<i64: 0, -1>, llmc.sharding = ["[dp, -]"]}
// CHECK-NEXT:    return %[[R]]
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- megatron-sp.mlir

// megatron-sp seeds the sequence dim only of inputs that have one (rank 3
// or more, or integer token ids of rank 2). This 2-D float input has none,
// so the Megatron seeds decide, as in the megatron part. (The sequence seed
// once split x's dim 1, which reached w1's rows and w2, so no Megatron seed
// counted and the pass reported that nothing could be split.)
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[{\22axis\22:\22tp\22,\22bytes\22:512,\22dim\22:-1,\22kind\22:\22all_reduce\22,{{.*}}\22tensor\22:\22fc2\22,\22user\22:\22res\22}]{{.*}}\22strategy\22:\22megatron-sp\22{{.*}}\22weight_bytes_per_device\22:2048,\22weight_bytes_total\22:4096}"} {
// CHECK-NEXT:    shard.grid @mesh(shape = 2)
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[-, -]", llmc.sharding_reason = "replicated"},
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<16x32xf32> {llmc.name = "w1", llmc.sharding = "[-, tp]", llmc.sharding_reason = "strategy megatron: column-parallel weight",
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<32x16xf32> {llmc.name = "w2", llmc.sharding = "[tp, -]", llmc.sharding_reason = "propagated from 'fc2' (graph.matmul)",
// CHECK-NEXT:    %[[H:.*]] = graph.matmul %[[X]], %[[W1]] {llmc.factor_axes = array<i64: -1, 0, -1>, llmc.sharding = ["[-, tp]"]}
// CHECK-NEXT:    %[[G:.*]] = graph.relu %[[H]] {llmc.factor_axes = array<i64: -1, 0>, llmc.sharding = ["[-, tp]"]}
// CHECK-NEXT:    %[[Y:.*]] = graph.matmul %[[G]], %[[W2]] {llmc.factor_axes = array<i64: -1, -1, 0>, llmc.sharding = ["[-, -] partial(tp)"]}
// CHECK-NEXT:    %[[R:.*]] = graph.add %[[Y]], %[[X]] : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK-NEXT:    return %[[R]]
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- position.mlir

// A PositionDependent op gets no factor on a loop whose absolute position
// it reads: a cumsum's scanned axis (here dim 0), a one_hot's new axis;
// trilu and resize, whose position loops are not singled out, none on any
// loop. A cumsum's other loops are independent rows: the pinned split of
// dim 1 goes through it.
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[],
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[Y:[^:]*]]: tensor<8x8xf32> {llmc.name = "y", llmc.sharding = "[-, tp]", llmc.sharding_reason = "pinned"}
// CHECK-NEXT:    %[[C:.*]] = graph.cumsum %[[Y]] {axis = 0 : i64, exclusive = false, llmc.factor_axes = array<i64: -1, 0, -1>, llmc.sharding = ["[-, tp]"], reverse = false} : tensor<8x8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[C]] {llmc.factor_axes = array<i64: -1, 0>, llmc.sharding = ["[-, tp]"]} : tensor<8x8xf32>
// CHECK-NEXT:    return %[[R]]
func.func @main(%y: tensor<8x8xf32> {llmc.name = "y"}) -> tensor<8x8xf32> {
  %c = graph.cumsum %y {axis = 0 : i64, exclusive = false, reverse = false} : tensor<8x8xf32> loc("prefix")
  %r = graph.relu %c : tensor<8x8xf32> loc("act")
  return %r : tensor<8x8xf32>
}

// -----

// Split along the scanned axis, the input is gathered before the cumsum
// (in the plan), and what follows is whole.
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[{\22axis\22:\22tp\22,\22bytes\22:128,\22dim\22:1,\22kind\22:\22all_gather\22,{{.*}}\22tensor\22:\22y\22,\22user\22:\22prefix\22}]
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[Y:[^:]*]]: tensor<8x8xf32> {llmc.name = "y", llmc.sharding = "[-, tp]", llmc.sharding_reason = "pinned"}
// CHECK-NEXT:    %[[C:.*]] = graph.cumsum %[[Y]] {axis = 1 : i64, exclusive = false, reverse = false} : tensor<8x8xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[C]] : tensor<8x8xf32>
// CHECK-NEXT:    return %[[R]]
func.func @main(%y: tensor<8x8xf32> {llmc.name = "y"}) -> tensor<8x8xf32> {
  %c = graph.cumsum %y {axis = 1 : i64, exclusive = false, reverse = false} : tensor<8x8xf32> loc("prefix")
  %r = graph.relu %c : tensor<8x8xf32> loc("act")
  return %r : tensor<8x8xf32>
}

// -----

// A one_hot keeps its new axis whole; the index's dims split.
// CHECK-LABEL: func.func @main(
// CHECK:         graph.one_hot %{{.*}}, %{{.*}} {axis = 1 : i64, llmc.factor_axes = array<i64: -1, -1, 0>, llmc.sharding = ["[-, -, tp]"]} : tensor<8x8xi64>, tensor<2xi64> -> tensor<8x4x8xi64>
func.func @main(%y: tensor<8x8xi64> {llmc.name = "y"}) -> tensor<8x4x8xi64> {
  %v = graph.constant dense<[0, 1]> : tensor<2xi64>
  %h = graph.one_hot %y, %v {axis = 1 : i64} : tensor<8x8xi64>, tensor<2xi64> -> tensor<8x4x8xi64> loc("hot")
  return %h : tensor<8x4x8xi64>
}

// -----

// Nor does a split reach back through one: the add after the pinned y is
// split, but the trilu and the matmul before it stay whole, and the plan
// cuts the trilu's result for the add (a split, no communication).
// CHECK:       module attributes {llmc.mesh = "tp=2", llmc.sharding_plan = "{\22collectives\22:[{\22axis\22:\22tp\22,\22bytes\22:0,\22dim\22:1,\22kind\22:\22split\22,{{.*}}\22tensor\22:\22tri\22,\22user\22:\22add\22}]
// CHECK-LABEL: func.func @main(
// CHECK:         %[[H:.*]] = graph.matmul %{{.*}}, %{{.*}} : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.trilu %[[H]] {k = 0 : i64, upper = false} : tensor<8x8xf32>
// CHECK-NEXT:    graph.add %[[T]], %{{.*}} {llmc.factor_axes = array<i64: -1, 0>, llmc.sharding = ["[-, tp]"]}
func.func @main(%x: tensor<8x8xf32> {llmc.name = "x"},
                %w: tensor<8x8xf32> {llmc.name = "w", llmc.weight = dense<1.0> : tensor<8x8xf32>},
                %y: tensor<8x8xf32> {llmc.name = "y"}) -> tensor<8x8xf32> {
  %h = graph.matmul %x, %w : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32> loc("fc1")
  %t = graph.trilu %h {upper = false, k = 0 : i64} : tensor<8x8xf32> loc("tri")
  %r = graph.add %t, %y : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32> loc("add")
  return %r : tensor<8x8xf32>
}

//--- undescribed-argument.mlir

// An argument that is not a statically shaped tensor (a scalar, a dynamic
// batch) is not planned: it stays whole and carries no llmc.sharding (an
// earlier version copied the plan's first tensor's onto it).
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %{{[^:]*}}: i32,
// CHECK-SAME:    %{{[^:]*}}: tensor<8x16xf32> {llmc.name = "x", llmc.sharding = "[dp, -]", llmc.sharding_reason = "strategy dp: batch dim"},
func.func @main(%n: i32,
                %x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  return %h : tensor<8x32xf32>
}

// -----

// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %{{[^:]*}}: tensor<?x16xf32> {llmc.name = "x"},
// CHECK-SAME:    %{{[^:]*}}: tensor<8x16xf32> {llmc.name = "y", llmc.sharding = "[dp, -]", llmc.sharding_reason = "strategy dp: batch dim"})
func.func @main(%x: tensor<?x16xf32> {llmc.name = "x"}, %y: tensor<8x16xf32> {llmc.name = "y"}) -> (tensor<?x16xf32>, tensor<8x16xf32>) {
  %r = graph.relu %x : tensor<?x16xf32> loc("a")
  %s = graph.relu %y : tensor<8x16xf32> loc("b")
  return %r, %s : tensor<?x16xf32>, tensor<8x16xf32>
}
