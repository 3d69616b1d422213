//===- OnnxTensorOps.cpp - Importers of ONNX Tensor ops ---------------------===//

#include "OnnxImportContext.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

void mlir::llmc::onnximport::registerTensorOps(OpImporterRegistry &r) {}
