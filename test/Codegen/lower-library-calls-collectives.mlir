// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-convert-graph-to-linalg,one-shot-bufferize{bufferize-function-boundaries},llmc-lower-library-calls)' | FileCheck %s
// RUN: llmc-opt %s -split-input-file -llmc-lower-library-calls | FileCheck %s --check-prefix=UNLOWERED

// After bufferization the collectives are calls to the runtime's kernels
// (one declaration for both), and the grid, which nothing refers to any
// more, is erased.
// CHECK-NOT:   shard.grid
// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %[[X:[^:]*]]: memref<8x16xf32, strided<[?, ?], offset: ?>>
// CHECK:         %[[P0:.*]] = memref.get_global @{{.*}} : memref<7xi64>
// CHECK:         %[[OUT0:.*]] = memref.alloc() {{.*}}: memref<8x16xf32>
// CHECK:         %[[A0:.*]] = memref.cast %[[X]] : memref<8x16xf32, strided<[?, ?], offset: ?>> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK:         %[[A1:.*]] = memref.cast %[[P0]] : memref<7xi64> to memref<?xi64, strided<[?], offset: ?>>
// CHECK:         %[[A2:.*]] = memref.cast %[[OUT0]] : memref<8x16xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK:         call @llmc_collective_f32_r2(%[[A0]], %[[A1]], %[[A2]])
// CHECK:         call @llmc_collective_f32_r1(
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     shard.
// CHECK:       func.func private @llmc_collective_f32_r2(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?xi64, strided<[?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) attributes {llvm.emit_c_interface}
// CHECK:       func.func private @llmc_collective_f32_r1(
// CHECK-NOT:   shard.grid
// The same collective before bufferization: nothing to lower, and the grid
// stays, still used.
// UNLOWERED:       shard.grid @mesh(shape = 2)
// UNLOWERED-LABEL: func.func @main(
// UNLOWERED:         shard.all_reduce
// UNLOWERED-NOT:     call
shard.grid @mesh(shape = 2)
func.func @main(%x: tensor<8x16xf32>, %v: tensor<4xf32>) -> (tensor<8x16xf32>, tensor<8xf32>) {
  %0 = shard.all_reduce %x on @mesh grid_axes = [0] {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
  %1 = shard.all_gather %v on @mesh grid_axes = [0] gather_axis = 0 {llmc.step = 1 : i64} : tensor<4xf32> -> tensor<8xf32>
  return %0, %1 : tensor<8x16xf32>, tensor<8xf32>
}

// -----

// Bool and i8 collectives of one rank in one module: each calls its own
// kernel (i1 the u8 one, declared with i1 buffers; i8 the i8 one), so the
// two declarations do not clash (once both were named llmc_collective_i8_r1
// and the second call did not match the first declaration).
// CHECK-LABEL: func.func @bytes(
// CHECK-SAME:    %[[A:[^:]*]]: memref<4xi8, strided<[?], offset: ?>>, %[[B:[^:]*]]: memref<4xi1, strided<[?], offset: ?>>
// CHECK:         %[[CA:.*]] = memref.cast %[[A]] : memref<4xi8, strided<[?], offset: ?>> to memref<?xi8, strided<[?], offset: ?>>
// CHECK:         call @llmc_collective_i8_r1(%[[CA]], %{{.*}}, %{{.*}}) : (memref<?xi8, strided<[?], offset: ?>>, memref<?xi64, strided<[?], offset: ?>>, memref<?xi8, strided<[?], offset: ?>>) -> ()
// CHECK:         %[[CB:.*]] = memref.cast %[[B]] : memref<4xi1, strided<[?], offset: ?>> to memref<?xi1, strided<[?], offset: ?>>
// CHECK:         call @llmc_collective_u8_r1(%[[CB]], %{{.*}}, %{{.*}}) : (memref<?xi1, strided<[?], offset: ?>>, memref<?xi64, strided<[?], offset: ?>>, memref<?xi1, strided<[?], offset: ?>>) -> ()
// CHECK-NOT:     shard.
// CHECK:       func.func private @llmc_collective_i8_r1(memref<?xi8, strided<[?], offset: ?>>, memref<?xi64, strided<[?], offset: ?>>, memref<?xi8, strided<[?], offset: ?>>) attributes {llvm.emit_c_interface}
// CHECK:       func.func private @llmc_collective_u8_r1(memref<?xi1, strided<[?], offset: ?>>, memref<?xi64, strided<[?], offset: ?>>, memref<?xi1, strided<[?], offset: ?>>) attributes {llvm.emit_c_interface}
// CHECK-NOT:   shard.grid
// UNLOWERED-LABEL: func.func @bytes(
// UNLOWERED:         shard.all_gather
// UNLOWERED:         shard.all_gather
// UNLOWERED-NOT:     call
shard.grid @mesh(shape = 2)
func.func @bytes(%a: tensor<4xi8>, %b: tensor<4xi1>) -> (tensor<8xi8>, tensor<8xi1>) {
  %0 = shard.all_gather %a on @mesh grid_axes = [0] gather_axis = 0 : tensor<4xi8> -> tensor<8xi8>
  %1 = shard.all_gather %b on @mesh grid_axes = [0] gather_axis = 0 : tensor<4xi1> -> tensor<8xi1>
  return %0, %1 : tensor<8xi8>, tensor<8xi1>
}
