//===- Collectives.cpp - Collectives between CPU devices ------------------===//
//
// A group rendezvous: each member packs its input into its slot, waits at a
// barrier until every member has published, computes its own output by
// reading the peers' slots, and waits at a second barrier so that no slot is
// rewritten (by its owner's next collective) while a peer still reads it.
// The slots belong to the run rather than to the caller's frame, so a member
// that leaves early on an error frees nothing a peer may still be reading.
//
// A group across processes (runOnProcessDevice) replaces the slots and the
// barriers with two allgathers of the exchange: the members' announcements
// (what the threads compare in their slots), then their packed inputs; the
// output is computed by the same code, so it is the threads' bit for bit.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/ThreadPool.h"
#include "MemRefView.h"

#include <algorithm>
#include <dlfcn.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

using namespace llmc::runtime;

namespace {
using Shape = std::vector<int64_t>;

//===----------------------------------------------------------------------===//
// Element types and reductions
//===----------------------------------------------------------------------===//

/// f16 and bf16 as stored; their arithmetic happens in f32.
struct F16 {
  uint16_t bits;
};
struct BF16 {
  uint16_t bits;
};

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f,
           mant = h & 0x3ff;
  if (exp == 0x1f) // Inf or NaN, payload kept.
    return bitsFloat(sign | 0x7f800000 | mant << 13);
  if (exp == 0) { // Zero or subnormal: mant * 2^-24, exact in f32.
    float v = std::ldexp(float(mant), -24);
    return sign ? -v : v;
  }
  return bitsFloat(sign | (exp + 112) << 23 | mant << 13);
}

