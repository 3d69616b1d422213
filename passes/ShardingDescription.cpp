//===- ShardingDescription.cpp - @main as the sharding planner sees it ----===//

#include "ShardingDescription.h"

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include <numeric>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::graph;
namespace sharding = ::llmc::sharding;

std::string mlir::llmc::argumentName(func::FuncOp main, unsigned i) {
  if (auto name = main.getArgAttrOfType<StringAttr>(i, "llmc.name"))
    return name.str();
  if (auto blob =
          main.getArgAttrOfType<DenseResourceElementsAttr>(i, "llmc.weight"))
    return blob.getRawHandle().getKey().str();
  return "arg" + std::to_string(i);
}

FailureOr<sharding::Mesh> mlir::llmc::getModuleMesh(ModuleOp module) {
  auto text = module->getAttrOfType<StringAttr>(kMeshAttr);
  if (!text)
    return failure();
  sharding::Mesh mesh;
  std::string error;
  if (!sharding::parseMesh(text.str(), mesh, error))
    return failure();
  return mesh;
}

static std::string nodeName(Operation *op) {
  Location loc = op->getLoc();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      loc = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  std::string s;
  llvm::raw_string_ostream os(s);
  loc.print(os);
  return s;
}

bool mlir::llmc::isPlannable(Type t) {
  auto type = dyn_cast<RankedTensorType>(t);
  if (!type || !type.hasStaticShape() || !type.getElementType().isIntOrFloat())
    return false;
  // The runtime's collectives move 8, 32 and 64-bit integers, bools and
  // floats; a 16-bit integer tensor stays whole.
  return !type.getElementType().isInteger(16);
}

static sharding::Tensor tensorOf(Value v, std::string name,
                                 sharding::TensorKind kind) {
  sharding::Tensor t;
  t.name = std::move(name);
  t.kind = kind;
  auto type = cast<RankedTensorType>(v.getType());
  t.shape.assign(type.getShape().begin(), type.getShape().end());
  unsigned bits = type.getElementType().getIntOrFloatBitWidth();
  t.elementBytes = std::max<unsigned>(1, bits / 8);
  t.isInteger = isa<IntegerType>(type.getElementType());
  return t;
}

/// How partial results of `op`'s reduction loops combine across devices.
/// Sums only: a tensor's sharding records that it is partial, not how, so
/// the all-reduce that resolves it is a sum (max and min reductions keep
/// their reduced dims whole).
static sharding::ReductionKind combineOf(Operation *op) {
  using sharding::ReductionKind;
  if (isa<MatMulOp, EinsumOp>(op))
    return ReductionKind::Sum;
  if (auto reduce = dyn_cast<ReduceOp>(op))
    if (reduce.getKind() == "sum")
      return ReductionKind::Sum;
  return ReductionKind::None;
}

/// Whether `v` is a weight argument seen through data movement (a
/// transposed or reshaped weight is still the weight).
static bool isWeight(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<TransposeOp, ReshapeOp, CastOp>(def))
      return false;
    v = def->getOperand(0);
  }
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg)
    return false;
  auto fn = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
  return fn && fn.getArgAttr(arg.getArgNumber(), "llmc.weight");
}

