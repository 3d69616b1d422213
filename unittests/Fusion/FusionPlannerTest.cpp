//===- FusionPlannerTest.cpp - Tests of the fusion planner ----------------===//
//
// Hand-built graphs with byte counts worked out by hand. Every tensor is fp32,
// so a tensor of N elements is 4 * N bytes.
//
//===----------------------------------------------------------------------===//

#include "llmc/Fusion/FusionPlanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>

using namespace llmc::fusion;

namespace {

/// An operand: a node's result, or a graph input of `elements` values
/// (operands with the same id >= 0 are the same input).
struct Operand {
  Operand(int node) : node(node) {}
  int node;
  int64_t elements = 0, id = -1;
};

Operand input(int64_t elements, int64_t id = -1) {
  Operand operand(-1);
  operand.elements = elements;
  operand.id = id;
  return operand;
}

struct GraphBuilder {
  std::vector<Node> graph;

  int add(NodeKind kind, const std::string &name,
          const std::vector<Operand> &operands, int64_t elements,
          int64_t flops = 1) {
    Node node;
    node.kind = kind;
    node.name = name;
    node.resultElements = elements;
    node.resultBytes = 4 * elements;
    node.flopsPerElement = flops;
    for (const Operand &operand : operands) {
      node.operands.push_back(operand.node);
      node.operandBytes.push_back(operand.node >= 0
                                      ? graph[operand.node].resultBytes
                                      : 4 * operand.elements);
      node.operandInputIds.push_back(operand.id);
    }
    graph.push_back(node);
    return graph.size() - 1;
  }
  int ew(const std::string &name, const std::vector<Operand> &operands,
         int64_t elements, int64_t flops = 1) {
    return add(NodeKind::Elementwise, name, operands, elements, flops);
  }
  int reduce(const std::string &name, Operand operand, int64_t results,
             int64_t size, bool innermost = true) {
    int n = add(NodeKind::Reduction, name, {operand}, results);
    graph[n].reductionSize = size;
    graph[n].innermostReduction = innermost;
    return n;
  }
  void output(int n) { graph[n].isGraphOutput = true; }
};

const Decision *findDecision(const Plan &plan, int producer, int consumer,
                             bool sibling = false) {
  for (const Decision &d : plan.decisions)
    if (d.producer == producer && d.consumer == consumer &&
        d.sibling == sibling)
      return &d;
  return nullptr;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

/// Checks what every plan must satisfy: fusible nodes in groups, groups in
/// topological order, no cycle through unfused nodes, one decision per edge,
/// never more bytes than unfused.
void expectWellFormed(const std::vector<Node> &graph, const Plan &plan) {
  ASSERT_EQ(plan.groupOf.size(), graph.size());
  // latest[n]: the highest group a path into n (n included) comes from. A
  // path from a group back into it would make an operand's latest exceed its
  // consumer's group.
  std::vector<int> latest(graph.size(), -1);
  for (size_t n = 0; n < graph.size(); ++n) {
    bool library = graph[n].kind == NodeKind::Contraction ||
                   graph[n].kind == NodeKind::Opaque;
    EXPECT_EQ(plan.groupOf[n] < 0, library) << graph[n].name;
    latest[n] = plan.groupOf[n];
    for (int op : graph[n].operands) {
      if (op < 0)
        continue;
      EXPECT_NE(findDecision(plan, op, n), nullptr) << graph[n].name;
      latest[n] = std::max(latest[n], latest[op]);
      if (plan.groupOf[n] >= 0 && plan.groupOf[op] != plan.groupOf[n]) {
        EXPECT_LT(latest[op], plan.groupOf[n]) << "cycle or order at " << n;
      }
    }
  }
  for (size_t g = 0; g < plan.groups.size(); ++g) {
    const Group &group = plan.groups[g];
    EXPECT_TRUE(std::is_sorted(group.nodes.begin(), group.nodes.end()));
    for (int n : group.nodes)
      EXPECT_EQ(plan.groupOf[n], static_cast<int>(g));
    EXPECT_FALSE(group.outputs.empty());
  }
  EXPECT_LE(plan.totalBytes(), unfusedBytes(graph));
}

Plan planAndCheck(const std::vector<Node> &graph, const Budget &budget = {}) {
  Plan plan = planFusion(graph, budget);
  expectWellFormed(graph, plan);
  return plan;
}

/// softmax over `rows` x `rowSize`: max, sub, exp, sum, div (nodes 0-4).
std::vector<Node> softmax(int64_t rows, int64_t rowSize) {
  GraphBuilder b;
  int64_t n = rows * rowSize;
  Operand x = input(n, 0);
  int max = b.reduce("max", x, rows, rowSize);
  int sub = b.ew("sub", {x, max}, n);
  int exp = b.ew("exp", {sub}, n, 10);
  int sum = b.reduce("sum", exp, rows, rowSize);
  b.output(b.ew("div", {exp, sum}, n));
  return b.graph;
}

/// LayerNorm over 128 x 768: mean, sub, mul, mean, add eps, rsqrt, mul,
/// mul gamma, add beta (nodes 0-8).
std::vector<Node> layerNorm() {
  GraphBuilder b;
  const int64_t rows = 128, size = 768, n = rows * size;
  Operand x = input(n, 0);
  int mean = b.reduce("mean", x, rows, size);
  int centred = b.ew("sub", {x, mean}, n);
  int square = b.ew("square", {centred, centred}, n);
  int var = b.reduce("var", square, rows, size);
  int shifted = b.ew("add_eps", {var, input(1)}, rows);
  int rstd = b.ew("rsqrt", {shifted}, rows, 10);
  int normed = b.ew("normed", {centred, rstd}, n);
  int scaled = b.ew("gamma", {normed, input(size)}, n);
  b.output(b.ew("beta", {scaled, input(size)}, n));
  return b.graph;
}

TEST(FusionPlanner, ElementwiseChainIsOneLoop) {
  GraphBuilder b;
  int a = b.ew("a", {input(1024)}, 1024);
  int c = b.ew("b", {a}, 1024, 10);
  int d = b.ew("c", {c}, 1024);
  b.output(b.ew("d", {d}, 1024));
  Plan plan = planAndCheck(b.graph);
  ASSERT_EQ(plan.groups.size(), 1u);
  const Group &g = plan.groups[0];
  EXPECT_EQ(g.nodes, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(g.outputs, std::vector<int>{3});
  EXPECT_EQ(g.shape, Group::Shape::Loop);
  EXPECT_EQ(g.domain, 1024);
  EXPECT_EQ(g.flops, 13 * 1024);
  // Read x once, write d once.
  EXPECT_EQ(g.bytesRead, 4096);
  EXPECT_EQ(g.bytesWritten, 4096);
  EXPECT_EQ(plan.totalBytes(), 8192);
  EXPECT_EQ(unfusedBytes(b.graph), 4 * 8192);
  ASSERT_EQ(plan.decisions.size(), 3u);
  for (const Decision &d : plan.decisions)
    EXPECT_TRUE(d.fused) << d.reason;
}

TEST(FusionPlanner, SoftmaxIsOneRowGroup) {
  std::vector<Node> graph = softmax(64, 1024);
  Plan plan = planAndCheck(graph);
  ASSERT_EQ(plan.groups.size(), 1u);
  const Group &g = plan.groups[0];
  EXPECT_EQ(g.shape, Group::Shape::Row);
  EXPECT_EQ(g.rows, 64);
  EXPECT_EQ(g.rowSize, 1024);
  EXPECT_TRUE(g.keepsRow);
  EXPECT_EQ(g.outputs, std::vector<int>{4});
  EXPECT_EQ(g.bytesRead, 64 * 1024 * 4);
  EXPECT_EQ(g.bytesWritten, 64 * 1024 * 4);
  // Five kernels unfused: x read by max and sub, exp read by sum and div.
  EXPECT_EQ(unfusedBytes(graph), 4 * (64 * 1024 * 8 + 64 * 4));
}

TEST(FusionPlanner, LayerNormAndRmsNormAreOneGroup) {
  std::vector<Node> graph = layerNorm();
  Plan plan = planAndCheck(graph);
  ASSERT_EQ(plan.groups.size(), 1u);
  const Group &g = plan.groups[0];
  EXPECT_EQ(g.nodes.size(), 9u);
  EXPECT_EQ(g.shape, Group::Shape::Row);
  EXPECT_EQ(g.rows, 128);
  EXPECT_EQ(g.rowSize, 768);
  EXPECT_TRUE(g.keepsRow);
  // x, eps, gamma, beta in; y out. gamma and beta are read per row but are
  // 0-recompute weights, so they cost their bytes once.
  EXPECT_EQ(g.bytesRead, 4 * (128 * 768 + 1 + 768 + 768));
  EXPECT_EQ(g.bytesWritten, 4 * 128 * 768);

  GraphBuilder b;
  const int64_t rows = 32, size = 4096, n = rows * size;
  Operand x = input(n, 0);
  int square = b.ew("square", {x, x}, n);
  int ms = b.reduce("mean_square", square, rows, size);
  int shifted = b.ew("add_eps", {ms, input(1)}, rows);
  int r = b.ew("rsqrt", {shifted}, rows, 10);
  int normed = b.ew("normed", {x, r}, n);
  b.output(b.ew("gamma", {normed, input(size)}, n));
  Plan rms = planAndCheck(b.graph);
  ASSERT_EQ(rms.groups.size(), 1u);
  EXPECT_EQ(rms.groups[0].shape, Group::Shape::Row);
  EXPECT_EQ(rms.groups[0].rowSize, size);
  EXPECT_EQ(rms.groups[0].bytesRead, 4 * (n + 1 + size));
}

TEST(FusionPlanner, RowLongerThanBudgetIsNotKept) {
  std::vector<Node> graph = softmax(4, 65536);
  Plan plan = planAndCheck(graph);
  EXPECT_GT(plan.groups.size(), 1u);
  // x - max reads the row again after reducing it: the row would have to
  // stay on chip.
  const Decision *d = findDecision(plan, 0, 1);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->fused);
  EXPECT_TRUE(
      contains(d->reason, "row of 65536 x 4 bytes exceeds budget 49152"))
      << d->reason;
  // Streaming into a reduction needs no row on chip: sub, exp and sum fuse.
  EXPECT_EQ(plan.groupOf[1], plan.groupOf[3]);
  EXPECT_FALSE(plan.groups[plan.groupOf[3]].keepsRow);
  EXPECT_NE(plan.groupOf[3], plan.groupOf[4]);

  Budget cpu;
  cpu.maxRowBytes = 1 << 20;
  EXPECT_EQ(planAndCheck(graph, cpu).groups.size(), 1u);
}

TEST(FusionPlanner, ContractionSplitsGroups) {
  GraphBuilder b;
  int relu = b.ew("relu", {input(4096)}, 4096);
  int mm =
      b.add(NodeKind::Contraction, "matmul", {relu, input(64 * 64)}, 4096, 128);
  b.output(b.ew("bias", {mm, input(64)}, 4096));
  Plan plan = planAndCheck(b.graph);
  ASSERT_EQ(plan.groups.size(), 2u);
  EXPECT_EQ(plan.groupOf[mm], -1);
  EXPECT_EQ(plan.unfusedNodeBytes, 4 * (4096 + 4096 + 4096));
  const Decision *in = findDecision(plan, relu, mm);
  const Decision *out = findDecision(plan, mm, 2);
  ASSERT_TRUE(in && out);
  EXPECT_FALSE(in->fused);
  EXPECT_TRUE(contains(in->reason, "consumer is a contraction")) << in->reason;
  EXPECT_TRUE(contains(out->reason, "producer is a contraction"))
      << out->reason;
}

TEST(FusionPlanner, CycleThroughOpaqueNodeIsRefused) {
  GraphBuilder b;
  int exp = b.ew("exp", {input(4096)}, 4096, 10);
  int topk = b.add(NodeKind::Opaque, "topk", {exp}, 4096);
  int add = b.ew("add", {exp, topk}, 4096);
  b.output(add);
  Plan plan = planAndCheck(b.graph);
  EXPECT_EQ(plan.groups.size(), 2u);
  EXPECT_NE(plan.groupOf[exp], plan.groupOf[add]);
  const Decision *d = findDecision(plan, exp, add);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->fused);
  EXPECT_TRUE(contains(d->reason, "cycle through node topk")) << d->reason;
  EXPECT_TRUE(contains(findDecision(plan, exp, topk)->reason, "opaque"));
}

/// A decoder's KV caches stacked over layers: one past input [layers, ...]
/// taken per layer (an opaque gather), concatenated with the new keys, read
/// by attention's matmul, and stacked again into one present output. Layer
/// 1's new keys come from layer 0's matmul, so a group holding layer 0's
/// cache concat and the stacking would be a cycle through the matmul.
struct StackedKvCache {
  static constexpr int64_t past = 2 * 4 * 3 * 16, cache = 2 * 4 * 4 * 16,
                           query = 2 * 4 * 16;
  GraphBuilder b;
  int k0, k1new, k1;
  StackedKvCache() {
    Operand pastK = input(2 * past, 0);
    int p0 = b.add(NodeKind::Opaque, "gather0", {pastK}, past);
    k0 = b.add(NodeKind::DataMovement, "concat0", {p0, input(query, 1)}, cache);
    int s0 = b.add(NodeKind::Contraction, "matmul0", {input(query, 2), k0},
                   2 * 4 * 4);
    k1new = b.ew("tanh", {s0}, query, 10);
    int p1 = b.add(NodeKind::Opaque, "gather1", {pastK}, past);
    k1 = b.add(NodeKind::DataMovement, "concat1", {p1, k1new}, cache);
    int s1 = b.add(NodeKind::Contraction, "matmul1", {s0, k1}, 2 * 4 * 4);
    b.output(s1);
  }
};

TEST(FusionPlanner, StackedKvCacheByConcatIsAcyclic) {
  StackedKvCache kv;
  GraphBuilder &b = kv.b;
  int r0 = b.add(NodeKind::DataMovement, "reshape0", {kv.k0}, kv.cache);
  int r1 = b.add(NodeKind::DataMovement, "reshape1", {kv.k1}, kv.cache);
  b.graph[r0].preservesOrder = b.graph[r1].preservesOrder = true;
  int stack = b.add(NodeKind::DataMovement, "stack", {r0, r1}, 2 * kv.cache);
  b.output(stack);
  Plan plan = planAndCheck(b.graph);
  EXPECT_NE(plan.groupOf[kv.k0], plan.groupOf[stack]);
  EXPECT_EQ(plan.groupOf[kv.k1new], plan.groupOf[kv.k1]);
  EXPECT_EQ(plan.groupOf[r0], plan.groupOf[stack]);
}

TEST(FusionPlanner, StackedKvCacheOfOneDomainRefusesTheCycle) {
  // Combined by an op on the caches' own domain, only the cycle stops the
  // merge of layer 0's cache concat with it.
  StackedKvCache kv;
  int sum = kv.b.ew("sum", {kv.k0, kv.k1}, kv.cache);
  kv.b.output(sum);
  Plan plan = planAndCheck(kv.b.graph);
  EXPECT_NE(plan.groupOf[kv.k0], plan.groupOf[sum]);
  const Decision *d = findDecision(plan, kv.k0, sum);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->fused);
  EXPECT_TRUE(contains(d->reason, "cycle through node matmul0")) << d->reason;
}

