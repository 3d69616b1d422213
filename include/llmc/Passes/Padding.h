//===- Padding.h - May a dim of @main's inputs be padded? ------*- C++ -*-===//
//
// What `llmc compile --dynamic` asks of a model specialised at two sizes of
// one dim: does running it padded (inputs zero-padded at the end of the
// dim, outputs cut back) give what the model gives at the smaller size?
//
//  1. The padding analysis (llmc/Sharding/Padding.h) over @main at the
//     padded size, as the sharding planner describes it: the dim may reach
//     only parallel loops, never a reduction, a window, a gather, a slice.
//  2. A translation check against @main specialised at a smaller size: the
//     same ops with the same attributes, every shape equal except in the
//     dims that the analysis found padded (scaled by the sizes), and every
//     constant whose shape follows the dim equal on the smaller size's part
//     (a causal mask, position tables: prefix-consistent). A model that
//     computes with the size itself (a mean by hand, a last-token slice)
//     fails here.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_PADDING_H
#define LLMC_PASSES_PADDING_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mlir::llmc {

struct PaddingCheck {
  bool safe = false;
  /// When not safe: why, naming the node.
  std::string why;
  /// Per result of @main, per dim: 0, or the scale of the padded dim it is.
  std::vector<std::vector<int64_t>> outputScales;
  /// Per op of @main in order, per result, per dim: 0 or the scale; and per
  /// argument. For the translation check.
  std::vector<std::vector<std::vector<int64_t>>> opScales;
  std::vector<std::vector<int64_t>> argumentScales;
};

/// Step 1: pads dims `inputDims` (argument number, dim) of @main, each of
/// size `size`, and the dims `constantDims` of constants that follow the
/// dim (their sizes are multiples of `size`; what the matching of step 2
/// finds). `main` is the graph phase's function before fusion.
PaddingCheck
analysePadding(func::FuncOp main,
               const std::vector<std::pair<unsigned, unsigned>> &inputDims,
               int64_t size,
               const std::vector<std::pair<Value, unsigned>> &constantDims = {});

/// Step 2: `padded` (at size `size`) and `smaller` (the same model at
/// `smallerSize`) agree as described above; otherwise false with `why`.
/// Without `check` it only matches the two (same ops, constants equal on
/// the smaller one's part) and adds the constants' dims that follow the
/// dim to `constantDims`; with `check` (step 1's) it also checks every
/// shape and attribute against the padded dims it found.
bool sameUpToPadding(
    func::FuncOp padded, func::FuncOp smaller, const PaddingCheck *check,
    int64_t size, int64_t smallerSize, std::string &why,
    std::vector<std::pair<Value, unsigned>> *constantDims = nullptr);

} // namespace mlir::llmc

#endif // LLMC_PASSES_PADDING_H
