//===- Passes.td - Codegen passes of llmc ------------------*- tablegen -*-===//

#ifndef LLMC_CODEGEN_PASSES
#define LLMC_CODEGEN_PASSES

include "mlir/Pass/PassBase.td"

def ConvertGraphToLinalgPass
    : Pass<"llmc-convert-graph-to-linalg", "ModuleOp"> {
  let summary = "Lowers the graph dialect to linalg, tensor, arith and math.";
  let description = [{
    Elementwise ops become `linalg.generic` ops built from their
    IterationSpaceOpInterface maps and ScalarComputeOpInterface bodies;
    reductions, contractions, convolutions and pools become generics with
    reduction loops; data movement becomes tensor ops or index-computing
    generics. With `library-calls` (the default), f32/f64 matmul and f32
    1-D/2-D convolution become calls to the runtime's OpenBLAS-backed
    kernels instead; with `half-gemms` (the CUDA pipeline's), f16 and bf16
    matmuls too, accumulating in f32 into an f32 result that a cast
    narrows (what cuBLASLt computes). Unsigned element types become signless (the op bodies keep
    the unsigned semantics). Composite ops must have been decomposed first
    (`llmc-decompose-composite-ops`); any graph op left over is an error
    naming the op.

    ```mlir
    %z = graph.add %x, %y : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    ```
    becomes
    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %z = linalg.generic {indexing_maps = [#id, #id, #id], ...}
        ins(%x, %y : ...) outs(%e : ...) {
      ^bb0(%a: f32, %b: f32, %o: f32):
        %s = arith.addf %a, %b : f32
        linalg.yield %s : f32
    } -> tensor<4xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::func::FuncDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect"
  ];
  let options = [
    Option<"useLibraryCalls", "library-calls", "bool", /*default=*/"true",
           "Lower f32/f64 matmul and f32 convolution to calls into the "
           "runtime's BLAS-backed kernels">,
    Option<"libraryAttention", "library-attention", "bool", /*default=*/"false",
           "Keep f32 graph.attention for the runtime's fused CPU kernel (its "
           "bufferization makes it a call); otherwise it is lowered as its "
           "matmul, softmax, matmul chain">,
    Option<"halfGemms", "half-gemms", "bool", /*default=*/"false",
           "Also make f16/bf16 matmuls library calls (cuBLASLt on CUDA): "
           "f32 accumulation into an f32 result, then a cast">,
    Option<"checkIndices", "check-indices", "bool", /*default=*/"false",
           "Report an index that a gather or scatter computes outside its "
           "dim (ONNX makes it an error) through the runtime's "
           "llmc_index_error, which fails the run naming the node (the CPU "
           "pipeline's); the access itself stays clamped in bounds">
  ];
}

def LowerLibraryCallsPass : Pass<"llmc-lower-library-calls", "ModuleOp"> {
  let summary = "Replaces linalg.generic ops marked with a library_call by "
                "calls to that runtime kernel.";
  let description = [{
    Runs after bufferization. Every `linalg.generic` on buffers that carries
    a `library_call` attribute (set by the graph lowering on contractions the
    runtime's BLAS-backed kernels compute) becomes a `func.call` of that
    kernel through its C interface, with every operand cast to a fully
    dynamic strided memref; the kernel is declared once per module.

    ```mlir
    linalg.generic {library_call = "llmc_matmul_f32", ...}
        ins(%a, %b, %params : memref<1x2x3xf32>, memref<1x3x4xf32>, memref<2xi64>)
        outs(%c : memref<1x2x4xf32>) { ... }
    ```
    becomes
    ```mlir
    %0 = memref.cast %a : memref<1x2x3xf32> to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
    ...
    call @llmc_matmul_f32(%0, %1, %2, %3) : (...) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ApproximateMathPass : Pass<"llmc-approximate-math", "func::FuncOp"> {
  let summary = "Replaces f32 transcendentals by MLIR's polynomial "
                "approximations.";
  let description = [{
    `math.tanh`, `math.erf`, `math.exp`, `math.expm1`, `math.log`,
    `math.log1p` and `math.log2` on f32 become MLIR's polynomial
    approximations (accurate to a few ulp), which LLVM then vectorizes with
    the loops around them, instead of one libm call per element. Other
    element types and other functions are left to libm.

    ```mlir
    %y = math.tanh %x : f32
    ```
    becomes a clamp, a rational polynomial and selects in arith ops.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def OutlineFusionGroupsPass : Pass<"llmc-outline-fusion-groups", "ModuleOp"> {
  let summary = "Turns each graph.fusion_group into a private kernel function.";
  let description = [{
    The CPU lowering of fusion groups: each group becomes a private
    `func.func @<caller>_kernel<N>` marked `llmc.kernel` (its body, with
    `graph.yield` as the return) and a `func.call` in its place. The
    kernel's graph ops then lower to linalg like any other, and
    `llmc-fuse-kernel-loops` fuses their loops within the kernel only.

    ```mlir
    %r = graph.fusion_group "loop" (%x) {...} : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%a: tensor<4xf32>):
      %e = graph.exp %a : tensor<4xf32>
      graph.yield %e : tensor<4xf32>
    }
    ```
    becomes
    ```mlir
    %r = call @main_kernel0(%x) : (tensor<4xf32>) -> tensor<4xf32>
    func.func private @main_kernel0(%a: tensor<4xf32>) -> tensor<4xf32>
        attributes {llmc.kernel = "loop"} {
      %e = graph.exp %a : tensor<4xf32>
      return %e : tensor<4xf32>
    }
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def FuseKernelLoopsPass : Pass<"llmc-fuse-kernel-loops", "func::FuncOp"> {
  let summary = "Fuses the linalg loops of a kernel function into few loops.";
  let description = [{
    On functions marked `llmc.kernel` only (what `llmc-fuse` decided to
    fuse), applies upstream linalg elementwise fusion: a producer
    `linalg.generic` is inlined into each consumer generic, so an
    elementwise chain runs as one loop and a reduction absorbs the
    elementwise work before it (softmax as max, sum(exp(x - max)) and the
    normalisation). Other functions are left alone: ops outside fusion
    groups were meant to stay apart.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def AliasDonatedResultsPass : Pass<"llmc-alias-donated-results", "ModuleOp"> {
  let summary = "Returns a donated input updated in place as its output, "
                "without a copy.";
  let description = [{
    Runs after one-shot bufferization with function boundaries, before
    buffer-results-to-out-params. A result of a public function whose buffer
    is (through memref.cast) a donated argument (`llmc.donated`, writable),
    because bufferization updated that input in place, is dropped from the
    function: the caller reads the output from the input's buffer.
    Without this, buffer-results-to-out-params would copy the whole input
    into the output's buffer on every call (a whole KV cache per decoded
    token).

    The function gets `llmc.output_aliases`, one entry per result it had:
    the donated argument the result now lives in, or -1 for a result that
    still has a buffer of its own (an out-parameter). An argument aliases at
    most one result; a function without donated arguments is unchanged.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def ReadonlyArgumentsPass : Pass<"llmc-readonly-arguments", "ModuleOp"> {
  let summary = "Marks the tensor arguments of public functions read-only "
                "for bufferization.";
  let description = [{
    The runtime hands the code the caller's input buffers and the weights
    mapped from the artifact in place, without copying them. Bufferization
    would otherwise treat function arguments as writable and may update an
    input in place (an insert_slice into it, a scatter). This pass sets
    `bufferization.writable = false` on every tensor argument of every
    public function with a body, so that one-shot bufferization copies
    instead.

    An argument already marked `bufferization.writable = true` is an error:
    the runtime's contract forbids it. The exception is an input the caller
    donated (`llmc.donated`, from `llmc compile --donate NAME`): its buffer
    is the caller's to give up, so it stays writable and bufferization may
    update it in place (a KV cache written by a scatter);
    llmc-alias-donated-results then returns it as the output it became.

    The caller also hands in one buffer per result: a value that a public
    function returns more than once (two outputs computed alike, merged by
    CSE) is returned as a copy (`bufferization.alloc_tensor` with `copy`)
    at every position after its first.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def KernelsToGpuPass : Pass<"llmc-kernels-to-gpu", "ModuleOp"> {
  let summary = "Turns the bufferized linalg ops of a module into CUDA "
                "kernels (gpu.func) and their launches.";
  let description = [{
    The CUDA lowering after bufferization. Every `linalg` op that is not a
    library call becomes a `gpu.func` in one `gpu.module @llmc_kernels`,
    launched in its place by `gpu.launch_func` (`memref.copy` and named ops
    are handled as generics):

    - a function of a `row` fusion group (`llmc.kernel = "row"`) becomes
      one kernel with one thread block per row. Each op is a phase over the
      row's columns, the block's threads striding through them (coalesced);
      a reduction's per-thread partials meet in `gpu.all_reduce`; a barrier
      separates phases. The group takes this form only if everything it
      writes and reads again stays within its row and each reduction is a
      plain combiner (add, mul, max, min, and, or, xor);
    - every other op becomes a grid-stride loop over its parallel
      iteration space, 256 threads a block, with reductions done
      sequentially for each output element.

    Where the innermost dim's extent is a multiple of 4 and some operand is
    dense along it, a thread computes 4 consecutive elements at a time, and
    such operands move as one aligned vector (128-bit for f32): the
    elementwise loops, and each phase of a row kernel. Operands that do not
    vary along that dim are read once; others, one element per lane.

    A kernel function that only adds a bias to a zero-filled f32 library
    GEMM's result and applies nothing, a ReLU or the tanh GELU is left as
    it is: the CUDA program makes it the GEMM's cuBLASLt epilogue.

    Kernels are named after their group's function (`main_kernel3`,
    numbered `main_kernel3_0`... when a group needs several) or `main_op<N>`
    for an op outside any group. Host code that is not straight-line
    (loops, conditionals) is refused.

    f32 attention (the bufferized graph.attention's call of the runtime's
    `llmc_attention_f32`) becomes one flash-attention kernel
    (`<function>_attention<N>`, codegen/FlashAttention.cpp): key tiles of
    32 with an online softmax in registers, 8 query rows per block sharing
    each tile through shared memory, or, for fewer rows per KV head
    (decode), a block per row whose 4 warps split the keys. Operands with
    strided layouts are copied into contiguous buffers first.
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::affine::AffineDialect",
    "::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect",
    "::mlir::vector::VectorDialect", "::mlir::math::MathDialect",
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect"
  ];
}

#endif // LLMC_CODEGEN_PASSES
