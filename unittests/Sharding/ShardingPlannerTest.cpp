//===- ShardingPlannerTest.cpp - Tests of the sharding planner ------------===//
//
// Hand-built graphs whose shardings and collectives are worked out by hand:
// a two-layer MLP (Megatron's column/row split, one all-reduce), a batch
// split, attention's head split through a reshape, sequence parallelism
// (reduce-scatter + all-gather), pins and their errors, resharding.
//
//===----------------------------------------------------------------------===//

#include "llmc/Sharding/ShardingPlanner.h"

#include <gtest/gtest.h>

using namespace llmc::sharding;

namespace {

struct GraphBuilder {
  Problem p;

  explicit GraphBuilder(const std::string &mesh) {
    std::string error;
    EXPECT_TRUE(parseMesh(mesh, p.mesh, error)) << error;
  }

  int tensor(const std::string &name, std::vector<int64_t> shape,
             TensorKind kind = TensorKind::Intermediate) {
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.kind = kind;
    p.tensors.push_back(t);
    return static_cast<int>(p.tensors.size()) - 1;
  }

  /// x[..., M, K] @ w[K, N] -> [..., M, N]: factors batch..., m, n, k.
  int matmul(const std::string &name, int x, int w) {
    const std::vector<int64_t> xs = p.tensors[x].shape;
    int64_t n = p.tensors[w].shape[1];
    std::vector<int64_t> out = xs;
    out.back() = n;
    int r = tensor(name + ".out", out);
    Op op;
    op.name = name;
    op.kind = "graph.matmul";
    int rank = static_cast<int>(xs.size());
    for (int d = 0; d < rank; ++d)
      op.factors.push_back({out[d], false, ReductionKind::None, false});
    op.factors.push_back({xs.back(), true, ReductionKind::Sum, false});
    std::vector<int> xd, od;
    for (int d = 0; d < rank - 1; ++d)
      xd.push_back(d), od.push_back(d);
    xd.push_back(rank);
    od.push_back(rank - 1);
    op.operands = {x, w};
    op.operandDims = {xd, {rank, rank - 1}};
    op.results = {r};
    op.resultDims = {od};
    op.isWeightContraction = p.tensors[w].kind == TensorKind::Weight;
    op.flops = 2.0 * p.tensors[r].bytes() / 4 * xs.back();
    p.ops.push_back(op);
    return r;
  }

  /// Elementwise op over same-shape operands.
  int elementwise(const std::string &name, std::vector<int> operands) {
    const std::vector<int64_t> shape = p.tensors[operands[0]].shape;
    int r = tensor(name + ".out", shape);
    Op op;
    op.name = name;
    op.kind = "graph.add";
    std::vector<int> dims;
    for (size_t d = 0; d < shape.size(); ++d) {
      op.factors.push_back({shape[d], false, ReductionKind::None, false});
      dims.push_back(static_cast<int>(d));
    }
    op.operands = operands;
    op.operandDims.assign(operands.size(), dims);
    op.results = {r};
    op.resultDims = {dims};
    p.ops.push_back(op);
    return r;
  }

  /// A normalization over the last dim (not splittable there).
  int norm(const std::string &name, int x) {
    const std::vector<int64_t> shape = p.tensors[x].shape;
    int r = tensor(name + ".out", shape);
    Op op;
    op.name = name;
    op.kind = "graph.layer_norm";
    std::vector<int> dims;
    for (size_t d = 0; d < shape.size(); ++d) {
      bool last = d + 1 == shape.size();
      op.factors.push_back({shape[d], last, ReductionKind::None, false});
      dims.push_back(static_cast<int>(d));
    }
    op.operands = {x};
    op.operandDims = {dims};
    op.results = {r};
    op.resultDims = {dims};
    p.ops.push_back(op);
    return r;
  }

