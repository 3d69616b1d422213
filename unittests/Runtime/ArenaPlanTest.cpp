//===- ArenaPlanTest.cpp - The CUDA arena planner -------------------------===//

#include "llmc/Runtime/CudaProgram.h"

#include <gtest/gtest.h>

#include <random>

using namespace llmc::runtime;

namespace {
/// Checks the plan's invariants: alignment, fit, and no two buffers alive
/// at the same step sharing a byte.
void expectValid(const std::vector<Lifetime> &b,
                 const std::vector<uint64_t> &offsets, uint64_t arena) {
  ASSERT_EQ(offsets.size(), b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i].bytes == 0)
      continue;
    EXPECT_EQ(offsets[i] % kArenaAlignment, 0u) << "buffer " << i;
    EXPECT_LE(offsets[i] + b[i].bytes, arena) << "buffer " << i;
    for (size_t j = i + 1; j < b.size(); ++j) {
      if (b[j].bytes == 0)
        continue;
      bool together = b[i].first <= b[j].last && b[j].first <= b[i].last;
      bool apart = offsets[i] + b[i].bytes <= offsets[j] ||
                   offsets[j] + b[j].bytes <= offsets[i];
      EXPECT_TRUE(!together || apart) << "buffers " << i << " and " << j;
    }
  }
}
} // namespace

TEST(ArenaPlan, DisjointLifetimesShareMemory) {
  // A chain: each temporary dies when the next is made.
  std::vector<Lifetime> b{{1000, 0, 1}, {1000, 2, 3}, {1000, 4, 5}};
  std::vector<uint64_t> offsets;
  uint64_t arena = planArena(b, offsets);
  expectValid(b, offsets, arena);
  EXPECT_EQ(arena, 1024u);
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 0, 0}));
}

TEST(ArenaPlan, OverlappingLifetimesDoNot) {
  std::vector<Lifetime> b{{100, 0, 2}, {300, 1, 3}, {256, 2, 2}};
  std::vector<uint64_t> offsets;
  uint64_t arena = planArena(b, offsets);
  expectValid(b, offsets, arena);
  // All three are alive at step 2: 512 + 256 + 256 bytes, aligned.
  EXPECT_EQ(arena, 1024u);
}

TEST(ArenaPlan, FillsGapsLeftByDeadBuffers) {
  // The big buffer lives throughout; two small ones in turn reuse one slot.
  std::vector<Lifetime> b{{4096, 0, 9}, {512, 0, 4}, {512, 5, 9}};
  std::vector<uint64_t> offsets;
  uint64_t arena = planArena(b, offsets);
  expectValid(b, offsets, arena);
  EXPECT_EQ(arena, 4096u + 512u);
  EXPECT_EQ(offsets[1], offsets[2]);
}

TEST(ArenaPlan, UnusedBuffersTakeNoRoom) {
  std::vector<Lifetime> b{{0, -1, -1}, {10, 0, 0}};
  std::vector<uint64_t> offsets;
  EXPECT_EQ(planArena(b, offsets), kArenaAlignment);
  EXPECT_EQ(planArena({}, offsets), 0u);
  EXPECT_TRUE(offsets.empty());
}

TEST(ArenaPlan, RandomProgramsAreValidAndNoWorseThanNoReuse) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Lifetime> b;
    int n = 1 + rng() % 40, steps = 1 + rng() % 50;
    uint64_t total = 0;
    for (int i = 0; i < n; ++i) {
      int64_t first = rng() % steps, last = first + rng() % (steps - first);
      uint64_t bytes = 1 + rng() % 100000;
      b.push_back({bytes, first, last});
      total += (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    }
    std::vector<uint64_t> offsets;
    uint64_t arena = planArena(b, offsets);
    expectValid(b, offsets, arena);
    EXPECT_LE(arena, total);
    // Never below the most bytes alive at one step.
    uint64_t peak = 0;
    for (int s = 0; s < steps; ++s) {
      uint64_t live = 0;
      for (const Lifetime &l : b)
        if (l.first <= s && s <= l.last)
          live += l.bytes;
      peak = std::max(peak, live);
    }
    EXPECT_GE(arena, peak);
  }
}
