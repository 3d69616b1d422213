//===- Padding.cpp - May a dim of @main's inputs be padded? ---------------===//

#include "llmc/Passes/Padding.h"
#include "ShardingDescription.h"

#include "llmc/Dialect/Graph/IR/GraphOps.h"
#include "llmc/Sharding/Padding.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

using namespace mlir;
using namespace mlir::llmc;
namespace sharding = ::llmc::sharding;

static std::string nodeOf(Operation *op) {
  Location loc = op->getLoc();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      loc = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(loc))
    return "node '" + name.getName().str() + "'";
  return "'" + op->getName().getStringRef().str() + "'";
}

namespace {
bool elementBytes(ElementsAttr attr, std::vector<char> &bytes);
} // namespace

/// Whether `bias`, attention's [.., L, S] additive bias, masks every key
/// after its query row's position (L == S: self-attention) for every
/// broadcast row, with a fill the softmax cannot tell from -inf.
static bool isCausalBias(Value bias) {
  auto biasType = cast<RankedTensorType>(bias.getType());
  if (biasType.getRank() != 5)
    return false;
  // Through reshapes and broadcasts that keep the last two dims (the mask
  // [L, S] made 5-D): a constant.
  auto lastTwo = [](Type t) {
    auto r = cast<RankedTensorType>(t);
    return r.getRank() >= 2 ? std::make_pair(r.getDimSize(r.getRank() - 2),
                                             r.getDimSize(r.getRank() - 1))
                            : std::make_pair<int64_t, int64_t>(-1, -1);
  };
  Value v = bias;
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<graph::ReshapeOp, graph::BroadcastToOp>(def) ||
        lastTwo(def->getOperand(0).getType()) != lastTwo(biasType))
      break;
    v = def->getOperand(0);
  }
  // torch.full((T, T), -inf).triu(1): the fill above the diagonal.
  if (auto trilu = v.getDefiningOp<graph::TriluOp>()) {
    auto t = cast<RankedTensorType>(v.getType());
    auto fill = trilu.getInput().getDefiningOp<graph::ConstantOp>();
    std::vector<char> bytes;
    if (!trilu.getUpper() || trilu.getK() > 1 || t.getRank() < 2 ||
        t.getDimSize(t.getRank() - 2) != t.getDimSize(t.getRank() - 1) ||
        !t.getElementType().isF32() || !fill ||
        !elementBytes(cast<ElementsAttr>(fill.getValue()), bytes))
      return false;
    const float *values = reinterpret_cast<const float *>(bytes.data());
    for (size_t i = 0; i < bytes.size() / sizeof(float); ++i)
      if (!(values[i] <= -1e30f))
        return false;
    return true;
  }
  auto constant = v.getDefiningOp<graph::ConstantOp>();
  if (!constant)
    return false;
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() < 2 || !type.getElementType().isF32())
    return false;
  int64_t rows = type.getDimSize(type.getRank() - 2),
          keys = type.getDimSize(type.getRank() - 1);
  if (rows != keys || rows < 2)
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  std::vector<char> bytes;
  if (dense && dense.isSplat())
    return false; // the same value everywhere masks all or nothing
  if (!elementBytes(cast<ElementsAttr>(constant.getValue()), bytes))
    return false;
  const float *values = reinterpret_cast<const float *>(bytes.data());
  int64_t matrices = type.getNumElements() / (rows * keys);
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = i + 1; j < keys; ++j) {
        float x = values[(m * rows + i) * keys + j];
        if (!(x <= -1e30f))
          return false;
      }
  return true;
}

/// graph.attention under a causal constant mask: its keys' factor (loop j)
/// is bounded by its query rows' (loop i).
static void markCausalAttention(ShardingDescription &desc) {
  for (auto [index, op] : llvm::enumerate(desc.ops)) {
    auto attention = dyn_cast<graph::AttentionOp>(op);
    sharding::Op &described = desc.problem.ops[index];

    if (!attention || !attention.getBias() || described.factors.size() != 7 ||
        !isCausalBias(attention.getBias()))
      continue;
    described.factors[4].causalQuery = 3;
  }
}