  /// A reshape of x [rows, heads * headDim] to [rows, heads, headDim], as
  /// the description gives it: rows, and the hidden group's leading part
  /// (gcd(heads * headDim, heads) = heads); headDim stays whole.
  int splitHeads(const std::string &name, int x, int64_t heads) {
    const std::vector<int64_t> in = p.tensors[x].shape;
    int r = tensor(name + ".out", {in[0], heads, in[1] / heads});
    Op op;
    op.name = name;
    op.kind = "graph.reshape";
    op.factors = {{in[0], false, ReductionKind::None, false},
                  {heads, false, ReductionKind::None, false}};
    op.operands = {x};
    op.operandDims = {{0, 1}};
    op.results = {r};
    op.resultDims = {{0, 1, -1}};
    p.ops.push_back(op);
    return r;
  }

  /// An einsum: `letters` names each operand's dims, `out` the result's;
  /// `reduced` letters are summed. Sizes come from the operands.
  int einsum(const std::string &name, std::vector<int> operands,
             std::vector<std::string> letters, const std::string &out,
             const std::string &reduced) {
    std::string all;
    std::vector<int64_t> sizes;
    for (size_t i = 0; i < operands.size(); ++i)
      for (size_t d = 0; d < letters[i].size(); ++d)
        if (all.find(letters[i][d]) == std::string::npos) {
          all += letters[i][d];
          sizes.push_back(p.tensors[operands[i]].shape[d]);
        }
    Op op;
    op.name = name;
    op.kind = "graph.einsum";
    for (size_t f = 0; f < all.size(); ++f) {
      bool red = reduced.find(all[f]) != std::string::npos;
      op.factors.push_back(
          {sizes[f], red, red ? ReductionKind::Sum : ReductionKind::None, false});
    }
    auto dims = [&](const std::string &l) {
      std::vector<int> d;
      for (char c : l)
        d.push_back(static_cast<int>(all.find(c)));
      return d;
    };
    std::vector<int64_t> shape;
    for (char c : out)
      shape.push_back(sizes[all.find(c)]);
    int r = tensor(name + ".out", shape);
    op.operands = operands;
    for (const std::string &l : letters)
      op.operandDims.push_back(dims(l));
    op.results = {r};
    op.resultDims = {dims(out)};
    op.flops = 1;
    p.ops.push_back(op);
    return r;
  }

  Plan plan() {
    Plan result;
    std::string error;
    EXPECT_TRUE(llmc::sharding::plan(p, result, error)) << error;
    return result;
  }

