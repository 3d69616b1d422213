//===- llmc-opt.cpp - Runs any llmc or upstream pass on .mlir -------------===//

#include "llmc/InitAll.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::llmc::registerAllDialects(registry);
  mlir::llmc::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "llmc optimizer driver\n", registry));
}