PaddingCheck mlir::llmc::analysePadding(
    func::FuncOp main,
    const std::vector<std::pair<unsigned, unsigned>> &inputDims, int64_t size,
    const std::vector<std::pair<Value, unsigned>> &constantDims) {
  PaddingCheck check;
  sharding::Mesh mesh;
  mesh.axisNames = {"pad"};
  mesh.axisSizes = {1};
  ShardingDescription desc = describeForSharding(main, mesh);
  markCausalAttention(desc);
  std::vector<std::pair<int, int>> seeds;
  for (auto [arg, dim] : inputDims) {
    Value v = main.getArgument(arg);
    if (!desc.tensorIds.count(v)) {
      check.why = "input " + std::to_string(arg) +
                  " is not a tensor the analysis describes";
      return check;
    }
    seeds.push_back({desc.tensorIds.lookup(v), static_cast<int>(dim)});
  }
  for (auto [v, dim] : constantDims) {
    if (!desc.tensorIds.count(v)) {
      check.why = "a constant that follows the dim is not a tensor the "
                  "analysis describes";
      return check;
    }
    seeds.push_back({desc.tensorIds.lookup(v), static_cast<int>(dim)});
  }
  sharding::PaddingResult r =
      sharding::analysePadding(desc.problem, seeds, size);
  if (!r.safe) {
    check.why = r.why;
    return check;
  }
  auto scales = [&](Value v) -> std::vector<int64_t> {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    std::vector<int64_t> none(type ? type.getRank() : 0, 0);
    auto it = desc.tensorIds.find(v);
    return it == desc.tensorIds.end() ? none : r.scale[it->second];
  };
  auto isPadded = [&](Value v) {
    for (int64_t s : scales(v))
      if (s)
        return true;
    return false;
  };
  // An op the planner does not describe (regions, types it does not plan)
  // sees its operands whole: padding must not reach it.
  llvm::DenseSet<Operation *> described(desc.ops.begin(), desc.ops.end());
  for (BlockArgument a : main.getArguments())
    check.argumentScales.push_back(scales(a));
  for (Operation &op : main.getBody().front()) {
    if (op.hasTrait<OpTrait::IsTerminator>()) {
      for (Value v : op.getOperands())
        check.outputScales.push_back(scales(v));
      continue;
    }
    if (!described.count(&op))
      for (Value v : op.getOperands())
        if (isPadded(v)) {
          check.why = nodeOf(&op) + " (" + op.getName().getStringRef().str() +
                      ") is opaque to the analysis and reads a padded tensor";
          return check;
        }
    std::vector<std::vector<int64_t>> results;
    for (Value v : op.getResults())
      results.push_back(scales(v));
    check.opScales.push_back(std::move(results));
  }
  check.safe = true;
  return check;
}

namespace {
/// The raw bytes of a constant's elements (every element, splats
/// expanded), or false for what it cannot read (bool elements).
bool elementBytes(ElementsAttr attr, std::vector<char> &bytes) {
  auto type = cast<ShapedType>(attr.getType());
  Type element = type.getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8 != 0)
    return false;
  size_t width = element.getIntOrFloatBitWidth() / 8;
  size_t count = static_cast<size_t>(type.getNumElements());
  ArrayRef<char> raw;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    raw = dense.getRawData();
    if (dense.isSplat()) {
      bytes.resize(count * width);
      for (size_t i = 0; i < count; ++i)
        std::memcpy(bytes.data() + i * width, raw.data(), width);
      return true;
    }
  } else if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return false;
    raw = blob->getData();
  } else {
    return false;
  }
  if (raw.size() != count * width)
    return false;
  bytes.assign(raw.begin(), raw.end());
  return true;
}

/// Whether the box of `small`'s shape at the origin of `large` equals
/// `small` (both C-order, `width` bytes an element).
bool prefixEqual(const std::vector<char> &large, ArrayRef<int64_t> largeShape,
                 const std::vector<char> &small, ArrayRef<int64_t> smallShape,
                 size_t width) {
  size_t rank = smallShape.size();
  if (rank == 0)
    return large == small;
  for (int64_t n : smallShape)
    if (n == 0)
      return true;
  std::vector<int64_t> index(rank, 0), stride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d)
    stride[d - 1] = stride[d] * largeShape[d];
  size_t row = static_cast<size_t>(smallShape[rank - 1]) * width;
  size_t from = 0;
  while (true) {
    int64_t at = 0;
    for (size_t d = 0; d + 1 < rank; ++d)
      at += index[d] * stride[d];
    if (std::memcmp(large.data() + at * width, small.data() + from, row) != 0)
      return false;
    from += row;
    if (rank == 1)
      return true;
    size_t d = rank - 1;
    while (true) {
      --d;
      if (++index[d] < smallShape[d])
        break;
      index[d] = 0;
      if (d == 0)
        return true;
    }
  }
}
} // namespace