/// Rounds to nearest even; NaN stays (a quiet) NaN.
uint16_t floatToF16(float f) {
  uint32_t x = floatBits(f), sign = (x >> 16) & 0x8000;
  x &= 0x7fffffff;
  if (x >= 0x47800000) // >= 2^16, Inf or NaN: all round to Inf or NaN.
    return sign | (x > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (x < 0x38800000) { // Below 2^-14: the FPU's own rounding, by adding
    // 0.5 so that the f16 subnormal's bits land in the low mantissa bits.
    return sign | (floatBits(bitsFloat(x) + 0.5f) - 0x3f000000);
  }
  // Rebias the exponent, add half an f16 ulp less one plus the kept bit's
  // parity (ties to even); a carry rounds up into the exponent, up to Inf.
  x += (uint32_t(15 - 127) << 23) + 0xfff + ((x >> 13) & 1);
  return sign | (x >> 13);
}

float bf16ToFloat(uint16_t b) { return bitsFloat(uint32_t(b) << 16); }

/// Rounds to nearest even; NaN stays (a quiet) NaN.
uint16_t floatToBf16(float f) {
  uint32_t x = floatBits(f);
  if ((x & 0x7fffffff) > 0x7f800000)
    return (x >> 16) | 0x40;
  return (x + 0x7fff + ((x >> 16) & 1)) >> 16;
}

/// How T is reduced: in Acc, loaded from and stored to T.
template <typename T>
struct Arith {
  using Acc = T;
  static Acc load(T v) { return v; }
  static T store(Acc v) { return v; }
};
template <>
struct Arith<F16> {
  using Acc = float;
  static float load(F16 v) { return f16ToFloat(v.bits); }
  static F16 store(float v) { return {floatToF16(v)}; }
};
template <>
struct Arith<BF16> {
  using Acc = float;
  static float load(BF16 v) { return bf16ToFloat(v.bits); }
  static BF16 store(float v) { return {floatToBf16(v)}; }
};

template <ReduceKind K, typename A>
A combine(A a, A b) {
  // Integers wrap, as the program's add; NaN wins Max and Min (a != a only
  // for NaN), as in ONNX.
  if constexpr (K == ReduceKind::Sum && std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return A(U(U(a) + U(b)));
  } else if constexpr (K == ReduceKind::Sum) {
    return a + b;
  } else if constexpr (K == ReduceKind::Max) {
    return (a > b || a != a) ? a : b;
  } else {
    return (a < b || a != a) ? a : b;
  }
}

/// dst[0, n) = the reduction over the peers of peer[src, src + n), in
/// group order on every member, so that all get bit-identical results.
template <typename T, ReduceKind K>
void reduceRow(const std::vector<const char *> &peers, int64_t src, T *dst,
               int64_t n) {
  using A = typename Arith<T>::Acc;
  constexpr int64_t kChunk = 256;
  A acc[kChunk];
  for (int64_t base = 0; base < n; base += kChunk) {
    int64_t m = std::min(kChunk, n - base);
    const T *p = reinterpret_cast<const T *>(peers[0]) + src + base;
    for (int64_t i = 0; i < m; ++i)
      acc[i] = Arith<T>::load(p[i]);
    for (size_t j = 1; j < peers.size(); ++j) {
      p = reinterpret_cast<const T *>(peers[j]) + src + base;
      for (int64_t i = 0; i < m; ++i)
        acc[i] = combine<K>(acc[i], Arith<T>::load(p[i]));
    }
    for (int64_t i = 0; i < m; ++i)
      dst[base + i] = Arith<T>::store(acc[i]);
  }
}

/// Calls f(T{}) with the C++ type of `dtype` (Bool as int8_t).
template <typename F>
void withElementType(DType dtype, F f) {
  switch (dtype) {
  case DType::F32:
    return f(float{});
  case DType::F64:
    return f(double{});
  case DType::F16:
    return f(F16{});
  case DType::BF16:
    return f(BF16{});
  case DType::I64:
    return f(int64_t{});
  case DType::I32:
    return f(int32_t{});
  case DType::I16:
    return f(int16_t{});
  case DType::I8:
  case DType::Bool:
    return f(int8_t{});
  case DType::U64:
    return f(uint64_t{});
  case DType::U32:
    return f(uint32_t{});
  case DType::U16:
    return f(uint16_t{});
  case DType::U8:
    return f(uint8_t{});
  }
}

//===----------------------------------------------------------------------===//
// Moving blocks between dense arrays
//===----------------------------------------------------------------------===//

int64_t numElementsOf(const Shape &shape) {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  return n;
}

std::string formatShape(const Shape &shape) {
  if (shape.empty())
    return "scalar";
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

/// For a block of shape `block` at `srcStart` in a dense row-major array of
/// shape `srcShape` and at `dstStart` in one of shape `dstShape`, calls
/// row(src, dst, n) with the element offsets of each run of n elements that
/// is consecutive in both.
template <typename Row>
void forEachRow(const Shape &block, const Shape &srcShape,
                const Shape &srcStart, const Shape &dstShape,
                const Shape &dstStart, Row row) {
  int64_t rank = block.size();
  if (numElementsOf(block) == 0)
    return;
  Shape srcStrides(rank, 1), dstStrides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d) {
    srcStrides[d] = srcStrides[d + 1] * srcShape[d + 1];
    dstStrides[d] = dstStrides[d + 1] * dstShape[d + 1];
  }
  // Dimensions [k, rank) form one run: those after k are whole in both.
  int64_t k = std::max<int64_t>(rank - 1, 0), n = rank ? block[k] : 1;
  while (k > 0 && block[k] == srcShape[k] && block[k] == dstShape[k])
    n *= block[--k];
  Shape index(k, 0);
  while (true) {
    int64_t s = 0, t = 0;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t i = d < k ? index[d] : 0;
      s += (srcStart[d] + i) * srcStrides[d];
      t += (dstStart[d] + i) * dstStrides[d];
    }
    row(s, t, n);
    int64_t d = k - 1;
    for (; d >= 0; --d) {
      if (++index[d] < block[d])
        break;
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}

/// The output shape of `in`'s collective in a group of n; false with the
/// reason in `error` when the parameters do not fit the input.
bool expectedOutput(const CollectiveParams &p, int64_t n, const Shape &in,
                    Shape &out, std::string &error) {
  int64_t rank = in.size();
  auto inRange = [&](int64_t d, const char *name) {
    if (d >= 0 && d < rank)
      return true;
    error = std::string(name) + " " + std::to_string(d) +
            " is out of range for rank " + std::to_string(rank);
    return false;
  };
  auto splits = [&](int64_t d) {
    if (in[d] % n == 0)
      return true;
    error = "dimension " + std::to_string(d) + " of size " +
            std::to_string(in[d]) + " does not split into " +
            std::to_string(n) + " chunks";
    return false;
  };
  if (p.kind < CollectiveKind::AllReduce || p.kind > CollectiveKind::Split) {
    error = "has an unknown kind " + std::to_string(int64_t(p.kind));
    return false;
  }
  out = in;
  switch (p.kind) {
  case CollectiveKind::AllReduce:
    break;
  case CollectiveKind::AllGather:
    if (!inRange(p.dim, "dimension"))
      return false;
    out[p.dim] *= n;
    break;
  case CollectiveKind::ReduceScatter:
  case CollectiveKind::Split:
    if (!inRange(p.dim, "dimension") || !splits(p.dim))
      return false;
    out[p.dim] /= n;
    break;
  case CollectiveKind::AllToAll:
    if (!inRange(p.dim, "split dimension") ||
        !inRange(p.dim2, "concatenation dimension") || !splits(p.dim))
      return false;
    out[p.dim] /= n;
    out[p.dim2] *= n;
    break;
  }
  if (p.kind != CollectiveKind::AllGather && p.kind != CollectiveKind::Split &&
      p.kind != CollectiveKind::AllToAll &&
      (p.reduce < ReduceKind::Sum || p.reduce > ReduceKind::Min)) {
    error = "has an unknown reduction " + std::to_string(int64_t(p.reduce));
    return false;
  }
  return true;
}

/// out (of shape outShape) for member g from every member's packed input
/// (of shape inShape), the shapes already checked.
void compute(const CollectiveParams &p, DType dtype,
             const std::vector<const char *> &peers, int64_t g,
             const Shape &inShape, char *out, const Shape &outShape) {
  int64_t n = peers.size();
  size_t bytes = dtypeSize(dtype);
  Shape zeros(inShape.size(), 0), srcStart = zeros, dstStart = zeros;
  auto copy = [&](const char *src, const Shape &block) {
    forEachRow(block, inShape, srcStart, outShape, dstStart,
               [&](int64_t s, int64_t t, int64_t len) {
                 std::memcpy(out + t * bytes, src + s * bytes, len * bytes);
               });
  };
  auto reduce = [&](const Shape &block) {
    withElementType(dtype, [&](auto type) {
      using T = decltype(type);
      auto run = [&](auto kind) {
        forEachRow(block, inShape, srcStart, outShape, dstStart,
                   [&](int64_t s, int64_t t, int64_t len) {
                     reduceRow<T, decltype(kind)::value>(
                         peers, s, reinterpret_cast<T *>(out) + t, len);
                   });
      };
      switch (p.reduce) {
      case ReduceKind::Sum:
        return run(std::integral_constant<ReduceKind, ReduceKind::Sum>());
      case ReduceKind::Max:
        return run(std::integral_constant<ReduceKind, ReduceKind::Max>());
      case ReduceKind::Min:
        return run(std::integral_constant<ReduceKind, ReduceKind::Min>());
      }
    });
  };
  switch (p.kind) {
  case CollectiveKind::AllReduce:
    return reduce(outShape);
  case CollectiveKind::ReduceScatter:
    srcStart[p.dim] = g * outShape[p.dim];
    return reduce(outShape);
  case CollectiveKind::AllGather:
    for (int64_t j = 0; j < n; ++j) {
      dstStart[p.dim] = j * inShape[p.dim];
      copy(peers[j], inShape);
    }
    return;
  case CollectiveKind::Split:
    srcStart[p.dim] = g * outShape[p.dim];
    return copy(peers[g], outShape);
  case CollectiveKind::AllToAll: {
    Shape chunk = inShape;
    chunk[p.dim] /= n;
    srcStart[p.dim] = g * chunk[p.dim];
    for (int64_t j = 0; j < n; ++j) {
      dstStart[p.dim2] = j * chunk[p.dim2];
      copy(peers[j], chunk);
    }
    return;
  }
  }
}

//===----------------------------------------------------------------------===//
// The mesh run
//===----------------------------------------------------------------------===//

/// What a member publishes for its group.
struct Slot {
  std::vector<char> packed;
  Shape shape;
  DType dtype = DType::F32;
  CollectiveParams params;
  /// Barriers this member has reached: at the barrier completing generation
  /// G + 1, the members still missing are those with arrivals == G.
  uint64_t arrivals = 0;
};

struct Group {
  std::vector<Slot> slots;
  int64_t waiting = 0;
  uint64_t generation = 0;
};

struct MeshRun {
  MeshShape mesh;
  double timeoutSeconds;
  std::mutex mutex;
  std::condition_variable changed;
  /// Set by the first error, under the mutex so that waiters see it;
  /// atomic for the check at each collective's entry.
  std::atomic<bool> failed{false};
  std::string firstError;
  /// groups[axis][r]: the group over `axis` whose member 0 is device r.
  std::vector<std::vector<Group>> groups;

  MeshRun(const MeshShape &mesh, double timeoutSeconds)
      : mesh(mesh), timeoutSeconds(timeoutSeconds) {
    int64_t count = mesh.numDevices();
    groups.resize(mesh.axisSizes.size());
    for (size_t a = 0; a < groups.size(); ++a) {
      groups[a].resize(count);
      for (int64_t r = 0; r < count; ++r)
        if (mesh.coordinates(r)[a] == 0)
          groups[a][r].slots.resize(mesh.axisSizes[a]);
    }
  }

  void fail(const std::string &message) {
    std::lock_guard<std::mutex> lock(mutex);
    if (firstError.empty())
      firstError = message;
    failed = true;
    changed.notify_all();
  }

  /// Waits until every member of `group` reaches this barrier: "" or why
  /// not (the run failed, or a member did not come within the timeout).
  std::string arrive(Group &group, int64_t member) {
    std::unique_lock<std::mutex> lock(mutex);
    if (failed)
      return "abandoned: another device failed";
    uint64_t generation = group.generation;
    ++group.slots[member].arrivals;
    if (++group.waiting == int64_t(group.slots.size())) {
      group.waiting = 0;
      ++group.generation;
      changed.notify_all();
      return "";
    }
    // Capped so that an infinite timeout does not overflow the clock.
    auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(std::min(timeoutSeconds, 1e8)));
    changed.wait_until(lock, deadline, [&] {
      return group.generation != generation || failed;
    });
    // A completed barrier wins over a failure: every member then sees it.
    if (group.generation != generation)
      return "";
    if (failed)
      return "abandoned: another device failed";
    int64_t missing = 0;
    while (group.slots[missing].arrivals != generation)
      ++missing;
    char reason[160];
    std::snprintf(reason, sizeof(reason),
                  "timed out after %g s: device %lld of %lld did not arrive",
                  timeoutSeconds, static_cast<long long>(missing),
                  static_cast<long long>(group.slots.size()));
    return reason;
  }
};

/// The device the calling thread is, inside runOnCpuMesh or
/// runOnProcessDevice.
struct DeviceContext {
  MeshRun *run;
  int64_t rank;
  Shape coordinates;
  std::string error;
  /// Set inside runOnProcessDevice: the group's other members are other
  /// processes, reached through this rather than through run's slots.
  const ProcessExchange *exchange = nullptr;
  /// Whether `error` only says that another device failed.
  bool abandoned = false;
};

thread_local DeviceContext *currentDevice = nullptr;
/// The first error of a collective outside a mesh run, until taken.
thread_local std::string standaloneError;

/// Records `message` as the device's error and fails its mesh run (waking
/// every waiting peer), or outside a run keeps it for takeCollectiveError.
void record(DeviceContext *ctx, const std::string &message) {
  if (!ctx) {
    if (standaloneError.empty())
      standaloneError = message;
    return;
  }
  if (ctx->error.empty())
    ctx->error = message;
  ctx->run->fail(message);
}

/// "" or why the members' publications disagree, the same on every member
/// (each compares member 0 with the others in order).
std::string comparePeers(const Group &group) {
  const Slot &a = group.slots[0];
  for (size_t j = 1; j < group.slots.size(); ++j) {
    const Slot &b = group.slots[j];
    std::string them = ": device 0 has ",
                other = ", device " + std::to_string(j) + " has ";
    const CollectiveParams &p = a.params, &q = b.params;
    if (p.kind != q.kind || p.stepId != q.stepId)
      return "programs disagree: device 0 is at " +
             std::string(collectiveName(p.kind)) + " step " +
             std::to_string(p.stepId) + ", device " + std::to_string(j) +
             " at " + collectiveName(q.kind) + " step " +
             std::to_string(q.stepId);
    if (p.dim != q.dim || p.dim2 != q.dim2 || p.reduce != q.reduce)
      return "parameters disagree" + them + "dim " + std::to_string(p.dim) +
             ", dim2 " + std::to_string(p.dim2) + ", reduction " +
             std::to_string(int64_t(p.reduce)) + other + "dim " +
             std::to_string(q.dim) + ", dim2 " + std::to_string(q.dim2) +
             ", reduction " + std::to_string(int64_t(q.reduce));
    if (a.dtype != b.dtype)
      return "element types disagree" + them + dtypeName(a.dtype) + other +
             dtypeName(b.dtype);
    int64_t m = numElementsOf(a.shape), n = numElementsOf(b.shape);
    if (m != n)
      return "sizes disagree" + them + std::to_string(m) + " elements" + other +
             std::to_string(n);
    if (a.shape != b.shape)
      return "shapes disagree" + them + formatShape(a.shape) + other +
             formatShape(b.shape);
  }
  return "";
}

/// The collective for device `ctx` (nullptr: outside a mesh run); the
/// caller zeroes `out` and records `error` when it returns false.
bool perform(DeviceContext *ctx, const CollectiveParams &p, DType dtype,
             const void *in, const Shape &inShape, void *out,
             const Shape &outShape, std::string &error) {
  int64_t n = 1, g = 0;
  if (!ctx && p.groupSize != 1) {
    error = "needs a group of " + std::to_string(p.groupSize) +
            " devices, but the program runs on one device (no mesh)";
    return false;
  }
  if (ctx) {
    const MeshShape &mesh = ctx->run->mesh;
    if (p.axis < 0 || p.axis >= int64_t(mesh.axisSizes.size())) {
      error = "names no axis of a mesh with " +
              std::to_string(mesh.axisSizes.size()) + " axes";
      return false;
    }
    n = mesh.axisSizes[p.axis];
    g = ctx->coordinates[p.axis];
    if (p.groupSize != n) {
      error = "was compiled for a group of " + std::to_string(p.groupSize) +
              " devices, but the axis has " + std::to_string(n);
      return false;
    }
  }
  Shape expected;
  if (!expectedOutput(p, n, inShape, expected, error))
    return false;
  if (expected != outShape) {
    error = "expects output shape " + formatShape(expected) +
            " for input shape " + formatShape(inShape) + ", got " +
            formatShape(outShape);
    return false;
  }
  auto *src = static_cast<const char *>(in);
  size_t inBytes = numElementsOf(inShape) * dtypeSize(dtype);
  if (!ctx) {
    // A world of one: a copy, through a temporary where in and out overlap.
    auto *dst = static_cast<char *>(out);
    std::vector<char> copy;
    if (src < dst + numElementsOf(outShape) * dtypeSize(dtype) &&
        dst < src + inBytes) {
      copy.assign(src, src + inBytes);
      src = copy.data();
    }
    compute(p, dtype, {src}, 0, inShape, dst, outShape);
    return true;
  }
  if (p.kind == CollectiveKind::Split) {
    // Each device cuts its own part: nothing to exchange, no rendezvous.
    auto *dst = static_cast<char *>(out);
    std::vector<char> copy;
    if (src < dst + numElementsOf(outShape) * dtypeSize(dtype) &&
        dst < src + inBytes) {
      copy.assign(src, src + inBytes);
      src = copy.data();
    }
    compute(p, dtype, std::vector<const char *>(n, src), g, inShape, dst,
            outShape);
    return true;
  }
  MeshRun &run = *ctx->run;
  int64_t stride = 1;
  for (size_t a = p.axis + 1; a < run.mesh.axisSizes.size(); ++a)
    stride *= run.mesh.axisSizes[a];
  Group &group = run.groups[p.axis][ctx->rank - g * stride];
  Slot &slot = group.slots[g];
  slot.packed.assign(src, src + inBytes);
  slot.shape = inShape;
  slot.dtype = dtype;
  slot.params = p;
  if (!(error = run.arrive(group, g)).empty() ||
      !(error = comparePeers(group)).empty())
    return false;
  // Between the barriers no slot changes: read them without the lock.
  std::vector<const char *> peers;
  for (const Slot &s : group.slots)
    peers.push_back(s.packed.data());
  compute(p, dtype, peers, g, inShape, static_cast<char *>(out), outShape);
  error = run.arrive(group, g);
  return error.empty();
}

/// "collective all_reduce over mesh axis 'tp' (step 3) ": how messages
/// name a collective.
std::string collectiveLabel(const DeviceContext *ctx,
                            const CollectiveParams &p) {
  std::string axis = "mesh axis " + std::to_string(p.axis);
  if (ctx && p.axis >= 0 && p.axis < int64_t(ctx->run->mesh.axisNames.size()))
    axis = "mesh axis '" + ctx->run->mesh.axisNames[p.axis] + "'";
  return std::string("collective ") + collectiveName(p.kind) + " over " + axis +
         " (step " + std::to_string(p.stepId) + ") ";
}

//===----------------------------------------------------------------------===//
// Groups across processes
//===----------------------------------------------------------------------===//

/// The most dims a member announces (the kernels have at most 8).
constexpr int64_t kMaxAnnouncedRank = 16;

/// What a member of a group across processes announces before its data:
/// what the threads compare in their slots, and whether it has failed.
struct Announcement {
  int64_t kind, dim, reduce, stepId, dim2, dtype, rank;
  int64_t shape[kMaxAnnouncedRank];
  int64_t failed;
};

bool exchangeOverAxis(const DeviceContext &ctx, int64_t axis, const void *data,
                      int64_t bytes, void *all, std::string &error) {
  char why[512] = {};
  if (ctx.exchange->allGather(ctx.exchange->context, axis, data, bytes, all,
                              why, sizeof why) == 0)
    return true;
  error = why[0] ? why : "the exchange failed";
  return false;
}

/// perform() for a device whose group spans processes. Every member
/// announces itself, even one that has failed, so that none is left
/// waiting; false with an empty `error` when the device had failed before
/// (nothing new to record).
bool performAcrossProcesses(DeviceContext &ctx, const CollectiveParams &p,
                            DType dtype, const void *in, const Shape &inShape,
                            void *out, const Shape &outShape,
                            std::string &error) {
  const MeshShape &mesh = ctx.run->mesh;
  // Without an axis there is no group to announce to; the program's
  // constants are the same on every device, so all of them stop here.
  if (p.axis < 0 || p.axis >= int64_t(mesh.axisSizes.size())) {
    error = "names no axis of a mesh with " +
            std::to_string(mesh.axisSizes.size()) + " axes";
    return false;
  }
  int64_t n = mesh.axisSizes[p.axis], g = ctx.coordinates[p.axis];
  // What this device can tell alone.
  std::string local;
  Shape expected;
  if (p.groupSize != n)
    local = "was compiled for a group of " + std::to_string(p.groupSize) +
            " devices, but the axis has " + std::to_string(n);
  else if (int64_t(inShape.size()) > kMaxAnnouncedRank)
    local = "has rank " + std::to_string(inShape.size()) + ", more than " +
            std::to_string(kMaxAnnouncedRank) + " across processes";
  else if (expectedOutput(p, n, inShape, expected, local) &&
           expected != outShape)
    local = "expects output shape " + formatShape(expected) +
            " for input shape " + formatShape(inShape) + ", got " +
            formatShape(outShape);
  // Allocated before announcing: a member that fails after its
  // announcement would leave its peers waiting for its data.
  int64_t bytes = numElementsOf(inShape) * dtypeSize(dtype);
  std::vector<char> gathered;
  if (local.empty() && ctx.error.empty()) {
    try {
      gathered.resize(bytes * n);
    } catch (const std::bad_alloc &) {
      local = "cannot allocate " + std::to_string(bytes * n) +
              " bytes for the group's inputs";
    }
  }
  Announcement mine{};
  mine.kind = int64_t(p.kind);
  mine.dim = p.dim;
  mine.reduce = int64_t(p.reduce);
  mine.stepId = p.stepId;
  mine.dim2 = p.dim2;
  mine.dtype = int64_t(dtype);
  mine.rank = std::min<int64_t>(inShape.size(), kMaxAnnouncedRank);
  std::copy(inShape.begin(), inShape.begin() + mine.rank, mine.shape);
  mine.failed = !ctx.error.empty() || !local.empty();
  std::vector<Announcement> all(n);
  if (!exchangeOverAxis(ctx, p.axis, &mine, sizeof mine, all.data(), error))
    return false;
  if (!local.empty()) {
    error = local;
    return false;
  }
  if (!ctx.error.empty())
    return false;
  for (int64_t j = 0; j < n; ++j)
    if (all[j].failed) {
      error = "abandoned: device " + std::to_string(j) + " of " +
              std::to_string(n) + " failed";
      ctx.abandoned = true;
      return false;
    }
  // Compared as the threads compare their slots, so the messages match.
  Group group;
  group.slots.resize(n);
  for (int64_t j = 0; j < n; ++j) {
    const Announcement &a = all[j];
    Slot &slot = group.slots[j];
    slot.params = p;
    slot.params.kind = CollectiveKind(a.kind);
    slot.params.dim = a.dim;
    slot.params.reduce = ReduceKind(a.reduce);
    slot.params.stepId = a.stepId;
    slot.params.dim2 = a.dim2;
    slot.dtype = DType(a.dtype);
    slot.shape.assign(
        a.shape, a.shape + std::clamp<int64_t>(a.rank, 0, kMaxAnnouncedRank));
  }
  if (!(error = comparePeers(group)).empty())
    return false;
  if (!exchangeOverAxis(ctx, p.axis, in, bytes, gathered.data(), error))
    return false;
  std::vector<const char *> peers;
  for (int64_t j = 0; j < n; ++j)
    peers.push_back(gathered.data() + j * bytes);
  compute(p, dtype, peers, g, inShape, static_cast<char *>(out), outShape);
  return true;
}

/// collective() for a device whose group spans processes.
bool collectiveAcrossProcesses(DeviceContext &ctx, const CollectiveParams &p,
                               DType dtype, const void *in,
                               const Shape &inShape, void *out,
                               const Shape &outShape) {
  std::string error;
  // Called from compiled code: nothing may propagate through its frames.
  try {
    if (performAcrossProcesses(ctx, p, dtype, in, inShape, out, outShape,
                               error))
      return true;
  } catch (const std::exception &e) {
    error = e.what();
  }
  std::memset(out, 0,
              std::max<int64_t>(numElementsOf(outShape), 0) * dtypeSize(dtype));
  if (!error.empty())
    record(&ctx, collectiveLabel(&ctx, p) + error);
  return false;
}

/// The body of the memref kernels: `in` packed, `out` written back through
/// its strides. Word is an unsigned integer of the element's size.
template <typename Word>
void collectiveKernel(DType dtype, int64_t rank, void *inDesc, void *paramsDesc,
                      void *outDesc) {
  View<Word> in(inDesc, rank), out(outDesc, rank);
  View<int64_t> pv(paramsDesc, 1);
  std::vector<Word> inStore, outStore;
  bool outDense = out.contiguous();
  Word *dst = out.data;
  if (!outDense) {
    outStore.resize(out.count());
    dst = outStore.data();
  }
  if (pv.sizes[0] < 7) {
    std::fill(dst, dst + out.count(), Word(0));
    record(currentDevice, "collective kernel got " +
                              std::to_string(pv.sizes[0]) +
                              " parameters, expects 7");
  } else {
    std::vector<int64_t> pStore;
    const int64_t *w = pv.dense(pStore);
    CollectiveParams p{
        CollectiveKind(w[0]), w[1], w[2], ReduceKind(w[3]), w[4], w[5], w[6]};
    collective(p, dtype, in.dense(inStore), Shape(in.sizes, in.sizes + rank),
               dst, Shape(out.sizes, out.sizes + rank));
  }
  if (!outDense)
    out.scatter(dst);
}
} // namespace

