// Invalid input: llmc-decompose-composite-ops reports an error and exits non-zero.
// RUN: not llmc-opt %s -llmc-decompose-composite-ops 2>&1 | FileCheck %s

// An invalid composite op is rejected before the pass runs.
// CHECK: error: 'graph.layer_norm' op axis 3 is out of range for rank 2
func.func @invalid(%x: tensor<2x3xf32>, %s: tensor<3xf32>) -> tensor<2x3xf32> {
  %0 = graph.layer_norm %x, %s {axis = 3 : i64, epsilon = 1.0e-5 : f64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// An einsum whose equation does not match its operands is rejected.
// CHECK: error: 'graph.einsum' op
func.func @invalid_einsum(%x: tensor<2x3xf32>, %y: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %0 = graph.einsum %x, %y {equation = "ab,bc->ac"} : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}
