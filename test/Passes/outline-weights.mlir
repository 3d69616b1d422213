// RUN: llmc-opt %s -split-input-file -llmc-outline-weights="min-elements=4" | FileCheck %s

// A large resource constant becomes a trailing argument carrying its blob.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32>,
// CHECK-SAME:    %[[W:.*]]: tensor<4xf32> {llmc.weight = dense_resource<w> : tensor<4xf32>}
// CHECK-NOT:     graph.constant dense_resource
// CHECK:         graph.add %[[X]], %[[W]]
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = graph.constant dense_resource<w> : tensor<4xf32>
  %0 = graph.add %x, %w : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x04000000000080BF0000803F0000004000004040"
    }
  }
#-}

// -----

// Small constants and dense literals stay in the code.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %{{.*}}: tensor<2xf32>) -> tensor<2xf32>
// CHECK:         graph.constant dense_resource<small> : tensor<2xf32>
// CHECK:         graph.constant dense<1.000000e+00> : tensor<8xf32>
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %s = graph.constant dense_resource<small> : tensor<2xf32>
  %d = graph.constant dense<1.0> : tensor<8xf32>
  %0 = graph.add %x, %s : tensor<2xf32>, tensor<2xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      small: "0x04000000000080BF0000803F"
    }
  }
#-}
