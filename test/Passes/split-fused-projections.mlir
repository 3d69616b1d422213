// RUN: llmc-opt %s -split-input-file -llmc-split-fused-projections | FileCheck %s
// RUN: llmc-opt %s -split-input-file -llmc-split-fused-projections="keep=w" | FileCheck %s --check-prefix=KEEP

// GPT-2's fused QKV: a projection, its bias, a reshape that keeps the last
// dim, then a Split into three. Each slice gets its own projection; the
// weight's and the bias's columns are cut at compile time (w holds 0..11
// as 2x6: w[:, 0:2] is 0, 1, 6, 7), and the fused weight is gone.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<4x2xf32>
// CHECK-NOT:     dense_resource<w> :
// CHECK-SAME:    %[[W0:[^:]*]]: tensor<2x2xf32> {llmc.weight = dense_resource<"w[:, 0:2]"> : tensor<2x2xf32>}
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<2x2xf32> {llmc.weight = dense_resource<"w[:, 2:4]"> : tensor<2x2xf32>}
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<2x2xf32> {llmc.weight = dense_resource<"w[:, 4:6]"> : tensor<2x2xf32>}
// CHECK-NOT:     graph.constant
// CHECK:         %[[P0:.*]] = graph.matmul %[[X]], %[[W0]] : tensor<4x2xf32>, tensor<2x2xf32> -> tensor<4x2xf32>
// CHECK:         %[[B0:.*]] = graph.constant dense<[0.000000e+00, 1.000000e+00]> : tensor<2xf32>
// CHECK:         %[[A0:.*]] = graph.add %[[P0]], %[[B0]] : tensor<4x2xf32>, tensor<2xf32> -> tensor<4x2xf32>
// CHECK:         %[[Q:.*]] = graph.reshape %[[A0]] : tensor<4x2xf32> -> tensor<2x2x2xf32>
// CHECK:         graph.matmul %[[X]], %[[W1]] : tensor<4x2xf32>, tensor<2x2xf32> -> tensor<4x2xf32>
// CHECK:         graph.constant dense<[2.000000e+00, 3.000000e+00]> : tensor<2xf32>
// CHECK:         %[[K:.*]] = graph.reshape
// CHECK:         graph.matmul %[[X]], %[[W2]]
// CHECK:         graph.constant dense<[4.000000e+00, 5.000000e+00]> : tensor<2xf32>
// CHECK:         %[[V:.*]] = graph.reshape
// CHECK-NOT:     graph.slice
// CHECK:         return %[[Q]], %[[K]], %[[V]]
// CHECK:         "w[:, 0:2]": "0x10000000000000000000803F0000C0400000E040"
// CHECK-NEXT:    "w[:, 2:4]": "0x1000000000000040000040400000004100001041"
// CHECK-NEXT:    "w[:, 4:6]": "0x10000000000080400000A0400000204100003041"
// The weight pinned by the user stays as it is.
// KEEP-LABEL: func.func @main(
// KEEP:         graph.matmul %{{.*}}, %{{.*}} : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
// KEEP-COUNT-3: graph.slice
func.func @main(%x: tensor<4x2xf32>,
                %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>})
    -> (tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32> loc("qkv")
  %b = graph.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]> : tensor<6xf32>
  %a = graph.add %p, %b : tensor<4x6xf32>, tensor<6xf32> -> tensor<4x6xf32> loc("bias")
  %r = graph.reshape %a : tensor<4x6xf32> -> tensor<2x2x6xf32>
  %q = graph.slice %r {starts = array<i64: 0, 0, 0>, sizes = array<i64: 2, 2, 2>, steps = array<i64: 1, 1, 1>} : tensor<2x2x6xf32> -> tensor<2x2x2xf32>
  %k = graph.slice %r {starts = array<i64: 0, 0, 2>, sizes = array<i64: 2, 2, 2>, steps = array<i64: 1, 1, 1>} : tensor<2x2x6xf32> -> tensor<2x2x2xf32>
  %v = graph.slice %r {starts = array<i64: 0, 0, 4>, sizes = array<i64: 2, 2, 2>, steps = array<i64: 1, 1, 1>} : tensor<2x2x6xf32> -> tensor<2x2x2xf32>
  return %q, %k, %v : tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x04000000000000000000803F0000004000004040000080400000A0400000C0400000E04000000041000010410000204100003041"
    }
  }
#-}

// -----

