//===- ShardingDescription.h - @main as the sharding planner sees it ------===//
//
// Shared by llmc-propagate-sharding and llmc-partition (and nothing else):
// every op is described to the planner by its iteration space, so a new op
// gets sharding by implementing IterationSpaceOpInterface, not by a case
// here. The one exception is graph.reshape, whose linearize/delinearize maps
// are described by its dim groups instead (see describeReshape).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_SHARDINGDESCRIPTION_H
#define LLMC_PASSES_SHARDINGDESCRIPTION_H

#include "llmc/Sharding/ShardingPlanner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::llmc {

/// The planner's problem for @main, and where each tensor and op came from.
struct ShardingDescription {
  ::llmc::sharding::Problem problem;
  /// Tensor id of every block argument and op result of @main.
  DenseMap<Value, int> tensorIds;
  /// The op of each planner op, in order.
  SmallVector<Operation *> ops;
};

/// Describes @main's arguments (by their `llmc.name`, or a weight's
/// resource name), its ops and its results.
ShardingDescription describeForSharding(func::FuncOp main,
                                        const ::llmc::sharding::Mesh &mesh);

/// Whether the planner describes a value of type `t`: a statically shaped
/// tensor of integers or floats. Any other value stays whole.
bool isPlannable(Type t);

/// The name a user pins argument `i` of @main by.
std::string argumentName(func::FuncOp main, unsigned i);

/// Attribute names the two passes share.
inline constexpr const char *kMeshAttr = "llmc.mesh";
inline constexpr const char *kShardingAttr = "llmc.sharding";
inline constexpr const char *kShardingReasonAttr = "llmc.sharding_reason";
inline constexpr const char *kFactorAxesAttr = "llmc.factor_axes";
inline constexpr const char *kShardingPlanAttr = "llmc.sharding_plan";
/// Set by llmc-partition: the program is one device's.
inline constexpr const char *kPartitionedAttr = "llmc.partitioned";
inline constexpr const char *kGridName = "mesh";

/// The mesh recorded on `module` by llmc-propagate-sharding, if any.
FailureOr<::llmc::sharding::Mesh> getModuleMesh(ModuleOp module);

} // namespace mlir::llmc

#endif // LLMC_PASSES_SHARDINGDESCRIPTION_H
