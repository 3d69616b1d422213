//===- CudaProgram.cpp - The arena planner and step checks ----------------===//

#include "llmc/Runtime/CudaProgram.h"

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <numeric>

using namespace llmc::runtime;

uint64_t llmc::runtime::planArena(const std::vector<Lifetime> &buffers,
                                  std::vector<uint64_t> &offsets) {
  auto aligned = [](uint64_t n) {
    return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  };
  offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return buffers[x].bytes > buffers[y].bytes;
  });
  std::vector<size_t> placed;
  uint64_t arena = 0;
  for (size_t i : order) {
    const Lifetime &b = buffers[i];
    if (b.bytes == 0)
      continue;
    // The placed buffers alive at the same time, by offset: the new one
    // goes into the first gap that holds it.
    std::vector<size_t> live;
    for (size_t j : placed)
      if (buffers[j].first <= b.last && b.first <= buffers[j].last)
        live.push_back(j);
    std::sort(live.begin(), live.end(),
              [&](size_t x, size_t y) { return offsets[x] < offsets[y]; });
    uint64_t at = 0, size = aligned(b.bytes);
    for (size_t j : live) {
      if (offsets[j] >= at + size)
        break;
      at = std::max(at, offsets[j] + aligned(buffers[j].bytes));
    }
    offsets[i] = at;
    arena = std::max(arena, at + size);
    placed.push_back(i);
  }
  return arena;
}

namespace {
/// True when the elements at `offset` + sum(i_d * strides[d]), i_d <
/// sizes[d], lie inside `buffer` (elements of `element` bytes).
bool inside(const CudaBuffer &buffer, int64_t offset, const int64_t *sizes,
            const int64_t *strides, int rank, uint64_t element) {
  if (offset < 0)
    return false;
  uint64_t last = static_cast<uint64_t>(offset), step, bytes;
  for (int d = 0; d < rank; ++d) {
    if (sizes[d] < 1 || strides[d] < 0)
      return false;
    // Checked: a crafted artifact's sizes and strides may be anything.
    if (__builtin_mul_overflow(static_cast<uint64_t>(sizes[d] - 1),
                               static_cast<uint64_t>(strides[d]), &step) ||
        __builtin_add_overflow(last, step, &last))
      return false;
  }
  return !__builtin_mul_overflow(last + 1, element, &bytes) &&
         last + 1 != 0 && bytes <= buffer.bytes;
}
} // namespace

bool llmc::runtime::validConv(const CudaConv &c,
                              const std::vector<CudaBuffer> &buffers) {
  if (c.dtype != DType::F32 || c.group < 1)
    return false;
  // Bounded before any arithmetic on them (cuDNN takes ints; a crafted
  // artifact's pad of 2^62 overflowed 2 * pad).
  for (int d = 0; d < 2; ++d)
    if (c.pad[d] < 0 || c.stride[d] < 1 || c.dilation[d] < 1 ||
        c.pad[d] > INT32_MAX || c.stride[d] > INT32_MAX ||
        c.dilation[d] > INT32_MAX)
      return false;
  // Filter sizes and groups far below what any network has, so that
  // their products below stay in range.
  for (int d = 0; d < 4; ++d)
    if (c.filter[d] > (1 << 20))
      return false;
  if (c.group > (1 << 20))
    return false;
  for (int d = 0; d < 4; ++d)
    if (c.input[d] < 1 || c.filter[d] < 1 || c.output[d] < 1 ||
        c.input[d] > INT32_MAX || c.output[d] > INT32_MAX)
      return false;
  if (c.output[0] != c.input[0] || c.output[1] != c.filter[0] ||
      c.input[1] != c.filter[1] * c.group || c.filter[0] % c.group != 0)
    return false;
  for (int d = 0; d < 2; ++d) {
    int64_t span = c.dilation[d] * (c.filter[2 + d] - 1) + 1;
    int64_t padded = c.input[2 + d] + 2 * c.pad[d];
    if (padded < span || (padded - span) / c.stride[d] + 1 != c.output[2 + d])
      return false;
  }
  // cuDNN's filter descriptor has no strides: the filter is dense.
  const int64_t *f = c.filter;
  if (c.w.strides[3] != 1 || c.w.strides[2] != f[3] ||
      c.w.strides[1] != f[2] * f[3] || c.w.strides[0] != f[1] * f[2] * f[3])
    return false;
  uint64_t element = dtypeSize(c.dtype);
  for (const ConvOperand *o : {&c.x, &c.w, &c.y})
    if (o->buffer >= buffers.size())
      return false;
  if (c.epilogue != ConvEpilogue::None) {
    int64_t size = c.output[1], stride = 1;
    if (c.epilogue > ConvEpilogue::ReluBias || c.accumulate ||
        c.biasBuffer >= buffers.size() ||
        !inside(buffers[c.biasBuffer], c.biasOffset, &size, &stride, 1,
                element))
      return false;
  }
  if (c.residual &&
      (c.epilogue == ConvEpilogue::None || c.z.buffer >= buffers.size() ||
       !std::equal(c.z.strides, c.z.strides + 4, c.y.strides) ||
       !inside(buffers[c.z.buffer], c.z.offset, c.output, c.z.strides, 4,
               element)))
    return false;
  return inside(buffers[c.x.buffer], c.x.offset, c.input, c.x.strides, 4,
                element) &&
         inside(buffers[c.w.buffer], c.w.offset, c.filter, c.w.strides, 4,
                element) &&
         inside(buffers[c.y.buffer], c.y.offset, c.output, c.y.strides, 4,
                element);
}