  std::string sharding(const Plan &plan, int t) {
    return plan.tensors[t].sharding.str(p.mesh);
  }
};

int count(const Plan &plan, CollectiveKind kind) {
  int n = 0;
  for (const Collective &c : plan.collectives)
    n += c.kind == kind;
  return n;
}

/// x[8,16] -> matmul w1[16,32] -> gelu -> matmul w2[32,16] -> + x.
struct Mlp : GraphBuilder {
  int x, w1, w2, h, g, y, out;
  explicit Mlp(const std::string &mesh) : GraphBuilder(mesh) {
    x = tensor("x", {8, 16}, TensorKind::Input);
    w1 = tensor("w1", {16, 32}, TensorKind::Weight);
    w2 = tensor("w2", {32, 16}, TensorKind::Weight);
    h = matmul("fc1", x, w1);
    g = elementwise("gelu", {h});
    y = matmul("fc2", g, w2);
    out = elementwise("residual", {y, x});
    p.tensors[out].isOutput = true;
  }
};

TEST(ShardingPlanner, MegatronMlpIsColumnThenRowParallel) {
  Mlp m("tp=2");
  m.p.strategy = Strategy::Megatron;
  Plan plan = m.plan();
  EXPECT_EQ(m.sharding(plan, m.w1), "[-, tp]");
  EXPECT_EQ(m.sharding(plan, m.w2), "[tp, -]");
  EXPECT_EQ(m.sharding(plan, m.h), "[-, tp]");
  EXPECT_EQ(m.sharding(plan, m.g), "[-, tp]");
  EXPECT_EQ(m.sharding(plan, m.y), "[-, -] partial(tp)");
  EXPECT_EQ(m.sharding(plan, m.out), "[-, -]");
  ASSERT_EQ(plan.collectives.size(), 1u);
  EXPECT_EQ(plan.collectives[0].kind, CollectiveKind::AllReduce);
  EXPECT_EQ(plan.collectives[0].tensor, m.y);
  // 8x16 f32 = 512 bytes, ring all-reduce over 2: 2 * 1/2 * 512.
  EXPECT_EQ(plan.collectives[0].bytes, 512);
  EXPECT_EQ(plan.weightBytesTotal, 2 * 16 * 32 * 4);
  EXPECT_EQ(plan.weightBytesPerDevice, 16 * 32 * 4);
  EXPECT_NE(plan.tensors[m.w1].reason.find("column-parallel"),
            std::string::npos);
  EXPECT_NE(plan.tensors[m.w2].reason.find("propagated from 'fc2'"),
            std::string::npos);
}

TEST(ShardingPlanner, PinOnOneWeightDerivesTheSplit) {
  // The upstream-style check: one annotation, w1 split on its columns.
  Mlp m("tp=2");
  std::string error;
  TensorSharding s;
  ASSERT_TRUE(parseSharding("-,tp", 2, m.p.mesh, s, error)) << error;
  m.p.pins.push_back({"w1", s});
  Plan plan = m.plan();
  EXPECT_EQ(m.sharding(plan, m.w2), "[tp, -]");
  EXPECT_EQ(plan.tensors[m.w1].reason, "pinned");
  // What a pin implies elsewhere is propagated, not pinned.
  EXPECT_NE(plan.tensors[m.w2].reason.find("propagated from 'fc2'"),
            std::string::npos)
      << plan.tensors[m.w2].reason;
  EXPECT_EQ(count(plan, CollectiveKind::AllReduce), 1);
}

TEST(ShardingPlanner, DataParallelSplitsTheBatch) {
  Mlp m("dp=4");
  m.p.strategy = Strategy::DataParallel;
  Plan plan = m.plan();
  EXPECT_EQ(m.sharding(plan, m.x), "[dp, -]");
  EXPECT_EQ(m.sharding(plan, m.w1), "[-, -]");
  EXPECT_EQ(m.sharding(plan, m.out), "[dp, -]");
  EXPECT_TRUE(plan.collectives.empty());
  EXPECT_EQ(plan.weightBytesPerDevice, plan.weightBytesTotal);
}

TEST(ShardingPlanner, DataParallelThatDoesNotDivideIsAnError) {
  Mlp m("dp=3");
  m.p.strategy = Strategy::DataParallel;
  Plan plan;
  std::string error;
  EXPECT_FALSE(llmc::sharding::plan(m.p, plan, error));
  EXPECT_NE(error.find("nothing in the model can be split"), std::string::npos)
      << error;
}

TEST(ShardingPlanner, TwoAxesCombineDataAndTensorParallelism) {
  Mlp m("dp=2,tp=2");
  m.p.strategy = Strategy::Megatron;
  Plan plan = m.plan();
  EXPECT_EQ(m.sharding(plan, m.x), "[dp, -]");
  EXPECT_EQ(m.sharding(plan, m.w1), "[-, tp]");
  EXPECT_EQ(m.sharding(plan, m.h), "[dp, tp]");
  EXPECT_EQ(m.sharding(plan, m.y), "[dp, -] partial(tp)");
  ASSERT_EQ(plan.collectives.size(), 1u);
  EXPECT_EQ(plan.collectives[0].axis, m.p.mesh.axisIndex("tp"));
}

TEST(ShardingPlanner, SequenceParallelUsesReduceScatterAndAllGather) {
  // [2, 8, 16] activations: norm -> column -> row -> residual -> norm.
  GraphBuilder g("tp=2");
  int x = g.tensor("x", {2, 8, 16}, TensorKind::Input);
  int w1 = g.tensor("w1", {16, 32}, TensorKind::Weight);
  int w2 = g.tensor("w2", {32, 16}, TensorKind::Weight);
  int n = g.norm("ln1", x);
  int h = g.matmul("fc1", n, w1);
  int y = g.matmul("fc2", h, w2);
  int r = g.elementwise("residual", {y, x});
  int out = g.norm("ln2", r);
  g.p.tensors[out].isOutput = true;
  g.p.strategy = Strategy::MegatronSP;
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, n), "[-, tp, -]");
  EXPECT_EQ(g.sharding(plan, w1), "[-, tp]");
  EXPECT_EQ(g.sharding(plan, r), "[-, tp, -]");
  EXPECT_EQ(count(plan, CollectiveKind::AllReduce), 0);
  EXPECT_EQ(count(plan, CollectiveKind::ReduceScatter), 1);
  EXPECT_EQ(count(plan, CollectiveKind::AllGather), 1);
}

