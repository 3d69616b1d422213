//===- CpuObject.h - LLVM-dialect modules to native shared objects -*- C++ -*-===//

#ifndef LLMC_CODEGEN_CPUOBJECT_H
#define LLMC_CODEGEN_CPUOBJECT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::llmc {

/// Name of the packed entry point the shared object exports:
/// `void llmc_entry(void **args)`, one pointer per memref descriptor of
/// @main's C interface (inputs, weights, outputs).
inline constexpr llvm::StringLiteral kCpuEntryName = "llmc_entry";

/// Translates an LLVM-dialect module to LLVM IR, adds the packed entry
/// point, optimizes (O3) and compiles it for the host CPU as
/// position-independent code, and links it into an ELF shared object with
/// lld. Emits an error on `module` and fails otherwise.
FailureOr<std::string> emitCpuSharedObject(ModuleOp module);

} // namespace mlir::llmc

#endif // LLMC_CODEGEN_CPUOBJECT_H