bool llmc::runtime::validGemm(const CudaGemm &g,
                              const std::vector<CudaBuffer> &buffers) {
  if (g.batch < 1 || g.m < 1 || g.n < 1 || g.k < 1)
    return false;
  bool same = g.dtype == g.cDtype &&
              (g.dtype == DType::F32 || g.dtype == DType::F64 ||
               g.dtype == DType::F16 || g.dtype == DType::BF16);
  bool half = (g.dtype == DType::F16 || g.dtype == DType::BF16) &&
              g.cDtype == DType::F32;
  if (!same && !half)
    return false;
  auto fits = [&](const GemmOperand &o, int64_t rows, int64_t cols,
                  DType type) {
    if (o.buffer >= buffers.size() || o.ld < cols)
      return false;
    int64_t sizes[3] = {g.batch, rows, cols};
    int64_t strides[3] = {o.batchStride, o.ld, 1};
    return inside(buffers[o.buffer], o.offset, sizes, strides, 3,
                  dtypeSize(type));
  };
  if (g.epilogue != GemmEpilogue::None) {
    if (g.epilogue > GemmEpilogue::GeluBias || g.dtype != g.cDtype ||
        (g.dtype != DType::F32 && g.dtype != DType::F16 &&
         g.dtype != DType::BF16) ||
        g.biasBuffer >= buffers.size())
      return false;
    int64_t size = g.n, stride = 1;
    if (!inside(buffers[g.biasBuffer], g.biasOffset, &size, &stride, 1,
                dtypeSize(g.cDtype)))
      return false;
  }
  return fits(g.a, g.transA ? g.k : g.m, g.transA ? g.m : g.k, g.dtype) &&
         fits(g.b, g.transB ? g.n : g.k, g.transB ? g.k : g.n, g.dtype) &&
         fits(g.c, g.m, g.n, g.cDtype);
}

uint64_t llmc::runtime::collectiveScratchBytes(const CudaCollective &c) {
  const CollectiveParams &p = c.params;
  uint64_t element = dtypeSize(c.dtype);
  auto outer = [](const std::vector<int64_t> &shape, int64_t dim) {
    int64_t n = 1;
    for (int64_t d = 0; d < dim && d < static_cast<int64_t>(shape.size()); ++d)
      n *= shape[d];
    return n;
  };
  switch (p.kind) {
  case CollectiveKind::AllGather:
    return outer(c.outShape, p.dim) > 1
               ? static_cast<uint64_t>(numElements(c.outShape)) * element
               : 0;
  case CollectiveKind::ReduceScatter:
    return outer(c.inShape, p.dim) > 1
               ? static_cast<uint64_t>(numElements(c.inShape)) * element
               : 0;
  case CollectiveKind::AllToAll:
    return 2 * static_cast<uint64_t>(numElements(c.inShape)) * element;
  default:
    return 0;
  }
}

