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

// -----

// Attention whose scale is not a constant (the call's params are written
// elsewhere) cannot be specialized into the kernel.
!dyn5 = memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
!dyn4 = memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>
!par = memref<?xf64, strided<[?], offset: ?>>
func.func private @llmc_attention_nobias_f32(!dyn5, !dyn4, !dyn4, !par, !dyn5)
func.func @main(%q: memref<1x1x1x4x8xf32>, %k: memref<1x1x6x8xf32>, %v: memref<1x1x6x8xf32>, %params: memref<1xf64>, %out: memref<1x1x1x4x8xf32>) {
  %0 = memref.cast %q : memref<1x1x1x4x8xf32> to !dyn5
  %1 = memref.cast %k : memref<1x1x6x8xf32> to !dyn4
  %2 = memref.cast %v : memref<1x1x6x8xf32> to !dyn4
  %3 = memref.cast %params : memref<1xf64> to !par
  %4 = memref.cast %out : memref<1x1x1x4x8xf32> to !dyn5
  // expected-error @below {{'func.call' op has no constant scale: not lowered to a CUDA kernel}}
  call @llmc_attention_nobias_f32(%0, %1, %2, %3, %4) : (!dyn5, !dyn4, !dyn4, !par, !dyn5) -> ()
  return
}

// -----

// Head dims above 128 (the key and value tiles' rows in shared memory):
// llmc-lift-attention does not lift them for CUDA; a call of them is
// refused.
!dyn5 = memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
!dyn4 = memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>
!par = memref<?xf64, strided<[?], offset: ?>>
func.func private @llmc_attention_nobias_f32(!dyn5, !dyn4, !dyn4, !par, !dyn5)
func.func @main(%q: memref<1x1x1x4x256xf32>, %k: memref<1x1x6x256xf32>, %v: memref<1x1x6x8xf32>, %out: memref<1x1x1x4x8xf32>) {
  %cst = arith.constant 0.125 : f64
  %c0 = arith.constant 0 : index
  %alloca = memref.alloca() : memref<1xf64>
  memref.store %cst, %alloca[%c0] : memref<1xf64>
  %0 = memref.cast %q : memref<1x1x1x4x256xf32> to !dyn5
  %1 = memref.cast %k : memref<1x1x6x256xf32> to !dyn4
  %2 = memref.cast %v : memref<1x1x6x8xf32> to !dyn4
  %3 = memref.cast %alloca : memref<1xf64> to !par
  %4 = memref.cast %out : memref<1x1x1x4x8xf32> to !dyn5
  // expected-error @below {{'func.call' op has head dims above 128 or no keys: not lowered to a CUDA kernel}}
  call @llmc_attention_nobias_f32(%0, %1, %2, %3, %4) : (!dyn5, !dyn4, !dyn4, !par, !dyn5) -> ()
  return
}
