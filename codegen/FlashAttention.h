//===- FlashAttention.h - graph.attention as one CUDA kernel -----*- C++ -*-===//
//
// The CUDA kernel of f32 graph.attention (llmc-kernels-to-gpu lowers the
// bufferized op's call of llmc_attention_f32 into it): tiled over the keys
// with an online softmax, so no score matrix is ever in global memory.
// See FlashAttention.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_FLASHATTENTION_H
#define LLMC_CODEGEN_FLASHATTENTION_H

#include "mlir/IR/Builders.h"

#include <array>
#include <cstdint>

namespace mlir::llmc {

/// The static problem: query [B, KVH, G, L, D], key [B, KVH, S, D], value
/// [B, KVH, S, E], output [B, KVH, G, L, E], an optional bias whose dims
/// are the scores' [B, KVH, G, L, S] or 1.
struct FlashAttentionShape {
  int64_t B = 1, KVH = 1, G = 1, L = 1, S = 1, D = 1, E = 1;
  bool hasBias = false;
  std::array<bool, 5> biasFull{}; // false: the bias dim is broadcast (1)
  double scale = 1.0;
};

/// How the kernel is launched: `warps` warps of 32 threads per block,
/// `rowsPerBlock` query rows (a warp each) sharing each key tile in shared
/// memory, or, for fewer rows than that (decode: one query token), one row
/// per block with its warps splitting the keys (`keySplits`) and combining
/// their partial softmaxes at the end.
struct FlashAttentionPlan {
  int64_t warps = 8, rowsPerBlock = 8, keySplits = 1, grid = 1;
  int64_t block() const { return warps * 32; }
};

/// The largest D and E the kernel takes (a key tile of each in shared
/// memory; llmc-lift-attention lifts only up to it on CUDA).
constexpr int64_t kFlashAttentionMaxHeadDim = 128;

FlashAttentionPlan planFlashAttention(const FlashAttentionShape &shape);

/// Emits the kernel's body at `b` (inside the gpu.func, whose workgroup
/// memory it adds) for `plan`; `bias` is null without one.
void emitFlashAttention(OpBuilder &b, Location loc,
                        const FlashAttentionShape &shape,
                        const FlashAttentionPlan &plan, Value q, Value k,
                        Value v, Value bias, Value out);

} // namespace mlir::llmc

#endif // LLMC_CODEGEN_FLASHATTENTION_H