bool llmc::runtime::validCollective(const CudaCollective &c,
                                    const std::vector<CudaBuffer> &buffers) {
  const CollectiveParams &p = c.params;
  int64_t rank = static_cast<int64_t>(c.inShape.size());
  if (c.outShape.size() != c.inShape.size() || rank > 8 || p.groupSize < 1 ||
      p.groupSize > 4096 || p.axis < 0 || p.axis > 16 ||
      static_cast<int64_t>(p.kind) < 0 ||
      static_cast<int64_t>(p.kind) > static_cast<int64_t>(CollectiveKind::Split) ||
      static_cast<int64_t>(p.reduce) < 0 ||
      static_cast<int64_t>(p.reduce) > static_cast<int64_t>(ReduceKind::Min))
    return false;
  switch (c.dtype) {
  case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
  case DType::I64: case DType::I32: case DType::I8: case DType::U8:
  case DType::Bool:
    break;
  default:
    return false;
  }
  // Element counts checked before anything multiplies them.
  for (const std::vector<int64_t> *shape : {&c.inShape, &c.outShape}) {
    uint64_t count = 1;
    for (int64_t d : *shape)
      if (d < 0 ||
          __builtin_mul_overflow(count, static_cast<uint64_t>(d), &count) ||
          count > (uint64_t(1) << 40))
        return false;
  }
  bool needsDim = p.kind != CollectiveKind::AllReduce;
  if (needsDim && (p.dim < 0 || p.dim >= rank))
    return false;
  if (p.kind == CollectiveKind::AllToAll && (p.dim2 < 0 || p.dim2 >= rank))
    return false;
  // The output's shape follows from the input's.
  std::vector<int64_t> want = c.inShape;
  int64_t g = p.groupSize;
  switch (p.kind) {
  case CollectiveKind::AllReduce:
    break;
  case CollectiveKind::AllGather:
    want[p.dim] *= g;
    break;
  case CollectiveKind::ReduceScatter:
  case CollectiveKind::Split:
    if (want[p.dim] % g)
      return false;
    want[p.dim] /= g;
    break;
  case CollectiveKind::AllToAll:
    if (want[p.dim] % g)
      return false;
    want[p.dim] /= g;
    want[p.dim2] *= g;
    break;
  }
  if (want != c.outShape)
    return false;
  uint64_t element = dtypeSize(c.dtype);
  auto fits = [&](uint32_t buffer, int64_t offset, uint64_t bytes) {
    return buffer < buffers.size() && offset >= 0 &&
           static_cast<uint64_t>(offset) * element + bytes <=
               buffers[buffer].bytes;
  };
  uint64_t inBytes = static_cast<uint64_t>(numElements(c.inShape)) * element,
           outBytes = static_cast<uint64_t>(numElements(c.outShape)) * element;
  uint64_t scratch = collectiveScratchBytes(c);
  if (scratch && (!c.hasScratch || !fits(c.scratch, 0, scratch)))
    return false;
  // Only an all-reduce runs in place.
  if (c.in == c.out && p.kind != CollectiveKind::AllReduce)
    return false;
  if (c.in == c.out && c.inOffset != c.outOffset)
    return false;
  return fits(c.in, c.inOffset, inBytes) && fits(c.out, c.outOffset, outBytes);
}

const char *llmc::runtime::epilogueName(GemmEpilogue e) {
  switch (e) {
  case GemmEpilogue::Bias:
    return "bias";
  case GemmEpilogue::ReluBias:
    return "relu_bias";
  case GemmEpilogue::GeluBias:
    return "gelu_bias";
  default:
    return "";
  }
}

const char *llmc::runtime::epilogueName(ConvEpilogue e) {
  return e == ConvEpilogue::ReluBias ? "relu_bias" : "";
}

