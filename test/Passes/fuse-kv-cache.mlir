// llmc-fuse on a decoder whose KV caches are stacked over layers (one past_k
// input of [layers, batch, heads, past, head_dim], taken per layer,
// concatenated with the new keys, read by attention's matmul through a
// transpose that the library call reads in place, and stacked again into one
// present output). Layer 1's new keys come from layer 0's attention, so the
// stacking concat depends on layer 0's matmul: grouping layer 0's cache
// concat with the stacking concat would be a cycle. The planner must see the
// path through the in-place transpose and the matmul, and refuse the merge.
// (This once failed with "the fusion plan has a cycle between groups".)
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse))' | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse{target=cuda}))' | FileCheck %s
// Fusing again sees the groups as kernels (opaque nodes), with their edges.
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse,llmc-fuse))' | FileCheck %s
// RUN: llmc-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(llmc-fuse{remarks}))' --mlir-print-op-on-diagnostic=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// CHECK-LABEL: func.func @stacked_kv_cache(
// The layer-0 cache concat is a kernel of its own, before the matmul that
// reads it; the stacking concat comes after layer 1's matmul.
// CHECK: %[[K0:.*]] = graph.fusion_group "loop"
// CHECK: graph.concat
// CHECK: graph.transpose %[[K0]] {perm = array<i64: 0, 1, 3, 2>}
// CHECK: %[[S0:.*]] = graph.matmul
// CHECK: graph.matmul
// CHECK: %[[P:.*]] = graph.fusion_group "loop"
// CHECK: return %{{.*}}, %[[P]]
// The matmul reads layer 0's cache in place, so the cache concat is an output
// of its group: it cannot join the larger stacking kernel.
// WHY: remark: from 'graph.concat': refused: graph.concat (32 elements) is a group output but would be computed on 64 elements
func.func @stacked_kv_cache(%past: tensor<2x1x2x3x4xf32>, %q: tensor<1x2x1x4xf32>,
                            %knew: tensor<1x2x1x4xf32>)
    -> (tensor<1x2x1x4xf32>, tensor<2x1x2x4x4xf32>) {
  %i0 = graph.constant dense<0> : tensor<i64>
  %i1 = graph.constant dense<1> : tensor<i64>
  %p0 = graph.gather %past, %i0 {axis = 0 : i64} : tensor<2x1x2x3x4xf32>, tensor<i64> -> tensor<1x2x3x4xf32>
  %k0 = graph.concat %p0, %knew {axis = 2 : i64} : tensor<1x2x3x4xf32>, tensor<1x2x1x4xf32> -> tensor<1x2x4x4xf32>
  %t0 = graph.transpose %k0 {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %s0 = graph.matmul %q, %t0 : tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x1x4xf32>
  %k1new = graph.tanh %s0 : tensor<1x2x1x4xf32>
  %p1 = graph.gather %past, %i1 {axis = 0 : i64} : tensor<2x1x2x3x4xf32>, tensor<i64> -> tensor<1x2x3x4xf32>
  %k1 = graph.concat %p1, %k1new {axis = 2 : i64} : tensor<1x2x3x4xf32>, tensor<1x2x1x4xf32> -> tensor<1x2x4x4xf32>
  %t1 = graph.transpose %k1 {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %s1 = graph.matmul %s0, %t1 : tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x1x4xf32>
  %r0 = graph.reshape %k0 : tensor<1x2x4x4xf32> -> tensor<1x1x2x4x4xf32>
  %r1 = graph.reshape %k1 : tensor<1x2x4x4xf32> -> tensor<1x1x2x4x4xf32>
  %present = graph.concat %r0, %r1 {axis = 0 : i64} : tensor<1x1x2x4x4xf32>, tensor<1x1x2x4x4xf32> -> tensor<2x1x2x4x4xf32>
  return %s1, %present : tensor<1x2x1x4xf32>, tensor<2x1x2x4x4xf32>
}
