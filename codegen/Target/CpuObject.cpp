//===- CpuObject.cpp - LLVM-dialect modules to native shared objects ------===//
//
// The CPU artifact's code: LLVM IR from the LLVM dialect, optimized and
// compiled by LLVM for the host, then linked by lld (from Debian's lld-22,
// found at configure time) into a shared object that the runtime dlopens.
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/CpuObject.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#ifndef LLMC_LLD_PATH
#define LLMC_LLD_PATH "ld.lld"
#endif

using namespace mlir;

/// `void llmc_entry(void **args)` calling `_mlir_ciface_main(args[0], ...)`,
/// so the runtime can call code of any arity.
static LogicalResult addPackedEntry(llvm::Module &module, ModuleOp op) {
  llvm::Function *main = module.getFunction("_mlir_ciface_main");
  if (!main)
    return op.emitError("no _mlir_ciface_main: @main must carry "
                        "llvm.emit_c_interface");
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptr = llvm::PointerType::get(ctx, 0);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr},
                                       /*isVarArg=*/false);
  auto *entry = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                                       llmc::kCpuEntryName.str(), module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
  SmallVector<llvm::Value *> args;
  for (unsigned i = 0; i < main->arg_size(); ++i)
    args.push_back(
        b.CreateLoad(ptr, b.CreateConstGEP1_64(ptr, entry->getArg(0), i)));
  b.CreateCall(main, args);
  b.CreateRetVoid();
  // Only the entry is exported: the rest is internal, so that nothing in
  // the shared object can clash with (or bind to) symbols of the process
  // that loads it, such as its own `main`.
  for (llvm::Function &f : module)
    if (!f.isDeclaration() && &f != entry)
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
  for (llvm::GlobalVariable &g : module.globals())
    if (!g.isDeclaration())
      g.setLinkage(llvm::GlobalValue::InternalLinkage);
  return success();
}

FailureOr<std::string> mlir::llmc::emitCpuSharedObject(ModuleOp op) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*op.getContext());
  registerLLVMDialectTranslation(*op.getContext());

  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> module = translateModuleToLLVMIR(op, ctx);
  if (!module)
    return op.emitError("cannot translate the module to LLVM IR"), failure();
  if (failed(addPackedEntry(*module, op)))
    return failure();

  std::string triple = llvm::sys::getProcessTriple(), error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return op.emitError("no LLVM target for ") << triple << ": " << error,
           failure();
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), llvm::sys::getHostCPUName(), "", options,
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  module->setDataLayout(machine->createDataLayout());
  module->setTargetTriple(llvm::Triple(triple));
  if (llvm::Error err =
          makeOptimizingTransformer(3, 0, machine.get())(module.get()))
    return op.emitError("LLVM optimization failed: ")
               << llvm::toString(std::move(err)),
           failure();

  // Object file, then a shared object, through temporary files.
  SmallString<128> objPath, soPath;
  int objFd;
  if (llvm::sys::fs::createTemporaryFile("llmc", "o", objFd, objPath) ||
      llvm::sys::fs::createTemporaryFile("llmc", "so", soPath))
    return op.emitError("cannot create temporary files"), failure();
  llvm::FileRemover removeObj(objPath), removeSo(soPath);
  {
    llvm::raw_fd_ostream out(objFd, /*shouldClose=*/true);
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, out, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return op.emitError("LLVM cannot emit an object file for ") << triple,
             failure();
    pm.run(*module);
  }
  StringRef lld = LLMC_LLD_PATH;
  SmallVector<StringRef> argv{lld,  "-shared", "-Bsymbolic", "-z",
                              "noexecstack", "-o", soPath, objPath};
  std::string linkError;
  if (llvm::sys::ExecuteAndWait(lld, argv, std::nullopt, {}, 0, 0,
                                &linkError) != 0)
    return op.emitError("linking the shared object with ")
               << lld << " failed" << (linkError.empty() ? "" : ": ")
               << linkError,
           failure();
  auto buffer = llvm::MemoryBuffer::getFile(soPath, /*IsText=*/false);
  if (!buffer)
    return op.emitError("cannot read the linked shared object"), failure();
  return (*buffer)->getBuffer().str();
}
