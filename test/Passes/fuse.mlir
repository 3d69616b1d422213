// The fusion decisions of llmc-fuse: what fuses, what must not, and why.
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse))' | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse{remarks}))' --mlir-print-op-on-diagnostic=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY
// RUN: not llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse{target=tpu}))' -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: llmc-fuse: unknown target 'tpu' (expected cpu or cuda)

// Softmax (decomposed) with a bias add and relu after it: one row kernel.
// CHECK-LABEL: func.func @softmax_bias_relu(
// CHECK: %[[G:.*]] = graph.fusion_group "row"(%{{.*}}, %{{.*}}) {bytes_read = 266240 : i64, bytes_written = 262144 : i64}
// CHECK-COUNT-2: graph.reduce
// CHECK: graph.relu
// CHECK: graph.yield
// CHECK-NOT: graph.fusion_group
// CHECK: return %[[G]]
// WHY: remark: from 'graph.exp': fused: saves 524288 bytes
func.func @softmax_bias_relu(%x: tensor<64x1024xf32>, %b: tensor<1024xf32>) -> tensor<64x1024xf32> {
  %m = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "max"} : tensor<64x1024xf32> -> tensor<64x1xf32>
  %d = graph.sub %x, %m : tensor<64x1024xf32>, tensor<64x1xf32> -> tensor<64x1024xf32>
  %e = graph.exp %d : tensor<64x1024xf32>
  %s = graph.reduce %e {axes = array<i64: 1>, keepdims = true, kind = "sum"} : tensor<64x1024xf32> -> tensor<64x1xf32>
  %p = graph.div %e, %s : tensor<64x1024xf32>, tensor<64x1xf32> -> tensor<64x1024xf32>
  %a = graph.add %p, %b : tensor<64x1024xf32>, tensor<1024xf32> -> tensor<64x1024xf32>
  %r = graph.relu %a : tensor<64x1024xf32>
  return %r : tensor<64x1024xf32>
}

// -----

// A row longer than the GPU kernel's on-chip budget (65536 x 4 bytes > 48 KiB)
// is not kept in one kernel: the normalisation after the reduction is apart.
// CHECK-LABEL: func.func @row_too_long(
// CHECK-COUNT-2: graph.fusion_group
// WHY: remark: from 'graph.reduce': refused: row of 65536 x 4 bytes exceeds budget 49152
func.func @row_too_long(%x: tensor<4x65536xf32>) -> tensor<4x65536xf32> {
  %m = graph.reduce %x {axes = array<i64: 1>, keepdims = true, kind = "max"} : tensor<4x65536xf32> -> tensor<4x1xf32>
  %d = graph.sub %x, %m : tensor<4x65536xf32>, tensor<4x1xf32> -> tensor<4x65536xf32>
  return %d : tensor<4x65536xf32>
}

// -----

// A matmul is a library call: its producer and consumer are kernels of their own,
// the matmul stays outside any group.
// CHECK-LABEL: func.func @around_matmul(
// CHECK: graph.fusion_group "loop"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: graph.relu
// CHECK: %[[MM:.*]] = graph.matmul
// CHECK: graph.fusion_group "loop"(%[[MM]]
// WHY: remark: from 'graph.relu': refused: consumer is a contraction (library call)
func.func @around_matmul(%x: tensor<8x8xf32>, %w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %r = graph.relu %x : tensor<8x8xf32>
  %m = graph.matmul %r, %w : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
  %t = graph.tanh %m : tensor<8x8xf32>
  return %t : tensor<8x8xf32>
}

// -----

// Multi-output: the add is used inside the group and returned.
// CHECK-LABEL: func.func @multi_output(
// CHECK: %[[G:.*]]:2 = graph.fusion_group "loop"
// CHECK: return %[[G]]#{{[01]}}, %[[G]]#{{[01]}}
func.func @multi_output(%x: tensor<256xf32>, %y: tensor<256xf32>) -> (tensor<256xf32>, tensor<256xf32>) {
  %a = graph.add %x, %y : tensor<256xf32>, tensor<256xf32> -> tensor<256xf32>
  %r = graph.relu %a : tensor<256xf32>
  return %a, %r : tensor<256xf32>, tensor<256xf32>
}

// -----

// Must not change: contractions and a lone reshape (a view, not a kernel).
// CHECK-LABEL: func.func @nothing_to_fuse(
// CHECK-NOT: graph.fusion_group
// CHECK: graph.matmul
// CHECK: graph.reshape
// CHECK-NOT: graph.fusion_group
func.func @nothing_to_fuse(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>) -> tensor<8xf32> {
  %m = graph.matmul %x, %w : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<4x2xf32>
  %r = graph.reshape %m : tensor<4x2xf32> -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// A transpose of the last two dims read only by matmuls is the BLAS's own
// operand transpose (read in place): it joins no group, which would
// materialise it every run (a Gemm's transB weight). One that something
// else reads too is an ordinary data movement op and fuses.
// CHECK-LABEL: func.func @transposed_weight
// CHECK: %[[T:.*]] = graph.transpose %arg1
// CHECK-NEXT: graph.matmul %arg0, %[[T]]
// CHECK-LABEL: func.func @transpose_also_read
// CHECK: graph.fusion_group "loop"(%arg1)
// CHECK: graph.transpose
// CHECK: graph.relu
func.func @transposed_weight(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<4x16xf32> {
  %t = graph.transpose %w {perm = array<i64: 1, 0>} : tensor<16x8xf32> -> tensor<8x16xf32>
  %m = graph.matmul %x, %t : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}
func.func @transpose_also_read(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> (tensor<4x16xf32>, tensor<8x16xf32>) {
  %t = graph.transpose %w {perm = array<i64: 1, 0>} : tensor<16x8xf32> -> tensor<8x16xf32>
  %r = graph.relu %t : tensor<8x16xf32>
  %m = graph.matmul %x, %t : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  return %m, %r : tensor<4x16xf32>, tensor<8x16xf32>
}
