// Invalid input: llmc-convert-graph-to-linalg reports an error and exits non-zero.
// RUN: not llmc-opt %s -llmc-convert-graph-to-linalg 2>&1 | FileCheck %s

// Composite ops must be decomposed first: the conversion refuses them.
// CHECK: error: failed to legalize operation 'graph.softmax'
func.func @composite(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = graph.softmax %x {axis = 1 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
