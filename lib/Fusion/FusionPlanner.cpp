//===- FusionPlanner.cpp - Cost-model-driven kernel fusion ----------------===//
//
// Groups are immutable: a merge kills both groups and creates a new one. A
// candidate in the priority queue is therefore current exactly when both of
// its groups are still alive, and a refusal recorded for a pair of live groups
// is the reason that holds in the final plan.
//
//===----------------------------------------------------------------------===//

#include "llmc/Fusion/FusionPlanner.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <queue>
#include <set>
#include <tuple>
#include <utility>

using namespace llmc::fusion;

namespace {

bool isFusible(const Node &node) {
  return node.kind == NodeKind::Elementwise ||
         node.kind == NodeKind::DataMovement ||
         node.kind == NodeKind::Reduction;
}

/// Gives every tensor a key: a node's result is its index; a graph input is
/// keyed by its operandInputIds entry, or gets a key of its own.
struct TensorKeys {
  std::vector<std::vector<int64_t>> ofOperand; // per node, per operand
  std::vector<int64_t> bytes;                  // per key

  explicit TensorKeys(const std::vector<Node> &graph) {
    for (const Node &node : graph)
      bytes.push_back(node.resultBytes);
    std::map<int64_t, int64_t> inputKeys;
    for (const Node &node : graph) {
      assert(node.operandBytes.size() == node.operands.size() &&
             "one operandBytes entry per operand");
      std::vector<int64_t> keys;
      for (size_t i = 0; i < node.operands.size(); ++i) {
        if (node.operands[i] >= 0) {
          keys.push_back(node.operands[i]);
          continue;
        }
        int64_t id =
            i < node.operandInputIds.size() ? node.operandInputIds[i] : -1;
        auto [it, inserted] = inputKeys.try_emplace(id, bytes.size());
        if (id < 0 || inserted) {
          it->second = bytes.size();
          bytes.push_back(node.operandBytes[i]);
        }
        keys.push_back(it->second);
      }
      ofOperand.push_back(std::move(keys));
    }
  }

  /// Bytes a node reads when it runs as its own kernel: each distinct
  /// operand once.
  int64_t readBytes(int node) const {
    std::vector<int64_t> keys = ofOperand[node];
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    int64_t sum = 0;
    for (int64_t key : keys)
      sum += bytes[key];
    return sum;
  }
};

/// What a set of nodes would be as one group, and why it cannot be one
/// kernel (empty `refusal` when it can).
struct Analysis {
  std::string refusal;
  Group group;                 // nodes ascending, hence topological
  std::vector<int64_t> inputs; // tensor keys read from outside, sorted
  int64_t recompute = 0;       // flops spent recomputing broadcast producers
  int worstRecompute = -1;     // the node with the most recompute
  int64_t worstEval = 0;       // and how many times it is evaluated
  bool alive = true;           // false once merged into another group

  int64_t bytes() const { return group.bytesRead + group.bytesWritten; }
  const std::vector<int> &nodes() const { return group.nodes; }
  bool sameSpace(const Analysis &o) const {
    const Group &g = group, &h = o.group;
    return std::tie(g.shape, g.domain, g.rows, g.rowSize) ==
           std::tie(h.shape, h.domain, h.rows, h.rowSize);
  }
};

/// A merge to try: producer group `a` into consumer group `b`, or siblings
/// `a` and `b` sharing tensor `shared`.
struct Candidate {
  int64_t saved;
  int firstA, firstB; // first nodes, so that ties break the same every run
  int a, b;
  bool sibling;
  int64_t shared;

  /// Orders the priority queue: most bytes saved on top.
  bool operator<(const Candidate &o) const {
    return std::tie(saved, o.firstA, o.firstB, o.sibling) <
           std::tie(o.saved, firstA, firstB, sibling);
  }
};

class Planner {
public:
  Planner(const std::vector<Node> &graph, const Budget &budget)
      : graph(graph), budget(budget), keys(graph), users(graph.size()),
        groupOf(graph.size(), -1), mark(graph.size(), 0),
        evalOf(graph.size(), 0), afterReduction(graph.size(), 0),
        visitedNode(graph.size(), 0) {
    for (size_t n = 0; n < graph.size(); ++n) {
      for (int op : graph[n].operands) {
        assert(op < static_cast<int>(n) && "nodes must be topological");
        if (op >= 0 &&
            (users[op].empty() || users[op].back() != static_cast<int>(n)))
          users[op].push_back(n);
      }
    }
  }

