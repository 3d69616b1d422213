//===- Passes.h - Codegen passes and pipelines of llmc ---------*- C++ -*-===//

#ifndef LLMC_CODEGEN_PASSES_H
#define LLMC_CODEGEN_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::llmc {

#define GEN_PASS_DECL
#include "llmc/Codegen/Passes.h.inc"

/// Converts graph tensor types to their lowered form (unsigned -> signless).
class GraphTypeConverter : public TypeConverter {
public:
  GraphTypeConverter();
};

/// Patterns lowering graph ops, one family per file.
void populateElementwiseToLinalgPatterns(const TypeConverter &converter,
                                         RewritePatternSet &patterns);
void populateReductionToLinalgPatterns(const TypeConverter &converter,
                                       RewritePatternSet &patterns);
void populateContractionToLinalgPatterns(const TypeConverter &converter,
                                         RewritePatternSet &patterns);
void populateDataMovementToLinalgPatterns(const TypeConverter &converter,
                                          RewritePatternSet &patterns);
/// Upstream `shard` collectives (from llmc-partition) as calls to the
/// runtime's collective kernels.
void populateCollectivesToLinalgPatterns(const TypeConverter &converter,
                                         RewritePatternSet &patterns);
/// f32/f64 matmul and f32 convolution as calls to the runtime's BLAS-backed
/// kernels; they take precedence over the generic lowering where they apply.
void populateLibraryCallPatterns(const TypeConverter &converter,
                                 RewritePatternSet &patterns,
                                 bool halfGemms = false);

/// The compilation phases `llmc --compile-to` can stop after, in order.
enum class Phase { Import, Graph, Linalg, Bufferized, LLVM };
/// Parses a phase name ("import", "graph", "linalg", "bufferized", "llvm").
std::optional<Phase> parsePhase(llvm::StringRef name);

/// Choices that change what the pipeline does (not just where it stops).
struct PipelineOptions {
  /// Form fusion groups (llmc-fuse) and fuse their loops; also lift
  /// attention into graph.attention (llmc-lift-attention).
  bool fusion = true;
  /// Lift attention for this target ("cpu" or "cuda") even without fusion
  /// (`llmc explain`, which fuses apart); empty: with fusion, for the
  /// pipeline's own target.
  std::string liftAttentionFor;
  /// Empty for the CPU; the CUDA chip ("sm_90"...) for the CUDA pipeline,
  /// whose last phase (Phase::LLVM) ends with the kernels' PTX in a
  /// gpu.binary.
  std::string cudaChip;
  /// CUDA: f32 GEMMs and convolutions may run on TF32 tensor cores (inputs
  /// rounded to a 10-bit mantissa). Off: they compute in full fp32.
  bool tf32 = false;
  /// A device mesh ("tp=2", "dp=2,tp=4"): the graph phase propagates
  /// shardings over it and partitions @main into one SPMD program
  /// (llmc-propagate-sharding, llmc-partition). Empty: one device.
  std::string mesh;
  /// With a mesh: dp, megatron, megatron-sp, experts, auto or none.
  std::string strategy = "auto";
  /// With a mesh: pins NAME=AXIS,-,... by input or weight name.
  std::vector<std::string> shards;
  /// With a mesh: the link bandwidth (bytes/s per direction) the cost model
  /// and explain assume.
  double linkBandwidth = 450e9;
  /// Inputs the caller donates, by name (`--donate`): the code may update
  /// their buffers in place, and an output computed from one in place (a
  /// KV cache written by a scatter) is returned in it without a copy. CPU
  /// programs of one device only.
  std::vector<std::string> donate;
};

/// Adds the pipeline's passes of the phases after `first`'s predecessor up
/// to and including `last` (Phase::Graph as `first` starts from the
/// imported graph).
void buildPipeline(OpPassManager &pm, Phase first, Phase last,
                   const PipelineOptions &options = {});

