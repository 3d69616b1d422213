//===- ShardingPlanner.h - Factor-based sharding propagation ----*- C++ -*-===//
//
// Plain C++ over plain data (no MLIR): the sharding pass describes each graph
// op by its factors (the loops of its iteration space) and how every operand
// and result dim maps onto them; the planner decides which mesh axis splits
// which factor of every op, and so the sharding of every tensor. The
// partitioning pass then rewrites the program over local shapes and inserts a
// collective wherever a tensor's sharding differs from what its user needs.
//
// The algorithm is Shardy's/GSPMD's factor propagation:
//   * seeds: user pins first (priority 0), then the strategy's seeds (1, 2);
//   * a sweep visits every op forward, then backward: each sharded dim of an
//     op's tensors proposes "factor f on axis a"; per factor the strongest
//     proposal wins (lower priority number, then the larger tensor, which
//     costs more to move), an axis splits at most one factor per op, and a
//     factor that cannot be split (see FactorRule) refuses; under `experts`
//     on one axis (tokens and experts on the same axis, GShard's layout),
//     an axis proposed for two factors of an op goes to the one whose
//     choice moves the fewest bytes (an all-to-all of the dispatched
//     tokens rather than an all-gather of the expert weights);
//   * the op's decision is projected onto its tensors' undecided dims (or
//     dims decided more weakly), remembering which op propagated it;
//   * sweeps repeat until nothing changes (each dim only ever gets stronger,
//     so this terminates).
// A split reduction factor makes the op's results partial sums over that
// axis (matmul's k in Megatron's row-parallel layer), resolved where they
// are used by an all-reduce, or a reduce-scatter where the user wants that
// axis on a dim (sequence parallelism).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_SHARDING_SHARDINGPLANNER_H
#define LLMC_SHARDING_SHARDINGPLANNER_H

#include "llmc/Runtime/Collectives.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::sharding {

/// A logical device mesh: named axes, row-major device numbering.
struct Mesh {
  std::vector<std::string> axisNames;
  std::vector<int64_t> axisSizes;
  int64_t numDevices() const;
  /// The axis called `name`, or -1.
  int axisIndex(const std::string &name) const;
  /// "dp=2,tp=4".
  std::string str() const;
};

/// Parses "tp=2" or "dp=2,tp=4" (names: letters, digits, '_'; sizes >= 1;
/// no repeated name). False with a one-line `error` otherwise.
bool parseMesh(const std::string &text, Mesh &mesh, std::string &error);

/// Per tensor dim, the mesh axis that splits it, or -1 (whole on every
/// device). One axis per dim.
struct TensorSharding {
  std::vector<int> dimAxes;
  /// Axes over which each device holds a partial sum of the tensor.
  std::vector<int> partialAxes;
  bool isReplicated() const;
  bool operator==(const TensorSharding &o) const {
    return dimAxes == o.dimAxes && partialAxes == o.partialAxes;
  }
  bool operator!=(const TensorSharding &o) const { return !(*this == o); }
  /// "[tp, -]" or "[-, -] partial(tp)" with the mesh's axis names.
  std::string str(const Mesh &mesh) const;
};

/// Parses a pin "tp,-" or "dp,-,-" (one entry per dim, '-' for none) of a
/// tensor of `rank` dims. False with a one-line `error` otherwise.
bool parseSharding(const std::string &text, int64_t rank, const Mesh &mesh,
                   TensorSharding &sharding, std::string &error);

/// Parses what TensorSharding::str prints ("[-, tp]", "[-] partial(tp)")
/// for a tensor of `rank` dims. False with a one-line `error` otherwise.
bool parsePrintedSharding(const std::string &text, int64_t rank,
                          const Mesh &mesh, TensorSharding &sharding,
                          std::string &error);

enum class TensorKind { Input, Weight, Constant, Intermediate };

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t elementBytes = 4;
  /// Integer elements (token ids, indices), not floats.
  bool isInteger = false;
  TensorKind kind = TensorKind::Intermediate;
  /// A model output: its sharding is what the runtime reassembles.
  bool isOutput = false;
  int64_t bytes() const;
};

/// How an op's reduction factor may be split: its result is then a partial
/// result that this reduction combines across devices.
enum class ReductionKind { None, Sum, Max, Min };

/// One loop of an op's iteration space.
struct Factor {
  int64_t size = 1;
  bool reduction = false;
  /// For a reduction factor: how partial results combine; None means the
  /// factor cannot be split (softmax's or a mean's reduced dim).
  ReductionKind combine = ReductionKind::None;
  /// The factor cannot be split at all (it appears in a compound index such
  /// as a convolution window or a concat offset).
  bool blocked = false;
  /// For a reduction over keys masked causally (attention under a causal
  /// mask: the keys after a query row's position are -inf for that row):
  /// the factor of the query rows, else -1. Padding both at their ends
  /// leaves the kept rows' keys as they were (llmc/Sharding/Padding.h).
  int causalQuery = -1;
  /// Blocked only because the op reads its loops' absolute positions, and
  /// its value at a position depends on nothing else (trilu): padding at
  /// the end leaves the kept positions as they were.
  bool prefixConsistent = false;
};