  Plan run();

private:
  std::string nameOf(int node) const {
    return graph[node].name.empty() ? "#" + std::to_string(node)
                                    : graph[node].name;
  }
  Analysis analyse(std::vector<int> nodes);
  std::vector<int> mergedNodes(int a, int b) const {
    std::vector<int> nodes;
    std::merge(groups[a].nodes().begin(), groups[a].nodes().end(),
               groups[b].nodes().begin(), groups[b].nodes().end(),
               std::back_inserter(nodes));
    return nodes;
  }
  void refuse(int a, int b, bool sibling, int64_t shared,
              const std::string &reason);
  void consider(int a, int b, bool sibling, int64_t shared);
  void considerSiblings(int g);
  int cycleThrough(int a, int b);
  int merge(const Candidate &c);

  const std::vector<Node> &graph;
  const Budget &budget;
  TensorKeys keys;
  std::vector<std::vector<int>> users; // distinct, ascending
  std::vector<int> groupOf;            // -1 for unfusible nodes
  std::vector<Analysis> groups;
  std::priority_queue<Candidate> queue;
  std::map<std::pair<int, int>, std::string> refusals;
  std::map<std::pair<int, int>, Decision> siblingRefusals;
  std::set<std::pair<int, int>> siblingPairsSeen;
  std::map<int64_t, std::vector<int>> readers; // tensor key -> groups
  std::map<std::pair<int, int>, Decision> fusedEdges;
  std::vector<Decision> siblingMerges;
  // Scratch, indexed by node; `mark == stamp` means "in the current set".
  std::vector<unsigned> mark;
  unsigned stamp = 0;
  std::vector<int64_t> evalOf;
  std::vector<char> afterReduction;
  std::vector<unsigned> visitedGroup, visitedNode;
};

Analysis Planner::analyse(std::vector<int> nodes) {
  ++stamp;
  for (int n : nodes)
    mark[n] = stamp;
  auto inside = [&](int n) { return n >= 0 && mark[n] == stamp; };
  Analysis a;
  Group &g = a.group;
  auto fail = [&](std::string reason) {
    if (a.refusal.empty())
      a.refusal = std::move(reason);
  };

  for (int n : nodes)
    for (size_t i = 0; i < graph[n].operands.size(); ++i)
      if (!inside(graph[n].operands[i]))
        a.inputs.push_back(keys.ofOperand[n][i]);
  std::sort(a.inputs.begin(), a.inputs.end());
  a.inputs.erase(std::unique(a.inputs.begin(), a.inputs.end()), a.inputs.end());
  for (int64_t key : a.inputs)
    g.bytesRead += keys.bytes[key];
  std::vector<char> isOutput(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    int n = nodes[i];
    const std::vector<int> &u = users[n];
    if (graph[n].isGraphOutput || u.empty() ||
        !std::all_of(u.begin(), u.end(), inside)) {
      isOutput[i] = 1;
      g.outputs.push_back(n);
      g.bytesWritten += graph[n].resultBytes;
    }
  }

  // The reductions fix the iteration space; without one it is a plain loop
  // over the largest result.
  int reduction = -1;
  for (int n : nodes) {
    const Node &node = graph[n];
    assert(node.resultElements > 0 && "a result has elements");
    if (node.kind != NodeKind::Reduction) {
      g.domain = std::max(g.domain, node.resultElements);
      continue;
    }
    assert(node.reductionSize > 0 && "a reduction reduces something");
    if (reduction < 0) {
      reduction = n;
      continue;
    }
    const Node &first = graph[reduction];
    if (std::tie(node.innermostReduction, node.resultElements,
                 node.reductionSize) != std::tie(first.innermostReduction,
                                                 first.resultElements,
                                                 first.reductionSize)) {
      fail("reductions " + nameOf(reduction) + " and " + nameOf(n) +
           " iterate over different spaces");
      return a;
    }
  }
  int64_t resultDomain = g.domain;
  if (reduction >= 0) {
    const Node &r = graph[reduction];
    resultDomain = r.resultElements;
    g.domain = r.resultElements * r.reductionSize;
    g.shape = r.innermostReduction ? Group::Shape::Row
                                   : Group::Shape::ColumnReduction;
    if (r.innermostReduction) {
      g.rows = r.resultElements;
      g.rowSize = r.reductionSize;
    }
  }
  bool isRow = g.shape == Group::Shape::Row;
  bool isLoop = g.shape == Group::Shape::Loop;

  // How many times each node is evaluated: a broadcast producer runs at every
  // point of its users' domain, except that a Row group computes a per-row
  // value once per row. A data movement op with several operands (concat)
  // reads each operand element once per evaluation of the whole result.
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Node &node = graph[*it];
    int64_t eval = node.resultElements;
    if (node.kind != NodeKind::Reduction && !(isRow && eval == g.rows)) {
      for (int u : users[*it]) {
        if (!inside(u))
          continue;
        const Node &user = graph[u];
        if (user.kind == NodeKind::Reduction)
          eval = std::max(eval, user.resultElements * user.reductionSize);
        else if (user.kind == NodeKind::DataMovement &&
                 user.operands.size() > 1)
          eval = std::max(eval, evalOf[u] / user.resultElements *
                                    node.resultElements);
        else
          eval = std::max(eval, evalOf[u]);
      }
    }
    evalOf[*it] = eval;
  }

