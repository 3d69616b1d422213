// Invalid input: a repeat whose broadcast changes a dim it may not is
// rejected by the verifier before llmc-fold-grouped-heads runs.
// RUN: not llmc-opt %s -pass-pipeline='builtin.module(func.func(llmc-fold-grouped-heads))' 2>&1 | FileCheck %s
// CHECK: error: 'graph.broadcast_to'
func.func @bad(%q: tensor<1x6x2x4xf32>, %k: tensor<1x2x8x4xf32>) -> tensor<1x6x2x8xf32> {
  %k1 = graph.reshape %k : tensor<1x2x8x4xf32> -> tensor<1x2x1x8x4xf32>
  %kb = graph.broadcast_to %k1 : tensor<1x2x1x8x4xf32> -> tensor<1x3x3x8x4xf32>
  %kr = graph.reshape %kb : tensor<1x3x3x8x4xf32> -> tensor<1x9x8x4xf32>
  %kt = graph.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<1x9x8x4xf32> -> tensor<1x9x4x8xf32>
  %s = graph.matmul %q, %kt : tensor<1x6x2x4xf32>, tensor<1x9x4x8xf32> -> tensor<1x6x2x8xf32>
  return %s : tensor<1x6x2x8xf32>
}
