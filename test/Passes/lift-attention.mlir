// llmc-lift-attention: scaled dot-product attention, however it is written,
// becomes one graph.attention (f32; on CUDA with head dims up to 128, the
// flash-attention kernel's limit).
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-lift-attention))' | FileCheck %s --check-prefixes=CHECK,CPU
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-lift-attention{target=cuda}))' | FileCheck %s --check-prefixes=CHECK,CUDA

// GPT-2: a scale, a causal mask put in by where(-inf), graph.softmax.
// CHECK-LABEL: func.func @gpt2(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<2x4x8x16xf32>, %[[K:[a-z0-9]+]]: tensor<2x4x8x16xf32>, %[[V:[a-z0-9]+]]: tensor<2x4x8x16xf32>, %[[M:[a-z0-9]+]]: tensor<1x1x8x8xi1>
// CHECK: %[[BIAS:.*]] = graph.where %[[M]], %{{.*}}, %{{.*}} : tensor<1x1x8x8xi1>, tensor<f32>, tensor<f32> -> tensor<1x1x8x8xf32>
// CHECK: %[[B5:.*]] = graph.reshape %[[BIAS]] : tensor<1x1x8x8xf32> -> tensor<1x1x1x8x8xf32>
// CHECK: %[[Q5:.*]] = graph.reshape %[[Q]] : tensor<2x4x8x16xf32> -> tensor<2x4x1x8x16xf32>
// CHECK: %[[A:.*]] = graph.attention %[[Q5]], %[[K]], %[[V]], %[[B5]] {scale = 2.500000e-01 : f64}
// CHECK: %[[O:.*]] = graph.reshape %[[A]] : tensor<2x4x1x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: return %[[O]]
// CHECK-NOT: graph.softmax
func.func @gpt2(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x16xf32>, %v: tensor<2x4x8x16xf32>, %mask: tensor<1x1x8x8xi1>) -> tensor<2x4x8x16xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<2x4x8x16xf32> -> tensor<2x4x16x8xf32>
  %s = graph.matmul %q, %kt : tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32> -> tensor<2x4x8x8xf32>
  %c = graph.constant dense<0.25> : tensor<f32>
  %ss = graph.mul %s, %c : tensor<2x4x8x8xf32>, tensor<f32> -> tensor<2x4x8x8xf32>
  %ninf = graph.constant dense<0xFF800000> : tensor<f32>
  %m = graph.where %mask, %ss, %ninf : tensor<1x1x8x8xi1>, tensor<2x4x8x8xf32>, tensor<f32> -> tensor<2x4x8x8xf32>
  %p = graph.softmax %m {axis = 3 : i64} : tensor<2x4x8x8xf32>
  %o = graph.matmul %p, %v : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// BERT: divided by sqrt(d), an additive padding mask [B, 1, 1, S] added
