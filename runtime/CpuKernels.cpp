//===- CpuKernels.cpp - C functions generated CPU code calls --------------===//

#include "MemRefView.h"
#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/CpuKernels.h"
#include "llmc/Runtime/ThreadPool.h"

#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <dlfcn.h>
#include <malloc.h>
#include <vector>

namespace {
using llmc::runtime::View;

/// The BLAS, opened at run time (OpenBLAS, or whatever libblas.so.3 is):
/// the runtime links no BLAS, so llmc-run needs none on a GPU machine.
struct Blas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  void (*setThreads)(int) = nullptr;
  std::string error;

  Blas() {
    void *lib = nullptr;
    for (const char *name : {"libopenblas.so.0", "libopenblas.so",
                             "libblas.so.3", "libcblas.so.3"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (lib) {
      sgemm = reinterpret_cast<decltype(sgemm)>(dlsym(lib, "cblas_sgemm"));
      dgemm = reinterpret_cast<decltype(dgemm)>(dlsym(lib, "cblas_dgemm"));
      setThreads = reinterpret_cast<void (*)(int)>(
          dlsym(lib, "openblas_set_num_threads"));
    }
    if (!sgemm || !dgemm)
      error = "no BLAS: CPU artifacts need OpenBLAS (libopenblas.so.0) or a "
              "CBLAS as libblas.so.3";
  }
};

const Blas &blas() {
  static const Blas b;
  return b;
}

void initialize() { llmc::runtime::initializeCpuRuntime(); }

/// A matrix operand as BLAS sees it: row-major, maybe transposed.
template <typename T>
struct Matrix {
  const T *data;
  bool transposed; // stored as [cols, rows]
  int64_t ld;      // leading dimension of the stored matrix
  /// The block starting at row `r`, column `c` of the logical matrix.
  Matrix at(int64_t r, int64_t c) const {
    return {data + (transposed ? c * ld + r : r * ld + c), transposed, ld};
  }
};

inline CBLAS_TRANSPOSE blasTrans(bool t) {
  return t ? CblasTrans : CblasNoTrans;
}
void gemmCall(Matrix<float> a, Matrix<float> b, float *c, int64_t ldc,
              int64_t m, int64_t n, int64_t k, float beta) {
  blas().sgemm(CblasRowMajor, blasTrans(a.transposed), blasTrans(b.transposed),
              m, n, k, 1.0f, a.data, a.ld, b.data, b.ld, beta, c, ldc);
}
void gemmCall(Matrix<double> a, Matrix<double> b, double *c, int64_t ldc,
              int64_t m, int64_t n, int64_t k, double beta) {
  blas().dgemm(CblasRowMajor, blasTrans(a.transposed), blasTrans(b.transposed),
              m, n, k, 1.0, a.data, a.ld, b.data, b.ld, beta, c, ldc);
}

/// C[m, n] = A[m, k] * B[k, n] + beta * C, C dense row-major, split across
/// the pool in blocks of rows (or of columns when there are few rows).
template <typename T>
void gemm(Matrix<T> a, Matrix<T> b, T *c, int64_t m, int64_t n, int64_t k,
          T beta) {
  int64_t work = 2 * m * n * k;
  if (m >= n || m >= 4 * llmc::runtime::threadCount() * 8) {
    int64_t blocks = (m + 7) / 8;
    llmc::runtime::parallelFor(
        blocks, work / blocks, [&](int64_t begin, int64_t end) {
          int64_t r0 = begin * 8, r1 = std::min(m, end * 8);
          gemmCall(a.at(r0, 0), b, c + r0 * n, n, r1 - r0, n, k, beta);
        });
    return;
  }
  int64_t blocks = (n + 15) / 16;
  llmc::runtime::parallelFor(
      blocks, work / blocks, [&](int64_t begin, int64_t end) {
        int64_t c0 = begin * 16, c1 = std::min(n, end * 16);
        gemmCall(a, b.at(0, c0), c + c0, n, m, c1 - c0, k, beta);
      });
}
template <typename T>
void gemm(const T *a, const T *b, T *c, int64_t m, int64_t n, int64_t k,
          T beta) {
  gemm(Matrix<T>{a, false, k}, Matrix<T>{b, false, n}, c, m, n, k, beta);
}

/// Depthwise convolution (one input and one output channel per group):
/// direct loops, vectorizable along the row, channels split across cores.
void depthwise(const float *x, const float *w, float *y, int64_t n, int64_t c,
               int64_t h, int64_t wd, int64_t kh, int64_t kw, int64_t oh,
               int64_t ow, int64_t strideH, int64_t strideW, int64_t dilationH,
               int64_t dilationW) {
  llmc::runtime::parallelFor(n * c, oh * ow * kh * kw, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const float *xp = x + plane * h * wd;
      const float *wp = w + (plane % c) * kh * kw;
      float *yp = y + plane * oh * ow;
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j) {
          float weight = wp[i * kw + j];
          for (int64_t r = 0; r < oh; ++r) {
            const float *in = xp + (r * strideH + i * dilationH) * wd +
                              j * dilationW;
            float *out = yp + r * ow;
            if (strideW == 1)
              for (int64_t s = 0; s < ow; ++s)
                out[s] += weight * in[s];
            else
              for (int64_t s = 0; s < ow; ++s)
                out[s] += weight * in[s * strideW];
          }
        }
    }
  });
}

