//===- AttentionKernel.cpp - Fused scaled dot-product attention (CPU) -----===//
//
// graph.attention's CPU kernel: softmax(q k^T * scale + bias) v for every
// query row, tiled over the keys with an online softmax (a running maximum
// and sum per row, the partial output rescaled when the maximum grows), so
// no more than one tile of scores per row is ever held, never the whole
// [rows, keys] matrix. The rows of one KV head (its G query heads' L rows:
// grouped-query attention) are processed together, so each key and value
// row is read once per KV head and tile of rows, not once per query head.
// Work is split over the runtime's thread pool by (batch, KV head, row tile).
//
// Semantics are the written-out chain's: a row whose scores are all -inf
// is NaN (its maximum is -inf), and a tile whose scores are all -inf adds
// nothing to a row that has finite scores elsewhere.
//
//===----------------------------------------------------------------------===//

#include "MemRefView.h"
#include "llmc/Runtime/CpuKernels.h"
#include "llmc/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using llmc::runtime::View;

namespace {
constexpr int64_t kRowTile = 16; // query rows per work item
constexpr int64_t kKeyTile = 64; // keys per online-softmax step

/// Dot product of n floats, with independent partial sums the compiler
/// can keep in vector registers.
inline float dot(const float *a, const float *b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      s[j] += a[i + j] * b[i + j];
  float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i)
    total += a[i] * b[i];
  return total;
}

/// y += a * x over n floats.
inline void axpy(float a, const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += a * x[i];
}

/// Strides of a dense row-major tensor of `sizes`, 0 on broadcast (size-1)
/// dims of a bias that the scores' dims `full` make larger.
std::vector<int64_t> broadcastStrides(const int64_t *sizes, const int64_t *full,
                                      int64_t rank) {
  std::vector<int64_t> strides(rank, 0);
  int64_t s = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    strides[d] = sizes[d] == 1 && full[d] != 1 ? 0 : s;
    s *= sizes[d];
  }
  return strides;
}

void attention(void *qm, void *km, void *vm, void *biasm, void *pm, void *om) {
  View<float> qv(qm, 5), kv(km, 4), vv(vm, 4), ov(om, 5);
  View<double> pv(pm, 1);
  std::vector<float> qs, ks, vs, bs, os;
  std::vector<double> ps;
  const float *q = qv.dense(qs), *k = kv.dense(ks), *v = vv.dense(vs);
  const double scale = pv.dense(ps)[0];
  const int64_t B = qv.sizes[0], KVH = qv.sizes[1], G = qv.sizes[2],
                L = qv.sizes[3], D = qv.sizes[4], S = kv.sizes[2],
                E = vv.sizes[3];
  const float *bias = nullptr;
  std::vector<int64_t> bStride;
  if (biasm) {
    View<float> bv(biasm, 5);
    bias = bv.dense(bs);
    const int64_t scores[5] = {B, KVH, G, L, S};
    bStride = broadcastStrides(bv.sizes, scores, 5);
  }
  const bool outDense = ov.contiguous();
  if (!outDense)
    os.resize(ov.count());
  float *out = outDense ? ov.data : os.data();
  const int64_t rows = G * L, rowTiles = (rows + kRowTile - 1) / kRowTile;
  const float negInf = -std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();

  llmc::runtime::parallelFor(
      B * KVH * rowTiles, kRowTile * S * (D + E) * 2,
      [&](int64_t begin, int64_t end) {
        std::vector<float> score(kRowTile * kKeyTile), acc(kRowTile * E);
        std::vector<float> maxs(kRowTile), sums(kRowTile);
        for (int64_t item = begin; item < end; ++item) {
          const int64_t head = item / rowTiles; // b * KVH + kvh
          const int64_t b = head / KVH, h = head % KVH;
          const int64_t r0 = (item % rowTiles) * kRowTile;
          const int64_t nr = std::min(kRowTile, rows - r0);
          const float *qh = q + (head * rows + r0) * D;
          const float *kh = k + head * S * D, *vh = v + head * S * E;
          std::fill(acc.begin(), acc.begin() + nr * E, 0.0f);
          std::fill(maxs.begin(), maxs.begin() + nr, negInf);
          std::fill(sums.begin(), sums.begin() + nr, 0.0f);
          for (int64_t j0 = 0; j0 < S; j0 += kKeyTile) {
            const int64_t nj = std::min(kKeyTile, S - j0);
            // Scores of the tile: each key row read once for all rows.
            for (int64_t j = 0; j < nj; ++j) {
              const float *kj = kh + (j0 + j) * D;
              for (int64_t r = 0; r < nr; ++r)
                score[r * kKeyTile + j] =
                    static_cast<float>(dot(qh + r * D, kj, D) * scale);
            }
            if (bias)
              for (int64_t r = 0; r < nr; ++r) {
                const int64_t g = (r0 + r) / L, l = (r0 + r) % L;
                const float *br = bias + b * bStride[0] + h * bStride[1] +
                                  g * bStride[2] + l * bStride[3];
                for (int64_t j = 0; j < nj; ++j)
                  score[r * kKeyTile + j] += br[(j0 + j) * bStride[4]];
              }
            // Online softmax: rescale what the row has by the new maximum.
            for (int64_t r = 0; r < nr; ++r) {
              float *sr = &score[r * kKeyTile];
              float m = maxs[r];
              for (int64_t j = 0; j < nj; ++j)
                m = std::max(m, sr[j]);
              if (m == negInf) { // nothing but -inf yet: nothing to add
                for (int64_t j = 0; j < nj; ++j)
                  sr[j] = 0.0f;
                continue;
              }
              const float alpha = std::exp(maxs[r] - m);
              maxs[r] = m;
              float sum = 0.0f;
              for (int64_t j = 0; j < nj; ++j) {
                sr[j] = std::exp(sr[j] - m);
                sum += sr[j];
              }
              sums[r] = sums[r] * alpha + sum;
              if (alpha != 1.0f)
                for (int64_t e = 0; e < E; ++e)
                  acc[r * E + e] *= alpha;
            }
            // acc += p v: each value row read once for all rows.
            for (int64_t j = 0; j < nj; ++j) {
              const float *vj = vh + (j0 + j) * E;
              for (int64_t r = 0; r < nr; ++r) {
                const float p = score[r * kKeyTile + j];
                if (p != 0.0f)
                  axpy(p, vj, &acc[r * E], E);
              }
            }
          }
          float *oh = out + (head * rows + r0) * E;
          for (int64_t r = 0; r < nr; ++r) {
            const float inv = maxs[r] == negInf ? nan : 1.0f / sums[r];
            for (int64_t e = 0; e < E; ++e)
              oh[r * E + e] = maxs[r] == negInf ? nan : acc[r * E + e] * inv;
          }
        }
      });
  if (!outDense)
    ov.scatter(out);
}
} // namespace

extern "C" void _mlir_ciface_llmc_attention_f32(void *q, void *k, void *v,
                                                void *bias, void *params,
                                                void *out) {
  attention(q, k, v, bias, params, out);
}

extern "C" void _mlir_ciface_llmc_attention_nobias_f32(void *q, void *k,
                                                       void *v, void *params,
                                                       void *out) {
  attention(q, k, v, nullptr, params, out);
}
