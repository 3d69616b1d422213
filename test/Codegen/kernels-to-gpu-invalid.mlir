// RUN: llmc-opt %s -split-input-file -llmc-kernels-to-gpu -verify-diagnostics

#id = affine_map<(d0) -> (d0)>
func.func @main(%x: memref<4xf32>, %y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  // expected-error @below {{'scf.for' op on the host holds 'linalg.generic': not lowered to a CUDA kernel (a sequential kernel runs scalar code only)}}
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

// -----

func.func @main(%x: memref<4xf32>, %y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  // expected-error @below {{'scf.for' op on the host holds 'memref.alloc': not lowered to a CUDA kernel (a sequential kernel runs scalar code only)}}
  scf.for %i = %c0 to %c2 step %c1 {
    %t = memref.alloc() : memref<4xf32>
    %v = memref.load %x[%i] : memref<4xf32>
    memref.store %v, %t[%i] : memref<4xf32>
  }
  return
}

// -----

func.func @main(%x: memref<4xf32>, %y: memref<4xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @below {{'scf.for' op on the host uses a value that is neither a buffer nor a constant: not lowered to a CUDA kernel}}
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<4xf32>
    memref.store %v, %y[%i] : memref<4xf32>
  }
  return
}