TEST(FusionPlanner, ProducerUsedOutsideStaysAnOutput) {
  GraphBuilder b;
  int exp = b.ew("exp", {input(1024)}, 1024, 10);
  int add = b.ew("add", {exp, input(1)}, 1024);
  b.output(exp);
  b.output(add);
  Plan plan = planAndCheck(b.graph);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].outputs, (std::vector<int>{exp, add}));
  EXPECT_EQ(plan.groups[0].bytesWritten, 2 * 4096);
  const Decision *d = findDecision(plan, exp, add);
  ASSERT_TRUE(d && d->fused);
  // Only add's read of exp is saved: exp is written anyway.
  EXPECT_EQ(d->bytesSaved, 4096);
}

TEST(FusionPlanner, SiblingsSharingAnInputMerge) {
  GraphBuilder b;
  Operand x = input(4096, /*id=*/7);
  int exp = b.ew("exp", {x}, 4096, 10);
  int tanh = b.ew("tanh", {x}, 4096, 10);
  int topk = b.add(NodeKind::Opaque, "topk", {x}, 4096);
  int neg = b.ew("neg", {topk}, 4096);
  int abs = b.ew("abs", {topk}, 4096);
  // A different domain: never a sibling of the others.
  int sum = b.reduce("sum", x, 64, 64);
  // A shared bias stays in cache: no reason to merge.
  int scale = b.ew("scale", {input(64, 8)}, 64);
  int shift = b.ew("shift", {input(64, 8)}, 64);
  for (int n : {exp, tanh, neg, abs, sum, scale, shift})
    b.output(n);
  Plan plan = planAndCheck(b.graph);
  EXPECT_EQ(plan.groupOf[exp], plan.groupOf[tanh]);
  EXPECT_EQ(plan.groupOf[neg], plan.groupOf[abs]);
  EXPECT_NE(plan.groupOf[exp], plan.groupOf[neg]);
  EXPECT_NE(plan.groupOf[exp], plan.groupOf[sum]);
  EXPECT_NE(plan.groupOf[scale], plan.groupOf[shift]);
  const Group &g = plan.groups[plan.groupOf[exp]];
  EXPECT_EQ(g.bytesRead, 4096 * 4);
  EXPECT_EQ(g.outputs, (std::vector<int>{exp, tanh}));
  const Decision *fromInput = findDecision(plan, -1, tanh, /*sibling=*/true);
  const Decision *fromTopk = findDecision(plan, topk, abs, /*sibling=*/true);
  ASSERT_TRUE(fromInput && fromTopk);
  EXPECT_TRUE(fromInput->fused);
  EXPECT_TRUE(contains(fromInput->reason, "sibling")) << fromInput->reason;
  EXPECT_EQ(fromInput->bytesSaved, 4096 * 4);
  EXPECT_TRUE(fromTopk->fused);
  EXPECT_TRUE(contains(fromTopk->reason, "sibling")) << fromTopk->reason;
}

