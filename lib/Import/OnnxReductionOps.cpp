//===- OnnxReductionOps.cpp - Importers of ONNX reductions ----------------===//
//
// The Reduce* family, ArgMax/ArgMin, CumSum and TopK. Axes given as inputs
// (newer opsets) must be known at compile time; all axes reach the graph
// ops normalized, and reduction axes also sorted and unique.
//
//===----------------------------------------------------------------------===//

#include "OnnxImportContext.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

namespace {
using Results = FailureOr<SmallVector<Value>>;

/// Wraps `importer` with a check that input 0 is present: models of opsets
/// newer than libonnx's checker may omit it.
OpImporter needsInput(OpImporter importer) {
  return [importer = std::move(importer)](NodeContext &c) -> Results {
    if (!c.hasInput(0)) {
      c.emitError("required input 0 is missing");
      return failure();
    }
    return importer(c);
  };
}

/// The axis of a single-axis op on input 0, normalized; it needs rank >= 1.
FailureOr<int64_t> inputAxis(NodeContext &c, int64_t axis) {
  int64_t rank = c.inputType(0).getRank();
  if (rank == 0) {
    c.emitError("input must have rank >= 1");
    return failure();
  }
  return c.normalizeAxis(axis, rank);
}

/// A Reduce* importer of graph.reduce `kind`; from opset `axesInputSince`
/// on, the axes are optional input 1 rather than an attribute.
OpImporter reduce(StringRef kind, int64_t axesInputSince) {
  return [kind = kind.str(), axesInputSince](NodeContext &c) -> Results {
    Value x = c.input(0);
    int64_t rank = c.inputType(0).getRank();
    SmallVector<int64_t> axes;
    bool noopWithEmptyAxes = false;
    if (c.opset >= axesInputSince) {
      noopWithEmptyAxes = c.getInt("noop_with_empty_axes", 0) != 0;
      // An empty axes tensor is known from its type alone.
      if (c.hasInput(1) && c.inputType(1).getNumElements() != 0) {
        FailureOr<SmallVector<int64_t>> given = c.constantInts(1, "axes");
        if (failed(given))
          return failure();
        axes = std::move(*given);
      }
    } else {
      axes = c.getInts("axes");
    }
    if (axes.empty()) {
      if (noopWithEmptyAxes)
        return single(x);
      axes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    }
    for (int64_t &axis : axes) {
      FailureOr<int64_t> a = c.normalizeAxis(axis, rank);
      if (failed(a))
        return failure();
      axis = *a;
    }
    llvm::sort(axes);
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
    bool keepdims = c.getInt("keepdims", 1) != 0;
    // graph.reduce with no axes is the identity, but reducing a 0-D tensor
    // still applies the kind (l2 = |x|, ...): reduce it as a 1-element 1-D.
    if (rank == 0) {
      auto type = c.inputType(0);
      x = g::ReshapeOp::create(c.b, c.loc, type.clone(ArrayRef<int64_t>{1}), x);
      axes.assign({0});
      keepdims = false;
    }
    // Booleans (ReduceMax/ReduceMin from opset 20: any / all) reduce as
    // uint8, cast back.
    auto xt = cast<RankedTensorType>(x.getType());
    if (xt.getElementType().isInteger(1) && (kind == "max" || kind == "min")) {
      Type u8 = IntegerType::get(c.b.getContext(), 8, IntegerType::Unsigned);
      Value wide = g::CastOp::create(c.b, c.loc, xt.clone(u8), x);
      Value r = g::ReduceOp::create(c.b, c.loc, wide, kind, axes, keepdims);
      return single(g::CastOp::create(
          c.b, c.loc,
          cast<RankedTensorType>(r.getType()).clone(xt.getElementType()), r));
    }
    return single(g::ReduceOp::create(c.b, c.loc, x, kind, axes, keepdims));
  };
}

/// ArgMax / ArgMin.
OpImporter argReduce(StringRef kind) {
  return [kind = kind.str()](NodeContext &c) -> Results {
    FailureOr<int64_t> axis = inputAxis(c, c.getInt("axis", 0));
    if (failed(axis))
      return failure();
    return single(g::ArgReduceOp::create(
        c.b, c.loc, c.input(0), c.b.getStringAttr(kind),
        c.b.getI64IntegerAttr(*axis),
        c.b.getBoolAttr(c.getInt("keepdims", 1) != 0),
        c.b.getBoolAttr(c.getInt("select_last_index", 0) != 0)));
  };
}

Results importCumSum(NodeContext &c) {
  FailureOr<SmallVector<int64_t>> given = c.constantInts(1, "CumSum axis");
  if (failed(given))
    return failure();
  if (given->size() != 1) {
    c.emitError("CumSum axis must hold one value, got ") << given->size();
    return failure();
  }
  FailureOr<int64_t> axis = inputAxis(c, given->front());
  if (failed(axis))
    return failure();
  Value x = c.input(0);
  return single(g::CumSumOp::create(
      c.b, c.loc, x.getType(), x, c.b.getI64IntegerAttr(*axis),
      c.b.getBoolAttr(c.getInt("exclusive", 0) != 0),
      c.b.getBoolAttr(c.getInt("reverse", 0) != 0)));
}

Results importTopK(NodeContext &c) {
  int64_t k;
  if (c.opset < 10) {
    if (!c.hasAttr("k")) {
      c.emitError("TopK needs attribute k");
      return failure();
    }
    k = c.getInt("k", 0);
  } else {
    FailureOr<SmallVector<int64_t>> given = c.constantInts(1, "TopK K");
    if (failed(given))
      return failure();
    if (given->size() != 1) {
      c.emitError("TopK K must hold one value, got ") << given->size();
      return failure();
    }
    k = given->front();
  }
  FailureOr<int64_t> axis = inputAxis(c, c.getInt("axis", -1));
  if (failed(axis))
    return failure();
  int64_t size = c.inputType(0).getDimSize(*axis);
  if (k < 0 || k > size) {
    c.emitError("TopK K = ")
        << k << " is out of range for axis " << *axis << " of size " << size;
    return failure();
  }
  auto op = g::TopKOp::create(c.b, c.loc, c.input(0), c.b.getI64IntegerAttr(k),
                              c.b.getI64IntegerAttr(*axis),
                              c.b.getBoolAttr(c.getInt("largest", 1) != 0),
                              c.b.getBoolAttr(c.getInt("sorted", 1) != 0));
  return SmallVector<Value>{op.getValues(), op.getIndices()};
}
} // namespace

void mlir::llmc::onnximport::registerReductionOps(OpImporterRegistry &r) {
  auto add = [&](StringRef opType, OpImporter importer) {
    r.add(opType, needsInput(std::move(importer)));
  };
  // ReduceSum took its axes as an input from opset 13, the others from 18.
  add("ReduceSum", reduce("sum", 13));
  add("ReduceMean", reduce("mean", 18));
  add("ReduceMax", reduce("max", 18));
  add("ReduceMin", reduce("min", 18));
  add("ReduceProd", reduce("prod", 18));
  add("ReduceL1", reduce("l1", 18));
  add("ReduceL2", reduce("l2", 18));
  add("ReduceLogSum", reduce("log_sum", 18));
  add("ReduceLogSumExp", reduce("log_sum_exp", 18));
  add("ReduceSumSquare", reduce("sum_square", 18));
  add("ArgMax", argReduce("max"));
  add("ArgMin", argReduce("min"));
  add("CumSum", importCumSum);
  add("TopK", importTopK);
}