//===----------------------------------------------------------------------===//
// Public entry points
//===----------------------------------------------------------------------===//

int64_t llmc::runtime::MeshShape::numDevices() const {
  return numElementsOf(axisSizes);
}

std::vector<int64_t> llmc::runtime::MeshShape::coordinates(int64_t rank) const {
  std::vector<int64_t> c(axisSizes.size());
  for (int64_t a = int64_t(axisSizes.size()) - 1; a >= 0; --a) {
    c[a] = rank % axisSizes[a];
    rank /= axisSizes[a];
  }
  return c;
}

const char *llmc::runtime::collectiveName(CollectiveKind kind) {
  switch (kind) {
  case CollectiveKind::AllReduce:
    return "all_reduce";
  case CollectiveKind::AllGather:
    return "all_gather";
  case CollectiveKind::ReduceScatter:
    return "reduce_scatter";
  case CollectiveKind::AllToAll:
    return "all_to_all";
  case CollectiveKind::Split:
    return "split";
  }
  return "unknown";
}

bool llmc::runtime::collective(const CollectiveParams &params, DType dtype,
                               const void *in,
                               const std::vector<int64_t> &inShape, void *out,
                               const std::vector<int64_t> &outShape) {
  DeviceContext *ctx = currentDevice;
  if (ctx && ctx->exchange)
    return collectiveAcrossProcesses(*ctx, params, dtype, in, inShape, out,
                                     outShape);
  size_t outBytes =
      std::max<int64_t>(numElementsOf(outShape), 0) * dtypeSize(dtype);
  // After its error a device runs on with zeros and waits for nothing.
  if (ctx && !ctx->error.empty()) {
    std::memset(out, 0, outBytes);
    return false;
  }
  std::string error;
  if (ctx && ctx->run->failed) {
    error = "abandoned: another device failed";
  } else {
    // Called from compiled code: nothing may propagate through its frames.
    try {
      if (perform(ctx, params, dtype, in, inShape, out, outShape, error))
        return true;
    } catch (const std::exception &e) {
      error = e.what();
    }
  }
  std::memset(out, 0, outBytes);
  record(ctx, collectiveLabel(ctx, params) + error);
  return false;
}