  int64_t worst = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    int n = nodes[i];
    const Node &node = graph[n];
    int64_t count = node.resultElements, eval = evalOf[n];
    bool readsInside = false, dependsOnReduction = false;
    for (int op : node.operands) {
      if (!inside(op))
        continue;
      readsInside = true;
      dependsOnReduction |=
          graph[op].kind == NodeKind::Reduction || afterReduction[op];
    }
    afterReduction[n] = dependsOnReduction;

    // The kernel writes its outputs from its iteration space, so they must
    // be on it, each point once. In a Loop group inner nodes may be smaller
    // (broadcast or concat operands); a reduction group runs on two spaces.
    std::string what = nameOf(n) + " (" + std::to_string(count) + " elements)";
    if (isOutput[i] && (eval != count || (isLoop && count != g.domain))) {
      fail(what + " is a group output but would be computed on " +
           std::to_string(eval != count ? eval : g.domain) + " elements");
    } else if (!isLoop && eval != g.domain && eval != resultDomain) {
      fail(what + " is not on the iteration space of " +
           std::to_string(g.domain) + " or " + std::to_string(resultDomain) +
           " elements");
    } else if (eval % count != 0) {
      fail(what + " does not divide the domain of " + std::to_string(eval) +
           " elements it is broadcast into");
    }
    if (!isLoop && node.kind == NodeKind::DataMovement &&
        !node.preservesOrder && readsInside)
      fail("data movement " + nameOf(n) +
           " would reorder elements inside a reduction group");
    if (dependsOnReduction && eval == g.domain && g.domain != resultDomain) {
      if (isRow)
        g.keepsRow = true;
      else
        fail(nameOf(n) + " on the input domain of column reduction " +
             nameOf(reduction) + " would need a second pass over the data");
    }

    int64_t recompute = node.flopsPerElement * (eval - count);
    a.recompute += recompute;
    if (recompute > worst) {
      worst = recompute;
      a.worstRecompute = n;
      a.worstEval = eval;
    }
    g.flops += node.kind == NodeKind::Reduction
                   ? node.flopsPerElement * count * node.reductionSize
                   : node.flopsPerElement * eval;
  }

  if (g.keepsRow && g.rowSize * budget.bytesPerElement > budget.maxRowBytes)
    fail("row of " + std::to_string(g.rowSize) + " x " +
         std::to_string(budget.bytesPerElement) + " bytes exceeds budget " +
         std::to_string(budget.maxRowBytes));
  if (static_cast<int64_t>(nodes.size()) > budget.maxOpsPerGroup)
    fail(std::to_string(nodes.size()) + " ops exceed maxOpsPerGroup " +
         std::to_string(budget.maxOpsPerGroup));
  if (static_cast<int64_t>(a.inputs.size()) > budget.maxGroupInputs)
    fail(std::to_string(a.inputs.size()) +
         " distinct inputs exceed maxGroupInputs " +
         std::to_string(budget.maxGroupInputs));
  g.nodes = std::move(nodes);
  return a;
}

