// Every error of llmc-propagate-sharding, at @main's location. Each needs
// its own pass options, so the file is cut by split-file.
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
// RUN: llmc-opt %t/experts-nothing.mlir -split-input-file -pass-pipeline="builtin.module(llmc-propagate-sharding{mesh=ep=2 strategy=experts})" -verify-diagnostics

//--- mesh-no-size.mlir

// A mesh axis without a size.
// expected-error @below {{--mesh 'tp': expected axes like 'tp=2' or 'dp=2,tp=4'}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- mesh-bad-name.mlir

// An axis name must be an identifier.
// expected-error @below {{--mesh '2=tp': expected axes like 'tp=2' or 'dp=2,tp=4'}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- mesh-zero.mlir

// An axis of size 0.
// expected-error @below {{--mesh 'tp=0': axis 'tp' needs a size from 1 to 999999}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- mesh-huge-axis.mlir

// An axis size beyond six digits.
// expected-error @below {{--mesh 'tp=1234567': axis 'tp' needs a size from 1 to 999999}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- mesh-twice.mlir

// The same axis twice.
// expected-error @below {{--mesh 'tp=2,tp=2': axis 'tp' is given twice}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- mesh-too-many.mlir

// More devices than the runtime takes.
// expected-error @below {{--mesh 'dp=64,tp=128': more than 4096 devices}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
  return %r : tensor<8x16xf32>
}

//--- strategy.mlir

// An unknown strategy.
// expected-error @below {{--strategy 'zero': expected dp, megatron, megatron-sp, experts, auto or none}}
func.func @main(%x: tensor<8x16xf32> {llmc.name = "x"},
                %w1: tensor<16x32xf32> {llmc.name = "w1", llmc.weight = dense<1.0> : tensor<16x32xf32>},
                %w2: tensor<32x16xf32> {llmc.name = "w2", llmc.weight = dense<1.0> : tensor<32x16xf32>}) -> tensor<8x16xf32> {
  %h = graph.matmul %x, %w1 : tensor<8x16xf32>, tensor<16x32xf32> -> tensor<8x32xf32> loc("fc1")
  %g = graph.relu %h : tensor<8x32xf32> loc("act")
  %y = graph.matmul %g, %w2 : tensor<8x32xf32>, tensor<32x16xf32> -> tensor<8x16xf32> loc("fc2")
  %r = graph.add %y, %x : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32> loc("res")
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
// expected-error @below {{--strategy megatron: nothing in the model can be split over mesh 'tp=3' (no dense layer with a weight dim divisible by the axis)}}
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
