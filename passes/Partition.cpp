//===- Partition.cpp - @main as one SPMD program over local shapes --------===//
//
// Applies what llmc-propagate-sharding decided: every value gets its local
// type, and where a user needs a value sharded otherwise than it is, the
// planner's reshard() says which collectives move it; they are built as
// upstream `shard` ops on the module's `shard.grid @mesh`.
//
//===----------------------------------------------------------------------===//

#include "ShardingDescription.h"

#include "llmc/Passes/Passes.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include <map>

namespace mlir::llmc {
#define GEN_PASS_DEF_PARTITIONPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;
namespace sharding = ::llmc::sharding;

namespace {

RankedTensorType localType(RankedTensorType type, const sharding::Mesh &mesh,
                           const sharding::TensorSharding &s) {
  SmallVector<int64_t> shape(type.getShape());
  for (auto [d, axis] : llvm::enumerate(s.dimAxes))
    if (axis >= 0)
      shape[d] /= mesh.axisSizes[axis];
  return RankedTensorType::get(shape, type.getElementType());
}

shard::ReductionKind reductionOf(sharding::ReductionKind kind) {
  switch (kind) {
  case sharding::ReductionKind::Max:
    return shard::ReductionKind::Max;
  case sharding::ReductionKind::Min:
    return shard::ReductionKind::Min;
  default:
    return shard::ReductionKind::Sum;
  }
}

/// `v`, a whole constant that a user needs split as `to` (no partial
/// sums), as each device's part: a smaller splat, or a new weight argument
/// of @main that each device cuts from the constant's bytes when it loads
/// its weights. Null where `v` is no such constant (a constant of bools or
/// sub-byte integers stays an all_slice).
Value cutAtLoad(func::FuncOp main, const sharding::Mesh &mesh, Value v,
                const sharding::TensorSharding &from,
                const sharding::TensorSharding &to, OpBuilder &b) {
  auto constant = v.getDefiningOp<graph::ConstantOp>();
  if (!constant || !from.isReplicated() || !from.partialAxes.empty() ||
      !to.partialAxes.empty())
    return {};
  auto type = cast<RankedTensorType>(v.getType());
  Type element = type.getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8)
    return {};
  RankedTensorType local = localType(type, mesh, to);
  ElementsAttr value = constant.getValue();
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.isSplat()) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointAfter(constant);
      return graph::ConstantOp::create(b, constant.getLoc(), local,
                                       dense.resizeSplat(local));
    }
    // A literal becomes a resource: weights are resources.
    ArrayRef<char> bytes = dense.getRawData();
    auto name = dyn_cast<NameLoc>(constant.getLoc());
    value = DenseResourceElementsAttr::get(
        type, name ? name.getName().strref() : StringRef("constant"),
        HeapAsmResourceBlob::allocateAndCopyWithAlign(
            bytes, alignof(std::max_align_t)));
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(value);
  if (!resource || !resource.getRawHandle().getBlob())
    return {};
  MLIRContext *ctx = main.getContext();
  unsigned index = main.getNumArguments();
  NamedAttribute attrs[] = {
      {StringAttr::get(ctx, "llmc.weight"), resource},
      {StringAttr::get(ctx, kShardingAttr),
       StringAttr::get(ctx, to.str(mesh))},
      {StringAttr::get(ctx, kShardingReasonAttr),
       StringAttr::get(ctx, "a constant, cut when a device loads it")}};
  if (failed(main.insertArgument(index, local, DictionaryAttr::get(ctx, attrs),
                                 constant.getLoc())))
    return {};
  return main.getArgument(index);
}

