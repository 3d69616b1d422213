//===- PropagateSharding.cpp - Decide every tensor's sharding -------------===//
//
// A thin driver: @main is described to the sharding planner (see
// ShardingDescription.h), the planner decides, and the decision is recorded
// as attributes for llmc-partition and `llmc explain`. The algorithm lives in
// lib/Sharding.
//
//===----------------------------------------------------------------------===//

#include "ShardingDescription.h"

#include "llmc/Passes/Passes.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/JSON.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_PROPAGATESHARDINGPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;
namespace sharding = ::llmc::sharding;

namespace {

/// The plan as `llmc explain` shows it (JSON): strategy, mesh, per tensor
/// sharding and reason (split or pinned ones, inputs, weights, outputs),
/// collectives, memory per device and remarks.
std::string planSummary(const sharding::Problem &p,
                        const sharding::Plan &plan) {
  llvm::json::Array tensors, collectives, remarks;
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const sharding::Tensor &tensor = p.tensors[t];
    const sharding::Decision &d = plan.tensors[t];
    bool boundary = tensor.kind == sharding::TensorKind::Input ||
                    tensor.kind == sharding::TensorKind::Weight ||
                    tensor.isOutput;
    if (!boundary && d.sharding.isReplicated())
      continue;
    const char *kind = tensor.kind == sharding::TensorKind::Input    ? "input"
                       : tensor.kind == sharding::TensorKind::Weight ? "weight"
                       : tensor.isOutput                             ? "output"
                                                                     : "value";
    tensors.push_back(llvm::json::Object{{"name", tensor.name},
                                         {"kind", kind},
                                         {"sharding", d.sharding.str(p.mesh)},
                                         {"reason", d.reason},
                                         {"bytes", tensor.bytes()}});
  }
  for (const sharding::Collective &c : plan.collectives) {
    // A constant's split is no run-time step: llmc-partition cuts it when
    // the devices load their weights.
    if (c.kind == sharding::CollectiveKind::Split &&
        p.tensors[c.tensor].kind == sharding::TensorKind::Constant)
      continue;
    collectives.push_back(llvm::json::Object{
        {"kind", sharding::collectiveName(c.kind)},
        {"tensor", p.tensors[c.tensor].name},
        {"user", c.user >= 0 ? p.ops[c.user].name : std::string("output")},
        {"axis", p.mesh.axisNames[c.axis]},
        {"dim", c.dim},
        {"bytes", c.bytes},
        {"seconds", c.seconds}});
  }
  for (const std::string &r : plan.remarks)
    remarks.push_back(r);
  llvm::json::Object o{{"mesh", p.mesh.str()},
                       {"devices", p.mesh.numDevices()},
                       {"strategy", sharding::strategyName(plan.strategy)},
                       {"link_bandwidth", p.linkBandwidth},
                       {"weight_bytes_total", plan.weightBytesTotal},
                       {"weight_bytes_per_device", plan.weightBytesPerDevice},
                       {"comm_seconds", plan.commSeconds},
                       {"tensors", std::move(tensors)},
                       {"collectives", std::move(collectives)},
                       {"remarks", std::move(remarks)}};
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::json::Value(std::move(o));
  return s;
}