bool mlir::llmc::sameUpToPadding(
    func::FuncOp padded, func::FuncOp smaller, const PaddingCheck *check,
    int64_t size, int64_t smallerSize, std::string &why,
    std::vector<std::pair<Value, unsigned>> *constantDims) {
  // Dims at `size` of scale s are `smallerSize` * s in `smaller`.
  auto shapesAgree = [&](Type big, Type small,
                         const std::vector<int64_t> &scales) {
    auto a = dyn_cast<RankedTensorType>(big);
    auto b = dyn_cast<RankedTensorType>(small);
    if (!a || !b)
      return big == small;
    if (a.getElementType() != b.getElementType() || a.getRank() != b.getRank())
      return false;
    for (int64_t d = 0; d < a.getRank(); ++d) {
      int64_t s = static_cast<size_t>(d) < scales.size() ? scales[d] : 0;
      if (b.getDimSize(d) != (s ? smallerSize * s : a.getDimSize(d)))
        return false;
    }
    return true;
  };
  // A constant may follow the dim on any of its dims (a position table, a
  // causal mask): equal, or scaled with the size.
  auto follows = [&](Type big, Type small) {
    auto a = dyn_cast<RankedTensorType>(big);
    auto b = dyn_cast<RankedTensorType>(small);
    if (!a || !b || a.getRank() != b.getRank() ||
        a.getElementType() != b.getElementType())
      return false;
    for (int64_t d = 0; d < a.getRank(); ++d)
      if (a.getDimSize(d) != b.getDimSize(d) &&
          (a.getDimSize(d) % size != 0 ||
           b.getDimSize(d) != a.getDimSize(d) / size * smallerSize))
        return false;
    return true;
  };
  std::string sizes = " at sizes " + std::to_string(smallerSize) + " and " +
                      std::to_string(size);
  if (padded.getNumArguments() != smaller.getNumArguments()) {
    why = "the model's inputs differ" + sizes;
    return false;
  }
  for (unsigned i = 0; check && i < padded.getNumArguments(); ++i)
    if (!shapesAgree(padded.getArgument(i).getType(),
                     smaller.getArgument(i).getType(),
                     check->argumentScales[i])) {
      why = "input " + std::to_string(i) + " differs" + sizes +
            " beyond the padded dim";
      return false;
    }
  Block &a = padded.getBody().front(), &b = smaller.getBody().front();
  DenseMap<Operation *, size_t> opIndex;
  for (Operation &op : a)
    if (!op.hasTrait<OpTrait::IsTerminator>())
      opIndex[&op] = opIndex.size();
  // Which value of `padded` each value of `smaller` is; constants are
  // matched where they are used (folding orders them by size), and a prefix
  // slice of a constant in `smaller` stands for the whole constant (at the
  // larger size the slice is the identity and was folded away).
  DenseMap<Value, Value> xOf, prefixOf;
  for (unsigned i = 0; i < padded.getNumArguments(); ++i)
    xOf[smaller.getArgument(i)] = padded.getArgument(i);
  std::string constantWhy;
  auto constantsAgree = [&](graph::ConstantOp cx, graph::ConstantOp cy) {
    auto vx = dyn_cast<ElementsAttr>(cx.getValue());
    auto vy = dyn_cast<ElementsAttr>(cy.getValue());
    if (vx == vy)
      return true;
    auto tx = vx ? dyn_cast<RankedTensorType>(vx.getType()) : nullptr;
    auto ty = vy ? dyn_cast<RankedTensorType>(vy.getType()) : nullptr;
    std::vector<char> bx, by;
    if (tx && ty && follows(tx, ty) && elementBytes(vx, bx) &&
        elementBytes(vy, by) &&
        prefixEqual(bx, tx.getShape(), by, ty.getShape(),
                    tx.getElementTypeBitWidth() / 8))
      return true;
    constantWhy = nodeOf(cx) + " is a constant that differs" + sizes +
                  " beyond the larger one's prefix (it computes with the size)";
    return false;
  };
  auto operandsMatch = [&](Value vx, Value vy) {
    auto it = xOf.find(vy);
    if (it != xOf.end())
      return it->second == vx;
    Value whole = prefixOf.lookup(vy);
    auto cx = vx.getDefiningOp<graph::ConstantOp>();
    auto cy = (whole ? whole : vy).getDefiningOp<graph::ConstantOp>();
    if (!cx || !cy || !follows(vx.getType(), vy.getType()) ||
        !constantsAgree(cx, cy))
      return false;
    xOf[vy] = vx;
    // Its dims that follow the padded dim, for the analysis.
    auto tx = cast<RankedTensorType>(vx.getType());
    auto ty = cast<RankedTensorType>(vy.getType());
    for (int64_t d = 0; constantDims && d < tx.getRank(); ++d)
      if (tx.getDimSize(d) != ty.getDimSize(d) &&
          std::find(constantDims->begin(), constantDims->end(),
                    std::make_pair(vx, static_cast<unsigned>(d))) ==
              constantDims->end())
        constantDims->push_back({vx, static_cast<unsigned>(d)});
    return true;
  };
  auto isPrefixSliceOfConstant = [](Operation &op) {
    auto slice = dyn_cast<graph::SliceOp>(op);
    if (!slice || !slice->getOperand(0).getDefiningOp<graph::ConstantOp>())
      return false;
    for (int64_t v : slice.getStarts())
      if (v != 0)
        return false;
    for (int64_t v : slice.getSteps())
      if (v != 1)
        return false;
    return true;
  };
  auto ia = a.begin(), ib = b.begin();
  auto skipConstants = [](Block::iterator &it, Block &block) {
    while (it != block.end() && isa<graph::ConstantOp>(*it))
      ++it;
  };
  while (true) {
    skipConstants(ia, a);
    skipConstants(ib, b);
    if (ia == a.end() || ib == b.end())
      break;
    Operation &x = *ia, &y = *ib;
    bool wired = x.getNumOperands() == y.getNumOperands() &&
                 x.getNumRegions() == 0 && y.getNumRegions() == 0 &&
                 x.getName() == y.getName() &&
                 x.getNumResults() == y.getNumResults();
    for (unsigned i = 0; wired && i < x.getNumOperands(); ++i)
      wired = operandsMatch(x.getOperand(i), y.getOperand(i));
    if (!wired && isPrefixSliceOfConstant(y) && !isa<graph::SliceOp>(x)) {
      prefixOf[y.getResult(0)] = y.getOperand(0);
      ++ib;
      continue;
    }
    if (!wired) {
      why = !constantWhy.empty()
                ? constantWhy
                : "the model's graph differs" + sizes + " at " + nodeOf(&x) +
                      " and " + nodeOf(&y) +
                      " (its size decides what it computes)";
      return false;
    }
    ++ia;
    ++ib;
    for (unsigned r = 0; r < x.getNumResults(); ++r)
      xOf[y.getResult(r)] = x.getResult(r);
    if (!check) {
      // Matching only. A prefix of a constant (a RoPE table's first rows)
      // is a constant that follows the dim, like one folded.
      if (constantDims && isPrefixSliceOfConstant(x) &&
          isPrefixSliceOfConstant(y)) {
        auto tx = cast<RankedTensorType>(x.getResult(0).getType());
        auto ty = cast<RankedTensorType>(y.getResult(0).getType());
        if (!follows(tx, ty)) {
          why = nodeOf(&x) + "'s result" + sizes +
                " does not follow the padded dim (its size decides its shape)";
          return false;
        }
        for (int64_t d = 0; d < tx.getRank(); ++d)
          if (tx.getDimSize(d) != ty.getDimSize(d))
            constantDims->push_back(
                {x.getResult(0), static_cast<unsigned>(d)});
      }
      continue;
    }
    if (x.hasTrait<OpTrait::IsTerminator>()) {
      for (unsigned i = 0; i < x.getNumOperands(); ++i)
        if (!shapesAgree(x.getOperand(i).getType(), y.getOperand(i).getType(),
                         check->outputScales[i])) {
          why = "output " + std::to_string(i) + "'s shape" + sizes +
                " does not follow the padded dim";
          return false;
        }
      continue;
    }
    const auto &scales = check->opScales[opIndex.lookup(&x)];
    for (unsigned r = 0; r < x.getNumResults(); ++r) {
      Type tx = x.getResult(r).getType(), ty = y.getResult(r).getType();
      if (shapesAgree(tx, ty, scales[r]))
        continue;
      std::string ax, ay;
      llvm::raw_string_ostream(ax) << tx;
      llvm::raw_string_ostream(ay) << ty;
      why = nodeOf(&x) + "'s result (" + ay + " and " + ax + ")" + sizes +
            " does not follow the padded dim (its size decides its shape)";
      return false;
    }
    // Attributes: equal, but for a list of sizes of a result (a slice's)
    // where the result follows the padded dim.
    for (NamedAttribute attr : x.getAttrs()) {
      Attribute other = y.getAttr(attr.getName());
      auto ax = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
      auto ay = dyn_cast_or_null<DenseI64ArrayAttr>(other);
      bool scaled = false;
      for (unsigned r = 0; ax && ay && !scaled && r < x.getNumResults(); ++r) {
        if (ax.size() != ay.size() ||
            static_cast<size_t>(ax.size()) != scales[r].size())
          continue;
        scaled = true;
        for (size_t d = 0; scaled && d < scales[r].size(); ++d)
          scaled = ax[d] == ay[d] ||
                   (scales[r][d] && ax[d] == size * scales[r][d] &&
                    ay[d] == smallerSize * scales[r][d]);
      }
      if (other != attr.getValue() && !scaled) {
        why = nodeOf(&x) + "'s attribute '" + attr.getName().str() +
              "' differs" + sizes + " (it computes with the size)";
        return false;
      }
    }
    if (x.getAttrs().size() != y.getAttrs().size()) {
      why = nodeOf(&x) + "'s attributes differ" + sizes;
      return false;
    }
  }
  if (ia != a.end() || ib != b.end()) {
    why = "the model's graph differs" + sizes;
    return false;
  }
  return true;
}
