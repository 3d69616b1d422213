// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg --mlir-print-local-scope | FileCheck %s

// The shard collectives llmc-partition inserts become generics marked for
// the runtime's kernel `llmc_collective_<type>_r<rank>`, with the kernel's
// parameters as an i64 constant operand:
// [kind, mesh axis, dim, reduction, group size, step, second dim],
// kind 0 all_reduce, 1 all_gather, 2 reduce_scatter, 3 all_to_all,
// 4 all_slice; reduction 0 sum, 1 max, 2 min; the group size is the grid's
// size along the axis. The body copies the input (a group of one's result).

// all_reduce with max on the grid's second axis (size 4), step 3.
// CHECK:       shard.grid @mesh(shape = 2x4)
// CHECK-LABEL: func.func @all_reduce(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<8x16xf32>
// CHECK:         %[[P:.*]] = arith.constant dense<[0, 1, -1, 1, 4, 3, -1]> : tensor<7xi64>
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<8x16xf32>
// CHECK:         %[[G:.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"], library_call = "llmc_collective_f32_r2"}
// CHECK-SAME:      ins(%[[X]], %[[P]] : tensor<8x16xf32>, tensor<7xi64>) outs(%[[E]] : tensor<8x16xf32>)
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: f32, %{{.*}}: i64, %{{.*}}: f32):
// CHECK-NEXT:      linalg.yield %[[IN]] : f32
// CHECK:         return %[[G]]
// CHECK-NOT:     shard.all_reduce
shard.grid @mesh(shape = 2x4)
func.func @all_reduce(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %0 = shard.all_reduce %x on @mesh grid_axes = [1] reduction = max {llmc.step = 3 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

// all_gather along dim 1: where input and result sizes differ, the input
// is read wrapped into the smaller extent (never a plain loop, so linalg
// takes the loop's extent from the result).
// CHECK-LABEL: func.func @all_gather(
// CHECK:         %[[P:.*]] = arith.constant dense<[1, 1, 1, 0, 4, 1, -1]> : tensor<7xi64>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1 mod 4)>, affine_map<(d0, d1) -> (0)>, affine_map<(d0, d1) -> (d0, d1)>], {{.*}}library_call = "llmc_collective_f16_r2"}
// CHECK-SAME:      ins(%{{.*}}, %[[P]] : tensor<8x4xf16>, tensor<7xi64>) outs(%{{.*}} : tensor<8x16xf16>)
shard.grid @mesh(shape = 2x4)
func.func @all_gather(%x: tensor<8x4xf16>) -> tensor<8x16xf16> {
  %0 = shard.all_gather %x on @mesh grid_axes = [1] gather_axis = 1 {llmc.step = 1 : i64} : tensor<8x4xf16> -> tensor<8x16xf16>
  return %0 : tensor<8x16xf16>
}

// -----

// reduce_scatter with min along dim 0 on the first axis (size 2); without
// llmc.step the step is 0.
// CHECK-LABEL: func.func @reduce_scatter(
// CHECK:         %[[P:.*]] = arith.constant dense<[2, 0, 0, 2, 2, 0, -1]> : tensor<7xi64>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0 mod 4, d1)>, {{.*}}library_call = "llmc_collective_bf16_r2"}
// CHECK-SAME:      ins(%{{.*}}, %[[P]] : tensor<8x16xbf16>, tensor<7xi64>) outs(%{{.*}} : tensor<4x16xbf16>)
shard.grid @mesh(shape = 2x4)
func.func @reduce_scatter(%x: tensor<8x16xbf16>) -> tensor<4x16xbf16> {
  %0 = shard.reduce_scatter %x on @mesh grid_axes = [0] reduction = min scatter_axis = 0 : tensor<8x16xbf16> -> tensor<4x16xbf16>
  return %0 : tensor<4x16xbf16>
}

// -----

// all_to_all: split dim 1, concatenate dim 0 (the second dim).
// CHECK-LABEL: func.func @all_to_all(
// CHECK:         %[[P:.*]] = arith.constant dense<[3, 1, 1, 0, 4, 2, 0]> : tensor<7xi64>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0 mod 2, d1 mod 4)>, {{.*}}library_call = "llmc_collective_i32_r2"}
// CHECK-SAME:      ins(%{{.*}}, %[[P]] : tensor<2x16xi32>, tensor<7xi64>) outs(%{{.*}} : tensor<8x4xi32>)
shard.grid @mesh(shape = 2x4)
func.func @all_to_all(%x: tensor<2x16xi32>) -> tensor<8x4xi32> {
  %0 = shard.all_to_all %x on @mesh grid_axes = [1] split_axis = 1 concat_axis = 0 {llmc.step = 2 : i64} : tensor<2x16xi32> -> tensor<8x4xi32>
  return %0 : tensor<8x4xi32>
}

// -----

// all_slice (llmc-partition's local cut) along dim 1.
// CHECK-LABEL: func.func @all_slice(
// CHECK:         %[[P:.*]] = arith.constant dense<[4, 1, 1, 0, 4, 5, -1]> : tensor<7xi64>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1 mod 4)>, {{.*}}library_call = "llmc_collective_i64_r2"}
// CHECK-SAME:      ins(%{{.*}}, %[[P]] : tensor<8x16xi64>, tensor<7xi64>) outs(%{{.*}} : tensor<8x4xi64>)
shard.grid @mesh(shape = 2x4)
func.func @all_slice(%x: tensor<8x16xi64>) -> tensor<8x4xi64> {
  %0 = shard.all_slice %x on @mesh grid_axes = [1] slice_axis = 1 {llmc.step = 5 : i64} : tensor<8x16xi64> -> tensor<8x4xi64>
  return %0 : tensor<8x4xi64>
}

// -----

// A rank-0 all_reduce (a summed scalar): no loops, kernel r0.
// CHECK-LABEL: func.func @scalar(
// CHECK:         %[[P:.*]] = arith.constant dense<[0, 0, -1, 0, 2, 0, -1]> : tensor<7xi64>
// CHECK:         linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> (0)>, affine_map<() -> ()>], iterator_types = [], library_call = "llmc_collective_f64_r0"}
// CHECK-SAME:      ins(%{{.*}}, %[[P]] : tensor<f64>, tensor<7xi64>) outs(%{{.*}} : tensor<f64>)
shard.grid @mesh(shape = 2)
func.func @scalar(%x: tensor<f64>) -> tensor<f64> {
  %0 = shard.all_reduce %x on @mesh grid_axes = [0] : tensor<f64> -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// Booleans travel as bytes, through the u8 kernels (a kernel's name fixes
// its MLIR signature, so i1 cannot share the i8 kernel's name: see
// lower-library-calls-collectives.mlir); i8 itself, at rank 3.
// CHECK-LABEL: func.func @bool(
// CHECK:         arith.constant dense<[1, 0, 0, 0, 2, 0, -1]> : tensor<7xi64>
// CHECK:         linalg.generic {{.*}}library_call = "llmc_collective_u8_r1"}
// CHECK-SAME:      ins(%{{.*}}, %{{.*}} : tensor<4xi1>, tensor<7xi64>) outs(%{{.*}} : tensor<8xi1>)
// CHECK-LABEL: func.func @int8(
// CHECK:         linalg.generic {{.*}}library_call = "llmc_collective_i8_r3"}
// CHECK-SAME:      ins(%{{.*}}, %{{.*}} : tensor<2x3x4xi8>, tensor<7xi64>) outs(%{{.*}} : tensor<2x3x4xi8>)
shard.grid @mesh(shape = 2)
func.func @bool(%x: tensor<4xi1>) -> tensor<8xi1> {
  %0 = shard.all_gather %x on @mesh grid_axes = [0] gather_axis = 0 : tensor<4xi1> -> tensor<8xi1>
  return %0 : tensor<8xi1>
}
func.func @int8(%x: tensor<2x3x4xi8>) -> tensor<2x3x4xi8> {
  %0 = shard.all_reduce %x on @mesh grid_axes = [0] : tensor<2x3x4xi8> -> tensor<2x3x4xi8>
  return %0 : tensor<2x3x4xi8>
}

// -----

// What llmc-partition produces for a Megatron MLP: the all_reduce between
// the second matmul and the residual add becomes the collective call, the
// matmuls their BLAS calls.
// CHECK-LABEL: func.func @main(
// CHECK:         library_call = "llmc_matmul_f32"
// CHECK:         library_call = "llmc_matmul_f32"
// CHECK:         arith.constant dense<[0, 0, -1, 0, 2, 0, -1]> : tensor<7xi64>
// CHECK:         library_call = "llmc_collective_f32_r2"
// CHECK-NOT:     shard.all_reduce
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>, %w1: tensor<16x16xf32>, %w2: tensor<16x16xf32>) -> tensor<8x16xf32> {
    %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
    %g = graph.relu %h : tensor<8x16xf32>
    %y = graph.matmul %g, %w2 : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
    %s = shard.all_reduce %y on @mesh grid_axes = [0] {llmc.step = 0 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
    %r = graph.add %s, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}
