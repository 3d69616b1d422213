//===- PaddingTest.cpp - Tests of the padding analysis --------------------===//
//
// Hand-built op descriptions: a padded batch through a matmul and a merging
// reshape (parallel: safe, with the scale the merge gives), a softmax's
// reduction and a gather that takes the dim whole (refused, naming the op),
// attention's keys under a causal mask (safe only with the query rows
// padded alike), and a scatter that drops the padded loop.
//
//===----------------------------------------------------------------------===//

#include "llmc/Sharding/Padding.h"

#include <gtest/gtest.h>

using namespace llmc::sharding;

namespace {

struct Builder {
  Problem p;

  int tensor(std::vector<int64_t> shape) {
    Tensor t;
    t.name = "t" + std::to_string(p.tensors.size());
    t.shape = std::move(shape);
    p.tensors.push_back(t);
    return static_cast<int>(p.tensors.size()) - 1;
  }

  /// An op over `factors` (size, reduction), its operands' and results'
  /// dims given as factor numbers (-1: taken whole).
  void op(const std::string &name, std::vector<std::pair<int64_t, bool>> factors,
          std::vector<int> operands, std::vector<std::vector<int>> operandDims,
          std::vector<int> results, std::vector<std::vector<int>> resultDims) {
    Op o;
    o.name = name;
    o.kind = "graph.test";
    for (auto [size, reduction] : factors) {
      Factor f;
      f.size = size;
      f.reduction = reduction;
      o.factors.push_back(f);
    }
    o.operands = std::move(operands);
    o.operandDims = std::move(operandDims);
    o.results = std::move(results);
    o.resultDims = std::move(resultDims);
    p.ops.push_back(std::move(o));
  }
};

TEST(Padding, BatchThroughMatmulAndMergingReshape) {
  Builder b;
  int x = b.tensor({8, 16, 32}), w = b.tensor({32, 64});
  int y = b.tensor({8, 16, 64}), z = b.tensor({128, 64});
  // y[b, s, n] = x[b, s, k] w[k, n]
  b.op("mm", {{8, false}, {16, false}, {64, false}, {32, true}}, {x, w},
       {{0, 1, 3}, {3, 2}}, {y}, {{0, 1, 2}});
  // z = reshape(y): [b, s] merged, b its outer part (factor of size 8).
  b.op("merge", {{8, false}, {64, false}}, {y}, {{0, -1, 1}}, {z}, {{0, 1}});
  PaddingResult r = analysePadding(b.p, {{x, 0}}, 8);
  ASSERT_TRUE(r.safe) << r.why;
  EXPECT_EQ(r.scale[y], (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(r.scale[z], (std::vector<int64_t>{16, 0})); // 128 = 8 * 16
  EXPECT_EQ(r.scale[w], (std::vector<int64_t>{0, 0}));
}

TEST(Padding, ReductionIsRefused) {
  Builder b;
  int x = b.tensor({4, 8}), m = b.tensor({4, 1});
  b.op("Softmax_1", {{4, false}, {8, true}}, {x}, {{0, 1}}, {m}, {{0, -1}});
  PaddingResult r = analysePadding(b.p, {{x, 1}}, 8);
  EXPECT_FALSE(r.safe);
  EXPECT_EQ(r.op, 0);
  EXPECT_EQ(r.why, "node 'Softmax_1' (graph.test) reduces over operand 0 dim "
                   "1, so padding would change kept elements");
  // Must not change: the same op padded on its parallel dim is safe.
  EXPECT_TRUE(analysePadding(b.p, {{x, 0}}, 4).safe);
}

TEST(Padding, WholeDimIsRefused) {
  Builder b;
  int x = b.tensor({8, 4}), i = b.tensor({3}), y = b.tensor({3, 4});
  b.op("Gather_2", {{3, false}, {4, false}}, {x, i}, {{-1, 1}, {0}}, {y},
       {{0, 1}});
  PaddingResult r = analysePadding(b.p, {{x, 0}}, 8);
  EXPECT_FALSE(r.safe);
  EXPECT_NE(r.why.find("takes operand 0 dim 0 whole"), std::string::npos)
      << r.why;
  // The indices padded: the gathered rows follow them (safe).
  EXPECT_TRUE(analysePadding(b.p, {{i, 0}}, 3).safe);
}

TEST(Padding, CausalAttentionKeys) {
  // out[i, e] = sum_j softmax_j(q[i, d] k[j, d] + mask[i, j]) v[j, e]:
  // factors i, j (reduction), d (reduction), e.
  Builder b;
  int q = b.tensor({16, 8}), k = b.tensor({16, 8}), v = b.tensor({16, 8});
  int out = b.tensor({16, 8});
  b.op("Attention_3", {{16, false}, {16, true}, {8, true}, {8, false}},
       {q, k, v}, {{0, 2}, {1, 2}, {1, 3}}, {out}, {{0, 3}});
  PaddingResult plain = analysePadding(b.p, {{q, 0}, {k, 0}, {v, 0}}, 16);
  EXPECT_FALSE(plain.safe);
  EXPECT_NE(plain.why.find("reduces over operand 1 dim 0"), std::string::npos)
      << plain.why;
  b.p.ops[0].factors[1].causalQuery = 0;
  PaddingResult causal = analysePadding(b.p, {{q, 0}, {k, 0}, {v, 0}}, 16);
  ASSERT_TRUE(causal.safe) << causal.why;
  EXPECT_EQ(causal.scale[out], (std::vector<int64_t>{1, 0}));
  // Keys padded but not the query rows: a kept row would see padded keys.
  EXPECT_FALSE(analysePadding(b.p, {{k, 0}, {v, 0}}, 16).safe);
}

TEST(Padding, PositionsOnlyOpLetsPaddingThrough) {
  // trilu(mask): blocked for sharding (it reads absolute positions), but
  // its value at a position depends on nothing else: padding passes.
  Builder b;
  int m = b.tensor({8, 8}), t = b.tensor({8, 8});
  b.op("Trilu_5", {{8, false}, {8, false}}, {m}, {{0, 1}}, {t}, {{0, 1}});
  b.p.ops[0].factors[0].blocked = b.p.ops[0].factors[1].blocked = true;
  PaddingResult blocked = analysePadding(b.p, {{m, 0}, {m, 1}}, 8);
  EXPECT_FALSE(blocked.safe);
  EXPECT_NE(blocked.why.find("at a compound or absolute position"),
            std::string::npos)
      << blocked.why;
  b.p.ops[0].factors[0].prefixConsistent = true;
  b.p.ops[0].factors[1].prefixConsistent = true;
  PaddingResult r = analysePadding(b.p, {{m, 0}, {m, 1}}, 8);
  ASSERT_TRUE(r.safe) << r.why;
  EXPECT_EQ(r.scale[t], (std::vector<int64_t>{1, 1}));
}

TEST(Padding, DroppedLoopIsRefused) {
  // A scatter of padded updates into a cache: the update rows' loop is not
  // a dim of the result, so padded rows would be written over kept ones.
  Builder b;
  int cache = b.tensor({32, 4}), rows = b.tensor({8, 4}), out = b.tensor({32, 4});
  b.op("ScatterND_4", {{8, false}, {4, false}}, {cache, rows}, {{-1, 1}, {0, 1}},
       {out}, {{-1, 1}});
  PaddingResult r = analysePadding(b.p, {{rows, 0}}, 8);
  EXPECT_FALSE(r.safe);
  EXPECT_NE(r.why.find("drops a padded loop from result 0"), std::string::npos)
      << r.why;
}

TEST(Padding, BadSeedIsRefused) {
  Builder b;
  int x = b.tensor({6, 4});
  EXPECT_FALSE(analysePadding(b.p, {{x, 0}}, 4).safe); // 6 is no multiple
  EXPECT_FALSE(analysePadding(b.p, {{x, 2}}, 6).safe); // no dim 2
  EXPECT_FALSE(analysePadding(b.p, {{x, 0}}, 1).safe); // size 1
}

} // namespace
