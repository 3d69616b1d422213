// Malformed math ops are rejected before the pass runs.
// RUN: not llmc-opt %s -llmc-approximate-math 2>&1 | FileCheck %s

// CHECK: error: 'math.tanh' op operand #0 must be floating-point-like, but got 'i32'
func.func @bad(%x: i32) -> i32 {
  %0 = "math.tanh"(%x) : (i32) -> i32
  return %0 : i32
}