// before a written-out softmax; keys transposed from [B, S, H, D] at once.
// CHECK-LABEL: func.func @bert(
// CHECK: %[[KH:.*]] = graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : tensor<2x8x4x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: %[[B5:.*]] = graph.reshape %{{.*}} : tensor<2x1x1x8xf32> -> tensor<2x1x1x1x8xf32>
// CHECK: graph.attention %{{.*}}, %[[KH]], %{{.*}}, %[[B5]] {scale = 2.500000e-01 : f64}
// CHECK-NOT: graph.exp
func.func @bert(%q: tensor<2x4x8x16xf32>, %kx: tensor<2x8x4x16xf32>, %v: tensor<2x4x8x16xf32>, %ext: tensor<2x1x1x8xf32>) -> tensor<2x4x8x16xf32> {
  %kt = graph.transpose %kx {perm = array<i64: 0, 2, 3, 1>} : tensor<2x8x4x16xf32> -> tensor<2x4x16x8xf32>
  %s = graph.matmul %q, %kt : tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32> -> tensor<2x4x8x8xf32>
  %c = graph.constant dense<4.0> : tensor<f32>
  %sd = graph.div %s, %c : tensor<2x4x8x8xf32>, tensor<f32> -> tensor<2x4x8x8xf32>
  %a = graph.add %sd, %ext : tensor<2x4x8x8xf32>, tensor<2x1x1x8xf32> -> tensor<2x4x8x8xf32>
  %mx = graph.reduce %a {axes = array<i64: 3>, keepdims = true, kind = "max"} : tensor<2x4x8x8xf32> -> tensor<2x4x8x1xf32>
  %d = graph.sub %a, %mx : tensor<2x4x8x8xf32>, tensor<2x4x8x1xf32> -> tensor<2x4x8x8xf32>
  %e = graph.exp %d : tensor<2x4x8x8xf32>
  %z = graph.reduce %e {axes = array<i64: 3>, keepdims = true, kind = "sum"} : tensor<2x4x8x8xf32> -> tensor<2x4x8x1xf32>
  %p = graph.div %e, %z : tensor<2x4x8x8xf32>, tensor<2x4x8x1xf32> -> tensor<2x4x8x8xf32>
  %o = graph.matmul %p, %v : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Llama's grouped queries: 4 query heads over 2 KV heads, repeated by
// reshape, broadcast_to, reshape. The op reads the 2 KV heads.
// CHECK-LABEL: func.func @gqa(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x4x2x8xf32>, %[[K:[a-z0-9]+]]: tensor<1x2x6x8xf32>, %[[V:[a-z0-9]+]]: tensor<1x2x6x8xf32>
// CHECK: %[[Q5:.*]] = graph.reshape %[[Q]] : tensor<1x4x2x8xf32> -> tensor<1x2x2x2x8xf32>
// CHECK: graph.attention %[[Q5]], %[[K]], %[[V]] {scale = 1.000000e+00 : f64} : tensor<1x2x2x2x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32> -> tensor<1x2x2x2x8xf32>
func.func @gqa(%q: tensor<1x4x2x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x4x2x8xf32> {
  %k1 = graph.reshape %k : tensor<1x2x6x8xf32> -> tensor<1x2x1x6x8xf32>
  %kb = graph.broadcast_to %k1 : tensor<1x2x1x6x8xf32> -> tensor<1x2x2x6x8xf32>
  %kr = graph.reshape %kb : tensor<1x2x2x6x8xf32> -> tensor<1x4x6x8xf32>
  %kt = graph.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<1x4x6x8xf32> -> tensor<1x4x8x6xf32>
  %s = graph.matmul %q, %kt : tensor<1x4x2x8xf32>, tensor<1x4x8x6xf32> -> tensor<1x4x2x6xf32>
  %p = graph.softmax %s {axis = 3 : i64} : tensor<1x4x2x6xf32>
  %v1 = graph.reshape %v : tensor<1x2x6x8xf32> -> tensor<1x2x1x6x8xf32>
  %vb = graph.broadcast_to %v1 : tensor<1x2x1x6x8xf32> -> tensor<1x2x2x6x8xf32>
  %vr = graph.reshape %vb : tensor<1x2x2x6x8xf32> -> tensor<1x4x6x8xf32>
  %o = graph.matmul %p, %vr : tensor<1x4x2x6xf32>, tensor<1x4x6x8xf32> -> tensor<1x4x2x8xf32>
  return %o : tensor<1x4x2x8xf32>
}

// -----

// nn.MultiheadAttention's batched matmuls of rank 3: [N, rows, dim].
// CHECK-LABEL: func.func @rank3(
// CHECK: graph.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f64} : tensor<4x1x1x5x8xf32>, tensor<4x1x5x8xf32>, tensor<4x1x5x8xf32> -> tensor<4x1x1x5x8xf32>
func.func @rank3(%q: tensor<4x5x8xf32>, %kt: tensor<4x8x5xf32>, %v: tensor<4x5x8xf32>) -> tensor<4x5x8xf32> {
  %s = graph.matmul %q, %kt : tensor<4x5x8xf32>, tensor<4x8x5xf32> -> tensor<4x5x5xf32>
  %p = graph.softmax %s {axis = 2 : i64} : tensor<4x5x5xf32>
  %o = graph.matmul %p, %v : tensor<4x5x5xf32>, tensor<4x5x8xf32> -> tensor<4x5x8xf32>
  return %o : tensor<4x5x8xf32>
}

// -----

// Must not change: the probabilities are also returned (attention
// weights); a finite mask fill (-1e9 is not -inf to a fully masked row);
// a negative scale; f64.
// CHECK-LABEL: func.func @not_lifted(
// CHECK-NOT: graph.attention
// CHECK-COUNT-4: graph.softmax
func.func @not_lifted(%q: tensor<1x1x4x8xf32>, %kt: tensor<1x1x8x4xf32>, %v: tensor<1x1x4x8xf32>,
                      %mask: tensor<1x1x4x4xi1>, %q64: tensor<1x1x4x8xf64>, %kt64: tensor<1x1x8x4xf64>)
    -> (tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf64>) {
  %s = graph.matmul %q, %kt : tensor<1x1x4x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x4x4xf32>
  %p = graph.softmax %s {axis = 3 : i64} : tensor<1x1x4x4xf32>
  %o = graph.matmul %p, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
  %s2 = graph.matmul %q, %kt : tensor<1x1x4x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x4x4xf32>
  %fill = graph.constant dense<-1.0e9> : tensor<f32>
  %m2 = graph.where %mask, %s2, %fill : tensor<1x1x4x4xi1>, tensor<1x1x4x4xf32>, tensor<f32> -> tensor<1x1x4x4xf32>
  %p2 = graph.softmax %m2 {axis = 3 : i64} : tensor<1x1x4x4xf32>
  %o2 = graph.matmul %p2, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
  %s3 = graph.matmul %q, %kt : tensor<1x1x4x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x4x4xf32>
  %neg = graph.constant dense<-0.5> : tensor<f32>
  %m3 = graph.mul %s3, %neg : tensor<1x1x4x4xf32>, tensor<f32> -> tensor<1x1x4x4xf32>
  %p3 = graph.softmax %m3 {axis = 3 : i64} : tensor<1x1x4x4xf32>
  %o3 = graph.matmul %p3, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
  %s4 = graph.matmul %q64, %kt64 : tensor<1x1x4x8xf64>, tensor<1x1x8x4xf64> -> tensor<1x1x4x4xf64>
  %p4 = graph.softmax %s4 {axis = 3 : i64} : tensor<1x1x4x4xf64>
  %v64 = graph.cast %v : tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf64>
  %o4 = graph.matmul %p4, %v64 : tensor<1x1x4x4xf64>, tensor<1x1x4x8xf64> -> tensor<1x1x4x8xf64>
  return %o, %p, %o2, %o3, %o4 : tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf64>
}

// -----

// Head dims of 256: the CPU kernel takes them, the CUDA kernel does not
// (its key tile of 32 rows in shared memory): the chain stays for CUDA.
// CHECK-LABEL: func.func @wide_heads(
// CPU: graph.attention
// CUDA-NOT: graph.attention
// CUDA: graph.softmax
func.func @wide_heads(%q: tensor<1x2x4x256xf32>, %k: tensor<1x2x8x256xf32>, %v: tensor<1x2x8x256xf32>) -> tensor<1x2x4x256xf32> {
  %kt = graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x8x256xf32> -> tensor<1x2x256x8xf32>
  %s = graph.matmul %q, %kt : tensor<1x2x4x256xf32>, tensor<1x2x256x8xf32> -> tensor<1x2x4x8xf32>
  %p = graph.softmax %s {axis = 3 : i64} : tensor<1x2x4x8xf32>
  %o = graph.matmul %p, %v : tensor<1x2x4x8xf32>, tensor<1x2x8x256xf32> -> tensor<1x2x4x256xf32>
  return %o : tensor<1x2x4x256xf32>
}
