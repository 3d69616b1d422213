//===- OnnxImportContext.h - What an ONNX op importer sees -----*- C++ -*-===//
//
// Private to lib/Import: the context handed to the small function that
// imports one ONNX operator, and the table those functions register in.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_IMPORT_ONNXIMPORTCONTEXT_H
#define LLMC_LIB_IMPORT_ONNXIMPORTCONTEXT_H

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <optional>

namespace mlir::llmc::onnximport {

/// ONNX element types newer than Debian's libonnx 1.12 (onnx.proto's
/// numbers).
constexpr int32_t kOnnxFloat8E4M3FN = 17, kOnnxFloat8E4M3FNUZ = 18,
                  kOnnxFloat8E5M2 = 19, kOnnxFloat8E5M2FNUZ = 20,
                  kOnnxUInt4 = 21, kOnnxInt4 = 22, kOnnxFloat4E2M1 = 23;

/// ONNX's name of element type `t` ("FLOAT8E8M0"), or "type N".
std::string onnxTypeName(int32_t t);

class ModelImporter;

/// The view of one ONNX node that an op importer works with.
class NodeContext {
public:
  NodeContext(ModelImporter &importer, const onnx::NodeProto &node,
              OpBuilder &builder, Location loc, int64_t opset)
      : importer(importer), node(node), b(builder), loc(loc), opset(opset) {}

  ModelImporter &importer;
  const onnx::NodeProto &node;
  OpBuilder &b;
  Location loc;
  int64_t opset; ///< version of the default ONNX domain in the model

  /// Number of inputs listed, including empty optional ones.
  unsigned numInputs() const { return node.input_size(); }
  /// True when input `i` is listed and not the empty name.
  bool hasInput(unsigned i) const {
    return static_cast<int>(i) < node.input_size() && !node.input(i).empty();
  }
  /// The value of input `i`, or a null value when absent.
  Value input(unsigned i) const;
  RankedTensorType inputType(unsigned i) const {
    return cast<RankedTensorType>(input(i).getType());
  }
  /// Number of outputs listed; hasOutput(i) when one is wanted.
  unsigned numOutputs() const { return node.output_size(); }
  bool hasOutput(unsigned i) const {
    return static_cast<int>(i) < node.output_size() && !node.output(i).empty();
  }

  /// The value of input `i` when it is known at compile time: an
  /// initializer, a Constant, a folded subgraph, or a graph input whose data
  /// was given. Emits an error naming `what` otherwise.
  FailureOr<DenseElementsAttr> constantInput(unsigned i, llvm::StringRef what);
  FailureOr<SmallVector<int64_t>> constantInts(unsigned i, llvm::StringRef what);
  FailureOr<SmallVector<double>> constantFloats(unsigned i,
                                                llvm::StringRef what);
  /// Input `i`'s integers when known at compile time (as constantInput
  /// finds them), else nothing; no error either way.
  std::optional<SmallVector<int64_t>> knownInts(unsigned i) const;

  bool hasAttr(llvm::StringRef name) const { return findAttr(name); }
  /// The attribute itself, or null (for attributes whose type varies by
  /// opset, such as Cast's `to`).
  const onnx::AttributeProto *getAttr(llvm::StringRef name) const {
    return findAttr(name);
  }
  int64_t getInt(llvm::StringRef name, int64_t defaultValue) const;
  double getFloat(llvm::StringRef name, double defaultValue) const;
  std::string getString(llvm::StringRef name,
                        llvm::StringRef defaultValue) const;
  SmallVector<int64_t> getInts(llvm::StringRef name,
                               ArrayRef<int64_t> defaultValue = {}) const;
  SmallVector<double> getFloats(llvm::StringRef name,
                                ArrayRef<double> defaultValue = {}) const;
  /// A tensor-valued attribute (e.g. Constant's `value`).
  FailureOr<ElementsAttr> getTensorAttr(llvm::StringRef name);

  /// Imports this node as `body`, an ONNX function in the text syntax whose
  /// formal inputs are the node's present inputs in order and whose outputs
  /// are the node's: for ops libonnx 1.12 has no schema for, written with
  /// their attributes and shapes resolved (OnnxLlmOps.cpp). One value per
  /// node output (null where the node does not ask for it).
  FailureOr<SmallVector<Value>> expandBody(const std::string &body);

  /// Emits an error at this node; the message gets the node's name.
  InFlightDiagnostic emitError(const llvm::Twine &message) const;
  /// Normalizes a possibly negative axis into [0, rank); error otherwise.
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank) const;

  /// MLIR element type of an ONNX TensorProto data type; null if unsupported.
  Type elementType(int32_t onnxType) const;
  /// A rank-0 or 1-D constant of the given element type.
  Value scalarConstant(Type elementType, double value) const;
  Value intsConstant(ArrayRef<int64_t> values) const;

private:
  const onnx::AttributeProto *findAttr(llvm::StringRef name) const;
};

/// Imports one node: returns one value per output it produced (trailing
/// outputs the node does not ask for may be omitted), or failure after
/// emitting an error.
using OpImporter = std::function<FailureOr<SmallVector<Value>>(NodeContext &)>;

/// The table of op importers, keyed by (domain, op type), each valid for an
/// opset range.
class OpImporterRegistry {
public:
  void add(llvm::StringRef opType, int64_t minOpset, int64_t maxOpset,
           OpImporter importer);
  void add(llvm::StringRef opType, OpImporter importer) {
    add(opType, 1, kMaxOpset, std::move(importer));
  }
  /// The importer for `opType` at `opset`, or null.
  const OpImporter *lookup(llvm::StringRef opType, int64_t opset) const;

  static constexpr int64_t kMaxOpset = 24;

private:
  struct Entry {
    int64_t minOpset, maxOpset;
    OpImporter importer;
  };
  llvm::StringMap<SmallVector<Entry, 1>> table;
};

// One registration function per op family (OnnxMathOps.cpp, ...).
void registerMathOps(OpImporterRegistry &registry);
void registerNNOps(OpImporterRegistry &registry);
void registerTensorOps(OpImporterRegistry &registry);
void registerReductionOps(OpImporterRegistry &registry);
void registerLlmOps(OpImporterRegistry &registry);
void registerQuantOps(OpImporterRegistry &registry);
void registerRnnOps(OpImporterRegistry &registry);
void registerGridSample(OpImporterRegistry &registry);
void registerSignalOps(OpImporterRegistry &registry);

/// Helper for single-result importers.
inline FailureOr<SmallVector<Value>> single(Value v) {
  return SmallVector<Value>{v};
}

/// Wraps `importer` with a check that its first `n` inputs are present:
/// models of opsets newer than libonnx's checker may omit required ones.
inline OpImporter needs(unsigned n, OpImporter importer) {
  return [n, importer = std::move(importer)](NodeContext &c)
             -> FailureOr<SmallVector<Value>> {
    for (unsigned i = 0; i < n; ++i)
      if (!c.hasInput(i)) {
        c.emitError("required input ") << i << " is missing";
        return failure();
      }
    return importer(c);
  };
}

} // namespace mlir::llmc::onnximport

#endif // LLMC_LIB_IMPORT_ONNXIMPORTCONTEXT_H
