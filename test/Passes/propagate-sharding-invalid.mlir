// Every error of llmc-propagate-sharding, reported at @main's location.
// Each needs its own pass options, so split-file cuts the file into parts.
// RUN: rm -rf %t && split-file --leading-lines %s %t
// RUN: llmc-opt %t/mesh-no-size.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp})" -verify-diagnostics
// RUN: llmc-opt %t/mesh-bad-name.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=2=tp})" -verify-diagnostics
// RUN: llmc-opt %t/mesh-zero.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=0})" -verify-diagnostics
// RUN: llmc-opt %t/mesh-huge-axis.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=1234567})" -verify-diagnostics
// RUN: llmc-opt %t/mesh-twice.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh='tp=2,tp=2'})" -verify-diagnostics
// RUN: llmc-opt %t/mesh-too-many.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh='dp=64,tp=128'})" -verify-diagnostics
// RUN: llmc-opt %t/strategy.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=zero})" -verify-diagnostics
// RUN: llmc-opt %t/pin-no-eq.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 shard=w1})" -verify-diagnostics
// RUN: llmc-opt %t/pin-no-name.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 shard==tp})" -verify-diagnostics
// RUN: llmc-opt %t/pin-missing.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=none shard=nope=tp})" -verify-diagnostics
// RUN: llmc-opt %t/pin-axis.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 shard={'w1=-,ep'}})" -verify-diagnostics
// RUN: llmc-opt %t/pin-rank.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 shard=w1=tp})" -verify-diagnostics
// RUN: llmc-opt %t/pin-axis-twice.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 shard={'w1=tp,tp'}})" -verify-diagnostics
// RUN: llmc-opt %t/pin-divisible.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=3 strategy=none shard={'w1=-,tp'}})" -verify-diagnostics
// RUN: llmc-opt %t/dp-nothing.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=dp=3 strategy=dp})" -verify-diagnostics
// RUN: llmc-opt %t/megatron-nothing.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=3 strategy=megatron})" -verify-diagnostics
// RUN: llmc-opt %t/auto-pin.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 shard=nope=tp})" -verify-diagnostics
// RUN: llmc-opt %t/experts-nothing.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=ep=2 strategy=experts})" -verify-diagnostics
// RUN: llmc-opt %t/pin-result.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=none shard={'fc1=-,tp'}})" -verify-diagnostics
// RUN: llmc-opt %t/grid-symbol.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=megatron})" -verify-diagnostics
// RUN: llmc-opt %t/partitioned.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=tp=2 strategy=megatron},llmc-partition,llmc-propagate-sharding{mesh=tp=2 strategy=megatron})" -verify-diagnostics
// RUN: llmc-opt %t/dp-dynamic.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=dp=2 strategy=dp})" -verify-diagnostics

//--- mesh-no-size.mlir

// A mesh axis without a size.
// expected-error @below {{--mesh 'tp': expected axes like 'tp=2' or 'dp=2,tp=4'}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- mesh-bad-name.mlir

// An axis name must be an identifier.
// expected-error @below {{--mesh '2=tp': expected axes like 'tp=2' or 'dp=2,tp=4'}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- mesh-zero.mlir

// An axis of size 0.
// expected-error @below {{--mesh 'tp=0': axis 'tp' needs a size from 1 to 999999}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- mesh-huge-axis.mlir

// An axis size of more than six digits.
// expected-error @below {{--mesh 'tp=1234567': axis 'tp' needs a size from 1 to 999999}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- mesh-twice.mlir

// The same axis twice.
// expected-error @below {{--mesh 'tp=2,tp=2': axis 'tp' is given twice}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- mesh-too-many.mlir

// More devices than the runtime takes.
// expected-error @below {{--mesh 'dp=64,tp=128': more than 4096 devices}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- strategy.mlir

// An unknown strategy.
// expected-error @below {{--strategy 'zero': expected dp, megatron, megatron-sp, experts, auto or none}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"}) -> tensor<8x16xf32> {
  %r = graph.relu %x : tensor<8x16xf32> loc("act")
  return %r : tensor<8x16xf32>
}

//--- pin-no-eq.mlir

// A pin without '='.
// expected-error @below {{--shard 'w1': expected NAME=AXIS,-,...}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- pin-no-name.mlir

// A pin without a name.
// expected-error @below {{--shard '=tp': expected NAME=AXIS,-,...}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- pin-missing.mlir

