//===- CpuKernels.cpp - C functions generated CPU code calls --------------===//

#include "llmc/Runtime/CpuKernels.h"

#include <cstring>
#include <vector>

extern "C" void memrefCopy(int64_t elementSize, LLMCUnrankedMemRef *src,
                           LLMCUnrankedMemRef *dst) {
  // Descriptor layout: {allocated, aligned, offset, sizes[rank], strides[rank]}.
  auto fields = [](LLMCUnrankedMemRef *m, char *&base, const int64_t *&sizes,
                   const int64_t *&strides) {
    auto *words = static_cast<int64_t *>(m->descriptor);
    base = reinterpret_cast<char *>(words[1]);
    base += 0; // offset applied below
    sizes = words + 3;
    strides = words + 3 + m->rank;
    return words[2];
  };
  char *srcBase, *dstBase;
  const int64_t *sizes, *srcStrides, *dstSizes, *dstStrides;
  int64_t srcOffset = fields(src, srcBase, sizes, srcStrides);
  int64_t dstOffset = fields(dst, dstBase, dstSizes, dstStrides);
  int64_t rank = src->rank;
  for (int64_t d = 0; d < rank; ++d)
    if (sizes[d] == 0)
      return;
  std::vector<int64_t> index(rank, 0);
  while (true) {
    int64_t s = srcOffset, t = dstOffset;
    for (int64_t d = 0; d < rank; ++d) {
      s += index[d] * srcStrides[d];
      t += index[d] * dstStrides[d];
    }
    std::memcpy(dstBase + t * elementSize, srcBase + s * elementSize,
                elementSize);
    int64_t d = rank - 1;
    for (; d >= 0; --d) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}

const llmc::runtime::KernelSymbol *llmc::runtime::getCpuKernelSymbols() {
  static const KernelSymbol symbols[] = {
      {"memrefCopy", reinterpret_cast<void *>(&memrefCopy)},
      {nullptr, nullptr},
  };
  return symbols;
}
