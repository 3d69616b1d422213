//===- GraphOps.td - Operations of the graph dialect -------*- tablegen -*-===//
//
// Tensor-level ops of imported models. Every op implements
// IterationSpaceOpInterface; elementwise ops also build their scalar body
// (ScalarComputeOpInterface) and composite ops decompose themselves
// (DecomposableOpInterface).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_GRAPH_OPS
#define LLMC_GRAPH_OPS

include "llmc/Dialect/Graph/IR/GraphBase.td"
include "llmc/Dialect/Graph/IR/GraphInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

class Graph_Op<string mnemonic, list<Trait> traits = []>
    : Op<Graph_Dialect, mnemonic, traits>;

// An op whose result depends on the absolute position of a loop, not only
// on the elements its maps read (trilu's diagonal, one_hot's depth,
// resize's coordinates, cumsum's prefix): run on a part of its loops it
// would compute the wrong thing, so sharding keeps its loops whole.
def Graph_PositionDependent
    : NativeOpTrait<"PositionDependent"> {
  let cppNamespace = "::mlir::llmc::graph";
}

// A position-dependent op whose result at a position depends only on that
// position and its operands' elements there, never on the loops' extents
// (trilu's diagonal: j - i >= k). Padding a dim at its end leaves every
// kept position's value as it was, so `llmc compile --dynamic` lets
// padding through it (sharding still keeps its loops whole).
def Graph_PrefixConsistent
    : NativeOpTrait<"PrefixConsistent"> {
  let cppNamespace = "::mlir::llmc::graph";
}

// An op whose iteration space is described by hand (C++ overrides).
class Graph_StructuredOp<string mnemonic, list<Trait> traits = []>
    : Graph_Op<mnemonic, traits # [Pure,
        DeclareOpInterfaceMethods<Graph_IterationSpaceOpInterface,
          ["getIterationSpaceIterators", "getIterationSpaceMaps"]>]>;

//===----------------------------------------------------------------------===//
// Elementwise ops. Their iteration space is the result's shape; operand maps
// follow numpy broadcasting (the default interface implementation).
//===----------------------------------------------------------------------===//

class Graph_ElementwiseOp<string mnemonic, list<Trait> traits = []>
    : Graph_Op<mnemonic, traits # [Pure,
        DeclareOpInterfaceMethods<Graph_IterationSpaceOpInterface>,
        DeclareOpInterfaceMethods<Graph_ScalarComputeOpInterface>]>;

class Graph_UnaryOp<string mnemonic, Type type, string desc,
                    list<Trait> traits = []>
    : Graph_ElementwiseOp<mnemonic, traits # [SameOperandsAndResultType]> {
  let summary = desc;
  let arguments = (ins type:$input);
  let results = (outs type:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
}

