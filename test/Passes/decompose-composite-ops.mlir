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

// -----

// A two-operand float einsum becomes one GEMM between transposes: the MoE
// expert projection btd,edh->beth merges b,t into the rows and e,h into the
// columns (the weight transposed to d,e,h), no broadcasting.
// CHECK-LABEL: func.func @einsum_experts(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>, %[[W:.*]]: tensor<4x64x128xf32>
// CHECK:         %[[A:.*]] = graph.reshape %[[X]] : tensor<2x16x64xf32> -> tensor<32x64xf32>
// CHECK:         %[[WT:.*]] = graph.transpose %[[W]] {perm = array<i64: 1, 0, 2>}
// CHECK:         %[[B:.*]] = graph.reshape %[[WT]] : tensor<64x4x128xf32> -> tensor<64x512xf32>
// CHECK:         %[[P:.*]] = graph.matmul %[[A]], %[[B]] : tensor<32x64xf32>, tensor<64x512xf32> -> tensor<32x512xf32>
// CHECK:         %[[R:.*]] = graph.reshape %[[P]] : tensor<32x512xf32> -> tensor<2x16x4x128xf32>
// CHECK:         graph.transpose %[[R]] {perm = array<i64: 0, 2, 1, 3>} : tensor<2x16x4x128xf32> -> tensor<2x4x16x128xf32>
func.func @einsum_experts(%x: tensor<2x16x64xf32>, %w: tensor<4x64x128xf32>) -> tensor<2x4x16x128xf32> {
  %0 = graph.einsum %x, %w {equation = "btd,edh->beth"} : tensor<2x16x64xf32>, tensor<4x64x128xf32> -> tensor<2x4x16x128xf32>
  return %0 : tensor<2x4x16x128xf32>
}

// -----

// Letters of both operands and the output stay batch dims of the GEMM; a
// dot product is a 1x1 GEMM.
// CHECK-LABEL: func.func @einsum_batched(
// CHECK:         graph.transpose %{{.*}} {perm = array<i64: 1, 0, 2, 3>} : tensor<2x4x16x128xf32> -> tensor<4x2x16x128xf32>
// CHECK:         graph.matmul %{{.*}}, %{{.*}} : tensor<4x32x128xf32>, tensor<4x128x64xf32> -> tensor<4x32x64xf32>
// CHECK:         graph.matmul %{{.*}}, %{{.*}} : tensor<1x3xf32>, tensor<3x1xf32> -> tensor<1x1xf32>
// CHECK-NOT:     graph.einsum
func.func @einsum_batched(%h: tensor<2x4x16x128xf32>, %w: tensor<4x128x64xf32>, %a: tensor<3xf32>, %b: tensor<3xf32>) -> (tensor<2x4x16x64xf32>, tensor<f32>) {
  %0 = graph.einsum %h, %w {equation = "beth,ehd->betd"} : tensor<2x4x16x128xf32>, tensor<4x128x64xf32> -> tensor<2x4x16x64xf32>
  %1 = graph.einsum %a, %b {equation = "a,a->"} : tensor<3xf32>, tensor<3xf32> -> tensor<f32>
  return %0, %1 : tensor<2x4x16x64xf32>, tensor<f32>
}

// -----

// Must not change: a diagonal, a letter summed within one operand, three
// operands and integers stay einsums (a loop nest).
// CHECK-LABEL: func.func @einsum_kept(
// CHECK-COUNT-4: graph.einsum
// CHECK-NOT:     graph.matmul
func.func @einsum_kept(%x: tensor<3x3xf32>, %v: tensor<3xf32>, %y: tensor<3x4xf32>, %i: tensor<3x3xi32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<3x3xi32>) {
  %0 = graph.einsum %x, %v {equation = "aa,a->a"} : tensor<3x3xf32>, tensor<3xf32> -> tensor<3xf32>
  %1 = graph.einsum %y, %v {equation = "ab,a->a"} : tensor<3x4xf32>, tensor<3xf32> -> tensor<3xf32>
  %2 = graph.einsum %v, %v, %v {equation = "a,a,a->"} : tensor<3xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<f32>
  %3 = graph.einsum %i, %i {equation = "ab,bc->ac"} : tensor<3x3xi32>, tensor<3x3xi32> -> tensor<3x3xi32>
  return %0, %1, %2, %3 : tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<3x3xi32>
}
