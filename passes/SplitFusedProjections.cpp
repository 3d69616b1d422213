//===- SplitFusedProjections.cpp - One projection per slice of a fused one ===//
//
// A projection whose output columns are sliced apart (GPT-2's fused QKV
// `c_attn` followed by a Split, Phi-3's fused gate/up) becomes one
// projection per slice, each with its own columns of the weight (and bias)
// cut at compile time. Column-parallel sharding can then split each part's
// heads; on the fused layer a contiguous split of the columns would cut
// across q, k and v, so the fused output had to be gathered whole first.
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "llmc/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_SPLITFUSEDPROJECTIONSPASS
#include "llmc/Passes/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::graph;

namespace {

/// A compile-time tensor: a weight argument of @main or a graph.constant.
struct Known {
  Value value;
  ElementsAttr data;
  BlockArgument arg; // set for a weight argument
};

std::optional<Known> knownTensor(func::FuncOp main, Value v) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (arg.getOwner() != &main.getBody().front())
      return std::nullopt;
    auto weight = main.getArgAttrOfType<DenseResourceElementsAttr>(
        arg.getArgNumber(), "llmc.weight");
    if (!weight)
      return std::nullopt;
    return Known{v, weight, arg};
  }
  if (auto constant = v.getDefiningOp<ConstantOp>())
    return Known{v, constant.getValue(), {}};
  return std::nullopt;
}

/// The raw bytes of `data` (row-major, whole bytes per element), or nothing
/// where they are not at hand (a resource without its blob, packed bools,
/// sub-byte integers).
std::optional<ArrayRef<char>> rawBytes(ElementsAttr data) {
  auto type = cast<ShapedType>(data.getType());
  Type element = type.getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8)
    return std::nullopt;
  size_t bytes = type.getNumElements() * (element.getIntOrFloatBitWidth() / 8);
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(data)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != bytes)
      return std::nullopt;
    return blob->getData();
  }
  auto dense = dyn_cast<DenseElementsAttr>(data);
  if (!dense || dense.isSplat() || dense.getRawData().size() != bytes)
    return std::nullopt;
  return dense.getRawData();
}

/// Whether `data` can be cut: a splat, or one whose bytes are at hand.
bool cuttable(ElementsAttr data) {
  if (auto dense = dyn_cast<DenseElementsAttr>(data); dense && dense.isSplat())
    return true;
  return rawBytes(data).has_value();
}

