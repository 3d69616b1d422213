//===- GraphDialect.cpp - The graph dialect -------------------------------===//

#include "llmc/Dialect/Graph/IR/GraphDialect.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace mlir::llmc::graph;

#include "llmc/Dialect/Graph/IR/GraphOpsDialect.cpp.inc"

void GraphDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "llmc/Dialect/Graph/IR/GraphOps.cpp.inc"
      >();
}

Operation *GraphDialect::materializeConstant(OpBuilder &builder,
                                             Attribute value, Type type,
                                             Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, type, elements);
}
