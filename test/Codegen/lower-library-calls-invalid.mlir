// A marked generic still on tensors: the pass must run after bufferization.
// RUN: not llmc-opt %s -llmc-lower-library-calls 2>&1 | FileCheck %s

#id = affine_map<(d0) -> (d0)>
// CHECK: error: 'linalg.generic' op has a library_call but works on tensors: run llmc-lower-library-calls after bufferization
func.func @tensors(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"], library_call = "llmc_matmul_f32"}
      ins(%a : tensor<4xf32>) outs(%b : tensor<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  } -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
