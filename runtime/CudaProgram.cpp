//===- CudaProgram.cpp - The arena planner ---------------------------------===//

#include "llmc/Runtime/CudaProgram.h"

#include <algorithm>
#include <numeric>

using namespace llmc::runtime;

uint64_t llmc::runtime::planArena(const std::vector<Lifetime> &buffers,
                                  std::vector<uint64_t> &offsets) {
  auto aligned = [](uint64_t n) {
    return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  };
  offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return buffers[x].bytes > buffers[y].bytes;
  });
  std::vector<size_t> placed;
  uint64_t arena = 0;
  for (size_t i : order) {
    const Lifetime &b = buffers[i];
    if (b.bytes == 0)
      continue;
    // The placed buffers alive at the same time, by offset: the new one
    // goes into the first gap that holds it.
    std::vector<size_t> live;
    for (size_t j : placed)
      if (buffers[j].first <= b.last && b.first <= buffers[j].last)
        live.push_back(j);
    std::sort(live.begin(), live.end(),
              [&](size_t x, size_t y) { return offsets[x] < offsets[y]; });
    uint64_t at = 0, size = aligned(b.bytes);
    for (size_t j : live) {
      if (offsets[j] >= at + size)
        break;
      at = std::max(at, offsets[j] + aligned(buffers[j].bytes));
    }
    offsets[i] = at;
    arena = std::max(arena, at + size);
    placed.push_back(i);
  }
  return arena;
}