TEST(FusionPlanner, SiblingsWithAPathBetweenThemStayApart) {
  GraphBuilder b;
  Operand x = input(4096, 0);
  int exp = b.ew("exp", {x}, 4096, 10);
  int topk = b.add(NodeKind::Opaque, "topk", {exp}, 4096);
  int add = b.ew("add", {x, topk}, 4096);
  b.output(add);
  Plan plan = planAndCheck(b.graph);
  EXPECT_NE(plan.groupOf[exp], plan.groupOf[add]);
  const Decision *d = findDecision(plan, -1, add, /*sibling=*/true);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->fused);
  EXPECT_TRUE(contains(d->reason, "sibling")) << d->reason;
  EXPECT_TRUE(contains(d->reason, "cycle through node topk")) << d->reason;
}

TEST(FusionPlanner, CheapBroadcastFusesExpensiveOneIsRefused) {
  const int64_t big = 1 << 20, small = 256;
  for (int64_t flops : {0, 1, 20}) {
    GraphBuilder b;
    int p = b.add(flops ? NodeKind::Elementwise : NodeKind::DataMovement,
                  "producer", {input(small)}, small, flops);
    b.output(b.ew("consumer", {input(big), p}, big));
    Plan plan = planAndCheck(b.graph);
    const Decision *d = findDecision(plan, 0, 1);
    ASSERT_NE(d, nullptr);
    if (flops < 20) {
      EXPECT_TRUE(d->fused) << flops << ": " << d->reason;
      ASSERT_EQ(plan.groups.size(), 1u);
      // The producer runs at every point of the big domain.
      EXPECT_EQ(plan.groups[0].flops, flops * big + big);
      continue;
    }
    EXPECT_FALSE(d->fused);
    EXPECT_EQ(plan.groups.size(), 2u);
    // 20 x (2^20 - 256) flops for 4 x (256 + 2 x 2^20) bytes moved.
    EXPECT_TRUE(contains(d->reason, "recomputes producer")) << d->reason;
    EXPECT_TRUE(contains(d->reason, "20966400 flops added for 8389632 bytes"))
        << d->reason;
  }
}