int llmc::runtime::reportToBuffer(const std::string &why, char *error,
                                  int64_t errorSize) {
  if (why.empty())
    return 0;
  if (errorSize > 0) {
    size_t n = std::min<size_t>(why.size(), errorSize - 1);
    std::memcpy(error, why.data(), n);
    error[n] = '\0';
  }
  return 1;
}

std::string llmc::runtime::takeCollectiveError() {
  return std::exchange(standaloneError, std::string());
}

std::string
llmc::runtime::runOnCpuMesh(const MeshShape &mesh, double timeoutSeconds,
                            const std::function<void(int64_t)> &perDevice) {
  if (mesh.axisNames.size() != mesh.axisSizes.size())
    return "device mesh has " + std::to_string(mesh.axisNames.size()) +
           " axis names but " + std::to_string(mesh.axisSizes.size()) +
           " sizes";
  // One thread per device: a bound keeps a typo from starting millions.
  int64_t devices = 1;
  for (size_t a = 0; a < mesh.axisSizes.size(); ++a) {
    if (mesh.axisSizes[a] < 1 || (devices *= mesh.axisSizes[a]) > 4096)
      return "device mesh axis '" + mesh.axisNames[a] + "' of size " +
             std::to_string(mesh.axisSizes[a]) +
             " is not in 1..4096 devices in all";
  }
  if (!(timeoutSeconds > 0))
    return "collective timeout must be positive, got " +
           std::to_string(timeoutSeconds);
  MeshRun run(mesh, timeoutSeconds);
  // As many devices as threads: each device's kernels run on its own
  // thread (a shared pool would oversubscribe the cores).
  bool serial = devices >= threadCount();
  auto device = [&](int64_t rank) {
    DeviceContext ctx{&run, rank, mesh.coordinates(rank), ""};
    currentDevice = &ctx;
    setThreadUsesPool(!serial);
    std::string error;
    try {
      perDevice(rank);
    } catch (const std::exception &e) {
      error = e.what();
    } catch (...) {
      error = "an exception that is not a std::exception";
    }
    currentDevice = nullptr;
    // Its peers would otherwise wait for it until their timeout.
    if (!error.empty())
      run.fail("device " + std::to_string(rank) + " failed: " + error);
  };
  std::vector<std::thread> threads;
  try {
    threads.reserve(devices);
    for (int64_t rank = 0; rank < devices; ++rank)
      threads.emplace_back(device, rank);
  } catch (const std::exception &e) {
    run.fail("cannot start " + std::to_string(devices) +
             " device threads: " + e.what());
  }
  for (std::thread &t : threads)
    t.join();
  return run.firstError;
}