template <typename T>
void matmul(void *am, void *bm, void *pm, void *cm) {
  initialize();
  View<T> a(am, 3), b(bm, 3), c(cm, 3);
  View<int64_t> pv(pm, 1);
  std::vector<int64_t> pStore;
  const int64_t *p = pv.dense(pStore);
  bool transA = p[0] != 0, transB = p[1] != 0;
  int64_t batch = c.sizes[0], m = c.sizes[1], n = c.sizes[2];
  int64_t k = transA ? a.sizes[1] : a.sizes[2];
  if (batch == 0 || m == 0 || n == 0 || k == 0)
    return;
  // C accumulates: C += A * B, on dense copies of any strided operand.
  std::vector<T> aStore, bStore, cStore;
  const T *ad = a.dense(aStore), *bd = b.dense(bStore);
  bool cDense = c.contiguous();
  T *cd = cDense ? c.data : const_cast<T *>(c.dense(cStore));
  Matrix<T> am0{ad, transA, transA ? m : k}, bm0{bd, transB, transB ? k : n};
  if (b.sizes[0] == 1 && a.sizes[0] == batch && !transA) {
    // One GEMM for the whole batch when B is shared: stack A's rows.
    gemm(am0, bm0, cd, batch * m, n, k, T(1));
  } else {
    // Whole products per thread when the batch fills the pool (the GEMM
    // inside then runs serially); otherwise each product is split.
    auto products = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        Matrix<T> ai = am0, bi = bm0;
        ai.data += (a.sizes[0] == 1 ? 0 : i) * m * k;
        bi.data += (b.sizes[0] == 1 ? 0 : i) * k * n;
        gemm(ai, bi, cd + i * m * n, m, n, k, T(1));
      }
    };
    if (batch >= llmc::runtime::threadCount())
      llmc::runtime::parallelFor(batch, 2 * m * n * k, products);
    else
      products(0, batch);
  }
  if (!cDense)
    c.scatter(cd);
}
} // namespace

extern "C" void _mlir_ciface_llmc_matmul_f32(void *a, void *b, void *params,
                                             void *c) {
  matmul<float>(a, b, params, c);
}

extern "C" void _mlir_ciface_llmc_matmul_f64(void *a, void *b, void *params,
                                             void *c) {
  matmul<double>(a, b, params, c);
}