TEST(FusionPlanner, ConcatOperandsAreNotRecomputed) {
  // Expensive producers feeding a concat are each evaluated once, not
  // broadcast, so they fuse where a broadcast of them would not.
  GraphBuilder b;
  const int64_t half = 1 << 19;
  int left = b.ew("gelu_left", {input(half)}, half, 20);
  int right = b.ew("gelu_right", {input(half)}, half, 20);
  int concat =
      b.add(NodeKind::DataMovement, "concat", {left, right}, 2 * half, 0);
  b.output(b.ew("add", {concat, input(2 * half)}, 2 * half));
  Plan plan = planAndCheck(b.graph);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].flops, 2 * 20 * half + 2 * half);
}

TEST(FusionPlanner, ColumnReductionKeepsInputDomainConsumersOut) {
  // BatchNorm statistics over N=8, H*W=256 for C=64 channels.
  GraphBuilder b;
  const int64_t channels = 64, perChannel = 8 * 256, n = channels * perChannel;
  int relu = b.ew("relu", {input(n)}, n);
  int mean = b.reduce("mean", relu, channels, perChannel, /*innermost=*/false);
  int scale = b.ew("scale", {mean, input(channels)}, channels);
  int centred = b.ew("centred", {relu, mean}, n);
  b.output(scale);
  b.output(centred);
  Plan plan = planAndCheck(b.graph);
  int g = plan.groupOf[mean];
  EXPECT_EQ(plan.groups[g].shape, Group::Shape::ColumnReduction);
  EXPECT_EQ(plan.groups[g].domain, n);
  EXPECT_EQ(plan.groupOf[relu], g);
  EXPECT_EQ(plan.groupOf[scale], g);
  EXPECT_NE(plan.groupOf[centred], g);
  const Decision *d = findDecision(plan, mean, centred);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->fused);
  EXPECT_TRUE(contains(d->reason, "second pass")) << d->reason;
}