/// Elements [start, start + size) of dim `dim` of `data`, as an attribute of
/// the same kind (a resource named `name`, or a dense literal).
ElementsAttr cut(ElementsAttr data, int64_t dim, int64_t start, int64_t size,
                 StringRef name) {
  auto type = cast<RankedTensorType>(data.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = size;
  auto cutType = RankedTensorType::get(shape, type.getElementType());
  if (auto dense = dyn_cast<DenseElementsAttr>(data); dense && dense.isSplat())
    return dense.resizeSplat(cutType);
  ArrayRef<char> bytes = *rawBytes(data);
  int64_t elementBytes = type.getElementType().getIntOrFloatBitWidth() / 8;
  int64_t outer = 1, inner = elementBytes;
  for (int64_t d = 0; d < dim; ++d)
    outer *= type.getDimSize(d);
  for (int64_t d = dim + 1; d < type.getRank(); ++d)
    inner *= type.getDimSize(d);
  std::vector<char> out;
  out.reserve(outer * size * inner);
  for (int64_t o = 0; o < outer; ++o) {
    const char *from =
        bytes.data() + (o * type.getDimSize(dim) + start) * inner;
    out.insert(out.end(), from, from + size * inner);
  }
  if (isa<DenseResourceElementsAttr>(data))
    return DenseResourceElementsAttr::get(
        cutType, name,
        HeapAsmResourceBlob::allocateAndCopyWithAlign(
            ArrayRef<char>(out), alignof(std::max_align_t)));
  return DenseElementsAttr::getFromRawBuffer(cutType, ArrayRef<char>(out));
}

/// The name a cut shows in `llmc explain`: the source's, with the range.
std::string cutName(StringRef source, int64_t rank, int64_t dim,
                    int64_t start, int64_t size) {
  std::string s = source.str() + "[";
  for (int64_t d = 0; d < rank; ++d) {
    s += d ? ", " : "";
    s += d == dim ? std::to_string(start) + ":" + std::to_string(start + size)
                  : std::string(":");
  }
  return s + "]";
}

/// One op between the projection and the slices: an elementwise op with a
/// compile-time operand that varies at most along the last dim (bias,
/// scale), or a reshape that keeps the last dim.
struct ChainStep {
  Operation *op;
  int known = -1; // operand index of the compile-time tensor, if any
};

/// The ONNX node a location names.
std::string nodeName(Location loc) {
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      loc = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  return "projection";
}

RankedTensorType withLastDim(Type t, int64_t size) {
  auto type = cast<RankedTensorType>(t);
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = size;
  return RankedTensorType::get(shape, type.getElementType());
}

/// One part of a fused projection's output: the op that reads it alone,
/// and its columns.
struct Part {
  Operation *selector;
  int64_t start, size;
};

/// How a fused projection's parts are read: slices of its last dim (no
/// carriers); or a reshape that splits the last dim N into [P, ...] (the
/// parts dim P, leading unit dims aside), then transposes and reshapes that
/// only move the parts dim or add or drop unit dims ("carriers"), then one
/// index of the parts dim each (a gather of a constant index, or a slice of
/// size 1): timm's `qkv.reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4)`,
/// then `qkv[0]`, `qkv[1]`, `qkv[2]`; nn.MultiheadAttention's
/// `unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2).squeeze(-2)`.
struct Parts {
  SmallVector<Part> parts;
  SmallVector<Operation *> carriers;
  /// The parts dim in each carrier's result.
  SmallVector<int64_t> partsDims;
};

/// The dims of `shape` that are not 1.
SmallVector<int64_t> nonUnit(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> dims;
  for (int64_t d : shape)
    if (d != 1)
      dims.push_back(d);
  return dims;
}

/// The index of the `n`-th non-unit dim of `shape`.
int64_t nthNonUnit(ArrayRef<int64_t> shape, int64_t n) {
  for (auto [d, size] : llvm::enumerate(shape))
    if (size != 1 && n-- == 0)
      return d;
  return -1;
}

/// Whether `slice` takes all of `type` but dim `dim`, with steps of 1.
bool slicesOnly(SliceOp slice, RankedTensorType type, int64_t dim) {
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (slice.getSteps()[d] != 1 ||
        (d != dim && (slice.getStarts()[d] != 0 ||
                      slice.getSizes()[d] != type.getDimSize(d))))
      return false;
  return true;
}

/// The constant scalar index `gather` takes along `dim` of a dim of `size`.
std::optional<int64_t> gatheredIndex(GatherOp gather, int64_t dim,
                                     int64_t size) {
  int64_t axis = gather.getAxis();
  if (axis < 0)
    axis += cast<RankedTensorType>(gather.getData().getType()).getRank();
  auto constant = gather.getIndices().getDefiningOp<ConstantOp>();
  auto type = cast<RankedTensorType>(gather.getIndices().getType());
  if (axis != dim || !constant || type.getRank() != 0)
    return std::nullopt;
  auto dense = dyn_cast<DenseIntElementsAttr>(constant.getValue());
  if (!dense)
    return std::nullopt;
  int64_t i = (*dense.begin()).getSExtValue();
  if (i < 0)
    i += size;
  if (i < 0 || i >= size)
    return std::nullopt;
  return i;
}

/// The parts of `end` (a fused projection's output, last dim `columns`),
/// two at least, in column order; none where any user reads more.
std::optional<Parts> findParts(Value end, int64_t columns) {
  auto endType = cast<RankedTensorType>(end.getType());
  Parts parts;
  Value read = end;
  int64_t dim = endType.getRank() - 1; // the dim the parts are taken along
  if (end.hasOneUse())
    if (auto reshape = dyn_cast<ReshapeOp>(*end.getUsers().begin())) {
      // [..., N] -> [..., P, rest...] with P * prod(rest) = N, the leading
      // dims the same but for unit dims.
      auto type = cast<RankedTensorType>(reshape.getType());
      if (!type.hasStaticShape())
        return std::nullopt;
      int64_t k = type.getRank(), product = 1;
      while (k > 0 && product < columns)
        product *= type.getDimSize(--k);
      if (product != columns || type.getDimSize(k) < 2 ||
          type.getDimSize(k) == columns ||
          nonUnit(type.getShape().take_front(k)) !=
              nonUnit(endType.getShape().drop_back()))
        return std::nullopt;
      parts.carriers.push_back(reshape);
      parts.partsDims.push_back(k);
      read = reshape.getResult();
      dim = k;
    }
  // Transposes and unit-dim reshapes carry the parts dim along.
  while (!parts.carriers.empty() && read.hasOneUse()) {
    Operation *user = *read.getUsers().begin();
    auto in = cast<RankedTensorType>(read.getType());
    if (auto transpose = dyn_cast<TransposeOp>(user)) {
      dim = llvm::find(transpose.getPerm(), dim) - transpose.getPerm().begin();
    } else if (auto reshape = dyn_cast<ReshapeOp>(user)) {
      auto out = cast<RankedTensorType>(reshape.getType());
      if (!out.hasStaticShape() ||
          nonUnit(out.getShape()) != nonUnit(in.getShape()))
        break;
      int64_t n = 0;
      for (int64_t d = 0; d < dim; ++d)
        n += in.getDimSize(d) != 1;
      dim = nthNonUnit(out.getShape(), n);
    } else {
      break;
    }
    parts.carriers.push_back(user);
    parts.partsDims.push_back(dim);
    read = user->getResult(0);
  }
  auto readType = cast<RankedTensorType>(read.getType());
  bool split = !parts.carriers.empty();
  int64_t count = split ? readType.getDimSize(dim) : 0;
  for (Operation *user : read.getUsers()) {
    auto slice = dyn_cast<SliceOp>(user);
    if (slice && slice.getInput() == read && slicesOnly(slice, readType, dim)) {
      int64_t start = slice.getStarts()[dim], size = slice.getSizes()[dim];
      if (!split && size < columns) {
        parts.parts.push_back({user, start, size});
        continue;
      }
      if (split && size == 1) {
        parts.parts.push_back(
            {user, start * (columns / count), columns / count});
        continue;
      }
      return std::nullopt;
    }
    auto gather = dyn_cast<GatherOp>(user);
    std::optional<int64_t> index;
    if (split && gather && gather.getData() == read)
      index = gatheredIndex(gather, dim, count);
    if (!index)
      return std::nullopt;
    parts.parts.push_back(
        {user, *index * (columns / count), columns / count});
  }
  if (parts.parts.size() < 2)
    return std::nullopt;
  // Parts in column order (the use list is in no particular order).
  llvm::stable_sort(parts.parts, [](const Part &a, const Part &b) {
    return a.start < b.start;
  });
  return parts;
}

/// `shape` without dim `dim`.
SmallVector<int64_t> without(ArrayRef<int64_t> shape, int64_t dim) {
  SmallVector<int64_t> out(shape);
  out.erase(out.begin() + dim);
  return out;
}

/// `cur`, one part's columns [..., size], as its selector's result: each
/// carrier replayed without the parts dim, and a unit dim where a slice
/// kept one.
Value finishPart(Parts &parts, const Part &part, Value cur, OpBuilder &b,
                 function_ref<Location(Location)> partLoc) {
  Type element = cast<RankedTensorType>(cur.getType()).getElementType();
  for (auto [op, dim] : llvm::zip(parts.carriers, parts.partsDims)) {
    auto out = cast<RankedTensorType>(op->getResult(0).getType());
    auto type = RankedTensorType::get(without(out.getShape(), dim), element);
    if (auto transpose = dyn_cast<TransposeOp>(op)) {
      // The input's parts dim is where this perm takes it from.
      int64_t from = transpose.getPerm()[dim];
      SmallVector<int64_t> perm;
      for (int64_t p : transpose.getPerm())
        if (p != from)
          perm.push_back(p > from ? p - 1 : p);
      cur = TransposeOp::create(b, partLoc(op->getLoc()), type, cur,
                                b.getDenseI64ArrayAttr(perm));
    } else {
      cur = ReshapeOp::create(b, partLoc(op->getLoc()), type, cur);
    }
  }
  Type result = part.selector->getResult(0).getType();
  if (cur.getType() != result)
    cur = ReshapeOp::create(b, partLoc(part.selector->getLoc()), result, cur);
  return cur;
}

struct SplitFusedProjectionsPass final
    : ::mlir::llmc::impl::SplitFusedProjectionsPassBase<
          SplitFusedProjectionsPass> {
  using Base::Base;

  /// The op after `cur` in a projection's chain, if it is one.
  std::optional<ChainStep> nextStep(func::FuncOp main, Value cur,
                                    int64_t columns) {
    if (!cur.hasOneUse())
      return std::nullopt;
    Operation *user = *cur.getUsers().begin();
    auto curType = cast<RankedTensorType>(cur.getType());
    if (auto reshape = dyn_cast<ReshapeOp>(user)) {
      auto out = cast<RankedTensorType>(reshape.getType());
      if (out.getRank() >= 1 && out.hasStaticShape() &&
          out.getShape().back() == columns)
        return ChainStep{user};
      return std::nullopt;
    }
    if (!isa<AddOp, SubOp, MulOp, DivOp>(user) || user->getResult(0).getType() != curType)
      return std::nullopt;
    int other = user->getOperand(0) == cur ? 1 : 0;
    if (user->getOperand(other) == cur)
      return std::nullopt;
    std::optional<Known> known = knownTensor(main, user->getOperand(other));
    if (!known || !cuttable(known->data))
      return std::nullopt;
    auto type = cast<RankedTensorType>(known->data.getType());
    if (type.getRank() > curType.getRank())
      return std::nullopt;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d)
      if (type.getDimSize(d) != 1)
        return std::nullopt;
    if (type.getRank() && type.getShape().back() != 1 &&
        type.getShape().back() != columns)
      return std::nullopt;
    return ChainStep{user, other};
  }

  void runOnOperation() override {
    llvm::StringSet<> kept;
    for (const std::string &name : keep)
      kept.insert(name);
    // @main in a compiled model; every function with weight arguments in
    // a test.
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      cutWeights_.clear();
      SmallVector<MatMulOp> projections;
      fn.walk([&](MatMulOp op) { projections.push_back(op); });
      for (MatMulOp op : projections)
        splitProjection(fn, op, kept);
      // Weights no projection reads any more.
      llvm::BitVector unused(fn.getNumArguments());
      for (BlockArgument arg : fn.getArguments())
        if (arg.use_empty() && cutWeights_.contains(arg))
          unused.set(arg.getArgNumber());
      if (unused.any() && failed(fn.eraseArguments(unused)))
        return signalPassFailure();
    }
  }

  /// A new weight argument holding `data`, named `name`.
  Value addWeight(func::FuncOp main, ElementsAttr data, Location loc) {
    unsigned index = main.getNumArguments();
    NamedAttribute weight(StringAttr::get(&getContext(), "llmc.weight"), data);
    if (failed(main.insertArgument(index, data.getType(),
                                   DictionaryAttr::get(&getContext(), {weight}),
                                   loc)))
      return {};
    return main.getArgument(index);
  }

  /// `known` cut along `dim` to [start, start + size): a new weight
  /// argument or a new constant before `before`.
  Value cutKnown(func::FuncOp main, const Known &known, int64_t dim,
                 int64_t start, int64_t size, OpBuilder &b, Location loc) {
    auto type = cast<RankedTensorType>(known.data.getType());
    std::string source = "constant";
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(known.data))
      source = resource.getRawHandle().getKey().str();
    ElementsAttr data =
        cut(known.data, dim, start, size,
            cutName(source, type.getRank(), dim, start, size));
    if (known.arg)
      return addWeight(main, data, loc);
    return ConstantOp::create(b, loc, data.getType(), data);
  }

  void splitProjection(func::FuncOp main, MatMulOp op,
                       const llvm::StringSet<> &kept) {
    // The weight: [K, N] or, read through a transpose, [N, K].
    Value rhs = op.getRhs();
    TransposeOp transpose = rhs.getDefiningOp<TransposeOp>();
    if (transpose) {
      if (transpose.getPerm() != ArrayRef<int64_t>{1, 0} || !rhs.hasOneUse())
        return;
      rhs = transpose.getInput();
    }
    std::optional<Known> weight = knownTensor(main, rhs);
    auto outType = cast<RankedTensorType>(op.getType());
    if (!weight || !weight->arg || !rhs.hasOneUse() ||
        !outType.hasStaticShape() || outType.getRank() < 2 ||
        cast<RankedTensorType>(rhs.getType()).getRank() != 2 ||
        !rawBytes(weight->data))
      return;
    auto resource = cast<DenseResourceElementsAttr>(weight->data);
    if (kept.contains(resource.getRawHandle().getKey()))
      return;
    int64_t columns = outType.getShape().back();
    int weightDim = transpose ? 0 : 1;

    // The chain from the projection to the slices.
    SmallVector<ChainStep> chain;
    Value end = op.getResult();
    while (std::optional<ChainStep> step = nextStep(main, end, columns)) {
      chain.push_back(*step);
      end = step->op->getResult(0);
    }
    std::optional<Parts> parts = findParts(end, columns);
    if (!parts)
      return;
    for (const Part &part : parts->parts) {
      int64_t start = part.start, size = part.size;
      OpBuilder b(part.selector);
      // Each part's ops are named after the ONNX node and their columns.
      std::string range =
          "[" + std::to_string(start) + ":" + std::to_string(start + size) + "]";
      auto partLoc = [&](Location loc) -> Location {
        return NameLoc::get(StringAttr::get(&getContext(), nodeName(loc) + range),
                            loc);
      };
      Location loc = partLoc(op.getLoc());
      Value w = cutKnown(main, *weight, weightDim, start, size, b, loc);
      if (!w)
        return signalPassFailure();
      if (transpose) {
        auto cutType = cast<RankedTensorType>(w.getType());
        w = TransposeOp::create(
            b, partLoc(transpose.getLoc()),
            RankedTensorType::get(
                {cutType.getDimSize(1), cutType.getDimSize(0)},
                cutType.getElementType()),
            w, transpose.getPermAttr());
      }
      Value cur = MatMulOp::create(b, loc, withLastDim(outType, size),
                                   op.getLhs(), w);
      for (const ChainStep &step : chain) {
        IRMapping map;
        map.map(step.op->getOperand(step.known < 0 ? 0 : 1 - step.known), cur);
        if (step.known >= 0) {
          Value operand = step.op->getOperand(step.known);
          std::optional<Known> known = knownTensor(main, operand);
          auto type = cast<RankedTensorType>(known->data.getType());
          if (type.getRank() && type.getShape().back() == columns) {
            Value part = cutKnown(main, *known, type.getRank() - 1, start,
                                  size, b, partLoc(step.op->getLoc()));
            if (!part)
              return signalPassFailure();
            map.map(operand, part);
            if (known->arg)
              cutWeights_.insert(known->arg);
          }
        }
        Operation *clone = b.clone(*step.op, map);
        clone->setLoc(partLoc(step.op->getLoc()));
        clone->getResult(0).setType(
            withLastDim(step.op->getResult(0).getType(), size));
        cur = clone->getResult(0);
      }
      cur = finishPart(*parts, part, cur, b, partLoc);
      part.selector->getResult(0).replaceAllUsesWith(cur);
      part.selector->erase();
    }
    for (Operation *carrier : llvm::reverse(parts->carriers))
      carrier->erase();
    for (const ChainStep &step : llvm::reverse(chain)) {
      Operation *known =
          step.known >= 0 ? step.op->getOperand(step.known).getDefiningOp()
                          : nullptr;
      step.op->erase();
      if (known && known->use_empty())
        known->erase();
    }
    op.erase();
    if (transpose)
      transpose.erase();
    cutWeights_.insert(weight->arg);
  }

  DenseSet<Value> cutWeights_;
};
} // namespace