// A pin naming no input or weight: the message lists those that exist.
// expected-error @below {{--shard nope: the model has no tensor 'nope' (inputs and weights: x, w1, w2)}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

// -----

// At most eight names are listed.
// expected-error @below {{--shard nope: the model has no tensor 'nope' (inputs and weights: a0, a1, a2, a3, a4, a5, a6, a7, ...)}}
func.func @main(%a0: tensor<4xf32> {llmc.name = "a0"},
                %a1: tensor<4xf32> {llmc.name = "a1"},
                %a2: tensor<4xf32> {llmc.name = "a2"},
                %a3: tensor<4xf32> {llmc.name = "a3"},
                %a4: tensor<4xf32> {llmc.name = "a4"},
                %a5: tensor<4xf32> {llmc.name = "a5"},
                %a6: tensor<4xf32> {llmc.name = "a6"},
                %a7: tensor<4xf32> {llmc.name = "a7"},
                %a8: tensor<4xf32> {llmc.name = "a8"}) -> tensor<4xf32> {
  %s = graph.add %a0, %a8 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32> loc("sum")
  return %s : tensor<4xf32>
}

//--- pin-axis.mlir

// A pin naming an axis the mesh lacks.
// expected-error @below {{--shard w1: '-,ep' names axis 'ep', which is not in the mesh 'tp=2'}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- pin-rank.mlir

// A pin with fewer entries than the tensor has dims.
// expected-error @below {{--shard w1: 'tp' gives 1 dims but the tensor has 2}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- pin-axis-twice.mlir

// A pin using one axis for two dims.
// expected-error @below {{--shard w1: 'tp,tp' uses axis 'tp' for two dims}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- pin-divisible.mlir

// A pin splitting a dim the axis does not divide.
// expected-error @below {{--shard w1: dim 1 (size 32) is not divisible by mesh axis 'tp' (size 3)}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- dp-nothing.mlir

// Data parallelism whose axis divides no batch dim.
// expected-error @below {{--strategy dp: nothing in the model can be split over mesh 'dp=3' (no input's batch dim is divisible by the axis)}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- megatron-nothing.mlir

// Megatron whose axis divides no weight dim.
// expected-error @below {{--strategy megatron: nothing in the model can be split over mesh 'tp=3' (no dense layer, a matmul with a 2-D weight, whose weight the axis divides)}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- auto-pin.mlir

// The default strategy (auto) tries every strategy; a bad pin fails them
// all alike, and that is what it reports.
// expected-error @below {{--shard nope: the model has no tensor 'nope' (inputs and weights: x, w1, w2)}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- experts-nothing.mlir

// Experts without a 3-D expert weight.
// expected-error @below {{--strategy experts: nothing in the model can be split over mesh 'ep=2' (no 3-D expert weight with a divisible leading dim)}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- pin-result.mlir

// A pin naming an op's result ('fc1'), not an input or weight: said so
// (the planner once answered "the tensor has 2 dims, the pin gives 0",
// although the pin gives two).
// expected-error @below {{--shard fc1: 'fc1' is an op's result; only inputs and weights can be pinned}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- grid-symbol.mlir

// The grid's name, @mesh, taken by a symbol that is not a grid (an existing
// shard.grid @mesh is reused, its shape replaced: see
// propagate-sharding.mlir).
func.func private @mesh()
// expected-error @below {{the module already has a symbol 'mesh' that is not a shard.grid}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<8x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  return %h : tensor<8x32xf32>
}

//--- partitioned.mlir

// Propagating after llmc-partition (its local types would be taken for
// whole ones and cut again): refused.
// expected-error @below {{@main is already partitioned (llmc-partition ran): propagate shardings before partitioning}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- dp-dynamic.mlir

// A dynamic batch dim is never split (its size, ShapedType::kDynamic, was
// once taken as divisible by every axis, and llmc-partition then wrote
// tensor<-4611686018427387904x16xf32>): with no other input, dp has
// nothing to split.
// expected-error @below {{--strategy dp: nothing in the model can be split over mesh 'dp=2' (no input's batch dim is divisible by the axis)}}
func.func @main(%x: tensor<?x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>}) -> tensor<?x32xf32> {
  %h = graph.matmul %x, %w1 : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32> loc("fc1")
  return %h : tensor<?x32xf32>
}