/// A library convolution (`llmc_conv2d_f32`) reads an input that the
/// lowering padded: a buffer `padded` zero-filled by `fill`, then `source`
/// copied into its interior (`copy` into the subview `interior`). When
/// nothing else uses `padded`, the padding is equal on both sides of each
/// spatial dim, and nothing between the copy and the convolution touches
/// `source`, the convolution can read `source` in place with the padding as
/// its own parameter (cuDNN's): the fill, the copy and the buffer go.
struct ConvPadding {
  memref::AllocOp padded;
  Operation *fill = nullptr; // linalg.fill or a constant linalg.map
  memref::SubViewOp interior;
  memref::CopyOp copy;
  Value source;
  int64_t padH = 0, padW = 0;
};
/// True when `op` writes zeros into all of `buffer`: a linalg.fill, or a
/// linalg.map without inputs yielding a zero constant.
bool isZeroFill(Operation *op, Value buffer);
/// The buffer `v` is, or is a view of (through any view op).
Value bufferRoot(Value v);
/// True for a linalg.generic marked as the runtime's 2-D convolution.
bool isLibraryConv(linalg::GenericOp op);
/// The padding of `conv`'s input, when it has the form above.
std::optional<ConvPadding> matchConvPadding(linalg::GenericOp conv);

/// What cuBLASLt applies to a GEMM's result before writing it: a bias
/// vector broadcast along the rows, then nothing, a ReLU, or the tanh
/// approximation of GELU.
enum class GemmEpilogueKind { Bias, ReluBias, GeluBias };
/// A call of a kernel function that computes `output = act(result + bias)`
/// elementwise from the whole output `result` of the f32 library GEMM
/// `gemm` (zero-filled before it), or from the narrowing of an f16/bf16
/// library GEMM's result (matchGemmNarrowing), which nothing else reads: on
/// CUDA the GEMM writes `output` itself, with the epilogue (see
/// GemmEpilogue.cpp).
struct GemmEpilogue {
  linalg::GenericOp gemm;
  func::CallOp call;
  GemmEpilogueKind kind = GemmEpilogueKind::Bias;
  Value result, bias, output; // in the caller
};
/// The epilogue `call` is, when it has the form above.
std::optional<GemmEpilogue> matchGemmEpilogue(func::CallOp call);
/// The unit attribute llmc-kernels-to-gpu puts on a call it left unlowered
/// as a GEMM epilogue.
constexpr const char *kGemmEpilogueAttr = "llmc.gemm_epilogue";

/// Attaches graph.attention's bufferization: on the CPU, f32 attention that
/// reaches bufferization becomes a call of the runtime's fused kernel
/// (codegen/AttentionBufferization.cpp).
void registerAttentionBufferization(DialectRegistry &registry);

/// On an argument of @main: an input the caller donates (`--donate NAME`):
/// the code may update its buffer in place (see llmc-readonly-arguments).
constexpr const char *kDonatedAttr = "llmc.donated";
/// On @main after llmc-alias-donated-results: per result it had, the
/// donated argument holding it (updated in place), or -1.
constexpr const char *kOutputAliasesAttr = "llmc.output_aliases";
/// A call of a kernel function that computes
/// `output = max(result + bias [+ residual], 0)` elementwise from the whole
/// NCHW output `result` of the f32 library convolution `conv` (zero-filled
/// before it), which nothing else reads; `bias` holds one element per
/// output channel (a buffer of the caller, or a memref.get_global of a
/// constant in the kernel function), `residual` (or null) is a tensor of
/// the output's shape.
/// On CUDA the convolution writes `output` itself, through cuDNN's
/// cudnnConvolutionBiasActivationForward (see GemmEpilogue.cpp).
struct ConvEpilogue {
  linalg::GenericOp conv;
  func::CallOp call;
  Value result, bias, residual, output; // in the caller
};
/// The epilogue `call` is, when it has the form above.
std::optional<ConvEpilogue> matchConvEpilogue(func::CallOp call);
/// The unit attribute llmc-kernels-to-gpu puts on a call it left unlowered
/// as a convolution epilogue.
constexpr const char *kConvEpilogueAttr = "llmc.conv_epilogue";
/// A linalg.generic that narrows (arith.truncf) the whole f32 output of an
/// f16/bf16 library GEMM, zero-filled before it and read by nothing else,
/// into a buffer of the GEMM's type: on CUDA the GEMM writes that buffer
/// itself (cuBLASLt accumulates in f32 and rounds once, as the narrowing
/// does).
struct GemmNarrowing {
  linalg::GenericOp gemm, narrow;
  Value output;
};
/// The narrowing `narrow` is, when it has the form above.
std::optional<GemmNarrowing> matchGemmNarrowing(linalg::GenericOp narrow);
/// The unit attribute llmc-kernels-to-gpu puts on a narrowing it left on
/// the host.
constexpr const char *kGemmNarrowingAttr = "llmc.gemm_narrowing";

#define GEN_PASS_REGISTRATION
#include "llmc/Codegen/Passes.h.inc"

} // namespace mlir::llmc

#endif // LLMC_CODEGEN_PASSES_H
