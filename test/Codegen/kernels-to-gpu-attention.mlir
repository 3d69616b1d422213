// RUN: llmc-opt %s -split-input-file -llmc-kernels-to-gpu -cse | FileCheck %s
// f32 attention (the bufferized graph.attention's call of the runtime's CPU
// kernel) becomes one flash-attention kernel: key tiles of 32, an online
// softmax in registers (warp shuffles for the tile's maximum and sum), no
// score buffer anywhere. Numerics: test/llmc/cuda-run.test on a GPU.

!dyn5 = memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
!dyn4 = memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>
!par = memref<?xf64, strided<[?], offset: ?>>
func.func private @llmc_attention_f32(!dyn5, !dyn4, !dyn4, !dyn5, !par, !dyn5)

// Prefill: 2 x 16 rows per KV head, 8 per block (a warp each) sharing each
// key and value tile in shared memory (key rows padded to 9 floats); the
// bias broadcast over heads and groups reads index 0 there.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT: call @llmc_attention
// CHECK: gpu.launch_func @llmc_kernels::@prefill_attention0 blocks in (%c16, %c1, %c1) threads in (%c256, %c1, %c1) args(%{{.*}} : memref<2x2x2x16x8xf32>, %{{.*}} : memref<2x2x24x8xf32>, %{{.*}} : memref<2x2x24x8xf32>, %{{.*}} : memref<2x1x1x16x24xf32>, %{{.*}} : memref<2x2x2x16x8xf32>)
// CHECK-NOT: memref.alloca
// CHECK-NOT: func.func private @llmc_attention_f32
// CHECK: gpu.func @prefill_attention0(%[[Q:.*]]: memref<2x2x2x16x8xf32>, %[[K:.*]]: memref<2x2x24x8xf32>, %[[V:.*]]: memref<2x2x24x8xf32>, %[[B:.*]]: memref<2x1x1x16x24xf32>, %[[O:.*]]: memref<2x2x2x16x8xf32>) workgroup(%[[QS:.*]] : memref<8x8xf32, #gpu.address_space<workgroup>>, %[[KS:.*]] : memref<32x9xf32, #gpu.address_space<workgroup>>, %[[VS:.*]] : memref<32x8xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} iter_args(%[[M:.*]] = %{{.*}}, %[[L:.*]] = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, f32)
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[KS]]
// CHECK: memref.store %{{.*}}, %[[VS]]
// CHECK: gpu.barrier
// CHECK: math.fma
// CHECK: memref.load %[[B]][%{{.*}}, %c0, %c0, %{{.*}}, %{{.*}}]
// CHECK: gpu.shuffle  xor
// CHECK: arith.maximumf %[[M]]
// CHECK: math.exp
// CHECK: gpu.shuffle  idx
// CHECK: memref.load %[[VS]]
// CHECK: scf.yield
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[O]]
func.func @prefill(%q: memref<2x2x2x16x8xf32>, %k: memref<2x2x24x8xf32>, %v: memref<2x2x24x8xf32>, %mask: memref<2x1x1x16x24xf32>, %out: memref<2x2x2x16x8xf32>) {
  %cst = arith.constant 0.35 : f64
  %c0 = arith.constant 0 : index
  %alloca = memref.alloca() : memref<1xf64>
  memref.store %cst, %alloca[%c0] : memref<1xf64>
  %0 = memref.cast %q : memref<2x2x2x16x8xf32> to !dyn5
  %1 = memref.cast %k : memref<2x2x24x8xf32> to !dyn4
  %2 = memref.cast %v : memref<2x2x24x8xf32> to !dyn4
  %3 = memref.cast %mask : memref<2x1x1x16x24xf32> to !dyn5
  %4 = memref.cast %alloca : memref<1xf64> to !par
  %5 = memref.cast %out : memref<2x2x2x16x8xf32> to !dyn5
  call @llmc_attention_f32(%0, %1, %2, %3, %4, %5) : (!dyn5, !dyn4, !dyn4, !dyn5, !par, !dyn5) -> ()
  return
}

// -----

!dyn5 = memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
!dyn4 = memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>
!par = memref<?xf64, strided<[?], offset: ?>>
func.func private @llmc_attention_nobias_f32(!dyn5, !dyn4, !dyn4, !par, !dyn5)