// Gemm's transB: the weight [N, K] is read through a transpose, so its rows
// are cut. Unequal parts (grouped-query attention's q, k, v: 4 query
// columns, 2 KV columns) and a scalar scale (Gemm's alpha) on the way.
// wt holds 0..11 as 6x2: wt[0:4, :] is 0..7, wt[4:6, :] is 8..11.
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<3x2xf32>
// CHECK-SAME:    %[[W0:[^:]*]]: tensor<4x2xf32> {llmc.weight = dense_resource<"wt[0:4, :]"> : tensor<4x2xf32>}
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<2x2xf32> {llmc.weight = dense_resource<"wt[4:6, :]"> : tensor<2x2xf32>}
// CHECK:         %[[S:.*]] = graph.constant dense<5.000000e-01> : tensor<f32>
// CHECK:         %[[T0:.*]] = graph.transpose %[[W0]] {perm = array<i64: 1, 0>} : tensor<4x2xf32> -> tensor<2x4xf32>
// CHECK:         %[[P0:.*]] = graph.matmul %[[X]], %[[T0]] : tensor<3x2xf32>, tensor<2x4xf32> -> tensor<3x4xf32>
// CHECK:         %[[Q:.*]] = graph.mul %[[P0]], %[[S]] : tensor<3x4xf32>, tensor<f32> -> tensor<3x4xf32>
// CHECK:         %[[T1:.*]] = graph.transpose %[[W1]] {perm = array<i64: 1, 0>} : tensor<2x2xf32> -> tensor<2x2xf32>
// CHECK:         %[[P1:.*]] = graph.matmul %[[X]], %[[T1]] : tensor<3x2xf32>, tensor<2x2xf32> -> tensor<3x2xf32>
// CHECK:         %[[KV:.*]] = graph.mul %[[P1]], %[[S]] : tensor<3x2xf32>, tensor<f32> -> tensor<3x2xf32>
// CHECK:         return %[[Q]], %[[KV]]
// CHECK:         "wt[0:4, :]": "0x10000000000000000000803F000000400000404000008040
// CHECK-SAME:       0000A0400000C0400000E040"
// CHECK-NEXT:    "wt[4:6, :]": "0x100000000000004100001041000020410000304
func.func @main(%x: tensor<3x2xf32>,
                %wt: tensor<6x2xf32> {llmc.weight = dense_resource<wt> : tensor<6x2xf32>})
    -> (tensor<3x4xf32>, tensor<3x2xf32>) {
  %t = graph.transpose %wt {perm = array<i64: 1, 0>} : tensor<6x2xf32> -> tensor<2x6xf32>
  %p = graph.matmul %x, %t : tensor<3x2xf32>, tensor<2x6xf32> -> tensor<3x6xf32>
  %s = graph.constant dense<0.5> : tensor<f32>
  %m = graph.mul %p, %s : tensor<3x6xf32>, tensor<f32> -> tensor<3x6xf32>
  %q = graph.slice %m {starts = array<i64: 0, 0>, sizes = array<i64: 3, 4>, steps = array<i64: 1, 1>} : tensor<3x6xf32> -> tensor<3x4xf32>
  %kv = graph.slice %m {starts = array<i64: 0, 4>, sizes = array<i64: 3, 2>, steps = array<i64: 1, 1>} : tensor<3x6xf32> -> tensor<3x2xf32>
  return %q, %kv : tensor<3x4xf32>, tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      wt: "0x04000000000000000000803F0000004000004040000080400000A0400000C0400000E04000000041000010410000204100003041"
    }
  }
#-}

// -----

