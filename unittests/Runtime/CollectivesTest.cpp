//===- CollectivesTest.cpp - Collectives between CPU mesh devices ---------===//
//
// Every kind against a reference computed here element by element (float64
// for reductions), through the memref kernels found by name in the JIT's
// symbol table; then the failures, which must end the run promptly.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Collectives.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

using namespace llmc::runtime;

namespace {
using Shape = std::vector<int64_t>;
using Kernel = void (*)(void *, void *, void *);
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char *kernelTypeName(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I64:
    return "i64";
  case DType::I32:
    return "i32";
  case DType::I8:
    return "i8";
  case DType::U8:
    return "u8";
  default:
    return "?";
  }
}

/// Looks the kernel up as the JIT does: by name in getCpuKernelSymbols().
Kernel findKernel(DType dtype, int64_t rank) {
  std::string name = std::string("_mlir_ciface_llmc_collective_") +
                     kernelTypeName(dtype) + "_r" + std::to_string(rank);
  for (const KernelSymbol *s = getCpuKernelSymbols(); s->name; ++s)
    if (name == s->name)
      return reinterpret_cast<Kernel>(s->address);
  return nullptr;
}

/// bf16 rounding to nearest even, done in double arithmetic (independent
/// of the runtime's bit manipulation).
uint16_t toBf16(double v) {
  float f;
  if (std::isnan(v)) {
    f = std::numeric_limits<float>::quiet_NaN();
  } else if (v == 0 || std::isinf(v)) {
    f = float(v);
  } else {
    // 8 significant bits; below 2^-126 the quantum stays 2^-133.
    int e = std::max(std::ilogb(v), -126);
    double q = std::ldexp(1.0, e - 7);
    double r = std::nearbyint(v / q) * q;
    f = std::fabs(r) > 3.3895313892515355e38 ? std::copysign(INFINITY, v)
                                             : float(r);
  }
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}