TEST(ShardingPlanner, HeadsFollowTheHiddenSplitThroughAReshape) {
  // q = x @ wq : [4, 24]; reshape to [4, 6 heads, 4]; a per-head reduction.
  GraphBuilder g("tp=2");
  int x = g.tensor("x", {4, 16}, TensorKind::Input);
  int wq = g.tensor("wq", {16, 24}, TensorKind::Weight);
  int q = g.matmul("q_proj", x, wq);
  int heads = g.splitHeads("split_heads", q, 6);
  g.p.tensors[heads].isOutput = true;
  g.p.strategy = Strategy::Megatron;
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, heads), "[-, tp, -]");
  EXPECT_TRUE(plan.collectives.empty());
}

TEST(ShardingPlanner, BlockedFactorsForceAGather) {
  // A pinned split on a dim that the next op must see whole (a softmax's
  // reduced dim) is all-gathered before it.
  GraphBuilder g("tp=2");
  int x = g.tensor("x", {4, 8}, TensorKind::Input);
  int y = g.norm("softmax", x);
  g.p.tensors[y].isOutput = true;
  TensorSharding s;
  std::string error;
  ASSERT_TRUE(parseSharding("-,tp", 2, g.p.mesh, s, error));
  g.p.pins.push_back({"x", s});
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, y), "[-, -]");
  ASSERT_EQ(plan.collectives.size(), 1u);
  EXPECT_EQ(plan.collectives[0].kind, CollectiveKind::AllGather);
  EXPECT_EQ(plan.collectives[0].dim, 1);
}

TEST(ShardingPlanner, MegatronSaysWhichLayersStayWhole) {
  // w1 is 16x30: tp=4 divides neither its columns (30) for the column
  // split; w2 (30x16) follows no split and is not a residual writer's.
  GraphBuilder g("tp=4");
  int x = g.tensor("x", {8, 16}, TensorKind::Input);
  int w1 = g.tensor("w1", {16, 30}, TensorKind::Weight);
  int h = g.matmul("fc1", x, w1);
  g.p.tensors[h].isOutput = true;
  g.p.strategy = Strategy::Megatron;
  Plan plan;
  std::string error;
  EXPECT_FALSE(llmc::sharding::plan(g.p, plan, error));
  EXPECT_NE(error.find("nothing in the model can be split"), std::string::npos);
  int w2 = g.tensor("w2", {16, 32}, TensorKind::Weight);
  g.matmul("fc2", x, w2);
  plan = g.plan();
  EXPECT_EQ(g.sharding(plan, w1), "[-, -]");
  EXPECT_EQ(g.sharding(plan, w2), "[-, tp]");
  ASSERT_FALSE(plan.remarks.empty());
  EXPECT_EQ(plan.remarks[0],
            "megatron: 'fc1' stays whole: axis 'tp' (size 4) does not divide "
            "its weight 'w1' (16x30) along its columns");
}

