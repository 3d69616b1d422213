// RUN: llmc-opt %s -split-input-file -llmc-decompose-composite-ops | FileCheck %s

// Softmax becomes max-shifted exponentials over their sum.
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xf32>
// CHECK:         %[[M:.*]] = graph.reduce %[[X]] {axes = array<i64: 1>, keepdims = true, kind = "max"}
// CHECK:         %[[D:.*]] = graph.sub %[[X]], %[[M]]
// CHECK:         %[[E:.*]] = graph.exp %[[D]]
// CHECK:         %[[S:.*]] = graph.reduce %[[E]] {axes = array<i64: 1>, keepdims = true, kind = "sum"}
// CHECK:         %[[R:.*]] = graph.div %[[E]], %[[S]]
// CHECK:         return %[[R]]
func.func @softmax(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = graph.softmax %x {axis = 1 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Gemm with transposes, alpha and beta.
// CHECK-LABEL: func.func @gemm(
// CHECK-SAME:    %[[A:.*]]: tensor<3x2xf32>, %[[B:.*]]: tensor<3x4xf32>, %[[C:.*]]: tensor<4xf32>
// CHECK:         %[[T:.*]] = graph.transpose %[[A]] {perm = array<i64: 1, 0>}
// CHECK:         %[[P:.*]] = graph.matmul %[[T]], %[[B]]
// CHECK:         %[[S:.*]] = graph.mul %[[P]], %{{.*}} : tensor<2x4xf32>, tensor<f32>
// CHECK:         %[[CB:.*]] = graph.mul %[[C]], %{{.*}} : tensor<4xf32>, tensor<f32>
// CHECK:         graph.add %[[S]], %[[CB]]
func.func @gemm(%a: tensor<3x2xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<2x4xf32> {
  %0 = graph.gemm %a, %b, %c {alpha = 2.0 : f64, beta = 0.5 : f64, transA = true, transB = false} : tensor<3x2xf32>, tensor<3x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Batch norm folds its parameters into one per-channel factor.
// CHECK-LABEL: func.func @batch_norm(
// CHECK:         graph.reshape %{{.*}} : tensor<3xf32> -> tensor<3x1xf32>
// CHECK:         graph.sqrt
// CHECK:         graph.div
// CHECK-NOT:     graph.batch_norm
func.func @batch_norm(%x: tensor<2x3x4xf32>, %c: tensor<3xf32>) -> tensor<2x3x4xf32> {
  %0 = graph.batch_norm %x, %c, %c, %c, %c {epsilon = 1.0e-5 : f64} : tensor<2x3x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// Primitive ops are left as they are.
// CHECK-LABEL: func.func @primitive(
// CHECK-NEXT:    %[[R:.*]] = graph.add
// CHECK-NEXT:    return %[[R]]
func.func @primitive(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = graph.add %x, %x : tensor<2xf32>, tensor<2xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