// timm's packed QKV: the projection's columns reshaped to [.., 3, heads,
// d], transposed, and each part taken by a gather of a constant index
// (qkv[i]) or a slice of size 1 (unbind's Split, then a squeeze). Each part
// becomes its own projection, reshaped to [.., heads, d] and transposed
// without the parts dim; a kept unit dim comes back by a reshape.
// CHECK-LABEL: func.func @gathered(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<2x4xf32>
// CHECK-SAME:    %[[W0:[^:]*]]: tensor<4x4xf32> {llmc.weight = dense_resource<"w12[:, 0:4]"> : tensor<4x4xf32>}
// CHECK-SAME:    %[[W1:[^:]*]]: tensor<4x4xf32> {llmc.weight = dense_resource<"w12[:, 4:8]"> : tensor<4x4xf32>}
// CHECK-SAME:    %[[W2:[^:]*]]: tensor<4x4xf32> {llmc.weight = dense_resource<"w12[:, 8:12]"> : tensor<4x4xf32>}
// CHECK:         %[[P0:.*]] = graph.matmul %[[X]], %[[W0]] : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
// CHECK:         %[[R0:.*]] = graph.reshape %[[P0]] : tensor<2x4xf32> -> tensor<2x2x2xf32>
// CHECK:         %[[Q:.*]] = graph.transpose %[[R0]] {perm = array<i64: 1, 0, 2>} : tensor<2x2x2xf32> -> tensor<2x2x2xf32>
// CHECK:         graph.matmul %[[X]], %[[W1]]
// CHECK:         graph.reshape
// CHECK:         %[[K:.*]] = graph.transpose
// CHECK:         graph.matmul %[[X]], %[[W2]]
// CHECK:         graph.reshape
// CHECK:         %[[V:.*]] = graph.transpose
// CHECK-NOT:     graph.gather
// CHECK:         return %[[Q]], %[[K]], %[[V]]
func.func @gathered(%x: tensor<2x4xf32>,
                    %w: tensor<4x12xf32> {llmc.weight = dense_resource<w12> : tensor<4x12xf32>})
    -> (tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>) {
  %p = graph.matmul %x, %w : tensor<2x4xf32>, tensor<4x12xf32> -> tensor<2x12xf32>
  %r = graph.reshape %p : tensor<2x12xf32> -> tensor<2x3x2x2xf32>
  %t = graph.transpose %r {perm = array<i64: 1, 2, 0, 3>} : tensor<2x3x2x2xf32> -> tensor<3x2x2x2xf32>
  %i0 = graph.constant dense<0> : tensor<i64>
  %i1 = graph.constant dense<1> : tensor<i64>
  %i2 = graph.constant dense<-1> : tensor<i64>
  %q = graph.gather %t, %i0 {axis = 0 : i64} : tensor<3x2x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  %k = graph.gather %t, %i1 {axis = 0 : i64} : tensor<3x2x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  %v = graph.gather %t, %i2 {axis = 0 : i64} : tensor<3x2x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  return %q, %k, %v : tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>
}
// CHECK-LABEL: func.func @unbound(
// CHECK-SAME:    %{{[^:]*}}: tensor<4x4xf32> {llmc.weight = dense_resource<"w12[:, 0:4]
// CHECK-SAME:    %{{[^:]*}}: tensor<4x4xf32> {llmc.weight = dense_resource<"w12[:, 8:12]
// CHECK:         graph.matmul {{.*}} -> tensor<2x4xf32>
// CHECK:         graph.reshape {{.*}} : tensor<2x4xf32> -> tensor<2x2x2xf32>
// CHECK:         %[[Q:.*]] = graph.reshape {{.*}} : tensor<2x2x2xf32> -> tensor<2x1x2x2xf32>
// CHECK:         graph.matmul {{.*}} -> tensor<2x4xf32>
// CHECK:         graph.reshape {{.*}} : tensor<2x4xf32> -> tensor<2x2x2xf32>
// CHECK:         %[[V:.*]] = graph.reshape {{.*}} : tensor<2x2x2xf32> -> tensor<2x1x2x2xf32>
// CHECK-NOT:     graph.slice
// CHECK:         return %[[Q]], %[[V]]
func.func @unbound(%x: tensor<2x4xf32>,
                   %w: tensor<4x12xf32> {llmc.weight = dense_resource<w12> : tensor<4x12xf32>})
    -> (tensor<2x1x2x2xf32>, tensor<2x1x2x2xf32>) {
  %p = graph.matmul %x, %w : tensor<2x4xf32>, tensor<4x12xf32> -> tensor<2x12xf32>
  %r = graph.reshape %p : tensor<2x12xf32> -> tensor<2x3x2x2xf32>
  %q = graph.slice %r {starts = array<i64: 0, 0, 0, 0>, sizes = array<i64: 2, 1, 2, 2>, steps = array<i64: 1, 1, 1, 1>} : tensor<2x3x2x2xf32> -> tensor<2x1x2x2xf32>
  %v = graph.slice %r {starts = array<i64: 0, 2, 0, 0>, sizes = array<i64: 2, 1, 2, 2>, steps = array<i64: 1, 1, 1, 1>} : tensor<2x3x2x2xf32> -> tensor<2x1x2x2xf32>
  return %q, %v : tensor<2x1x2x2xf32>, tensor<2x1x2x2xf32>
}
// nn.MultiheadAttention as torch's Dynamo exporter writes it: the parts
// dim comes with unit dims (unflatten(-1, (3, E)).unsqueeze(0)), is moved
// to the front by a transpose and a unit dim dropped by a reshape before
// each part is gathered. Each part replays that chain without the parts dim.
// CHECK-LABEL: func.func @carried(
// CHECK:         %[[P:.*]] = graph.matmul %{{.*}}, %{{.*}} : tensor<5x1x4xf32>, tensor<4x4xf32> -> tensor<5x1x4xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.reshape %[[P]] : tensor<5x1x4xf32> -> tensor<1x5x1x4xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %[[R]] {perm = array<i64: 1, 2, 0, 3>} : tensor<1x5x1x4xf32> -> tensor<5x1x1x4xf32>
// CHECK-NEXT:    %[[Q:.*]] = graph.reshape %[[T]] : tensor<5x1x1x4xf32> -> tensor<5x1x4xf32>
// CHECK:         graph.matmul
// CHECK:         graph.matmul
// CHECK-NOT:     graph.gather
// CHECK:         return %[[Q]],
func.func @carried(%x: tensor<5x1x4xf32>,
                   %w: tensor<4x12xf32> {llmc.weight = dense_resource<w12> : tensor<4x12xf32>})
    -> (tensor<5x1x4xf32>, tensor<5x1x4xf32>, tensor<5x1x4xf32>) {
  %p = graph.matmul %x, %w : tensor<5x1x4xf32>, tensor<4x12xf32> -> tensor<5x1x12xf32>
  %r = graph.reshape %p : tensor<5x1x12xf32> -> tensor<1x5x1x3x4xf32>
  %t = graph.transpose %r {perm = array<i64: 3, 1, 2, 0, 4>} : tensor<1x5x1x3x4xf32> -> tensor<3x5x1x1x4xf32>
  %s = graph.reshape %t : tensor<3x5x1x1x4xf32> -> tensor<3x5x1x4xf32>
  %i0 = graph.constant dense<0> : tensor<i64>
  %i1 = graph.constant dense<1> : tensor<i64>
  %i2 = graph.constant dense<2> : tensor<i64>
  %q = graph.gather %s, %i0 {axis = 0 : i64} : tensor<3x5x1x4xf32>, tensor<i64> -> tensor<5x1x4xf32>
  %k = graph.gather %s, %i1 {axis = 0 : i64} : tensor<3x5x1x4xf32>, tensor<i64> -> tensor<5x1x4xf32>
  %v = graph.gather %s, %i2 {axis = 0 : i64} : tensor<3x5x1x4xf32>, tensor<i64> -> tensor<5x1x4xf32>
  return %q, %k, %v : tensor<5x1x4xf32>, tensor<5x1x4xf32>, tensor<5x1x4xf32>
}
// Left as they are: a gather of an index computed at run time; a reshape
// that also regroups the leading dims.
// CHECK-LABEL: func.func @runtime_index(
// CHECK:         graph.matmul {{.*}} -> tensor<2x12xf32>
// CHECK-COUNT-2: graph.gather
func.func @runtime_index(%x: tensor<2x4xf32>, %i: tensor<i64>,
                         %w: tensor<4x12xf32> {llmc.weight = dense_resource<w12> : tensor<4x12xf32>})
    -> (tensor<2x2x2xf32>, tensor<2x2x2xf32>) {
  %p = graph.matmul %x, %w : tensor<2x4xf32>, tensor<4x12xf32> -> tensor<2x12xf32>
  %r = graph.reshape %p : tensor<2x12xf32> -> tensor<2x3x2x2xf32>
  %i0 = graph.constant dense<0> : tensor<i64>
  %q = graph.gather %r, %i0 {axis = 1 : i64} : tensor<2x3x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  %k = graph.gather %r, %i {axis = 1 : i64} : tensor<2x3x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  return %q, %k : tensor<2x2x2xf32>, tensor<2x2x2xf32>
}
// CHECK-LABEL: func.func @regrouped(
// CHECK:         graph.matmul {{.*}} -> tensor<2x12xf32>
// CHECK-COUNT-2: graph.gather
func.func @regrouped(%x: tensor<2x4xf32>,
                     %w: tensor<4x12xf32> {llmc.weight = dense_resource<w12> : tensor<4x12xf32>})
    -> (tensor<2x2xf32>, tensor<2x2xf32>) {
  %p = graph.matmul %x, %w : tensor<2x4xf32>, tensor<4x12xf32> -> tensor<2x12xf32>
  %r = graph.reshape %p : tensor<2x12xf32> -> tensor<3x2x2x2xf32>
  %i0 = graph.constant dense<0> : tensor<i64>
  %i1 = graph.constant dense<1> : tensor<i64>
  %q = graph.gather %r, %i0 {axis = 0 : i64} : tensor<3x2x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  %k = graph.gather %r, %i1 {axis = 0 : i64} : tensor<3x2x2x2xf32>, tensor<i64> -> tensor<2x2x2xf32>
  %q2 = graph.reshape %q : tensor<2x2x2xf32> -> tensor<2x4xf32>
  %k2 = graph.reshape %k : tensor<2x2x2xf32> -> tensor<2x4xf32>
  %qs = graph.slice %q2 {starts = array<i64: 0, 0>, sizes = array<i64: 2, 2>, steps = array<i64: 1, 1>} : tensor<2x4xf32> -> tensor<2x2xf32>
  %ks = graph.slice %k2 {starts = array<i64: 0, 0>, sizes = array<i64: 2, 2>, steps = array<i64: 1, 1>} : tensor<2x4xf32> -> tensor<2x2xf32>
  return %qs, %ks : tensor<2x2xf32>, tensor<2x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w12: "0x04000000000000000000803F0000004000004040000080400000A0400000C0400000E0400000004100001041000020410000304100004041000050410000604100007041000080410000884100009041000098410000A0410000A8410000B0410000B8410000C0410000C8410000D0410000D8410000E0410000E8410000F0410000F84100000042000004420000084200000C4200001042000014420000184200001C4200002042000024420000284200002C4200003042000034420000384200003C42"
    }
  }
