//===- Pipelines.cpp - The compilation pipelines (CPU, CUDA), by phase ----===//
//
// One place builds the pipeline, in named phases, so that
// `llmc --compile-to=<phase>` can stop after any of them. Each phase is a
// textual pipeline of registered passes: what `llmc-opt` runs is exactly
// what the compiler runs.
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::llmc;

std::optional<Phase> mlir::llmc::parsePhase(StringRef name) {
  return llvm::StringSwitch<std::optional<Phase>>(name)
      .Case("import", Phase::Import)
      .Case("graph", Phase::Graph)
      .Case("linalg", Phase::Linalg)
      .Case("bufferized", Phase::Bufferized)
      .Case("llvm", Phase::LLVM)
      .Default(std::nullopt);
}

/// nvvm-attach-target's option linking libdevice, when the build found it.
static std::string libdeviceOption() {
#ifdef LLMC_CUDA_LIBDEVICE
  return std::string(" l=") + LLMC_CUDA_LIBDEVICE;
#else
  return "";
#endif
}

/// The start of the linalg phase on every target: fusion groups become
/// kernel functions whose loops are fused within each.
static constexpr const char *kLinalgKernels =
    "llmc-outline-fusion-groups,llmc-convert-graph-to-linalg{library-attention check-indices},"
    "func.func(llmc-fuse-kernel-loops),";

/// The start of the bufferized phase on every target: results become
/// caller-allocated out-parameters (the runtime owns every buffer it hands
/// in); inputs and weights are the caller's buffers, passed in place, and
/// the code never writes them, except the inputs the caller donated: one
/// updated in place is the output it became (no out-parameter, no copy).
static constexpr const char *kBufferize =
    "llmc-readonly-arguments,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "llmc-alias-donated-results,"
    "buffer-results-to-out-params{hoist-static-allocs modify-public-functions},";

/// The CUDA pipeline's phases where they differ from the CPU's.
static std::string cudaPhasePipeline(Phase phase,
                                     const PipelineOptions &options) {
  switch (phase) {
  case Phase::Linalg:
    // Kernel functions stay functions: each becomes one or more gpu.funcs.
    // cuBLASLt also runs f16/bf16 GEMMs.
    return "llmc-outline-fusion-groups,"
           "llmc-convert-graph-to-linalg{half-gemms library-attention check-indices},"
           "func.func(llmc-fuse-kernel-loops),canonicalize,cse";
  case Phase::Bufferized:
    // No deallocation: the runtime plans one device arena for the run.
    return std::string(kBufferize) + "canonicalize";
  case Phase::LLVM:
    // Kernels become gpu.funcs, then NVVM, then PTX through LLVM's NVPTX
    // backend (libdevice linked from the CUDA toolkit for math functions).
    // Buffers are passed as bare pointers: every kernel operand has a static
    // shape and layout, and the runtime passes each buffer's device address.
    return "llmc-kernels-to-gpu,canonicalize,cse,"
           "nvvm-attach-target{chip=" + options.cudaChip + " O=3" +
           libdeviceOption() + "},"
           "gpu.module(affine-expand-index-ops,lower-affine,convert-scf-to-cf,"
           "convert-gpu-to-nvvm{index-bitwidth=64 use-bare-ptr-memref-call-conv},canonicalize,cse,"
           "reconcile-unrealized-casts),"
           "gpu-module-to-binary{format=isa}";
  default:
    return "";
  }
}

/// Sharding propagation and partitioning, when a mesh is given. Values are
/// quoted (meshes and pins hold commas); the list of pins is braced, or its
/// parser would split the quoted pins at their commas.
static std::string shardingPipeline(const PipelineOptions &options) {
  if (options.mesh.empty())
    return "";
  std::string pins, pinned;
  for (const std::string &pin : options.shards) {
    pins += (pins.empty() ? "" : ",") + ("'" + pin + "'");
    pinned += (pinned.empty() ? "" : ",") +
              ("'" + pin.substr(0, pin.find('=')) + "'");
  }
  // Fused projections (GPT-2's QKV) are cut per slice where tensor
  // parallelism may split their columns, so that their heads split.
  std::string split;
  if (options.strategy == "megatron" || options.strategy == "megatron-sp" ||
      options.strategy == "auto")
    split = ",llmc-split-fused-projections" +
            (pinned.empty() ? std::string() : "{keep={" + pinned + "}}");
  return split + ",llmc-propagate-sharding{mesh='" + options.mesh + "' strategy=" +
         options.strategy + (pins.empty() ? "" : " shard={" + pins + "}") +
         " link-bandwidth=" + std::to_string(options.linkBandwidth) +
         "},llmc-partition,canonicalize";
}

