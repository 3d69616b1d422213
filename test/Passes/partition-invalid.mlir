// RUN: llmc-opt %s -split-input-file -llmc-partition -verify-diagnostics

// Hand-written annotations that llmc-partition rejects.

// One llmc.factor_axes entry per loop of the op.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    // expected-error @below {{'graph.relu' op has 1 llmc.factor_axes for 2 loops}}
    %r = graph.relu %x {llmc.factor_axes = array<i64: 0>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>) -> tensor<8x4xf32> {
    // expected-error @below {{'graph.matmul' op has 2 llmc.factor_axes for 3 loops}}
    %r = graph.matmul %x, %w {llmc.factor_axes = array<i64: -1, 0>} : tensor<8x16xf32>, tensor<16x4xf32> -> tensor<8x4xf32>
    return %r : tensor<8x4xf32>
  }
}

// -----

// A loop split over an axis the mesh does not have.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    // expected-error @below {{'graph.relu' op splits a loop over mesh axis 1, which the mesh 'tp=2' lacks}}
    %r = graph.relu %x {llmc.factor_axes = array<i64: 1, -1>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// -1 is "whole"; anything lower is no axis either.
module attributes {llmc.mesh = "dp=2,tp=2"} {
  shard.grid @mesh(shape = 2x2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    // expected-error @below {{'graph.relu' op splits a loop over mesh axis -2, which the mesh 'dp=2,tp=2' lacks}}
    %r = graph.relu %x {llmc.factor_axes = array<i64: -2, 0>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A split dim the axis does not divide: operands are checked before
// results, so the message names the operand.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<7x16xf32>) -> tensor<7x16xf32> {
    // expected-error @below {{'graph.relu' op loop 0 (size 7) is not divisible by mesh axis 'tp'}}
    %r = graph.relu %x {llmc.factor_axes = array<i64: 0, -1>} : tensor<7x16xf32>
    return %r : tensor<7x16xf32>
  }
}

// -----

// llmc.mesh without the grid the collectives refer to.
// expected-error @below {{llmc.mesh is malformed or shard.grid @mesh is missing}}
module attributes {llmc.mesh = "tp=2"} {
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A grid of another name is not @mesh.
// expected-error @below {{llmc.mesh is malformed or shard.grid @mesh is missing}}
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @devices(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A malformed llmc.mesh.
// expected-error @below {{llmc.mesh is malformed or shard.grid @mesh is missing}}
module attributes {llmc.mesh = "tp"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// llmc.mesh must be a string.
// expected-error @below {{llmc.mesh is malformed or shard.grid @mesh is missing}}
module attributes {llmc.mesh = 2 : i64} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// An argument's llmc.sharding with too few dims.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0: 'tp' gives 1 dims but the tensor has 2}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[tp]"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// An argument's llmc.sharding naming an axis the mesh lacks.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 1: 'ep, -' names axis 'ep', which is not in the mesh 'tp=2'}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, -]"}, %y: tensor<8x16xf32> {llmc.sharding = "[ep, -]"}) -> tensor<8x16xf32> {
    %r = graph.add %x, %y : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// An argument's llmc.sharding using one axis for two dims.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0: 'tp, tp' uses axis 'tp' for two dims}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[tp, tp]"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A split contraction loop of size 7 (no result dim is split): the operand
// check catches it, before an all_slice of the 7-wide operand that the
// shard verifier would reject.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x7xf32>, %w: tensor<7x4xf32>) -> tensor<8x4xf32> {
    // expected-error @below {{'graph.matmul' op loop 2 (size 7) is not divisible by mesh axis 'tp'}}
    %r = graph.matmul %x, %w {llmc.factor_axes = array<i64: -1, -1, 0>} : tensor<8x7xf32>, tensor<7x4xf32> -> tensor<8x4xf32>
    return %r : tensor<8x4xf32>
  }
}

// -----

// An argument split on a dim its axis does not divide (it was cut to
// 7 / 2 = 3 rows without a word).
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0: dim 0 (size 7) is not divisible by mesh axis 'tp'}}
  func.func @main(%x: tensor<7x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<7x16xf32> {
    %r = graph.relu %x : tensor<7x16xf32>
    return %r : tensor<7x16xf32>
  }
}

// -----

// A partial axis the mesh lacks (it was dropped, and the partial sum used
// as if it were whole).
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0: '[-, -] partial(xx)' names axis 'xx', which is not in the mesh 'tp=2'}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, -] partial(xx)"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// Text after the closing bracket that is not a partial(...) clause.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0: '[tp, -] junk' is not a sharding such as "[-, tp]"}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[tp, -] junk"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// An argument is never a partial sum (the caller passes whole values or
// parts of them); a partial value comes from an op (see the annotated part
// of partition.mlir).
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0: an argument cannot be a partial sum}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, -] partial(tp)"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// llmc.sharding on an argument that is not a tensor (a non-tensor argument
// without it is left alone: see the annotated part of partition.mlir).
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 0 has llmc.sharding but is not a statically shaped tensor}}
  func.func @main(%n: i32 {llmc.sharding = "[]"}, %x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// Nor on a dynamically shaped tensor: a dynamic dim is never split.
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @below {{argument 1 has llmc.sharding but is not a statically shaped tensor}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, -]"}, %y: tensor<?x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<?x16xf32> {
    %r = graph.relu %y : tensor<?x16xf32>
    return %r : tensor<?x16xf32>
  }
}

