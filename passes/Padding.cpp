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

PaddingCheck mlir::llmc::analysePadding(
    func::FuncOp main,
    const std::vector<std::pair<unsigned, unsigned>> &inputDims, int64_t size) {
  PaddingCheck check;
  sharding::Mesh mesh;
  mesh.axisNames = {"pad"};
  mesh.axisSizes = {1};
  ShardingDescription desc = describeForSharding(main, mesh);
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

bool mlir::llmc::sameUpToPadding(func::FuncOp padded, func::FuncOp smaller,
                                 const PaddingCheck &check, int64_t size,
                                 int64_t smallerSize, std::string &why) {
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
  std::string sizes = " at sizes " + std::to_string(smallerSize) + " and " +
                      std::to_string(size);
  if (padded.getNumArguments() != smaller.getNumArguments()) {
    why = "the model's inputs differ" + sizes;
    return false;
  }
  for (unsigned i = 0; i < padded.getNumArguments(); ++i)
    if (!shapesAgree(padded.getArgument(i).getType(),
                     smaller.getArgument(i).getType(),
                     check.argumentScales[i])) {
      why = "input " + std::to_string(i) + " differs" + sizes +
            " beyond the padded dim";
      return false;
    }
  Block &a = padded.getBody().front(), &b = smaller.getBody().front();
  auto ia = a.begin(), ib = b.begin();
  size_t index = 0;
  // Which value of `smaller` each value of `padded` is.
  DenseMap<Value, Value> same;
  for (unsigned i = 0; i < padded.getNumArguments(); ++i)
    same[padded.getArgument(i)] = smaller.getArgument(i);
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    Operation &x = *ia, &y = *ib;
    bool wired = x.getNumOperands() == y.getNumOperands() &&
                 x.getNumRegions() == 0 && y.getNumRegions() == 0;
    for (unsigned i = 0; wired && i < x.getNumOperands(); ++i)
      wired = same.lookup(x.getOperand(i)) == y.getOperand(i);
    if (x.getName() != y.getName() || !wired ||
        x.getNumResults() != y.getNumResults()) {
      why = "the model's graph differs" + sizes + " at " + nodeOf(&x) +
            " (its size decides what it computes)";
      return false;
    }
    if (x.hasTrait<OpTrait::IsTerminator>()) {
      for (unsigned i = 0; i < x.getNumOperands(); ++i)
        if (!shapesAgree(x.getOperand(i).getType(), y.getOperand(i).getType(),
                         check.outputScales[i])) {
          why = "output " + std::to_string(i) + "'s shape" + sizes +
                " does not follow the padded dim";
          return false;
        }
      continue;
    }
    for (unsigned r = 0; r < x.getNumResults(); ++r)
      same[x.getResult(r)] = y.getResult(r);
    const auto &scales = check.opScales[index++];
    auto xc = dyn_cast<graph::ConstantOp>(x);
    for (unsigned r = 0; r < x.getNumResults(); ++r) {
      Type tx = x.getResult(r).getType(), ty = y.getResult(r).getType();
      if (shapesAgree(tx, ty, scales[r]))
        continue;
      // A constant may follow the dim on any of its dims (a position
      // table, a causal mask): the smaller one is its prefix.
      auto ax = dyn_cast<RankedTensorType>(tx);
      auto ay = dyn_cast<RankedTensorType>(ty);
      bool follows = xc && ax && ay && ax.getRank() == ay.getRank() &&
                     ax.getElementType() == ay.getElementType();
      for (int64_t d = 0; follows && d < ax.getRank(); ++d)
        follows = ax.getDimSize(d) == ay.getDimSize(d) ||
                  (ax.getDimSize(d) % size == 0 &&
                   ay.getDimSize(d) == ax.getDimSize(d) / size * smallerSize);
      if (!follows) {
        why = nodeOf(&x) + "'s result" + sizes +
              " does not follow the padded dim (its size decides its shape)";
        return false;
      }
    }
    // Attributes: equal, but for a constant's value, whose smaller version
    // must be the prefix of the larger.
    for (NamedAttribute attr : x.getAttrs()) {
      Attribute other = y.getAttr(attr.getName());
      if (xc && attr.getName() == "value") {
        auto vx = dyn_cast<ElementsAttr>(attr.getValue());
        auto vy = dyn_cast_or_null<ElementsAttr>(other);
        std::vector<char> bx, by;
        if (vx && vy && vx == vy)
          continue;
        auto tx = vx ? dyn_cast<RankedTensorType>(vx.getType()) : nullptr;
        auto ty = vy ? dyn_cast<RankedTensorType>(vy.getType()) : nullptr;
        if (!tx || !ty || !elementBytes(vx, bx) || !elementBytes(vy, by) ||
            !prefixEqual(bx, tx.getShape(), by, ty.getShape(),
                         tx.getElementTypeBitWidth() / 8)) {
          why = nodeOf(&x) + " is a constant that differs" + sizes +
                " beyond the larger one's prefix (it computes with the "
                "size)";
          return false;
        }
        continue;
      }
      // A list of sizes, one per dim of a result (a slice's sizes): it may
      // differ where the result's dim follows the padded dim.
      auto ax = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
      auto ay = dyn_cast_or_null<DenseI64ArrayAttr>(other);
      bool follows = false;
      for (unsigned r = 0; ax && ay && !follows && r < x.getNumResults(); ++r) {
        if (ax.size() != ay.size() ||
            static_cast<size_t>(ax.size()) != scales[r].size())
          continue;
        follows = true;
        for (size_t d = 0; follows && d < scales[r].size(); ++d)
          follows = ax[d] == ay[d] ||
                    (scales[r][d] && ax[d] == size * scales[r][d] &&
                     ay[d] == smallerSize * scales[r][d]);
      }
      if (other != attr.getValue() && !follows) {
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