TEST(ShardingPlanner, AnIndivisibleLoopStaysWholeWithARemark) {
  // x [8, 16] pinned [tp, -] over tp=4, reshaped to [2, 64]: the group's
  // factor has size gcd(8, 2) = 2, which 4 does not divide, so the reshape
  // runs whole (x is all-gathered before it) and a remark says why.
  GraphBuilder g("tp=4");
  int x = g.tensor("x", {8, 16}, TensorKind::Input);
  int r = g.tensor("r", {2, 64});
  Op reshape;
  reshape.name = "flatten";
  reshape.kind = "graph.reshape";
  reshape.factors = {{2, false, ReductionKind::None, false}};
  reshape.operands = {x};
  reshape.operandDims = {{0, -1}};
  reshape.results = {r};
  reshape.resultDims = {{0, -1}};
  g.p.ops.push_back(reshape);
  g.p.tensors[r].isOutput = true;
  TensorSharding pin;
  std::string error;
  ASSERT_TRUE(parseSharding("tp,-", 2, g.p.mesh, pin, error));
  g.p.pins.push_back({"x", pin});
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, r), "[-, -]");
  ASSERT_EQ(plan.collectives.size(), 1u);
  EXPECT_EQ(plan.collectives[0].kind, CollectiveKind::AllGather);
  ASSERT_EQ(plan.remarks.size(), 1u);
  EXPECT_EQ(plan.remarks[0], "'flatten' (graph.reshape) keeps loop 0 whole: "
                             "it (size 2) is not divisible by mesh axis 'tp'");
}

TEST(ShardingPlanner, MegatronKeepsKvProjectionsWholeWhenHeadsDoNotSplit) {
  // k = x @ wk : [4, 8], reshaped to 2 KV heads of 4: over tp=4 the heads
  // do not split, so a column split of wk would be gathered at once; the
  // layer stays whole (Megatron replicates KV heads) with a remark.
  GraphBuilder g("tp=4");
  int x = g.tensor("x", {4, 16}, TensorKind::Input);
  int wk = g.tensor("wk", {16, 8}, TensorKind::Weight);
  int k = g.matmul("k_proj", x, wk);
  int heads = g.splitHeads("split_heads", k, 2);
  g.p.tensors[heads].isOutput = true;
  int wo = g.tensor("wo", {16, 16}, TensorKind::Weight);
  int o = g.matmul("o_proj", x, wo);
  g.p.tensors[o].isOutput = true;
  g.p.strategy = Strategy::Megatron;
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, wk), "[-, -]");
  EXPECT_EQ(g.sharding(plan, wo), "[-, tp]");
  EXPECT_TRUE(plan.collectives.empty());
  ASSERT_FALSE(plan.remarks.empty());
  EXPECT_EQ(plan.remarks[0],
            "megatron: 'k_proj' stays whole: its user 'split_heads' cannot "
            "take a split of its columns over 'tp'");
  // Over tp=2 the two heads split: the column split stays.
  GraphBuilder g2("tp=2");
  g2.p.tensors = g.p.tensors;
  g2.p.ops = g.p.ops;
  g2.p.strategy = Strategy::Megatron;
  plan = g2.plan();
  EXPECT_EQ(g2.sharding(plan, wk), "[-, tp]");
  EXPECT_EQ(g2.sharding(plan, heads), "[-, tp, -]");
}

TEST(ShardingPlanner, AutoPicksACheapStrategyAndSaysWhy) {
  Mlp m("tp=2");
  m.p.strategy = Strategy::Auto;
  Plan plan = m.plan();
  EXPECT_NE(plan.strategy, Strategy::Auto);
  ASSERT_FALSE(plan.remarks.empty());
  EXPECT_NE(plan.remarks.back().find("auto chose"), std::string::npos);
}