/// Element conversions, independent of the runtime's: f16 is the
/// compiler's _Float16.
double load(DType t, const char *p) {
  auto as = [p](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return double(v);
  };
  switch (t) {
  case DType::F32:
    return as(float());
  case DType::F64:
    return as(double());
  case DType::F16:
    return as(_Float16());
  case DType::BF16: {
    uint16_t b;
    std::memcpy(&b, p, 2);
    uint32_t u = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  case DType::I64:
    return as(int64_t());
  case DType::I32:
    return as(int32_t());
  case DType::I8:
    return as(int8_t());
  case DType::U8:
    return as(uint8_t());
  default:
    ADD_FAILURE() << "no such test type";
    return 0;
  }
}

void store(DType t, char *p, double v) {
  auto put = [p](auto x) { std::memcpy(p, &x, sizeof(x)); };
  switch (t) {
  case DType::F32:
    return put(float(v));
  case DType::F64:
    return put(v);
  case DType::F16:
    return put(_Float16(v));
  case DType::BF16:
    return put(toBf16(v));
  case DType::I64:
    return put(int64_t(v));
  case DType::I32:
    return put(int32_t(v));
  case DType::I8:
    return put(int8_t(v));
  case DType::U8:
    return put(uint8_t(v));
  default:
    ADD_FAILURE() << "no such test type";
  }
}

/// v rounded once to `t` (what a reduction accumulated exactly must give).
double roundTo(DType t, double v) {
  char bytes[8];
  store(t, bytes, v);
  return load(t, bytes);
}

/// Calls f(index) for every index of `shape` in row-major order (once for
/// a scalar).
void forEachIndex(const Shape &shape,
                  const std::function<void(const Shape &)> &f) {
  for (int64_t s : shape)
    if (s == 0)
      return;
  Shape index(shape.size(), 0);
  while (true) {
    f(index);
    int64_t d = int64_t(shape.size()) - 1;
    for (; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}

int64_t linear(const Shape &index, const Shape &shape) {
  int64_t l = 0;
  for (size_t d = 0; d < shape.size(); ++d)
    l = l * shape[d] + index[d];
  return l;
}

/// A test input: a different value per device and element, exact in the
/// type; floats are multiples of 1/64 below 16 (bf16: below 2) in
/// magnitude, so sums of up to four are exact in f32 and double.
double inputValue(DType t, int64_t device, int64_t element) {
  int64_t h = (device * 7919 + element * 104729 + 17) % 2001;
  switch (t) {
  case DType::BF16:
    return double(h % 201 - 100) / 64;
  case DType::F32:
  case DType::F64:
  case DType::F16:
    return double(h - 1000) / 64;
  case DType::I8:
    return double(h % 61 - 30);
  case DType::U8:
    return double(h % 61);
  default:
    return double(h - 1000);
  }
}

/// A tensor seen through a memref descriptor: dense, or strided (every
/// dimension padded by one, every other element along the last, at an
/// offset) inside a buffer whose other bytes the kernel must not touch.
struct Buffer {
  static constexpr char kSentinel = 0x5a;
  DType dtype;
  Shape shape, strides;
  int64_t offset;
  std::vector<char> storage;
  std::vector<int64_t> descriptor;

  Buffer(DType dtype, Shape shapeIn, bool strided)
      : dtype(dtype), shape(std::move(shapeIn)), strides(shape.size()),
        offset(strided ? 3 : 0) {
    int64_t next = 1, rank = shape.size();
    for (int64_t d = rank - 1; d >= 0; --d) {
      strides[d] = next * (strided && d == rank - 1 ? 2 : 1);
      next = strides[d] * (shape[d] + (strided ? 1 : 0));
    }
    storage.assign((offset + next) * dtypeSize(dtype), kSentinel);
    auto base = reinterpret_cast<int64_t>(storage.data());
    descriptor = {base, base, offset};
    descriptor.insert(descriptor.end(), shape.begin(), shape.end());
    descriptor.insert(descriptor.end(), strides.begin(), strides.end());
  }
  int64_t position(const Shape &index) const {
    int64_t p = offset;
    for (size_t d = 0; d < index.size(); ++d)
      p += index[d] * strides[d];
    return p;
  }
  double get(const Shape &index) const {
    return load(dtype, storage.data() + position(index) * dtypeSize(dtype));
  }
  void set(const Shape &index, double v) {
    store(dtype, storage.data() + position(index) * dtypeSize(dtype), v);
  }
  /// Whether every byte outside the view still holds the sentinel.
  bool paddingIntact() const {
    size_t bytes = dtypeSize(dtype);
    std::vector<bool> inView(storage.size() / bytes, false);
    forEachIndex(shape, [&](const Shape &i) { inView[position(i)] = true; });
    for (size_t e = 0; e < inView.size(); ++e)
      for (size_t b = 0; !inView[e] && b < bytes; ++b)
        if (storage[e * bytes + b] != kSentinel)
          return false;
    return true;
  }
};

/// The params memref the kernels take: [kind, axis, dim, reduce,
/// groupSize, stepId, dim2].
struct Params {
  int64_t values[7];
  int64_t descriptor[5];
  Params(const CollectiveParams &p) // NOLINT: implicit on purpose.
      : values{int64_t(p.kind), p.axis,   p.dim, int64_t(p.reduce),
               p.groupSize,     p.stepId, p.dim2},
        descriptor{reinterpret_cast<int64_t>(values),
                   reinterpret_cast<int64_t>(values), 0, 7, 1} {}
};

CollectiveParams make(CollectiveKind kind, int64_t dim = 0, int64_t dim2 = 0,
                      ReduceKind reduce = ReduceKind::Sum) {
  CollectiveParams p;
  p.kind = kind;
  p.dim = dim;
  p.dim2 = dim2;
  p.reduce = reduce;
  return p;
}

/// The output shape, by the rules of the task (not the runtime's code).
Shape outputShape(const CollectiveParams &p, int64_t n, Shape s) {
  switch (p.kind) {
  case CollectiveKind::AllReduce:
    break;
  case CollectiveKind::AllGather:
    s[p.dim] *= n;
    break;
  case CollectiveKind::ReduceScatter:
  case CollectiveKind::Split:
    s[p.dim] /= n;
    break;
  case CollectiveKind::AllToAll:
    s[p.dim] /= n;
    s[p.dim2] *= n;
    break;
  }
  return s;
}

/// What member g of a group of n must hold at `index` of its output, from
/// input(j, index), member j's input in group order.
double reference(const CollectiveParams &p, int64_t n, int64_t g,
                 const Shape &inShape, const Shape &outShape, Shape index,
                 const std::function<double(int64_t, const Shape &)> &input) {
  auto reduce = [&](const Shape &at) {
    double acc = input(0, at);
    for (int64_t j = 1; j < n; ++j) {
      double v = input(j, at);
      acc = p.reduce == ReduceKind::Sum   ? acc + v
            : p.reduce == ReduceKind::Max ? std::max(acc, v)
                                          : std::min(acc, v);
    }
    return acc;
  };
  switch (p.kind) {
  case CollectiveKind::AllReduce:
    return reduce(index);
  case CollectiveKind::ReduceScatter:
    index[p.dim] += g * outShape[p.dim];
    return reduce(index);
  case CollectiveKind::AllGather: {
    int64_t j = index[p.dim] / inShape[p.dim];
    index[p.dim] %= inShape[p.dim];
    return input(j, index);
  }
  case CollectiveKind::AllToAll: {
    Shape chunk = inShape;
    chunk[p.dim] /= n;
    int64_t j = index[p.dim2] / chunk[p.dim2];
    index[p.dim2] %= chunk[p.dim2];
    index[p.dim] += g * chunk[p.dim];
    return input(j, index);
  }
  case CollectiveKind::Split:
    index[p.dim] += g * outShape[p.dim];
    return input(g, index);
  }
  return 0;
}

/// Runs `p` over `axis` of `mesh` through the memref kernel of `dtype` and
/// checks every device's output (and that padding around a strided one is
/// untouched) against the reference.
void checkCollective(const MeshShape &mesh, int64_t axis, DType dtype,
                     CollectiveParams p, const Shape &inShape, bool strided) {
  int64_t devices = mesh.numDevices(), n = mesh.axisSizes[axis];
  p.axis = axis;
  p.groupSize = n;
  p.stepId = 7;
  Shape outShape = outputShape(p, n, inShape);
  std::string what = std::string(collectiveName(p.kind)) + " dim " +
                     std::to_string(p.dim) + " dim2 " + std::to_string(p.dim2) +
                     " reduce " + std::to_string(int64_t(p.reduce)) + " " +
                     kernelTypeName(dtype) + " over axis " +
                     std::to_string(axis) + " of " + std::to_string(devices) +
                     " devices" + (strided ? " strided" : "");
  SCOPED_TRACE(what);
  Kernel kernel = findKernel(dtype, inShape.size());
  ASSERT_NE(kernel, nullptr);
  std::vector<Buffer> ins, outs;
  for (int64_t r = 0; r < devices; ++r) {
    ins.emplace_back(dtype, inShape, strided);
    forEachIndex(inShape, [&](const Shape &i) {
      ins[r].set(i, inputValue(dtype, r, linear(i, inShape)));
    });
    outs.emplace_back(dtype, outShape, strided);
  }
  std::string error = runOnCpuMesh(mesh, 10, [&](int64_t r) {
    Params params(p);
    kernel(ins[r].descriptor.data(), params.descriptor,
           outs[r].descriptor.data());
  });
  ASSERT_EQ(error, "");
  int64_t stride = 1;
  for (size_t a = axis + 1; a < mesh.axisSizes.size(); ++a)
    stride *= mesh.axisSizes[a];
  for (int64_t r = 0; r < devices; ++r) {
    int64_t g = mesh.coordinates(r)[axis], first = r - g * stride;
    auto input = [&](int64_t j, const Shape &i) {
      return inputValue(dtype, first + j * stride, linear(i, inShape));
    };
    int64_t wrong = 0;
    forEachIndex(outShape, [&](const Shape &i) {
      // Inputs make every reduction exact in double: rounding it once to
      // the type must give the result bit for bit (tolerance 0).
      double want =
          roundTo(dtype, reference(p, n, g, inShape, outShape, i, input));
      double got = outs[r].get(i);
      if (got != want && wrong++ == 0)
        ADD_FAILURE() << "device " << r << " element " << linear(i, outShape)
                      << ": got " << got << ", want " << want;
    });
    EXPECT_EQ(wrong, 0) << "device " << r;
    EXPECT_TRUE(outs[r].paddingIntact()) << "device " << r;
  }
}

std::vector<CollectiveParams> everyKind() {
  using K = CollectiveKind;
  return {make(K::AllReduce),
          make(K::AllReduce, 0, 0, ReduceKind::Max),
          make(K::AllReduce, 0, 0, ReduceKind::Min),
          make(K::AllGather, 1),
          make(K::ReduceScatter, 0),
          make(K::ReduceScatter, 2, 0, ReduceKind::Max),
          make(K::AllToAll, 2, 0),
          make(K::AllToAll, 0, 2),
          make(K::AllToAll, 2, 2),
          make(K::Split, 2)};
}

struct MeshAxis {
  MeshShape mesh;
  int64_t axis;
};

std::vector<MeshAxis> everyMesh() {
  MeshShape square{{"dp", "tp"}, {2, 2}};
  return {{{{"tp"}, {2}}, 0}, {{{"tp"}, {4}}, 0}, {square, 0}, {square, 1}};
}
} // namespace

TEST(Collectives, KernelsAreInTheJitSymbolTable) {
  std::set<std::string> names;
  for (const KernelSymbol *s = getCpuKernelSymbols(); s->name; ++s)
    if (std::string(s->name).rfind("_mlir_ciface_llmc_collective_", 0) == 0) {
      EXPECT_NE(s->address, nullptr) << s->name;
      names.insert(s->name);
    }
  // 8 element types times ranks 0..8, each once.
  EXPECT_EQ(names.size(), 72u);
  EXPECT_TRUE(names.count("_mlir_ciface_llmc_collective_bf16_r8"));
  EXPECT_TRUE(names.count("_mlir_ciface_llmc_collective_u8_r0"));
}

TEST(Collectives, EveryKindMatchesReference) {
  for (const MeshAxis &m : everyMesh())
    for (DType dtype : {DType::F32, DType::F16, DType::I64})
      for (const CollectiveParams &p : everyKind()) {
        int64_t n = m.mesh.axisSizes[m.axis];
        checkCollective(m.mesh, m.axis, dtype, p, {2 * n, 3, 2 * n},
                        /*strided=*/false);
      }
}

TEST(Collectives, StridedInputAndOutput) {
  for (const MeshAxis &m : everyMesh())
    for (DType dtype : {DType::F32, DType::F16, DType::I64})
      for (const CollectiveParams &p : everyKind()) {
        int64_t n = m.mesh.axisSizes[m.axis];
        checkCollective(m.mesh, m.axis, dtype, p, {2 * n, 3, n},
                        /*strided=*/true);
      }
}

TEST(Collectives, ScalarAllReduce) {
  for (const MeshAxis &m : everyMesh())
    for (DType dtype : {DType::F32, DType::F16, DType::I64})
      for (ReduceKind r : {ReduceKind::Sum, ReduceKind::Max, ReduceKind::Min})
        for (bool strided : {false, true})
          checkCollective(m.mesh, m.axis, dtype,
                          make(CollectiveKind::AllReduce, 0, 0, r), {},
                          strided);
}

TEST(Collectives, EveryElementType) {
  MeshShape mesh{{"tp"}, {2}};
  for (DType dtype :
       {DType::F64, DType::BF16, DType::I32, DType::I8, DType::U8})
    for (const CollectiveParams &p : everyKind())
      checkCollective(mesh, 0, dtype, p, {4, 3, 2}, /*strided=*/true);
  // Rank 1 and rank 8 kernels, the ends of the table.
  checkCollective(mesh, 0, DType::F32, make(CollectiveKind::AllGather, 0), {5},
                  true);
  checkCollective(mesh, 0, DType::I8, make(CollectiveKind::AllToAll, 7, 0),
                  {1, 2, 1, 1, 1, 1, 1, 2}, true);
}

TEST(Collectives, HalfSumsRoundOnceToNearestEven) {
  // Pairs whose sum is exact in f32: ties to even, overflow to Inf,
  // subnormals, signed zero, Inf and NaN.
  double inf = INFINITY, nan = NAN;
  std::vector<std::pair<double, double>> f16Pairs = {
      {1, std::ldexp(1, -11)},
      {1 + std::ldexp(1, -10), std::ldexp(1, -11)},
      {2048, 1},
      {2048, 3},
      {65504, 16},
      {65504, 15},
      {std::ldexp(1, -24), std::ldexp(1, -24)},
      {std::ldexp(1, -14), -std::ldexp(1, -24)},
      {-0.0, -0.0},
      {double(_Float16(0.1)), double(_Float16(0.2))},
      {inf, 1},
      {inf, -inf},
      {nan, 1}};
  std::vector<std::pair<double, double>> bf16Pairs = {
      {1, std::ldexp(1, -8)},
      {1 + std::ldexp(1, -7), std::ldexp(1, -8)},
      {3, std::ldexp(1, -7)},
      {3 + std::ldexp(1, -6), std::ldexp(1, -7)},
      {3.3895313892515355e38, std::ldexp(1, 120)},
      {std::ldexp(1, -133), std::ldexp(1, -133)},
      {-0.0, -0.0},
      {nan, 1}};
  for (const auto &typePairs : {std::make_pair(DType::F16, f16Pairs),
                                std::make_pair(DType::BF16, bf16Pairs)}) {
    DType dtype = typePairs.first;
    const auto &pairs = typePairs.second;
    SCOPED_TRACE(kernelTypeName(dtype));
    int64_t count = pairs.size();
    std::vector<char> in[2], out[2];
    for (int64_t r = 0; r < 2; ++r) {
      in[r].resize(2 * count);
      out[r].resize(2 * count);
      for (int64_t i = 0; i < count; ++i)
        store(dtype, &in[r][2 * i], r ? pairs[i].second : pairs[i].first);
    }
    std::string error = runOnCpuMesh({{"tp"}, {2}}, 10, [&](int64_t r) {
      CollectiveParams p = make(CollectiveKind::AllReduce);
      p.groupSize = 2;
      EXPECT_TRUE(
          collective(p, dtype, in[r].data(), {count}, out[r].data(), {count}));
    });
    ASSERT_EQ(error, "");
    for (int64_t i = 0; i < count; ++i) {
      char want[2];
      store(dtype, want, pairs[i].first + pairs[i].second);
      double got = load(dtype, &out[0][2 * i]);
      if (std::isnan(pairs[i].first + pairs[i].second))
        EXPECT_TRUE(std::isnan(got)) << "pair " << i;
      else
        EXPECT_EQ(std::memcmp(&out[0][2 * i], want, 2), 0)
            << "pair " << i << ": got " << got << ", want "
            << load(dtype, want);
      EXPECT_EQ(std::memcmp(&out[0][2 * i], &out[1][2 * i], 2), 0);
    }
  }
}

TEST(Collectives, DeterministicAcrossDevicesAndRuns) {
  // Random values (sums inexact): every device and every run must agree
  // bit for bit, and be within the rounding bound of the float64 sum.
  MeshShape mesh{{"dp", "tp"}, {2, 2}};
  const int64_t count = 10007;
  for (DType dtype : {DType::F32, DType::F16}) {
    SCOPED_TRACE(kernelTypeName(dtype));
    size_t bytes = dtypeSize(dtype);
    std::mt19937 rng(42);
    std::normal_distribution<double> normal(0, 3);
    std::vector<std::vector<char>> in(4, std::vector<char>(count * bytes));
    for (auto &v : in)
      for (int64_t i = 0; i < count; ++i)
        store(dtype, &v[i * bytes], normal(rng));
    std::vector<std::vector<char>> runs[2];
    for (auto &out : runs) {
      out.assign(4, std::vector<char>(count * bytes));
      std::string error = runOnCpuMesh(mesh, 10, [&](int64_t r) {
        // Over both axes in turn: a sum over all four devices.
        CollectiveParams p = make(CollectiveKind::AllReduce);
        p.groupSize = 2;
        std::vector<char> partial(count * bytes);
        p.axis = 1;
        collective(p, dtype, in[r].data(), {count}, partial.data(), {count});
        p.axis = 0;
        p.stepId = 1;
        collective(p, dtype, partial.data(), {count}, out[r].data(), {count});
      });
      ASSERT_EQ(error, "");
    }
    for (int64_t r = 0; r < 4; ++r) {
      EXPECT_EQ(runs[0][r], runs[0][0]) << "device " << r;
      EXPECT_EQ(runs[1][r], runs[0][r]) << "device " << r;
    }
    // Two roundings of partial sums, one more to the type for f16.
    double unit = std::ldexp(1, -24);
    for (int64_t i = 0, wrong = 0; i < count; ++i) {
      double sum = 0, magnitude = 0;
      for (int64_t r = 0; r < 4; ++r) {
        double v = load(dtype, &in[r][i * bytes]);
        sum += v;
        magnitude += std::fabs(v);
      }
      double bound = 3 * unit * magnitude;
      if (dtype == DType::F16)
        bound += std::ldexp(1, -11) * std::fabs(sum) + std::ldexp(1, -25) +
                 2 * std::ldexp(1, -11) * magnitude;
      double got = load(dtype, &runs[0][0][i * bytes]);
      if (std::fabs(got - sum) > bound && wrong++ == 0)
        ADD_FAILURE() << "element " << i << ": got " << got << ", want " << sum
                      << " within " << bound;
    }
  }
}

TEST(Collectives, MissingPeerTimesOut) {
  std::vector<float> in(8, 1.0f), out(8, 5.0f);
  bool first = true, second = true;
  double secondSeconds = 1;
  auto start = Clock::now();
  std::string error = runOnCpuMesh({{"tp"}, {2}}, 0.2, [&](int64_t r) {
    if (r == 1)
      return; // Never calls the collective.
    CollectiveParams p = make(CollectiveKind::AllReduce);
    p.groupSize = 2;
    p.stepId = 3;
    first = collective(p, DType::F32, in.data(), {8}, out.data(), {8});
    auto again = Clock::now();
    second = collective(p, DType::F32, in.data(), {8}, out.data(), {8});
    secondSeconds = secondsSince(again);
  });
  double seconds = secondsSince(start);
  EXPECT_EQ(error, "collective all_reduce over mesh axis 'tp' (step 3) timed "
                   "out after 0.2 s: device 1 of 2 did not arrive");
  EXPECT_FALSE(first);
  EXPECT_FALSE(second);
  EXPECT_LT(secondSeconds, 0.05) << "a failed device waits no more";
  EXPECT_EQ(out, std::vector<float>(8, 0.0f));
  EXPECT_GE(seconds, 0.2);
  EXPECT_LT(seconds, 5);
}

TEST(Collectives, SizesDisagree) {
  std::vector<float> in[2] = {std::vector<float>(4096, 1.0f),
                              std::vector<float>(2048, 1.0f)};
  std::vector<float> out[2] = {std::vector<float>(4096, 5.0f),
                               std::vector<float>(2048, 5.0f)};
  bool ok[2] = {true, true};
  std::string error = runOnCpuMesh({{"tp"}, {2}}, 30, [&](int64_t r) {
    CollectiveParams p = make(CollectiveKind::AllReduce);
    p.groupSize = 2;
    p.stepId = 3;
    int64_t n = in[r].size();
    ok[r] = collective(p, DType::F32, in[r].data(), {n}, out[r].data(), {n});
  });
  EXPECT_EQ(error, "collective all_reduce over mesh axis 'tp' (step 3) sizes "
                   "disagree: device 0 has 4096 elements, device 1 has 2048");
  for (int64_t r = 0; r < 2; ++r) {
    EXPECT_FALSE(ok[r]) << "device " << r;
    EXPECT_EQ(out[r], std::vector<float>(out[r].size(), 0.0f));
  }
}

TEST(Collectives, FailureReleasesEveryWaitingDevice) {
  // dp=0 disagrees over tp at once; dp=1 waits over dp for partners that
  // never come and must be released now, not after the 30 s timeout.
  std::vector<float> in(64, 1.0f);
  bool ok[4] = {true, true, true, true};
  auto start = Clock::now();
  std::string error = runOnCpuMesh({{"dp", "tp"}, {2, 2}}, 30, [&](int64_t r) {
    std::vector<float> mine = in, result(64);
    CollectiveParams p = make(CollectiveKind::AllReduce);
    p.groupSize = 2;
    if (r < 2) {
      p.axis = 1;
      p.stepId = 1;
      int64_t n = r == 0 ? 64 : 32;
      ok[r] = collective(p, DType::F32, mine.data(), {n}, result.data(), {n});
    } else {
      p.axis = 0;
      p.stepId = 2;
      ok[r] = collective(p, DType::F32, mine.data(), {64}, result.data(), {64});
    }
  });
  EXPECT_EQ(error, "collective all_reduce over mesh axis 'tp' (step 1) sizes "
                   "disagree: device 0 has 64 elements, device 1 has 32");
  for (bool o : ok)
    EXPECT_FALSE(o);
  EXPECT_LT(secondsSince(start), 5);
}

TEST(Collectives, ProgramsDisagree) {
  std::vector<float> in(8, 1.0f);
  std::string error = runOnCpuMesh({{"tp"}, {2}}, 30, [&](int64_t r) {
    std::vector<float> result(16);
    CollectiveParams p =
        make(r == 0 ? CollectiveKind::AllReduce : CollectiveKind::AllGather);
    p.groupSize = 2;
    p.stepId = 3 + r;
    int64_t n = r == 0 ? 8 : 16;
    collective(p, DType::F32, in.data(), {8}, result.data(), {n});
  });
  EXPECT_NE(error.find("programs disagree: device 0 is at all_reduce step 3, "
                       "device 1 at all_gather step 4"),
            std::string::npos)
      << error;
}

TEST(Collectives, WrongGroupSizeOrShape) {
  std::vector<float> in(8, 1.0f);
  std::string error = runOnCpuMesh({{"tp"}, {2}}, 30, [&](int64_t r) {
    CollectiveParams p = make(CollectiveKind::AllReduce);
    p.groupSize = 4;
    std::vector<float> result(8);
    collective(p, DType::F32, in.data(), {8}, result.data(), {8});
  });
  EXPECT_EQ(error, "collective all_reduce over mesh axis 'tp' (step 0) was "
                   "compiled for a group of 4 devices, but the axis has 2");
  error = runOnCpuMesh({{"tp"}, {2}}, 30, [&](int64_t r) {
    CollectiveParams p = make(CollectiveKind::AllGather);
    p.groupSize = 2;
    std::vector<float> result(8);
    collective(p, DType::F32, in.data(), {8}, result.data(), {8});
  });
  EXPECT_EQ(error, "collective all_gather over mesh axis 'tp' (step 0) "
                   "expects output shape 16 for input shape 8, got 8");
}

TEST(Collectives, ThrowingDeviceDoesNotHangItsPeers) {
  auto start = Clock::now();
  std::string error = runOnCpuMesh({{"tp"}, {4}}, 30, [&](int64_t r) {
    if (r == 2)
      throw std::runtime_error("boom");
    std::vector<float> in(8, 1.0f), out(8);
    CollectiveParams p = make(CollectiveKind::AllReduce);
    p.groupSize = 4;
    EXPECT_FALSE(collective(p, DType::F32, in.data(), {8}, out.data(), {8}));
  });
  EXPECT_EQ(error, "device 2 failed: boom");
  EXPECT_LT(secondsSince(start), 5);
}

TEST(Collectives, GroupOfOneCopiesOutsideAMesh) {
  std::vector<float> in(24);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = 0.5f * float(i) - 3;
  for (const CollectiveParams &base : everyKind()) {
    CollectiveParams p = base;
    std::vector<float> out(24, 7.0f);
    EXPECT_TRUE(
        collective(p, DType::F32, in.data(), {2, 3, 4}, out.data(), {2, 3, 4}))
        << collectiveName(p.kind);
    EXPECT_EQ(out, in) << collectiveName(p.kind);
  }
  // Through a kernel, in place.
  std::vector<float> data = in;
  int64_t desc[] = {reinterpret_cast<int64_t>(data.data()),
                    reinterpret_cast<int64_t>(data.data()), 0, 24, 1};
  Params params(make(CollectiveKind::AllReduce));
  findKernel(DType::F32, 1)(desc, params.descriptor, desc);
  EXPECT_EQ(data, in);
  EXPECT_EQ(takeCollectiveError(), "");
}

TEST(Collectives, GroupOfTwoFailsOutsideAMesh) {
  std::vector<float> in(8, 1.0f), out(16, 5.0f);
  CollectiveParams p = make(CollectiveKind::AllGather);
  p.axis = 1;
  p.groupSize = 2;
  p.stepId = 5;
  EXPECT_FALSE(collective(p, DType::F32, in.data(), {8}, out.data(), {16}));
  EXPECT_EQ(out, std::vector<float>(16, 0.0f));
  EXPECT_EQ(takeCollectiveError(),
            "collective all_gather over mesh axis 1 (step 5) needs a group "
            "of 2 devices, but the program runs on one device (no mesh)");
  EXPECT_EQ(takeCollectiveError(), "");
}