/// Records why groups `a` and `b` stay apart, for the final plan.
void Planner::refuse(int a, int b, bool sibling, int64_t shared,
                     const std::string &reason) {
  if (!sibling) {
    refusals[{a, b}] = "refused: " + reason;
    return;
  }
  int producer = shared < static_cast<int64_t>(graph.size()) ? shared : -1;
  siblingRefusals[{a, b}] = {
      producer,
      groups[b].nodes()[0],
      false,
      "refused: sibling of " + nameOf(groups[a].nodes()[0]) + ": " + reason,
      0,
      true};
}

/// Evaluates merging groups `a` and `b` now: queues the merge, or records
/// why not. Only a cycle can appear later without `a` or `b` changing, and
/// that is checked when the candidate is taken.
void Planner::consider(int a, int b, bool sibling, int64_t shared) {
  const Analysis &ga = groups[a], &gb = groups[b];
  // Siblings must already agree on the kernel form; merging them only saves
  // reading `shared` twice.
  if (sibling && !ga.sameSpace(gb))
    return;
  Analysis merged = analyse(mergedNodes(a, b));
  int64_t saved = ga.bytes() + gb.bytes() - merged.bytes();
  int64_t added = merged.recompute - ga.recompute - gb.recompute;
  std::string refusal = merged.refusal;
  if (refusal.empty() && saved <= 0)
    refusal = "saves no bytes";
  if (refusal.empty() &&
      added > budget.maxRecomputeRatio * static_cast<double>(merged.bytes())) {
    const Node &worst = graph[merged.worstRecompute];
    refusal = "recomputes " + nameOf(merged.worstRecompute) + " (" +
              std::to_string(worst.flopsPerElement) + " flops x " +
              std::to_string(merged.worstEval - worst.resultElements) +
              " broadcast elements): " + std::to_string(added) +
              " flops added for " + std::to_string(merged.bytes()) +
              " bytes moved, limit " +
              std::to_string(budget.maxRecomputeRatio) + " per byte";
  }
  if (!refusal.empty())
    return refuse(a, b, sibling, shared, refusal);
  queue.push({saved, ga.nodes()[0], gb.nodes()[0], a, b, sibling, shared});
}

/// Queues sibling merges of group `g` with every group that reads one of its
/// inputs and has no edge to it (an edge makes it a producer->consumer pair).
void Planner::considerSiblings(int g) {
  for (int64_t key : groups[g].inputs) {
    // A tensor this small stays in cache (a bias, a scalar): reading it
    // twice costs nothing. Skipping it also keeps pairing near linear.
    if (keys.bytes[key] < budget.minSiblingBytes)
      continue;
    std::vector<int> &list = readers[key];
    for (int other : list) {
      if (!groups[other].alive)
        continue;
      // Order the pair by first node so the decision names the later group.
      auto [a, b] = std::make_pair(g, other);
      if (groups[a].nodes()[0] > groups[b].nodes()[0])
        std::swap(a, b);
      if (!siblingPairsSeen.insert({a, b}).second)
        continue;
      ++stamp;
      for (int n : groups[a].nodes())
        mark[n] = stamp;
      bool edge = false;
      for (int n : groups[b].nodes()) {
        for (int u : users[n])
          edge |= mark[u] == stamp;
        for (int op : graph[n].operands)
          edge |= op >= 0 && mark[op] == stamp;
      }
      if (edge)
        continue;
      // Name the largest shared tensor in the decision.
      const std::vector<int64_t> &ia = groups[a].inputs, &ib = groups[b].inputs;
      std::vector<int64_t> shared;
      std::set_intersection(ia.begin(), ia.end(), ib.begin(), ib.end(),
                            std::back_inserter(shared));
      consider(a, b, /*sibling=*/true,
               *std::max_element(shared.begin(), shared.end(),
                                 [&](int64_t x, int64_t y) {
                                   return keys.bytes[x] < keys.bytes[y];
                                 }));
    }
    list.push_back(g);
  }
}

