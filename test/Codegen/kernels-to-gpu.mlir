// RUN: llmc-opt %s -split-input-file -llmc-kernels-to-gpu -cse | FileCheck %s

// A row group (softmax's max and the shift by it): one kernel, one block per
// row; the reduction's per-thread partials meet in gpu.all_reduce and a
// barrier separates the phases. A thread takes one column at a time (102
// is not a multiple of 4).
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func private @main_kernel0
// CHECK: gpu.launch_func @llmc_kernels::@main_kernel0 blocks in (%[[R:.*]], %{{.*}}, %{{.*}}) threads in (%[[T:.*]], %{{.*}}, %{{.*}}) args(%{{.*}} : memref<8xf32>, %{{.*}} : memref<8x102xf32>, %{{.*}} : memref<8x102xf32>)
// CHECK-NOT: linalg.generic
// CHECK: gpu.module @llmc_kernels
// CHECK: gpu.func @main_kernel0(%[[M:.*]]: memref<8xf32>, %[[X:.*]]: memref<8x102xf32>, %[[Y:.*]]: memref<8x102xf32>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[BID:.*]] = gpu.block_id x
// CHECK: scf.for %[[ROW:.*]] = %[[BID]] to %c8 step
// CHECK: scf.for %{{.*}} = %[[TID]] to %c1 step
// CHECK: memref.store %{{.*}}, %[[M]][%[[ROW]]]
// CHECK: gpu.barrier
// CHECK: %[[P:.*]] = scf.for %[[C:.*]] = %[[TID]] to %c102 step %{{.*}} iter_args(%[[A:.*]] = %cst
// CHECK: memref.load %[[X]][%[[ROW]], %[[C]]]
// CHECK: arith.maximumf %[[A]]
// CHECK: %[[ALL:.*]] = gpu.all_reduce maximumf %[[P]] uniform
// CHECK: scf.if
// CHECK: %[[OLD:.*]] = memref.load %[[M]][%[[ROW]]]
// CHECK: %[[NEW:.*]] = arith.maximumf %[[OLD]], %[[ALL]]
// CHECK: memref.store %[[NEW]], %[[M]][%[[ROW]]]
// CHECK: gpu.barrier
// CHECK: arith.subf
// CHECK: memref.store %{{.*}}, %[[Y]][%[[ROW]], %{{.*}}]
// CHECK: gpu.barrier
// CHECK: gpu.return
func.func private @main_kernel0(%x: memref<8x102xf32>, %y: memref<8x102xf32>) attributes {llmc.kernel = "row"} {
  %ninf = arith.constant 0xFF800000 : f32
  %m = memref.alloc() : memref<8xf32>
  linalg.fill ins(%ninf : f32) outs(%m : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x102xf32>) outs(%m : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %out, %in : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : memref<8x102xf32>, memref<8xf32>) outs(%y : memref<8x102xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// The same row group over 8x128 columns: each thread takes 4 consecutive
// columns at a time, read as one 128-bit vector, its lanes combined in turn
// into the thread's partial; the shift reads and writes vectors too (the
// row's maximum, uniform across the lanes, once). 32 threads cover the 32
// column groups.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func private @main_kernel0
// CHECK: gpu.func @main_kernel0(%[[M:.*]]: memref<8xf32>, %[[X:.*]]: memref<8x128xf32>, %[[Y:.*]]: memref<8x128xf32>) kernel attributes {known_block_size = array<i32: 32, 1, 1>}
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[P:.*]] = scf.for %[[C:.*]] = %[[TID]] to %c32 step %{{.*}} iter_args(%[[A:.*]] = %cst
// CHECK: %[[COL:.*]] = arith.muli %[[C]], %c4
// CHECK: %[[V:.*]] = vector.load %[[X]][%{{.*}}, %[[COL]]] {alignment = 16 : i64} : memref<8x128xf32>, vector<4xf32>
// CHECK: %[[E0:.*]] = vector.extract %[[V]][0]
// CHECK: %[[E1:.*]] = vector.extract %[[V]][1]
// CHECK: %[[E2:.*]] = vector.extract %[[V]][2]
// CHECK: %[[E3:.*]] = vector.extract %[[V]][3]
// CHECK: %[[A0:.*]] = arith.maximumf %[[A]], %[[E0]]
// CHECK: %[[A1:.*]] = arith.maximumf %[[A0]], %[[E1]]
// CHECK: %[[A2:.*]] = arith.maximumf %[[A1]], %[[E2]]
// CHECK: %[[A3:.*]] = arith.maximumf %[[A2]], %[[E3]]
// CHECK: scf.yield %[[A3]]
// CHECK: gpu.all_reduce maximumf %[[P]] uniform
// CHECK: gpu.barrier
// CHECK: scf.for %[[D:.*]] = %[[TID]] to %c32 step
// CHECK: vector.load %[[X]]
// CHECK: %[[MX:.*]] = memref.load %[[M]]
// CHECK-COUNT-4: arith.subf %{{.*}}, %[[MX]]
// CHECK: vector.store %{{.*}}, %[[Y]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<8x128xf32>, vector<4xf32>
func.func private @main_kernel0(%x: memref<8x128xf32>, %y: memref<8x128xf32>) attributes {llmc.kernel = "row"} {
  %ninf = arith.constant 0xFF800000 : f32
  %m = memref.alloc() : memref<8xf32>
  linalg.fill ins(%ninf : f32) outs(%m : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x128xf32>) outs(%m : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %out, %in : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : memref<8x128xf32>, memref<8xf32>) outs(%y : memref<8x128xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// An op outside any group, with a broadcast operand: a grid-stride loop over
// its 4x301 outputs, 256 threads a block, one element a thread (301 is not a
// multiple of 4: no vectors).
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @main
// CHECK: gpu.launch_func @llmc_kernels::@main_op0 blocks in (%c5, %c1, %c1) threads in (%c256, %c1, %c1)
// CHECK: gpu.func @main_op0(%[[A:.*]]: memref<4x301xf32>, %[[B:.*]]: memref<301xf32>, %[[O:.*]]: memref<4x301xf32>) kernel
// CHECK: %[[LIN:.*]] = arith.addi
// CHECK: scf.for %[[I:.*]] = %[[LIN]] to %c1204 step
// CHECK: %[[IV:.*]]:2 = affine.delinearize_index %[[I]] into (4, 301)
// CHECK: memref.load %[[A]][%[[IV]]#0, %[[IV]]#1]
// CHECK: memref.load %[[B]][%[[IV]]#1]
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %[[O]][%[[IV]]#0, %[[IV]]#1]
// CHECK-NOT: vector.
func.func @main(%a: memref<4x301xf32>, %b: memref<301xf32>, %o: memref<4x301xf32>) {
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<4x301xf32>, memref<301xf32>) outs(%o : memref<4x301xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The same over 4x300: each thread computes 4 consecutive outputs, and the
// operands dense along the innermost dim (both inputs, the output) move as
// aligned 128-bit vectors. A transpose reads its input through the permuted
// index map, one element per lane, and stores one vector; an op whose
// operand does not vary along the innermost dim reads it once.
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0)>
#t = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func @main
// CHECK: gpu.launch_func @llmc_kernels::@main_op0 blocks in (%c2, %c1, %c1) threads in (%c256, %c1, %c1)
// CHECK: gpu.launch_func @llmc_kernels::@main_op1
// CHECK: gpu.launch_func @llmc_kernels::@main_op2
// CHECK: gpu.func @main_op0(%[[A:.*]]: memref<4x300xf32>, %[[B:.*]]: memref<300xf32>, %[[O:.*]]: memref<4x300xf32>) kernel
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c300 step
// CHECK: %[[IV:.*]]:2 = affine.delinearize_index %[[I]] into (4, 75)
// CHECK: %[[J:.*]] = arith.muli %[[IV]]#1, %c4
// CHECK: vector.load %[[A]][%[[IV]]#0, %[[J]]] {alignment = 16 : i64} : memref<4x300xf32>, vector<4xf32>
// CHECK: vector.load %[[B]][%[[J]]] {alignment = 16 : i64} : memref<300xf32>, vector<4xf32>
// CHECK-COUNT-4: arith.addf
// CHECK: vector.store %{{.*}}, %[[O]][%[[IV]]#0, %[[J]]] {alignment = 16 : i64} : memref<4x300xf32>, vector<4xf32>
// CHECK: gpu.func @main_op1(%[[S:.*]]: memref<4x300xf32>, %[[D:.*]]: memref<300x4xf32>) kernel
// CHECK: %[[JV:.*]]:2 = affine.delinearize_index %{{.*}} into (300, 1)
// CHECK-COUNT-4: memref.load %[[S]][
// CHECK: vector.store %{{.*}}, %[[D]][
// CHECK: gpu.func @main_op2(%[[R:.*]]: memref<4xf32>, %[[Q:.*]]: memref<4x300xf32>) kernel
// CHECK: memref.load %[[R]][
// CHECK-NOT: memref.load
// CHECK: vector.store %{{.*}}, %[[Q]][
func.func @main(%a: memref<4x300xf32>, %b: memref<300xf32>, %o: memref<4x300xf32>, %t: memref<300x4xf32>, %r: memref<4xf32>, %q: memref<4x300xf32>) {
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<4x300xf32>, memref<300xf32>) outs(%o : memref<4x300xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  linalg.transpose ins(%o : memref<4x300xf32>) outs(%t : memref<300x4xf32>) permutation = [1, 0]
  linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%r : memref<4xf32>) outs(%q : memref<4x300xf32>) {
  ^bb0(%x: f32, %out: f32):
    %s = arith.mulf %x, %x : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A row group whose second op reads another row of what the first wrote
// (rows run in different blocks) does not take the row form: one kernel per
// op, numbered. A reduction in a loop kernel runs sequentially per output.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#shift = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func private @main_kernel1
// CHECK: gpu.launch_func @llmc_kernels::@main_kernel1_0
// CHECK: gpu.launch_func @llmc_kernels::@main_kernel1_1
// CHECK: gpu.func @main_kernel1_0
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4 step
// CHECK: %[[INIT:.*]] = memref.load
// CHECK: %[[SUM:.*]] = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]])
// CHECK: arith.addf %[[ACC]]
// CHECK: gpu.func @main_kernel1_1
func.func private @main_kernel1(%x: memref<4x4xf32>, %s: memref<4xf32>, %y: memref<4x4xf32>) attributes {llmc.kernel = "row"} {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x4xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %out, %in : f32
    linalg.yield %r : f32
  }
  %t = memref.alloc() : memref<4x4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x4xf32>) outs(%t : memref<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [#shift, #id], iterator_types = ["parallel", "parallel"]}
      ins(%t : memref<4x4xf32>) outs(%y : memref<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  return
}

// -----

// Must not change: a library call (cuBLASLt's), and host code without
// linalg ops.
// CHECK-LABEL: func.func @library
// CHECK: linalg.generic
// CHECK-SAME: library_call = "llmc_matmul_f32"
// CHECK-NOT: gpu.launch_func
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @library(%x: memref<4x8xf32>, %w: memref<8x2xf32>, %y: memref<4x2xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], library_call = "llmc_matmul_f32"}
      ins(%x, %w : memref<4x8xf32>, memref<8x2xf32>) outs(%y : memref<4x2xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}
func.func @nothing(%x: memref<4xf32>) -> memref<4xf32> {
  return %x : memref<4xf32>
}

// -----

// Bufferization's copies of one shared zero-filled GEMM init become zero
// fills of each GEMM's own output, left on the host (the CUDA program makes
// them beta = 0); the shared buffer's fill stays for the GEMM that uses it
// in place. A temporary copied into @main's output as its last use is
// replaced by the output: the kernel writes the output directly.
// CHECK-LABEL: func.func @main
// CHECK-NOT: memref.copy
// CHECK: %[[Z:.*]] = memref.alloc() : memref<4x2xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[Z]] : memref<4x2xf32>)
// CHECK-NEXT: %[[C1:.*]] = memref.alloc() : memref<4x2xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[C1]] : memref<4x2xf32>)
// CHECK-NEXT: linalg.generic {{.*}}library_call = "llmc_matmul_f32"{{.*}} outs(%[[C1]] : memref<4x2xf32>)
// CHECK: linalg.generic {{.*}}library_call = "llmc_matmul_f32"{{.*}} outs(%[[Z]] : memref<4x2xf32>)
// CHECK: gpu.launch_func @llmc_kernels::@main_op0 {{.*}} args(%[[C1]] : memref<4x2xf32>, %[[Z]] : memref<4x2xf32>, %arg3 : memref<4x2xf32>)
// CHECK-NOT: gpu.launch_func
#a2 = affine_map<(m, n, k) -> (m, k)>
#b2 = affine_map<(m, n, k) -> (k, n)>
#c2 = affine_map<(m, n, k) -> (m, n)>
#e2 = affine_map<(m, n) -> (m, n)>
func.func @main(%x: memref<4x8xf32>, %w: memref<8x2xf32>, %v: memref<8x2xf32>, %out: memref<4x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %z = memref.alloc() : memref<4x2xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<4x2xf32>)
  %c1 = memref.alloc() : memref<4x2xf32>
  memref.copy %z, %c1 : memref<4x2xf32> to memref<4x2xf32>
  linalg.generic {indexing_maps = [#a2, #b2, #c2], iterator_types = ["parallel", "parallel", "reduction"], library_call = "llmc_matmul_f32"}
      ins(%x, %w : memref<4x8xf32>, memref<8x2xf32>) outs(%c1 : memref<4x2xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a2, #b2, #c2], iterator_types = ["parallel", "parallel", "reduction"], library_call = "llmc_matmul_f32"}
      ins(%x, %v : memref<4x8xf32>, memref<8x2xf32>) outs(%z : memref<4x2xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  %sum = memref.alloc() : memref<4x2xf32>
  linalg.generic {indexing_maps = [#e2, #e2, #e2], iterator_types = ["parallel", "parallel"]}
      ins(%c1, %z : memref<4x2xf32>, memref<4x2xf32>) outs(%sum : memref<4x2xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  }
  memref.copy %sum, %out : memref<4x2xf32> to memref<4x2xf32>
  return
}

// -----

// A temporary copied into @main's output as its last use, after a gather
// that reads it inside its body (a load nested in the generic), is replaced
// by the output too: the gather reads the output, and no copy kernel runs.
// CHECK-LABEL: func.func @main
// CHECK-NOT: memref.copy
// CHECK: gpu.launch_func @llmc_kernels::@main_op0 {{.*}} args(%arg0 : memref<2x4xf32>, %arg1 : memref<2x4xf32>)
// CHECK-NEXT: gpu.launch_func @llmc_kernels::@main_op1 {{.*}} args(%arg2 : memref<2xf32>, %arg1 : memref<2x4xf32>)
// CHECK-NOT: gpu.launch_func
#e3 = affine_map<(m, n) -> (m, n)>
#r3 = affine_map<(m) -> (m)>
func.func @main(%x: memref<2x4xf32>, %out: memref<2x4xf32>, %first: memref<2xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#e3, #e3], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<2x4xf32>) outs(%t : memref<2x4xf32>) {
  ^bb0(%p: f32, %o: f32):
    %s = arith.addf %p, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#r3], iterator_types = ["parallel"]} outs(%first : memref<2xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %v = memref.load %t[%i, %c0] : memref<2x4xf32>
    linalg.yield %v : f32
  }
  memref.copy %t, %out : memref<2x4xf32> to memref<2x4xf32>
  return
}

// -----

// Must not change: a copy out of a buffer that a kernel wrote after its
// fill is a copy kernel; a fill that no GEMM accumulates into is a kernel;
// a temporary still read after its copy into the output is kept.
// CHECK-LABEL: func.func @main
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch_func @llmc_kernels::@main_op0
// CHECK: gpu.launch_func @llmc_kernels::@main_op1
// CHECK: gpu.launch_func @llmc_kernels::@main_op2
// CHECK: gpu.launch_func @llmc_kernels::@main_op3
// CHECK: gpu.func @main_op2(%{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>)
#e1 = affine_map<(i) -> (i)>
func.func @main(%x: memref<4xf32>, %out: memref<4xf32>, %out2: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %z = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<4xf32>)
  linalg.generic {indexing_maps = [#e1, #e1], iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%z : memref<4xf32>) {
  ^bb0(%p: f32, %o: f32):
    %s = arith.addf %p, %o : f32
    linalg.yield %s : f32
  }
  %c = memref.alloc() : memref<4xf32>
  memref.copy %z, %c : memref<4xf32> to memref<4xf32>
  memref.copy %c, %out : memref<4xf32> to memref<4xf32>
  memref.copy %c, %out2 : memref<4xf32> to memref<4xf32>
  return
}

// -----

// A kernel function's result copied out of a reshaped temporary: the
// temporary becomes the (reshaped) output buffer, and no copy kernel runs.
// CHECK-LABEL: func.func private @main_kernel7(
// CHECK-SAME: %[[X:.*]]: memref<2x4xf32>, %[[OUT:.*]]: memref<8xf32>)
// CHECK-NOT: memref.alloc
// CHECK: %[[V:.*]] = memref.expand_shape %[[OUT]] {{\[\[}}0, 1]] output_shape [2, 4] : memref<8xf32> into memref<2x4xf32>
// CHECK: gpu.launch_func @llmc_kernels::@main_kernel7 {{.*}} args(%[[X]] : memref<2x4xf32>, %[[V]] : memref<2x4xf32>)
// CHECK-NOT: gpu.launch_func
// CHECK: return
#e3 = affine_map<(i, j) -> (i, j)>
func.func private @main_kernel7(%x: memref<2x4xf32>, %out: memref<8xf32>) attributes {llmc.kernel = "loop"} {
  %a = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#e3, #e3], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<2x4xf32>) outs(%a : memref<2x4xf32>) {
  ^bb0(%p: f32, %o: f32):
    %e = math.exp %p : f32
    linalg.yield %e : f32
  }
  %c = memref.collapse_shape %a [[0, 1]] : memref<2x4xf32> into memref<8xf32>
  memref.copy %c, %out : memref<8xf32> to memref<8xf32>
  return
}

// -----

// A loop group's independent ops over one parallel space (a split's
// outputs) run in one grid-stride kernel; an op reading another's output
// runs after it, in a kernel of its own.
// CHECK-LABEL: func.func private @main_kernel8(
// CHECK: gpu.launch_func @llmc_kernels::@main_kernel8_0 {{.*}} args(%{{.*}} : memref<4x3xf32>, %{{.*}} : memref<4x3xf32>, %{{.*}} : memref<4x3xf32>, %{{.*}} : memref<4x3xf32>)
// CHECK-NEXT: gpu.launch_func @llmc_kernels::@main_kernel8_1
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @main_kernel8_0(
// CHECK-COUNT-2: memref.store
// CHECK-NOT: memref.store
// CHECK: gpu.return
#lo = affine_map<(i, j) -> (i, j)>
func.func private @main_kernel8(%x: memref<4x3xf32>, %y: memref<4x3xf32>, %a: memref<4x3xf32>, %b: memref<4x3xf32>, %c: memref<4x3xf32>) attributes {llmc.kernel = "loop"} {
  linalg.generic {indexing_maps = [#lo, #lo], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x3xf32>) outs(%a : memref<4x3xf32>) {
  ^bb0(%p: f32, %o: f32):
    linalg.yield %p : f32
  }
  linalg.generic {indexing_maps = [#lo, #lo], iterator_types = ["parallel", "parallel"]}
      ins(%y : memref<4x3xf32>) outs(%b : memref<4x3xf32>) {
  ^bb0(%p: f32, %o: f32):
    linalg.yield %p : f32
  }
  linalg.generic {indexing_maps = [#lo, #lo, #lo], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<4x3xf32>, memref<4x3xf32>) outs(%c : memref<4x3xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// One row (a batch-1 softmax head): the leading unit dims are the row, so
// the group is still one row kernel with a block-wide reduction.
// CHECK-LABEL: func.func private @main_kernel9(
// CHECK: gpu.launch_func @llmc_kernels::@main_kernel9 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @main_kernel9(
// CHECK: gpu.all_reduce
// CHECK: gpu.barrier
#r0 = affine_map<(d0) -> (d0)>
#r1 = affine_map<(d0, d1) -> (d0, d1)>
#r2 = affine_map<(d0, d1) -> (d0)>
func.func private @main_kernel9(%x: memref<1x3xf32>, %y: memref<1x3xf32>) attributes {llmc.kernel = "row"} {
  %lowest = arith.constant 0xFF800000 : f32
  %m = memref.alloc() : memref<1xf32>
  linalg.generic {indexing_maps = [#r0], iterator_types = ["parallel"]} outs(%m : memref<1xf32>) {
  ^bb0(%o: f32):
    linalg.yield %lowest : f32
  }
  linalg.generic {indexing_maps = [#r1, #r2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1x3xf32>) outs(%m : memref<1xf32>) {
  ^bb0(%p: f32, %o: f32):
    %v = arith.maximumf %o, %p : f32
    linalg.yield %v : f32
  }
  linalg.generic {indexing_maps = [#r1, #r2, #r1], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : memref<1x3xf32>, memref<1xf32>) outs(%y : memref<1x3xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %v = arith.subf %p, %q : f32
    linalg.yield %v : f32
  }
  return
}

// -----

// A library convolution is cuDNN's: it stays on the host, and so do its
// input's zero padding (the fill and the copy into the padded buffer's
// interior), which the CUDA program hands to cuDNN. The zero fill of its
// output stays too (beta = 0). The ReLU after it is a kernel.
// CHECK-LABEL: func.func @main
// CHECK: %[[P:.*]] = memref.alloc() : memref<1x2x6x6xf32>
// CHECK-NEXT: linalg.map outs(%[[P]] : memref<1x2x6x6xf32>)
// CHECK: %[[I:.*]] = memref.subview %[[P]][0, 0, 1, 1] [1, 2, 4, 4] [1, 1, 1, 1]
// CHECK-NEXT: memref.copy %arg0, %[[I]]
// CHECK: linalg.fill
// CHECK-NEXT: linalg.generic {{.*}}library_call = "llmc_conv2d_f32"{{.*}} ins(%[[P]], %arg1
// CHECK-NEXT: ^bb
// CHECK: gpu.launch_func @llmc_kernels::@main_op0
// CHECK-NOT: gpu.launch_func
#cx = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d4, d2 + d5, d3 + d6)>
#cw = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
#cp = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (0)>
#cy = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>
#ce = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
memref.global "private" constant @params : memref<5xi64> = dense<[1, 1, 1, 1, 1]>
func.func @main(%x: memref<1x2x4x4xf32>, %w: memref<3x2x3x3xf32>, %out: memref<1x3x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %params = memref.get_global @params : memref<5xi64>
  %p = memref.alloc() : memref<1x2x6x6xf32>
  linalg.map outs(%p : memref<1x2x6x6xf32>)
    (%init: f32) {
      linalg.yield %zero : f32
    }
  %interior = memref.subview %p[0, 0, 1, 1] [1, 2, 4, 4] [1, 1, 1, 1] : memref<1x2x6x6xf32> to memref<1x2x4x4xf32, strided<[72, 36, 6, 1], offset: 7>>
  memref.copy %x, %interior : memref<1x2x4x4xf32> to memref<1x2x4x4xf32, strided<[72, 36, 6, 1], offset: 7>>
  %y = memref.alloc() : memref<1x3x4x4xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x3x4x4xf32>)
  linalg.generic {indexing_maps = [#cx, #cw, #cp, #cy], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"], library_call = "llmc_conv2d_f32"}
      ins(%p, %w, %params : memref<1x2x6x6xf32>, memref<3x2x3x3xf32>, memref<5xi64>) outs(%y : memref<1x3x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: i64, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#ce, #ce], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : memref<1x3x4x4xf32>) outs(%out : memref<1x3x4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Must not change into host code: padding that cuDNN cannot express (more
// rows below than above) and a padded buffer that something else also
// reads are kernels (a fill and a copy each); the convolution reads the
// padded buffer.
// CHECK-LABEL: func.func @main
// CHECK-NOT: linalg.map
// CHECK-NOT: memref.copy
// CHECK: gpu.launch_func @llmc_kernels::@main_op0
// CHECK: gpu.launch_func @llmc_kernels::@main_op1
// CHECK: linalg.generic {{.*}}library_call = "llmc_conv2d_f32"
// CHECK: gpu.launch_func @llmc_kernels::@main_op2
// CHECK: gpu.launch_func @llmc_kernels::@main_op3
// CHECK: linalg.generic {{.*}}library_call = "llmc_conv2d_f32"
// CHECK: gpu.launch_func @llmc_kernels::@main_op4
#dx = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d4, d2 + d5, d3 + d6)>
#dw = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
#dp = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (0)>
#dy = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>
#de = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
memref.global "private" constant @params : memref<5xi64> = dense<[1, 1, 1, 1, 1]>
func.func @main(%x: memref<1x2x4x4xf32>, %w: memref<3x2x3x3xf32>, %out: memref<1x3x3x4xf32>, %out2: memref<1x3x4x4xf32>, %pad: memref<1x2x6x6xf32>) {
  %zero = arith.constant 0.0 : f32
  %params = memref.get_global @params : memref<5xi64>
  %p = memref.alloc() : memref<1x2x5x6xf32>
  linalg.map outs(%p : memref<1x2x5x6xf32>)
    (%init: f32) {
      linalg.yield %zero : f32
    }
  %interior = memref.subview %p[0, 0, 0, 1] [1, 2, 4, 4] [1, 1, 1, 1] : memref<1x2x5x6xf32> to memref<1x2x4x4xf32, strided<[60, 30, 6, 1], offset: 1>>
  memref.copy %x, %interior : memref<1x2x4x4xf32> to memref<1x2x4x4xf32, strided<[60, 30, 6, 1], offset: 1>>
  linalg.generic {indexing_maps = [#dx, #dw, #dp, #dy], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"], library_call = "llmc_conv2d_f32"}
      ins(%p, %w, %params : memref<1x2x5x6xf32>, memref<3x2x3x3xf32>, memref<5xi64>) outs(%out : memref<1x3x3x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: i64, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  }
  %q = memref.alloc() : memref<1x2x6x6xf32>
  linalg.map outs(%q : memref<1x2x6x6xf32>)
    (%init: f32) {
      linalg.yield %zero : f32
    }
  %inner = memref.subview %q[0, 0, 1, 1] [1, 2, 4, 4] [1, 1, 1, 1] : memref<1x2x6x6xf32> to memref<1x2x4x4xf32, strided<[72, 36, 6, 1], offset: 7>>
  memref.copy %x, %inner : memref<1x2x4x4xf32> to memref<1x2x4x4xf32, strided<[72, 36, 6, 1], offset: 7>>
  linalg.generic {indexing_maps = [#dx, #dw, #dp, #dy], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"], library_call = "llmc_conv2d_f32"}
      ins(%q, %w, %params : memref<1x2x6x6xf32>, memref<3x2x3x3xf32>, memref<5xi64>) outs(%out2 : memref<1x3x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: i64, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#de, #de], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : memref<1x2x6x6xf32>) outs(%pad : memref<1x2x6x6xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// A sequential loop nest on the host (a scatter: later updates overwrite
// earlier ones, so the order matters) is a kernel of one thread, launched
// where the loop was: after the copy's kernel, before the ReLU's.
// CHECK-LABEL: func.func @main
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: gpu.launch_func @llmc_kernels::@main_op0
// CHECK-NEXT: gpu.launch_func @llmc_kernels::@main_seq0 blocks in (%[[ONE]], %[[ONE]], %[[ONE]]) threads in (%[[ONE]], %[[ONE]], %[[ONE]]) args(%arg2 : memref<2xf32>, %arg1 : memref<2xi64>, %arg3 : memref<4xf32>)
// CHECK-NEXT: gpu.launch_func @llmc_kernels::@main_op1
// CHECK: gpu.func @main_seq0(
// CHECK-SAME: known_block_size = array<i32: 1, 1, 1>
// CHECK: scf.for
// CHECK: memref.load
// CHECK: memref.store
#s1 = affine_map<(d0) -> (d0)>
func.func @main(%data: memref<4xf32>, %idx: memref<2xi64>, %upd: memref<2xf32>, %out: memref<4xf32>, %relu: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  memref.copy %data, %out : memref<4xf32> to memref<4xf32>
  scf.for %i = %c0 to %c2 step %c1 {
    %u = memref.load %upd[%i] : memref<2xf32>
    %k = memref.load %idx[%i] : memref<2xi64>
    %j = arith.index_cast %k : i64 to index
    memref.store %u, %out[%j] : memref<4xf32>
  }
  linalg.generic {indexing_maps = [#s1, #s1], iterator_types = ["parallel"]}
      ins(%out : memref<4xf32>) outs(%relu : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A kernel function that adds a bias to a zero-filled f32 library GEMM's
// result and applies a ReLU is left as it is (the CUDA program makes it the
// GEMM's cuBLASLt epilogue); the same kernel after a GEMM whose output is
// not zero-filled first (so the GEMM accumulates) is a kernel.
#a = affine_map<(d0, d1, d2, d3) -> (0, d1, d3)>
#b = affine_map<(d0, d1, d2, d3) -> (0, d3, d2)>
#p = affine_map<(d0, d1, d2, d3) -> (0)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#last = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @main
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}}library_call = "llmc_matmul_f32"
// CHECK: call @main_kernel0({{.*}}) {llmc.gemm_epilogue}
// CHECK: linalg.generic {{.*}}library_call = "llmc_matmul_f32"
// CHECK: call @main_kernel1({{[^{]*}}) :
// CHECK-LABEL: func.func private @main_kernel0
// CHECK-NEXT: arith.constant
// CHECK-NEXT: linalg.generic
// CHECK: arith.maxnumf
// CHECK-LABEL: func.func private @main_kernel1
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch_func  @llmc_kernels::@main_kernel1
// CHECK: gpu.module @llmc_kernels
// CHECK-NOT: gpu.func @main_kernel0(
// CHECK: gpu.func @main_kernel1(
module {
  memref.global "private" constant @params : memref<2xi64> = dense<0>
  func.func @main(%x: memref<1x4x8xf32>, %w: memref<1x8x16xf32>,
                  %bias: memref<16xf32>, %y: memref<1x4x16xf32>,
                  %z: memref<1x4x16xf32>) {
    %zero = arith.constant 0.0 : f32
    %params = memref.get_global @params : memref<2xi64>
    %c = memref.alloc() : memref<1x4x16xf32>
    linalg.fill ins(%zero : f32) outs(%c : memref<1x4x16xf32>)
    linalg.generic {indexing_maps = [#a, #b, #p, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"], library_call = "llmc_matmul_f32"} ins(%x, %w, %params : memref<1x4x8xf32>, memref<1x8x16xf32>, memref<2xi64>) outs(%c : memref<1x4x16xf32>) {
    ^bb0(%in: f32, %in_0: f32, %in_1: i64, %out: f32):
      %0 = arith.mulf %in, %in_0 : f32
      %1 = arith.addf %out, %0 : f32
      linalg.yield %1 : f32
    }
    call @main_kernel0(%c, %bias, %y) : (memref<1x4x16xf32>, memref<16xf32>, memref<1x4x16xf32>) -> ()
    %d = memref.alloc() : memref<1x4x16xf32>
    linalg.generic {indexing_maps = [#a, #b, #p, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"], library_call = "llmc_matmul_f32"} ins(%x, %w, %params : memref<1x4x8xf32>, memref<1x8x16xf32>, memref<2xi64>) outs(%d : memref<1x4x16xf32>) {
    ^bb0(%in: f32, %in_0: f32, %in_1: i64, %out: f32):
      %0 = arith.mulf %in, %in_0 : f32
      %1 = arith.addf %out, %0 : f32
      linalg.yield %1 : f32
    }
    call @main_kernel1(%d, %bias, %z) : (memref<1x4x16xf32>, memref<16xf32>, memref<1x4x16xf32>) -> ()
    return
  }
  func.func private @main_kernel0(%arg0: memref<1x4x16xf32>, %arg1: memref<16xf32>, %arg2: memref<1x4x16xf32>) attributes {llmc.kernel = "loop"} {
    %cst = arith.constant 0.000000e+00 : f32
    linalg.generic {indexing_maps = [#last, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg1, %arg0 : memref<16xf32>, memref<1x4x16xf32>) outs(%arg2 : memref<1x4x16xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %0 = arith.addf %in_0, %in : f32
      %1 = arith.maxnumf %cst, %0 : f32
      linalg.yield %1 : f32
    }
    return
  }
  func.func private @main_kernel1(%arg0: memref<1x4x16xf32>, %arg1: memref<16xf32>, %arg2: memref<1x4x16xf32>) attributes {llmc.kernel = "loop"} {
    %cst = arith.constant 0.000000e+00 : f32
    linalg.generic {indexing_maps = [#last, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg1, %arg0 : memref<16xf32>, memref<1x4x16xf32>) outs(%arg2 : memref<1x4x16xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %0 = arith.addf %in_0, %in : f32
      %1 = arith.maxnumf %cst, %0 : f32
      linalg.yield %1 : f32
    }
    return
  }
}

// -----

// A kernel function that adds a per-channel bias (an expanded 1-D argument)
// and a residual to a zero-filled f32 library convolution's result and
// applies a ReLU is left as it is (the CUDA program makes it cuDNN's fused
// convolution); the same kernel when the residual is written between the
// convolution and the kernel is a kernel.
#cx = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d4, d2 + d5, d3 + d6)>
#cw = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
#cp = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (0)>
#cy = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#chan = affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>
// CHECK-LABEL: func.func @main
// CHECK: linalg.generic {{.*}}library_call = "llmc_conv2d_f32"
// CHECK: call @main_kernel0({{.*}}) {llmc.conv_epilogue}
// CHECK: linalg.generic {{.*}}library_call = "llmc_conv2d_f32"
// CHECK: call @main_kernel1({{[^{]*}}) :
// CHECK-LABEL: func.func private @main_kernel0
// CHECK: memref.expand_shape
// CHECK-NEXT: linalg.generic
// CHECK: arith.maximumf
// CHECK-LABEL: func.func private @main_kernel1
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch_func  @llmc_kernels::@main_kernel1
// CHECK: gpu.module @llmc_kernels
// CHECK-NOT: gpu.func @main_kernel0(
// CHECK: gpu.func @main_kernel1(
module {
  memref.global "private" constant @params : memref<5xi64> = dense<1>
  func.func @main(%x: memref<1x2x6x6xf32>, %w: memref<4x2x3x3xf32>,
                  %bias: memref<4xf32>, %r: memref<1x4x4x4xf32>,
                  %y: memref<1x4x4x4xf32>, %z: memref<1x4x4x4xf32>) {
    %zero = arith.constant 0.0 : f32
    %params = memref.get_global @params : memref<5xi64>
    %c = memref.alloc() : memref<1x4x4x4xf32>
    linalg.fill ins(%zero : f32) outs(%c : memref<1x4x4x4xf32>)
    linalg.generic {indexing_maps = [#cx, #cw, #cp, #cy], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"], library_call = "llmc_conv2d_f32"} ins(%x, %w, %params : memref<1x2x6x6xf32>, memref<4x2x3x3xf32>, memref<5xi64>) outs(%c : memref<1x4x4x4xf32>) {
    ^bb0(%in: f32, %in_0: f32, %in_1: i64, %out: f32):
      %0 = arith.mulf %in, %in_0 : f32
      %1 = arith.addf %out, %0 : f32
      linalg.yield %1 : f32
    }
    call @main_kernel0(%bias, %c, %r, %y) : (memref<4xf32>, memref<1x4x4x4xf32>, memref<1x4x4x4xf32>, memref<1x4x4x4xf32>) -> ()
    %d = memref.alloc() : memref<1x4x4x4xf32>
    linalg.fill ins(%zero : f32) outs(%d : memref<1x4x4x4xf32>)
    linalg.generic {indexing_maps = [#cx, #cw, #cp, #cy], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"], library_call = "llmc_conv2d_f32"} ins(%x, %w, %params : memref<1x2x6x6xf32>, memref<4x2x3x3xf32>, memref<5xi64>) outs(%d : memref<1x4x4x4xf32>) {
    ^bb0(%in: f32, %in_0: f32, %in_1: i64, %out: f32):
      %0 = arith.mulf %in, %in_0 : f32
      %1 = arith.addf %out, %0 : f32
      linalg.yield %1 : f32
    }
    linalg.fill ins(%zero : f32) outs(%r : memref<1x4x4x4xf32>)
    call @main_kernel1(%bias, %d, %r, %z) : (memref<4xf32>, memref<1x4x4x4xf32>, memref<1x4x4x4xf32>, memref<1x4x4x4xf32>) -> ()
    return
  }
  func.func private @main_kernel0(%arg0: memref<4xf32>, %arg1: memref<1x4x4x4xf32>, %arg2: memref<1x4x4x4xf32>, %arg3: memref<1x4x4x4xf32>) attributes {llmc.kernel = "loop"} {
    %cst = arith.constant 0.000000e+00 : f32
    %e = memref.expand_shape %arg0 [[0, 1, 2]] output_shape [4, 1, 1] : memref<4xf32> into memref<4x1x1xf32>
    linalg.generic {indexing_maps = [#id4, #chan, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg1, %e, %arg2 : memref<1x4x4x4xf32>, memref<4x1x1xf32>, memref<1x4x4x4xf32>) outs(%arg3 : memref<1x4x4x4xf32>) {
    ^bb0(%in: f32, %in_0: f32, %in_1: f32, %out: f32):
      %0 = arith.addf %in, %in_0 : f32
      %1 = arith.addf %in_1, %0 : f32
      %2 = arith.maximumf %1, %cst : f32
      linalg.yield %2 : f32
    }
    return
  }
  func.func private @main_kernel1(%arg0: memref<4xf32>, %arg1: memref<1x4x4x4xf32>, %arg2: memref<1x4x4x4xf32>, %arg3: memref<1x4x4x4xf32>) attributes {llmc.kernel = "loop"} {
    %cst = arith.constant 0.000000e+00 : f32
    %e = memref.expand_shape %arg0 [[0, 1, 2]] output_shape [4, 1, 1] : memref<4xf32> into memref<4x1x1xf32>
    linalg.generic {indexing_maps = [#id4, #chan, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg1, %e, %arg2 : memref<1x4x4x4xf32>, memref<4x1x1xf32>, memref<1x4x4x4xf32>) outs(%arg3 : memref<1x4x4x4xf32>) {
    ^bb0(%in: f32, %in_0: f32, %in_1: f32, %out: f32):
      %0 = arith.addf %in, %in_0 : f32
      %1 = arith.addf %in_1, %0 : f32
      %2 = arith.maximumf %1, %cst : f32
      linalg.yield %2 : f32
    }
    return
  }
}

// -----

// The narrowing of an f16 library GEMM's zero-filled f32 result, which
// nothing else reads, stays on the host (the CUDA program has the GEMM write
// f16); a narrowing of a result that something else also reads is a kernel.
#a = affine_map<(d0, d1, d2, d3) -> (0, d1, d3)>
#b = affine_map<(d0, d1, d2, d3) -> (0, d3, d2)>
#p = affine_map<(d0, d1, d2, d3) -> (0)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @main
// CHECK: linalg.generic {{.*}}library_call = "llmc_matmul_f16"
// CHECK: linalg.generic {{.*}}ins(%{{.*}} : memref<1x4x16xf32>) outs(%{{.*}} : memref<1x4x16xf16>) attrs = {llmc.gemm_narrowing}
// CHECK: linalg.generic {{.*}}library_call = "llmc_matmul_f16"
// CHECK: gpu.launch_func @llmc_kernels::@main_op0
// CHECK: gpu.launch_func @llmc_kernels::@main_op1
// CHECK: gpu.module @llmc_kernels
module {
  memref.global "private" constant @params : memref<2xi64> = dense<0>
  func.func @main(%x: memref<1x4x8xf16>, %w: memref<1x8x16xf16>,
                  %y: memref<1x4x16xf16>, %z: memref<1x4x16xf16>,
                  %s: memref<1x4x16xf32>) {
    %zero = arith.constant 0.0 : f32
    %params = memref.get_global @params : memref<2xi64>
    %c = memref.alloc() : memref<1x4x16xf32>
    linalg.fill ins(%zero : f32) outs(%c : memref<1x4x16xf32>)
    linalg.generic {indexing_maps = [#a, #b, #p, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"], library_call = "llmc_matmul_f16"} ins(%x, %w, %params : memref<1x4x8xf16>, memref<1x8x16xf16>, memref<2xi64>) outs(%c : memref<1x4x16xf32>) {
    ^bb0(%in: f16, %in_0: f16, %in_1: i64, %out: f32):
      %0 = arith.extf %in : f16 to f32
      %1 = arith.extf %in_0 : f16 to f32
      %2 = arith.mulf %0, %1 : f32
      %3 = arith.addf %out, %2 : f32
      linalg.yield %3 : f32
    }
    linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%c : memref<1x4x16xf32>) outs(%y : memref<1x4x16xf16>) {
    ^bb0(%in: f32, %out: f16):
      %0 = arith.truncf %in : f32 to f16
      linalg.yield %0 : f16
    }
    %d = memref.alloc() : memref<1x4x16xf32>
    linalg.fill ins(%zero : f32) outs(%d : memref<1x4x16xf32>)
    linalg.generic {indexing_maps = [#a, #b, #p, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"], library_call = "llmc_matmul_f16"} ins(%x, %w, %params : memref<1x4x8xf16>, memref<1x8x16xf16>, memref<2xi64>) outs(%d : memref<1x4x16xf32>) {
    ^bb0(%in: f16, %in_0: f16, %in_1: i64, %out: f32):
      %0 = arith.extf %in : f16 to f32
      %1 = arith.extf %in_0 : f16 to f32
      %2 = arith.mulf %0, %1 : f32
      %3 = arith.addf %out, %2 : f32
      linalg.yield %3 : f32
    }
    linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%d : memref<1x4x16xf32>) outs(%z : memref<1x4x16xf16>) {
    ^bb0(%in: f32, %out: f16):
      %0 = arith.truncf %in : f32 to f16
      linalg.yield %0 : f16
    }
    linalg.copy ins(%d : memref<1x4x16xf32>) outs(%s : memref<1x4x16xf32>)
    return
  }
}

// -----

// A reduction with an output indexed by the reduced dim (fusion leaves one:
// a value computed along the reduced loop beside the sum, found by
// test/fuzz/random_graphs.py): that output is read and stored inside the
// sequential loop, per iteration; only the sum is carried out of it. Stored
// after the loop, it used the loop's induction variable out of scope ("does
// not dominate this use").
#r1 = affine_map<(d0) -> (d0)>
#r0 = affine_map<(d0) -> ()>
// CHECK-LABEL: gpu.func @reduced_dim_output(
// CHECK:         scf.for %[[K:.*]] = {{.*}} iter_args(%[[ACC:.*]] = {{.*}}) -> (f32)
// CHECK:           %[[ABS:.*]] = math.absf
// CHECK:           memref.store %[[ABS]], %{{.*}}[%[[K]]] : memref<4xf32>
// CHECK:           scf.yield
// CHECK:         }
// CHECK:         memref.store %{{.*}}, %{{.*}}[] : memref<f32>
func.func @reduced_dim_output(%x: memref<4xf32>, %each: memref<4xf32>, %sum: memref<f32>) attributes {llmc.kernel = "loop"} {
  linalg.generic {indexing_maps = [#r1, #r1, #r0], iterator_types = ["reduction"]}
      ins(%x : memref<4xf32>) outs(%each, %sum : memref<4xf32>, memref<f32>) {
  ^bb0(%in: f32, %e: f32, %s: f32):
    %a = math.absf %in : f32
    %t = arith.addf %s, %a : f32
    linalg.yield %a, %t : f32, f32
  }
  return
}

// -----

// Scalar code left on the host (a TopK over one element, whose loops
// folded away into a load and a store; random_graphs.py --cuda found it
// refused) goes into a loop of one trip and becomes a sequential kernel.
// CHECK-LABEL: func.func @host_store
// CHECK-NOT:     memref.load
// CHECK:         gpu.launch_func  @llmc_kernels::@host_store_seq0
// CHECK-NOT:     memref.store
// CHECK:         return
// CHECK:       gpu.func @host_store_seq0
// CHECK:         memref.load
// CHECK:         math.absf
// CHECK:         memref.store
func.func @host_store(%x: memref<1xf32>, %y: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %v = memref.load %x[%c0] : memref<1xf32>
  %a = math.absf %v : f32
  memref.store %a, %y[%c0] : memref<1xf32>
  return
}

// -----

// A host loop whose result is stored after it (a TopK's rounds over one
// row): the loop and the store become one sequential kernel. Lowered alone,
// the loop left the store's operand dangling ("operand is unlinked").
// CHECK-LABEL: func.func @host_loop_result
// CHECK-NEXT:    %{{.*}} = arith.constant 1 : index
// CHECK-NEXT:    gpu.launch_func  @llmc_kernels::@host_loop_result_seq0
// CHECK-NEXT:    return
// CHECK:       gpu.func @host_loop_result_seq0
// CHECK:         %[[SUM:.*]] = scf.for
// CHECK:         memref.store %[[SUM]]
func.func @host_loop_result(%x: memref<4xf32>, %y: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> (f32) {
    %v = memref.load %x[%i] : memref<4xf32>
    %s = arith.addf %acc, %v : f32
    scf.yield %s : f32
  }
  memref.store %sum, %y[%c0] : memref<1xf32>
  return
}

// -----

// Index checks (llmc-convert-graph-to-linalg{check-indices}): the call of
// the runtime's llmc_index_error becomes stores of (site + 1, index, size)
// into the device global llmc_index_status; the sites' names become the
// module's llmc.index_sites and the host's strings go.
// CHECK-LABEL: module attributes
// CHECK-SAME: llmc.index_sites = ["node 'g'"]
// CHECK-NOT: memref.global "private" constant @llmc_index_site_0
// CHECK-NOT: func.func private @llmc_index_error
// CHECK: gpu.module @llmc_kernels
// CHECK: memref.global "public" @llmc_index_status : memref<3xi64> = dense<0> {alignment = 8 : i64}
// CHECK: gpu.func @main_op0
// CHECK: scf.if
// CHECK: %[[S:.*]] = memref.get_global @llmc_index_status : memref<3xi64>
// CHECK: memref.store %{{.*}}, %[[S]][%c1] : memref<3xi64>
// CHECK: memref.store %{{.*}}, %[[S]][%c2] : memref<3xi64>
// CHECK: memref.store %{{.*}}, %[[S]][%c0] : memref<3xi64>
#map = affine_map<(d0) -> (d0)>
memref.global "private" constant @llmc_index_site_0 : memref<8xi8> = dense<[110, 111, 100, 101, 32, 39, 103, 39]>
func.func private @llmc_index_error(i64, i64, memref<?xi8>) attributes {llvm.emit_c_interface}
func.func @main(%i: memref<4xi64>, %y: memref<4xi64>) {
  linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%i : memref<4xi64>) outs(%y : memref<4xi64>) {
  ^bb0(%in: i64, %out: i64):
    %c4 = arith.constant 4 : i64
    %bad = arith.cmpi sge, %in, %c4 : i64
    scf.if %bad {
      %g = memref.get_global @llmc_index_site_0 : memref<8xi8>
      %c = memref.cast %g : memref<8xi8> to memref<?xi8>
      func.call @llmc_index_error(%in, %c4, %c) : (i64, i64, memref<?xi8>) -> ()
    }
    linalg.yield %in : i64
  }
  return
}
