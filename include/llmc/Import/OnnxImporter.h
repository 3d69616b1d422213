//===- OnnxImporter.h - ONNX models to the graph dialect -------*- C++ -*-===//
//
// Imports an ONNX model (binary protobuf, or ONNX text format for files
// ending in .onnxtxt) into a module holding `func.func @main` in the graph
// dialect. Dims left symbolic in the model are specialised from the inputs
// given; inputs whose values set a shape (Reshape's shape, Slice's starts...)
// are folded to constants when their data is given.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORT_ONNXIMPORTER_H
#define LLMC_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace mlir::llmc {

/// One input the model will run with: its shape and element type and,
/// when known at compile time, its data (row-major, element type's layout).
struct ImportInput {
  std::string name; ///< empty: the next graph input in order
  std::vector<int64_t> shape;
  Type elementType;
  std::vector<char> data; ///< empty when unknown
};

struct ImportOptions {
  std::vector<ImportInput> inputs;
};

/// Name of the argument and result attribute that holds the ONNX name.
inline constexpr llvm::StringLiteral kNameAttr = "llmc.name";

/// Imports `path`. On failure an error naming the file and the node has been
/// emitted through the context's diagnostic engine.
FailureOr<OwningOpRef<ModuleOp>> importOnnxModel(MLIRContext &context,
                                                 llvm::StringRef path,
                                                 const ImportOptions &options);

/// Imports a model held in memory (`path` is used in messages and to find
/// external data).
FailureOr<OwningOpRef<ModuleOp>>
importOnnxModelFromBuffer(MLIRContext &context, llvm::StringRef buffer,
                          llvm::StringRef path, const ImportOptions &options);

/// A model's declared inputs (initializers aside) and outputs.
struct OnnxInterface {
  struct Value {
    std::string name;
    int32_t onnxType = 0; ///< TensorProto data type number (0: unknown)
    bool ranked = false;  ///< the shape is declared
    std::vector<int64_t> shape;       ///< -1: symbolic or unknown
    std::vector<std::string> symbols; ///< per dim: its dim_param or ""
  };
  std::vector<Value> inputs, outputs;
};

/// Parses a model held in memory and reads its declared interface; failure
/// after an error naming the file.
FailureOr<OnnxInterface> readOnnxInterface(MLIRContext &context,
                                           llvm::StringRef buffer,
                                           llvm::StringRef path);

} // namespace mlir::llmc

#endif // LLMC_IMPORT_ONNXIMPORTER_H
