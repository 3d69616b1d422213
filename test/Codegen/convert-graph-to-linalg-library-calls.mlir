// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg | FileCheck %s
// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg=library-calls=false | FileCheck %s --check-prefix=GENERIC
// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg -canonicalize | FileCheck %s --check-prefix=CANON

// A matmul becomes a generic marked for the BLAS kernel, with the
// parameters [transA, transB] as an extra input.
// CHECK-DAG:   #[[$A:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG:   #[[$B:.*]] = affine_map<(d0, d1, d2, d3) -> (0, d3, d2)>
// CHECK-LABEL: func.func @matmul(
// CHECK:         %[[P:.*]] = arith.constant dense<0> : tensor<2xi64>
// CHECK:         linalg.generic {indexing_maps = [#[[$A]], #[[$B]], {{.*}}], {{.*}}library_call = "llmc_matmul_f32"}
// CHECK-SAME:      ins(%{{.*}}, %{{.*}}, %[[P]] : tensor<5x2x3xf32>, tensor<1x3x4xf32>, tensor<2xi64>)
// GENERIC-LABEL: func.func @matmul(
// GENERIC-NOT:     library_call
func.func @matmul(%a: tensor<5x2x3xf32>, %b: tensor<3x4xf32>) -> tensor<5x2x4xf32> {
  %0 = graph.matmul %a, %b : tensor<5x2x3xf32>, tensor<3x4xf32> -> tensor<5x2x4xf32>
  return %0 : tensor<5x2x4xf32>
}

// -----

// A transpose of the last two dims feeding a matmul is not materialised:
// the generic reads the stored tensor through a permuted map and tells the
// kernel (transB = 1).
// CHECK-DAG:   #[[$BT:.*]] = affine_map<(d0, d1, d2, d3) -> (0, d2, d3)>
// CHECK-LABEL: func.func @matmul_transposed_weight(
// CHECK-SAME:    %{{.*}}: tensor<2x3xf32>, %[[W:[^:]*]]: tensor<4x3xf32>
// CHECK:         %[[WS:.*]] = tensor.reshape %[[W]]
// CHECK:         %[[P:.*]] = arith.constant dense<[0, 1]> : tensor<2xi64>
// CHECK:         linalg.generic {indexing_maps = [#{{.*}}, #[[$BT]], {{.*}}library_call = "llmc_matmul_f32"}
// CHECK-SAME:      ins(%{{.*}}, %[[WS]], %[[P]] : tensor<1x2x3xf32>, tensor<1x4x3xf32>, tensor<2xi64>)
// The transpose is left unused, and canonicalization removes it.
// CANON-LABEL: func.func @matmul_transposed_weight(
// CANON-NOT:     linalg.transpose
// CANON:         return
func.func @matmul_transposed_weight(%a: tensor<2x3xf32>, %w: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %t = graph.transpose %w {perm = array<i64: 1, 0>} : tensor<4x3xf32> -> tensor<3x4xf32>
  %0 = graph.matmul %a, %t : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Both operands transposed in a batched product (attention's Q * K^T shape).
// CHECK-LABEL: func.func @matmul_both_transposed(
// CHECK:         arith.constant dense<1> : tensor<2xi64>
// CHECK:         library_call = "llmc_matmul_f32"
// CHECK-SAME:      ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2x3x5xf32>, tensor<2x4x3xf32>, tensor<2xi64>)
func.func @matmul_both_transposed(%a: tensor<2x3x5xf32>, %b: tensor<2x4x3xf32>) -> tensor<2x5x4xf32> {
  %at = graph.transpose %a {perm = array<i64: 0, 2, 1>} : tensor<2x3x5xf32> -> tensor<2x5x3xf32>
  %bt = graph.transpose %b {perm = array<i64: 0, 2, 1>} : tensor<2x4x3xf32> -> tensor<2x3x4xf32>
  %0 = graph.matmul %at, %bt : tensor<2x5x3xf32>, tensor<2x3x4xf32> -> tensor<2x5x4xf32>
  return %0 : tensor<2x5x4xf32>
}

// -----

// A transpose that moves a batch dim is not a BLAS transpose: it is
// materialised and the kernel reads the result as is (transA = transB = 0).
// CHECK-LABEL: func.func @matmul_batch_transpose(
// CHECK:         linalg.transpose
// CHECK:         arith.constant dense<0> : tensor<2xi64>
// CHECK:         library_call = "llmc_matmul_f32"
func.func @matmul_batch_transpose(%a: tensor<3x2x5xf32>, %b: tensor<2x5x4xf32>) -> tensor<2x3x4xf32> {
  %at = graph.transpose %a {perm = array<i64: 1, 0, 2>} : tensor<3x2x5xf32> -> tensor<2x3x5xf32>
  %0 = graph.matmul %at, %b : tensor<2x3x5xf32>, tensor<2x5x4xf32> -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// Integer matmul has no BLAS kernel: a plain generic.
// CHECK-LABEL: func.func @matmul_int(
// CHECK-NOT:     library_call
func.func @matmul_int(%a: tensor<2x3xi32>, %b: tensor<3x4xi32>) -> tensor<2x4xi32> {
  %0 = graph.matmul %a, %b : tensor<2x3xi32>, tensor<3x4xi32> -> tensor<2x4xi32>
  return %0 : tensor<2x4xi32>
}