// -----

// A grid whose shape differs from llmc.mesh (local types would follow the
// mesh, collective groups the grid).
// expected-error @below {{shard.grid @mesh does not have the shape of llmc.mesh 'tp=2'}}
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 4)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[tp, -]"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// Same axis count, another size.
// expected-error @below {{shard.grid @mesh does not have the shape of llmc.mesh 'dp=2,tp=2'}}
module attributes {llmc.mesh = "dp=2,tp=2"} {
  shard.grid @mesh(shape = 2x4)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[dp, tp]"}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// A hand-written llmc.factor_axes is checked like the planner's own
// decisions: a loop of a PositionDependent op, a softmax's normalized dim
// and a max reduction's reduced dim are never split (each would be
// miscompiled: trilu on a local block, softmax per half row, maxima summed).
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x8xf32> {llmc.sharding = "[-, tp]"}) -> tensor<8x8xf32> {
    // expected-error @+1 {{'graph.trilu' op loop 1 is never split (it indexes a window, an offset, a part of a dim, or an absolute position)}}
    %t = graph.trilu %x {upper = false, k = 0 : i64, llmc.factor_axes = array<i64: -1, 0>} : tensor<8x8xf32>
    return %t : tensor<8x8xf32>
  }
}

// -----

module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x8xf32> {llmc.sharding = "[-, tp]"}) -> tensor<8x8xf32> {
    // expected-error @+1 {{'graph.softmax' op loop 1 is a reduction whose partial results do not sum}}
    %t = graph.softmax %x {axis = 1 : i64, llmc.factor_axes = array<i64: -1, 0>} : tensor<8x8xf32>
    return %t : tensor<8x8xf32>
  }
}

// -----

module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = "[-, tp]"}) -> tensor<8xf32> {
    // expected-error @+1 {{'graph.reduce' op loop 1 is a reduction whose partial results do not sum}}
    %s = graph.reduce %x {kind = "max", axes = array<i64: 1>, keepdims = false, llmc.factor_axes = array<i64: -1, 0>} : tensor<8x16xf32> -> tensor<8xf32>
    return %s : tensor<8xf32>
  }
}

// -----

module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    // expected-error @+1 {{'graph.relu' op splits two loops over mesh axis 'tp'}}
    %r = graph.relu %x {llmc.factor_axes = array<i64: 0, 0>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

// Annotations of the wrong kind are errors, not silently "whole".
module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  // expected-error @+1 {{argument 0: llmc.sharding must be a string such as "[-, tp]"}}
  func.func @main(%x: tensor<8x16xf32> {llmc.sharding = 3 : i64}) -> tensor<8x16xf32> {
    %r = graph.relu %x : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}

// -----

module attributes {llmc.mesh = "tp=2"} {
  shard.grid @mesh(shape = 2)
  func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    // expected-error @+1 {{'graph.relu' op llmc.factor_axes must be an array<i64: ...> of mesh axes}}
    %r = graph.relu %x {llmc.factor_axes = array<i32: 0, -1>} : tensor<8x16xf32>
    return %r : tensor<8x16xf32>
  }
}
