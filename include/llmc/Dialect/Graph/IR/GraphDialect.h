//===- GraphDialect.h - The graph dialect ----------------------*- C++ -*-===//

#ifndef LLMC_DIALECT_GRAPH_IR_GRAPHDIALECT_H
#define LLMC_DIALECT_GRAPH_IR_GRAPHDIALECT_H

#include "mlir/IR/Dialect.h"

#include "llmc/Dialect/Graph/IR/GraphOpsDialect.h.inc"

#endif // LLMC_DIALECT_GRAPH_IR_GRAPHDIALECT_H