def Graph_AbsOp : Graph_UnaryOp<"abs", Graph_NumericTensor, "Absolute value."> {
  let hasFolder = 1;
}
def Graph_NegOp : Graph_UnaryOp<"neg", Graph_NumericTensor, "Negation."> {
  let hasFolder = 1;
}
def Graph_SignOp : Graph_UnaryOp<"sign", Graph_NumericTensor, "Sign (-1, 0, 1).">;
def Graph_ReluOp : Graph_UnaryOp<"relu", Graph_NumericTensor, "max(x, 0).">;
def Graph_ExpOp : Graph_UnaryOp<"exp", Graph_FloatTensor, "Exponential.">;
def Graph_LogOp : Graph_UnaryOp<"log", Graph_FloatTensor, "Natural logarithm.">;
def Graph_SqrtOp : Graph_UnaryOp<"sqrt", Graph_FloatTensor, "Square root."> {
  let hasFolder = 1;
}
def Graph_ReciprocalOp : Graph_UnaryOp<"reciprocal", Graph_FloatTensor, "1 / x."> {
  let hasFolder = 1;
}
def Graph_CeilOp : Graph_UnaryOp<"ceil", Graph_FloatTensor, "Ceiling."> {
  let hasFolder = 1;
}
def Graph_FloorOp : Graph_UnaryOp<"floor", Graph_FloatTensor, "Floor."> {
  let hasFolder = 1;
}
def Graph_RoundOp : Graph_UnaryOp<"round", Graph_FloatTensor,
                                  "Round half to even."> {
  let hasFolder = 1;
}
def Graph_SinOp : Graph_UnaryOp<"sin", Graph_FloatTensor, "Sine.">;
def Graph_CosOp : Graph_UnaryOp<"cos", Graph_FloatTensor, "Cosine.">;
def Graph_TanOp : Graph_UnaryOp<"tan", Graph_FloatTensor, "Tangent.">;
def Graph_AsinOp : Graph_UnaryOp<"asin", Graph_FloatTensor, "Arc sine.">;
def Graph_AcosOp : Graph_UnaryOp<"acos", Graph_FloatTensor, "Arc cosine.">;
def Graph_AtanOp : Graph_UnaryOp<"atan", Graph_FloatTensor, "Arc tangent.">;
def Graph_SinhOp : Graph_UnaryOp<"sinh", Graph_FloatTensor, "Hyperbolic sine.">;
def Graph_CoshOp : Graph_UnaryOp<"cosh", Graph_FloatTensor, "Hyperbolic cosine.">;
def Graph_AsinhOp : Graph_UnaryOp<"asinh", Graph_FloatTensor, "Inverse hyperbolic sine.">;
def Graph_AcoshOp : Graph_UnaryOp<"acosh", Graph_FloatTensor, "Inverse hyperbolic cosine.">;
def Graph_AtanhOp : Graph_UnaryOp<"atanh", Graph_FloatTensor, "Inverse hyperbolic tangent.">;
def Graph_TanhOp : Graph_UnaryOp<"tanh", Graph_FloatTensor, "Hyperbolic tangent.">;
def Graph_SigmoidOp : Graph_UnaryOp<"sigmoid", Graph_FloatTensor, "1 / (1 + exp(-x)).">;
def Graph_ErfOp : Graph_UnaryOp<"erf", Graph_FloatTensor, "Error function.">;
def Graph_SoftplusOp : Graph_UnaryOp<"softplus", Graph_FloatTensor, "log(1 + exp(x)).">;
def Graph_SoftsignOp : Graph_UnaryOp<"softsign", Graph_FloatTensor, "x / (1 + |x|).">;
def Graph_HardSwishOp : Graph_UnaryOp<"hard_swish", Graph_FloatTensor,
                                      "x * max(0, min(1, x / 6 + 1 / 2)).">;
def Graph_NotOp : Graph_UnaryOp<"not", Graph_BoolTensor, "Logical not."> {
  let hasFolder = 1;
}
def Graph_BitwiseNotOp : Graph_UnaryOp<"bitwise_not", Graph_IntegerTensor,
                                       "Bitwise not.">;

def Graph_GeluOp : Graph_UnaryOp<"gelu", Graph_FloatTensor, "Gaussian error linear unit."> {
  let arguments = (ins Graph_FloatTensor:$input,
                       DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let hasVerifier = 1;
}
def Graph_LeakyReluOp : Graph_UnaryOp<"leaky_relu", Graph_FloatTensor,
                                      "x >= 0 ? x : alpha * x."> {
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$alpha);
}
def Graph_EluOp : Graph_UnaryOp<"elu", Graph_FloatTensor,
                                "x >= 0 ? x : alpha * (exp(x) - 1)."> {
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$alpha);
}
def Graph_CeluOp : Graph_UnaryOp<"celu", Graph_FloatTensor,
                                 "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."> {
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$alpha);
}
def Graph_SeluOp : Graph_UnaryOp<"selu", Graph_FloatTensor,
                                 "gamma * (x > 0 ? x : alpha * (exp(x) - 1))."> {
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$alpha, F64Attr:$gamma);
}
def Graph_HardSigmoidOp : Graph_UnaryOp<"hard_sigmoid", Graph_FloatTensor,
                                        "max(0, min(1, alpha * x + beta))."> {
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$alpha, F64Attr:$beta);
}
def Graph_ThresholdedReluOp : Graph_UnaryOp<"thresholded_relu", Graph_FloatTensor,
                                            "x > alpha ? x : 0."> {
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$alpha);
}
def Graph_ShrinkOp : Graph_UnaryOp<"shrink", Graph_NumericTensor,
    "x < -lambd ? x + bias : (x > lambd ? x - bias : 0)."> {
  let arguments = (ins Graph_NumericTensor:$input, F64Attr:$bias, F64Attr:$lambd);
}
def Graph_ClipOp : Graph_UnaryOp<"clip", Graph_NumericTensor,
                                 "Clamps to [min, max] (either bound optional)."> {
  let arguments = (ins Graph_NumericTensor:$input, OptionalAttr<F64Attr>:$min,
                       OptionalAttr<F64Attr>:$max);
}