#-}

// -----

// Left as they are: one slice (no fused projection); a slice that also
// cuts another dim; a projection whose output is also used whole; a weight
// that another op reads; an activation as rhs; a slice with a stride; a
// weight whose bytes are not at hand.
// CHECK-LABEL: func.func @one_slice(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK:         graph.slice
func.func @one_slice(%x: tensor<4x2xf32>,
                     %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>}) -> tensor<4x2xf32> {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 2>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x2xf32>
  return %q : tensor<4x2xf32>
}
// CHECK-LABEL: func.func @rows_too(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK-COUNT-2: graph.slice
func.func @rows_too(%x: tensor<4x2xf32>,
                    %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>})
    -> (tensor<2x3xf32>, tensor<4x3xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 2, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<2x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 3>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  return %q, %k : tensor<2x3xf32>, tensor<4x3xf32>
}
// CHECK-LABEL: func.func @used_whole(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK-COUNT-2: graph.slice
func.func @used_whole(%x: tensor<4x2xf32>,
                      %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>})
    -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x6xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 3>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  return %q, %k, %p : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x6xf32>
}
// CHECK-LABEL: func.func @shared_weight(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK-COUNT-2: graph.slice
func.func @shared_weight(%x: tensor<4x2xf32>,
                         %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>})
    -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<2x6xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 3>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %n = graph.neg %w : tensor<2x6xf32>
  return %q, %k, %n : tensor<4x3xf32>, tensor<4x3xf32>, tensor<2x6xf32>
}
// CHECK-LABEL: func.func @activation(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK-COUNT-2: graph.slice
func.func @activation(%x: tensor<4x2xf32>, %y: tensor<2x6xf32>)
    -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %p = graph.matmul %x, %y : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 3>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  return %q, %k : tensor<4x3xf32>, tensor<4x3xf32>
}
// CHECK-LABEL: func.func @strided(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK-COUNT-2: graph.slice
func.func @strided(%x: tensor<4x2xf32>,
                   %w: tensor<2x6xf32> {llmc.weight = dense_resource<w> : tensor<2x6xf32>})
    -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 2>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 1>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 2>} : tensor<4x6xf32> -> tensor<4x3xf32>
  return %q, %k : tensor<4x3xf32>, tensor<4x3xf32>
}
// CHECK-LABEL: func.func @no_blob(
// CHECK:         graph.matmul {{.*}} -> tensor<4x6xf32>
// CHECK-COUNT-2: graph.slice
func.func @no_blob(%x: tensor<4x2xf32>,
                   %w: tensor<2x6xf32> {llmc.weight = dense_resource<absent> : tensor<2x6xf32>})
    -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %p = graph.matmul %x, %w : tensor<4x2xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  %q = graph.slice %p {starts = array<i64: 0, 0>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  %k = graph.slice %p {starts = array<i64: 0, 3>, sizes = array<i64: 4, 3>, steps = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<4x3xf32>
  return %q, %k : tensor<4x3xf32>, tensor<4x3xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x04000000000000000000803F0000004000004040000080400000A0400000C0400000E04000000041000010410000204100003041"
    }
  }
#-}
