//===- FlashAttention.cpp - graph.attention as one CUDA kernel ------------===//
//
// softmax(q k^T * scale + bias) v for every query row, as one kernel in the
// style of FlashAttention: the keys are visited in tiles of 32, one key per
// lane of a warp, and each query row keeps a running maximum m, a running
// sum l and its output row o (E / 32 floats per lane) in registers. For a
// tile, with s the lane's score:
//
//   m' = max(m, max over the tile of s)
//   l' = l * exp(m - m') + sum over the tile of exp(s - m')
//   o' = o * exp(m - m') + sum over the tile's keys j of exp(s_j - m') v_j
//
// and at the end o / l is the row's output: no score leaves the registers,
// and no [rows, keys] matrix is ever in global memory. The maxima and sums
// over a tile are warp shuffles; exp(s_j - m') reaches every lane by a
// shuffle from lane j, and lane t reads value columns t, t + 32, ...
//
// Two shapes of block, chosen at compile time (planFlashAttention):
//  * rows: 8 warps, each one query row of a (batch, KV head); the block
//    loads each key tile and value tile once into shared memory (rows of
//    the key tile padded to an odd stride, so that the 32 lanes reading one
//    column of 32 keys hit 32 banks) for its 8 rows, which grouped-query
//    attention's query heads of one KV head share;
//  * decode: fewer than 8 rows per KV head (one new token): one block per
//    row, its 4 warps take every 4th key tile each, reading keys and values
//    straight from global memory, and combine their (m, l, o) at the end
//    through shared memory (o = sum_w exp(m_w - M) o_w, likewise l).
//
// Semantics are the written-out chain's: masked keys (-inf) add nothing; a
// row whose scores are all -inf is 0 / 0 = NaN; NaN propagates.
//
//===----------------------------------------------------------------------===//

#include "FlashAttention.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>
#include <functional>

using namespace mlir;
using namespace mlir::llmc;

namespace {
constexpr int64_t kWarp = 32;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The kernel's arithmetic, on one implicit-location builder.
struct Emitter {
  ImplicitLocOpBuilder &b;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, x, idx(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, x, idx(y)); }
  Value min(Value x, int64_t y) { return arith::MinUIOp::create(b, x, idx(y)); }
  Value less(Value x, int64_t y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, idx(y));
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value fma(Value x, Value y, Value z) { return math::FmaOp::create(b, x, y, z); }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value isNegInf(Value x) {
    return arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, x,
                                 f32(-INFINITY));
  }
  Value load(Value m, ArrayRef<Value> at) {
    return memref::LoadOp::create(b, m, at);
  }
  void store(Value x, Value m, ArrayRef<Value> at) {
    memref::StoreOp::create(b, x, m, at);
  }

  /// The warp's maximum (or sum) of `v`, in every lane.
  Value warpReduce(Value v, bool max) {
    for (int32_t offset = kWarp / 2; offset >= 1; offset /= 2) {
      Value other =
          gpu::ShuffleOp::create(b, v, offset, kWarp, gpu::ShuffleMode::XOR)
              .getShuffleResult();
      v = max ? (Value)arith::MaximumFOp::create(b, v, other) : fadd(v, other);
    }
    return v;
  }

  /// for (i = lb; i < ub; i += step) with `inits` carried: `body` gets the
  /// index and the carried values and returns the next ones.
  SmallVector<Value>
  loop(Value lb, Value ub, int64_t step, ValueRange inits,
       const std::function<SmallVector<Value>(Value, ValueRange)> &body) {
    auto op = scf::ForOp::create(b, lb, ub, idx(step), inits);
    OpBuilder::InsertionGuard guard(b);
    Block *block = op.getBody();
    if (inits.empty())
      b.setInsertionPoint(block->getTerminator());
    else
      b.setInsertionPointToStart(block);
    SmallVector<Value> next =
        body(op.getInductionVar(), block->getArguments().drop_front());
    if (!inits.empty())
      scf::YieldOp::create(b, next);
    return SmallVector<Value>(op.getResults());
  }

  /// if (cond) { body }
  void when(Value cond, const std::function<void()> &body) {
    auto op = scf::IfOp::create(b, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(op.thenBlock()->getTerminator());
    body();
  }
};
} // namespace

FlashAttentionPlan mlir::llmc::planFlashAttention(const FlashAttentionShape &s) {
  FlashAttentionPlan p;
  int64_t rows = s.G * s.L;
  if (rows >= 8) {
    p.warps = p.rowsPerBlock = 8;
    p.keySplits = 1;
  } else {
    p.warps = p.keySplits = 4;
    p.rowsPerBlock = 1;
  }
  p.grid = s.B * s.KVH * ceilDiv(rows, p.rowsPerBlock);
  return p;
}

