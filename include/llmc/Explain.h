//===- Explain.h - What the compiler decided, kernel by kernel -*- C++ -*-===//
//
// `llmc explain`: every kernel of a model after fusion (a fusion group, a
// library call, or an op that runs alone), the ONNX nodes it holds, the bytes
// it moves, its FLOPs and its time by the roofline model of the target.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_EXPLAIN_H
#define LLMC_EXPLAIN_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir::llmc {

/// A target's figures for the roofline model (one table, in Explain.cpp).
struct RooflineTarget {
  const char *name;
  double bytesPerSecond; ///< DRAM bandwidth
  double flopsPerSecond; ///< fp32 peak (no tensor cores)
  double launchSeconds;  ///< fixed cost of one kernel launch or call
};

/// The ONNX node names `loc` carries (NameLocs, through fused and call-site
/// locations), in order, each once.
std::vector<std::string> onnxNodeNames(Location loc);

/// The roofline figures of `target` ("cpu", "cuda", "cuda:sm_80"...), or
/// null if unknown.
const RooflineTarget *lookupRooflineTarget(llvm::StringRef target);

struct KernelReport {
  std::string name;               ///< kernel0, kernel1...
  std::string kind;               ///< loop, row, column, library, op
  std::string op;                 ///< the graph op for library/op kernels
  std::string epilogue;           ///< a library call's folded epilogue
  std::vector<std::string> nodes; ///< ONNX node names, in order
  int64_t bytesIn = 0, bytesOut = 0, flops = 0;
  double seconds = 0;             ///< roofline estimate
  bool memoryBound = true;
};

struct ModelReport {
  std::string target;
  std::vector<KernelReport> kernels;
  int64_t bytes = 0, flops = 0, peakBytes = 0;
  double seconds = 0;
  /// A partitioned program's sharding plan (llmc-propagate-sharding's
  /// `llmc.sharding_plan`, JSON): mesh, strategy, per tensor sharding and
  /// reason, collectives with bytes and link time, weights per device. The
  /// kernels and peakBytes above are then one device's.
  std::string shardingJson;
};

/// Reports the kernels of @main of a module after the graph phase (fusion
/// groups formed or not).
ModelReport explainModule(ModuleOp module, const RooflineTarget &target);

/// A library call that the CUDA program runs with a kernel of the plan
/// folded in (a cuBLASLt GEMM epilogue, a cuDNN fused convolution): the
/// ONNX nodes of the call and the kernel together, and the epilogue's name.
struct LibraryEpilogue {
  std::vector<std::string> nodes;
  std::string kind;
};

/// Merges into its library call each kernel of `report` that `epilogues`
/// says is folded: the call then reads what both read but the call's own
/// result, writes what the kernel wrote, and is one kernel. A fold that
/// does not name exactly one library kernel and one other kernel of the
/// report is left out.
void foldLibraryEpilogues(ModelReport &report,
                          llvm::ArrayRef<LibraryEpilogue> epilogues,
                          const RooflineTarget &target);

void printReportText(const ModelReport &report, llvm::raw_ostream &os);
void printReportJson(const ModelReport &report, llvm::raw_ostream &os);

} // namespace mlir::llmc

#endif // LLMC_EXPLAIN_H
