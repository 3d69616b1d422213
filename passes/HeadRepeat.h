//===- HeadRepeat.h - KV heads repeated for grouped queries -----*- C++ -*-===//
//
// Grouped-query attention repeats each KV head G times to meet the query
// heads (Llama's repeat_kv, repeat_interleave): a reshape adding a unit dim
// after the heads, a graph.broadcast_to of it to G, a reshape merging it into
// the heads. llmc-fold-grouped-heads and llmc-lift-attention both read
// through it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_HEADREPEAT_H
#define LLMC_PASSES_HEADREPEAT_H

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include <optional>

namespace mlir::llmc {

/// `x` [..., KVH * G, S, E] as the repeat of `heads` [..., KVH, S, E] (each
/// KV head G times in a row), when it is one.
struct HeadRepeat {
  Value heads;   // [..., KVH, S, E]
  int64_t group; // G
};

inline std::optional<HeadRepeat> matchHeadRepeat(Value x) {
  auto merged = x.getDefiningOp<graph::ReshapeOp>();
  if (!merged)
    return std::nullopt;
  auto broadcast = merged.getInput().getDefiningOp<graph::BroadcastToOp>();
  if (!broadcast)
    return std::nullopt;
  auto unit = broadcast.getInput().getDefiningOp<graph::ReshapeOp>();
  if (!unit)
    return std::nullopt;
  auto xType = cast<RankedTensorType>(x.getType());
  auto wide = cast<RankedTensorType>(broadcast.getType());
  auto narrow = cast<RankedTensorType>(broadcast.getInput().getType());
  auto heads = cast<RankedTensorType>(unit.getInput().getType());
  int64_t r = xType.getRank();
  if (r < 3 || wide.getRank() != r + 1 || narrow.getRank() != r + 1 ||
      heads.getRank() != r)
    return std::nullopt;
  int64_t h = r - 3; // the heads dim of x
  ArrayRef<int64_t> xs = xType.getShape(), ws = wide.getShape(),
                    ns = narrow.getShape(), hs = heads.getShape();
  // narrow: heads with a unit dim after the heads dim; wide: that dim G.
  for (int64_t d = 0; d <= r; ++d) {
    int64_t fromHeads = d <= h ? hs[d] : d == h + 1 ? 1 : hs[d - 1];
    if (ns[d] != fromHeads || (d != h + 1 && ws[d] != ns[d]))
      return std::nullopt;
  }
  int64_t group = ws[h + 1];
  // x merges (KVH, G) into the heads dim, the other dims unchanged.
  for (int64_t d = 0; d < r; ++d) {
    int64_t want = d < h ? ws[d] : d == h ? ws[h] * group : ws[d + 1];
    if (xs[d] != want)
      return std::nullopt;
  }
  if (group <= 1)
    return std::nullopt;
  return HeadRepeat{unit.getInput(), group};
}

} // namespace mlir::llmc

#endif // LLMC_PASSES_HEADREPEAT_H
