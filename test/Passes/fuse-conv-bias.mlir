// On CUDA a convolution's bias is an epilogue: llmc-fuse splits it off the
// f32 1-D/2-D convolution (a cuDNN call) into a broadcast add that the
// planner fuses into the consumer's kernel. On the CPU the bias stays on
// the convolution, whose GEMM accumulates onto it.
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse{target=cuda}))' | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse{target=cpu}))' | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @conv_bias_relu
// CHECK: %[[C:.*]] = graph.conv %arg0, %arg1 {
// CHECK-SAME: tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x4x4xf32>
// CHECK-NEXT: graph.fusion_group "loop"(%arg2, %[[C]])
// CHECK: graph.reshape %{{.*}} : tensor<3xf32> -> tensor<3x1x1xf32>
// CHECK-NEXT: graph.add
// CHECK-NEXT: graph.relu
// CPU-LABEL: func.func @conv_bias_relu
// CPU: graph.conv %arg0, %arg1, %arg2 {
// CPU-NOT: graph.add
func.func @conv_bias_relu(%x: tensor<1x2x6x6xf32>, %w: tensor<3x2x3x3xf32>, %b: tensor<3xf32>) -> tensor<1x3x4x4xf32> {
  %c = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32>, tensor<3xf32> -> tensor<1x3x4x4xf32>
  %r = graph.relu %c : tensor<1x3x4x4xf32>
  return %r : tensor<1x3x4x4xf32>
}

// -----

// Must not change: a convolution without a bias, and one that is not a
// cuDNN call (f64, or 3-D), keep their form on CUDA too.
// CHECK-LABEL: func.func @kept
// CHECK: graph.conv %arg0, %arg1 {
// CHECK: graph.conv %arg2, %arg3, %arg4 {
// CHECK: graph.conv %arg5, %arg6, %arg7 {
// CHECK-NOT: graph.add
func.func @kept(%x: tensor<1x2x6x6xf32>, %w: tensor<3x2x3x3xf32>,
                %x64: tensor<1x2x6x6xf64>, %w64: tensor<3x2x3x3xf64>, %b64: tensor<3xf64>,
                %x3: tensor<1x2x4x4x4xf32>, %w3: tensor<3x2x3x3x3xf32>, %b3: tensor<3xf32>)
    -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf64>, tensor<1x3x2x2x2xf32>) {
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x4x4xf32>
  %d = graph.conv %x64, %w64, %b64 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x2x6x6xf64>, tensor<3x2x3x3xf64>, tensor<3xf64> -> tensor<1x3x4x4xf64>
  %e = graph.conv %x3, %w3, %b3 {strides = array<i64: 1, 1, 1>, pads = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, group = 1 : i64} : tensor<1x2x4x4x4xf32>, tensor<3x2x3x3x3xf32>, tensor<3xf32> -> tensor<1x3x2x2x2xf32>
  return %c, %d, %e : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf64>, tensor<1x3x2x2x2xf32>
}
