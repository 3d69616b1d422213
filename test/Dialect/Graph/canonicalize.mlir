// Folders and canonicalization patterns of the graph dialect.
// RUN: llmc-opt %s -split-input-file -canonicalize | FileCheck %s

// Shape subgraphs fold to constants.
// CHECK-LABEL: func.func @shape_chain(
// CHECK:         %[[C:.*]] = graph.constant dense<[2, 12]> : tensor<2xi64>
// CHECK:         return %[[C]]
func.func @shape_chain(%x: tensor<2x3x4xf32>) -> tensor<2xi64> {
  %s = graph.shape %x : tensor<2x3x4xf32> -> tensor<3xi64>
  %i = graph.constant dense<[1, 2]> : tensor<2xi64>
  %g = graph.gather %s, %i {axis = 0 : i64} : tensor<3xi64>, tensor<2xi64> -> tensor<2xi64>
  %p = graph.reduce %g {kind = "prod", axes = array<i64: 0>, keepdims = true} : tensor<2xi64> -> tensor<1xi64>
  %n = graph.size %x : tensor<2x3x4xf32> -> tensor<i64>
  %q = graph.div %n, %p : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  %d = graph.slice %s {starts = array<i64: 0>, sizes = array<i64: 1>, steps = array<i64: 1>} : tensor<3xi64> -> tensor<1xi64>
  %m = graph.mul %d, %q : tensor<1xi64>, tensor<1xi64> -> tensor<1xi64>
  %r = graph.concat %d, %p {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64> -> tensor<2xi64>
  return %r : tensor<2xi64>
}

// -----

// Identity transposes, same-type reshapes and casts disappear.
// CHECK-LABEL: func.func @identities(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xf32>
// CHECK-NEXT:    return %[[X]]
func.func @identities(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = graph.transpose %x {perm = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = graph.reshape %0 : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = graph.cast %1 : tensor<2x3xf32> -> tensor<2x3xf32>
  return %2 : tensor<2x3xf32>
}

// -----

// Chains of reshapes and of transposes compose.
// CHECK-LABEL: func.func @chains(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3x4xf32>
// CHECK:         %[[T:.*]] = graph.transpose %[[X]] {perm = array<i64: 2, 0, 1>}
// CHECK:         graph.reshape %[[T]] : tensor<4x2x3xf32> -> tensor<24xf32>
// CHECK-NOT:     graph.transpose
func.func @chains(%x: tensor<2x3x4xf32>) -> tensor<24xf32> {
  %0 = graph.transpose %x {perm = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = graph.transpose %0 {perm = array<i64: 1, 2, 0>} : tensor<3x4x2xf32> -> tensor<4x2x3xf32>
  %2 = graph.reshape %1 : tensor<4x2x3xf32> -> tensor<8x3xf32>
  %3 = graph.reshape %2 : tensor<8x3xf32> -> tensor<24xf32>
  return %3 : tensor<24xf32>
}

// -----

// Integer division by zero does not fold (it is undefined in ONNX).
// CHECK-LABEL: func.func @no_fold_div_zero(
// CHECK:         graph.div
func.func @no_fold_div_zero() -> tensor<i64> {
  %a = graph.constant dense<7> : tensor<i64>
  %b = graph.constant dense<0> : tensor<i64>
  %0 = graph.div %a, %b : tensor<i64>, tensor<i64> -> tensor<i64>
  return %0 : tensor<i64>
}

// -----

// Values computed at run time are not folded.
// CHECK-LABEL: func.func @no_fold(
// CHECK:         graph.add
func.func @no_fold(%x: tensor<2xi64>) -> tensor<2xi64> {
  %c = graph.constant dense<1> : tensor<2xi64>
  %0 = graph.add %x, %c : tensor<2xi64>, tensor<2xi64> -> tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// A float constant cast to another float type folds, rounded to nearest
// (ties to even): 0.044715 is 0.04471 in f16, 1e-8 underflows to 0, 70000
// overflows to inf. A cast of a value that is not constant stays.
// CHECK-LABEL: func.func @cast_float_constants(
// CHECK-DAG:     graph.constant dense<[4.470830e-02, 0.000000e+00, 0x7C00]> : tensor<3xf16>
// CHECK-DAG:     graph.constant dense<2.500000e-01> : tensor<bf16>
// CHECK-DAG:     graph.cast %{{.*}} : tensor<3xf32> -> tensor<3xf16>
// CHECK-NOT:     graph.cast
func.func @cast_float_constants(%x: tensor<3xf32>) -> (tensor<3xf16>, tensor<bf16>, tensor<3xf16>) {
  %0 = graph.constant dense<[0.044715, 1.0e-8, 70000.0]> : tensor<3xf32>
  %1 = graph.cast %0 : tensor<3xf32> -> tensor<3xf16>
  %2 = graph.constant dense<0.25> : tensor<f64>
  %3 = graph.cast %2 : tensor<f64> -> tensor<bf16>
  %4 = graph.cast %x : tensor<3xf32> -> tensor<3xf16>
  return %1, %3, %4 : tensor<3xf16>, tensor<bf16>, tensor<3xf16>
}

// -----

// Shape logic folds: comparisons, not/and/or/xor, integer mod (the divisor's
// sign), min and max; the ONNX Attention function's GQA test computes its
// Expand shape so.
// CHECK-LABEL: func.func @shape_logic(
// CHECK-DAG:     graph.constant dense<[true, false, false]> : tensor<3xi1>
// CHECK-DAG:     graph.constant dense<[false, true, true]> : tensor<3xi1>
// CHECK-DAG:     graph.constant dense<true> : tensor<3xi1>
// CHECK-DAG:     graph.constant dense<[2, -1, 1]> : tensor<3xi64>
// CHECK-DAG:     graph.constant dense<[-7, 2, 3]> : tensor<3xi64>
// CHECK-DAG:     graph.constant dense<[3, 5, 4]> : tensor<3xi64>
// CHECK-NOT:     graph.less
// CHECK-NOT:     graph.not
// CHECK-NOT:     graph.mod
func.func @shape_logic() -> (tensor<3xi1>, tensor<3xi1>, tensor<3xi1>, tensor<3xi1>, tensor<3xi64>, tensor<3xi64>, tensor<3xi64>) {
  %a = graph.constant dense<[-7, 5, 4]> : tensor<3xi64>
  %b = graph.constant dense<[3, 2, 3]> : tensor<3xi64>
  %m = graph.constant dense<[3, -2, 3]> : tensor<3xi64>
  %lt = graph.less %a, %b : tensor<3xi64>, tensor<3xi64> -> tensor<3xi1>
  %ge = graph.greater_equal %a, %b : tensor<3xi64>, tensor<3xi64> -> tensor<3xi1>
  %n = graph.not %ge : tensor<3xi1>
  %le = graph.less_equal %b, %a : tensor<3xi64>, tensor<3xi64> -> tensor<3xi1>
  %t = graph.constant dense<true> : tensor<i1>
  %and = graph.and %n, %t : tensor<3xi1>, tensor<i1> -> tensor<3xi1>
  %or = graph.or %lt, %le : tensor<3xi1>, tensor<3xi1> -> tensor<3xi1>
  %x = graph.xor %or, %lt : tensor<3xi1>, tensor<3xi1> -> tensor<3xi1>
  %mod = graph.mod %a, %m : tensor<3xi64>, tensor<3xi64> -> tensor<3xi64>
  %min = graph.min %a, %b : tensor<3xi64>, tensor<3xi64> -> tensor<3xi64>
  %max = graph.max %a, %b : tensor<3xi64>, tensor<3xi64> -> tensor<3xi64>
  return %and, %or, %x, %le, %mod, %min, %max : tensor<3xi1>, tensor<3xi1>, tensor<3xi1>, tensor<3xi1>, tensor<3xi64>, tensor<3xi64>, tensor<3xi64>
}

// -----

// A float mod and a comparison with a NaN: the comparison folds (NaN is
// unordered: false), the float mod is left to run time.
// CHECK-LABEL: func.func @float_logic(
// CHECK:         graph.constant dense<[false, true]> : tensor<2xi1>
// CHECK:         graph.mod
func.func @float_logic() -> (tensor<2xi1>, tensor<2xf32>) {
  %a = graph.constant dense<[0x7FC00000, 1.0]> : tensor<2xf32>
  %b = graph.constant dense<[2.0, 2.0]> : tensor<2xf32>
  %lt = graph.less %a, %b : tensor<2xf32>, tensor<2xf32> -> tensor<2xi1>
  %m = graph.mod %a, %b : tensor<2xf32>, tensor<2xf32> -> tensor<2xf32>
  return %lt, %m : tensor<2xi1>, tensor<2xf32>
}

// -----

// Float shape arithmetic folds: sqrt, reciprocal, floor, ceil, round (halves
// to even), abs, and casts to int64 truncating toward zero.
// CHECK-LABEL: func.func @float_shape_math(
// CHECK-DAG:     graph.constant dense<[3, 0, -2, 2, 2, 4, 2]> : tensor<7xi64>
// CHECK-NOT:     graph.sqrt
// CHECK-NOT:     graph.cast
func.func @float_shape_math() -> tensor<7xi64> {
  %a = graph.constant dense<[9.0]> : tensor<1xf32>
  %s = graph.sqrt %a : tensor<1xf32>
  %b = graph.constant dense<[4.0]> : tensor<1xf32>
  %r = graph.reciprocal %b : tensor<1xf32>
  %c = graph.constant dense<[-1.5]> : tensor<1xf32>
  %f = graph.floor %c : tensor<1xf32>
  %d = graph.constant dense<[1.2]> : tensor<1xf32>
  %cl = graph.ceil %d : tensor<1xf32>
  %e = graph.constant dense<[2.5]> : tensor<1xf32>
  %rd = graph.round %e : tensor<1xf32>
  %g = graph.constant dense<[-4.0]> : tensor<1xf32>
  %ab = graph.abs %g : tensor<1xf32>
  %h = graph.constant dense<[2.9]> : tensor<1xf32>
  %all = graph.concat %s, %r, %f, %cl, %rd, %ab, %h {axis = 0 : i64} : tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32> -> tensor<7xf32>
  %i = graph.cast %all : tensor<7xf32> -> tensor<7xi64>
  return %i : tensor<7xi64>
}

// -----

// A cast of a NaN or of a value out of the integer type's range is not
// folded (its result is undefined in ONNX).
// CHECK-LABEL: func.func @no_fold_cast_nan(
// CHECK:         graph.cast
func.func @no_fold_cast_nan() -> tensor<2xi32> {
  %a = graph.constant dense<[0x7FC00000, 1.0e10]> : tensor<2xf32>
  %i = graph.cast %a : tensor<2xf32> -> tensor<2xi32>
  return %i : tensor<2xi32>
}

// -----

// A transpose of the trailing dims between two reshapes that only regroup
// the leading dims (torch's SDPA decomposition: [b, h, s, d] -> [b*h, s, d],
// transpose, back) moves onto the original dims, so that no merge of the
// batch and heads remains in between.
// CHECK-LABEL: func.func @transpose_through_leading_reshapes(
// CHECK-SAME:    %[[X:.*]]: tensor<2x2x2x16x8xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %[[X]] {perm = array<i64: 0, 1, 2, 4, 3>} : tensor<2x2x2x16x8xf32> -> tensor<2x2x2x8x16xf32>
// CHECK-NEXT:    %[[R:.*]] = graph.reshape %[[T]] : tensor<2x2x2x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK-NEXT:    return %[[R]]
func.func @transpose_through_leading_reshapes(%x: tensor<2x2x2x16x8xf32>) -> tensor<2x4x8x16xf32> {
  %0 = graph.reshape %x : tensor<2x2x2x16x8xf32> -> tensor<8x16x8xf32>
  %1 = graph.transpose %0 {perm = array<i64: 0, 2, 1>} : tensor<8x16x8xf32> -> tensor<8x8x16xf32>
  %2 = graph.reshape %1 : tensor<8x8x16xf32> -> tensor<2x4x8x16xf32>
  return %2 : tensor<2x4x8x16xf32>
}

// Left as they are: a transpose of every dim between reshapes that
// regroup the permuted dims; a transpose used twice.
// CHECK-LABEL: func.func @transpose_between_other_reshapes(
// CHECK:         graph.reshape %{{.*}} : tensor<2x4x16x8xf32> -> tensor<8x128xf32>
// CHECK:         graph.transpose %{{.*}} {perm = array<i64: 1, 0>}
// CHECK:         graph.reshape %{{.*}} : tensor<128x8xf32> -> tensor<16x8x8xf32>
// CHECK:         graph.reshape %{{.*}} : tensor<2x4x16x8xf32> -> tensor<8x16x8xf32>
// CHECK:         graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1>}
// CHECK:         graph.reshape %{{.*}} : tensor<8x8x16xf32> -> tensor<2x4x8x16xf32>
func.func @transpose_between_other_reshapes(%x: tensor<2x4x16x8xf32>)
    -> (tensor<16x8x8xf32>, tensor<2x4x8x16xf32>, tensor<8x8x16xf32>) {
  %0 = graph.reshape %x : tensor<2x4x16x8xf32> -> tensor<8x128xf32>
  %1 = graph.transpose %0 {perm = array<i64: 1, 0>} : tensor<8x128xf32> -> tensor<128x8xf32>
  %2 = graph.reshape %1 : tensor<128x8xf32> -> tensor<16x8x8xf32>
  %4 = graph.reshape %x : tensor<2x4x16x8xf32> -> tensor<8x16x8xf32>
  %5 = graph.transpose %4 {perm = array<i64: 0, 2, 1>} : tensor<8x16x8xf32> -> tensor<8x8x16xf32>
  %6 = graph.reshape %5 : tensor<8x8x16xf32> -> tensor<2x4x8x16xf32>
  return %2, %6, %5 : tensor<16x8x8xf32>, tensor<2x4x8x16xf32>, tensor<8x8x16xf32>
}

// -----

// Casts to and from the 8- and 4-bit floats are left to run time (their
// rounding, NaNs and overflow live in one place, the lowering); integer
// casts to int4 fold, wrapping.
// CHECK-LABEL: func.func @small_float_casts_do_not_fold
// CHECK-DAG: graph.cast %{{.*}} : tensor<2xf32> -> tensor<2xf8E4M3FN>
// CHECK-DAG: graph.cast %{{.*}} : tensor<2xf32> -> tensor<2xf4E2M1FN>
// CHECK-DAG: graph.constant dense<[-8, 1]> : tensor<2xi4>
func.func @small_float_casts_do_not_fold() -> (tensor<2xf8E4M3FN>, tensor<2xf4E2M1FN>, tensor<2xi4>) {
  %c = graph.constant dense<[1.5, 500.0]> : tensor<2xf32>
  %0 = graph.cast %c : tensor<2xf32> -> tensor<2xf8E4M3FN>
  %1 = graph.cast %c : tensor<2xf32> -> tensor<2xf4E2M1FN>
  %i = graph.constant dense<[8, 17]> : tensor<2xi32>
  %2 = graph.cast %i : tensor<2xi32> -> tensor<2xi4>
  return %0, %1, %2 : tensor<2xf8E4M3FN>, tensor<2xf4E2M1FN>, tensor<2xi4>
}