class Graph_PredicateOp<string mnemonic, string desc>
    : Graph_ElementwiseOp<mnemonic, [SameOperandsAndResultShape]> {
  let summary = desc;
  let arguments = (ins Graph_FloatTensor:$input);
  let results = (outs Graph_BoolTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
}
def Graph_IsNaNOp : Graph_PredicateOp<"is_nan", "True where x is NaN.">;
def Graph_IsInfOp : Graph_PredicateOp<"is_inf", "True where x is infinite."> {
  let arguments = (ins Graph_FloatTensor:$input,
                       DefaultValuedAttr<BoolAttr, "true">:$detect_positive,
                       DefaultValuedAttr<BoolAttr, "true">:$detect_negative);
}

def Graph_CastOp : Graph_ElementwiseOp<"cast", [SameOperandsAndResultShape]> {
  let summary = "Converts each element to the result's element type.";
  let description = [{
    Float to integer truncates toward zero and saturates; integer to float
    rounds to nearest; anything to `i1` is `x != 0`.
  }];
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
}

// Binary ops broadcast their operands as numpy does.
class Graph_BinaryOp<string mnemonic, Type lhsType, Type rhsType, Type resType,
                     string desc, list<Trait> traits = []>
    : Graph_ElementwiseOp<mnemonic, traits # [
        DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = desc;
  let arguments = (ins lhsType:$lhs, rhsType:$rhs);
  let results = (outs resType:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
}

def Graph_AddOp : Graph_BinaryOp<"add", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor, "Addition.", [Commutative]> {
  let hasFolder = 1;
}
def Graph_SubOp : Graph_BinaryOp<"sub", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor, "Subtraction."> {
  let hasFolder = 1;
}
def Graph_MulOp : Graph_BinaryOp<"mul", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor, "Multiplication.", [Commutative]> {
  let hasFolder = 1;
}
def Graph_DivOp : Graph_BinaryOp<"div", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor,
                                 "Division (integers truncate toward zero)."> {
  let hasFolder = 1;
}
def Graph_PowOp : Graph_BinaryOp<"pow", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor, "lhs raised to rhs.">;
def Graph_ModOp : Graph_BinaryOp<"mod", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor,
                                 "Remainder; sign of the divisor unless fmod."> {
  let arguments = (ins Graph_NumericTensor:$lhs, Graph_NumericTensor:$rhs,
                       DefaultValuedAttr<BoolAttr, "false">:$fmod);
  let hasFolder = 1;
}
def Graph_MinOp : Graph_BinaryOp<"min", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor, "Minimum (NaN propagates).",
                                 [Commutative]> {
  let hasFolder = 1;
}
def Graph_MaxOp : Graph_BinaryOp<"max", Graph_NumericTensor, Graph_NumericTensor,
                                 Graph_NumericTensor, "Maximum (NaN propagates).",
                                 [Commutative]> {
  let hasFolder = 1;
}
def Graph_PReluOp : Graph_BinaryOp<"prelu", Graph_NumericTensor, Graph_NumericTensor,
                                   Graph_NumericTensor, "x >= 0 ? x : slope * x.">;
def Graph_BitShiftOp : Graph_BinaryOp<"bit_shift", Graph_IntegerTensor,
                                      Graph_IntegerTensor, Graph_IntegerTensor,
                                      "Shift left or right (logical)."> {
  let arguments = (ins Graph_IntegerTensor:$lhs, Graph_IntegerTensor:$rhs,
                       StrAttr:$direction);
  let hasVerifier = 1;
}
def Graph_AndOp : Graph_BinaryOp<"and", Graph_BoolTensor, Graph_BoolTensor,
                                 Graph_BoolTensor, "Logical and.", [Commutative]> {
  let hasFolder = 1;
}
def Graph_OrOp : Graph_BinaryOp<"or", Graph_BoolTensor, Graph_BoolTensor,
                                Graph_BoolTensor, "Logical or.", [Commutative]> {
  let hasFolder = 1;
}
def Graph_XorOp : Graph_BinaryOp<"xor", Graph_BoolTensor, Graph_BoolTensor,
                                 Graph_BoolTensor, "Logical xor.", [Commutative]> {
  let hasFolder = 1;
}
def Graph_BitwiseAndOp : Graph_BinaryOp<"bitwise_and", Graph_IntegerTensor,
    Graph_IntegerTensor, Graph_IntegerTensor, "Bitwise and.", [Commutative]>;
def Graph_BitwiseOrOp : Graph_BinaryOp<"bitwise_or", Graph_IntegerTensor,
    Graph_IntegerTensor, Graph_IntegerTensor, "Bitwise or.", [Commutative]>;
def Graph_BitwiseXorOp : Graph_BinaryOp<"bitwise_xor", Graph_IntegerTensor,
    Graph_IntegerTensor, Graph_IntegerTensor, "Bitwise xor.", [Commutative]>;

def Graph_EqualOp : Graph_BinaryOp<"equal", Graph_Tensor, Graph_Tensor,
                                   Graph_BoolTensor, "lhs == rhs.", [Commutative]> {
  let hasFolder = 1;
}
def Graph_LessOp : Graph_BinaryOp<"less", Graph_NumericTensor, Graph_NumericTensor,
                                  Graph_BoolTensor, "lhs < rhs."> {
  let hasFolder = 1;
}
def Graph_LessEqualOp : Graph_BinaryOp<"less_equal", Graph_NumericTensor,
    Graph_NumericTensor, Graph_BoolTensor, "lhs <= rhs."> {
  let hasFolder = 1;
}
def Graph_GreaterOp : Graph_BinaryOp<"greater", Graph_NumericTensor,
    Graph_NumericTensor, Graph_BoolTensor, "lhs > rhs."> {
  let hasFolder = 1;
}
def Graph_GreaterEqualOp : Graph_BinaryOp<"greater_equal", Graph_NumericTensor,
    Graph_NumericTensor, Graph_BoolTensor, "lhs >= rhs."> {
  let hasFolder = 1;
}

def Graph_WhereOp : Graph_ElementwiseOp<"where", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "condition ? lhs : rhs, broadcasting all three.";
  let arguments = (ins Graph_BoolTensor:$condition, Graph_Tensor:$lhs,
                       Graph_Tensor:$rhs);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = [{
    $condition `,` $lhs `,` $rhs attr-dict `:` type($condition) `,` type($lhs)
    `,` type($rhs) `->` type($output)
  }];
  let hasFolder = 1;
}

