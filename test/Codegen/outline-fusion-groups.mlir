// CPU lowering of fusion groups: kernels as private functions, their loops
// fused by llmc-fuse-kernel-loops, then inlined back.
// RUN: llmc-opt %s -split-input-file -llmc-outline-fusion-groups | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-outline-fusion-groups,llmc-convert-graph-to-linalg,func.func(llmc-fuse-kernel-loops))' | FileCheck %s --check-prefix=LOOPS
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-outline-fusion-groups,llmc-convert-graph-to-linalg,func.func(llmc-fuse-kernel-loops),inline,symbol-dce)' | FileCheck %s --check-prefix=INLINED

// CHECK-LABEL: func.func @main(
// CHECK: %[[R:.*]] = call @main_kernel0(%{{.*}}, %{{.*}}) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK: return %[[R]]
// CHECK: func.func private @main_kernel0(%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8xf32>) -> tensor<4x8xf32> attributes {llmc.kernel = "loop"}
// CHECK: graph.add %[[A]], %[[B]]
// CHECK: %[[E:.*]] = graph.exp
// CHECK: return %[[E]]
// The add and the exp are one loop in the kernel.
// LOOPS-LABEL: func.func private @main_kernel0(
// LOOPS-COUNT-1: linalg.generic
// LOOPS-NOT: linalg.generic
// LOOPS: return
// INLINED-LABEL: func.func @main(
// INLINED-NOT: call
// INLINED: linalg.generic
// INLINED-NOT: func.func private
func.func @main(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %0 = graph.fusion_group "loop" (%x, %b) {bytes_read = 160 : i64, bytes_written = 128 : i64}
      : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> {
  ^bb0(%a: tensor<4x8xf32>, %c: tensor<8xf32>):
    %s = graph.add %a, %c : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
    %e = graph.exp %s : tensor<4x8xf32>
    graph.yield %e : tensor<4x8xf32>
  }
  return %0 : tensor<4x8xf32>
}

// -----

// Must not change: without the llmc.kernel mark, loops stay apart.
// LOOPS-LABEL: func.func @not_a_kernel(
// LOOPS-COUNT-2: linalg.generic
func.func @not_a_kernel(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = graph.relu %x : tensor<4xf32>
  %1 = graph.exp %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}


// -----

// Attention's head split inside a kernel: a reshape (as expand_shape) folds
// into the loops around it, so exp, split-heads and transpose are one loop
// over the expanded iteration space, with no reshape between loops.
// LOOPS-LABEL: func.func private @heads_kernel0(
// LOOPS-NOT: tensor.reshape
// LOOPS-COUNT-1: linalg.generic
// LOOPS-NOT: linalg.generic
// LOOPS: return
func.func @heads(%x: tensor<2x8x12xf32>) -> tensor<2x3x8x4xf32> {
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 768 : i64, bytes_written = 768 : i64}
      : (tensor<2x8x12xf32>) -> tensor<2x3x8x4xf32> {
  ^bb0(%a: tensor<2x8x12xf32>):
    %e = graph.exp %a : tensor<2x8x12xf32>
    %r = graph.reshape %e : tensor<2x8x12xf32> -> tensor<2x8x3x4xf32>
    %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<2x8x3x4xf32> -> tensor<2x3x8x4xf32>
    graph.yield %t : tensor<2x3x8x4xf32>
  }
  return %0 : tensor<2x3x8x4xf32>
}