TEST(FusionPlanner, GroupInputAndOpLimitsSplitGroups) {
  // 20 adds, each reading a new input: a group of k adds reads k + 1.
  GraphBuilder b;
  int last = b.ew("add0", {input(1024), input(1024)}, 1024);
  for (int i = 1; i < 20; ++i)
    last = b.ew("add" + std::to_string(i), {last, input(1024)}, 1024);
  b.output(last);
  Plan plan = planAndCheck(b.graph);
  EXPECT_EQ(plan.groups.size(), 2u);
  bool refused = false;
  for (const Decision &d : plan.decisions) {
    refused |= !d.fused;
    if (!d.fused) {
      EXPECT_TRUE(contains(d.reason, "exceed maxGroupInputs 16")) << d.reason;
    }
  }
  EXPECT_TRUE(refused);
  for (const Group &g : plan.groups)
    EXPECT_LE(g.bytesRead, (16 + 1) * 4096); // 16 inputs + a 1-element read

  Budget tight;
  tight.maxOpsPerGroup = 4;
  Plan small = planAndCheck(b.graph, tight);
  EXPECT_EQ(small.groups.size(), 5u);
  for (const Group &g : small.groups)
    EXPECT_EQ(g.nodes.size(), 4u);
}

std::string dump(const Plan &plan) {
  std::ostringstream os;
  for (int g : plan.groupOf)
    os << g << ' ';
  for (const Group &g : plan.groups) {
    os << "\n[";
    for (int n : g.nodes)
      os << n << ' ';
    os << "] -> [";
    for (int n : g.outputs)
      os << n << ' ';
    os << "] " << g.bytesRead << ' ' << g.bytesWritten << ' ' << g.flops << ' '
       << static_cast<int>(g.shape) << ' ' << g.domain << ' ' << g.rows << ' '
       << g.rowSize << ' ' << g.keepsRow;
  }
  for (const Decision &d : plan.decisions)
    os << '\n'
       << d.producer << "->" << d.consumer << ' ' << d.fused << ' '
       << d.bytesSaved << ' ' << d.reason;
  return os.str();
}

