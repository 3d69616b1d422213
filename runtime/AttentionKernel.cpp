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
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

using llmc::runtime::View;

namespace {
constexpr int64_t kRowTile = 16; // query rows per work item
constexpr int64_t kKeyTile = 64; // keys per online-softmax step

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

/// What one work item needs.
struct Problem {
  const float *q, *k, *v, *bias;
  float *out;
  const int64_t *biasStride; // 5 entries, 0 on broadcast dims
  float scale;
  int64_t KVH, L, D, S, E, rows; // rows = G * L per KV head
};

/// x[i] = exp(x[i]) for n floats: Cephes' range reduction and degree-5
/// polynomial (relative error below 2e-7), written so that the loop
/// vectorizes; -inf and anything below -87.3 give 0, NaN stays NaN.
inline void expInPlace(float *x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    float c = std::min(std::max(v, -87.3f), 88.7f);
    float k = std::floor(c * 1.44269504088896341f + 0.5f);
    float r = c - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
    float scaleBy;
    std::memcpy(&scaleBy, &bits, sizeof(float));
    float e = p * scaleBy;
    x[i] = v != v ? v : (v < -87.3f ? 0.0f : e);
  }
}

/// Rows r0 .. r0 + nr of KV head `head` (b * KVH + kvh): each key and value
/// row of a tile is read once for all of them. Compiled for x86-64-v3
/// (AVX2, FMA) too, picked at load time where the CPU has it.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void rowTile(const Problem &p, int64_t head, int64_t r0, int64_t nr,
             float *score, float *kt, float *acc, float *maxs, float *sums) {
  const float negInf = -std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t D = p.D, E = p.E, S = p.S;
  const float *qh = p.q + (head * p.rows + r0) * D;
  const float *kh = p.k + head * S * D, *vh = p.v + head * S * E;
  const int64_t b = head / p.KVH, h = head % p.KVH;
  for (int64_t i = 0; i < nr * E; ++i)
    acc[i] = 0.0f;
  for (int64_t r = 0; r < nr; ++r) {
    maxs[r] = negInf;
    sums[r] = 0.0f;
  }
  for (int64_t j0 = 0; j0 < S; j0 += kKeyTile) {
    const int64_t nj = std::min(kKeyTile, S - j0);
    // The key tile transposed, [D][nj]: scores accumulate along the keys.
    for (int64_t j = 0; j < nj; ++j)
      for (int64_t d = 0; d < D; ++d)
        kt[d * kKeyTile + j] = kh[(j0 + j) * D + d];
    for (int64_t r = 0; r < nr; ++r) {
      float *sr = score + r * kKeyTile;
      for (int64_t j = 0; j < nj; ++j)
        sr[j] = 0.0f;
      const float *qr = qh + r * D;
      for (int64_t d = 0; d < D; ++d) {
        const float qd = qr[d];
        const float *kd = kt + d * kKeyTile;
        for (int64_t j = 0; j < nj; ++j)
          sr[j] += qd * kd[j];
      }
      for (int64_t j = 0; j < nj; ++j)
        sr[j] *= p.scale;
      if (p.bias) {
        const int64_t g = (r0 + r) / p.L, l = (r0 + r) % p.L;
        const int64_t *bs = p.biasStride;
        const float *br = p.bias + b * bs[0] + h * bs[1] + g * bs[2] + l * bs[3] +
                          j0 * bs[4];
        if (bs[4] == 1)
          for (int64_t j = 0; j < nj; ++j)
            sr[j] += br[j];
        else
          for (int64_t j = 0; j < nj; ++j)
            sr[j] += br[j * bs[4]];
      }
      // Online softmax: the row's running maximum and sum, what it has
      // rescaled when the maximum grows.
      float m = maxs[r];
      for (int64_t j = 0; j < nj; ++j)
        m = std::max(m, sr[j]);
      if (m == negInf) { // nothing but -inf yet: nothing to add
        for (int64_t j = 0; j < nj; ++j)
          sr[j] = 0.0f;
        continue;
      }
      for (int64_t j = 0; j < nj; ++j)
        sr[j] -= m;
      expInPlace(sr, nj);
      float sum = 0.0f;
      for (int64_t j = 0; j < nj; ++j)
        sum += sr[j];
      float alpha = maxs[r] - m;
      expInPlace(&alpha, 1);
      maxs[r] = m;
      sums[r] = sums[r] * alpha + sum;
      if (alpha != 1.0f)
        for (int64_t e = 0; e < E; ++e)
          acc[r * E + e] *= alpha;
    }
    // acc += p v: each value row read once for all rows.
    for (int64_t j = 0; j < nj; ++j) {
      const float *vj = vh + (j0 + j) * E;
      for (int64_t r = 0; r < nr; ++r) {
        const float w = score[r * kKeyTile + j];
        if (w == 0.0f)
          continue;
        float *ar = acc + r * E;
        for (int64_t e = 0; e < E; ++e)
          ar[e] += w * vj[e];
      }
    }
  }
  float *oh = p.out + (head * p.rows + r0) * E;
  for (int64_t r = 0; r < nr; ++r) {
    const bool masked = maxs[r] == negInf;
    const float inv = 1.0f / sums[r];
    for (int64_t e = 0; e < E; ++e)
      oh[r * E + e] = masked ? nan : acc[r * E + e] * inv;
  }
}

void attention(void *qm, void *km, void *vm, void *biasm, void *pm, void *om) {
  View<float> qv(qm, 5), kv(km, 4), vv(vm, 4), ov(om, 5);
  View<double> pv(pm, 1);
  std::vector<float> qs, ks, vs, bs, os;
  std::vector<double> ps;
  Problem p;
  p.q = qv.dense(qs);
  p.k = kv.dense(ks);
  p.v = vv.dense(vs);
  p.scale = static_cast<float>(pv.dense(ps)[0]);
  const int64_t B = qv.sizes[0], G = qv.sizes[2];
  p.KVH = qv.sizes[1];
  p.L = qv.sizes[3];
  p.D = qv.sizes[4];
  p.S = kv.sizes[2];
  p.E = vv.sizes[3];
  p.rows = G * p.L;
  p.bias = nullptr;
  std::vector<int64_t> bStride(5, 0);
  if (biasm) {
    View<float> bv(biasm, 5);
    p.bias = bv.dense(bs);
    const int64_t scores[5] = {B, p.KVH, G, p.L, p.S};
    bStride = broadcastStrides(bv.sizes, scores, 5);
  }
  p.biasStride = bStride.data();
  const bool outDense = ov.contiguous();
  if (!outDense)
    os.resize(ov.count());
  p.out = outDense ? ov.data : os.data();
  const int64_t rowTiles = (p.rows + kRowTile - 1) / kRowTile;
  llmc::runtime::parallelFor(
      B * p.KVH * rowTiles, kRowTile * p.S * (p.D + p.E) * 2,
      [&](int64_t begin, int64_t end) {
        std::vector<float> score(kRowTile * kKeyTile), kt(p.D * kKeyTile),
            acc(kRowTile * p.E), maxs(kRowTile), sums(kRowTile);
        for (int64_t item = begin; item < end; ++item) {
          const int64_t head = item / rowTiles;
          const int64_t r0 = (item % rowTiles) * kRowTile;
          rowTile(p, head, r0, std::min(kRowTile, p.rows - r0), score.data(),
                  kt.data(), acc.data(), maxs.data(), sums.data());
        }
      });
  if (!outDense)
    ov.scatter(p.out);
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
