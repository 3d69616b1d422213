// A malformed constant is rejected before the pass runs.
// RUN: not llmc-opt %s -llmc-outline-weights 2>&1 | FileCheck %s

// CHECK: error: 'graph.constant' op value type differs from the result type
func.func @main() -> tensor<3xf32> {
  %0 = "graph.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return %0 : tensor<3xf32>
}