// Decode: one row per KV head and group (G = 4, L = 1): a block per row,
// its 4 warps each take every 4th key tile straight from global memory and
// combine their maxima, sums and outputs through shared memory. A strided
// key view (a slice of a fused projection) is copied into a contiguous
// buffer first (by a copy kernel).
// CHECK-LABEL: func.func @decode
// CHECK: %[[KC:.*]] = memref.alloc() : memref<1x2x100x64xf32>
// CHECK: gpu.launch_func @llmc_kernels::@decode_op0 {{.*}} args(%{{.*}} : memref<1x2x100x64xf32, strided<[25600, 12800, 128, 1]>>, %[[KC]] : memref<1x2x100x64xf32>)
// CHECK: gpu.launch_func @llmc_kernels::@decode_attention0 blocks in (%c8, %c1, %c1) threads in (%c128, %c1, %c1) args(%{{.*}} : memref<1x2x4x1x64xf32>, %[[KC]] : memref<1x2x100x64xf32>
// CHECK: gpu.func @decode_attention0({{.*}}) workgroup(%{{.*}} : memref<1x64xf32, #gpu.address_space<workgroup>>, %[[MS:.*]] : memref<4xf32, #gpu.address_space<workgroup>>, %[[LS:.*]] : memref<4xf32, #gpu.address_space<workgroup>>, %[[OS:.*]] : memref<4x64xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4 step %c4 iter_args
// CHECK-NOT: gpu.barrier
// CHECK: scf.yield
// CHECK: memref.store %{{.*}}, %[[MS]]
// CHECK: memref.store %{{.*}}, %[[OS]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[LS]]
// CHECK: arith.divf
func.func @decode(%q: memref<1x2x4x1x64xf32>, %kv: memref<1x2x100x128xf32>, %v: memref<1x2x100x64xf32>, %out: memref<1x2x4x1x64xf32>) {
  %cst = arith.constant 0.125 : f64
  %c0 = arith.constant 0 : index
  %alloca = memref.alloca() : memref<1xf64>
  memref.store %cst, %alloca[%c0] : memref<1xf64>
  %k = memref.subview %kv[0, 0, 0, 0] [1, 2, 100, 64] [1, 1, 1, 1] : memref<1x2x100x128xf32> to memref<1x2x100x64xf32, strided<[25600, 12800, 128, 1]>>
  %0 = memref.cast %q : memref<1x2x4x1x64xf32> to !dyn5
  %1 = memref.cast %k : memref<1x2x100x64xf32, strided<[25600, 12800, 128, 1]>> to !dyn4
  %2 = memref.cast %v : memref<1x2x100x64xf32> to !dyn4
  %3 = memref.cast %alloca : memref<1xf64> to !par
  %4 = memref.cast %out : memref<1x2x4x1x64xf32> to !dyn5
  call @llmc_attention_nobias_f32(%0, %1, %2, %3, %4) : (!dyn5, !dyn4, !dyn4, !par, !dyn5) -> ()
  return
}

// -----

!dyn5 = memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
!dyn4 = memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>
!par = memref<?xf64, strided<[?], offset: ?>>
func.func private @llmc_attention_nobias_f32(!dyn5, !dyn4, !dyn4, !par, !dyn5)

// Two layers with the same problem share one kernel; another scale makes
// another kernel.
// CHECK-LABEL: func.func @layers
// CHECK: gpu.launch_func @llmc_kernels::@layers_attention0
// CHECK: gpu.launch_func @llmc_kernels::@layers_attention0
// CHECK: gpu.launch_func @llmc_kernels::@layers_attention2
// CHECK: gpu.func @layers_attention0
// CHECK-NOT: gpu.func @layers_attention1
// CHECK: gpu.func @layers_attention2
func.func @layers(%q: memref<1x1x1x8x16xf32>, %k: memref<1x1x8x16xf32>, %v: memref<1x1x8x16xf32>, %o1: memref<1x1x1x8x16xf32>, %o2: memref<1x1x1x8x16xf32>, %o3: memref<1x1x1x8x16xf32>) {
  %c0 = arith.constant 0 : index
  %s = arith.constant 0.25 : f64
  %t = arith.constant 0.5 : f64
  %0 = memref.cast %q : memref<1x1x1x8x16xf32> to !dyn5
  %1 = memref.cast %k : memref<1x1x8x16xf32> to !dyn4
  %2 = memref.cast %v : memref<1x1x8x16xf32> to !dyn4
  %p1 = memref.alloca() : memref<1xf64>
  memref.store %s, %p1[%c0] : memref<1xf64>
  %a1 = memref.cast %p1 : memref<1xf64> to !par
  %r1 = memref.cast %o1 : memref<1x1x1x8x16xf32> to !dyn5
  call @llmc_attention_nobias_f32(%0, %1, %2, %a1, %r1) : (!dyn5, !dyn4, !dyn4, !par, !dyn5) -> ()
  %p2 = memref.alloca() : memref<1xf64>
  memref.store %s, %p2[%c0] : memref<1xf64>
  %a2 = memref.cast %p2 : memref<1xf64> to !par
  %r2 = memref.cast %o2 : memref<1x1x1x8x16xf32> to !dyn5
  call @llmc_attention_nobias_f32(%0, %1, %2, %a2, %r2) : (!dyn5, !dyn4, !dyn4, !par, !dyn5) -> ()
  %p3 = memref.alloca() : memref<1xf64>
  memref.store %t, %p3[%c0] : memref<1xf64>
  %a3 = memref.cast %p3 : memref<1xf64> to !par
  %r3 = memref.cast %o3 : memref<1x1x1x8x16xf32> to !dyn5
  call @llmc_attention_nobias_f32(%0, %1, %2, %a3, %r3) : (!dyn5, !dyn4, !dyn4, !par, !dyn5) -> ()
  return
}
