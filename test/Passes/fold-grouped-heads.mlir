// llmc-fold-grouped-heads: grouped-query attention reads its KV heads
// once, not repeated G times.
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fold-grouped-heads))' | FileCheck %s

// Scores (keys through a transpose) and context (values) of 6 query heads
// over 2 KV heads (G = 3): both matmuls read %k and %v themselves, with the
// queries and probabilities regrouped [1, 2, 3*L, ...].
// CHECK-LABEL: func.func @gqa(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x6x2x4xf32>, %[[K:[a-z0-9]+]]: tensor<1x2x8x4xf32>, %[[V:[a-z0-9]+]]: tensor<1x2x8x4xf32>
// CHECK: %[[Q2:.*]] = graph.reshape %[[Q]] : tensor<1x6x2x4xf32> -> tensor<1x2x6x4xf32>
// CHECK: %[[KT:.*]] = graph.transpose %[[K]] {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x8x4xf32> -> tensor<1x2x4x8xf32>
// CHECK: %[[S2:.*]] = graph.matmul %[[Q2]], %[[KT]] : tensor<1x2x6x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x6x8xf32>
// CHECK: %[[S:.*]] = graph.reshape %[[S2]] : tensor<1x2x6x8xf32> -> tensor<1x6x2x8xf32>
// CHECK: %[[P:.*]] = graph.softmax %[[S]]
// CHECK: %[[P2:.*]] = graph.reshape %[[P]] : tensor<1x6x2x8xf32> -> tensor<1x2x6x8xf32>
// CHECK: %[[O2:.*]] = graph.matmul %[[P2]], %[[V]] : tensor<1x2x6x8xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x6x4xf32>
// CHECK: %[[O:.*]] = graph.reshape %[[O2]] : tensor<1x2x6x4xf32> -> tensor<1x6x2x4xf32>
// CHECK: return %[[O]]
func.func @gqa(%q: tensor<1x6x2x4xf32>, %k: tensor<1x2x8x4xf32>, %v: tensor<1x2x8x4xf32>) -> tensor<1x6x2x4xf32> {
  %k1 = graph.reshape %k : tensor<1x2x8x4xf32> -> tensor<1x2x1x8x4xf32>
  %kb = graph.broadcast_to %k1 : tensor<1x2x1x8x4xf32> -> tensor<1x2x3x8x4xf32>
  %kr = graph.reshape %kb : tensor<1x2x3x8x4xf32> -> tensor<1x6x8x4xf32>
  %kt = graph.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<1x6x8x4xf32> -> tensor<1x6x4x8xf32>
  %s = graph.matmul %q, %kt : tensor<1x6x2x4xf32>, tensor<1x6x4x8xf32> -> tensor<1x6x2x8xf32>
  %p = graph.softmax %s {axis = 3 : i64} : tensor<1x6x2x8xf32>
  %v1 = graph.reshape %v : tensor<1x2x8x4xf32> -> tensor<1x2x1x8x4xf32>
  %vb = graph.broadcast_to %v1 : tensor<1x2x1x8x4xf32> -> tensor<1x2x3x8x4xf32>
  %vr = graph.reshape %vb : tensor<1x2x3x8x4xf32> -> tensor<1x6x8x4xf32>
  %o = graph.matmul %p, %vr : tensor<1x6x2x8xf32>, tensor<1x6x8x4xf32> -> tensor<1x6x2x4xf32>
  return %o : tensor<1x6x2x4xf32>
}

// -----

// Must not change: a broadcast over the batch dim (not after the heads), a
// transpose that is not of the last two dims, a lhs whose batch dims
// broadcast against the repeat's, and an rhs that is no repeat at all.
// CHECK-LABEL: func.func @not_a_head_repeat(
// CHECK-COUNT-4: graph.matmul
// CHECK-NOT: graph.matmul
func.func @not_a_head_repeat(%q: tensor<3x2x2x4xf32>, %k: tensor<1x2x8x4xf32>,
                             %q1: tensor<1x6x2x8xf32>, %k2: tensor<1x2x4x8xf32>,
                             %w: tensor<1x6x4x8xf32>, %q3: tensor<6x2x4xf32>)
    -> (tensor<3x2x2x8xf32>, tensor<1x6x2x4xf32>, tensor<1x6x2x8xf32>, tensor<1x6x2x8xf32>) {
  %k1 = graph.reshape %k : tensor<1x2x8x4xf32> -> tensor<1x1x2x8x4xf32>
  %kb = graph.broadcast_to %k1 : tensor<1x1x2x8x4xf32> -> tensor<1x3x2x8x4xf32>
  %kr = graph.reshape %kb : tensor<1x3x2x8x4xf32> -> tensor<3x2x8x4xf32>
  %kt = graph.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<3x2x8x4xf32> -> tensor<3x2x4x8xf32>
  %a = graph.matmul %q, %kt : tensor<3x2x2x4xf32>, tensor<3x2x4x8xf32> -> tensor<3x2x2x8xf32>
  %x1 = graph.reshape %k2 : tensor<1x2x4x8xf32> -> tensor<1x2x1x4x8xf32>
  %xb = graph.broadcast_to %x1 : tensor<1x2x1x4x8xf32> -> tensor<1x2x3x4x8xf32>
  %xr = graph.reshape %xb : tensor<1x2x3x4x8xf32> -> tensor<1x6x4x8xf32>
  %xt = graph.transpose %xr {perm = array<i64: 1, 0, 3, 2>} : tensor<1x6x4x8xf32> -> tensor<6x1x8x4xf32>
  %xt2 = graph.reshape %xt : tensor<6x1x8x4xf32> -> tensor<1x6x8x4xf32>
  %b = graph.matmul %q1, %xt2 : tensor<1x6x2x8xf32>, tensor<1x6x8x4xf32> -> tensor<1x6x2x4xf32>
  %c = graph.matmul %q3, %xr : tensor<6x2x4xf32>, tensor<1x6x4x8xf32> -> tensor<1x6x2x8xf32>
  %q4 = graph.reshape %q3 : tensor<6x2x4xf32> -> tensor<1x6x2x4xf32>
  %d = graph.matmul %q4, %w : tensor<1x6x2x4xf32>, tensor<1x6x4x8xf32> -> tensor<1x6x2x8xf32>
  return %a, %b, %c, %d : tensor<3x2x2x8xf32>, tensor<1x6x2x4xf32>, tensor<1x6x2x8xf32>, tensor<1x6x2x8xf32>
}
