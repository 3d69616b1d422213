//===- Fuse.cpp - Form fusion groups from the fusion planner's plan -------===//
//
// A thin driver: each graph op is described to the planner as a node (kind,
// bytes, flops), the planner decides, and each group becomes a
// graph.fusion_group. The decisions themselves live in lib/Fusion.
//
//===----------------------------------------------------------------------===//

#include "llmc/Fusion/FusionPlanner.h"
#include "llmc/Passes/Passes.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_FUSEPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::graph;
namespace fusion = ::llmc::fusion;

static int64_t bytesOf(Type type) { return getStaticTensorBytes(type); }

/// Rough work per element: transcendental ops run as polynomials or on
/// slower units, divisions and square roots take a few issue slots.
static int64_t flopsPerElement(Operation *op) {
  if (isa<ExpOp, LogOp, TanhOp, SigmoidOp, ErfOp, GeluOp, SoftplusOp, SinOp,
          CosOp, TanOp, AsinOp, AcosOp, AtanOp, SinhOp, CoshOp, AsinhOp,
          AcoshOp, AtanhOp, PowOp, EluOp, CeluOp, SeluOp>(op))
    return 16;
  if (isa<DivOp, SqrtOp, ReciprocalOp, ModOp>(op))
    return 4;
  return 1;
}

static bool isCopiedConstant(Operation *op) {
  auto constant = dyn_cast_or_null<ConstantOp>(op);
  return constant &&
         cast<ShapedType>(constant.getType()).getNumElements() <=
             kInlineConstantLimit;
}

/// Fills in the planner's description of `op`.
static void describe(Operation *op, fusion::Node &node) {
  using fusion::NodeKind;
  node.kind = NodeKind::Opaque;
  int64_t bytes = 0, elements = 0;
  bool known = true;
  for (Value r : op->getResults()) {
    int64_t b = bytesOf(r.getType());
    known &= b >= 0;
    bytes += std::max<int64_t>(b, 0);
    if (known)
      elements += cast<ShapedType>(r.getType()).getNumElements();
  }
  node.resultBytes = bytes;
  node.resultElements = std::max<int64_t>(elements, 1);
  node.flopsPerElement = 1;
  bool fusible = known && op->getNumResults() == 1 &&
                 llvm::all_of(op->getOperandTypes(),
                              [](Type t) { return bytesOf(t) >= 0; });
  if (isa<MatMulOp, GemmOp, ConvOp, ConvTransposeOp, EinsumOp, AttentionOp>(op)) {
    node.kind = NodeKind::Contraction;
    return;
  }
  if (!fusible || elements == 0)
    return;
  if (auto reduce = dyn_cast<ReduceOp>(op)) {
    auto input = cast<RankedTensorType>(reduce.getInput().getType());
    SmallVector<int64_t> axes(reduce.getAxes());
    llvm::sort(axes);
    int64_t size = 1;
    for (int64_t a : axes)
      size *= input.getDimSize(a);
    bool innermost = !axes.empty();
    for (auto [i, a] : llvm::enumerate(axes))
      innermost &= a == input.getRank() - int64_t(axes.size()) + int64_t(i);
    node.kind = NodeKind::Reduction;
    node.reductionSize = std::max<int64_t>(size, 1);
    node.innermostReduction = innermost;
    return;
  }
  if (isa<ReshapeOp>(op)) {
    node.kind = NodeKind::DataMovement;
    node.preservesOrder = true;
    node.flopsPerElement = 0;
    return;
  }
  if (isa<BroadcastToOp, TransposeOp, SliceOp, ConcatOp, PadOp, TileOp>(op)) {
    node.kind = NodeKind::DataMovement;
    node.flopsPerElement = 0;
    return;
  }
  if (isa<ScalarComputeOpInterface>(op)) {
    node.kind = NodeKind::Elementwise;
    node.flopsPerElement = flopsPerElement(op);
  }
}

static StringRef shapeName(fusion::Group::Shape shape) {
  switch (shape) {
  case fusion::Group::Shape::Loop:
    return "loop";
  case fusion::Group::Shape::Row:
    return "row";
  case fusion::Group::Shape::ColumnReduction:
    return "column";
  }
  return "loop";
}

