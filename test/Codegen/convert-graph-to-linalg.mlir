// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg | FileCheck %s

// An elementwise op becomes a linalg.generic built from its iteration-space
// maps (broadcast dim -> constant 0) and its scalar body.
// CHECK-DAG:   #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$BC:.*]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func.func @add(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xf32>, %[[Y:.*]]: tensor<1x3xf32>
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<2x3xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[$ID]], #[[$BC]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[X]], %[[Y]] : tensor<2x3xf32>, tensor<1x3xf32>) outs(%[[E]] : tensor<2x3xf32>)
// CHECK:           arith.addf
func.func @add(%x: tensor<2x3xf32>, %y: tensor<1x3xf32>) -> tensor<2x3xf32> {
  %0 = graph.add %x, %y : tensor<2x3xf32>, tensor<1x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Unsigned tensors become signless; the body keeps unsigned semantics.
// CHECK-LABEL: func.func @unsigned(
// CHECK-SAME:    tensor<4xi8>
// CHECK:         arith.divui
// CHECK:         arith.cmpi ult
func.func @unsigned(%x: tensor<4xui8>) -> tensor<4xi1> {
  %0 = graph.div %x, %x : tensor<4xui8>, tensor<4xui8> -> tensor<4xui8>
  %1 = graph.less %0, %x : tensor<4xui8>, tensor<4xui8> -> tensor<4xi1>
  return %1 : tensor<4xi1>
}

// -----

// A reduction is one generic with a reduction loop, then a reshape for
// keepdims.
// CHECK-LABEL: func.func @reduce_max(
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:           arith.maximumf
// CHECK:         tensor.reshape
func.func @reduce_max(%x: tensor<2x3xf32>) -> tensor<2x1xf32> {
  %0 = graph.reduce %x {kind = "max", axes = array<i64: 1>, keepdims = true} : tensor<2x3xf32> -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// An f16 mean accumulates in f32 (each element widened, the division in
// f32) and is narrowed once at the end; an f16 max stays in f16 (exact).
// CHECK-LABEL: func.func @reduce_f16(
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2xf32>)
// CHECK:         linalg.generic
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:           arith.addf %{{.*}} : f32
// CHECK:         linalg.generic
// CHECK:           arith.divf %{{.*}} : f32
// CHECK:         linalg.generic
// CHECK:           arith.truncf %{{.*}} : f32 to f16
// CHECK:         linalg.fill ins(%{{.*}} : f16) outs(%{{.*}} : tensor<2xf16>)
// CHECK:         linalg.generic
// CHECK-NOT:       arith.extf
// CHECK:           arith.maximumf %{{.*}} : f16
func.func @reduce_f16(%x: tensor<2x3xf16>) -> (tensor<2xf16>, tensor<2xf16>) {
  %0 = graph.reduce %x {kind = "mean", axes = array<i64: 1>, keepdims = false} : tensor<2x3xf16> -> tensor<2xf16>
  %1 = graph.reduce %x {kind = "max", axes = array<i64: 1>, keepdims = false} : tensor<2x3xf16> -> tensor<2xf16>
  return %0, %1 : tensor<2xf16>, tensor<2xf16>
}

// -----

// Gathers read through clamped indices.
// CHECK-LABEL: func.func @gather(
// CHECK:         linalg.generic
// CHECK:           tensor.extract
// CHECK:           arith.minsi
// CHECK:           arith.maxsi
// CHECK:           tensor.extract
func.func @gather(%x: tensor<5x3xf32>, %i: tensor<2xi64>) -> tensor<2x3xf32> {
  %0 = graph.gather %x, %i {axis = 0 : i64} : tensor<5x3xf32>, tensor<2xi64> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Convolution pads its input, then accumulates over (c, kh, kw).
// CHECK-LABEL: func.func @conv(
// CHECK:         tensor.pad
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
func.func @conv(%x: tensor<1x2x5x5xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x5x5xf32> {
  %0 = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x5x5xf32>
  return %0 : tensor<1x4x5x5xf32>
}

// -----

// TopK selects k times per row: an outer loop over the other dims, a loop
// over the k rounds carrying the last pick (no scratch tensor), and a scan
// of the row: NaN above every number, equal values (or two NaNs) in index
// order.
// CHECK-LABEL: func.func @topk(
// CHECK-NOT:     linalg.fill
// CHECK:         scf.for
// CHECK:           scf.for {{.*}} iter_args({{.*}}) -> (tensor<2x3xf32>, tensor<2x3xi64>, f32, i64)
// CHECK:             scf.for
// CHECK-DAG:           arith.cmpf uno
// CHECK-DAG:           arith.cmpf ogt
// CHECK-DAG:           arith.cmpf oeq
// CHECK:             tensor.insert
// CHECK:             tensor.insert
func.func @topk(%x: tensor<2x5xf32>) -> (tensor<2x3xf32>, tensor<2x3xi64>) {
  %0, %1 = graph.topk %x {k = 3 : i64, axis = 1 : i64, largest = true, sorted = true} : tensor<2x5xf32> -> tensor<2x3xf32>, tensor<2x3xi64>
  return %0, %1 : tensor<2x3xf32>, tensor<2x3xi64>
}
