//===- CpuKernels.h - C functions generated CPU code calls -----*- C++ -*-===//
//
// Part of the runtime (no MLIR): the symbols that lowered code may call and
// the JIT or the loader must resolve.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_CPUKERNELS_H
#define LLMC_RUNTIME_CPUKERNELS_H

#include <cstdint>
#include <string>

extern "C" {
/// An unranked memref as the C interface passes it.
struct LLMCUnrankedMemRef {
  int64_t rank;
  void *descriptor;
};

/// Copies between two strided memrefs of the same shape (what memref.copy
/// lowers to when a layout is not the identity). Named as MLIR's runner
/// utility so that lowered code links against it unchanged.
void memrefCopy(int64_t elementSize, LLMCUnrankedMemRef *src,
                LLMCUnrankedMemRef *dst);

/// Kernels that `llmc-lower-library-calls` calls in place of linalg.generic
/// ops carrying a `library_call` attribute. Each argument is a pointer to a
/// ranked memref descriptor {allocated, aligned, offset, sizes, strides};
/// the last operand is the generic's output, which the kernel accumulates
/// into (as the generic would). Backed by OpenBLAS.
///
/// C[B, M, N] += A[B1, M, K] * B[B2, K, N], with B1, B2 either B or 1 and
/// params = [transA, transB] (i64): when set, that operand is stored
/// transposed (A as [B1, K, M], B as [B2, N, K]) and BLAS reads it so.
void _mlir_ciface_llmc_matmul_f32(void *a, void *b, void *params, void *c);
void _mlir_ciface_llmc_matmul_f64(void *a, void *b, void *params, void *c);
/// Y[N, M, OH, OW] += conv(X[N, C, H, W] already padded, W[M, C/G, KH, KW])
/// with params = [strideH, strideW, dilationH, dilationW, groups] (i64).
void _mlir_ciface_llmc_conv2d_f32(void *x, void *w, void *params, void *y);

/// Generated code calls this when a gather or scatter computed an index
/// outside its dim of `size` (valid: -size to size - 1); `site` is a 1-D
/// i8 memref naming the node. The first report of a run on this thread is
/// kept for takeIndexError (the code goes on with the index clamped).
void _mlir_ciface_llmc_index_error(int64_t index, int64_t size, void *site);
}

namespace llmc::runtime {
/// Name and address of each C function above, for a JIT's symbol table.
struct KernelSymbol {
  const char *name;
  void *address;
};
/// Sets up the process for the kernels once (OpenBLAS single-threaded under
/// the runtime's pool; malloc keeps freed buffers for the next run). The
/// kernels and getCpuKernelSymbols call it; loaders call it before a run.
void initializeCpuRuntime();
/// False with a one-line `error` when no BLAS can be opened (the GEMM and
/// convolution kernels need one).
bool cpuBlasAvailable(std::string &error);
/// The kernel symbols, the collectives' included (Collectives.h), ending
/// with {nullptr, nullptr}.
const KernelSymbol *getCpuKernelSymbols();
/// The first index error that generated code running on this thread
/// reported since the last call ("" if none), as one line: "node 'G'
/// (gather) computed index 7 for a dim of 4 (valid: -4 to 3)". Generated
/// loops run on the thread that runs the model (a mesh's device threads
/// each check their own).
std::string takeIndexError();
} // namespace llmc::runtime

#endif // LLMC_RUNTIME_CPUKERNELS_H