/// Returns a node through which a path leaves groups `a` and `b` and comes
/// back into them, or -1 when there is none.
int Planner::cycleThrough(int a, int b) {
  ++stamp;
  for (int g : {a, b})
    for (int n : groups[g].nodes())
      mark[n] = stamp;
  // A path leaves through a user outside and comes back through an operand
  // outside: without an operand outside there is none (a chain).
  bool entry = false;
  for (int g : {a, b})
    for (int n : groups[g].nodes())
      for (int op : graph[n].operands)
        entry |= op >= 0 && mark[op] != stamp;
  if (!entry)
    return -1;
  // Walk the units of the group DAG (a live group, or an unfusible node).
  visitedGroup.resize(groups.size(), 0);
  std::vector<std::pair<int, int>> work; // (a node of the unit, path start)
  auto visit = [&](int node, int via) {
    int g = groupOf[node];
    unsigned &visited = g >= 0 ? visitedGroup[g] : visitedNode[node];
    if (visited != stamp) {
      visited = stamp;
      work.push_back({node, via});
    }
  };
  for (int g : {a, b})
    for (int n : groups[g].nodes())
      for (int u : users[n])
        if (mark[u] != stamp)
          visit(u, u);
  while (!work.empty()) {
    auto [node, via] = work.back();
    work.pop_back();
    const int *begin = &node, *end = begin + 1;
    if (int g = groupOf[node]; g >= 0) {
      begin = groups[g].nodes().data();
      end = begin + groups[g].nodes().size();
    }
    for (const int *n = begin; n != end; ++n) {
      for (int u : users[*n]) {
        if (mark[u] == stamp)
          return via;
        visit(u, via);
      }
    }
  }
  return -1;
}

/// Merges the candidate's groups into a new one, records the edges it fuses
/// and queues the merges the new group makes possible.
int Planner::merge(const Candidate &c) {
  int id = groups.size();
  Analysis merged = analyse(mergedNodes(c.a, c.b));
  std::string reason = "fused: saves " + std::to_string(c.saved) + " bytes";
  for (int n : merged.nodes())
    for (int op : graph[n].operands)
      if (op >= 0 && groupOf[op] != groupOf[n] &&
          (groupOf[op] == c.a || groupOf[op] == c.b))
        fusedEdges[{op, n}] = {op, n, true, reason, c.saved};
  if (c.sibling) {
    int producer =
        c.shared < static_cast<int64_t>(graph.size()) ? c.shared : -1;
    std::string tensor = producer >= 0 ? nameOf(producer) : "a graph input";
    siblingMerges.push_back({producer, c.firstB, true,
                             "fused: sibling of " + nameOf(c.firstA) +
                                 ", shares " + tensor + ", " +
                                 reason.substr(strlen("fused: ")),
                             c.saved, true});
  }
  groups[c.a].alive = groups[c.b].alive = false;
  groups.push_back(std::move(merged));
  for (int n : groups[id].nodes())
    groupOf[n] = id;

  std::set<int> producers, consumers;
  for (int n : groups[id].nodes()) {
    for (int op : graph[n].operands)
      if (op >= 0 && groupOf[op] >= 0 && groupOf[op] != id)
        producers.insert(groupOf[op]);
    for (int u : users[n])
      if (groupOf[u] >= 0 && groupOf[u] != id)
        consumers.insert(groupOf[u]);
  }
  for (int p : producers)
    consider(p, id, false, -1);
  for (int q : consumers)
    consider(id, q, false, -1);
  return id;
}