void mlir::llmc::emitFlashAttention(OpBuilder &builder, Location loc,
                                    const FlashAttentionShape &s,
                                    const FlashAttentionPlan &p, Value q,
                                    Value k, Value v, Value bias, Value out) {
  ImplicitLocOpBuilder b(loc, builder);
  Emitter x{b};
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto func = cast<gpu::GPUFuncOp>(b.getInsertionBlock()->getParentOp());
  auto shared = [&](ArrayRef<int64_t> shape) -> Value {
    return func.addWorkgroupAttribution(
        MemRefType::get(shape, f32, MemRefLayoutAttrInterface{},
                        gpu::AddressSpaceAttr::get(
                            ctx, gpu::AddressSpace::Workgroup)),
        loc);
  };
  const int64_t rows = s.G * s.L, R = p.rowsPerBlock, P = p.keySplits,
                threads = p.block(), tiles = ceilDiv(s.S, kWarp),
                columns = ceilDiv(s.E, kWarp);
  const bool sharedTiles = P == 1;
  // Rows of the key tile padded to an odd stride: conflict-free columns.
  const int64_t stride = s.D % 2 == 0 ? s.D + 1 : s.D;
  Value qs = shared({R, s.D});
  Value ks, vs, ms, ls, os;
  if (sharedTiles) {
    ks = shared({kWarp, stride});
    vs = shared({kWarp, s.E});
  } else {
    ms = shared({P});
    ls = shared({P});
    os = shared({P, s.E});
  }

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value lane = x.rem(tid, kWarp), warp = x.div(tid, kWarp);
  int64_t blocksPerHead = ceilDiv(rows, R);
  Value head = x.div(bid, blocksPerHead);
  Value firstRow = x.mul(x.rem(bid, blocksPerHead), x.idx(R));
  Value bi = x.div(head, s.KVH), hi = x.rem(head, s.KVH);
  Value myRow = sharedTiles ? x.add(firstRow, warp) : firstRow;
  Value rowValid = x.less(myRow, rows);
  Value row = x.min(myRow, rows - 1);
  Value gi = x.div(row, s.L), ii = x.rem(row, s.L);

  // The block's query rows into shared memory.
  x.loop(tid, x.idx(R * s.D), threads, {}, [&](Value at, ValueRange) {
    Value rr = x.div(at, s.D), d = x.rem(at, s.D);
    Value r = x.min(x.add(firstRow, rr), rows - 1);
    x.store(x.load(q, {bi, hi, x.div(r, s.L), x.rem(r, s.L), d}), qs, {rr, d});
    return SmallVector<Value>{};
  });
  gpu::BarrierOp::create(b);
  Value qrow = sharedTiles ? warp : x.idx(0);

  SmallVector<Value> inits{x.f32(-INFINITY), x.f32(0.0f)};
  for (int64_t t = 0; t < columns; ++t)
    inits.push_back(x.f32(0.0f));
  Value firstTile = sharedTiles ? x.idx(0) : warp;
  SmallVector<Value> state = x.loop(
      firstTile, x.idx(tiles), P, inits, [&](Value tile, ValueRange carried) {
        Value m = carried[0], l = carried[1];
        SmallVector<Value> o(carried.drop_front(2));
        Value base = x.mul(tile, x.idx(kWarp));
        if (sharedTiles) {
          // The tile's keys and values, once for the block's rows (rows
          // past the last key repeat it; they are never used).
          gpu::BarrierOp::create(b);
          for (auto [from, to, width] :
               {std::tuple{k, ks, s.D}, std::tuple{v, vs, s.E}})
            x.loop(tid, x.idx(kWarp * width), threads, {},
                   [&](Value at, ValueRange) {
                     Value j = x.div(at, width), c = x.rem(at, width);
                     Value key = x.min(x.add(base, j), s.S - 1);
                     x.store(x.load(from, {bi, hi, key, c}), to, {j, c});
                     return SmallVector<Value>{};
                   });
          gpu::BarrierOp::create(b);
        }
        // This lane's key: its score.
        Value key = x.add(base, lane);
        Value valid = x.less(key, s.S);
        Value keyC = x.min(key, s.S - 1);
        Value dot = x.loop(x.idx(0), x.idx(s.D), 1, {x.f32(0.0f)},
                           [&](Value d, ValueRange acc) {
                             Value kd = sharedTiles
                                            ? x.load(ks, {lane, d})
                                            : x.load(k, {bi, hi, keyC, d});
                             return SmallVector<Value>{
                                 x.fma(x.load(qs, {qrow, d}), kd, acc[0])};
                           })[0];
        Value score = x.fmul(dot, x.f32(static_cast<float>(s.scale)));
        if (bias) {
          Value zero = x.idx(0);
          SmallVector<Value> at{bi, hi, gi, ii, keyC};
          for (int d = 0; d < 5; ++d)
            if (!s.biasFull[d])
              at[d] = zero;
          score = x.fadd(score, x.load(bias, at));
        }
        score = x.select(valid, score, x.f32(-INFINITY));
        // The online softmax's step.
        Value mNew =
            arith::MaximumFOp::create(b, m, x.warpReduce(score, /*max=*/true));
        Value dead = x.isNegInf(mNew); // every score so far is -inf
        Value alpha = x.select(dead, x.f32(1.0f),
                               x.exp(arith::SubFOp::create(b, m, mNew)));
        Value prob = x.select(dead, x.f32(0.0f),
                              x.exp(arith::SubFOp::create(b, score, mNew)));
        Value lNew = x.fma(l, alpha, x.warpReduce(prob, /*max=*/false));
        for (Value &c : o)
          c = x.fmul(c, alpha);
        // o += sum over the tile's keys j of prob_j v_j.
        Value count = arith::MinUIOp::create(
            b, x.idx(kWarp), arith::SubIOp::create(b, x.idx(s.S), base));
        o = x.loop(x.idx(0), count, 1, o, [&](Value j, ValueRange acc) {
          Value from = arith::IndexCastOp::create(b, b.getI32Type(), j);
          Value width =
              arith::ConstantOp::create(b, b.getI32IntegerAttr(kWarp));
          Value pj = gpu::ShuffleOp::create(b, prob, from, width,
                                            gpu::ShuffleMode::IDX)
                         .getShuffleResult();
          SmallVector<Value> next;
          for (int64_t t = 0; t < columns; ++t) {
            Value e = x.min(x.add(lane, x.idx(t * kWarp)), s.E - 1);
            Value vj = sharedTiles
                           ? x.load(vs, {j, e})
                           : x.load(v, {bi, hi, x.add(base, j), e});
            next.push_back(x.fma(pj, vj, acc[t]));
          }
          return next;
        });
        SmallVector<Value> result{mNew, lNew};
        result.append(o.begin(), o.end());
        return result;
      });
  Value m = state[0], l = state[1];
  ArrayRef<Value> o = ArrayRef<Value>(state).drop_front(2);

  // Lane t's columns t, t + 32, ... of the row's output.
  auto eachColumn = [&](const std::function<void(int64_t, Value)> &body) {
    for (int64_t t = 0; t < columns; ++t) {
      Value e = x.add(lane, x.idx(t * kWarp));
      if ((t + 1) * kWarp <= s.E)
        body(t, e);
      else
        x.when(x.less(e, s.E), [&] { body(t, e); });
    }
  };
  if (sharedTiles) {
    x.when(rowValid, [&] {
      eachColumn([&](int64_t t, Value e) {
        x.store(arith::DivFOp::create(b, o[t], l), out, {bi, hi, gi, ii, e});
      });
    });
    return;
  }
  // Decode: the warps' partial softmaxes combined.
  x.when(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, x.idx(0)),
         [&] {
           x.store(m, ms, {warp});
           x.store(l, ls, {warp});
         });
  eachColumn([&](int64_t t, Value e) { x.store(o[t], os, {warp, e}); });
  gpu::BarrierOp::create(b);
  Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, warp,
                                      x.idx(0));
  x.when(arith::AndIOp::create(b, first, rowValid), [&] {
    SmallVector<Value> mw, weight;
    Value top = x.f32(-INFINITY);
    for (int64_t w = 0; w < P; ++w) {
      mw.push_back(x.load(ms, {x.idx(w)}));
      top = arith::MaximumFOp::create(b, top, mw.back());
    }
    Value total = x.f32(0.0f);
    for (int64_t w = 0; w < P; ++w) {
      weight.push_back(
          x.select(x.isNegInf(mw[w]), x.f32(0.0f),
                   x.exp(arith::SubFOp::create(b, mw[w], top))));
      total = x.fma(weight[w], x.load(ls, {x.idx(w)}), total);
    }
    eachColumn([&](int64_t, Value e) {
      Value sum = x.f32(0.0f);
      for (int64_t w = 0; w < P; ++w)
        sum = x.fma(weight[w], x.load(os, {x.idx(w), e}), sum);
      x.store(arith::DivFOp::create(b, sum, total), out, {bi, hi, gi, ii, e});
    });
  });
}