//===----------------------------------------------------------------------===//
// The memref kernels
//===----------------------------------------------------------------------===//

// X(name, word, dtype) for each element type compiled code uses (i8 also
// for i1), then M(..., rank) for each rank 0..8.
#define LLMC_COLLECTIVE_TYPES(X)                                               \
  X(f32, uint32_t, F32)                                                        \
  X(f64, uint64_t, F64)                                                        \
  X(f16, uint16_t, F16)                                                        \
  X(bf16, uint16_t, BF16)                                                      \
  X(i64, uint64_t, I64)                                                        \
  X(i32, uint32_t, I32)                                                        \
  X(i8, uint8_t, I8)                                                           \
  X(u8, uint8_t, U8)
#define LLMC_COLLECTIVE_RANKS(M, NAME, WORD, TYPE)                             \
  M(NAME, WORD, TYPE, 0)                                                       \
  M(NAME, WORD, TYPE, 1)                                                       \
  M(NAME, WORD, TYPE, 2)                                                       \
  M(NAME, WORD, TYPE, 3)                                                       \
  M(NAME, WORD, TYPE, 4)                                                       \
  M(NAME, WORD, TYPE, 5)                                                       \
  M(NAME, WORD, TYPE, 6)                                                       \
  M(NAME, WORD, TYPE, 7)                                                       \
  M(NAME, WORD, TYPE, 8)

