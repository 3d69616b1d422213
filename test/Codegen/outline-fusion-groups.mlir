// CPU lowering of fusion groups: kernels as private functions, their loops
// fused by llmc-fuse-kernel-loops, then inlined back.
// RUN: llmc-opt %s -split-input-file -llmc-outline-fusion-groups | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-outline-fusion-groups,llmc-convert-graph-to-linalg,func.func(llmc-fuse-kernel-loops))' | FileCheck %s --check-prefix=LOOPS
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-outline-fusion-groups,llmc-convert-graph-to-linalg,func.func(llmc-fuse-kernel-loops),inline,symbol-dce)' | FileCheck %s --check-prefix=INLINED

// CHECK-LABEL: func.func @main(
// CHECK: %[[R:.*]] = call @main_kernel0(%{{.*}}, %{{.*}}) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK: return %[[R]]
// CHECK: func.func private @main_kernel0(%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8xf32>) -> tensor<4x8xf32> attributes {llmc.kernel = "loop"}
// CHECK: graph.add %[[A]], %[[B]]
// CHECK: %[[E:.*]] = graph.exp
// CHECK: return %[[E]]
// The add and the exp are one loop in the kernel.
// LOOPS-LABEL: func.func private @main_kernel0(
// LOOPS-COUNT-1: linalg.generic
// LOOPS-NOT: linalg.generic
// LOOPS: return
// INLINED-LABEL: func.func @main(
// INLINED-NOT: call
// INLINED: linalg.generic
// INLINED-NOT: func.func private
func.func @main(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %0 = graph.fusion_group "loop" (%x, %b) {bytes_read = 160 : i64, bytes_written = 128 : i64}
      : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> {
  ^bb0(%a: tensor<4x8xf32>, %c: tensor<8xf32>):
    %s = graph.add %a, %c : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
    %e = graph.exp %s : tensor<4x8xf32>
    graph.yield %e : tensor<4x8xf32>
  }
  return %0 : tensor<4x8xf32>
}

// -----

// Must not change: without the llmc.kernel mark, loops stay apart.
// LOOPS-LABEL: func.func @not_a_kernel(
// LOOPS-COUNT-2: linalg.generic
func.func @not_a_kernel(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = graph.relu %x : tensor<4xf32>
  %1 = graph.exp %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}


// -----

// Attention's head split inside a kernel: a reshape (as expand_shape) folds
// into the loops around it, so exp, split-heads and transpose are one loop
// over the expanded iteration space, with no reshape between loops.
// LOOPS-LABEL: func.func private @heads_kernel0(
// LOOPS-NOT: tensor.reshape
// LOOPS-COUNT-1: linalg.generic
// LOOPS-NOT: linalg.generic
// LOOPS: return
func.func @heads(%x: tensor<2x8x12xf32>) -> tensor<2x3x8x4xf32> {
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 768 : i64, bytes_written = 768 : i64}
      : (tensor<2x8x12xf32>) -> tensor<2x3x8x4xf32> {
  ^bb0(%a: tensor<2x8x12xf32>):
    %e = graph.exp %a : tensor<2x8x12xf32>
    %r = graph.reshape %e : tensor<2x8x12xf32> -> tensor<2x8x3x4xf32>
    %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<2x8x3x4xf32> -> tensor<2x3x8x4xf32>
    graph.yield %t : tensor<2x3x8x4xf32>
  }
  return %0 : tensor<2x3x8x4xf32>
}

// -----

// A producer read twice is recomputed in its consumer while the consumer
// stays small: exp's two reads fuse into one loop.
// LOOPS-LABEL: func.func private @shared_kernel0(
// LOOPS-COUNT-1: linalg.generic
// LOOPS-NOT: linalg.generic
// LOOPS: return
func.func @shared(%x: tensor<16xf32>) -> tensor<16xf32> {
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 64 : i64, bytes_written = 64 : i64}
      : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %e = graph.exp %a : tensor<16xf32>
    %m = graph.mul %e, %e : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    graph.yield %m : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// But a chain whose every value two different ops read (v' = exp(v) +
// sin(v), 16 deep) would recompute 2^16 copies of the first value in the
// last loop (the compile never ended): once a body is large, shared
// producers are no longer recomputed in it, and the kernel holds a few
// dozen exps, not 65,536.
// LOOPS-LABEL: func.func private @chain_kernel0(
// LOOPS: math.exp
// LOOPS: return
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-outline-fusion-groups,llmc-convert-graph-to-linalg,func.func(llmc-fuse-kernel-loops))' | grep -c math.exp | %PYTHON -c "import sys; n = int(sys.stdin.read()); assert 16 <= n <= 200, n"
func.func @chain(%x: tensor<16xf32>) -> tensor<16xf32> {
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 64 : i64, bytes_written = 64 : i64}
      : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%v0: tensor<16xf32>):
    %e0 = graph.exp %v0 : tensor<16xf32>
    %s0 = graph.sin %v0 : tensor<16xf32>
    %v1 = graph.add %e0, %s0 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e1 = graph.exp %v1 : tensor<16xf32>
    %s1 = graph.sin %v1 : tensor<16xf32>
    %v2 = graph.add %e1, %s1 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e2 = graph.exp %v2 : tensor<16xf32>
    %s2 = graph.sin %v2 : tensor<16xf32>
    %v3 = graph.add %e2, %s2 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e3 = graph.exp %v3 : tensor<16xf32>
    %s3 = graph.sin %v3 : tensor<16xf32>
    %v4 = graph.add %e3, %s3 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e4 = graph.exp %v4 : tensor<16xf32>
    %s4 = graph.sin %v4 : tensor<16xf32>
    %v5 = graph.add %e4, %s4 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e5 = graph.exp %v5 : tensor<16xf32>
    %s5 = graph.sin %v5 : tensor<16xf32>
    %v6 = graph.add %e5, %s5 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e6 = graph.exp %v6 : tensor<16xf32>
    %s6 = graph.sin %v6 : tensor<16xf32>
    %v7 = graph.add %e6, %s6 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e7 = graph.exp %v7 : tensor<16xf32>
    %s7 = graph.sin %v7 : tensor<16xf32>
    %v8 = graph.add %e7, %s7 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e8 = graph.exp %v8 : tensor<16xf32>
    %s8 = graph.sin %v8 : tensor<16xf32>
    %v9 = graph.add %e8, %s8 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e9 = graph.exp %v9 : tensor<16xf32>
    %s9 = graph.sin %v9 : tensor<16xf32>
    %v10 = graph.add %e9, %s9 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e10 = graph.exp %v10 : tensor<16xf32>
    %s10 = graph.sin %v10 : tensor<16xf32>
    %v11 = graph.add %e10, %s10 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e11 = graph.exp %v11 : tensor<16xf32>
    %s11 = graph.sin %v11 : tensor<16xf32>
    %v12 = graph.add %e11, %s11 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e12 = graph.exp %v12 : tensor<16xf32>
    %s12 = graph.sin %v12 : tensor<16xf32>
    %v13 = graph.add %e12, %s12 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e13 = graph.exp %v13 : tensor<16xf32>
    %s13 = graph.sin %v13 : tensor<16xf32>
    %v14 = graph.add %e13, %s13 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e14 = graph.exp %v14 : tensor<16xf32>
    %s14 = graph.sin %v14 : tensor<16xf32>
    %v15 = graph.add %e14, %s14 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    %e15 = graph.exp %v15 : tensor<16xf32>
    %s15 = graph.sin %v15 : tensor<16xf32>
    %v16 = graph.add %e15, %s15 : tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>
    graph.yield %v16 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}