/// One op of the graph, in topological order.
struct Op {
  std::string name;  ///< the ONNX node, for reasons
  std::string kind;  ///< e.g. "graph.matmul", for reasons
  std::vector<Factor> factors;
  std::vector<int> operands, results; ///< tensor ids
  /// Per operand (then per result), per dim: the factor it follows, or -1
  /// when the dim must stay whole (broadcast, gathered, windowed...).
  std::vector<std::vector<int>> operandDims, resultDims;
  /// Work of the whole op, for the cost model.
  double flops = 0;
  /// The strategy treats it as a dense layer: a contraction whose second
  /// operand is a 2-D weight (Megatron's column/row-parallel candidates).
  bool isWeightContraction = false;
};

/// The strategies; each only seeds the one propagation.
enum class Strategy { None, DataParallel, Megatron, MegatronSP, Experts, Auto };
/// "dp", "megatron", "megatron-sp", "experts", "auto"; false otherwise.
bool parseStrategy(const std::string &text, Strategy &strategy);
const char *strategyName(Strategy strategy);

/// A user pin: a tensor by name, its sharding.
struct Pin {
  std::string tensor;
  TensorSharding sharding;
};

struct Problem {
  Mesh mesh;
  std::vector<Tensor> tensors;
  std::vector<Op> ops;
  std::vector<Pin> pins;
  Strategy strategy = Strategy::None;
  /// Link bandwidth in bytes per second (per direction), for the cost model.
  double linkBandwidth = 450e9;
  /// Compute rate in flops per second of one device, for the cost model.
  double deviceFlops = 50e12;
};

/// Why a tensor's sharding is what it is.
struct Decision {
  TensorSharding sharding;
  /// "pinned", "strategy megatron: column-parallel weight",
  /// "propagated from 'MatMul_3' (graph.matmul)", "replicated".
  std::string reason;
};

/// Which collective moves a tensor from its producer's sharding to what a
/// user needs: the runtime's kinds, by the runtime's names (all_reduce...).
using ::llmc::runtime::CollectiveKind;
using ::llmc::runtime::collectiveName;

struct Collective {
  CollectiveKind kind;
  int tensor = -1;   ///< the tensor moved
  int user = -1;     ///< the op that needs it (-1: the model's output)
  int axis = -1;     ///< mesh axis
  int dim = -1;      ///< gathered / scattered / split dim
  int dim2 = -1;     ///< all-to-all: concatenated dim
  ReductionKind combine = ReductionKind::Sum;
  /// Bytes each device sends, and the time on the link (ring algorithm).
  int64_t bytes = 0;
  double seconds = 0;
};

struct Plan {
  /// Per op, per factor, the axis that splits it or -1.
  std::vector<std::vector<int>> factorAxes;
  /// Per tensor: its sharding (for an op's result: as produced, partial
  /// sums included) and why.
  std::vector<Decision> tensors;
  /// The resharding the partitioner will insert, in program order (one per
  /// tensor and target sharding).
  std::vector<Collective> collectives;
  /// Bytes of the weights one device holds, and of all of them.
  int64_t weightBytesPerDevice = 0, weightBytesTotal = 0;
  /// Remarks: loops and layers left whole (the axis does not divide them, a
  /// user cannot take the split) and the auto strategy's choice.
  std::vector<std::string> remarks;
  /// The strategy actually used (Auto resolves to one of the others).
  Strategy strategy = Strategy::None;
  /// The cost model's estimate: communication and compute seconds.
  double commSeconds = 0, computeSeconds = 0;
};

/// What an op needs of operand `i` (or produces as result `i`) under the
/// factor assignment `factorAxes`.
TensorSharding operandSharding(const Op &op, int i,
                               const std::vector<int> &factorAxes);
TensorSharding resultSharding(const Op &op, int i,
                              const std::vector<int> &factorAxes);

/// Whether factor `factor` of `op` may be split over mesh axis `axis`: not
/// blocked, divisible by the axis, and, for a reduction, one whose partial
/// results sum. False with the reason in `why` otherwise.
bool canSplit(const Mesh &mesh, const Op &op, int factor, int axis,
              std::string &why);

/// Propagates and plans. False with a one-line `error` for a pin naming a
/// missing tensor or a sharding that the tensor's shape does not allow
/// (rank, divisibility), or an axis used twice in one tensor.
bool plan(const Problem &problem, Plan &result, std::string &error);

/// The collectives that move a tensor of `shape` sharded as `from` to `to`
/// (empty when equal), in order, with their bytes on `problem`'s mesh.
std::vector<Collective> reshard(const Problem &problem, int tensor,
                                const TensorSharding &from,
                                const TensorSharding &to);

} // namespace llmc::sharding

#endif // LLMC_SHARDING_SHARDINGPLANNER_H
