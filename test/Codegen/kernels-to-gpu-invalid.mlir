// RUN: llmc-opt %s -split-input-file -llmc-kernels-to-gpu -verify-diagnostics

#id = affine_map<(d0) -> (d0)>
func.func @main(%x: memref<4xf32>, %y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  // expected-error @below {{'scf.for' op on the host is not lowered to a CUDA kernel}}
  scf.for %i = %c0 to %c2 step %c1 {
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
        ins(%x : memref<4xf32>) outs(%y : memref<4xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    }
  }
  return
}

// -----

#id = affine_map<(d0) -> (d0)>
func.func @main(%x: memref<?xf32>, %y: memref<?xf32>) {
  // expected-error @below {{'linalg.generic' op has a dynamic iteration space: not lowered to a CUDA kernel}}
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : memref<?xf32>) outs(%y : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  return
}
