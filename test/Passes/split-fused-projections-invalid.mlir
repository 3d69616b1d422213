// Invalid input: a slice reading past its operand is rejected by the
// verifier before llmc-split-fused-projections runs.
// RUN: not llmc-opt %s -llmc-split-fused-projections 2>&1 | FileCheck %s
// CHECK: error: 'graph.slice' op slice of dim 1 reads out of bounds
func.func @main(%x: tensor<4x2xf32>,
                %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>})
    -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 4>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  return %q, %k : tensor<4x3xf32>, tensor<4x3xf32>
}