double llmc::runtime::stepFlops(const CudaStep &s) {
  if (s.kind == CudaStep::Gemm)
    return 2.0 * s.gemm.batch * s.gemm.m * s.gemm.n * s.gemm.k;
  if (s.kind == CudaStep::Conv) {
    const CudaConv &c = s.conv;
    return 2.0 * c.output[0] * c.output[1] * c.output[2] * c.output[3] *
           c.filter[1] * c.filter[2] * c.filter[3];
  }
  return 0;
}

double llmc::runtime::stepBytes(const CudaProgram &p, const CudaStep &s) {
  switch (s.kind) {
  case CudaStep::Memset:
    return s.bytes;
  case CudaStep::Gemm: {
    const CudaGemm &g = s.gemm;
    double e = dtypeSize(g.dtype), c = dtypeSize(g.cDtype);
    return g.batch * (e * (g.m * g.k + g.k * g.n) +
                      c * g.m * g.n * (g.accumulate ? 2 : 1)) +
           (g.epilogue != GemmEpilogue::None ? c * g.n : 0);
  }
  case CudaStep::Conv: {
    const CudaConv &c = s.conv;
    auto count = [](const int64_t *d) {
      return static_cast<double>(d[0]) * d[1] * d[2] * d[3];
    };
    return 4.0 * (count(c.input) + count(c.filter) +
                  count(c.output) * (c.accumulate || c.residual ? 2 : 1) +
                  (c.epilogue != ConvEpilogue::None ? c.output[1] : 0));
  }
  case CudaStep::Collective: {
    // What this device sends and receives, on its link.
    const CudaCollective &c = s.collective;
    double in = static_cast<double>(numElements(c.inShape)) * dtypeSize(c.dtype),
           out = static_cast<double>(numElements(c.outShape)) * dtypeSize(c.dtype);
    return in + out;
  }
  case CudaStep::Launch: {
    double bytes = 0;
    for (uint32_t a : s.args)
      bytes += p.buffers[a].bytes;
    return bytes;
  }
  }
  return 0;
}

std::string llmc::runtime::formatProfile(const CudaProgram &p,
                                         const std::vector<double> &stepMs,
                                         const Roofline *roofline) {
  std::string out;
  char line[512];
  auto add = [&](const char *format, auto... args) {
    std::snprintf(line, sizeof(line), format, args...);
    out += line;
  };
  add("roofline: %s\n", roofline ? roofline->name.c_str() : "none");
  add("%-4s %-24s %9s %9s %10s %10s  %s\n", "step", "kernel", "time us",
      "est. us", "GB/s", "TFLOP/s", "ONNX nodes");
  double total = 0, estimated = 0;
  for (size_t i = 0; i < p.steps.size() && i < stepMs.size(); ++i) {
    const CudaStep &s = p.steps[i];
    double us = stepMs[i] * 1e3;
    total += us;
    double bytes = stepBytes(p, s), flops = stepFlops(s);
    double estimate =
        roofline ? 1e6 * (std::max(bytes / roofline->bytesPerSecond,
                                   flops / roofline->flopsPerSecond) +
                          roofline->launchSeconds)
                 : 0;
    estimated += estimate;
    std::string name =
        s.kind == CudaStep::Gemm         ? "cuBLASLt GEMM"
        : s.kind == CudaStep::Conv       ? "cuDNN convolution"
        : s.kind == CudaStep::Memset     ? "memset"
        : s.kind == CudaStep::Collective ? std::string("NCCL ") +
                                               collectiveName(s.collective.params.kind)
                                         : s.kernel;
    char tflops[32] = "";
    if (flops > 0 && us > 0)
      std::snprintf(tflops, sizeof(tflops), "%.2f", flops / (us * 1e6));
    std::string nodes =
        s.node.size() > 60 ? s.node.substr(0, 57) + "..." : s.node;
    add("%-4zu %-24s %9.1f %9.1f %10.1f %10s  %s\n", i, name.c_str(), us,
        estimate, us > 0 ? bytes / (us * 1e3) : 0.0, tflops, nodes.c_str());
  }
  add("steps: %zu  sum of step times: %.1f us  roofline estimate: %.1f us\n",
      p.steps.size(), total, estimated);
  return out;
}