static std::string phasePipeline(Phase phase, const PipelineOptions &options) {
  if (!options.cudaChip.empty() && phase >= Phase::Linalg)
    return cudaPhasePipeline(phase, options);
  std::string fuseTarget = options.cudaChip.empty() ? "cpu" : "cuda";
  switch (phase) {
  case Phase::Import:
    return "";
  case Phase::Graph:
    // Fold shape computations first so that decomposition sees constants;
    // decompose composites last, after any pass that wants them whole.
    // Weights leave the code last, once folding no longer needs them.
    // Sharding sees primitive ops and weights as arguments (what a device
    // loads); fusion comes last: it plans over the local program's primitive
    // ops, with collectives as barriers.
    // Grouped-query attention reads its KV heads unrepeated: on the local
    // program, where a mesh split the heads (the planner sees the repeat
    // that the KV heads' sharding follows).
    // Attention becomes one op where the target has its fused kernel, on
    // the local program too (each device's heads); not with fusion off, the
    // reference the fused code is compared with.
    return std::string("canonicalize,cse,func.func(llmc-decompose-composite-ops),"
                       "canonicalize,cse,llmc-outline-weights") +
           shardingPipeline(options) +
           (options.fusion || !options.liftAttentionFor.empty()
                ? ",func.func(llmc-lift-attention{target=" +
                      (options.liftAttentionFor.empty() ? fuseTarget
                                                        : options.liftAttentionFor) +
                      "})"
                : "") +
           ",func.func(llmc-fold-grouped-heads),canonicalize,cse" +
           (options.fusion ? ",func.func(llmc-fuse{target=" + fuseTarget + "})"
                            : "");
  case Phase::Linalg:
    // The kernels are inlined back into their callers once their loops
    // are fused.
    return std::string(kLinalgKernels) +
           "inline,symbol-dce,canonicalize,cse";
  case Phase::Bufferized:
    // The code frees only its temporaries.
    return std::string(kBufferize) +
           "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
           "canonicalize";
  case Phase::LLVM:
    // math-to-llvm takes what LLVM has intrinsics for; libm calls cover the
    // rest (erf, asin...) and must exist before func-to-llvm runs.
    // Marked contractions become runtime kernel calls before the remaining
    // generics become loops. bf16 arithmetic runs in f32, and its
    // conversions become integer arithmetic (arith-expand): the artifact
    // needs no compiler-rt.
    // Transcendentals become polynomials so that LLVM vectorizes the loops
    // around them instead of calling libm one element at a time.
    return "llmc-lower-library-calls,"
           "func.func(convert-linalg-to-loops,"
           "math-extend-to-supported-types{extra-types=f16 target-type=f32},"
           "arith-emulate-unsupported-floats{source-types=bf16 target-type=f32},"
           "llmc-approximate-math),"
           "lower-affine,convert-scf-to-cf,"
           "expand-strided-metadata,lower-affine,finalize-memref-to-llvm,"
           "func.func(arith-expand{include-bf16}),"
           "convert-math-to-llvm,convert-math-to-libm,convert-arith-to-llvm,"
           "convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,"
           "reconcile-unrealized-casts";
  }
  llvm_unreachable("unknown phase");
}

void mlir::llmc::buildPipeline(OpPassManager &pm, Phase first,
                                  Phase last, const PipelineOptions &options) {
  for (Phase p : {Phase::Graph, Phase::Linalg, Phase::Bufferized, Phase::LLVM}) {
    if (p < first)
      continue;
    if (p > last)
      return;
    if (failed(parsePassPipeline(phasePipeline(p, options), pm, llvm::errs())))
      llvm::report_fatal_error("llmc: malformed built-in pipeline");
  }
}
