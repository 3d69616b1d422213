//===- FusionPlanner.h - Cost-model-driven kernel fusion --------*- C++ -*-===//
//
// Plain C++ over plain data (no MLIR): the fusion pass describes each graph op
// as a Node, the planner groups nodes into kernels, and the pass turns each
// Group into a region op. Keeping the algorithm out of MLIR lets it be tested
// on hand-built graphs with exact byte counts.
//
// The planner starts from one group per fusible node and greedily merges the
// producer->consumer pair that saves the most memory traffic (as XLA's
// priority fusion does), re-evaluating after every merge; then it merges
// siblings that read the same tensor. A merge is taken only when the merged
// group is one kernel the codegen can emit (see Group::Shape), stays inside
// the Budget, creates no cycle between groups and recomputes little.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_FUSION_FUSIONPLANNER_H
#define LLMC_FUSION_FUSIONPLANNER_H

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::fusion {

/// How an op iterates, which is all the planner needs to know about it.
enum class NodeKind {
  /// Per-element op (add, exp, cast, gelu...), numpy broadcasting of its
  /// operands included.
  Elementwise,
  /// Transpose, reshape, slice, concat, broadcast/expand, pad: foldable into
  /// index maps, 0 flops. One with several operands is taken for a concat
  /// (each operand element read once); one operand and a larger result for a
  /// broadcast (the operand is recomputed at every point that reads it).
  DataMovement,
  /// Reduce over some axes (sum, max, mean...).
  Reduction,
  /// Matmul, gemm, conv: compute-bound, becomes a library call; never inside
  /// a group.
  Contraction,
  /// Anything else (gather with data-dependent indices, sort, topk...):
  /// never fused.
  Opaque,
};

/// One op of the graph, with a single result. Nodes are given in
/// topological order (operands precede users).
struct Node {
  NodeKind kind = NodeKind::Opaque;
  /// For reasons and debugging, e.g. the ONNX node name.
  std::string name;
  /// Producer node index, or -1 for a graph input, constant or weight.
  std::vector<int> operands;
  /// Bytes of each operand tensor (same length as operands), before any
  /// broadcasting. Only read for -1 operands: a produced tensor's size is its
  /// producer's resultBytes.
  std::vector<int64_t> operandBytes;
  /// Elements of the result (> 0).
  int64_t resultElements = 0;
  /// Bytes of the result.
  int64_t resultBytes = 0;
  /// Work to compute one result element (exp/erf/tanh ~10-20, add 1, data
  /// movement 0). For a Reduction: work per reduced input element.
  int64_t flopsPerElement = 1;
  /// The result must be materialised regardless of its users. A node without
  /// users counts as a graph output too.
  bool isGraphOutput = false;
  /// Reductions only: elements reduced into each result element (product of
  /// the reduced dims, > 0).
  int64_t reductionSize = 0;
  /// Reductions only: the reduced dims are the trailing (contiguous) dims, so
  /// this is a row reduction.
  bool innermostReduction = false;
  /// DataMovement only: result element i is operand element i (reshape,
  /// squeeze, unsqueeze, flatten). Other data movement (transpose, slice...)
  /// would scatter a row across threads, so inside a Row or ColumnReduction
  /// group it may only read tensors from outside the group.
  bool preservesOrder = false;
  /// Optional, same length as operands. For a -1 operand, an id of the graph
  /// input, weight or constant it reads: -1 operands with the same id are the
  /// same tensor (read once per group; siblings reading it may merge). Empty,
  /// or an id < 0, makes each -1 operand a tensor of its own.
  std::vector<int64_t> operandInputIds;
};

/// Per-kernel limits of the target (GPU defaults; the CPU passes its own).
struct Budget {
  /// A row kept on chip (shared memory / registers) by a Row group whose
  /// ops read the row again after a reduction over it.
  int64_t maxRowBytes = 48 * 1024;
  /// Register-pressure proxy: nodes per group.
  int maxOpsPerGroup = 64;
  /// Kernel parameter / pointer count: distinct tensors a group reads.
  int maxGroupInputs = 16;
  /// Recompute flops a merge may add per byte the merged kernel reads and
  /// writes. A fused kernel is memory-bound, so recomputation is free while
  /// it stays far below the machine balance (10-60 flops/byte on current
  /// GPUs and CPUs); 0.25 leaves room for the flop estimates being rough and
  /// transcendental ops running on slower units.
  double maxRecomputeRatio = 0.25;
  /// Accumulator element size for the row budget.
  int64_t bytesPerElement = 4;
  /// A shared tensor smaller than this is no reason for a sibling merge: it
  /// stays in cache (a bias, a scalar), so reading it twice costs nothing.
  int64_t minSiblingBytes = 16 * 1024;
};

/// One kernel: fusible nodes that run together.
struct Group {
  /// Nodes in topological order.
  std::vector<int> nodes;
  /// Nodes whose result leaves the group (users outside it, graph outputs):
  /// several for a multi-output group.
  std::vector<int> outputs;
  /// Distinct tensors read from outside the group, each counted once.
  int64_t bytesRead = 0;
  /// Bytes of the outputs.
  int64_t bytesWritten = 0;
  /// Work of the group, recomputation of broadcast producers included.
  int64_t flops = 0;
  /// Kernel form the codegen will use.
  enum class Shape {
    /// One parallel loop over `domain` elements (the largest result, which
    /// every output has). Smaller nodes are broadcast producers, recomputed
    /// at each point that uses them, or operands of a concat.
    Loop,
    /// One innermost reduction (or several with the same rows and rowSize):
    /// nodes run on the reduction's input (rows * rowSize elements) or once
    /// per row (rows elements), e.g. softmax, LayerNorm, RMSNorm.
    Row,
    /// Non-innermost reduction(s) with their producers on the input domain
    /// and consumers on the result domain, in one pass over the input.
    ColumnReduction,
  } shape = Shape::Loop;
  /// Elements of the iteration space: Loop: the largest result; Row:
  /// rows * rowSize; ColumnReduction: the reduction's input.
  int64_t domain = 0;
  /// Row groups only: parallel rows and elements per row.
  int64_t rows = 0, rowSize = 0;
  /// Row groups only: some op reads the row again after a reduction over it
  /// (x - max in softmax), so the row is kept on chip and maxRowBytes
  /// applies. Without it the kernel streams the row.
  bool keepsRow = false;
};

/// Every producer->consumer edge the planner considered, and each sibling
/// merge it considered.
struct Decision {
  /// Producer node, or for a sibling decision the shared producer (-1 when
  /// the shared tensor is a graph input).
  int producer;
  /// Consumer node, or for a sibling decision the first node of the second
  /// group.
  int consumer;
  bool fused;
  /// "fused: saves 4096 bytes", "refused: producer is a contraction (library
  /// call)", "refused: row of 65536 x 4 bytes exceeds budget 49152"...
  std::string reason;
  /// Bytes the merge that fused this edge saved (0 when refused).
  int64_t bytesSaved = 0;
  /// A sibling decision rather than a producer->consumer edge.
  bool sibling = false;
};

/// The planner's answer.
struct Plan {
  /// Per node: its group, or -1 for Contraction and Opaque nodes (own kernel
  /// or library call).
  std::vector<int> groupOf;
  /// Groups in a topological order of the group DAG.
  std::vector<Group> groups;
  /// Producer->consumer decisions ordered by consumer then operand, one per
  /// edge, as they stand in the final plan; then sibling decisions.
  std::vector<Decision> decisions;
  /// Bytes read and written by the Contraction and Opaque nodes.
  int64_t unfusedNodeBytes = 0;

  /// Memory traffic of the plan: bytesRead + bytesWritten over the groups,
  /// plus unfusedNodeBytes.
  int64_t totalBytes() const;
};

/// Groups the fusible nodes of `graph` into kernels within `budget`.
/// Deterministic: the same graph and budget give the same plan.
///
/// Merging groups A and B saves bytes(A) + bytes(B) - bytes(A u B), where
/// bytes() is distinct tensors read plus outputs written: the tensors that no
/// longer go through memory and the inputs both read. A producer still used
/// outside the merged group stays one of its outputs; it is never duplicated.
///
/// Recompute rule: a node evaluated on a larger domain than its own element
/// count (a broadcast producer) is recomputed, costing flopsPerElement *
/// (domain - elements) flops (nodes on a Row group's rows are computed once
/// per row, which is not recomputation). A merge is refused when the
/// recompute it adds exceeds budget.maxRecomputeRatio * (bytesRead +
/// bytesWritten of the merged group). With the default 0.25, a producer of
/// at most 1 flop per element (a bias, a scale, a cast) broadcast into an
/// fp32 kernel that reads and writes its domain fuses (1 flop per 8 bytes
/// moved); a 20-flop producer broadcast over a much larger domain does not.
Plan planFusion(const std::vector<Node> &graph, const Budget &budget);

/// The bytes of running every node as its own kernel (the unfused baseline):
/// each node reads its distinct operands and writes its result.
int64_t unfusedBytes(const std::vector<Node> &graph);

} // namespace llmc::fusion

#endif // LLMC_FUSION_FUSIONPLANNER_H