#define LLMC_COLLECTIVE_KERNEL(NAME, WORD, TYPE, RANK)                         \
  extern "C" void _mlir_ciface_llmc_collective_##NAME##_r##RANK(               \
      void *in, void *params, void *out) {                                     \
    collectiveKernel<WORD>(DType::TYPE, RANK, in, params, out);                \
  }
#define LLMC_COLLECTIVE_KERNELS(NAME, WORD, TYPE)                              \
  LLMC_COLLECTIVE_RANKS(LLMC_COLLECTIVE_KERNEL, NAME, WORD, TYPE)
LLMC_COLLECTIVE_TYPES(LLMC_COLLECTIVE_KERNELS)

#define LLMC_COLLECTIVE_SYMBOL(NAME, WORD, TYPE, RANK)                         \
  {"_mlir_ciface_llmc_collective_" #NAME "_r" #RANK,                           \
   reinterpret_cast<void *>(&_mlir_ciface_llmc_collective_##NAME##_r##RANK)},
#define LLMC_COLLECTIVE_SYMBOLS(NAME, WORD, TYPE)                              \
  LLMC_COLLECTIVE_RANKS(LLMC_COLLECTIVE_SYMBOL, NAME, WORD, TYPE)

/// runOnCpuMesh with a C interface, exported so that every copy of the
/// runtime in a process can reach the one compiled code calls (see
/// runOnCpuMeshShared). Returns 0, or 1 with the error in `error`.
extern "C" __attribute__((visibility("default"))) int
llmc_run_on_cpu_mesh(const char *const *axisNames, const int64_t *axisSizes,
                     int64_t numAxes, double timeoutSeconds,
                     void (*perDevice)(void *context, int64_t rank),
                     void *context, char *error, int64_t errorSize) {
  llmc::runtime::MeshShape mesh;
  for (int64_t i = 0; i < numAxes; ++i) {
    mesh.axisNames.push_back(axisNames[i]);
    mesh.axisSizes.push_back(axisSizes[i]);
  }
  std::string why = llmc::runtime::runOnCpuMesh(
      mesh, timeoutSeconds,
      [&](int64_t rank) { perDevice(context, rank); });
  return llmc::runtime::reportToBuffer(why, error, errorSize);
}

std::string llmc::runtime::runOnCpuMeshShared(
    const MeshShape &mesh, double timeoutSeconds,
    const std::function<void(int64_t rank)> &perDevice) {
  using RunFn = decltype(&llmc_run_on_cpu_mesh);
  auto run = reinterpret_cast<RunFn>(dlsym(RTLD_DEFAULT, "llmc_run_on_cpu_mesh"));
  if (!run)
    run = &llmc_run_on_cpu_mesh;
  std::vector<const char *> names;
  for (const std::string &n : mesh.axisNames)
    names.push_back(n.c_str());
  char error[1024] = {};
  auto trampoline = [](void *context, int64_t rank) {
    (*static_cast<const std::function<void(int64_t)> *>(context))(rank);
  };
  if (run(names.data(), mesh.axisSizes.data(),
          static_cast<int64_t>(mesh.axisSizes.size()), timeoutSeconds,
          trampoline, const_cast<std::function<void(int64_t)> *>(&perDevice),
          error, sizeof error))
    return error;
  return "";
}

ProcessDeviceResult llmc::runtime::runOnProcessDevice(
    const MeshShape &mesh, int64_t rank, const ProcessExchange &exchange,
    const std::function<void(int64_t rank)> &perDevice) {
  ProcessDeviceResult result;
  if (mesh.axisNames.size() != mesh.axisSizes.size() ||
      mesh.axisSizes.empty()) {
    result.error = "device mesh has " + std::to_string(mesh.axisNames.size()) +
                   " axis names and " + std::to_string(mesh.axisSizes.size()) +
                   " sizes";
    return result;
  }
  int64_t devices = 1;
  for (size_t a = 0; a < mesh.axisSizes.size(); ++a)
    if (mesh.axisSizes[a] < 1 || (devices *= mesh.axisSizes[a]) > 4096) {
      result.error = "device mesh axis '" + mesh.axisNames[a] + "' of size " +
                     std::to_string(mesh.axisSizes[a]) +
                     " is not in 1..4096 devices in all";
      return result;
    }
  if (rank < 0 || rank >= devices) {
    result.error = "device " + std::to_string(rank) + " is not in a mesh of " +
                   std::to_string(devices) + " devices";
    return result;
  }
  // The run's slots stay unused: the exchange replaces them. No timeout.
  MeshRun run(mesh, 0);
  DeviceContext ctx{&run, rank, mesh.coordinates(rank), ""};
  ctx.exchange = &exchange;
  currentDevice = &ctx;
  std::string error;
  try {
    perDevice(rank);
  } catch (const std::exception &e) {
    error = e.what();
  } catch (...) {
    error = "an exception that is not a std::exception";
  }
  currentDevice = nullptr;
  if (ctx.error.empty() && !error.empty()) {
    ctx.error = "device " + std::to_string(rank) + " failed: " + error;
    ctx.abandoned = false;
  }
  result.error = ctx.error;
  result.abandoned = ctx.abandoned;
  return result;
}

/// runOnProcessDevice with a C interface, exported as llmc_run_on_cpu_mesh
/// is. Returns 0, or 1 with the error in `error` and `*abandoned` set when
/// it only follows another device's failure.
extern "C" __attribute__((visibility("default"))) int
llmc_run_on_process_device(const char *const *axisNames,
                           const int64_t *axisSizes, int64_t numAxes,
                           int64_t rank,
                           const llmc::runtime::ProcessExchange *exchange,
                           void (*perDevice)(void *context, int64_t rank),
                           void *context, char *error, int64_t errorSize,
                           int *abandoned) {
  llmc::runtime::MeshShape mesh;
  for (int64_t i = 0; i < numAxes; ++i) {
    mesh.axisNames.push_back(axisNames[i]);
    mesh.axisSizes.push_back(axisSizes[i]);
  }
  llmc::runtime::ProcessDeviceResult result = llmc::runtime::runOnProcessDevice(
      mesh, rank, *exchange, [&](int64_t r) { perDevice(context, r); });
  *abandoned = result.abandoned;
  return llmc::runtime::reportToBuffer(result.error, error, errorSize);
}

ProcessDeviceResult llmc::runtime::runOnProcessDeviceShared(
    const MeshShape &mesh, int64_t rank, const ProcessExchange &exchange,
    const std::function<void(int64_t rank)> &perDevice) {
  using RunFn = decltype(&llmc_run_on_process_device);
  auto run = reinterpret_cast<RunFn>(
      dlsym(RTLD_DEFAULT, "llmc_run_on_process_device"));
  if (!run)
    run = &llmc_run_on_process_device;
  std::vector<const char *> names;
  for (const std::string &n : mesh.axisNames)
    names.push_back(n.c_str());
  char error[1024] = {};
  int abandoned = 0;
  auto trampoline = [](void *context, int64_t r) {
    (*static_cast<const std::function<void(int64_t)> *>(context))(r);
  };
  ProcessDeviceResult result;
  if (run(names.data(), mesh.axisSizes.data(),
          static_cast<int64_t>(mesh.axisSizes.size()), rank, &exchange,
          trampoline, const_cast<std::function<void(int64_t)> *>(&perDevice),
          error, sizeof error, &abandoned)) {
    result.error = error;
    result.abandoned = abandoned;
  }
  return result;
}

const KernelSymbol *llmc::runtime::getCollectiveKernelSymbols() {
  static const KernelSymbol symbols[] = {
      LLMC_COLLECTIVE_TYPES(LLMC_COLLECTIVE_SYMBOLS){nullptr, nullptr}};
  return symbols;
}
