// RUN: llmc-opt %s -split-input-file -llmc-lower-library-calls | FileCheck %s

// A marked generic on buffers becomes a call with dynamic strided operands.
#a = affine_map<(b, m, n, k) -> (0, m, k)>
#b = affine_map<(b, m, n, k) -> (b, k, n)>
#p = affine_map<(b, m, n, k) -> (0)>
#c = affine_map<(b, m, n, k) -> (b, m, n)>
// CHECK-LABEL: func.func @matmul(
// CHECK-SAME:    %[[A:.*]]: memref<1x2x3xf32>, %[[B:.*]]: memref<5x3x4xf32>, %[[P:.*]]: memref<2xi64>, %[[C:.*]]: memref<5x2x4xf32>
// CHECK:         %[[CA:.*]] = memref.cast %[[A]] : memref<1x2x3xf32> to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
// CHECK:         %[[CB:.*]] = memref.cast %[[B]]
// CHECK:         %[[CP:.*]] = memref.cast %[[P]] : memref<2xi64> to memref<?xi64, strided<[?], offset: ?>>
// CHECK:         %[[CC:.*]] = memref.cast %[[C]]
// CHECK:         call @llmc_matmul_f32(%[[CA]], %[[CB]], %[[CP]], %[[CC]])
// CHECK-NOT:     linalg.generic
// CHECK:       func.func private @llmc_matmul_f32(memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, {{.*}}) attributes {llvm.emit_c_interface}
func.func @matmul(%a: memref<1x2x3xf32>, %b: memref<5x3x4xf32>, %params: memref<2xi64>, %c: memref<5x2x4xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #p, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"], library_call = "llmc_matmul_f32"}
      ins(%a, %b, %params : memref<1x2x3xf32>, memref<5x3x4xf32>, memref<2xi64>) outs(%c : memref<5x2x4xf32>) {
  ^bb0(%x: f32, %y: f32, %q: i64, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Generics without a library_call are left alone.
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @plain(
// CHECK:         linalg.generic
// CHECK-NOT:     call
func.func @plain(%a: memref<4xf32>, %b: memref<4xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : memref<4xf32>) outs(%b : memref<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  return
}
