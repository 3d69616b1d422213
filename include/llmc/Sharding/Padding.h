//===- Padding.h - Which tensor dims padding a dim can reach ---*- C++ -*-===//
//
// Plain C++ over the sharding planner's description of a program (its ops
// by their factors): may inputs padded at the end of one dim run, so that
// the part of every result that the unpadded inputs would give is what it
// would be? `llmc compile --dynamic` asks this of each dim it pads.
//
// Padding flows forward from the padded input dims: through an op, a padded
// operand dim's factor becomes padded, and so does every result dim that
// follows that factor. It is safe only while each padded factor is a
// parallel loop of every op it reaches: a reduction over it (a softmax's or
// a matmul's k), a dim taken whole (broadcast, gathered, windowed, sliced),
// a blocked factor (a compound or absolute index: a convolution window, a
// concat offset) or a result that drops a parallel padded factor (a
// scatter) would let padding reach a kept element, and the analysis says
// which op and why.
//
// A dim may be merged with others by a reshape: the padded dim is then the
// outer part of a larger dim, whose size is the padded size times a scale.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_SHARDING_PADDING_H
#define LLMC_SHARDING_PADDING_H

#include "llmc/Sharding/ShardingPlanner.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace llmc::sharding {

struct PaddingResult {
  bool safe = true;
  /// When not safe: the op (index into Problem::ops) and why, e.g.
  /// "node 'Softmax_3' (graph.softmax) reduces over it".
  int op = -1;
  std::string why;
  /// Per tensor, per dim: 0 when padding does not reach it, else the
  /// scale: the dim is the padded dim's size times `scale` (1 unless a
  /// reshape merged inner dims into it).
  std::vector<std::vector<int64_t>> scale;
};

/// Pads dims `seeds` (tensor id, dim), each the padded size `size` (at
/// least 2) or a multiple of it (a constant holding several positions per
/// row), and follows the padding through `problem`'s ops.
PaddingResult analysePadding(const Problem &problem,
                             const std::vector<std::pair<int, int>> &seeds,
                             int64_t size);

} // namespace llmc::sharding

#endif // LLMC_SHARDING_PADDING_H