struct PartitionPass final
    : ::mlir::llmc::impl::PartitionPassBase<PartitionPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    // Once partitioned, the program is one device's: partitioning again
    // would cut it again.
    if (!module->hasAttr(kMeshAttr) || module->hasAttr(kPartitionedAttr) ||
        !main || main.isExternal())
      return;
    FailureOr<sharding::Mesh> mesh = getModuleMesh(module);
    auto grid = module.lookupSymbol<shard::GridOp>(kGridName);
    if (failed(mesh) || !grid) {
      module.emitError("llmc.mesh is malformed or shard.grid @")
          << kGridName << " is missing";
      return signalPassFailure();
    }
    if (grid.getShape() != ArrayRef<int64_t>(mesh->axisSizes)) {
      module.emitError("shard.grid @")
          << kGridName << " does not have the shape of llmc.mesh '"
          << mesh->str() << "'";
      return signalPassFailure();
    }
    ShardingDescription desc = describeForSharding(main, *mesh);
    const sharding::Problem &problem = desc.problem;
    DenseMap<Operation *, int> opIndex;
    for (auto [i, op] : llvm::enumerate(desc.ops))
      opIndex[op] = i;

    // What each value is now (its sharding), and the resharded copies made.
    DenseMap<Value, sharding::TensorSharding> actual;
    std::map<std::pair<void *, std::vector<int>>, Value> copies;
    OpBuilder b(&getContext());
    auto gridRef = FlatSymbolRefAttr::get(&getContext(), kGridName);
    int64_t step = 0;

    auto replicated = [](Type t) {
      sharding::TensorSharding s;
      if (auto type = dyn_cast<RankedTensorType>(t))
        s.dimAxes.assign(type.getRank(), -1);
      return s;
    };

    // Arguments: their local types.
    for (BlockArgument arg : main.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      sharding::TensorSharding s = replicated(arg.getType());
      Attribute given = main.getArgAttr(arg.getArgNumber(), kShardingAttr);
      if (given && !isa<StringAttr>(given)) {
        main.emitError("argument ")
            << arg.getArgNumber() << ": " << kShardingAttr
            << " must be a string such as \"[-, tp]\"";
        return signalPassFailure();
      }
      if (auto text = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                        kShardingAttr)) {
        std::string error;
        if (!type || !isPlannable(type)) {
          main.emitError("argument ")
              << arg.getArgNumber() << " has " << kShardingAttr
              << " but is not a statically shaped tensor";
          return signalPassFailure();
        }
        if (!sharding::parsePrintedSharding(text.str(), type.getRank(), *mesh,
                                            s, error)) {
          main.emitError("argument ") << arg.getArgNumber() << ": " << error;
          return signalPassFailure();
        }
        if (!s.partialAxes.empty()) {
          main.emitError("argument ")
              << arg.getArgNumber() << ": an argument cannot be a partial sum";
          return signalPassFailure();
        }
        for (auto [d, axis] : llvm::enumerate(s.dimAxes))
          if (axis >= 0 && type.getDimSize(d) % mesh->axisSizes[axis]) {
            main.emitError("argument ")
                << arg.getArgNumber() << ": dim " << d << " (size "
                << type.getDimSize(d) << ") is not divisible by mesh axis '"
                << mesh->axisNames[axis] << "'";
            return signalPassFailure();
          }
        arg.setType(localType(type, *mesh, s));
      }
      actual[arg] = s;
    }

    // Moves `v` to sharding `to` before `user`, reusing an earlier move.
    auto reshardValue = [&](Value v, const sharding::TensorSharding &to,
                            Operation *user) -> Value {
      sharding::TensorSharding from = actual.lookup(v);
      if (from == to)
        return v;
      std::vector<int> key = to.dimAxes;
      key.push_back(-2);
      llvm::append_range(key, to.partialAxes);
      auto found = copies.find({v.getAsOpaquePointer(), key});
      if (found != copies.end())
        return found->second;
      int id = desc.tensorIds.lookup(v);
      b.setInsertionPoint(user);
      // A constant cut for its users is cut once, at compile time (a
      // splat) or when a device loads its weights, not on every run.
      if (Value cutConstant = cutAtLoad(main, *mesh, v, from, to, b)) {
        actual[cutConstant] = to;
        copies[{v.getAsOpaquePointer(), key}] = cutConstant;
        return cutConstant;
      }
      Value cur = v;
      sharding::TensorSharding now = from;
      auto full = cast<RankedTensorType>(v.getType());
      // The global type, from the local one and the current sharding.
      SmallVector<int64_t> global(full.getShape());
      for (auto [d, axis] : llvm::enumerate(from.dimAxes))
        if (axis >= 0)
          global[d] *= mesh->axisSizes[axis];
      auto globalType = RankedTensorType::get(global, full.getElementType());
      for (const sharding::Collective &c :
           sharding::reshard(problem, id, from, to)) {
        SmallVector<int16_t> axes{static_cast<int16_t>(c.axis)};
        auto axesAttr = b.getDenseI16ArrayAttr(axes);
        sharding::TensorSharding next = now;
        switch (c.kind) {
        case sharding::CollectiveKind::AllReduce:
          next.partialAxes.erase(llvm::find(next.partialAxes, c.axis));
          break;
        case sharding::CollectiveKind::AllGather:
          next.dimAxes[c.dim] = -1;
          break;
        case sharding::CollectiveKind::ReduceScatter:
          next.partialAxes.erase(llvm::find(next.partialAxes, c.axis));
          next.dimAxes[c.dim] = c.axis;
          break;
        case sharding::CollectiveKind::AllToAll:
          next.dimAxes[c.dim2] = -1;
          next.dimAxes[c.dim] = c.axis;
          break;
        case sharding::CollectiveKind::Split:
          next.dimAxes[c.dim] = c.axis;
          break;
        }
        Type type = localType(globalType, *mesh, next);
        Location loc = user->getLoc();
        switch (c.kind) {
        case sharding::CollectiveKind::AllReduce:
          cur = shard::AllReduceOp::create(
              b, loc, type, gridRef, axesAttr, cur,
              shard::ReductionKindAttr::get(&getContext(),
                                            reductionOf(c.combine)));
          break;
        case sharding::CollectiveKind::AllGather:
          cur = shard::AllGatherOp::create(b, loc, type, gridRef, axesAttr, cur,
                                           b.getIndexAttr(c.dim));
          break;
        case sharding::CollectiveKind::ReduceScatter:
          cur = shard::ReduceScatterOp::create(
              b, loc, type, gridRef, axesAttr, cur,
              shard::ReductionKindAttr::get(&getContext(),
                                            reductionOf(c.combine)),
              b.getIndexAttr(c.dim));
          break;
        case sharding::CollectiveKind::AllToAll:
          cur = shard::AllToAllOp::create(b, loc, type, gridRef, axesAttr, cur,
                                          b.getIndexAttr(c.dim),
                                          b.getIndexAttr(c.dim2));
          break;
        case sharding::CollectiveKind::Split:
          cur = shard::AllSliceOp::create(b, loc, type, gridRef, axesAttr, cur,
                                          b.getIndexAttr(c.dim));
          break;
        }
        // The collective's ordinal, for the runtime's error messages.
        cur.getDefiningOp()->setAttr("llmc.step", b.getI64IntegerAttr(step++));
        now = next;
      }
      actual[cur] = to;
      copies[{v.getAsOpaquePointer(), key}] = cur;
      return cur;
    };

    SmallVector<Operation *> body;
    for (Operation &op : main.getBody().front())
      body.push_back(&op);
    for (Operation *op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        SmallVector<Type> results;
        for (OpOperand &operand : ret->getOpOperands()) {
          sharding::TensorSharding to = actual.lookup(operand.get());
          to.partialAxes.clear();
          Value v = reshardValue(operand.get(), to, ret);
          operand.set(v);
          results.push_back(v.getType());
          if (isPlannable(v.getType()))
            main.setResultAttr(operand.getOperandNumber(), kShardingAttr,
                               b.getStringAttr(to.str(*mesh)));
        }
        main.setFunctionType(b.getFunctionType(
            main.getBody().front().getArgumentTypes(), results));
        continue;
      }
      auto it = opIndex.find(op);
      if (it == opIndex.end()) {
        // Not described: it sees every operand whole.
        for (OpOperand &operand : op->getOpOperands())
          if (isa<RankedTensorType>(operand.get().getType()))
            operand.set(reshardValue(operand.get(),
                                     replicated(operand.get().getType()), op));
        for (Value r : op->getResults())
          actual[r] = replicated(r.getType());
        op->removeAttr(kFactorAxesAttr);
        op->removeAttr(kShardingAttr);
        continue;
      }
      const sharding::Op &desc_op = problem.ops[it->second];
      std::vector<int> axes(desc_op.factors.size(), -1);
      if (op->hasAttr(kFactorAxesAttr) &&
          !op->getAttrOfType<DenseI64ArrayAttr>(kFactorAxesAttr)) {
        op->emitOpError() << kFactorAxesAttr
                          << " must be an array<i64: ...> of mesh axes";
        return signalPassFailure();
      }
      if (auto attr = op->getAttrOfType<DenseI64ArrayAttr>(kFactorAxesAttr)) {
        if (attr.size() != static_cast<int64_t>(axes.size())) {
          op->emitOpError("has ") << attr.size() << " " << kFactorAxesAttr
                                  << " for " << axes.size() << " loops";
          return signalPassFailure();
        }
        for (auto [i, a] : llvm::enumerate(attr.asArrayRef())) {
          if (a >= static_cast<int64_t>(mesh->axisSizes.size()) || a < -1) {
            op->emitOpError("splits a loop over mesh axis ")
                << a << ", which the mesh '" << mesh->str() << "' lacks";
            return signalPassFailure();
          }
          axes[i] = static_cast<int>(a);
          std::string why;
          if (a >= 0 && !sharding::canSplit(*mesh, desc_op, i, a, why)) {
            op->emitOpError("loop ") << i << " " << why;
            return signalPassFailure();
          }
          if (a >= 0 && llvm::count(ArrayRef<int>(axes).take_front(i), a)) {
            op->emitOpError("splits two loops over mesh axis '")
                << mesh->axisNames[a] << "'";
            return signalPassFailure();
          }
        }
      }
      for (OpOperand &operand : op->getOpOperands()) {
        sharding::TensorSharding need = sharding::operandSharding(
            desc_op, operand.getOperandNumber(), axes);
        const sharding::Tensor &whole =
            problem.tensors[desc.tensorIds.lookup(operand.get())];
        for (auto [d, axis] : llvm::enumerate(need.dimAxes))
          if (axis >= 0 && whole.shape[d] % mesh->axisSizes[axis]) {
            op->emitOpError("operand ")
                << operand.getOperandNumber() << " dim " << d << " (size "
                << whole.shape[d] << ") is not divisible by mesh axis '"
                << mesh->axisNames[axis] << "'";
            return signalPassFailure();
          }
        operand.set(reshardValue(operand.get(), need, op));
      }
      for (OpResult r : op->getResults()) {
        sharding::TensorSharding s =
            sharding::resultSharding(desc_op, r.getResultNumber(), axes);
        auto type = cast<RankedTensorType>(r.getType());
        for (auto [d, axis] : llvm::enumerate(s.dimAxes))
          if (axis >= 0 && type.getDimSize(d) % mesh->axisSizes[axis]) {
            op->emitOpError("result dim ")
                << d << " (size " << type.getDimSize(d)
                << ") is not divisible by mesh axis '" << mesh->axisNames[axis]
                << "'";
            return signalPassFailure();
          }
        r.setType(localType(type, *mesh, s));
        actual[r] = s;
      }
      // Attributes that restate a result size: a slice's sizes, a tile's
      // repeats (a size-1 dim tiled over a split loop repeats fewer times).
      if (auto slice = dyn_cast<graph::SliceOp>(op)) {
        auto type = cast<RankedTensorType>(slice.getType());
        slice.setSizes(type.getShape());
      }
      if (auto tile = dyn_cast<graph::TileOp>(op)) {
        ArrayRef<int64_t> in = tile.getInput().getType().getShape();
        ArrayRef<int64_t> out = tile.getOutput().getType().getShape();
        SmallVector<int64_t> repeats;
        for (auto [i, o] : llvm::zip(in, out))
          repeats.push_back(i ? o / i : 0);
        tile.setRepeats(repeats);
      }
      op->removeAttr(kFactorAxesAttr);
      op->removeAttr(kShardingAttr);
    }
    module->setAttr(kMeshAttr, b.getStringAttr(mesh->str()));
    module->setAttr(kPartitionedAttr, b.getUnitAttr());
  }
};
} // namespace