def Graph_BroadcastToOp : Graph_ElementwiseOp<"broadcast_to"> {
  let summary = "Broadcasts the input to the result shape (ONNX Expand).";
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Reductions.
//===----------------------------------------------------------------------===//

def Graph_ReduceOp : Graph_StructuredOp<"reduce", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Reduces the given axes with one of the ONNX Reduce kinds.";
  let description = [{
    `kind` is one of `sum`, `mean`, `max`, `min`, `prod`, `l1`, `l2`,
    `log_sum`, `log_sum_exp`, `sum_square`. `axes` are non-negative and
    sorted; an empty `axes` reduces nothing (the op is the identity).

    ```mlir
    %r = graph.reduce %x {kind = "mean", axes = array<i64: 1>, keepdims = true}
        : tensor<2x3xf32> -> tensor<2x1xf32>
    ```
  }];
  let arguments = (ins Graph_NumericTensor:$input, StrAttr:$kind,
                       DenseI64ArrayAttr:$axes, BoolAttr:$keepdims);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_ArgReduceOp : Graph_StructuredOp<"arg_reduce", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Index of the maximum or minimum along one axis (i64).";
  let arguments = (ins Graph_NumericTensor:$input, StrAttr:$kind, I64Attr:$axis,
                       BoolAttr:$keepdims, BoolAttr:$select_last_index);
  let results = (outs RankedTensorOf<[I64]>:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_CumSumOp : Graph_StructuredOp<"cumsum", [SameOperandsAndResultType,
    Graph_PositionDependent]> {
  let summary = "Cumulative sum along one axis.";
  let arguments = (ins Graph_NumericTensor:$input, I64Attr:$axis,
                       BoolAttr:$exclusive, BoolAttr:$reverse);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
  let hasVerifier = 1;
}

def Graph_TopKOp : Graph_StructuredOp<"topk", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "The k largest (or smallest) elements along an axis, and their indices.";
  let arguments = (ins Graph_NumericTensor:$input, I64Attr:$k, I64Attr:$axis,
                       BoolAttr:$largest, BoolAttr:$sorted);
  let results = (outs Graph_NumericTensor:$values, RankedTensorOf<[I64]>:$indices);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($values) `,` type($indices)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Composite ops: seen whole by fusion, decomposed before lowering.
//===----------------------------------------------------------------------===//

class Graph_CompositeOp<string mnemonic, list<Trait> traits = []>
    : Graph_StructuredOp<mnemonic, traits # [
        DeclareOpInterfaceMethods<Graph_DecomposableOpInterface>]>;

class Graph_AxisOp<string mnemonic, string desc>
    : Graph_CompositeOp<mnemonic, [SameOperandsAndResultType]> {
  let summary = desc;
  let arguments = (ins Graph_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Graph_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
  let hasVerifier = 1;
}
def Graph_SoftmaxOp : Graph_AxisOp<"softmax", "exp(x - max) / sum(exp(x - max)) along axis.">;
def Graph_LogSoftmaxOp : Graph_AxisOp<"log_softmax", "Logarithm of softmax along axis.">;
def Graph_HardmaxOp : Graph_AxisOp<"hardmax", "1 at the first maximum along axis, 0 elsewhere.">;

def Graph_LayerNormOp : Graph_CompositeOp<"layer_norm"> {
  let summary = "Normalizes over the dims from axis on, then scales and shifts.";
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$scale,
                       Optional<Graph_FloatTensor>:$bias, I64Attr:$axis,
                       F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale (`,` $bias^)? attr-dict `:` type(operands) `->` type($output)
  }];
  let hasVerifier = 1;
}
def Graph_BatchNormOp : Graph_CompositeOp<"batch_norm"> {
  let summary = "Inference batch normalization over channel dim 1.";
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$scale,
                       Graph_FloatTensor:$bias, Graph_FloatTensor:$mean,
                       Graph_FloatTensor:$variance, F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` type(operands) `->` type($output)";
  let hasVerifier = 1;
}
def Graph_InstanceNormOp : Graph_CompositeOp<"instance_norm"> {
  let summary = "Normalizes each (batch, channel) over its spatial dims.";
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$scale,
                       Graph_FloatTensor:$bias, F64Attr:$epsilon);
  let results = (outs Graph_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` type(operands) `->` type($output)";
  let hasVerifier = 1;
}
def Graph_GemmOp : Graph_CompositeOp<"gemm"> {
  let summary = "alpha * op(A) * op(B) + beta * C.";
  let arguments = (ins Graph_NumericTensor:$a, Graph_NumericTensor:$b,
                       Optional<Graph_NumericTensor>:$c, F64Attr:$alpha,
                       F64Attr:$beta, BoolAttr:$transA, BoolAttr:$transB);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = [{
    $a `,` $b (`,` $c^)? attr-dict `:` type(operands) `->` type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Contractions, convolutions and pooling.
//===----------------------------------------------------------------------===//

def Graph_MatMulOp : Graph_StructuredOp<"matmul", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "numpy matmul: batched, with broadcast batch dims.";
  let arguments = (ins Graph_NumericTensor:$lhs, Graph_NumericTensor:$rhs);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
}

def Graph_AttentionOp : Graph_StructuredOp<"attention"> {
  let summary = "Scaled dot-product attention, grouped queries included.";
  let description = [{
    `softmax(query . key^T * scale + bias) . value`, the softmax over the
    keys, for every query row. Grouped-query attention is part of the op:
    `query` is `[B, KVH, G, L, D]` (G query heads per KV head, L rows),
    `key` `[B, KVH, S, D]`, `value` `[B, KVH, S, E]`, the result
    `[B, KVH, G, L, E]`; multi-head attention is G = 1. The optional `bias`
    is added to the scores before the softmax (a mask is a bias of 0 and
    -inf); each of its five dims is the scores' `[B, KVH, G, L, S]` or 1
    (broadcast). A row whose scores are all -inf is NaN, as the softmax
    written out gives. llmc-lift-attention makes this op from the matmul,
    scale, mask, softmax, matmul chain; on the CPU it runs as one tiled
    kernel (the runtime's `llmc_attention_f32`), which never holds the
    scores of more than a block of keys; elsewhere it is lowered as that
    chain again.

    Its loops are (b, kvh, g, i, j, d, e): j (keys) and d (the dot product)
    are reductions, but not sums of partial results: sharding keeps them
    whole and splits batch, heads and query rows.
  }];
  let arguments = (ins Graph_FloatTensor:$query, Graph_FloatTensor:$key,
                       Graph_FloatTensor:$value, Optional<Graph_FloatTensor>:$bias,
                       F64Attr:$scale);
  let results = (outs Graph_FloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`,` $bias^)? attr-dict `:` type(operands) `->` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Replaces the op by its matmul, scale, bias, softmax, matmul chain
    /// (the softmax written out in reductions and elementwise ops).
    ::mlir::LogicalResult decompose(::mlir::RewriterBase &rewriter);
  }];
}

def Graph_EinsumOp : Graph_StructuredOp<"einsum", [
    DeclareOpInterfaceMethods<Graph_DecomposableOpInterface>]> {
  let summary = "Einstein summation given by an explicit equation.";
  let description = [{
    `equation` is normalized by the importer to the explicit form
    `ab,bc->ac` with no ellipsis. Its letters are the loops of the iteration
    space: letters absent from the output are reductions.

    A float contraction of two operands decomposes into a batched
    graph.matmul between transposes (the library GEMM instead of a loop
    nest): the letters of both operands and the output are batch dims, one
    letter of each operand alone becomes the matrix rows or columns, the
    others broadcast as batch dims, the summed letters are merged into one.
    Other einsums (one or three operands, repeated or summed-away letters,
    integers) stay whole and lower to a loop nest.
  }];
  let arguments = (ins Variadic<Graph_NumericTensor>:$inputs, StrAttr:$equation);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_ConvOp : Graph_StructuredOp<"conv"> {
  let summary = "N-d grouped, strided, dilated, padded convolution (NC...).";
  let arguments = (ins Graph_NumericTensor:$input, Graph_NumericTensor:$weight,
                       Optional<Graph_NumericTensor>:$bias,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations, I64Attr:$group);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "operands attr-dict `:` type(operands) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_ConvTransposeOp : Graph_StructuredOp<"conv_transpose"> {
  let summary = "N-d transposed convolution (the gradient of conv).";
  let description = [{
    `pads` are the begin and end pads removed from the full output, after
    `output_padding` has been applied; the result type gives the output shape.
  }];
  let arguments = (ins Graph_NumericTensor:$input, Graph_NumericTensor:$weight,
                       Optional<Graph_NumericTensor>:$bias,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations, I64Attr:$group);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "operands attr-dict `:` type(operands) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_MaxPoolOp : Graph_StructuredOp<"max_pool"> {
  let summary = "N-d max pooling over the spatial dims of NC... input.";
  let description = [{
    `pads` holds begin pads then end pads; with `ceil_mode` the importer has
    already added the extra end padding a window may need.
  }];
  let arguments = (ins Graph_NumericTensor:$input, DenseI64ArrayAttr:$kernel_shape,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_AvgPoolOp : Graph_StructuredOp<"avg_pool"> {
  let summary = "N-d average pooling over the spatial dims of NC... input.";
  let description = [{
    `pads` holds begin pads then end pads. `count_pads` is how many of them
    count in the divisor: with ONNX's count_include_pad the explicit pads
    count but the extra end padding of ceil_mode never does.
  }];
  let arguments = (ins Graph_FloatTensor:$input, DenseI64ArrayAttr:$kernel_shape,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$count_pads);
  let results = (outs Graph_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Data movement.
//===----------------------------------------------------------------------===//

def Graph_ConstantOp : Graph_Op<"constant", [ConstantLike, Pure,
    DeclareOpInterfaceMethods<Graph_IterationSpaceOpInterface,
      ["getIterationSpaceIterators", "getIterationSpaceMaps"]>]> {
  let summary = "A constant tensor: a dense literal or a resource blob.";
  let description = [{
    Large weights are `dense_resource` blobs, shared with the importer's
    buffer and never printed inline unless asked.

    ```mlir
    %w = graph.constant dense_resource<conv1.weight> : tensor<64x3x7x7xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Graph_Tensor:$output);
  let hasCustomAssemblyFormat = 1;
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Graph_ShapeOp : Graph_StructuredOp<"shape"> {
  let summary = "The input's shape as a 1-D i64 tensor; always folds.";
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs RankedTensorOf<[I64]>:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Graph_SizeOp : Graph_StructuredOp<"size"> {
  let summary = "The input's element count as a 0-D i64 tensor; always folds.";
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs RankedTensorOf<[I64]>:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Graph_ReshapeOp : Graph_StructuredOp<"reshape"> {
  let summary = "Same elements in row-major order, new shape.";
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Graph_TransposeOp : Graph_StructuredOp<"transpose", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Permutes dims: result dim i is input dim perm[i].";
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Graph_SliceOp : Graph_StructuredOp<"slice", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Strided slice with one normalized (start, size, step) per dim.";
  let description = [{
    Result element `i` of dim `d` is input element `starts[d] + i * steps[d]`.
    `steps` may be negative; the importer has clamped the ONNX starts and
    ends, so every selected index is in bounds.
  }];
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$starts,
                       DenseI64ArrayAttr:$sizes, DenseI64ArrayAttr:$steps);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_ConcatOp : Graph_StructuredOp<"concat", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Concatenates along one axis.";
  let arguments = (ins Variadic<Graph_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_PadOp : Graph_StructuredOp<"pad", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Pads with a constant, by reflection or by edge replication.";
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$pads,
                       StrAttr:$mode, F64Attr:$value);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_TileOp : Graph_StructuredOp<"tile", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Repeats the input along each dim.";
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$repeats);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_TriluOp : Graph_StructuredOp<"trilu", [SameOperandsAndResultType,
    Graph_PositionDependent, Graph_PrefixConsistent]> {
  let summary = "Keeps the upper or lower triangle (offset k) of the last two dims.";
  let arguments = (ins Graph_Tensor:$input, BoolAttr:$upper, I64Attr:$k);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
}

def Graph_GatherOp : Graph_StructuredOp<"gather", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Takes slices of data along axis at the given indices.";
  let description = [{
    Negative indices count from the end; indices outside the axis are
    clamped into it, so no index ever reads out of bounds. ONNX makes such
    an index an error: the CPU pipeline also reports it and fails the run
    (llmc-convert-graph-to-linalg's check-indices), and index inputs are
    checked before a run.
  }];
  let arguments = (ins Graph_Tensor:$data, Graph_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` type($data) `,` type($indices) `->` type($output)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_GatherElementsOp : Graph_StructuredOp<"gather_elements"> {
  let summary = "out[i][j] = data[indices[i][j]][j] (for axis 0), any rank.";
  let arguments = (ins Graph_Tensor:$data, Graph_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` type($data) `,` type($indices) `->` type($output)
  }];
  let hasVerifier = 1;
}

def Graph_GatherNDOp : Graph_StructuredOp<"gather_nd"> {
  let summary = "Gathers slices of data addressed by index tuples.";
  let arguments = (ins Graph_Tensor:$data, Graph_IndexTensor:$indices,
                       I64Attr:$batch_dims);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` type($data) `,` type($indices) `->` type($output)
  }];
  let hasVerifier = 1;
}

def Graph_ScatterElementsOp : Graph_StructuredOp<"scatter_elements"> {
  let summary = "Copy of data with updates written at indices along axis.";
  let arguments = (ins Graph_Tensor:$data, Graph_IndexTensor:$indices,
                       Graph_Tensor:$updates, I64Attr:$axis, StrAttr:$reduction);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "operands attr-dict `:` type(operands) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_ScatterNDOp : Graph_StructuredOp<"scatter_nd"> {
  let summary = "Copy of data with update slices written at index tuples.";
  let arguments = (ins Graph_Tensor:$data, Graph_IndexTensor:$indices,
                       Graph_Tensor:$updates, StrAttr:$reduction);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = "operands attr-dict `:` type(operands) `->` type($output)";
  let hasVerifier = 1;
}

def Graph_OneHotOp : Graph_StructuredOp<"one_hot", [Graph_PositionDependent]> {
  let summary = "values[1] where the index matches the position on axis, values[0] elsewhere.";
  let arguments = (ins Graph_NumericTensor:$indices, Graph_Tensor:$values, I64Attr:$axis);
  let results = (outs Graph_Tensor:$output);
  let assemblyFormat = [{
    $indices `,` $values attr-dict `:` type($indices) `,` type($values) `->` type($output)
  }];
  let hasVerifier = 1;
}

def Graph_ResizeOp : Graph_StructuredOp<"resize", [Graph_PositionDependent]> {
  let summary = "Nearest, (multi)linear or (multi)cubic resampling to the "
                "result shape.";
  let description = [{
    `scales` (one per dim) map output to input coordinates with the
    `coordinate_transformation_mode` of ONNX Resize; `mode` is `nearest`,
    `linear` or `cubic` (4 taps per resized dim, the cubic convolution
    kernel with coefficient `cubic_coeff_a`; taps outside the input read
    its edge, or with `exclude_outside` weigh nothing, the others
    renormalized).
  }];
  let arguments = (ins Graph_NumericTensor:$input, StrAttr:$mode,
                       StrAttr:$coordinate_transformation_mode,
                       StrAttr:$nearest_mode, DenseF64ArrayAttr:$scales,
                       DefaultValuedAttr<F64Attr, "-0.75">:$cubic_coeff_a,
                       DefaultValuedAttr<BoolAttr, "false">:$exclude_outside);
  let results = (outs Graph_NumericTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion.
//===----------------------------------------------------------------------===//

def Graph_FusionGroupOp : Graph_Op<"fusion_group", [IsolatedFromAbove,
    RecursiveMemoryEffects, SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "Memory-bound graph ops that run as one kernel.";
  let description = [{
    Formed by `llmc-fuse` from the fusion planner's groups. The region is
    isolated: its block arguments are the `inputs`, in order, and
    `graph.yield` gives the `results` (a group may yield several). Every op
    of the body is a graph op; none is a contraction (those become library
    calls beside the groups). `kind` is the kernel form code generation
    uses: `loop` (one thread per element), `row` (one row per block, a row
    reduction with the elementwise work before and after it) or `column`
    (a reduction over outer dims). `bytes_read` and `bytes_written` are the
    planner's figures for the group.

    ```mlir
    %r = graph.fusion_group "loop" (%x, %b) {bytes_read = 16 : i64, bytes_written = 8 : i64}
        : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> {
    ^bb0(%a: tensor<2xf32>, %c: tensor<2xf32>):
      %s = graph.add %a, %c : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      %t = graph.relu %s : tensor<2xf32>
      graph.yield %t : tensor<2xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$kind, Variadic<Graph_Tensor>:$inputs,
                       I64Attr:$bytes_read, I64Attr:$bytes_written);
  let results = (outs Variadic<Graph_Tensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $kind `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The graph.yield that ends the body.
    YieldOp getYield();
  }];
}

def Graph_YieldOp : Graph_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"FusionGroupOp">]> {
  let summary = "The results of a fusion group.";
  let arguments = (ins Variadic<Graph_Tensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange()); }]>];
}

#endif // LLMC_GRAPH_OPS