/// Replaces `ops` (in block order) by one graph.fusion_group.
static void buildGroup(ArrayRef<Operation *> ops, const fusion::Group &group) {
  llvm::SmallPtrSet<Operation *, 16> members(ops.begin(), ops.end());
  llvm::SetVector<Value> inputs;
  llvm::SetVector<Operation *> constants;
  SmallVector<Location> locs;
  for (Operation *op : ops) {
    locs.push_back(op->getLoc());
    for (Value v : op->getOperands()) {
      Operation *def = v.getDefiningOp();
      if (def && members.contains(def))
        continue;
      if (isCopiedConstant(def))
        constants.insert(def);
      else
        inputs.insert(v);
    }
  }
  SmallVector<Value> outputs;
  for (Operation *op : ops)
    for (Value r : op->getResults())
      if (llvm::any_of(r.getUsers(),
                       [&](Operation *u) { return !members.contains(u); }))
        outputs.push_back(r);

  MLIRContext *ctx = ops.front()->getContext();
  Location loc = FusedLoc::get(ctx, locs);
  OpBuilder b(ctx);
  b.setInsertionPointAfter(ops.back());
  auto fused = FusionGroupOp::create(
      b, loc, ValueRange(outputs).getTypes(), shapeName(group.shape),
      inputs.getArrayRef(), group.bytesRead, group.bytesWritten);
  SmallVector<Location> argLocs(inputs.size(), loc);
  Block *body = b.createBlock(&fused.getBody(), {},
                              ValueRange(inputs.getArrayRef()).getTypes(), argLocs);
  IRMapping map;
  map.map(inputs.getArrayRef(), body->getArguments());
  for (Operation *c : constants)
    b.clone(*c, map);
  for (Operation *op : ops)
    b.clone(*op, map);
  SmallVector<Value> yielded;
  for (Value o : outputs)
    yielded.push_back(map.lookup(o));
  YieldOp::create(b, loc, yielded);
  for (auto [o, r] : llvm::zip(outputs, fused.getResults()))
    o.replaceUsesWithIf(r, [&](OpOperand &use) {
      return !members.contains(use.getOwner());
    });
  for (Operation *op : llvm::reverse(ops))
    op->erase();
}

static std::string nameOf(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return op->getName().getStringRef().str();
}

/// On CUDA a 1-D or 2-D f32 convolution is a cuDNN call, and its bias an
/// epilogue: it becomes a broadcast add after the convolution, which the
/// planner then fuses into the consumer's kernel (a ReLU, a residual add),
/// so that no kernel broadcasts the bias into the output first. (On the CPU
/// the bias initialises the output, which the convolution's GEMM
/// accumulates onto at no extra cost: it stays.)
static void splitConvBias(Block &block) {
  for (ConvOp conv : llvm::make_early_inc_range(block.getOps<ConvOp>())) {
    Value bias = conv.getBias();
    auto type = cast<RankedTensorType>(conv.getType());
    auto biasType = dyn_cast<RankedTensorType>(bias ? bias.getType() : Type());
    if (!bias || !type.getElementType().isF32() ||
        (type.getRank() != 3 && type.getRank() != 4) || !biasType ||
        biasType.getRank() != 1 || !type.hasStaticShape())
      continue;
    OpBuilder b(conv);
    SmallVector<int64_t> shape(type.getRank() - 1, 1);
    shape[0] = biasType.getDimSize(0);
    Value channel = ReshapeOp::create(
        b, conv.getLoc(), RankedTensorType::get(shape, type.getElementType()),
        bias);
    Value unbiased = ConvOp::create(
        b, conv.getLoc(), type, conv.getInput(), conv.getWeight(), Value(),
        conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(),
        conv.getGroupAttr());
    Value sum = AddOp::create(b, conv.getLoc(), unbiased, channel);
    conv.replaceAllUsesWith(sum);
    conv.erase();
  }
}

namespace {
struct FusePass final : ::mlir::llmc::impl::FusePassBase<FusePass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (target != "cpu" && target != "cuda") {
      func.emitError() << "llmc-fuse: unknown target '" << target
                       << "' (expected cpu or cuda)";
      return signalPassFailure();
    }
    if (func.getBody().getBlocks().size() != 1)
      return; // Fusion plans one block of dataflow.
    Block &block = func.getBody().front();
    if (target == "cuda")
      splitConvBias(block);

