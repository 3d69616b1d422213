// Every verifier message of the graph dialect.
// RUN: llmc-opt %s -split-input-file -verify-diagnostics

func.func @bad_broadcast(%x: tensor<2x3xf32>, %y: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{operands are not broadcast-compatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = graph.add %x, %y : tensor<2x3xf32>, tensor<4xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @wrong_result(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{'graph.add' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3x2xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = graph.add %x, %x : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @float_only(%x: tensor<2xi32>) -> tensor<2xi32> {
  // expected-error @+1 {{'graph.exp' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = graph.exp %x : tensor<2xi32>
  return %0 : tensor<2xi32>
}

// -----

func.func @gelu_mode(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{approximate must be "none" or "tanh"}}
  %0 = graph.gelu %x {approximate = "fast"} : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @shift_direction(%x: tensor<2xui8>) -> tensor<2xui8> {
  // expected-error @+1 {{direction must be "LEFT" or "RIGHT"}}
  %0 = graph.bit_shift %x, %x {direction = "UP"} : tensor<2xui8>, tensor<2xui8> -> tensor<2xui8>
  return %0 : tensor<2xui8>
}

// -----

func.func @reduce_kind(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{unknown reduction kind "median"}}
  %0 = graph.reduce %x {kind = "median", axes = array<i64: 1>, keepdims = false} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @reduce_axes(%x: tensor<2x3xf32>) -> tensor<f32> {
  // expected-error @+1 {{axes must be sorted and unique}}
  %0 = graph.reduce %x {kind = "sum", axes = array<i64: 1, 0>, keepdims = false} : tensor<2x3xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @reduce_axis_range(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = graph.reduce %x {kind = "sum", axes = array<i64: 2>, keepdims = true} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @topk_k(%x: tensor<2x3xf32>) -> (tensor<2x4xf32>, tensor<2x4xi64>) {
  // expected-error @+1 {{k = 4 exceeds the axis size 3}}
  %0, %1 = graph.topk %x {k = 4 : i64, axis = 1 : i64, largest = true, sorted = true} : tensor<2x3xf32> -> tensor<2x4xf32>, tensor<2x4xi64>
  return %0, %1 : tensor<2x4xf32>, tensor<2x4xi64>
}

// -----

func.func @softmax_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{axis 5 is out of range for rank 2}}
  %0 = graph.softmax %x {axis = 5 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @batch_norm_params(%x: tensor<2x3x4xf32>, %c: tensor<4xf32>) -> tensor<2x3x4xf32> {
  // expected-error @+1 {{scale, bias, mean and variance must be 1-D of the channel count 3}}
  %0 = graph.batch_norm %x, %c, %c, %c, %c {epsilon = 1.0e-5 : f64} : tensor<2x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

func.func @gemm_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{contraction dims differ: 3 vs 4}}
  %0 = graph.gemm %a, %b {alpha = 1.0 : f64, beta = 1.0 : f64, transA = false, transB = false} : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+2 {{matmul contraction dims differ: 3 vs 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = graph.matmul %a, %b : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @einsum_implicit(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{equation must be explicit}}
  %0 = graph.einsum %a {equation = "ij"} : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @einsum_sizes(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{letter 'i' has two sizes}}
  %0 = graph.einsum %a {equation = "ii->i"} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @conv_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<6x3x3x3xf32>) -> tensor<1x6x6x6xf32> {
  // expected-error @+1 {{do not fit group 2}}
  %0 = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : tensor<1x4x8x8xf32>, tensor<6x3x3x3xf32> -> tensor<1x6x6x6xf32>
  return %0 : tensor<1x6x6x6xf32>
}

// -----

func.func @conv_size(%x: tensor<1x4x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x8x8xf32> {
  // expected-error @+1 {{spatial dim 0 of the result should be 6}}
  %0 = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x4x8x8xf32>, tensor<6x4x3x3xf32> -> tensor<1x6x8x8xf32>
  return %0 : tensor<1x6x8x8xf32>
}

// -----

func.func @conv_strides(%x: tensor<1x4x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x6x6xf32> {
  // expected-error @+1 {{strides must be positive}}
  %0 = graph.conv %x, %w {strides = array<i64: 0, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : tensor<1x4x8x8xf32>, tensor<6x4x3x3xf32> -> tensor<1x6x6x6xf32>
  return %0 : tensor<1x6x6x6xf32>
}

// -----

func.func @pool_kernel(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  // expected-error @+1 {{kernel_shape needs 2 values}}
  %0 = graph.max_pool %x {kernel_shape = array<i64: 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  return %0 : tensor<1x4x4x4xf32>
}

// -----

func.func @constant_type() -> tensor<3xf32> {
  // expected-error @+1 {{value type differs from the result type}}
  %0 = "graph.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) -> tensor<7xf32> {
  // expected-error @+1 {{element count changes from 6 to 7}}
  %0 = graph.reshape %x : tensor<2x3xf32> -> tensor<7xf32>
  return %0 : tensor<7xf32>
}

// -----

func.func @transpose_perm(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{perm is not a permutation}}
  %0 = graph.transpose %x {perm = array<i64: 0, 2>} : tensor<2x3xf32> -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @slice_bounds(%x: tensor<4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{slice of dim 0 reads out of bounds}}
  %0 = graph.slice %x {starts = array<i64: 2>, sizes = array<i64: 3>, steps = array<i64: 1>} : tensor<4xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @slice_step(%x: tensor<4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{step must not be 0}}
  %0 = graph.slice %x {starts = array<i64: 0>, sizes = array<i64: 3>, steps = array<i64: 0>} : tensor<4xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @concat_dims(%x: tensor<2x3xf32>, %y: tensor<2x4xf32>) -> tensor<4x3xf32> {
  // expected-error @+2 {{concat inputs differ in dim 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = graph.concat %x, %y {axis = 0 : i64} : tensor<2x3xf32>, tensor<2x4xf32> -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @pad_mode(%x: tensor<4xf32>) -> tensor<6xf32> {
  // expected-error @+1 {{mode must be constant, reflect or edge}}
  %0 = graph.pad %x {pads = array<i64: 1, 1>, mode = "wrap", value = 0.0 : f64} : tensor<4xf32> -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

func.func @pad_reflect(%x: tensor<2xf32>) -> tensor<6xf32> {
  // expected-error @+1 {{reflect pads must be smaller than the dim}}
  %0 = graph.pad %x {pads = array<i64: 2, 2>, mode = "reflect", value = 0.0 : f64} : tensor<2xf32> -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

func.func @broadcast_to(%x: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{input does not broadcast to the result shape}}
  %0 = graph.broadcast_to %x : tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @gather_elements_rank(%x: tensor<2x3xf32>, %i: tensor<2xi64>) -> tensor<2xf32> {
  // expected-error @+1 {{indices must have the rank of data}}
  %0 = graph.gather_elements %x, %i {axis = 0 : i64} : tensor<2x3xf32>, tensor<2xi64> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @gather_nd_depth(%x: tensor<2x3xf32>, %i: tensor<2x3xi64>) -> tensor<2xf32> {
  // expected-error @+1 {{index tuples are longer than data's rank}}
  %0 = graph.gather_nd %x, %i {batch_dims = 0 : i64} : tensor<2x3xf32>, tensor<2x3xi64> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @scatter_reduction(%x: tensor<2x3xf32>, %i: tensor<2x3xi64>) -> tensor<2x3xf32> {
  // expected-error @+1 {{reduction must be none, add, mul, max or min}}
  %0 = graph.scatter_elements %x, %i, %x {axis = 0 : i64, reduction = "avg"} : tensor<2x3xf32>, tensor<2x3xi64>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @one_hot_values(%i: tensor<3xi64>, %v: tensor<3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{values must hold [off, on]}}
  %0 = graph.one_hot %i, %v {axis = 1 : i64} : tensor<3xi64>, tensor<3xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

func.func @resize_mode(%x: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{mode must be nearest, linear or cubic}}
  %0 = graph.resize %x {mode = "bicubic", coordinate_transformation_mode = "half_pixel", nearest_mode = "floor", scales = array<f64: 2.0>} : tensor<4xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @shape_result(%x: tensor<2x3xf32>) -> tensor<3xi64> {
  // expected-error @+1 {{result must be 1-D with one entry per input dim}}
  %0 = graph.shape %x : tensor<2x3xf32> -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

func.func @fusion_bad_kind(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{kind must be "loop", "row" or "column", got "tile"}}
  %0 = graph.fusion_group "tile" (%x) {bytes_read = 8 : i64, bytes_written = 8 : i64} : (tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<2xf32>):
    %r = graph.relu %a : tensor<2xf32>
    graph.yield %r : tensor<2xf32>
  }
  return %0 : tensor<2xf32>
}

// -----

func.func @fusion_arg_mismatch(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{input 0 is 'tensor<2xf32>' but body argument 0 is 'tensor<3xf32>'}}
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 8 : i64, bytes_written = 8 : i64} : (tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<3xf32>):
    %r = graph.relu %a : tensor<3xf32>
    %s = graph.slice %r {starts = array<i64: 0>, sizes = array<i64: 2>, steps = array<i64: 1>} : tensor<3xf32> -> tensor<2xf32>
    graph.yield %s : tensor<2xf32>
  }
  return %0 : tensor<2xf32>
}

// -----

func.func @fusion_yield_mismatch(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{yields ('tensor<2xf32>', 'tensor<2xf32>') but its results are ('tensor<2xf32>')}}
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 8 : i64, bytes_written = 8 : i64} : (tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<2xf32>):
    %r = graph.relu %a : tensor<2xf32>
    graph.yield %r, %r : tensor<2xf32>, tensor<2xf32>
  }
  return %0 : tensor<2xf32>
}

// -----

func.func @fusion_no_results(%x: tensor<2xf32>) {
  // expected-error @+1 {{must yield at least one result}}
  graph.fusion_group "loop" (%x) {bytes_read = 8 : i64, bytes_written = 0 : i64} : (tensor<2xf32>) -> () {
  ^bb0(%a: tensor<2xf32>):
    graph.yield
  }
  return
}

// -----

func.func @fusion_holds_matmul(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 16 : i64, bytes_written = 16 : i64} : (tensor<2x2xf32>) -> tensor<2x2xf32> {
  ^bb0(%a: tensor<2x2xf32>):
    // expected-error @+1 {{cannot be inside a fusion group: contractions run as library calls}}
    %r = graph.matmul %a, %a : tensor<2x2xf32>, tensor<2x2xf32> -> tensor<2x2xf32>
    graph.yield %r : tensor<2x2xf32>
  }
  return %0 : tensor<2x2xf32>
}

// -----

func.func @fusion_holds_arith(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = graph.fusion_group "loop" (%x) {bytes_read = 8 : i64, bytes_written = 8 : i64} : (tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<2xf32>):
    // expected-error @+1 {{is not a graph op: a fusion group holds graph ops only}}
    %r = arith.addf %a, %a : tensor<2xf32>
    graph.yield %r : tensor<2xf32>
  }
  return %0 : tensor<2xf32>
}

// -----

func.func @fusion_not_isolated(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = graph.fusion_group "loop" () {bytes_read = 8 : i64, bytes_written = 8 : i64} : () -> tensor<2xf32> {
    // expected-error @+1 {{using value defined outside the region}}
    %r = graph.relu %x : tensor<2xf32>
    graph.yield %r : tensor<2xf32>
  }
  return %0 : tensor<2xf32>
}

// -----

func.func @yield_outside_group(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{expects parent op 'graph.fusion_group'}}
  graph.yield %x : tensor<2xf32>
}

// -----

func.func @attention_rank(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{query and result must be [B, KVH, G, L, D|E], key and value [B, KVH, S, D|E]}}
  %0 = graph.attention %q, %k, %k {scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_types(%q: tensor<1x1x1x4x8xf32>, %k: tensor<1x1x4x8xf64>) -> tensor<1x1x1x4x8xf32> {
  // expected-error @+1 {{operands and result must have one element type}}
  %0 = graph.attention %q, %k, %k {scale = 1.0 : f64} : tensor<1x1x1x4x8xf32>, tensor<1x1x4x8xf64>, tensor<1x1x4x8xf64> -> tensor<1x1x1x4x8xf32>
  return %0 : tensor<1x1x1x4x8xf32>
}

// -----

func.func @attention_heads(%q: tensor<1x2x1x4x8xf32>, %k: tensor<1x4x4x8xf32>) -> tensor<1x2x1x4x8xf32> {
  // expected-error @+1 {{key and value must have the query's batch and KV heads}}
  %0 = graph.attention %q, %k, %k {scale = 1.0 : f64} : tensor<1x2x1x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32> -> tensor<1x2x1x4x8xf32>
  return %0 : tensor<1x2x1x4x8xf32>
}

// -----

func.func @attention_keys(%q: tensor<1x1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>, %v: tensor<1x1x5x8xf32>) -> tensor<1x1x1x4x8xf32> {
  // expected-error @+1 {{key and value must have the same number of keys}}
  %0 = graph.attention %q, %k, %v {scale = 1.0 : f64} : tensor<1x1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x5x8xf32> -> tensor<1x1x1x4x8xf32>
  return %0 : tensor<1x1x1x4x8xf32>
}

// -----

func.func @attention_head_size(%q: tensor<1x1x1x4x8xf32>, %k: tensor<1x1x4x6xf32>) -> tensor<1x1x1x4x6xf32> {
  // expected-error @+1 {{key must have the query's head size 8}}
  %0 = graph.attention %q, %k, %k {scale = 1.0 : f64} : tensor<1x1x1x4x8xf32>, tensor<1x1x4x6xf32>, tensor<1x1x4x6xf32> -> tensor<1x1x1x4x6xf32>
  return %0 : tensor<1x1x1x4x6xf32>
}

// -----

func.func @attention_result(%q: tensor<1x1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>) -> tensor<1x1x1x4x4xf32> {
  // expected-error @+1 {{result must be [B, KVH, G, L, E] = [1, 1, 1, 4, 8]}}
  %0 = graph.attention %q, %k, %k {scale = 1.0 : f64} : tensor<1x1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x1x4x4xf32>
  return %0 : tensor<1x1x1x4x4xf32>
}

// -----

func.func @attention_bias(%q: tensor<1x1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>, %b: tensor<1x1x1x3x4xf32>) -> tensor<1x1x1x4x8xf32> {
  // expected-error @+1 {{bias must broadcast to the scores [B, KVH, G, L, S]}}
  %0 = graph.attention %q, %k, %k, %b {scale = 1.0 : f64} : tensor<1x1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x1x3x4xf32> -> tensor<1x1x1x4x8xf32>
  return %0 : tensor<1x1x1x4x8xf32>
}

// -----

// The 8-bit floats are storage types: arithmetic takes them through a cast.
func.func @float8_arithmetic(%x: tensor<4xf8E4M3FN>) -> tensor<4xf8E4M3FN> {
  // expected-error @+1 {{'graph.add' op operand #0 must be ranked tensor of}}
  %0 = graph.add %x, %x : tensor<4xf8E4M3FN>, tensor<4xf8E4M3FN> -> tensor<4xf8E4M3FN>
  return %0 : tensor<4xf8E4M3FN>
}

// -----

func.func @int4_arithmetic(%x: tensor<4xi4>) -> tensor<4xi4> {
  // expected-error @+1 {{'graph.neg' op operand #0 must be ranked tensor of}}
  %0 = graph.neg %x : tensor<4xi4>
  return %0 : tensor<4xi4>
}
