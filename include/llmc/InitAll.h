//===- InitAll.h - Registration of every dialect and pass ------*- C++ -*-===//

#ifndef LLMC_INITALL_H
#define LLMC_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir::llmc {
/// Registers the dialects llmc parses and produces, with their interfaces.
void registerAllDialects(DialectRegistry &registry);
/// Registers llmc's passes and the upstream passes its pipelines use.
void registerAllPasses();
} // namespace mlir::llmc

#endif // LLMC_INITALL_H
