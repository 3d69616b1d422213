//===- CudaProgram.h - What a CUDA artifact runs (no MLIR) ------*- C++ -*-===//
//
// Part of the runtime: plain C++. A CUDA program is a straight-line schedule
// decided at compile time: the kernels' PTX (and cubin), the buffers every
// step reads and writes (temporaries at fixed offsets of one device arena,
// laid out by liveness), and the steps in stream order: kernel launches,
// cuBLASLt GEMMs, cuDNN convolutions and memsets. The runtime only replays
// it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_CUDAPROGRAM_H
#define LLMC_RUNTIME_CUDAPROGRAM_H

#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::runtime {

enum class BufferKind : uint8_t { Arena, Input, Weight, Output, Constant };

struct CudaBuffer {
  BufferKind kind = BufferKind::Arena;
  uint32_t index = 0;  // which input, weight, output or constant
  uint64_t offset = 0; // in the arena (kind Arena)
  uint64_t bytes = 0;
};

/// A row-major matrix (or batch of them) `offset` elements into a buffer.
struct GemmOperand {
  uint32_t buffer = 0;
  int64_t offset = 0, ld = 0, batchStride = 0;
};

/// What cuBLASLt applies to the product before writing C: nothing, or the
/// bias vector (N elements, one per column of C, shared by the batch)
/// added, then nothing, max(x, 0), or the tanh approximation of GELU.
enum class GemmEpilogue : uint8_t { None, Bias, ReluBias, GeluBias };

/// C[b] += op(A[b]) op(B[b]) for b < batch, C being M x N; C = ... when
/// not `accumulate` (beta = 0); with an epilogue, C = act(... + bias). A
/// and B are `dtype`, C is `cDtype`: one type throughout (F16/BF16
/// accumulate in F32 and round once), or F16/BF16 operands into an F32 C.
/// An epilogue needs one type throughout: F32, F16 or BF16 (the bias too;
/// F16/BF16 computed in F32 and rounded once).
struct CudaGemm {
  DType dtype = DType::F32, cDtype = DType::F32;
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool transA = false, transB = false, accumulate = true;
  bool tf32 = false; // f32 on TF32 tensor cores
  GemmOperand a, b, c;
  GemmEpilogue epilogue = GemmEpilogue::None;
  uint32_t biasBuffer = 0; // with an epilogue: N elements of cDtype
  int64_t biasOffset = 0;  // in elements
};

/// "bias", "relu_bias", "gelu_bias" (empty for None).
const char *epilogueName(GemmEpilogue e);

/// A 4-D (NCHW) tensor `offset` elements into a buffer, `strides` in
/// elements.
struct ConvOperand {
  uint32_t buffer = 0;
  int64_t offset = 0;
  int64_t strides[4] = {0, 0, 0, 0};
};

/// What cuDNN applies to a convolution before writing y: nothing, or
/// y = max(conv + bias [+ z], 0) (cudnnConvolutionBiasActivationForward).
enum class ConvEpilogue : uint8_t { None, ReluBias };
/// "relu_bias" (empty for None).
const char *epilogueName(ConvEpilogue e);

/// y = conv(x, w) (y += ... when `accumulate`): the cross-correlation ONNX
/// Conv computes, run by cuDNN. x is N x C x H x W, read as zero-padded by
/// `pad` on both sides of each spatial dim; w is K x C/group x R x S and
/// dense; y is N x K x OH x OW. With an epilogue (never accumulating),
/// y = max(conv(x, w) + bias + z, 0): the bias is K elements, one per
/// output channel; z, when `residual`, has y's sizes and strides.
struct CudaConv {
  DType dtype = DType::F32;
  int64_t input[4] = {0, 0, 0, 0};  // N, C, H, W
  int64_t filter[4] = {0, 0, 0, 0}; // K, C / group, R, S
  int64_t output[4] = {0, 0, 0, 0}; // N, K, OH, OW
  int64_t pad[2] = {0, 0}, stride[2] = {1, 1}, dilation[2] = {1, 1};
  int64_t group = 1;
  bool accumulate = true;
  bool tf32 = false; // TF32 tensor-core algorithms allowed
  ConvOperand x, w, y;
  ConvEpilogue epilogue = ConvEpilogue::None;
  uint32_t biasBuffer = 0; // with an epilogue: K elements
  int64_t biasOffset = 0;  // in elements
  bool residual = false;
  ConvOperand z;
};

