// RUN: llmc-opt %s -split-input-file -llmc-approximate-math | FileCheck %s

// f32 tanh becomes a polynomial: no math.tanh (no libm call) remains.
// CHECK-LABEL: func.func @tanh_f32(
// CHECK-NOT:     math.tanh
// CHECK:         arith.mulf
// CHECK:         return
func.func @tanh_f32(%x: f32) -> f32 {
  %0 = math.tanh %x : f32
  return %0 : f32
}

// -----

// Other element types and other functions stay as they are.
// CHECK-LABEL: func.func @untouched(
// CHECK:         math.tanh %{{.*}} : f64
// CHECK:         math.sin %{{.*}} : f32
func.func @untouched(%x: f64, %y: f32) -> (f64, f32) {
  %0 = math.tanh %x : f64
  %1 = math.sin %y : f32
  return %0, %1 : f64, f32
}
