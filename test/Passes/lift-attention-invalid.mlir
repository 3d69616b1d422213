// Invalid input: an unknown target.
// RUN: not llmc-opt %s -pass-pipeline='builtin.module(func.func(llmc-lift-attention{target=tpu}))' 2>&1 | FileCheck %s
// CHECK: error: llmc-lift-attention: unknown target 'tpu' (expected cpu or cuda)
func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