/// A collective between the devices of a mesh axis (a partitioned
/// program's), run by NCCL on the step's stream: `params` as the CPU
/// devices' kernels take them (runtime/Collectives.h), `in` and `out` dense
/// row-major tensors `inOffset` and `outOffset` elements into their
/// buffers. NCCL moves whole buffers: a gather, scatter or exchange along
/// an inner dim packs and unpacks its chunks through `scratch` (an arena
/// buffer of scratchBytes), with 2-D copies.
struct CudaCollective {
  CollectiveParams params;
  DType dtype = DType::F32;
  std::vector<int64_t> inShape, outShape;
  uint32_t in = 0, out = 0;
  int64_t inOffset = 0, outOffset = 0;
  bool hasScratch = false;
  uint32_t scratch = 0;
};

/// The bytes of scratch `c` needs (0: none): an all-gather or a
/// reduce-scatter along a dim with an outer dim above 1 needs the whole
/// gathered tensor's, an all-to-all twice its input's.
uint64_t collectiveScratchBytes(const CudaCollective &c);

/// True when `c`'s shapes agree with what it does (its kind, dims and
/// group size) and both tensors and the scratch lie inside their buffers.
bool validCollective(const CudaCollective &c,
                     const std::vector<CudaBuffer> &buffers);

struct CudaStep {
  enum Kind : uint8_t { Launch, Gemm, Memset, Conv, Collective } kind = Launch;
  std::string kernel;
  uint32_t grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  uint32_t sharedBytes = 0;
  std::vector<uint32_t> args; // buffers, as bare device pointers
  uint64_t offset = 0, bytes = 0; // Memset: zeroes args[0][offset, +bytes)
  CudaGemm gemm;
  CudaConv conv;
  CudaCollective collective;
  std::string node; // the ONNX node(s), for errors and profiles
};

struct CudaConstant {
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  std::string data;
};

struct CudaProgram {
  std::string chip; // "sm_90"
  std::string ptx, cubin;
  uint64_t arenaBytes = 0;
  std::vector<CudaBuffer> buffers;
  std::vector<CudaConstant> constants;
  std::vector<CudaStep> steps;
  /// The nodes whose computed indices the kernels check (Artifact.fbs'
  /// index_sites); empty: no check, no `llmc_index_status` global.
  std::vector<std::string> indexSites;
  /// Per output of the signature, the donated input it is (updated in
  /// place; it has no Output buffer), or -1. Not stored in the program: the
  /// artifact's signature says it (TensorSpec::aliasOf).
  std::vector<int> outputAliases;
  /// The signature's input and output names, for messages (empty: they are
  /// numbered). Not stored in the program either.
  std::vector<std::string> inputNames, outputNames;
};

/// True when `conv`'s sizes are consistent (the output size follows from
/// the input's, the padding, strides and dilations; channels divide into
/// groups; the filter is dense) and every operand lies inside its buffer.
bool validConv(const CudaConv &conv, const std::vector<CudaBuffer> &buffers);
/// True when every matrix of `gemm` lies inside its buffer and its types
/// are a combination cuBLASLt runs (see CudaGemm).
bool validGemm(const CudaGemm &gemm, const std::vector<CudaBuffer> &buffers);
/// Floating-point operations of a GEMM or convolution step (2 per
/// multiply-add); 0 for other steps.
double stepFlops(const CudaStep &step);

/// Bytes a step moves: a kernel's buffers, a library call's operands (read
/// once, the output written, and read too when it accumulates), a memset's
/// bytes.
double stepBytes(const CudaProgram &program, const CudaStep &step);

/// A target's figures for roofline estimates (llmc explain's table).
struct Roofline {
  std::string name;
  double bytesPerSecond = 0, flopsPerSecond = 0, launchSeconds = 0;
};

/// The per-step table of a profiled run (`stepMs[i]`: step i's time): each
/// step's time, GB/s over stepBytes, TFLOP/s of GEMMs and convolutions,
/// and with `roofline` the estimate max(bytes / bandwidth, flops / peak) +
/// launch cost beside it; then a summary line.
std::string formatProfile(const CudaProgram &program,
                          const std::vector<double> &stepMs,
                          const Roofline *roofline);

/// Alignment of every arena buffer: cuBLASLt and 128-bit accesses need 16;
/// 256 matches cudaMalloc's.
constexpr uint64_t kArenaAlignment = 256;

/// A temporary buffer's size and the steps [first, last] that use it.
struct Lifetime {
  uint64_t bytes = 0;
  int64_t first = 0, last = 0;
};

/// Offsets for `buffers` in one arena such that buffers whose lifetimes
/// overlap never share bytes, each aligned to kArenaAlignment; returns the
/// arena's size. Larger buffers are placed first, each at the lowest offset
/// that fits (greedy best-fit by size, as TFLite's and XLA's planners do).
uint64_t planArena(const std::vector<Lifetime> &buffers,
                   std::vector<uint64_t> &offsets);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_CUDAPROGRAM_H
