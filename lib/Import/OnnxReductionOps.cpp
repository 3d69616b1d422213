//===- OnnxReductionOps.cpp - Importers of ONNX Reduction ops ---------------------===//

#include "OnnxImportContext.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

void mlir::llmc::onnximport::registerReductionOps(OpImporterRegistry &r) {}
