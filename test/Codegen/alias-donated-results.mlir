// llmc-alias-donated-results: an input the caller donated (llmc.donated),
// updated in place by bufferization, is returned as the output it became:
// the result leaves the function, no out-parameter and no copy.
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(llmc-readonly-arguments,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},llmc-alias-donated-results,buffer-results-to-out-params{hoist-static-allocs modify-public-functions})' | FileCheck %s

// A KV-cache-like update: the donated %cache is written in place, and
// returned as result 0; result 1 keeps its out-parameter.
// CHECK-LABEL: func.func @main(
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<8xf32> {llmc.donated}
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: memref<f32>)
// CHECK-SAME: llmc.output_aliases = array<i64: 0, -1>
// CHECK-NOT: memref.alloc
// CHECK: memref.store %{{.*}}, %[[CACHE]]
// CHECK-NOT: memref.copy %[[CACHE]]
// CHECK: return
func.func @main(%cache: tensor<8xf32> {llmc.donated}, %x: f32, %i: index) -> (tensor<8xf32>, tensor<f32>) {
  %r = tensor.insert %x into %cache[%i] : tensor<8xf32>
  %e = tensor.from_elements %x : tensor<f32>
  return %r, %e : tensor<8xf32>, tensor<f32>
}

// -----

// Must not change: without a donated argument the input is read-only, the
// update lands in a copy, and every result is an out-parameter.
// CHECK-LABEL: func.func @readonly(
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: memref<8xf32>)
// CHECK-NOT: llmc.donated
// CHECK-NOT: llmc.output_aliases
// CHECK: memref.copy
// CHECK: memref.store %{{.*}}, %[[OUT]]
func.func @readonly(%cache: tensor<8xf32>, %x: f32, %i: index) -> tensor<8xf32> {
  %r = tensor.insert %x into %cache[%i] : tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// Donated, but the old value is still read after the update: bufferization
// copies, the result keeps its out-parameter, the alias is -1.
// CHECK-LABEL: func.func @read_after_update(
// CHECK-SAME: llmc.output_aliases = array<i64: -1, -1>
func.func @read_after_update(%cache: tensor<8xf32> {llmc.donated}, %x: f32, %i: index) -> (tensor<8xf32>, tensor<f32>) {
  %r = tensor.insert %x into %cache[%i] : tensor<8xf32>
  %old = tensor.extract %cache[%i] : tensor<8xf32>
  %e = tensor.from_elements %old : tensor<f32>
  return %r, %e : tensor<8xf32>, tensor<f32>
}

// -----

// A donated input returned twice: the first result is the input, the
// second keeps a buffer of its own (a copy).
// CHECK-LABEL: func.func @returned_twice(
// CHECK-SAME: llmc.output_aliases = array<i64: 0, -1>
// CHECK: memref.copy
func.func @returned_twice(%cache: tensor<8xf32> {llmc.donated}) -> (tensor<8xf32>, tensor<8xf32>) {
  return %cache, %cache : tensor<8xf32>, tensor<8xf32>
}

// -----

// A scatter's loop nest (what graph.scatter_nd lowers to) carries the
// donated buffer through its iteration arguments: still the input.
// CHECK-LABEL: func.func @scatter_loop_nest(
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<4x8xf32> {llmc.donated}
// CHECK-SAME: llmc.output_aliases = array<i64: 0>
// CHECK-NOT: memref.copy
// CHECK: scf.for {{.*}} iter_args(%[[A:.*]] = %[[CACHE]])
// CHECK: scf.for {{.*}} iter_args(%[[B:.*]] = %[[A]])
// CHECK: memref.store %{{.*}}, %[[B]]
// CHECK-NOT: memref.copy
// CHECK: return
func.func @scatter_loop_nest(%cache: tensor<4x8xf32> {llmc.donated}, %x: f32) -> tensor<4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c2 = arith.constant 2 : index
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%a = %cache) -> (tensor<4x8xf32>) {
    %s = scf.for %j = %c0 to %c2 step %c1 iter_args(%b = %a) -> (tensor<4x8xf32>) {
      %u = tensor.insert %x into %b[%i, %j] : tensor<4x8xf32>
      scf.yield %u : tensor<4x8xf32>
    }
    scf.yield %s : tensor<4x8xf32>
  }
  return %r : tensor<4x8xf32>
}
