// With half-gemms (the CUDA pipeline's), f16 and bf16 matmuls are library
// calls for cuBLASLt: the operands are widened in the body, accumulate in
// f32 into an f32 result, and a cast narrows it. Without it (the CPU's,
// whose BLAS has no half types) they stay plain generics.
// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg=half-gemms | FileCheck %s
// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @matmul_f16(
// CHECK:         %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[C:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%{{.*}} : tensor<1x2x4xf32>)
// CHECK:         linalg.generic
// CHECK-SAME:      library_call = "llmc_matmul_f16"
// CHECK-SAME:      outs(%[[C]] : tensor<1x2x4xf32>)
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:           arith.mulf %{{.*}} : f32
// CHECK:           arith.addf %{{.*}} : f32
// CHECK:         linalg.generic
// CHECK:           arith.truncf %{{.*}} : f32 to f16
// CPU-LABEL: func.func @matmul_f16(
// CPU-NOT:     library_call
func.func @matmul_f16(%a: tensor<2x3xf16>, %b: tensor<3x4xf16>) -> tensor<2x4xf16> {
  %0 = graph.matmul %a, %b : tensor<2x3xf16>, tensor<3x4xf16> -> tensor<2x4xf16>
  return %0 : tensor<2x4xf16>
}

// -----

// CHECK-LABEL: func.func @matmul_bf16(
// CHECK:         library_call = "llmc_matmul_bf16"
// CHECK:           arith.truncf %{{.*}} : f32 to bf16
// CPU-LABEL: func.func @matmul_bf16(
// CPU-NOT:     library_call
func.func @matmul_bf16(%a: tensor<2x3xbf16>, %b: tensor<3x4xbf16>) -> tensor<2x4xbf16> {
  %0 = graph.matmul %a, %b : tensor<2x3xbf16>, tensor<3x4xbf16> -> tensor<2x4xbf16>
  return %0 : tensor<2x4xbf16>
}

// -----

// Must not change: f32 matmuls keep their f32 library call, integer ones
// stay generics, with half-gemms too.
// CHECK-LABEL: func.func @others(
// CHECK:         library_call = "llmc_matmul_f32"
// CHECK-NOT:     arith.truncf
// CHECK-NOT:     library_call
// CPU-LABEL: func.func @others(
// CPU:         library_call = "llmc_matmul_f32"
func.func @others(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<2x3xi32>, %d: tensor<3x4xi32>) -> (tensor<2x4xf32>, tensor<2x4xi32>) {
  %0 = graph.matmul %a, %b : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
  %1 = graph.matmul %c, %d : tensor<2x3xi32>, tensor<3x4xi32> -> tensor<2x4xi32>
  return %0, %1 : tensor<2x4xf32>, tensor<2x4xi32>
}
