//===- OnnxNNOps.cpp - Importers of ONNX NN ops ---------------------===//

#include "OnnxImportContext.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

void mlir::llmc::onnximport::registerNNOps(OpImporterRegistry &r) {}
