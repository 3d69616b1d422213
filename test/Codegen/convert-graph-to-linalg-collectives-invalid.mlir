// RUN: llmc-opt %s -split-input-file -llmc-convert-graph-to-linalg -verify-diagnostics

// The runtime has no collective kernel for i16.
shard.grid @mesh(shape = 2)
func.func @i16(%x: tensor<8x16xi16>) -> tensor<8x16xi16> {
  // expected-error @below {{'shard.all_reduce' op has no runtime kernel for 'tensor<8x16xi16>' (collectives take f32, f64, f16, bf16, i64, i32, i8 and bool tensors of rank 0 to 8)}}
  // expected-error @below {{failed to legalize operation 'shard.all_reduce'}}
  %0 = shard.all_reduce %x on @mesh grid_axes = [0] : tensor<8x16xi16> -> tensor<8x16xi16>
  return %0 : tensor<8x16xi16>
}

// -----

// Nor for 8-bit floats.
shard.grid @mesh(shape = 2)
func.func @f8(%x: tensor<4xf8E4M3FN>) -> tensor<8xf8E4M3FN> {
  // expected-error @below {{'shard.all_gather' op has no runtime kernel for 'tensor<4xf8E4M3FN>'}}
  // expected-error @below {{failed to legalize operation 'shard.all_gather'}}
  %0 = shard.all_gather %x on @mesh grid_axes = [0] gather_axis = 0 : tensor<4xf8E4M3FN> -> tensor<8xf8E4M3FN>
  return %0 : tensor<8xf8E4M3FN>
}

// -----

// Nor beyond rank 8.
shard.grid @mesh(shape = 2)
func.func @rank9(%x: tensor<1x1x1x1x1x1x1x1x2xf32>) -> tensor<1x1x1x1x1x1x1x1x2xf32> {
  // expected-error @below {{'shard.all_reduce' op has no runtime kernel for 'tensor<1x1x1x1x1x1x1x1x2xf32>'}}
  // expected-error @below {{failed to legalize operation 'shard.all_reduce'}}
  %0 = shard.all_reduce %x on @mesh grid_axes = [0] : tensor<1x1x1x1x1x1x1x1x2xf32> -> tensor<1x1x1x1x1x1x1x1x2xf32>
  return %0 : tensor<1x1x1x1x1x1x1x1x2xf32>
}

// -----

// A collective over two grid axes at once (llmc-partition makes one per
// axis) has no kernel: the pattern says so (a diagnostic of its own, not
// only the generic "failed to legalize").
shard.grid @mesh(shape = 2x2)
func.func @two_axes(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @below {{'shard.all_reduce' op has no runtime kernel: collectives run over one axis of a known shard.grid}}
  // expected-error @below {{failed to legalize operation 'shard.all_reduce'}}
  %0 = shard.all_reduce %x on @mesh grid_axes = [0, 1] : tensor<8x16xf32> -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

// Nor over no axis at all. (A collective naming no grid is rejected by the
// shard verifier before the pass runs.)
shard.grid @mesh(shape = 2x2)
func.func @no_axis(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @below {{'shard.all_reduce' op has no runtime kernel: collectives run over one axis of a known shard.grid}}
  // expected-error @below {{failed to legalize operation 'shard.all_reduce'}}
  %0 = shard.all_reduce %x on @mesh grid_axes = [] : tensor<8x16xf32> -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}