struct PropagateShardingPass final
    : ::mlir::llmc::impl::PropagateShardingPassBase<PropagateShardingPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (mesh.empty() || !main || main.isExternal())
      return;
    auto fail = [&](const std::string &message) {
      emitError(main.getLoc()) << message;
      signalPassFailure();
    };
    sharding::Mesh parsed;
    std::string error;
    if (!sharding::parseMesh(mesh, parsed, error))
      return fail(error);
    if (module->hasAttr(kPartitionedAttr))
      return fail("@main is already partitioned (llmc-partition ran): "
                  "propagate shardings before partitioning");
    ShardingDescription desc = describeForSharding(main, parsed);
    sharding::Problem &p = desc.problem;
    if (!sharding::parseStrategy(strategy, p.strategy))
      return fail(
          "--strategy '" + strategy +
          "': expected dp, megatron, megatron-sp, experts, auto or none");
    p.linkBandwidth = linkBandwidth;
    for (const std::string &pin : shard) {
      size_t eq = pin.find('=');
      if (eq == std::string::npos || eq == 0)
        return fail("--shard '" + pin + "': expected NAME=AXIS,-,...");
      sharding::Pin parsedPin;
      parsedPin.tensor = pin.substr(0, eq);
      int64_t rank = -1;
      bool isResult = false;
      for (const sharding::Tensor &t : p.tensors) {
        if (t.name != parsedPin.tensor)
          continue;
        // A small initializer stays in the code as a constant: a pin
        // splits its users' view of it.
        if (t.kind != sharding::TensorKind::Intermediate)
          rank = t.shape.size();
        else
          isResult = true;
      }
      for (BlockArgument arg : main.getArguments())
        if (rank < 0 &&
            argumentName(main, arg.getArgNumber()) == parsedPin.tensor &&
            !isPlannable(arg.getType()))
          return fail("--shard " + parsedPin.tensor + ": '" + parsedPin.tensor +
                      "' stays whole: only statically "
                      "shaped tensors of floats, bools and 8, 32 or 64-bit "
                      "integers are split");
      if (rank < 0 && isResult)
        return fail("--shard " + parsedPin.tensor + ": '" + parsedPin.tensor +
                    "' is an op's result; only inputs and weights can be "
                    "pinned");
      if (rank < 0) {
        // Let the planner name the tensors that exist.
        p.pins.push_back(parsedPin);
        continue;
      }
      if (!sharding::parseSharding(pin.substr(eq + 1), rank, parsed,
                                   parsedPin.sharding, error))
        return fail("--shard " + parsedPin.tensor + ": " + error);
      p.pins.push_back(parsedPin);
    }
    sharding::Plan plan;
    if (!sharding::plan(p, plan, error))
      return fail(error);

    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    module->setAttr(kMeshAttr, b.getStringAttr(parsed.str()));
    // One grid, of this mesh's shape (a grid left by an earlier run for
    // another mesh is replaced).
    if (Operation *old = module.lookupSymbol(kGridName)) {
      auto grid = dyn_cast<shard::GridOp>(old);
      if (!grid)
        return fail(std::string("the module already has a symbol '") +
                    kGridName + "' that is not a shard.grid");
      grid.setShape(parsed.axisSizes);
    } else {
      OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
      shard::GridOp::create(top, module.getLoc(), kGridName,
                            ArrayRef<int64_t>(parsed.axisSizes));
    }
    module->setAttr(kShardingPlanAttr, b.getStringAttr(planSummary(p, plan)));
    for (BlockArgument arg : main.getArguments()) {
      auto id = desc.tensorIds.find(arg);
      if (id == desc.tensorIds.end())
        continue; // not a planned tensor: whole on every device
      const sharding::Decision &d = plan.tensors[id->second];
      main.setArgAttr(arg.getArgNumber(), kShardingAttr,
                      b.getStringAttr(d.sharding.str(parsed)));
      main.setArgAttr(arg.getArgNumber(), kShardingReasonAttr,
                      b.getStringAttr(d.reason));
    }
    for (auto [i, op] : llvm::enumerate(desc.ops)) {
      const std::vector<int> &axes = plan.factorAxes[i];
      op->removeAttr(kFactorAxesAttr);
      op->removeAttr(kShardingAttr);
      if (llvm::all_of(axes, [](int a) { return a < 0; }))
        continue;
      SmallVector<int64_t> values(axes.begin(), axes.end());
      op->setAttr(kFactorAxesAttr, b.getDenseI64ArrayAttr(values));
      SmallVector<Attribute> results;
      for (Value r : op->getResults())
        results.push_back(b.getStringAttr(
            plan.tensors[desc.tensorIds[r]].sharding.str(parsed)));
      op->setAttr(kShardingAttr, b.getArrayAttr(results));
    }
  }
};
} // namespace
