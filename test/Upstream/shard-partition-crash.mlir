// Upstream MLIR 22 `shard` dialect canary; see docs/sharding-upstream.md.
//
// A two-matmul MLP with w1 split on its columns. With the default traversal
// (backward-forward), sharding-propagation leaves the tensor.empty +
// linalg.fill init of the second matmul without shard.shard annotations, and
// shard-partition then dereferences a null shard.grid in
// shard::shardShapedType (SIGSEGV in release builds of LLVM 22).
//
// RUN: mlir-opt --pass-pipeline='builtin.module(func.func(sharding-propagation))' %s \
// RUN:   | FileCheck %s --check-prefix=PROP
// RUN: not --crash mlir-opt --pass-pipeline='builtin.module(func.func(sharding-propagation,shard-partition))' %s
//
// Guard: the forward-backward traversal annotates every value, so partition
// succeeds and yields the Megatron split (one all_reduce), which
// convert-shard-to-mpi lowers to mpi.allreduce.
//
// RUN: mlir-opt --pass-pipeline='builtin.module(func.func(sharding-propagation{traversal=forward-backward},shard-partition))' %s \
// RUN:   | FileCheck %s
// RUN: mlir-opt --pass-pipeline='builtin.module(func.func(sharding-propagation{traversal=forward-backward},shard-partition),convert-shard-to-mpi)' %s \
// RUN:   | FileCheck %s --check-prefix=MPI

shard.grid @mesh(shape = 2)

// PROP-LABEL: func.func @mlp
// The second matmul's init is left unannotated: this is what crashes.
// PROP:      %[[E:.*]] = tensor.empty() : tensor<8x16xf32>
// PROP-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[E]] : tensor<8x16xf32>)

// CHECK-LABEL: func.func @mlp(
// CHECK-SAME:    tensor<8x16xf32>, %{{.*}}: tensor<16x16xf32>, %{{.*}}: tensor<16x16xf32>) -> tensor<8x16xf32>
// CHECK:         linalg.matmul
// CHECK:         scf.if
// CHECK:         %[[Y:.*]] = linalg.matmul
// CHECK:         %[[R:.*]] = shard.all_reduce %[[Y]] on @mesh grid_axes = [0] : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK:         return %[[R]] : tensor<8x16xf32>

// MPI-LABEL: func.func @mlp
// MPI-NOT:   shard.all_reduce
// MPI:       mpi.allreduce
// MPI-NOT:   shard.all_reduce

func.func @mlp(%x: tensor<8x16xf32>, %w1: tensor<16x32xf32>,
               %w2: tensor<32x16xf32>) -> tensor<8x16xf32> {
  %s = shard.sharding @mesh split_axes = [[], [0]] : !shard.sharding
  %w1s = shard.shard %w1 to %s annotate_for_users : tensor<16x32xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<8x32xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<8x32xf32>) -> tensor<8x32xf32>
  %h = linalg.matmul ins(%x, %w1s : tensor<8x16xf32>, tensor<16x32xf32>)
                     outs(%f1 : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x16xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x16xf32>) -> tensor<8x16xf32>
  %y = linalg.matmul ins(%h, %w2 : tensor<8x32xf32>, tensor<32x16xf32>)
                     outs(%f2 : tensor<8x16xf32>) -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}
