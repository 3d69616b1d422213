//===- CpuKernels.h - C functions generated CPU code calls -----*- C++ -*-===//
//
// Part of the runtime (no MLIR): the symbols that lowered code may call and
// the JIT or the loader must resolve.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_CPUKERNELS_H
#define LLMC_RUNTIME_CPUKERNELS_H

#include <cstdint>

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
}

namespace llmc::runtime {
/// Name and address of each C function above, for a JIT's symbol table.
struct KernelSymbol {
  const char *name;
  void *address;
};
/// The kernel symbols, ending with {nullptr, nullptr}.
const KernelSymbol *getCpuKernelSymbols();
} // namespace llmc::runtime

#endif // LLMC_RUNTIME_CPUKERNELS_H