extern "C" void _mlir_ciface_llmc_conv2d_f32(void *xm, void *wm, void *pm,
                                             void *ym) {
  initialize();
  View<float> xv(xm, 4), wv(wm, 4), yv(ym, 4);
  View<int64_t> pv(pm, 1);
  std::vector<int64_t> pStore;
  const int64_t *p = pv.dense(pStore);
  int64_t strideH = p[0], strideW = p[1], dilationH = p[2], dilationW = p[3],
          groups = p[4];
  std::vector<float> xStore, wStore, yStore;
  const float *x = xv.dense(xStore), *w = wv.dense(wStore);
  bool yDense = yv.contiguous();
  float *y = yDense ? yv.data : const_cast<float *>(yv.dense(yStore));
  int64_t n = xv.sizes[0], c = xv.sizes[1], h = xv.sizes[2], wd = xv.sizes[3];
  int64_t m = wv.sizes[0], kh = wv.sizes[2], kw = wv.sizes[3];
  int64_t oh = yv.sizes[2], ow = yv.sizes[3];
  int64_t cg = c / groups, mg = m / groups, kdim = cg * kh * kw;
  int64_t pixels = oh * ow;
  if (cg == 1 && mg == 1) {
    depthwise(x, w, y, n, c, h, wd, kh, kw, oh, ow, strideH, strideW,
              dilationH, dilationW);
    if (!yDense)
      yv.scatter(y);
    return;
  }
  // The input is already padded: a 1x1 stride-1 convolution reads it as is.
  bool direct = kh == 1 && kw == 1 && strideH == 1 && strideW == 1 &&
                oh == h && ow == wd;
  std::vector<float> col(direct ? 0 : kdim * pixels);
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t g = 0; g < groups; ++g) {
      const float *xg = x + (img * c + g * cg) * h * wd;
      const float *cols = xg;
      if (!direct) {
        // col[(ci, i, j), (r, s)] = x[ci, r * stride + i * dilation, ...]
        llmc::runtime::parallelFor(cg, kh * kw * pixels, [&](int64_t c0,
                                                             int64_t c1) {
        for (int64_t ci = c0; ci < c1; ++ci)
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              float *row = col.data() + ((ci * kh + i) * kw + j) * pixels;
              for (int64_t r = 0; r < oh; ++r) {
                const float *in =
                    xg + (ci * h + r * strideH + i * dilationH) * wd +
                    j * dilationW;
                float *out = row + r * ow;
                for (int64_t s = 0; s < ow; ++s)
                  out[s] = in[s * strideW];
              }
            }
        });
        cols = col.data();
      }
      // y += W_g * col: the result already holds the bias (or zero).
      gemm(w + g * mg * kdim, cols, y + (img * m + g * mg) * pixels, mg,
           pixels, kdim, 1.0f);
    }
  }
  if (!yDense)
    yv.scatter(y);
}