TEST(ShardingPlanner, PinErrors) {
  Mlp m("tp=2");
  TensorSharding s;
  std::string error;
  EXPECT_FALSE(parseSharding("-,pp", 2, m.p.mesh, s, error));
  EXPECT_NE(error.find("not in the mesh"), std::string::npos) << error;
  EXPECT_FALSE(parseSharding("tp", 2, m.p.mesh, s, error));
  EXPECT_NE(error.find("gives 1 dims"), std::string::npos) << error;
  EXPECT_FALSE(parseSharding("tp,tp", 2, m.p.mesh, s, error));

  ASSERT_TRUE(parseSharding("tp,-", 2, m.p.mesh, s, error));
  m.p.pins = {{"nope", s}};
  Plan plan;
  EXPECT_FALSE(llmc::sharding::plan(m.p, plan, error));
  EXPECT_NE(error.find("no tensor 'nope'"), std::string::npos) << error;
  // Auto tries every strategy; a bad pin is still what it reports.
  m.p.strategy = Strategy::Auto;
  EXPECT_FALSE(llmc::sharding::plan(m.p, plan, error));
  EXPECT_NE(error.find("no tensor 'nope'"), std::string::npos) << error;

  // One tensor pinned twice: which pin would hold is not for llmc to guess.
  m.p.strategy = Strategy::None;
  ASSERT_TRUE(parseSharding("tp,-", 2, m.p.mesh, s, error));
  TensorSharding other;
  ASSERT_TRUE(parseSharding("-,tp", 2, m.p.mesh, other, error));
  m.p.pins = {{"w1", s}, {"w1", other}};
  EXPECT_FALSE(llmc::sharding::plan(m.p, plan, error));
  EXPECT_EQ(error, "--shard w1: the tensor is pinned twice");

  Mlp odd("tp=3");
  ASSERT_TRUE(parseSharding("tp,-", 2, odd.p.mesh, s, error));
  odd.p.pins = {{"w1", s}};
  EXPECT_FALSE(llmc::sharding::plan(odd.p, plan, error));
  EXPECT_NE(error.find("not divisible by mesh axis 'tp' (size 3)"),
            std::string::npos)
      << error;
}

TEST(ShardingPlanner, MeshParsing) {
  Mesh mesh;
  std::string error;
  ASSERT_TRUE(parseMesh("dp=2,tp=4", mesh, error));
  EXPECT_EQ(mesh.numDevices(), 8);
  EXPECT_EQ(mesh.str(), "dp=2,tp=4");
  for (const char *bad :
       {"", "tp", "tp=0", "tp=x", "2=tp", "tp=2,tp=2", "tp=99999999",
        "a=4096,b=2", "a=65536,b=65536,c=65536,d=65536"})
    EXPECT_FALSE(parseMesh(bad, mesh, error)) << bad;
}

TEST(ShardingPlanner, PrintedShardingsParseBack) {
  Mesh mesh;
  std::string error;
  ASSERT_TRUE(parseMesh("dp=2,tp=2", mesh, error));
  TensorSharding s;
  s.dimAxes = {0, -1, 1};
  s.partialAxes = {1};
  s.dimAxes = {0, -1, -1};
  TensorSharding back;
  ASSERT_TRUE(parsePrintedSharding(s.str(mesh), 3, mesh, back, error)) << error;
  EXPECT_EQ(back, s);
  EXPECT_EQ(s.str(mesh), "[dp, -, -] partial(tp)");
  ASSERT_TRUE(parsePrintedSharding("[-, tp]", 2, mesh, back, error));
  EXPECT_TRUE(back.partialAxes.empty());
  EXPECT_FALSE(parsePrintedSharding("-, tp", 2, mesh, back, error));
  EXPECT_FALSE(parsePrintedSharding("[-, tp] junk", 2, mesh, back, error));
  EXPECT_NE(error.find("is not a sharding"), std::string::npos) << error;
  EXPECT_FALSE(
      parsePrintedSharding("[-, -] partial(xx)", 2, mesh, back, error));
  EXPECT_NE(error.find("names axis 'xx'"), std::string::npos) << error;
}