    // Describe every op with results to the planner, in block order.
    SmallVector<Operation *> ops;
    DenseMap<Operation *, int> index;
    DenseMap<Value, int64_t> inputIds;
    std::vector<fusion::Node> nodes;
    // The planner must see every path between the ops it groups: a path it
    // cannot see lets it merge both ends of it into one group, a cycle. So an
    // op it may not group is still a node (Opaque), and a transpose that the
    // matmul reads in place is no node but an alias: its user reads the
    // transposed tensor's producer.
    DenseMap<Value, Value> aliasOf;
    for (Operation &op : block.without_terminator()) {
      if (op.getNumResults() == 0 || isa<ConstantOp>(op))
        continue;
      // Read in place by the matmul's library call: grouping it would
      // materialise it.
      if (auto t = dyn_cast<TransposeOp>(op); t && isReadTransposedByMatMul(t)) {
        aliasOf[t.getResult()] = t.getInput();
        continue;
      }
      fusion::Node node;
      node.name = nameOf(&op);
      SetVector<Value> reads(op.getOperands().begin(), op.getOperands().end());
      if (op.getNumRegions() != 0) {
        // Already a kernel (a group from an earlier run) or control flow:
        // never grouped, and what its regions capture is read too.
        getUsedValuesDefinedAbove(op.getRegions(), reads);
        node.kind = fusion::NodeKind::Opaque;
        node.resultElements = 1;
        for (Value r : op.getResults())
          node.resultBytes += std::max<int64_t>(bytesOf(r.getType()), 0);
      } else {
        describe(&op, node);
      }
      for (Value v : reads) {
        for (auto a = aliasOf.find(v); a != aliasOf.end(); a = aliasOf.find(v))
          v = a->second;
        Operation *def = v.getDefiningOp();
        auto it = def ? index.find(def) : index.end();
        if (it != index.end()) {
          node.operands.push_back(it->second);
          node.operandBytes.push_back(nodes[it->second].resultBytes);
          node.operandInputIds.push_back(-1);
          continue;
        }
        node.operands.push_back(-1);
        node.operandBytes.push_back(
            isCopiedConstant(def) ? 0 : std::max<int64_t>(bytesOf(v.getType()), 0));
        node.operandInputIds.push_back(
            inputIds.try_emplace(v, int64_t(inputIds.size())).first->second);
      }
      node.isGraphOutput = llvm::any_of(op.getUsers(), [](Operation *u) {
        return u->hasTrait<OpTrait::IsTerminator>();
      });
      index[&op] = int(nodes.size());
      ops.push_back(&op);
      nodes.push_back(std::move(node));
    }
    if (nodes.empty())
      return;

    fusion::Budget budget;
    if (target == "cpu") {
      // A core's L2 holds the row; a function call takes any argument count.
      budget.maxRowBytes = 512 * 1024;
      budget.maxGroupInputs = 64;
      budget.maxOpsPerGroup = 128;
    }
    fusion::Plan plan = fusion::planFusion(nodes, budget);

    if (remarks)
      for (const fusion::Decision &d : plan.decisions) {
        if (d.consumer < 0 || d.consumer >= int(ops.size()))
          continue;
        InFlightDiagnostic diag = ops[d.consumer]->emitRemark();
        if (d.sibling)
          diag << "sibling of " << (d.producer >= 0 ? "'" + nodes[d.producer].name + "'"
                                                    : std::string("a graph input"))
               << ": " << d.reason;
        else
          diag << "from '"
               << (d.producer >= 0 ? nodes[d.producer].name : std::string("?"))
               << "': " << d.reason;
      }

    for (const fusion::Group &group : plan.groups) {
      SmallVector<Operation *> members;
      for (int n : group.nodes)
        members.push_back(ops[n]);
      // A reshape alone is a view, not a kernel.
      if (llvm::all_of(members, [](Operation *op) { return isa<ReshapeOp>(op); }))
        continue;
      llvm::sort(members, [](Operation *a, Operation *b) {
        return a->isBeforeInBlock(b);
      });
      buildGroup(members, group);
    }
    // A group sits where its last op was; users of its earlier results that
    // came before that point move after it (the plan has no cycles).
    if (!sortTopologically(&block)) {
      func.emitError("llmc-fuse: the fusion plan has a cycle between groups");
      return signalPassFailure();
    }
  }
};
} // namespace