extern "C" void memrefCopy(int64_t elementSize, LLMCUnrankedMemRef *src,
                           LLMCUnrankedMemRef *dst) {
  auto *srcWords = static_cast<int64_t *>(src->descriptor);
  auto *dstWords = static_cast<int64_t *>(dst->descriptor);
  int64_t rank = src->rank;
  auto *srcBase = reinterpret_cast<char *>(srcWords[1]) + srcWords[2] * elementSize;
  auto *dstBase = reinterpret_cast<char *>(dstWords[1]) + dstWords[2] * elementSize;
  const int64_t *sizes = srcWords + 3, *srcStrides = srcWords + 3 + rank;
  const int64_t *dstStrides = dstWords + 3 + rank;
  for (int64_t d = 0; d < rank; ++d)
    if (sizes[d] == 0)
      return;
  if (rank == 0) {
    std::memcpy(dstBase, srcBase, elementSize);
    return;
  }
  // Rows along the last dim are copied whole when both sides are unit
  // stride there (the usual case: padding, concatenation, slices).
  int64_t last = rank - 1;
  bool rows = srcStrides[last] == 1 && dstStrides[last] == 1;
  int64_t rowElements = rows ? sizes[last] : 1;
  int64_t loopRank = rows ? last : rank;
  std::vector<int64_t> index(loopRank, 0);
  while (true) {
    int64_t s = 0, t = 0;
    for (int64_t d = 0; d < loopRank; ++d) {
      s += index[d] * srcStrides[d];
      t += index[d] * dstStrides[d];
    }
    std::memcpy(dstBase + t * elementSize, srcBase + s * elementSize,
                rowElements * elementSize);
    int64_t d = loopRank - 1;
    for (; d >= 0; --d) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}

bool llmc::runtime::cpuBlasAvailable(std::string &error) {
  error = blas().error;
  return error.empty();
}

void llmc::runtime::initializeCpuRuntime() {
  // OpenBLAS single-threaded (the pool splits the work), and freed memory
  // kept by malloc rather than unmapped: every run allocates the same
  // buffers, and returning them to the kernel costs a page fault per page
  // on the next run.
  static const bool done = [] {
    if (blas().setThreads)
      blas().setThreads(1);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return true;
  }();
  (void)done;
}

// AttentionKernel.cpp.
extern "C" void _mlir_ciface_llmc_attention_f32(void *q, void *k, void *v,
                                                void *bias, void *params,
                                                void *out);
extern "C" void _mlir_ciface_llmc_attention_nobias_f32(void *q, void *k,
                                                       void *v, void *params,
                                                       void *out);

namespace {
/// The first index error reported on this thread.
thread_local std::string indexError;
} // namespace

/// This copy of the runtime's slot for the calling thread's index error.
extern "C" __attribute__((visibility("default"))) std::string *
llmc_index_error_slot() {
  return &indexError;
}

/// The slot every copy of the runtime in the process uses: the first one
/// visible to dlsym. An artifact's code binds its report to the kernels the
/// process exports (in Python, the RTLD_GLOBAL libllmc_kernels.so, not the
/// extension's own copy), and whoever takes the error must read that one.
static std::string &indexErrorSlot() {
  static std::string *(*const slot)() = [] {
    void *global = dlsym(RTLD_DEFAULT, "llmc_index_error_slot");
    return global ? reinterpret_cast<std::string *(*)()>(global)
                  : &llmc_index_error_slot;
  }();
  return *slot();
}

extern "C" void _mlir_ciface_llmc_index_error(int64_t index, int64_t size,
                                              void *site) {
  std::string &indexError = indexErrorSlot();
  if (!indexError.empty())
    return;
  // {allocated, aligned, offset, size, stride} of an i8 memref.
  struct Text {
    int8_t *allocated, *aligned;
    int64_t offset, size, stride;
  };
  const auto *text = static_cast<const Text *>(site);
  std::string where = "a gather or scatter";
  if (text && text->aligned && text->size > 0 && text->size < 4096 &&
      text->stride == 1)
    where.assign(reinterpret_cast<const char *>(text->aligned + text->offset),
                 static_cast<size_t>(text->size));
  indexError = where + " computed index " + std::to_string(index) +
               " for a dim of " + std::to_string(size) + " (valid: " +
               std::to_string(-size) + " to " + std::to_string(size - 1) + ")";
}

std::string llmc::runtime::takeIndexError() {
  return std::exchange(indexErrorSlot(), std::string());
}

const llmc::runtime::KernelSymbol *llmc::runtime::getCpuKernelSymbols() {
  initialize();
  // One table for the JIT: these kernels, then the collectives.
  static const std::vector<KernelSymbol> symbols = [] {
    std::vector<KernelSymbol> all = {
        {"memrefCopy", reinterpret_cast<void *>(&memrefCopy)},
        {"_mlir_ciface_llmc_matmul_f32",
         reinterpret_cast<void *>(&_mlir_ciface_llmc_matmul_f32)},
        {"_mlir_ciface_llmc_matmul_f64",
         reinterpret_cast<void *>(&_mlir_ciface_llmc_matmul_f64)},
        {"_mlir_ciface_llmc_conv2d_f32",
         reinterpret_cast<void *>(&_mlir_ciface_llmc_conv2d_f32)},
        {"_mlir_ciface_llmc_attention_f32",
         reinterpret_cast<void *>(&_mlir_ciface_llmc_attention_f32)},
        {"_mlir_ciface_llmc_attention_nobias_f32",
         reinterpret_cast<void *>(&_mlir_ciface_llmc_attention_nobias_f32)},
        {"_mlir_ciface_llmc_index_error",
         reinterpret_cast<void *>(&_mlir_ciface_llmc_index_error)},
    };
    for (const KernelSymbol *s = getCollectiveKernelSymbols(); s->name; ++s)
      all.push_back(*s);
    all.push_back({nullptr, nullptr});
    return all;
  }();
  return symbols.data();
}