Plan Planner::run() {
  int numNodes = graph.size();
  for (int n = 0; n < numNodes; ++n) {
    if (isFusible(graph[n])) {
      groupOf[n] = groups.size();
      groups.push_back(analyse({n}));
    }
  }
  for (int n = 0; n < numNodes; ++n)
    for (int u : users[n])
      if (groupOf[n] >= 0 && groupOf[u] >= 0)
        consider(groupOf[n], groupOf[u], false, -1);

  // Producer->consumer merges first, then siblings; a sibling merge may in
  // turn enable producer->consumer merges, which compete in the same queue.
  for (bool siblings : {false, true}) {
    if (siblings)
      for (size_t g = 0, e = groups.size(); g < e; ++g)
        if (groups[g].alive)
          considerSiblings(g);
    while (!queue.empty()) {
      Candidate c = queue.top();
      queue.pop();
      if (!groups[c.a].alive || !groups[c.b].alive)
        continue;
      if (int via = cycleThrough(c.a, c.b); via >= 0) {
        refuse(c.a, c.b, c.sibling, c.shared,
               "would create a cycle through node " + nameOf(via));
        continue;
      }
      int id = merge(c);
      if (siblings)
        considerSiblings(id);
    }
  }

  // Order the live groups and the unfusible nodes topologically (Kahn),
  // preferring the unit with the lowest first node, so the order is stable.
  std::vector<int> unitOf(numNodes), firstOf;
  std::map<int, int> unitOfGroup;
  for (int n = 0; n < numNodes; ++n) {
    auto [it, inserted] = unitOfGroup.try_emplace(groupOf[n], firstOf.size());
    if (groupOf[n] < 0 || inserted) {
      it->second = firstOf.size();
      firstOf.push_back(n);
    }
    unitOf[n] = it->second;
  }
  std::vector<std::set<int>> succ(firstOf.size());
  std::vector<int> indegree(firstOf.size(), 0);
  for (int n = 0; n < numNodes; ++n)
    for (int u : users[n])
      if (unitOf[n] != unitOf[u] && succ[unitOf[n]].insert(unitOf[u]).second)
        ++indegree[unitOf[u]];
  using Entry = std::pair<int, int>; // (first node, unit)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> ready;
  for (size_t u = 0; u < firstOf.size(); ++u)
    if (indegree[u] == 0)
      ready.push({firstOf[u], u});

  Plan plan;
  plan.groupOf.assign(numNodes, -1);
  while (!ready.empty()) {
    auto [first, unit] = ready.top();
    ready.pop();
    for (int s : succ[unit])
      if (--indegree[s] == 0)
        ready.push({firstOf[s], s});
    if (groupOf[first] < 0) {
      plan.unfusedNodeBytes += keys.readBytes(first) + graph[first].resultBytes;
      continue;
    }
    for (int n : groups[groupOf[first]].nodes())
      plan.groupOf[n] = plan.groups.size();
    plan.groups.push_back(groups[groupOf[first]].group);
  }
  assert(static_cast<size_t>(std::count_if(groups.begin(), groups.end(),
                                           [](const Analysis &g) {
                                             return g.alive;
                                           })) == plan.groups.size() &&
         "the group DAG has a cycle");

  auto library = [&](int n, const char *role) {
    return std::string("refused: ") + role +
           (graph[n].kind == NodeKind::Contraction
                ? " is a contraction (library call)"
                : " is opaque (never fused)");
  };
  for (int n = 0; n < numNodes; ++n) {
    std::vector<int> seen;
    for (int op : graph[n].operands) {
      if (op < 0 || std::count(seen.begin(), seen.end(), op))
        continue;
      seen.push_back(op);
      if (groupOf[op] < 0 || groupOf[n] < 0) {
        plan.decisions.push_back({op, n, false,
                                  groupOf[op] < 0 ? library(op, "producer")
                                                  : library(n, "consumer")});
      } else if (groupOf[op] == groupOf[n]) {
        auto it = fusedEdges.find({op, n});
        assert(it != fusedEdges.end() && "a merge records its edges");
        plan.decisions.push_back(it->second);
      } else {
        // Every edge between live groups was evaluated after their last
        // change, so its refusal is the one that holds now.
        auto it = refusals.find({groupOf[op], groupOf[n]});
        assert(it != refusals.end() && "a live edge was considered");
        plan.decisions.push_back({op, n, false, it->second});
      }
    }
  }
  plan.decisions.insert(plan.decisions.end(), siblingMerges.begin(),
                        siblingMerges.end());
  for (const auto &[pair, decision] : siblingRefusals)
    if (groups[pair.first].alive && groups[pair.second].alive)
      plan.decisions.push_back(decision);
  return plan;
}

} // namespace

int64_t Plan::totalBytes() const {
  int64_t total = unfusedNodeBytes;
  for (const Group &group : groups)
    total += group.bytesRead + group.bytesWritten;
  return total;
}

Plan llmc::fusion::planFusion(const std::vector<Node> &graph,
                              const Budget &budget) {
  return Planner(graph, budget).run();
}

int64_t llmc::fusion::unfusedBytes(const std::vector<Node> &graph) {
  TensorKeys keys(graph);
  int64_t total = 0;
  for (size_t n = 0; n < graph.size(); ++n)
    total += keys.readBytes(n) + graph[n].resultBytes;
  return total;
}
