//===- Padding.cpp - Which tensor dims padding a dim can reach ------------===//

#include "llmc/Sharding/Padding.h"

#include <map>

using namespace llmc::sharding;

static std::string opName(const Op &op) {
  return "node '" + op.name + "' (" + op.kind + ")";
}

PaddingResult
llmc::sharding::analysePadding(const Problem &problem,
                               const std::vector<std::pair<int, int>> &seeds,
                               int64_t size) {
  PaddingResult r;
  r.scale.resize(problem.tensors.size());
  for (size_t t = 0; t < problem.tensors.size(); ++t)
    r.scale[t].assign(problem.tensors[t].shape.size(), 0);
  auto fail = [&](size_t op, std::string why) {
    r.safe = false;
    r.op = static_cast<int>(op);
    r.why = opName(problem.ops[op]) + " " + why;
    return r;
  };
  for (auto [t, d] : seeds) {
    if (t < 0 || static_cast<size_t>(t) >= problem.tensors.size() || d < 0 ||
        static_cast<size_t>(d) >= problem.tensors[t].shape.size() ||
        size < 2 || problem.tensors[t].shape[d] % size != 0 ||
        problem.tensors[t].shape[d] == 0) {
      r.safe = false;
      r.why = "the padded dim is not a dim of size " + std::to_string(size);
      return r;
    }
    r.scale[t][d] = problem.tensors[t].shape[d] / size;
  }
  for (size_t o = 0; o < problem.ops.size(); ++o) {
    const Op &op = problem.ops[o];
    // Each padded factor's scale: its size over the padded size.
    std::map<int, int64_t> padded;
    std::map<int, std::string> reachedBy;
    for (size_t i = 0; i < op.operands.size(); ++i) {
      int t = op.operands[i];
      const std::vector<int64_t> &shape = problem.tensors[t].shape;
      for (size_t d = 0; d < shape.size(); ++d) {
        int64_t s = r.scale[t][d];
        if (!s)
          continue;
        std::string which = "operand " + std::to_string(i) + " dim " +
                            std::to_string(d);
        int f = i < op.operandDims.size() && d < op.operandDims[i].size()
                    ? op.operandDims[i][d]
                    : -1;
        if (f < 0)
          return fail(o, "takes " + which +
                             " whole (broadcast, gathered, windowed or "
                             "sliced), so padding would reach kept elements");
        const Factor &factor = op.factors[f];
        if (factor.blocked && !factor.prefixConsistent)
          return fail(o, "reads " + which +
                             " at a compound or absolute position (a window, "
                             "an offset)");
        // The factor is the outer part of the dim: it holds whole rows of
        // the padded dim's positions.
        if (factor.size % size != 0 || shape[d] % factor.size != 0 ||
            shape[d] / size != s)
          return fail(o, "splits " + which + " across the padded positions");
        int64_t fs = factor.size / size;
        auto [it, inserted] = padded.emplace(f, fs);
        if (!inserted && it->second != fs)
          return fail(o, "pairs " + which + " with a differently padded dim");
        reachedBy.emplace(f, which);
      }
    }
    // A reduction over a padded factor changes kept elements, unless it is
    // attention's keys under a causal mask with the query rows padded alike:
    // a kept row's keys all come before the padded ones.
    for (auto [f, fs] : padded) {
      const Factor &factor = op.factors[f];
      if (!factor.reduction)
        continue;
      auto q = padded.find(factor.causalQuery);
      if (factor.causalQuery < 0 || q == padded.end() || q->second != fs ||
          fs != 1)
        return fail(o, "reduces over " + reachedBy[f] +
                           ", so padding would change kept elements");
    }
    if (padded.empty())
      continue;
    for (size_t i = 0; i < op.results.size(); ++i) {
      int t = op.results[i];
      const std::vector<int64_t> &shape = problem.tensors[t].shape;
      std::map<int, bool> kept;
      for (size_t d = 0; d < shape.size(); ++d) {
        int f = i < op.resultDims.size() && d < op.resultDims[i].size()
                    ? op.resultDims[i][d]
                    : -1;
        auto it = padded.find(f);
        if (f < 0 || it == padded.end())
          continue;
        if (shape[d] % op.factors[f].size != 0)
          return fail(o, "splits result " + std::to_string(i) + " dim " +
                             std::to_string(d) + " across the padded positions");
        r.scale[t][d] = shape[d] / size;
        kept[f] = true;
      }
      for (auto [f, fs] : padded)
        if (!kept.count(f) && !op.factors[f].reduction)
          return fail(o, "drops a padded loop from result " +
                             std::to_string(i) +
                             " (padded elements would be written over kept "
                             "ones)");
    }
  }
  return r;
}
