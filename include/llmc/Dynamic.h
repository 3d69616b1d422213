//===- Dynamic.h - One artifact for a range of sizes (--dynamic) -*- C++ -*-===//
//
// `llmc compile M --dynamic batch=1..64,seq=1..512` compiles a model whose
// inputs have symbolic dims into one artifact that runs every size in the
// ranges. The compiler chooses the variants (static specialisations) it
// holds:
//
//  * a dim that padding provably cannot change (llmc/Passes/Padding.h: it
//    reaches only parallel loops, and the model does not compute with its
//    size) is *padded*: variants at the range's ends and the powers of two
//    between (coarser when the ranges would need more than kMaxVariants);
//    the runtime runs a size on the smallest variant that holds it, inputs
//    zero-padded, outputs cut back;
//  * any other dim (one that attention's softmax or a mean reduces over) is
//    *exact*: a variant for every size in its range.
//
// The variants share the weights (each distinct weight is stored once).
// See docs/llm-inference.md.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DYNAMIC_H
#define LLMC_DYNAMIC_H

#include "llmc/Codegen/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/LogicalResult.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::llmc {

/// The most variants one dynamic artifact holds.
inline constexpr int64_t kMaxVariants = 64;

/// One `--dynamic` entry: a symbolic dim of the model's inputs, or
/// INPUT:AXIS, and its range.
struct DynamicRange {
  std::string name;
  int64_t min = 1, max = 1;
};

/// Parses "batch=1..64,seq=1..4096" (or "x:0=1..8"); false with a one-line
/// `error` (naming --dynamic) otherwise.
bool parseDynamic(const std::string &text, std::vector<DynamicRange> &ranges,
                  std::string &error);

/// Whether `big` (a model's @main with dims at size `bigSize`) run on
/// inputs padded at the end of dims `inputDims` (argument, axis) from
/// `smallSize` gives, in the kept part of every result, what `small` (the
/// same model at `smallSize`) gives: the padding analysis and the
/// translation check of llmc/Passes/Padding.h, after the graph phase's
/// simplifications, which this runs on both modules (give copies).
/// Failure after an error when a pass fails; false with `why` when padding
/// is not proven; true with each output's dims' scales (0: not padded).
FailureOr<bool>
provePadding(ModuleOp big, ModuleOp small,
             const std::vector<std::pair<unsigned, unsigned>> &inputDims,
             int64_t bigSize, int64_t smallSize, std::string &why,
             std::vector<std::vector<int64_t>> *outputScales = nullptr);

/// Compiles the ONNX model held in `buffer` (`path` names it in messages
/// and finds external data) into the dynamic artifact at `artifactPath`.
/// Fails after one error naming the file. `summary`, when given, gets what
/// the compiler decided: each dim padded or exact (and why) and the
/// variants, with each variant's estimated time and peak memory.
LogicalResult compileDynamic(MLIRContext &context, llvm::StringRef buffer,
                             llvm::StringRef path,
                             const std::vector<DynamicRange> &ranges,
                             const PipelineOptions &options,
                             llvm::StringRef artifactPath,
                             std::string *summary = nullptr);

} // namespace mlir::llmc

#endif // LLMC_DYNAMIC_H
