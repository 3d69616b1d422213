// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg='check-indices' | FileCheck %s
// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg | FileCheck %s --check-prefix=OFF
// check-indices (the CPU pipeline's): a gather's or scatter's index outside
// [-n, n) calls the runtime's llmc_index_error with the index, the dim and
// a constant string naming the node, then is clamped as without the check.
// Without the option, and for ops whose out-of-range index is defined
// (one_hot), nothing is checked.

// CHECK-LABEL: func.func @gather(
// CHECK:         linalg.generic
// CHECK:           %[[I:.*]] = tensor.extract
// CHECK:           %[[LOW:.*]] = arith.cmpi slt, %[[I]], %c-5_i64
// CHECK:           %[[HIGH:.*]] = arith.cmpi sge, %[[I]], %c5_i64
// CHECK:           %[[BAD:.*]] = arith.ori %[[LOW]], %[[HIGH]]
// CHECK:           scf.if %[[BAD]] {
// CHECK:             %[[TEXT:.*]] = memref.get_global @llmc_index_site_0 : memref<20xi8>
// CHECK:             %[[ANY:.*]] = memref.cast %[[TEXT]] : memref<20xi8> to memref<?xi8>
// CHECK:             func.call @llmc_index_error(%[[I]], %c5_i64, %[[ANY]])
// CHECK:           arith.minsi
// CHECK:           arith.maxsi
// CHECK: memref.global "private" constant @llmc_index_site_0 : memref<20xi8> = dense<[110, 111, 100, 101, 32, 39, 116, 97, 107, 101, 39, 32, 40, 103, 97, 116, 104, 101, 114, 41
// CHECK: func.func private @llmc_index_error(i64, i64, memref<?xi8>) attributes {llvm.emit_c_interface}
// OFF-LABEL: func.func @gather(
// OFF-NOT: llmc_index_error
// OFF-NOT: memref.global
func.func @gather(%x: tensor<5x3xf32>, %i: tensor<2xi64>) -> tensor<2x3xf32> {
  %0 = graph.gather %x, %i {axis = 0 : i64} : tensor<5x3xf32>, tensor<2xi64> -> tensor<2x3xf32> loc("take")
  return %0 : tensor<2x3xf32>
}

// -----

// Scatters check each index of the loop nest over the updates; one_hot is
// left alone (an index out of its depth gives a row of off values).
// CHECK-LABEL: func.func @scatter(
// CHECK: scf.for
// CHECK: scf.if
// CHECK: func.call @llmc_index_error(%{{.*}}, %c2_i64,
// CHECK-LABEL: func.func @one_hot(
// CHECK-NOT: llmc_index_error
// CHECK: return
// CHECK: memref.global "private" constant @llmc_index_site_0 : memref<{{[0-9]+}}xi8>
// CHECK-NOT: @llmc_index_site_1
func.func @scatter(%x: tensor<2x3xf32>, %i: tensor<2x3xi64>) -> tensor<2x3xf32> {
  %0 = graph.scatter_elements %x, %i, %x {axis = 0 : i64, reduction = "none"} : tensor<2x3xf32>, tensor<2x3xi64>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
func.func @one_hot(%i: tensor<3xi64>, %v: tensor<2xf32>) -> tensor<3x4xf32> {
  %0 = graph.one_hot %i, %v {axis = 1 : i64} : tensor<3xi64>, tensor<2xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}
