// Round trip of every graph op, in custom and in generic form.
// RUN: llmc-opt %s | llmc-opt | FileCheck %s
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | FileCheck %s
// Every op describes a consistent iteration space (maps fit loops and ranks).
// RUN: llmc-opt %s -llmc-test-iteration-space > /dev/null

// CHECK-LABEL: func.func @elementwise(
func.func @elementwise(%x: tensor<2x3xf32>, %y: tensor<3xf32>, %i: tensor<2x3xi32>,
                       %u: tensor<2x3xui8>, %c: tensor<2x3xi1>) -> tensor<2x3xf32> {
  // CHECK: graph.abs %{{.*}} : tensor<2x3xf32>
  %0 = graph.abs %x : tensor<2x3xf32>
  // CHECK: graph.exp
  %1 = graph.exp %0 : tensor<2x3xf32>
  // CHECK: graph.erf
  %2 = graph.erf %1 : tensor<2x3xf32>
  // CHECK: graph.gelu %{{.*}} {approximate = "tanh"}
  %3 = graph.gelu %2 {approximate = "tanh"} : tensor<2x3xf32>
  // CHECK: graph.leaky_relu %{{.*}} {alpha = 1.000000e-01 : f64}
  %4 = graph.leaky_relu %3 {alpha = 0.1 : f64} : tensor<2x3xf32>
  // CHECK: graph.clip %{{.*}} {max = 6.000000e+00 : f64, min = 0.000000e+00 : f64}
  %5 = graph.clip %4 {min = 0.0 : f64, max = 6.0 : f64} : tensor<2x3xf32>
  // CHECK: graph.add %{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  %6 = graph.add %5, %y : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  // CHECK: graph.mod %{{.*}}, %{{.*}} {fmod = true}
  %7 = graph.mod %6, %y {fmod = true} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  // CHECK: graph.less %{{.*}} -> tensor<2x3xi1>
  %8 = graph.less %7, %y : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xi1>
  // CHECK: graph.and
  %9 = graph.and %8, %c : tensor<2x3xi1>, tensor<2x3xi1> -> tensor<2x3xi1>
  // CHECK: graph.where
  %10 = graph.where %9, %7, %x : tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  // CHECK: graph.cast %{{.*}} : tensor<2x3xi32> -> tensor<2x3xf32>
  %11 = graph.cast %i : tensor<2x3xi32> -> tensor<2x3xf32>
  // CHECK: graph.bit_shift %{{.*}} {direction = "LEFT"}
  %12 = graph.bit_shift %u, %u {direction = "LEFT"} : tensor<2x3xui8>, tensor<2x3xui8> -> tensor<2x3xui8>
  // CHECK: graph.is_inf %{{.*}} {detect_negative = false}
  %13 = graph.is_inf %x {detect_negative = false} : tensor<2x3xf32> -> tensor<2x3xi1>
  // CHECK: graph.broadcast_to %{{.*}} : tensor<3xf32> -> tensor<2x3xf32>
  %14 = graph.broadcast_to %y : tensor<3xf32> -> tensor<2x3xf32>
  %15 = graph.mul %10, %11 : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  %16 = graph.sub %15, %14 : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %16 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @reductions(
func.func @reductions(%x: tensor<2x3x4xf32>) -> (tensor<2x1x4xf32>, tensor<2x4xi64>, tensor<2x3x4xf32>, tensor<2x3x2xf32>, tensor<2x3x2xi64>) {
  // CHECK: graph.reduce %{{.*}} {axes = array<i64: 1>, keepdims = true, kind = "mean"}
  %0 = graph.reduce %x {kind = "mean", axes = array<i64: 1>, keepdims = true} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  // CHECK: graph.arg_reduce
  %1 = graph.arg_reduce %x {kind = "max", axis = 1 : i64, keepdims = false, select_last_index = false} : tensor<2x3x4xf32> -> tensor<2x4xi64>
  // CHECK: graph.cumsum
  %2 = graph.cumsum %x {axis = 2 : i64, exclusive = false, reverse = true} : tensor<2x3x4xf32>
  // CHECK: graph.topk
  %3, %4 = graph.topk %x {k = 2 : i64, axis = 2 : i64, largest = true, sorted = true} : tensor<2x3x4xf32> -> tensor<2x3x2xf32>, tensor<2x3x2xi64>
  return %0, %1, %2, %3, %4 : tensor<2x1x4xf32>, tensor<2x4xi64>, tensor<2x3x4xf32>, tensor<2x3x2xf32>, tensor<2x3x2xi64>
}

// CHECK-LABEL: func.func @composites(
func.func @composites(%x: tensor<2x3x4xf32>, %s: tensor<4xf32>, %c: tensor<3xf32>,
                      %a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %bias: tensor<4xf32>) -> tensor<2x4xf32> {
  // CHECK: graph.softmax %{{.*}} {axis = 2 : i64}
  %0 = graph.softmax %x {axis = 2 : i64} : tensor<2x3x4xf32>
  // CHECK: graph.log_softmax
  %1 = graph.log_softmax %0 {axis = 1 : i64} : tensor<2x3x4xf32>
  // CHECK: graph.hardmax
  %2 = graph.hardmax %1 {axis = 0 : i64} : tensor<2x3x4xf32>
  // CHECK: graph.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 2 : i64
  %3 = graph.layer_norm %2, %s, %s {axis = 2 : i64, epsilon = 1.0e-5 : f64} : tensor<2x3x4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<2x3x4xf32>
  // CHECK: graph.batch_norm
  %4 = graph.batch_norm %3, %c, %c, %c, %c {epsilon = 1.0e-5 : f64} : tensor<2x3x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<2x3x4xf32>
  // CHECK: graph.instance_norm
  %5 = graph.instance_norm %4, %c, %c {epsilon = 1.0e-5 : f64} : tensor<2x3x4xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<2x3x4xf32>
  // CHECK: graph.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 1.000000e+00 : f64
  %6 = graph.gemm %a, %b, %bias {alpha = 1.0 : f64, beta = 1.0 : f64, transA = false, transB = false} : tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  return %6 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @contractions(
func.func @contractions(%a: tensor<5x2x3xf32>, %b: tensor<3x4xf32>, %x: tensor<1x4x8x8xf32>,
                        %w: tensor<6x2x3x3xf32>, %bias: tensor<6xf32>) -> (tensor<5x2x4xf32>, tensor<5x2xf32>, tensor<1x6x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) {
  // CHECK: graph.matmul %{{.*}}, %{{.*}} : tensor<5x2x3xf32>, tensor<3x4xf32> -> tensor<5x2x4xf32>
  %0 = graph.matmul %a, %b : tensor<5x2x3xf32>, tensor<3x4xf32> -> tensor<5x2x4xf32>
  // CHECK: graph.einsum %{{.*}} {equation = "bij->bi"}
  %1 = graph.einsum %a {equation = "bij->bi"} : tensor<5x2x3xf32> -> tensor<5x2xf32>
  // CHECK: graph.conv %{{.*}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, group = 2 : i64
  %2 = graph.conv %x, %w, %bias {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 2 : i64} : tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>, tensor<6xf32> -> tensor<1x6x4x4xf32>
  // CHECK: graph.max_pool
  %3 = graph.max_pool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  // CHECK: graph.avg_pool
  %4 = graph.avg_pool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, count_pads = array<i64: 0, 0, 0, 0>} : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  return %0, %1, %2, %3, %4 : tensor<5x2x4xf32>, tensor<5x2xf32>, tensor<1x6x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>
}

// CHECK-LABEL: func.func @conv_transpose(
func.func @conv_transpose(%x: tensor<1x2x3x3xf32>, %w: tensor<2x3x3x3xf32>) -> tensor<1x3x5x5xf32> {
  // CHECK: graph.conv_transpose
  %0 = graph.conv_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x2x3x3xf32>, tensor<2x3x3x3xf32> -> tensor<1x3x5x5xf32>
  return %0 : tensor<1x3x5x5xf32>
}

// CHECK-LABEL: func.func @data_movement(
func.func @data_movement(%x: tensor<2x3x4xf32>, %i: tensor<5xi64>, %j: tensor<2x3x4xi64>,
                         %k: tensor<2x1xi64>) -> tensor<2x3x5xf32> {
  // CHECK: graph.constant dense<1.000000e+00> : tensor<2xf32>
  %c = graph.constant dense<1.0> : tensor<2xf32>
  // CHECK: graph.shape %{{.*}} -> tensor<3xi64>
  %s = graph.shape %x : tensor<2x3x4xf32> -> tensor<3xi64>
  // CHECK: graph.size
  %n = graph.size %x : tensor<2x3x4xf32> -> tensor<i64>
  // CHECK: graph.reshape %{{.*}} : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %0 = graph.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  // CHECK: graph.transpose %{{.*}} {perm = array<i64: 1, 0>}
  %1 = graph.transpose %0 {perm = array<i64: 1, 0>} : tensor<6x4xf32> -> tensor<4x6xf32>
  // CHECK: graph.slice
  %2 = graph.slice %1 {starts = array<i64: 3, 0>, sizes = array<i64: 2, 6>, steps = array<i64: -1, 1>} : tensor<4x6xf32> -> tensor<2x6xf32>
  // CHECK: graph.concat
  %3 = graph.concat %2, %2 {axis = 0 : i64} : tensor<2x6xf32>, tensor<2x6xf32> -> tensor<4x6xf32>
  // CHECK: graph.pad %{{.*}} {mode = "reflect"
  %4 = graph.pad %3 {pads = array<i64: 1, 0, 1, 0>, mode = "reflect", value = 0.0 : f64} : tensor<4x6xf32> -> tensor<6x6xf32>
  // CHECK: graph.tile
  %5 = graph.tile %4 {repeats = array<i64: 1, 2>} : tensor<6x6xf32> -> tensor<6x12xf32>
  // CHECK: graph.trilu
  %6 = graph.trilu %5 {upper = true, k = 1 : i64} : tensor<6x12xf32>
  // CHECK: graph.gather
  %7 = graph.gather %x, %i {axis = 2 : i64} : tensor<2x3x4xf32>, tensor<5xi64> -> tensor<2x3x5xf32>
  // CHECK: graph.gather_elements
  %8 = graph.gather_elements %x, %j {axis = 1 : i64} : tensor<2x3x4xf32>, tensor<2x3x4xi64> -> tensor<2x3x4xf32>
  // CHECK: graph.gather_nd
  %9 = graph.gather_nd %x, %k {batch_dims = 0 : i64} : tensor<2x3x4xf32>, tensor<2x1xi64> -> tensor<2x3x4xf32>
  // CHECK: graph.scatter_elements
  %10 = graph.scatter_elements %x, %j, %8 {axis = 1 : i64, reduction = "add"} : tensor<2x3x4xf32>, tensor<2x3x4xi64>, tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  // CHECK: graph.scatter_nd
  %11 = graph.scatter_nd %10, %k, %9 {reduction = "none"} : tensor<2x3x4xf32>, tensor<2x1xi64>, tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  // CHECK: graph.one_hot
  %12 = graph.one_hot %i, %c {axis = 1 : i64} : tensor<5xi64>, tensor<2xf32> -> tensor<5x3xf32>
  // CHECK: graph.resize %{{.*}} {coordinate_transformation_mode = "half_pixel"
  %13 = graph.resize %x {mode = "linear", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", scales = array<f64: 1.0, 1.0, 2.0>} : tensor<2x3x4xf32> -> tensor<2x3x8xf32>
  // CHECK: graph.resize %{{.*}} {coordinate_transformation_mode = "half_pixel_symmetric", cubic_coeff_a = -5.000000e-01 : f64, exclude_outside = true, mode = "cubic"
  %cubic = graph.resize %x {mode = "cubic", coordinate_transformation_mode = "half_pixel_symmetric", nearest_mode = "floor", scales = array<f64: 1.0, 1.0, 2.0>, cubic_coeff_a = -0.5 : f64, exclude_outside = true} : tensor<2x3x4xf32> -> tensor<2x3x8xf32>
  return %7 : tensor<2x3x5xf32>
}

// CHECK-LABEL: func.func @fusion_group(
func.func @fusion_group(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>) {
  // CHECK: %[[G:.*]]:2 = graph.fusion_group "row"(%{{.*}}, %{{.*}}) {bytes_read = 160 : i64, bytes_written = 144 : i64} : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>)
  // CHECK: ^bb0(%[[A:.*]]: tensor<4x8xf32>, %[[C:.*]]: tensor<8xf32>):
  // CHECK: graph.add %[[A]], %[[C]]
  // CHECK: graph.reduce
  // CHECK: graph.yield %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<4x1xf32>
  %0:2 = graph.fusion_group "row" (%x, %b) {bytes_read = 160 : i64, bytes_written = 144 : i64}
      : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>) {
  ^bb0(%a: tensor<4x8xf32>, %c: tensor<8xf32>):
    %s = graph.add %a, %c : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
    %m = graph.reduce %s {axes = array<i64: 1>, keepdims = true, kind = "max"} : tensor<4x8xf32> -> tensor<4x1xf32>
    graph.yield %s, %m : tensor<4x8xf32>, tensor<4x1xf32>
  }
  return %0#0, %0#1 : tensor<4x8xf32>, tensor<4x1xf32>
}

// Attention: grouped queries (2 KV heads, 3 query heads each), with a
// broadcast bias (a causal mask over the rows and keys) and without one.
// CHECK-LABEL: func.func @attention(
// CHECK: graph.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f64} : tensor<2x2x3x4x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x6xf32>, tensor<1x1x1x4x16xf32> -> tensor<2x2x3x4x6xf32>
// CHECK: graph.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f64} : tensor<1x4x1x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32> -> tensor<1x4x1x4x8xf32>
func.func @attention(%q: tensor<2x2x3x4x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x6xf32>,
                     %mask: tensor<1x1x1x4x16xf32>, %q2: tensor<1x4x1x4x8xf32>,
                     %k2: tensor<1x4x4x8xf32>) -> (tensor<2x2x3x4x6xf32>, tensor<1x4x1x4x8xf32>) {
  %0 = graph.attention %q, %k, %v, %mask {scale = 0.125 : f64} : tensor<2x2x3x4x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x6xf32>, tensor<1x1x1x4x16xf32> -> tensor<2x2x3x4x6xf32>
  %1 = graph.attention %q2, %k2, %k2 {scale = 1.0 : f64} : tensor<1x4x1x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32> -> tensor<1x4x1x4x8xf32>
  return %0, %1 : tensor<2x2x3x4x6xf32>, tensor<1x4x1x4x8xf32>
}

// The 8- and 4-bit storage types: data movement and casts take them.
// CHECK-LABEL: func.func @small_types(
// CHECK: graph.cast %{{.*}} : tensor<4xf32> -> tensor<4xf8E4M3FN>
// CHECK: graph.cast %{{.*}} : tensor<4xf8E5M2FNUZ> -> tensor<4xf16>
// CHECK: graph.cast %{{.*}} : tensor<4xi4> -> tensor<4xf32>
// CHECK: graph.cast %{{.*}} : tensor<4xf32> -> tensor<4xui4>
// CHECK: graph.reshape %{{.*}} : tensor<4xf4E2M1FN> -> tensor<2x2xf4E2M1FN>
func.func @small_types(%x: tensor<4xf32>, %e: tensor<4xf8E5M2FNUZ>, %i: tensor<4xi4>,
                       %f4: tensor<4xf4E2M1FN>)
    -> (tensor<4xf8E4M3FN>, tensor<4xf16>, tensor<4xf32>, tensor<4xui4>, tensor<2x2xf4E2M1FN>) {
  %0 = graph.cast %x : tensor<4xf32> -> tensor<4xf8E4M3FN>
  %1 = graph.cast %e : tensor<4xf8E5M2FNUZ> -> tensor<4xf16>
  %2 = graph.cast %i : tensor<4xi4> -> tensor<4xf32>
  %3 = graph.cast %x : tensor<4xf32> -> tensor<4xui4>
  %4 = graph.reshape %f4 : tensor<4xf4E2M1FN> -> tensor<2x2xf4E2M1FN>
  return %0, %1, %2, %3, %4 : tensor<4xf8E4M3FN>, tensor<4xf16>, tensor<4xf32>, tensor<4xui4>, tensor<2x2xf4E2M1FN>
}