TEST(ShardingPlanner, ReshardPicksTheCollectives) {
  GraphBuilder g("tp=2");
  int t = g.tensor("t", {4, 8});
  auto make = [](std::vector<int> dims, std::vector<int> partial) {
    TensorSharding s;
    s.dimAxes = std::move(dims);
    s.partialAxes = std::move(partial);
    return s;
  };
  auto kinds = [&](const TensorSharding &a, const TensorSharding &b) {
    std::string s;
    for (const Collective &c : reshard(g.p, t, a, b))
      s += std::string(collectiveName(c.kind)) + "(" + std::to_string(c.dim) +
           ")";
    return s;
  };
  EXPECT_EQ(kinds(make({-1, -1}, {0}), make({-1, -1}, {})), "all_reduce(-1)");
  EXPECT_EQ(kinds(make({-1, -1}, {0}), make({0, -1}, {})), "reduce_scatter(0)");
  EXPECT_EQ(kinds(make({0, -1}, {}), make({-1, -1}, {})), "all_gather(0)");
  EXPECT_EQ(kinds(make({0, -1}, {}), make({-1, 0}, {})), "all_to_all(1)");
  EXPECT_EQ(kinds(make({-1, -1}, {}), make({-1, 0}, {})), "split(1)");
  EXPECT_EQ(kinds(make({-1, 0}, {}), make({-1, 0}, {})), "");
}

/// GShard's MoE layer (see the tests below) under `experts`.
struct MoeLayer : GraphBuilder {
  int x, mask, w, xe, h, y;
  explicit MoeLayer(const std::string &mesh) : GraphBuilder(mesh) {
    x = tensor("x", {4, 8, 16}, TensorKind::Input);
    mask = tensor("mask", {4, 8, 4, 4}, TensorKind::Input);
    w = tensor("w", {4, 16, 64}, TensorKind::Weight);
    xe = einsum("dispatch", {mask, x}, {"gsec", "gsm"}, "egcm", "s");
    h = einsum("expert", {xe, w}, {"egcm", "emh"}, "egch", "m");
    y = einsum("combine", {mask, h}, {"gsec", "egch"}, "gsh", "ec");
    p.tensors[y].isOutput = true;
    p.strategy = Strategy::Experts;
  }
};

/// GShard's MoE layer: tokens x [groups, tokens, d] and the dispatch mask
/// [groups, tokens, experts, capacity] (inputs here), dispatch einsum,
/// one expert einsum per device's experts, combine einsum. Under experts on
/// one axis the tokens split by group, the experts by expert: dispatch and
/// combine run on each device's own groups, and the expert buffers move by
/// two all-to-alls (the cheaper choice at the expert einsum, whose weight
/// is larger than the buffer) and nothing else.
TEST(ShardingPlanner, ExpertsDispatchTokensByAllToAll) {
  MoeLayer g("ep=4");
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, g.w), "[ep, -, -]");
  EXPECT_EQ(g.sharding(plan, g.x), "[ep, -, -]");
  EXPECT_EQ(g.sharding(plan, g.xe), "[-, ep, -, -]"); // made per group
  EXPECT_EQ(g.sharding(plan, g.h), "[ep, -, -, -]");  // made per expert
  EXPECT_EQ(g.sharding(plan, g.y), "[ep, -, -]");
  EXPECT_EQ(count(plan, CollectiveKind::AllToAll), 2);
  EXPECT_EQ(plan.collectives.size(), 2u);
}

/// The same layer on a mesh of a data and an expert axis: the tokens go on
/// dp, the experts on ep, and each ep group's partial outputs are summed
/// (the dense mixture's all-reduce); no cost-based choice is made.
TEST(ShardingPlanner, ExpertsOnTwoAxesAllReduceTheExperts) {
  MoeLayer g("dp=2,ep=2");
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, g.w), "[ep, -, -]");
  EXPECT_EQ(g.sharding(plan, g.x), "[dp, -, -]");
  EXPECT_EQ(count(plan, CollectiveKind::AllToAll), 0);
  EXPECT_EQ(count(plan, CollectiveKind::AllReduce), 1);
}