/// Factors of an op from its iteration space: each loop is a factor; an
/// operand or result dim that is exactly one loop follows that factor; a
/// loop that also appears in a compound index (a window, an offset, a
/// data-dependent position), or whose extent differs between the tensors
/// it indexes, is never split.
static void describeByIterationSpace(IterationSpaceOpInterface iface,
                                     sharding::Op &op) {
  Operation *operation = iface.getOperation();
  SmallVector<utils::IteratorType> iterators =
      iface.getIterationSpaceIterators();
  SmallVector<AffineMap> maps = iface.getIterationSpaceMaps();
  unsigned numOperands = operation->getNumOperands();
  SmallVector<Value> tensors(operation->getOperands());
  llvm::append_range(tensors, operation->getResults());
  op.factors.assign(iterators.size(), sharding::Factor());
  SmallVector<int64_t> extent(iterators.size(), -1);
  for (auto [i, it] : llvm::enumerate(iterators)) {
    op.factors[i].reduction = it == utils::IteratorType::reduction;
    op.factors[i].combine = op.factors[i].reduction
                                ? combineOf(operation)
                                : sharding::ReductionKind::None;
  }
  if (maps.size() != tensors.size()) {
    for (sharding::Factor &f : op.factors)
      f.blocked = true;
  }
  op.operandDims.assign(numOperands, {});
  op.resultDims.assign(operation->getNumResults(), {});
  for (auto [i, v] : llvm::enumerate(tensors)) {
    auto type = cast<RankedTensorType>(v.getType());
    std::vector<int> &dims =
        i < numOperands ? op.operandDims[i] : op.resultDims[i - numOperands];
    dims.assign(type.getRank(), -1);
    if (i >= maps.size())
      continue;
    AffineMap map = maps[i];
    for (auto [d, expr] : llvm::enumerate(map.getResults())) {
      if (d >= dims.size())
        break;
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        unsigned f = dim.getPosition();
        int64_t size = type.getDimSize(d);
        if (extent[f] >= 0 && extent[f] != size)
          op.factors[f].blocked = true;
        // One loop on two dims of a tensor (einsum's "ii->i"): a sharding
        // splits dims, not diagonals.
        if (llvm::is_contained(dims, static_cast<int>(f)))
          op.factors[f].blocked = true;
        extent[f] = size;
        dims[d] = static_cast<int>(f);
        continue;
      }
      expr.walk([&](AffineExpr sub) {
        if (auto dim = dyn_cast<AffineDimExpr>(sub))
          op.factors[dim.getPosition()].blocked = true;
      });
    }
  }
  for (auto [f, size] : llvm::enumerate(extent)) {
    if (size < 0)
      op.factors[f].blocked = true;
    op.factors[f].size = std::max<int64_t>(size, 1);
  }
  // A parallel loop that indexes no result (a scatter's update positions:
  // they land at data-dependent places) would leave each device with only
  // its own updates applied: it runs whole.
  unsigned numResultMaps =
      maps.size() == tensors.size() ? operation->getNumResults() : 0;
  for (auto [f, factor] : llvm::enumerate(op.factors)) {
    if (factor.reduction)
      continue;
    bool inResult = false;
    for (unsigned r = 0; r < numResultMaps; ++r)
      inResult |= maps[numOperands + r].isFunctionOfDim(f);
    if (!inResult)
      factor.blocked = true;
  }
}

/// The one loop whose absolute position a position-dependent op reads,
/// where it is one: a cumulative sum's axis (its other loops are
/// independent rows), a one-hot's new axis (compared with the index).
static std::optional<int64_t> positionLoop(Operation *op) {
  if (auto cumsum = dyn_cast<CumSumOp>(op))
    return cumsum.getAxis();
  if (auto oneHot = dyn_cast<OneHotOp>(op))
    return oneHot.getAxis();
  return std::nullopt;
}

/// A reshape keeps row-major order: its dims fall into groups of equal
/// product on both sides. Splitting the group's leading dim on both sides
/// into N contiguous chunks is the same split of the elements, so each
/// group is one factor: the leading dims (size 1 dims skipped), of size the
/// gcd of the two leading sizes (the axis must divide both). Other dims of
/// the group stay whole.
static void describeReshape(ReshapeOp reshape, sharding::Op &op) {
  ArrayRef<int64_t> in = reshape.getInput().getType().getShape();
  ArrayRef<int64_t> out = reshape.getOutput().getType().getShape();
  op.operandDims = {std::vector<int>(in.size(), -1)};
  op.resultDims = {std::vector<int>(out.size(), -1)};
  size_t i = 0, j = 0;
  while (i < in.size() && j < out.size()) {
    while (i < in.size() && in[i] == 1)
      ++i;
    while (j < out.size() && out[j] == 1)
      ++j;
    if (i == in.size() || j == out.size())
      break;
    size_t gi = i, gj = j;
    int64_t pi = in[i++], pj = out[j++];
    while (pi != pj) {
      if (pi < pj && i < in.size())
        pi *= in[i++];
      else if (pj < pi && j < out.size())
        pj *= out[j++];
      else
        return; // no common refinement: leave everything whole
    }
    sharding::Factor f;
    f.size = std::gcd(in[gi], out[gj]);
    op.operandDims[0][gi] = op.resultDims[0][gj] =
        static_cast<int>(op.factors.size());
    op.factors.push_back(f);
  }
}