TEST(FusionPlanner, PlanningIsDeterministic) {
  // LayerNorm, a matmul, then softmax and gelu both reading its result.
  std::vector<Node> graph = layerNorm();
  int ln = graph.size() - 1;
  graph[ln].isGraphOutput = false;
  GraphBuilder b;
  b.graph = graph;
  int mm = b.add(NodeKind::Contraction, "matmul", {ln, input(768 * 128)},
                 128 * 128, 256);
  int offset = b.graph.size();
  for (Node node : softmax(128, 128)) {
    for (int &op : node.operands)
      op = op < 0 ? mm : op + offset;
    b.graph.push_back(node);
  }
  b.output(b.ew("gelu", {mm}, 128 * 128, 20));
  Plan first = planAndCheck(b.graph);
  Plan second = planAndCheck(b.graph);
  EXPECT_EQ(dump(first), dump(second));
  EXPECT_EQ(first.groups.size(), 3u) << dump(first);
}

TEST(FusionPlanner, RandomGraphsGiveWellFormedPlans) {
  std::mt19937 rng(42);
  auto pick = [&](int64_t n) { return static_cast<int64_t>(rng() % n); };
  for (int trial = 0; trial < 200; ++trial) {
    GraphBuilder b;
    for (int i = 0; i < 40; ++i) {
      // Elements are rows x size, rows or size, so shapes meet often.
      const int64_t rows = 16, size = 64, sizes[] = {rows * size, rows, size};
      std::vector<Operand> operands;
      for (int k = 0, e = 1 + pick(3); k < e; ++k)
        operands.push_back(i && pick(4) ? Operand(pick(i))
                                        : input(sizes[pick(3)], pick(3)));
      int64_t kind = pick(10);
      if (kind < 2) {
        int r = b.reduce("r" + std::to_string(i), operands[0], rows, size,
                         pick(3) != 0);
        b.graph[r].operandBytes[0] = 4 * rows * size;
      } else {
        NodeKind k = kind < 6   ? NodeKind::Elementwise
                     : kind < 8 ? NodeKind::DataMovement
                     : kind < 9 ? NodeKind::Contraction
                                : NodeKind::Opaque;
        b.add(k, "n" + std::to_string(i), operands, sizes[pick(3)],
              pick(3) * 5);
      }
    }
    b.output(b.graph.size() - 1);
    Budget budget;
    budget.maxOpsPerGroup = 8;
    Plan plan = planAndCheck(b.graph, budget);
    EXPECT_EQ(dump(plan), dump(planFusion(b.graph, budget)));
    for (const Group &g : plan.groups) {
      EXPECT_LE(g.nodes.size(), 8u);
      for (int n : g.outputs)
        EXPECT_TRUE(b.graph[n].resultElements == g.domain ||
                    (g.shape != Group::Shape::Loop &&
                     b.graph[n].resultElements * g.rowSize == g.domain) ||
                    g.shape == Group::Shape::ColumnReduction)
            << dump(plan);
    }
  }
}

} // namespace