/// A tied embedding: the LM head reads the token table through a
/// transpose, and a gather reads it by token (its vocab dim data-dependent,
/// so whole). Splitting the head's vocab columns would all-gather the table
/// on every run: Megatron leaves the head whole and says why; the MLP in
/// between still splits.
TEST(ShardingPlanner, MegatronKeepsATiedEmbeddingHeadWhole) {
  GraphBuilder g("tp=2");
  int ids = g.tensor("ids", {8}, TensorKind::Input);
  int table = g.tensor("table", {64, 16}, TensorKind::Weight);
  int w1 = g.tensor("w1", {16, 32}, TensorKind::Weight);
  int w2 = g.tensor("w2", {32, 16}, TensorKind::Weight);
  int x = g.tensor("emb.out", {8, 16});
  {
    Op op;
    op.name = "emb";
    op.kind = "graph.gather";
    op.factors = {{8, false, ReductionKind::None, false},
                  {16, false, ReductionKind::None, false}};
    op.operands = {table, ids};
    op.operandDims = {{-1, 1}, {0}};
    op.results = {x};
    op.resultDims = {{0, 1}};
    g.p.ops.push_back(op);
  }
  int h = g.matmul("fc1", x, w1);
  int a = g.elementwise("gelu", {h});
  int y = g.matmul("fc2", a, w2);
  int r = g.elementwise("residual", {y, x});
  int t = g.einsum("t", {table}, {"vd"}, "dv", "");
  g.p.ops.back().kind = "graph.transpose";
  int logits = g.matmul("head", r, t);
  g.p.ops.back().isWeightContraction = true;
  g.p.tensors[logits].isOutput = true;
  g.p.strategy = Strategy::Megatron;
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, table), "[-, -]");
  EXPECT_EQ(g.sharding(plan, w1), "[-, tp]");
  EXPECT_EQ(g.sharding(plan, w2), "[tp, -]");
  EXPECT_EQ(count(plan, CollectiveKind::AllGather), 0);
  EXPECT_EQ(count(plan, CollectiveKind::AllReduce), 1);
  bool said = false;
  for (const std::string &remark : plan.remarks)
    said |= remark.find("'head' stays whole: its weight 'table' is also read "
                        "whole by 'emb' (graph.gather)") != std::string::npos;
  EXPECT_TRUE(said);
}

/// One constant read by a norm's shift and a layer's bias (CSE merges the
/// zeros of both): it carries no split from one user to the other, so the
/// layer's column split does not reach back into its own input through the
/// shift (which would make it look row-parallel and gather around it).
TEST(ShardingPlanner, ASharedConstantCarriesNoSplit) {
  GraphBuilder g("tp=2");
  int x = g.tensor("x", {8, 16}, TensorKind::Input);
  int zeros = g.tensor("zeros", {8, 16}, TensorKind::Constant);
  int w1 = g.tensor("w1", {16, 16}, TensorKind::Weight);
  int w2 = g.tensor("w2", {16, 16}, TensorKind::Weight);
  int shifted = g.elementwise("shift", {x, zeros});
  int h = g.matmul("fc1", shifted, w1);
  int biased = g.elementwise("bias", {h, zeros});
  int a = g.elementwise("gelu", {biased});
  int y = g.matmul("fc2", a, w2);
  int out = g.elementwise("residual", {y, shifted});
  g.p.tensors[out].isOutput = true;
  g.p.strategy = Strategy::Megatron;
  Plan plan = g.plan();
  EXPECT_EQ(g.sharding(plan, w1), "[-, tp]");
  EXPECT_EQ(g.sharding(plan, w2), "[tp, -]");
  EXPECT_EQ(g.sharding(plan, shifted), "[-, -]");
  EXPECT_EQ(count(plan, CollectiveKind::AllReduce), 1);
  EXPECT_EQ(count(plan, CollectiveKind::AllGather), 0);
}

} // namespace
