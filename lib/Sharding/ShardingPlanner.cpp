//===- ShardingPlanner.cpp - Factor-based sharding propagation ------------===//
//
// See ShardingPlanner.h for the algorithm.
//
//===----------------------------------------------------------------------===//

#include "llmc/Sharding/ShardingPlanner.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

using namespace llmc::sharding;

//===----------------------------------------------------------------------===//
// Meshes, shardings, names.
//===----------------------------------------------------------------------===//

int64_t Mesh::numDevices() const {
  int64_t n = 1;
  for (int64_t s : axisSizes)
    n *= s;
  return n;
}

int Mesh::axisIndex(const std::string &name) const {
  for (size_t i = 0; i < axisNames.size(); ++i)
    if (axisNames[i] == name)
      return static_cast<int>(i);
  return -1;
}

std::string Mesh::str() const {
  std::string s;
  for (size_t i = 0; i < axisNames.size(); ++i)
    s += (i ? "," : "") + axisNames[i] + "=" + std::to_string(axisSizes[i]);
  return s;
}

static std::vector<std::string> splitOn(const std::string &text, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

static bool isName(const std::string &s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool llmc::sharding::parseMesh(const std::string &text, Mesh &mesh,
                               std::string &error) {
  mesh = Mesh();
  for (const std::string &part : splitOn(text, ',')) {
    size_t eq = part.find('=');
    std::string name = part.substr(0, eq);
    if (eq == std::string::npos || !isName(name)) {
      error = "--mesh '" + text +
              "': expected axes like 'tp=2' or "
              "'dp=2,tp=4'";
      return false;
    }
    std::string size = part.substr(eq + 1);
    if (size.empty() || size.size() > 6 ||
        !std::all_of(size.begin(), size.end(), ::isdigit) ||
        std::stol(size) < 1) {
      error = "--mesh '" + text + "': axis '" + name +
              "' needs a size from 1 to 999999";
      return false;
    }
    if (mesh.axisIndex(name) >= 0) {
      error = "--mesh '" + text + "': axis '" + name + "' is given twice";
      return false;
    }
    mesh.axisNames.push_back(name);
    mesh.axisSizes.push_back(std::stol(size));
    // Checked as it grows: the product of a few large sizes overflows.
    if (mesh.numDevices() > 4096) {
      error = "--mesh '" + text + "': more than 4096 devices";
      return false;
    }
  }
  return true;
}

bool TensorSharding::isReplicated() const {
  return partialAxes.empty() && std::all_of(dimAxes.begin(), dimAxes.end(),
                                            [](int a) { return a < 0; });
}

std::string TensorSharding::str(const Mesh &mesh) const {
  std::string s = "[";
  for (size_t d = 0; d < dimAxes.size(); ++d)
    s += (d ? ", " : "") +
         (dimAxes[d] < 0 ? std::string("-") : mesh.axisNames[dimAxes[d]]);
  s += "]";
  for (size_t i = 0; i < partialAxes.size(); ++i)
    s += (i ? "," : " partial(") + mesh.axisNames[partialAxes[i]];
  if (!partialAxes.empty())
    s += ")";
  return s;
}

bool llmc::sharding::parseSharding(const std::string &text, int64_t rank,
                                   const Mesh &mesh, TensorSharding &sharding,
                                   std::string &error) {
  std::vector<std::string> parts = splitOn(text, ',');
  if (rank == 0 && text.empty())
    parts.clear();
  if (static_cast<int64_t>(parts.size()) != rank) {
    error = "'" + text + "' gives " + std::to_string(parts.size()) +
            " dims but the tensor has " + std::to_string(rank);
    return false;
  }
  sharding = TensorSharding();
  for (const std::string &p : parts) {
    if (p == "-" || p.empty()) {
      sharding.dimAxes.push_back(-1);
      continue;
    }
    int axis = mesh.axisIndex(p);
    if (axis < 0) {
      error = "'" + text + "' names axis '" + p +
              "', which is not in the mesh '" + mesh.str() + "'";
      return false;
    }
    if (std::count(sharding.dimAxes.begin(), sharding.dimAxes.end(), axis)) {
      error = "'" + text + "' uses axis '" + p + "' for two dims";
      return false;
    }
    sharding.dimAxes.push_back(axis);
  }
  return true;
}

bool llmc::sharding::parsePrintedSharding(const std::string &text, int64_t rank,
                                          const Mesh &mesh,
                                          TensorSharding &sharding,
                                          std::string &error) {
  size_t open = text.find('['), close = text.find(']');
  if (open != 0 || close == std::string::npos) {
    error = "'" + text + "' is not a sharding such as \"[-, tp]\"";
    return false;
  }
  if (!parseSharding(text.substr(1, close - 1), rank, mesh, sharding, error))
    return false;
  std::string rest = text.substr(close + 1);
  rest.erase(0, rest.find_first_not_of(' '));
  if (rest.empty())
    return true;
  const std::string prefix = "partial(";
  if (rest.compare(0, prefix.size(), prefix) != 0 || rest.back() != ')') {
    error = "'" + text + "' is not a sharding such as \"[-, tp]\"";
    return false;
  }
  for (const std::string &name : splitOn(
           rest.substr(prefix.size(), rest.size() - prefix.size() - 1), ',')) {
    int axis = mesh.axisIndex(name);
    if (axis < 0) {
      error = "'" + text + "' names axis '" + name +
              "', which is not in the mesh '" + mesh.str() + "'";
      return false;
    }
    sharding.partialAxes.push_back(axis);
  }
  return true;
}

bool llmc::sharding::parseStrategy(const std::string &text, Strategy &s) {
  static const std::pair<const char *, Strategy> names[] = {
      {"dp", Strategy::DataParallel},
      {"megatron", Strategy::Megatron},
      {"megatron-sp", Strategy::MegatronSP},
      {"experts", Strategy::Experts},
      {"auto", Strategy::Auto},
      {"none", Strategy::None}};
  for (auto [name, value] : names)
    if (text == name) {
      s = value;
      return true;
    }
  return false;
}

const char *llmc::sharding::strategyName(Strategy s) {
  switch (s) {
  case Strategy::None:
    return "none";
  case Strategy::DataParallel:
    return "dp";
  case Strategy::Megatron:
    return "megatron";
  case Strategy::MegatronSP:
    return "megatron-sp";
  case Strategy::Experts:
    return "experts";
  case Strategy::Auto:
    return "auto";
  }
  return "?";
}

int64_t Tensor::bytes() const {
  int64_t n = elementBytes;
  for (int64_t d : shape)
    n *= d;
  return n;
}

//===----------------------------------------------------------------------===//
// Shardings an op needs and produces.
//===----------------------------------------------------------------------===//

static TensorSharding fromDims(const std::vector<int> &dims,
                               const std::vector<int> &factorAxes) {
  TensorSharding s;
  for (int f : dims)
    s.dimAxes.push_back(f >= 0 ? factorAxes[f] : -1);
  return s;
}

TensorSharding llmc::sharding::operandSharding(const Op &op, int i,
                                               const std::vector<int> &fa) {
  return fromDims(op.operandDims[i], fa);
}

TensorSharding llmc::sharding::resultSharding(const Op &op, int i,
                                              const std::vector<int> &fa) {
  TensorSharding s = fromDims(op.resultDims[i], fa);
  for (size_t f = 0; f < op.factors.size(); ++f)
    if (fa[f] >= 0 && op.factors[f].reduction)
      s.partialAxes.push_back(fa[f]);
  std::sort(s.partialAxes.begin(), s.partialAxes.end());
  return s;
}

bool llmc::sharding::canSplit(const Mesh &mesh, const Op &op, int f, int axis,
                              std::string &why) {
  const Factor &factor = op.factors[f];
  if (factor.blocked) {
    why = "is never split (it indexes a window, an offset, a part of a dim, "
          "or an absolute position)";
    return false;
  }
  if (factor.size % mesh.axisSizes[axis] != 0) {
    why = "(size " + std::to_string(factor.size) +
          ") is not divisible by mesh axis '" + mesh.axisNames[axis] + "'";
    return false;
  }
  if (factor.reduction && factor.combine == ReductionKind::None) {
    why = "is a reduction whose partial results do not sum";
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Resharding and its cost.
//===----------------------------------------------------------------------===//

/// Local shape of `t` under `s`.
static std::vector<int64_t> localShape(const Mesh &mesh, const Tensor &t,
                                       const TensorSharding &s) {
  std::vector<int64_t> shape = t.shape;
  for (size_t d = 0; d < shape.size() && d < s.dimAxes.size(); ++d)
    if (s.dimAxes[d] >= 0)
      shape[d] /= mesh.axisSizes[s.dimAxes[d]];
  return shape;
}

static int64_t localBytes(const Mesh &mesh, const Tensor &t,
                          const TensorSharding &s) {
  int64_t n = t.elementBytes;
  for (int64_t d : localShape(mesh, t, s))
    n *= d;
  return n;
}

std::vector<Collective> llmc::sharding::reshard(const Problem &problem,
                                                int tensor,
                                                const TensorSharding &from,
                                                const TensorSharding &to) {
  const Mesh &mesh = problem.mesh;
  const Tensor &t = problem.tensors[tensor];
  std::vector<Collective> out;
  TensorSharding cur = from;
  auto emit = [&](CollectiveKind kind, int axis, int dim, int dim2,
                  ReductionKind combine = ReductionKind::Sum) {
    Collective c;
    c.kind = kind;
    c.tensor = tensor;
    c.axis = axis;
    c.dim = dim;
    c.dim2 = dim2;
    c.combine = combine;
    double n = static_cast<double>(mesh.axisSizes[axis]);
    int64_t before = localBytes(mesh, t, cur);
    // Ring algorithms: each device sends (n-1)/n of the data once (twice
    // for an all-reduce: reduce-scatter then all-gather).
    switch (kind) {
    case CollectiveKind::AllReduce:
      c.bytes = static_cast<int64_t>(2 * (n - 1) / n * before);
      break;
    case CollectiveKind::AllGather:
      c.bytes = static_cast<int64_t>((n - 1) * before);
      break;
    case CollectiveKind::ReduceScatter:
    case CollectiveKind::AllToAll:
      c.bytes = static_cast<int64_t>((n - 1) / n * before);
      break;
    case CollectiveKind::Split:
      c.bytes = 0;
      break;
    }
    c.seconds = c.bytes / problem.linkBandwidth;
    out.push_back(c);
  };
  auto dimOf = [](const TensorSharding &s, int axis) {
    for (size_t d = 0; d < s.dimAxes.size(); ++d)
      if (s.dimAxes[d] == axis)
        return static_cast<int>(d);
    return -1;
  };
  auto isPartial = [](const TensorSharding &s, int axis) {
    return std::count(s.partialAxes.begin(), s.partialAxes.end(), axis) > 0;
  };
  int numAxes = static_cast<int>(mesh.axisSizes.size());
  // 1. Take away: all-gather dims that move or go, all-reduce partial sums
  //    that no dim of the target takes (a reduce-scatter comes in step 2).
  for (int a = 0; a < numAxes; ++a) {
    int d = dimOf(cur, a), target = dimOf(to, a);
    if (d >= 0 && d != target) {
      bool free = target >= 0 && cur.dimAxes[target] < 0;
      if (free && from.partialAxes.empty()) {
        emit(CollectiveKind::AllToAll, a, target, d);
        cur.dimAxes[d] = -1;
        cur.dimAxes[target] = a;
      } else {
        emit(CollectiveKind::AllGather, a, d, -1);
        cur.dimAxes[d] = -1;
      }
    }
    if (isPartial(cur, a) && target < 0) {
      emit(CollectiveKind::AllReduce, a, -1, -1);
      cur.partialAxes.erase(
          std::find(cur.partialAxes.begin(), cur.partialAxes.end(), a));
    }
  }
  // 2. Put in place: reduce-scatter partial sums onto their target dim,
  //    split whole dims the target wants split.
  for (int a = 0; a < numAxes; ++a) {
    int target = dimOf(to, a);
    if (target < 0 || cur.dimAxes[target] == a)
      continue;
    if (isPartial(cur, a)) {
      emit(CollectiveKind::ReduceScatter, a, target, -1);
      cur.partialAxes.erase(
          std::find(cur.partialAxes.begin(), cur.partialAxes.end(), a));
    } else {
      emit(CollectiveKind::Split, a, target, -1);
    }
    cur.dimAxes[target] = a;
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Propagation.
//===----------------------------------------------------------------------===//

namespace {
constexpr int kUndecided = INT_MAX;
constexpr int kPinned = 0, kSeed = 1, kWeakSeed = 2;

struct DimState {
  int axis = -1;
  int priority = kUndecided;
  std::string reason;
};

class Propagation {
public:
  explicit Propagation(const Problem &p) : p(p) {
    state.resize(p.tensors.size());
    for (size_t t = 0; t < p.tensors.size(); ++t)
      state[t].resize(p.tensors[t].shape.size());
    factorAxes.resize(p.ops.size());
    factorPriority.resize(p.ops.size());
    producer.assign(p.tensors.size(), -1);
    for (size_t o = 0; o < p.ops.size(); ++o) {
      factorAxes[o].assign(p.ops[o].factors.size(), -1);
      factorPriority[o].assign(p.ops[o].factors.size(), kUndecided);
      for (int r : p.ops[o].results)
        producer[r] = static_cast<int>(o);
    }
    users.resize(p.tensors.size());
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t k = 0; k < p.ops[o].operands.size(); ++k)
        users[p.ops[o].operands[k]].push_back({static_cast<int>(o), k});
  }

  /// Sets dim `d` of tensor `t` to `axis` (-1: whole) if `priority` is
  /// stronger than what it has and the axis is free in the tensor.
  bool set(int t, int d, int axis, int priority, const std::string &reason) {
    // A constant is cut for each user on its own (at compile time or when
    // the devices load it): it carries no split from one user to another
    // (CSE merges equal constants, a zero bias with a norm's zero shift).
    if (p.tensors[t].kind == TensorKind::Constant)
      return false;
    DimState &s = state[t][d];
    if (priority >= s.priority)
      return false;
    if (axis >= 0) {
      const Tensor &tensor = p.tensors[t];
      if (tensor.shape[d] % p.mesh.axisSizes[axis] != 0)
        return false;
      for (size_t e = 0; e < state[t].size(); ++e)
        if (static_cast<int>(e) != d && state[t][e].axis == axis) {
          if (state[t][e].priority <= priority)
            return false;
          state[t][e] = DimState(); // a stronger use of the axis wins
        }
    }
    s.axis = axis;
    s.priority = priority;
    s.reason = reason;
    return true;
  }

  /// Whether anything (a pin, a seed, propagation) decided a dim of `t`.
  bool decided(int t) const {
    for (const DimState &s : state[t])
      if (s.priority != kUndecided)
        return true;
    return false;
  }

  /// Whether factor `f` of `op` may be split by `axis`.
  bool allowed(const Op &op, int f, int axis) const {
    std::string why;
    return canSplit(p.mesh, op, f, axis, why);
  }

  /// Recomputes op `o`'s factor assignment from its tensors' dims.
  void decide(int o) {
    const Op &op = p.ops[o];
    struct Proposal {
      int factor, axis, priority;
      int64_t bytes;
      int order;
    };
    std::vector<Proposal> proposals;
    auto collect = [&](const std::vector<int> &tensors,
                       const std::vector<std::vector<int>> &dims) {
      for (size_t i = 0; i < tensors.size(); ++i) {
        int t = tensors[i];
        for (size_t d = 0; d < dims[i].size(); ++d) {
          const DimState &s = state[t][d];
          if (s.axis < 0 || dims[i][d] < 0)
            continue;
          proposals.push_back({dims[i][d], s.axis, s.priority,
                               p.tensors[t].bytes(),
                               static_cast<int>(proposals.size())});
        }
      }
    };
    collect(op.operands, op.operandDims);
    collect(op.results, op.resultDims);
    // The strongest proposal first; among equals, keep the largest tensor
    // where it is (moving it would cost the most).
    std::stable_sort(proposals.begin(), proposals.end(),
                     [](const Proposal &a, const Proposal &b) {
                       if (a.priority != b.priority)
                         return a.priority < b.priority;
                       return a.bytes > b.bytes;
                     });
    std::vector<int> &fa = factorAxes[o];
    std::vector<int> &fp = factorPriority[o];
    fa.assign(op.factors.size(), -1);
    fp.assign(op.factors.size(), kUndecided);
    // With costly conflicts, an axis that proposals put on different
    // factors (none pinned) goes to the factor whose choice moves the
    // fewest bytes here.
    std::vector<int> preferred(p.mesh.axisSizes.size(), -1);
    if (costConflicts)
      for (size_t a = 0; a < preferred.size(); ++a) {
        std::vector<int> factors;
        bool pinned = false;
        for (const Proposal &pr : proposals)
          if (pr.axis == static_cast<int>(a)) {
            pinned |= pr.priority == kPinned;
            if (std::find(factors.begin(), factors.end(), pr.factor) ==
                factors.end())
              factors.push_back(pr.factor);
          }
        if (pinned || factors.size() < 2)
          continue;
        double best = 0;
        for (int f : factors) {
          std::string why;
          if (!canSplit(p.mesh, op, f, static_cast<int>(a), why))
            continue;
          double cost = movedBytes(op, f, static_cast<int>(a));
          if (preferred[a] < 0 || cost < best) {
            preferred[a] = f;
            best = cost;
          }
        }
      }
    for (const Proposal &pr : proposals) {
      if (fa[pr.factor] >= 0 || std::count(fa.begin(), fa.end(), pr.axis))
        continue;
      if (preferred[pr.axis] >= 0 && preferred[pr.axis] != pr.factor)
        continue;
      std::string why;
      if (!canSplit(p.mesh, op, pr.factor, pr.axis, why)) {
        // A size the axis does not divide is worth saying: the dim stays
        // whole (replicated), not padded.
        if (!op.factors[pr.factor].blocked &&
            op.factors[pr.factor].size % p.mesh.axisSizes[pr.axis] != 0)
          notDivisible.insert("'" + op.name + "' (" + op.kind +
                              ") keeps loop " + std::to_string(pr.factor) +
                              " whole: it " + why);
        continue;
      }
      fa[pr.factor] = pr.axis;
      fp[pr.factor] = pr.priority;
    }
  }

  /// Bytes one device sends if `op` splits factor `f` over `axis`: each of
  /// its tensors split over `axis` otherwise moves,
  /// by an all-to-all where the tensor has a dim of `f` (its 1/n part, of
  /// which (n-1)/n leaves), else by an all-gather (operands) or a
  /// reduce-scatter (results) of (n-1)/n of the whole.
  double movedBytes(const Op &op, int f, int axis) const {
    double n = static_cast<double>(p.mesh.axisSizes[axis]);
    double moved = 0;
    // The dim of tensor `t` that `o` splits over `axis` as its operand
    // (`operand`) or result `i`, -1 for none.
    auto splitDim = [&](int o, bool operand, size_t i) {
      const Op &by = p.ops[o];
      const std::vector<int> &dims =
          operand ? by.operandDims[i] : by.resultDims[i];
      for (size_t d = 0; d < dims.size(); ++d)
        if (dims[d] >= 0 && factorAxes[o][dims[d]] == axis)
          return static_cast<int>(d);
      return -1;
    };
    // Operands: as their producers make them now (inputs and weights as
    // their states say). An operand split on another dim than `f`'s moves
    // by an all-to-all, one without `f`'s dim by an all-gather; a whole one
    // is cut locally.
    for (size_t i = 0; i < op.operands.size(); ++i) {
      int t = op.operands[i];
      int have = -1, o = producer[t];
      if (o >= 0) {
        const Op &from = p.ops[o];
        size_t r = std::find(from.results.begin(), from.results.end(), t) -
                   from.results.begin();
        have = splitDim(o, false, r);
      } else {
        for (size_t d = 0; d < state[t].size(); ++d)
          if (state[t][d].axis == axis)
            have = static_cast<int>(d);
      }
      const std::vector<int> &dims = op.operandDims[i];
      int want = -1;
      for (size_t d = 0; d < dims.size(); ++d)
        if (dims[d] == f)
          want = static_cast<int>(d);
      double bytes = static_cast<double>(p.tensors[t].bytes());
      if (have >= 0 && have != want)
        moved += want >= 0 ? bytes / n * (n - 1) / n : bytes * (n - 1) / n;
    }
    // Results: as their users take them now. A split result taken split
    // on another dim moves by an all-to-all, taken whole by an all-gather;
    // a partial sum (f a reduction the result lacks) by a reduce-scatter or
    // an all-reduce.
    for (size_t i = 0; i < op.results.size(); ++i) {
      int t = op.results[i];
      const std::vector<int> &dims = op.resultDims[i];
      int made = -1;
      for (size_t d = 0; d < dims.size(); ++d)
        if (dims[d] == f)
          made = static_cast<int>(d);
      bool partial = made < 0 && op.factors[f].reduction;
      double bytes = static_cast<double>(p.tensors[t].bytes());
      // A model output is taken as it is made, a partial sum all-reduced.
      if (partial && p.tensors[t].isOutput)
        moved += 2 * bytes * (n - 1) / n;
      for (auto [u, k] : users[t]) {
        int take = splitDim(u, true, k);
        if (partial)
          moved += take >= 0 ? bytes * (n - 1) / n : 2 * bytes * (n - 1) / n;
        else if (made >= 0 && take != made)
          moved += take >= 0 ? bytes / n * (n - 1) / n : bytes * (n - 1) / n;
      }
    }
    return moved;
  }

  /// Writes op `o`'s assignment onto its tensors; true if any changed.
  bool project(int o) {
    const Op &op = p.ops[o];
    bool changed = false;
    std::string reason = "propagated from '" + op.name + "' (" + op.kind + ")";
    auto write = [&](const std::vector<int> &tensors,
                     const std::vector<std::vector<int>> &dims) {
      for (size_t i = 0; i < tensors.size(); ++i)
        for (size_t d = 0; d < dims[i].size(); ++d) {
          int f = dims[i][d];
          if (f >= 0 && factorAxes[o][f] >= 0)
            changed |= set(tensors[i], d, factorAxes[o][f],
                           factorPriority[o][f], reason);
        }
    };
    write(op.operands, op.operandDims);
    write(op.results, op.resultDims);
    return changed;
  }

  void run() {
    for (int sweep = 0; sweep < 64; ++sweep) {
      bool changed = false;
      for (size_t o = 0; o < p.ops.size(); ++o) {
        decide(o);
        changed |= project(o);
      }
      for (size_t o = p.ops.size(); o-- > 0;) {
        decide(o);
        changed |= project(o);
      }
      if (!changed)
        break;
    }
    for (size_t o = 0; o < p.ops.size(); ++o)
      decide(o);
  }

  const Problem &p;
  /// Resolve an axis wanted by two factors of an op by the bytes each
  /// choice moves (movedBytes) instead of by priority alone.
  bool costConflicts = false;
  std::vector<std::vector<DimState>> state;
  std::vector<std::vector<int>> factorAxes, factorPriority;
  std::vector<int> producer;
  /// Per tensor, the ops that read it and as which operand.
  std::vector<std::vector<std::pair<int, size_t>>> users;
  /// Splits refused because the axis does not divide a loop (remarks).
  std::set<std::string> notDivisible;
};

/// The axis a strategy uses: the one with `preferred` name, else the first
/// (for data) or last (for model) axis.
int strategyAxis(const Mesh &mesh, const char *preferred, bool last) {
  int a = mesh.axisIndex(preferred);
  if (a >= 0)
    return a;
  return last ? static_cast<int>(mesh.axisSizes.size()) - 1 : 0;
}

/// Data parallelism: every input's leading (batch) dim on `axis`.
int seedData(Propagation &prop, int axis, std::vector<std::string> &remarks) {
  int seeded = 0;
  for (size_t t = 0; t < prop.p.tensors.size(); ++t) {
    const Tensor &tensor = prop.p.tensors[t];
    if (tensor.kind != TensorKind::Input || tensor.shape.empty())
      continue;
    if (tensor.shape[0] % prop.p.mesh.axisSizes[axis] != 0) {
      remarks.push_back("dp: input '" + tensor.name + "' keeps dim 0 (size " +
                        std::to_string(tensor.shape[0]) +
                        ") whole: not divisible by axis '" +
                        prop.p.mesh.axisNames[axis] + "'");
      continue;
    }
    seeded += prop.set(t, 0, axis, kSeed, "strategy dp: batch dim");
  }
  return seeded;
}

/// Sequence parallelism's seed: every input's sequence dim on `axis` (dim 1
/// of activations [batch, sequence, ...] of rank 3 or more, or of token ids
/// [batch, sequence]: 1-byte or wider integers of rank 2), weaker than the
/// Megatron weights so that those win inside the blocks.
int seedSequence(Propagation &prop, int axis) {
  int seeded = 0;
  for (size_t t = 0; t < prop.p.tensors.size(); ++t) {
    const Tensor &tensor = prop.p.tensors[t];
    if (tensor.kind != TensorKind::Input)
      continue;
    bool sequence = tensor.shape.size() >= 3 ||
                    (tensor.shape.size() == 2 && tensor.isInteger);
    if (sequence)
      seeded +=
          prop.set(t, 1, axis, kWeakSeed, "strategy megatron-sp: sequence dim");
  }
  return seeded;
}

/// Whether dense layer `o` writes into a residual stream: its result, through
/// at most a few elementwise ops (a bias), reaches an add whose other operand
/// is one the layer's input was computed from (x + f(x), Megatron's
/// row-parallel attention output and MLP down projections).
bool writesResidual(const Problem &p, const std::vector<int> &producer,
                    const std::vector<std::vector<int>> &users, int o) {
  const Op &layer = p.ops[o];
  std::vector<bool> ancestor(p.tensors.size(), false);
  std::vector<int> stack{layer.operands[0]};
  int visited = 0;
  while (!stack.empty() && visited++ < 20000) {
    int t = stack.back();
    stack.pop_back();
    if (ancestor[t])
      continue;
    ancestor[t] = true;
    if (producer[t] >= 0)
      for (int operand : p.ops[producer[t]].operands)
        stack.push_back(operand);
  }
  int t = layer.results[0];
  for (int step = 0; step < 4; ++step) {
    for (int u : users[t]) {
      const Op &user = p.ops[u];
      if (user.kind != "graph.add")
        continue;
      // The stream is an activation of the result's size, not a constant
      // that also fed the input (a bias of zeros that CSE merged with a
      // norm's zero shift).
      for (int operand : user.operands) {
        const Tensor &other = p.tensors[operand];
        if (operand != t && ancestor[operand] &&
            other.kind != TensorKind::Constant &&
            other.kind != TensorKind::Weight &&
            other.bytes() == p.tensors[t].bytes())
          return true;
      }
    }
    // Follow a single elementwise user (a bias add, an activation).
    if (users[t].size() != 1)
      return false;
    const Op &next = p.ops[users[t][0]];
    bool elementwise =
        next.results.size() == 1 && !next.isWeightContraction &&
        std::none_of(next.factors.begin(), next.factors.end(),
                     [](const Factor &f) { return f.reduction; });
    if (!elementwise)
      return false;
    t = next.results[0];
  }
  return false;
}

/// The first user of dense layer `o`'s result that needs whole a dim the
/// layer splits only because the axis does not divide the user's loop there
/// (heads fewer than devices), by op name; "" if none. (A user that never
/// splits that dim, a softmax over it, say, is no reason to keep the layer
/// whole: its output is gathered or stays split.)
std::string refusingUser(const Problem &p, const Propagation &prop,
                         const std::vector<std::vector<int>> &users, int o) {
  const Op &layer = p.ops[o];
  int t = layer.results[0];
  TensorSharding produced = resultSharding(layer, 0, prop.factorAxes[o]);
  for (int u : users[t]) {
    const Op &user = p.ops[u];
    for (size_t i = 0; i < user.operands.size(); ++i) {
      if (user.operands[i] != t)
        continue;
      TensorSharding need = operandSharding(user, i, prop.factorAxes[u]);
      for (size_t d = 0; d < produced.dimAxes.size(); ++d) {
        int axis = produced.dimAxes[d], f = user.operandDims[i][d];
        if (axis < 0 || need.dimAxes[d] == axis || f < 0)
          continue;
        const Factor &factor = user.factors[f];
        if (!factor.blocked && !factor.reduction &&
            factor.size % p.mesh.axisSizes[axis] != 0)
          return user.name;
      }
    }
  }
  return "";
}

/// What another reader of the weight behind `w` (seen through transposes,
/// reshapes and casts) says when it needs that weight whole on the dim
/// `axis` now splits, or "" if every reader takes the split.
std::string wholeReader(const Problem &p, const Propagation &prop,
                        const std::vector<std::vector<int>> &users, int w,
                        int axis) {
  int t = w;
  while (prop.producer[t] >= 0) {
    const Op &from = p.ops[prop.producer[t]];
    if (from.kind != "graph.transpose" && from.kind != "graph.reshape" &&
        from.kind != "graph.cast")
      return "";
    t = from.operands[0];
  }
  if (p.tensors[t].kind != TensorKind::Weight)
    return "";
  int dim = -1;
  for (size_t d = 0; d < prop.state[t].size(); ++d)
    if (prop.state[t][d].axis == axis)
      dim = static_cast<int>(d);
  if (dim < 0)
    return "";
  for (int u : users[t]) {
    const Op &reader = p.ops[u];
    for (size_t k = 0; k < reader.operands.size(); ++k) {
      if (reader.operands[k] != t)
        continue;
      int f = reader.operandDims[k][dim];
      if (f < 0 || prop.factorAxes[u][f] != axis)
        return "its weight '" + p.tensors[t].name + "' is also read whole by '" +
               reader.name + "' (" + reader.kind + "), which would gather it " +
               "on every run";
    }
  }
  return "";
}

/// Megatron: in program order, a dense layer that propagation has not
/// already decided becomes row-parallel (the weight's rows, its
/// contraction dim, on `axis`) when it writes into a residual stream, and
/// column-parallel (the weight's columns) otherwise; propagation then
/// carries a column split through the layer's consumers (attention heads,
/// activations) to the row-parallel layer that consumes it, whose partial
/// sums one all-reduce combines.
int seedMegatron(Propagation &prop, int axis,
                 std::vector<std::string> &remarks) {
  const Problem &p = prop.p;
  std::vector<std::vector<int>> users(p.tensors.size());
  for (size_t o = 0; o < p.ops.size(); ++o)
    for (int t : p.ops[o].operands)
      users[t].push_back(static_cast<int>(o));
  int seeded = 0;
  for (size_t o = 0; o < p.ops.size(); ++o) {
    const Op &op = p.ops[o];
    if (!op.isWeightContraction || op.operands.size() < 2)
      continue;
    prop.run();
    int w = op.operands[1];
    if (prop.decided(w))
      continue; // already row-parallel through propagation (or pinned)
    bool row = writesResidual(p, prop.producer, users, o);
    const std::vector<int> &wd = op.operandDims[1];
    bool split = false;
    for (size_t d = 0; d < wd.size() && !split; ++d) {
      int f = wd[d];
      if (f < 0 || op.factors[f].reduction != row || !prop.allowed(op, f, axis))
        continue;
      auto saved =
          std::make_tuple(prop.state, prop.factorAxes, prop.factorPriority);
      split = prop.set(w, d, axis, kSeed,
                       row ? "strategy megatron: row-parallel weight"
                           : "strategy megatron: column-parallel weight");
      if (!split || row)
        break;
      // A column split that the layer's own users cannot carry (GQA's K/V
      // projection over more devices than KV heads, split by a reshape to
      // heads) would only be gathered again: the layer stays whole, as
      // Megatron replicates KV heads.
      prop.run();
      std::string refusal = refusingUser(p, prop, users, o);
      if (!refusal.empty()) {
        std::tie(prop.state, prop.factorAxes, prop.factorPriority) = saved;
        split = false;
        remarks.push_back("megatron: '" + op.name +
                          "' stays whole: its user '" + refusal +
                          "' cannot take a split of its columns "
                          "over '" +
                          p.mesh.axisNames[axis] + "'");
        break;
      }
      // A weight that another op reads whole (a tied embedding table,
      // gathered by token) would be all-gathered on every run: the layer
      // stays whole instead.
      std::string reader = wholeReader(p, prop, users, w, axis);
      if (!reader.empty()) {
        std::tie(prop.state, prop.factorAxes, prop.factorPriority) = saved;
        split = false;
        remarks.push_back("megatron: '" + op.name + "' stays whole: " +
                          reader);
        break;
      }
    }
    seeded += split;
    if (!split && (remarks.empty() ||
                   remarks.back().find("'" + op.name + "' stays whole") ==
                       std::string::npos)) {
      std::string shape;
      for (int64_t n : p.tensors[w].shape)
        shape += (shape.empty() ? "" : "x") + std::to_string(n);
      remarks.push_back("megatron: '" + op.name + "' stays whole: axis '" +
                        p.mesh.axisNames[axis] + "' (size " +
                        std::to_string(p.mesh.axisSizes[axis]) +
                        ") does not divide its weight '" + p.tensors[w].name +
                        "' (" + shape + ") along its " +
                        (row ? "rows" : "columns"));
    }
  }
  return seeded;
}

/// Experts: 3-D weights whose leading dim is a parallel (expert) factor of a
/// contraction are split over `axis`.
int seedExperts(Propagation &prop, int axis) {
  int seeded = 0;
  for (const Op &op : prop.p.ops)
    for (size_t i = 0; i < op.operands.size(); ++i) {
      const Tensor &t = prop.p.tensors[op.operands[i]];
      int f = op.operandDims[i].empty() ? -1 : op.operandDims[i][0];
      if (t.kind != TensorKind::Weight || t.shape.size() != 3 || f < 0 ||
          op.factors[f].reduction || !prop.allowed(op, f, axis))
        continue;
      seeded += prop.set(op.operands[i], 0, axis, kSeed,
                         "strategy experts: expert dim");
    }
  return seeded;
}

/// Experts' tokens: every input's leading (batch) dim on `axis`, weakly.
void seedTokens(Propagation &prop, int axis) {
  for (size_t t = 0; t < prop.p.tensors.size(); ++t) {
    const Tensor &tensor = prop.p.tensors[t];
    if (tensor.kind == TensorKind::Input && !tensor.shape.empty())
      prop.set(t, 0, axis, kWeakSeed, "strategy experts: tokens");
  }
}

/// Everything the plan holds once propagation is done.
void finish(const Problem &p, Propagation &prop, Plan &plan) {
  plan.factorAxes = prop.factorAxes;
  for (const std::string &r : prop.notDivisible)
    plan.remarks.push_back(r);
  plan.tensors.assign(p.tensors.size(), Decision());
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    Decision &d = plan.tensors[t];
    int o = prop.producer[t];
    if (o >= 0) {
      const Op &op = p.ops[o];
      int r = std::find(op.results.begin(), op.results.end(), t) -
              op.results.begin();
      d.sharding = resultSharding(op, r, prop.factorAxes[o]);
      d.reason = d.sharding.isReplicated()
                     ? "replicated"
                     : "from '" + op.name + "' (" + op.kind + ")";
      for (const DimState &s : prop.state[t])
        if (s.axis >= 0 && s.reason == "pinned")
          d.reason = "pinned; " + d.reason;
      continue;
    }
    d.sharding.dimAxes.assign(p.tensors[t].shape.size(), -1);
    std::string reason;
    for (size_t dim = 0; dim < prop.state[t].size(); ++dim) {
      const DimState &s = prop.state[t][dim];
      d.sharding.dimAxes[dim] = s.axis;
      if (s.axis >= 0 && reason.empty())
        reason = s.reason;
    }
    d.reason = reason.empty() ? "replicated" : reason;
  }
  // Collectives: per use whose need differs from the tensor's sharding,
  // one set per (tensor, target) as the partitioner memoizes them.
  plan.collectives.clear();
  std::map<std::pair<int, std::vector<int>>, bool> done;
  auto need = [&](int t, const TensorSharding &target, int user) {
    const TensorSharding &from = plan.tensors[t].sharding;
    if (from == target || done[{t, target.dimAxes}])
      return;
    done[{t, target.dimAxes}] = true;
    for (Collective c : reshard(p, t, from, target)) {
      c.user = user;
      plan.collectives.push_back(c);
    }
  };
  plan.computeSeconds = 0;
  for (size_t o = 0; o < p.ops.size(); ++o) {
    const Op &op = p.ops[o];
    for (size_t i = 0; i < op.operands.size(); ++i)
      need(op.operands[i], operandSharding(op, i, prop.factorAxes[o]), o);
    double split = 1;
    for (size_t f = 0; f < op.factors.size(); ++f)
      if (prop.factorAxes[o][f] >= 0)
        split *= p.mesh.axisSizes[prop.factorAxes[o][f]];
    plan.computeSeconds += op.flops / split / p.deviceFlops;
  }
  // Outputs: partial sums are reduced; split dims are reassembled by the
  // runtime.
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    if (!p.tensors[t].isOutput || plan.tensors[t].sharding.partialAxes.empty())
      continue;
    TensorSharding target = plan.tensors[t].sharding;
    target.partialAxes.clear();
    need(t, target, -1);
  }
  plan.commSeconds = 0;
  for (const Collective &c : plan.collectives)
    plan.commSeconds += c.seconds;
  plan.weightBytesTotal = plan.weightBytesPerDevice = 0;
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    if (p.tensors[t].kind != TensorKind::Weight)
      continue;
    plan.weightBytesTotal += p.tensors[t].bytes();
    plan.weightBytesPerDevice +=
        localBytes(p.mesh, p.tensors[t], plan.tensors[t].sharding);
  }
}

/// Runs one strategy's seeds and propagation into `plan`.
bool runStrategy(const Problem &p, Strategy strategy, Plan &plan,
                 std::string &error) {
  Propagation prop(p);
  plan = Plan();
  plan.strategy = strategy;
  // User pins first: nothing overrides them.
  for (size_t i = 0; i < p.pins.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (p.pins[i].tensor == p.pins[j].tensor) {
        error = "--shard " + p.pins[i].tensor + ": the tensor is pinned twice";
        return false;
      }
  for (const Pin &pin : p.pins) {
    int t = -1;
    for (size_t i = 0; i < p.tensors.size(); ++i)
      if (p.tensors[i].name == pin.tensor)
        t = static_cast<int>(i);
    if (t < 0) {
      std::string known;
      int listed = 0;
      for (const Tensor &tensor : p.tensors)
        if (tensor.kind != TensorKind::Intermediate) {
          if (listed++ < 8)
            known += (known.empty() ? "" : ", ") + tensor.name;
        }
      error = "--shard " + pin.tensor + ": the model has no tensor '" +
              pin.tensor + "' (inputs and weights: " + known +
              (listed > 8 ? ", ..." : "") + ")";
      return false;
    }
    const Tensor &tensor = p.tensors[t];
    if (pin.sharding.dimAxes.size() != tensor.shape.size()) {
      error = "--shard " + pin.tensor + ": the tensor has " +
              std::to_string(tensor.shape.size()) + " dims, the pin gives " +
              std::to_string(pin.sharding.dimAxes.size());
      return false;
    }
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
      int a = pin.sharding.dimAxes[d];
      if (a >= 0 && tensor.shape[d] % p.mesh.axisSizes[a] != 0) {
        error = "--shard " + pin.tensor + ": dim " + std::to_string(d) +
                " (size " + std::to_string(tensor.shape[d]) +
                ") is not divisible by mesh axis '" + p.mesh.axisNames[a] +
                "' (size " + std::to_string(p.mesh.axisSizes[a]) + ")";
        return false;
      }
      prop.set(t, d, a, kPinned, "pinned");
    }
  }
  int dataAxis = strategyAxis(p.mesh, "dp", false);
  int modelAxis = strategyAxis(p.mesh, "tp", true);
  bool twoAxes = dataAxis != modelAxis;
  int seeded = 0;
  switch (strategy) {
  case Strategy::None:
  case Strategy::Auto:
    seeded = 1;
    break;
  case Strategy::DataParallel:
    seeded = seedData(prop, dataAxis, plan.remarks);
    break;
  case Strategy::Megatron:
  case Strategy::MegatronSP:
    if (twoAxes)
      seedData(prop, dataAxis, plan.remarks);
    if (strategy == Strategy::MegatronSP)
      seeded = seedSequence(prop, modelAxis);
    seeded += seedMegatron(prop, modelAxis, plan.remarks);
    break;
  case Strategy::Experts: {
    int expertAxis = strategyAxis(p.mesh, "ep", true);
    if (twoAxes)
      seedData(prop, dataAxis, plan.remarks);
    seeded = seedExperts(prop, expertAxis);
    // On the expert axis alone, each device also routes its own tokens
    // (GShard): the batch splits there too, weaker than the experts, and
    // where an op wants the axis for both, the bytes each choice moves
    // decide. Token-wise work (router, dispatch, combine) stays local; the
    // dispatched tokens meet their experts by an all-to-all and come back
    // by another, instead of every device routing every token.
    if (seeded && !twoAxes) {
      seedTokens(prop, expertAxis);
      prop.costConflicts = true;
    }
    break;
  }
  }
  if (!seeded && p.pins.empty()) {
    error = std::string("--strategy ") + strategyName(strategy) +
            ": nothing in the model can be split over mesh '" + p.mesh.str() +
            "' (" +
            (strategy == Strategy::DataParallel
                 ? "no input's batch dim is divisible by the axis"
             : strategy == Strategy::Experts
                 ? "no 3-D expert weight with a divisible leading dim"
                 : "no dense layer, a matmul with a 2-D weight, whose weight "
                   "the axis divides") +
            ")";
    return false;
  }
  prop.run();
  finish(p, prop, plan);
  return true;
}
} // namespace

bool llmc::sharding::plan(const Problem &problem, Plan &result,
                          std::string &error) {
  if (problem.mesh.axisSizes.empty()) {
    error = "the mesh has no axes";
    return false;
  }
  if (problem.strategy != Strategy::Auto)
    return runStrategy(problem, problem.strategy, result, error);
  // Auto: each strategy is a seed set for the same propagation; the cost
  // model (communication on the link plus compute per device, then weight
  // memory per device) picks the cheapest.
  const Strategy candidates[] = {Strategy::Megatron, Strategy::MegatronSP,
                                 Strategy::DataParallel, Strategy::Experts,
                                 Strategy::None};
  bool have = false;
  Plan best;
  std::string summary, firstError;
  for (Strategy s : candidates) {
    Plan candidate;
    std::string why;
    if (!runStrategy(problem, s, candidate, why)) {
      if (firstError.empty())
        firstError = why;
      continue;
    }
    double cost = candidate.commSeconds + candidate.computeSeconds;
    char line[160];
    std::snprintf(line, sizeof line, "%s %.3g ms (%lld weight bytes/device)",
                  strategyName(s), cost * 1e3,
                  static_cast<long long>(candidate.weightBytesPerDevice));
    summary += (summary.empty() ? "" : ", ") + std::string(line);
    double bestCost = best.commSeconds + best.computeSeconds;
    if (!have || cost < bestCost * 0.999 ||
        (cost <= bestCost * 1.001 &&
         candidate.weightBytesPerDevice < best.weightBytesPerDevice)) {
      best = std::move(candidate);
      have = true;
    }
  }
  if (!have) {
    // A bad pin fails every candidate alike: say what it is.
    error = firstError.empty() ? "--strategy auto: no strategy applies"
                               : firstError;
    return false;
  }
  best.remarks.push_back(std::string("auto chose ") +
                         strategyName(best.strategy) +
                         " by estimated time: " + summary);
  result = std::move(best);
  return true;
}
