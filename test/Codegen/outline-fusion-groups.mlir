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