ShardingDescription
mlir::llmc::describeForSharding(func::FuncOp main, const sharding::Mesh &mesh) {
  ShardingDescription desc;
  sharding::Problem &p = desc.problem;
  p.mesh = mesh;
  auto add = [&](Value v, sharding::Tensor t) {
    desc.tensorIds[v] = static_cast<int>(p.tensors.size());
    p.tensors.push_back(std::move(t));
  };
  for (BlockArgument arg : main.getArguments())
    if (isPlannable(arg.getType()))
      add(arg, tensorOf(arg, argumentName(main, arg.getArgNumber()),
                        main.getArgAttr(arg.getArgNumber(), "llmc.weight")
                            ? sharding::TensorKind::Weight
                            : sharding::TensorKind::Input));
  for (Operation &operation : main.getBody().front()) {
    if (operation.hasTrait<OpTrait::IsTerminator>()) {
      for (Value v : operation.getOperands())
        if (desc.tensorIds.count(v))
          p.tensors[desc.tensorIds[v]].isOutput = true;
      continue;
    }
    sharding::Op op;
    op.name = nodeName(&operation);
    op.kind = operation.getName().getStringRef().str();
    bool tensorsOnly = llvm::all_of(operation.getOperandTypes(), isPlannable) &&
                       llvm::all_of(operation.getResultTypes(), isPlannable);
    for (auto [r, v] : llvm::enumerate(operation.getResults()))
      if (tensorsOnly)
        add(v, tensorOf(v,
                        op.name + (operation.getNumResults() > 1
                                       ? ":" + std::to_string(r)
                                       : ""),
                        isa<ConstantOp>(operation)
                            ? sharding::TensorKind::Constant
                            : sharding::TensorKind::Intermediate));
    bool known = llvm::all_of(operation.getOperands(), [&](Value v) {
      return desc.tensorIds.count(v) > 0;
    });
    if (!tensorsOnly || !known || operation.getNumRegions())
      continue; // not described: it sees its operands whole
    for (Value v : operation.getOperands())
      op.operands.push_back(desc.tensorIds.lookup(v));
    for (Value v : operation.getResults())
      op.results.push_back(desc.tensorIds.lookup(v));
    if (auto reshape = dyn_cast<ReshapeOp>(operation)) {
      describeReshape(reshape, op);
    } else if (auto iface = dyn_cast<IterationSpaceOpInterface>(operation)) {
      describeByIterationSpace(iface, op);
    } else {
      op.operandDims.clear();
      for (Type t : operation.getOperandTypes())
        op.operandDims.emplace_back(cast<RankedTensorType>(t).getRank(), -1);
      for (Type t : operation.getResultTypes())
        op.resultDims.emplace_back(cast<RankedTensorType>(t).getRank(), -1);
    }
    // A constant is one value for every device: it is split, where a user
    // needs it split, by a local slice after it. An op that reads the
    // absolute position of its loops runs whole.
    if (isa<ConstantOp>(operation) || operation.hasTrait<PositionDependent>()) {
      std::optional<int64_t> only = positionLoop(&operation);
      for (auto [i, f] : llvm::enumerate(op.factors)) {
        if (only && static_cast<int64_t>(i) != *only)
          continue;
        f.prefixConsistent |= !f.blocked && operation.hasTrait<PrefixConsistent>();
        f.blocked = true;
      }
    }
    double elements = 0;
    for (Type t : operation.getResultTypes())
      elements += cast<RankedTensorType>(t).getNumElements();
    op.flops = elements;
    if (isa<MatMulOp, EinsumOp>(operation)) {
      double reduced = 1;
      for (const sharding::Factor &f : op.factors)
        if (f.reduction)
          reduced *= f.size;
      op.flops = 2 * elements * reduced;
      op.isWeightContraction =
          isa<MatMulOp>(operation) && operation.getNumOperands() == 2 &&
          cast<RankedTensorType>(operation.getOperand(1).getType()).getRank() ==
              2 &&
          isWeight(operation.getOperand(1));
    }
    desc.ops.push_back(&operation);
    p.ops.push_back(std::move(op));
  }
  return desc;
}
