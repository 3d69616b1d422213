// The iteration space each op describes (IterationSpaceOpInterface).
// RUN: llmc-opt %s -split-input-file -llmc-test-iteration-space --mlir-print-local-scope | FileCheck %s

// Broadcasting: the size-1 dim of %y maps to 0, the missing one is dropped.
// CHECK-LABEL: func.func @add_broadcast(
// CHECK:         graph.add
// CHECK-SAME:      llmc.iterators = ["parallel", "parallel", "parallel"]
// CHECK-SAME:      llmc.maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (0, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>]
func.func @add_broadcast(%x: tensor<2x3x4xf32>, %y: tensor<1x4xf32>) -> tensor<2x3x4xf32> {
  %0 = graph.add %x, %y : tensor<2x3x4xf32>, tensor<1x4xf32> -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func.func @reduce(
// CHECK:         llmc.iterators = ["parallel", "reduction", "parallel"]
// CHECK-SAME:    llmc.maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, 0, d2)>]
func.func @reduce(%x: tensor<2x3x4xf32>) -> tensor<2x1x4xf32> {
  %0 = graph.reduce %x {kind = "sum", axes = array<i64: 1>, keepdims = true} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  return %0 : tensor<2x1x4xf32>
}

// -----

// Batched matmul with a broadcast weight: loops (b, m, n, k).
// CHECK-LABEL: func.func @matmul(
// CHECK:         llmc.iterators = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME:    llmc.maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>]
func.func @matmul(%a: tensor<5x2x3xf32>, %b: tensor<3x4xf32>) -> tensor<5x2x4xf32> {
  %0 = graph.matmul %a, %b : tensor<5x2x3xf32>, tensor<3x4xf32> -> tensor<5x2x4xf32>
  return %0 : tensor<5x2x4xf32>
}

// -----

// Grouped, strided, padded convolution: the input channel follows the group
// of the output channel.
// CHECK-LABEL: func.func @conv(
// CHECK:         llmc.iterators = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
// CHECK-SAME:    affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, (d1 floordiv 3) * 2 + d4, d2 * 2 + d5 - 1, d3 * 2 + d6 - 1)>
// CHECK-SAME:    affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
func.func @conv(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x4x4xf32> {
  %0 = graph.conv %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 2 : i64} : tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32> -> tensor<1x6x4x4xf32>
  return %0 : tensor<1x6x4x4xf32>
}

// -----

// Gather: the gathered dim is data dependent (a symbol).
// CHECK-LABEL: func.func @gather(
// CHECK:         llmc.maps = [affine_map<(d0, d1, d2)[s0] -> (d0, s0)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>]
func.func @gather(%x: tensor<3x4xf32>, %i: tensor<2x5xi64>) -> tensor<3x2x5xf32> {
  %0 = graph.gather %x, %i {axis = 1 : i64} : tensor<3x4xf32>, tensor<2x5xi64> -> tensor<3x2x5xf32>
  return %0 : tensor<3x2x5xf32>
}

// -----

// Transpose and slice are affine in the result's loops.
// CHECK-LABEL: func.func @layout(
// CHECK:         graph.transpose
// CHECK-SAME:      llmc.maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>]
// CHECK:         graph.slice
// CHECK-SAME:      llmc.maps = [affine_map<(d0, d1) -> (-d0 + 3, d1 * 2)>, affine_map<(d0, d1) -> (d0, d1)>]
func.func @layout(%x: tensor<6x4xf32>) -> tensor<2x2xf32> {
  %0 = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<6x4xf32> -> tensor<4x6xf32>
  %1 = graph.slice %0 {starts = array<i64: 3, 0>, sizes = array<i64: 2, 2>, steps = array<i64: -1, 2>} : tensor<4x6xf32> -> tensor<2x2xf32>
  return %1 : tensor<2x2xf32>
}

// -----

// Reshape delinearizes exactly with floordiv and mod.
// CHECK-LABEL: func.func @reshape(
// CHECK:         llmc.maps = [affine_map<(d0, d1) -> (((d0 * 3 + d1) floordiv 2) mod 3, (d0 * 3 + d1) mod 2)>, affine_map<(d0, d1) -> (d0, d1)>]
func.func @reshape(%x: tensor<3x2xf32>) -> tensor<2x3xf32> {
  %0 = graph.reshape %x : tensor<3x2xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Attention: loops (b, kvh, g, i, j, d, e); keys j and the dot product d
// are reductions; the bias (a mask over rows and keys) broadcasts over the
// batch and heads.
// CHECK-LABEL: func.func @attention(
// CHECK:         llmc.iterators = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]
// CHECK-SAME:    llmc.maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3, d5)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d4, d5)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d4, d6)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (0, 0, 0, d3, d4)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3, d6)>]
func.func @attention(%q: tensor<2x2x3x4x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x6xf32>, %mask: tensor<1x1x1x4x16xf32>) -> tensor<2x2x3x4x6xf32> {
  %0 = graph.attention %q, %k, %v, %mask {scale = 0.125 : f64} : tensor<2x2x3x4x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x6xf32>, tensor<1x1x1x4x16xf32> -> tensor<2x2x3x4x6xf32>
  return %0 : tensor<2x2x3x4x6xf32>
}
