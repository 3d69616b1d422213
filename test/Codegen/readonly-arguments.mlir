// RUN: llmc-opt %s -llmc-readonly-arguments -split-input-file | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-readonly-arguments,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},buffer-results-to-out-params{hoist-static-allocs modify-public-functions})' | FileCheck %s --check-prefix=BUF

// An update of an input lands in a copy, never in the caller's buffer.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %{{.*}}: tensor<4x8xf32> {bufferization.writable = false}
// CHECK-SAME: %{{.*}}: tensor<1x8xf32> {bufferization.writable = false}
// BUF-LABEL: func.func @main
// BUF-SAME: (%[[X:.*]]: memref<4x8xf32>, %[[U:.*]]: memref<1x8xf32>, %[[OUT:.*]]: memref<4x8xf32>)
// BUF: memref.copy %[[X]], %[[OUT]]
// BUF: %[[S:.*]] = memref.subview %[[OUT]][0, 0] [1, 8] [1, 1]
// BUF: memref.copy %[[U]], %[[S]]
// BUF-NOT: memref.subview %[[X]]
func.func @main(%x: tensor<4x8xf32>, %u: tensor<1x8xf32>) -> tensor<4x8xf32> {
  %0 = tensor.insert_slice %u into %x[0, 0] [1, 8] [1, 1] : tensor<1x8xf32> into tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Must not change: private functions (kernels the caller's code owns),
// declarations, non-tensor arguments, and arguments already read-only.
// CHECK-LABEL: func.func private @kernel
// CHECK-SAME: (%{{.*}}: tensor<4xf32>)
// CHECK-LABEL: func.func private @decl
// CHECK-SAME: (tensor<4xf32>)
// CHECK-LABEL: func.func @scalar
// CHECK-SAME: (%{{.*}}: index, %{{.*}}: tensor<4xf32> {bufferization.writable = false})
func.func private @kernel(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func private @decl(tensor<4xf32>) -> tensor<4xf32>
func.func @scalar(%n: index, %x: tensor<4xf32> {bufferization.writable = false}) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// A value returned twice is returned as a copy the second time, so that
// every output has a buffer of its own (buffer-results-to-out-params
// crashed on the shared one); distinct results stay as they are.
// CHECK-LABEL: func.func @twice
// CHECK: %[[V:.*]] = linalg.map
// CHECK: %[[C:.*]] = bufferization.alloc_tensor() copy(%[[V]])
// CHECK: %[[D:.*]] = bufferization.alloc_tensor() copy(%[[V]])
// CHECK: return %[[V]], %[[C]], %[[D]]
// BUF-LABEL: func.func @twice
// BUF-SAME: %[[O0:[a-z0-9]+]]: memref<4xf32>, %[[O1:[a-z0-9]+]]: memref<4xf32>, %[[O2:[a-z0-9]+]]: memref<4xf32>)
// BUF-DAG: memref.copy %[[O0]], %[[O1]]
// BUF-DAG: memref.copy %[[O0]], %[[O2]]
// CHECK-LABEL: func.func @distinct
// CHECK-NOT: alloc_tensor
// CHECK: return
func.func @twice(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %0 = linalg.map { arith.addf } ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>)
  return %0, %0, %0 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
func.func @distinct(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %0 = linalg.map { arith.addf } ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>)
  %f = tensor.empty() : tensor<4xf32>
  %1 = linalg.map { arith.mulf } ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%f : tensor<4xf32>)
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// A kernel function returning one value twice (two fused outputs that
// folding made equal; random_graphs.py --cuda found it): its callers use
// the first result for both and it returns the value once. Bufferization
// then gave both results one buffer and buffer-results-to-out-params
// crashed.
// CHECK-LABEL: func.func @twice_caller
// CHECK:         %[[R:.*]]:2 = call @twice(%{{.*}}) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<2xf32>)
// CHECK:         %[[COPY:.*]] = bufferization.alloc_tensor() copy(%[[R]]#0)
// CHECK:         return %[[R]]#0, %[[COPY]], %[[R]]#1
// CHECK-LABEL: func.func private @twice
// CHECK-SAME:    -> (tensor<4xf32>, tensor<2xf32>)
// CHECK:         return %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<2xf32>
// BUF-LABEL:   func.func @twice_caller
// BUF-LABEL:   func.func private @twice
func.func @twice_caller(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<2xf32>) {
  %r:3 = call @twice(%x) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<2xf32>)
  return %r#0, %r#1, %r#2 : tensor<4xf32>, tensor<4xf32>, tensor<2xf32>
}
func.func private @twice(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<2xf32>) attributes {llmc.kernel = "loop"} {
  %e = tensor.empty() : tensor<4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %s = tensor.extract_slice %y[0] [2] [1] : tensor<4xf32> to tensor<2xf32>
  return %y, %y, %s : tensor<4xf32>, tensor<4xf32>, tensor<2xf32>
}
