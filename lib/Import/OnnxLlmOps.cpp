//===- OnnxLlmOps.cpp - Importers of the LLM ops of opsets 23 and 24 ------===//
//
// Attention (23, 24), RMSNormalization (23), RotaryEmbedding (23),
// TensorScatter (24) and Swish (24), CenterCropPad (18), and ONNX Runtime's
// transformer ops. Debian's libonnx 1.12 has no schema for
// them, so each is written here as an ONNX function body in the text syntax,
// with the node's attributes and its inputs' static shapes already resolved,
// and imported through the ops it is made of (ModelImporter::expandBody).
// Fusion sees the pieces: llmc-lift-attention makes the attention body one
// graph.attention again, as it does for attention written out by exporters;
// the normalisation and the rotation fuse as elementwise and row kernels.
//
// The semantics follow the ONNX specification and its reference
// implementation (onnx/reference/ops/op_attention.py and friends); the node
// tests of the onnx 1.19 wheel check them (test/conformance).
//
//===----------------------------------------------------------------------===//

#include "OnnxBody.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;

namespace {
using Results = FailureOr<SmallVector<Value>>;

//===----------------------------------------------------------------------===//
// RMSNormalization (23)
//===----------------------------------------------------------------------===//

Results importRmsNorm(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  if (!isFloat(x.getElementType()) ||
      !isFloat(c.inputType(1).getElementType()))
    return c.emitError("X and scale must be floating-point"), failure();
  FailureOr<int64_t> axis = c.normalizeAxis(c.getInt("axis", -1), x.getRank());
  if (failed(axis))
    return failure();
  int64_t stash = c.getInt("stash_type", 1);
  if (stash != 1)
    return c.emitError("stash_type ") << stash << " is not supported (only "
                                         "1, float)",
           failure();
  SmallVector<int64_t> axes;
  for (int64_t a = *axis; a < x.getRank(); ++a)
    axes.push_back(a);
  // stash_type 1: the statistics in float32 at least (double stays double).
  bool widen = x.getElementType().getIntOrFloatBitWidth() < 32;
  Body b("RMSNormalization", {"X", "S"}, {"Y"});
  b("XS", widen ? "Cast <to = 1> (X)" : "Identity (X)");
  b("sq", "Mul (XS, XS)");
  b("axes", intsConst(axes));
  b("ms", "ReduceMean <keepdims = 1> (sq, axes)");
  b("eps32", "Constant <value_float = " + real(c.getFloat("epsilon", 1e-5)) +
                 "> ()");
  b("eps", "CastLike (eps32, XS)");
  b("v", "Add (ms, eps)");
  b("r", "Sqrt (v)");
  b("n", "Div (XS, r)");
  b("nS", "CastLike (n, S)");
  b("Y", "Mul (nS, S)");
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// Swish (24)
//===----------------------------------------------------------------------===//

Results importSwish(NodeContext &c) {
  if (!isFloat(c.inputType(0).getElementType()))
    return c.emitError("X must be floating-point"), failure();
  Body b("Swish", {"X"}, {"Y"});
  b("a32", "Constant <value_float = " + real(c.getFloat("alpha", 1.0)) + "> ()");
  b("a", "CastLike (a32, X)");
  b("ax", "Mul (a, X)");
  b("s", "Sigmoid (ax)");
  b("Y", "Mul (X, s)");
  return c.expandBody(b.finish());
}

/// Writes `out` = `x4` ([batch, seq, heads, head]) with its first `rot`
/// channels rotated by the angles whose cosines and sines `cg` and `sg`
/// hold ([batch or 1, seq, rot / 2]): pairs (i, i + rot/2), or (2i, 2i + 1)
/// when `interleaved`. Names get `p` in front (a body may rotate twice).
void rotate(Body &b, const std::string &p, const std::string &x4,
            const std::string &cg, const std::string &sg,
            ArrayRef<int64_t> shape, int64_t rot, bool interleaved,
            const std::string &out) {
  int64_t head = shape[3], half = rot / 2;
  auto n = [&](StringRef name) { return p + name.str(); };
  b(n("a2"), intsConst({2}));
  b(n("cosu"), "Unsqueeze (" + cg + ", " + n("a2") + ")");
  b(n("sinu"), "Unsqueeze (" + sg + ", " + n("a2") + ")");
  b(n("a3"), intsConst({3}));
  b(n("z"), intsConst({0}));
  b(n("rd"), intsConst({rot}));
  b(n("xr"), rot == head ? "Identity (" + x4 + ")"
                         : "Slice (" + x4 + ", " + n("z") + ", " + n("rd") +
                               ", " + n("a3") + ")");
  if (interleaved) {
    b(n("one"), intsConst({1}));
    b(n("two"), intsConst({2}));
    b(n("x1"), "Slice (" + n("xr") + ", " + n("z") + ", " + n("rd") + ", " +
                   n("a3") + ", " + n("two") + ")");
    b(n("x2"), "Slice (" + n("xr") + ", " + n("one") + ", " + n("rd") + ", " +
                   n("a3") + ", " + n("two") + ")");
  } else {
    b(n("h"), intsConst({half}));
    b(n("x1"), "Slice (" + n("xr") + ", " + n("z") + ", " + n("h") + ", " +
                   n("a3") + ")");
    b(n("x2"), "Slice (" + n("xr") + ", " + n("h") + ", " + n("rd") + ", " +
                   n("a3") + ")");
  }
  b(n("c1"), "Mul (" + n("cosu") + ", " + n("x1") + ")");
  b(n("s2"), "Mul (" + n("sinu") + ", " + n("x2") + ")");
  b(n("re"), "Sub (" + n("c1") + ", " + n("s2") + ")");
  b(n("s1"), "Mul (" + n("sinu") + ", " + n("x1") + ")");
  b(n("c2"), "Mul (" + n("cosu") + ", " + n("x2") + ")");
  b(n("im"), "Add (" + n("s1") + ", " + n("c2") + ")");
  std::string rotated = rot < head ? n("rot4") : out;
  if (interleaved) {
    b(n("a4"), intsConst({4}));
    b(n("re5"), "Unsqueeze (" + n("re") + ", " + n("a4") + ")");
    b(n("im5"), "Unsqueeze (" + n("im") + ", " + n("a4") + ")");
    b(n("pairs"), "Concat <axis = 4> (" + n("re5") + ", " + n("im5") + ")");
    b(n("rshape"), intsConst({shape[0], shape[1], shape[2], rot}));
    b(rotated, "Reshape (" + n("pairs") + ", " + n("rshape") + ")");
  } else {
    b(rotated, "Concat <axis = 3> (" + n("re") + ", " + n("im") + ")");
  }
  if (rot < head) {
    b(n("hd"), intsConst({head}));
    b(n("xp"), "Slice (" + x4 + ", " + n("rd") + ", " + n("hd") + ", " +
                   n("a3") + ")");
    b(out, "Concat <axis = 3> (" + rotated + ", " + n("xp") + ")");
  }
}

/// Y = X rotated by `cg`/`sg` (see rotate), X being [batch, heads, seq,
/// head] (rank 4) or [batch, seq, heads * head] (rank 3): brought to
/// [batch, seq, heads, head] and back.
void rotateInLayout(Body &b, ArrayRef<int64_t> xShape, ArrayRef<int64_t> bshd,
                    int64_t rot, bool interleaved) {
  if (xShape.size() == 4) {
    b("x4", "Transpose <perm = [0, 2, 1, 3]> (X)");
  } else {
    b("shape4", intsConst(bshd));
    b("x4", "Reshape (X, shape4)");
  }
  rotate(b, "", "x4", "cg", "sg", bshd, rot, interleaved, "y4");
  if (xShape.size() == 4) {
    b("Y", "Transpose <perm = [0, 2, 1, 3]> (y4)");
  } else {
    b("shape3", intsConst(xShape));
    b("Y", "Reshape (y4, shape3)");
  }
}

//===----------------------------------------------------------------------===//
// RotaryEmbedding (23)
//===----------------------------------------------------------------------===//

Results importRotary(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  if (!isFloat(x.getElementType()))
    return c.emitError("X must be floating-point"), failure();
  for (unsigned i : {1u, 2u})
    if (c.inputType(i).getElementType() != x.getElementType())
      return c.emitError("cos_cache and sin_cache must have X's element type"),
             failure();
  int64_t rank = x.getRank();
  if (rank != 3 && rank != 4)
    return c.emitError("X must be 3-D or 4-D, got rank ") << rank, failure();
  ArrayRef<int64_t> s = x.getShape();
  int64_t batch = s[0], seq = rank == 4 ? s[2] : s[1], heads, head;
  if (rank == 4) {
    heads = s[1];
    head = s[3];
  } else {
    heads = c.getInt("num_heads", 0);
    if (heads <= 0 || s[2] % heads != 0)
      return c.emitError("3-D X needs num_heads dividing its hidden size ")
                 << s[2] << ", got " << heads,
             failure();
    head = s[2] / heads;
  }
  int64_t rot = c.getInt("rotary_embedding_dim", 0);
  if (rot == 0)
    rot = head;
  if (rot < 0 || rot > head || rot % 2 != 0)
    return c.emitError("rotary_embedding_dim ")
               << rot << " must be even and at most the head size " << head,
           failure();
  int64_t half = rot / 2;
  bool interleaved = c.getInt("interleaved", 0) != 0;
  bool positions = c.hasInput(3);
  // The caches, gathered by position when given: [batch, seq, half].
  RankedTensorType cosType = c.inputType(1);
  SmallVector<int64_t> cacheShape(cosType.getShape());
  if (positions) {
    RankedTensorType p = c.inputType(3);
    if (!p.getElementType().isInteger(64))
      return c.emitError("position_ids must be int64"), failure();
    if (cosType.getRank() != 2 || p.getShape() != ArrayRef<int64_t>{batch, seq})
      return c.emitError("with position_ids [batch, seq], the caches must be "
                         "2-D [max_position, rotary_dim / 2]"),
             failure();
    cacheShape = {batch, seq, cosType.getShape()[1]};
  } else if (cacheShape != SmallVector<int64_t>{batch, seq, half}) {
    return c.emitError("without position_ids the caches must be [batch, seq, "
                       "rotary_dim / 2] = [")
               << batch << ", " << seq << ", " << half << "]",
           failure();
  }
  if (cacheShape.back() != half || c.inputType(2).getShape() != cosType.getShape())
    return c.emitError("the caches' last dim must be rotary_dim / 2 = ")
               << half << " and both caches one shape",
           failure();

  SmallVector<std::string> formals = {"X", "cosc", "sinc"};
  if (positions)
    formals.push_back("pos");
  Body b("RotaryEmbedding", formals, {"Y"});
  b("cg", positions ? "Gather <axis = 0> (cosc, pos)" : "Identity (cosc)");
  b("sg", positions ? "Gather <axis = 0> (sinc, pos)" : "Identity (sinc)");
  rotateInLayout(b, s, {batch, seq, heads, head}, rot, interleaved);
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// TensorScatter (24)
//===----------------------------------------------------------------------===//

Results importTensorScatter(NodeContext &c) {
  RankedTensorType cache = c.inputType(0), update = c.inputType(1);
  int64_t rank = cache.getRank();
  if (update.getRank() != rank ||
      update.getElementType() != cache.getElementType())
    return c.emitError("update must have past_cache's rank and element type"),
           failure();
  FailureOr<int64_t> axis = c.normalizeAxis(c.getInt("axis", -2), rank);
  if (failed(axis))
    return failure();
  if (*axis == 0)
    return c.emitError("axis must not be the batch axis 0"), failure();
  for (int64_t i = 0; i < rank; ++i)
    if (i == *axis ? update.getDimSize(i) > cache.getDimSize(i)
                   : update.getDimSize(i) != cache.getDimSize(i))
      return c.emitError("update's shape does not fit past_cache's along dim ")
                 << i,
             failure();
  std::string mode = c.getString("mode", "linear");
  if (mode != "linear" && mode != "circular")
    return c.emitError("mode '") << mode << "' is not linear or circular",
           failure();
  int64_t batch = cache.getDimSize(0), len = update.getDimSize(*axis);
  bool indices = c.hasInput(2);
  if (indices && (!c.inputType(2).getElementType().isInteger(64) ||
                  c.inputType(2).getShape() != ArrayRef<int64_t>{batch}))
    return c.emitError("write_indices must be int64 [batch] = [")
               << batch << "]",
           failure();
  SmallVector<std::string> formals = {"cache", "upd"};
  if (indices)
    formals.push_back("w");
  Body b("TensorScatter", formals, {"Y"});
  // Each batch row b writes update[b, ..., s, ...] at w[b] + s along axis:
  // ScatterElements with indices w[b] + s broadcast over update's shape.
  SmallVector<int64_t> wShape(rank, 1), sShape(rank, 1);
  wShape[0] = batch;
  sShape[*axis] = len;
  SmallVector<int64_t> steps;
  for (int64_t i = 0; i < len; ++i)
    steps.push_back(i);
  b("steps", intsConst(steps));
  b("sshape", intsConst(sShape));
  b("sr", "Reshape (steps, sshape)");
  if (indices) {
    b("wshape", intsConst(wShape));
    b("wr", "Reshape (w, wshape)");
    b("at", "Add (wr, sr)");
  } else {
    b("at", "Identity (sr)");
  }
  if (mode == "circular") {
    b("max", intsConst({cache.getDimSize(*axis)}));
    b("atm", "Mod (at, max)");
  } else {
    b("atm", "Identity (at)");
  }
  b("ushape", intsConst(update.getShape()));
  b("idx", "Expand (atm, ushape)");
  b("Y", "ScatterElements <axis = " + std::to_string(*axis) +
             "> (cache, idx, upd)");
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// Attention (23, 24)
//===----------------------------------------------------------------------===//

Results importAttention(NodeContext &c) {
  RankedTensorType q = c.inputType(0), k = c.inputType(1), v = c.inputType(2);
  Type elt = q.getElementType();
  if (!isFloat(elt) || k.getElementType() != elt || v.getElementType() != elt)
    return c.emitError("Q, K and V must share one floating-point type"),
           failure();
  int64_t rank = q.getRank();
  if ((rank != 3 && rank != 4) || k.getRank() != rank || v.getRank() != rank)
    return c.emitError("Q, K and V must all be 3-D or all 4-D"), failure();
  int64_t batch = q.getDimSize(0);
  if (k.getDimSize(0) != batch || v.getDimSize(0) != batch)
    return c.emitError("Q, K and V must share the batch dim"), failure();
  int64_t qHeads, kvHeads, qLen, kvLen, headQ, headK, headV;
  if (rank == 4) {
    qHeads = q.getDimSize(1);
    kvHeads = k.getDimSize(1);
    qLen = q.getDimSize(2);
    kvLen = k.getDimSize(2);
    headQ = q.getDimSize(3);
    headK = k.getDimSize(3);
    headV = v.getDimSize(3);
    if (v.getDimSize(1) != kvHeads || v.getDimSize(2) != kvLen)
      return c.emitError("K and V must share heads and length"), failure();
  } else {
    qHeads = c.getInt("q_num_heads", 0);
    kvHeads = c.getInt("kv_num_heads", 0);
    if (qHeads <= 0 || kvHeads <= 0)
      return c.emitError("3-D Q, K, V need q_num_heads and kv_num_heads"),
             failure();
    if (q.getDimSize(2) % qHeads || k.getDimSize(2) % kvHeads ||
        v.getDimSize(2) % kvHeads)
      return c.emitError("the hidden sizes must divide by the head counts"),
             failure();
    qLen = q.getDimSize(1);
    kvLen = k.getDimSize(1);
    if (v.getDimSize(1) != kvLen)
      return c.emitError("K and V must share their length"), failure();
    headQ = q.getDimSize(2) / qHeads;
    headK = k.getDimSize(2) / kvHeads;
    headV = v.getDimSize(2) / kvHeads;
  }
  if (headQ != headK)
    return c.emitError("Q's head size ")
               << headQ << " differs from K's " << headK,
           failure();
  if (qHeads % kvHeads != 0)
    return c.emitError("q heads ")
               << qHeads << " are not a multiple of kv heads " << kvHeads,
           failure();
  bool mask = c.hasInput(3), pastK = c.hasInput(4), pastV = c.hasInput(5);
  bool nonpad = c.opset >= 24 && c.hasInput(6);
  if (pastK != pastV)
    return c.emitError("past_key and past_value come together"), failure();
  int64_t past = 0;
  if (pastK) {
    RankedTensorType pk = c.inputType(4), pv = c.inputType(5);
    if (pk.getRank() != 4 || pv.getRank() != 4 ||
        pk.getElementType() != elt || pv.getElementType() != elt ||
        pk.getShape() != ArrayRef<int64_t>{batch, kvHeads, pk.getDimSize(2),
                                           headK} ||
        pv.getShape() != ArrayRef<int64_t>{batch, kvHeads, pk.getDimSize(2),
                                           headV})
      return c.emitError("past_key and past_value must be [batch, kv_heads, "
                         "past, head] of Q's type"),
             failure();
    past = pk.getDimSize(2);
  }
  int64_t total = past + kvLen;
  if (mask) {
    RankedTensorType m = c.inputType(3);
    Type me = m.getElementType();
    if (!(me.isInteger(1) || me == elt))
      return c.emitError("attn_mask must be bool or Q's type"), failure();
    if (m.getRank() < 2 || m.getRank() > 4 || m.getShape().back() > total)
      return c.emitError("attn_mask must be 2-D to 4-D with at most ")
                 << total << " columns",
             failure();
  }
  if (nonpad && (!c.inputType(6).getElementType().isInteger(64) ||
                 c.inputType(6).getShape() != ArrayRef<int64_t>{batch}))
    return c.emitError("nonpad_kv_seqlen must be int64 [batch]"), failure();
  int64_t mode = c.getInt("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3)
    return c.emitError("qk_matmul_output_mode must be 0 to 3"), failure();
  double scale = c.hasAttr("scale") ? c.getFloat("scale", 1.0)
                                    : 1.0 / std::sqrt(double(headQ));
  double softcap = c.getFloat("softcap", 0.0);
  bool causal = c.getInt("is_causal", 0) != 0;
  Type softmaxType = elt;
  if (c.hasAttr("softmax_precision")) {
    softmaxType = c.elementType(c.getInt("softmax_precision", 1));
    if (!softmaxType || !isFloat(softmaxType))
      return c.emitError("softmax_precision must name a floating-point type"),
             failure();
  }

  SmallVector<std::string> formals = {"Q", "K", "V"};
  if (mask)
    formals.push_back("mask");
  if (pastK) {
    formals.push_back("pk");
    formals.push_back("pv");
  }
  if (nonpad)
    formals.push_back("nonpad");
  Body b("Attention", formals, {"Y", "PK", "PV", "QK"});
  // Heads first: [batch, heads, len, head].
  if (rank == 3) {
    b.headsFirst("q4", "Q", {batch, qLen, qHeads, headQ});
    b.headsFirst("k4", "K", {batch, kvLen, kvHeads, headK});
    b.headsFirst("v4", "V", {batch, kvLen, kvHeads, headV});
  } else {
    b("q4", "Identity (Q)");
    b("k4", "Identity (K)");
    b("v4", "Identity (V)");
  }
  // The caches grow by the new keys and values.
  b("PK", pastK ? "Concat <axis = 2> (pk, k4)" : "Identity (k4)");
  b("PV", pastK ? "Concat <axis = 2> (pv, v4)" : "Identity (v4)");
  b.repeatHeads("PK", "PV", batch, kvHeads, qHeads / kvHeads, total, headK,
                headV);
  b.scaledScores("q4", scale);
  // The bias: the mask (bool: -inf where false; padded with -inf up to the
  // total length), the causal triangle, the padding of each batch row.
  bool bias = mask || causal || nonpad;
  if (bias)
    b.maskValues("qk");
  std::string biasName;
  auto addBias = [&](StringRef term) {
    if (biasName.empty()) {
      biasName = term.str();
      return;
    }
    std::string sum = biasName + "_" + term.str();
    b(sum, "Add (" + biasName + ", " + term + ")");
    biasName = sum;
  };
  if (mask) {
    RankedTensorType m = c.inputType(3);
    b("mb", m.getElementType().isInteger(1) ? "Where (mask, zero, fill)"
                                            : "Identity (mask)");
    int64_t padWidth = total - m.getShape().back();
    if (padWidth > 0) {
      SmallVector<int64_t> pads(2 * m.getRank(), 0);
      pads[2 * m.getRank() - 1] = padWidth;
      b("mpads", intsConst(pads));
      b("mask_bias", "Pad <mode = \"constant\"> (mb, mpads, fill)");
    } else {
      b("mask_bias", "Identity (mb)");
    }
    addBias("mask_bias");
  }
  if (causal) {
    b.causalBias("causal_bias", qLen, total, past);
    addBias("causal_bias");
  }
  if (nonpad) {
    b("n0", "Constant <value_int = 0> ()");
    b("n1", "Constant <value_int = 1> ()");
    b("nk", "Constant <value_int = " + std::to_string(total) + "> ()");
    b("keys", "Range (n0, nk, n1)");
    b("na1", intsConst({1}));
    b("np2", "Unsqueeze (nonpad, na1)");
    b("real_key", "Less (keys, np2)");
    b("pb", "Where (real_key, zero, fill)");
    b("pshape", intsConst({batch, 1, 1, total}));
    b("pad_bias", "Reshape (pb, pshape)");
    addBias("pad_bias");
  }
  std::string s = "scores";
  if (bias) {
    b("biased", "Add (scores, " + biasName + ")");
    s = "biased";
  }
  std::string beforeCap = s;
  s = b.softcap(s, softcap);
  std::string beforeSoftmax = s;
  if (softmaxType != elt) {
    int32_t to = 0;
    for (int32_t t = 1; t <= 16 && !to; ++t)
      if (c.elementType(t) == softmaxType)
        to = t;
    b("sw", "Cast <to = " + std::to_string(to) + "> (" + s + ")");
    b("pw", "Softmax <axis = -1> (sw)");
    b("probs", "CastLike (pw, qk)");
  } else {
    b("probs", "Softmax <axis = -1> (" + s + ")");
  }
  StringRef qkOut[] = {"scores", beforeCap, beforeSoftmax, "probs"};
  b("QK", "Identity (" + qkOut[mode] + ")");
  b("y4", "MatMul (probs, vh)");
  if (rank == 3) {
    b.headsLast("Y", "y4", {batch, qLen, qHeads * headV});
  } else {
    b("Y", "Identity (y4)");
  }
  return c.expandBody(b.finish());
}


//===----------------------------------------------------------------------===//
// ONNX Runtime's ops: SimplifiedLayerNormalization (its default-domain
// contrib op), and com.microsoft SkipSimplifiedLayerNormalization,
// RotaryEmbedding, GroupQueryAttention and MultiHeadAttention, as its transformer optimizer and
// GenAI's model builder write Llama-style decoders. Semantics as ONNX
// Runtime 1.23 computes them on the CPU (test/python/test_ort_contrib.py
// compares with it).
//===----------------------------------------------------------------------===//

/// x / sqrt(mean(x^2 over the last dims from `axis`) + eps) * gamma, its
/// 1 / sqrt(...) as `inv` when asked; `x` may be a skip sum.
void rmsBody(Body &b, RankedTensorType x, int64_t axis, double eps,
             StringRef xName, StringRef gamma, StringRef y, StringRef inv) {
  SmallVector<int64_t> axes;
  for (int64_t a = axis; a < x.getRank(); ++a)
    axes.push_back(a);
  bool widen = x.getElementType().getIntOrFloatBitWidth() < 32;
  b("XS", widen ? "Cast <to = 1> (" + xName + ")" : "Identity (" + xName + ")");
  b("sq", "Mul (XS, XS)");
  b("axes", intsConst(axes));
  b("ms", "ReduceMean <keepdims = 1> (sq, axes)");
  b("eps32", "Constant <value_float = " + real(eps) + "> ()");
  b("eps", "CastLike (eps32, XS)");
  b("v", "Add (ms, eps)");
  b("r", "Sqrt (v)");
  b("one32", "Constant <value_float = 1.0> ()");
  b("one", "CastLike (one32, XS)");
  b("invw", "Div (one, r)");
  b(inv, widen ? "CastLike (invw, " + xName + ")" : "Identity (invw)");
  b("n", "Mul (XS, invw)");
  b("nS", "CastLike (n, " + gamma + ")");
  b(y, "Mul (nS, " + gamma + ")");
}

Results importSimplifiedLayerNorm(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  if (!isFloat(x.getElementType()) || !isFloat(c.inputType(1).getElementType()))
    return c.emitError("X and scale must be floating-point"), failure();
  FailureOr<int64_t> axis = c.normalizeAxis(c.getInt("axis", -1), x.getRank());
  if (failed(axis))
    return failure();
  Body b("SimplifiedLayerNormalization", {"X", "S"}, {"Y", "INV"});
  rmsBody(b, x, *axis, c.getFloat("epsilon", 1e-5), "X", "S", "Y", "INV");
  return c.expandBody(b.finish());
}

Results importSkipSimplifiedLayerNorm(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  if (!isFloat(x.getElementType()) || c.inputType(1) != x ||
      c.inputType(2).getElementType() != x.getElementType())
    return c.emitError("input and skip must share one floating-point type and "
                       "shape, gamma its element type"),
           failure();
  if (c.hasOutput(1))
    return c.emitError("the mean output is not defined for the simplified "
                       "(RMS) normalization"),
           failure();
  bool bias = c.hasInput(3);
  SmallVector<std::string> formals = {"X", "SK", "G"};
  if (bias)
    formals.push_back("BIAS");
  Body b("SkipSimplifiedLayerNormalization", formals,
         {"Y", "MEAN", "INV", "SUM"});
  b("xs", "Add (X, SK)");
  b("SUM", bias ? "Add (xs, BIAS)" : "Identity (xs)");
  b("MEAN", "Identity (SUM)"); // never asked for (refused above)
  rmsBody(b, x, x.getRank() - 1, c.getFloat("epsilon", 1e-5), "SUM", "G", "Y",
          "INV");
  return c.expandBody(b.finish());
}

Results importOrtRotary(NodeContext &c) {
  RankedTensorType x = c.inputType(0), pos = c.inputType(1),
                   cosT = c.inputType(2);
  if (!isFloat(x.getElementType()) || cosT.getElementType() != x.getElementType() ||
      c.inputType(3) != cosT)
    return c.emitError("input and the caches must share one floating-point "
                       "type, the caches one shape"),
           failure();
  if (c.getInt("is_packed_batching", 0) != 0 || c.getFloat("scale", 1.0) != 1.0)
    return c.emitError("is_packed_batching and scale are not supported"),
           failure();
  if (cosT.getRank() != 2 || !pos.getElementType().isInteger(64))
    return c.emitError("the caches must be 2-D [max_position, rotary_dim / "
                       "2] and position_ids int64"),
           failure();
  int64_t rank = x.getRank();
  if (rank != 3 && rank != 4)
    return c.emitError("input must be 3-D or 4-D, got rank ") << rank, failure();
  ArrayRef<int64_t> s = x.getShape();
  int64_t batch = s[0], seq = rank == 4 ? s[2] : s[1], heads, head;
  int64_t rot = c.getInt("rotary_embedding_dim", 0);
  if (rank == 4) {
    heads = s[1];
    head = s[3];
  } else {
    heads = c.getInt("num_heads", 0);
    if (heads <= 0) { // the caches give the head size
      head = rot ? rot : 2 * cosT.getDimSize(1);
      heads = head > 0 && s[2] % head == 0 ? s[2] / head : 0;
    } else {
      head = s[2] % heads == 0 ? s[2] / heads : 0;
    }
    if (heads <= 0 || head <= 0 || heads * head != s[2])
      return c.emitError("cannot split the hidden size ")
                 << s[2] << " into heads: give num_heads",
             failure();
  }
  if (rot == 0)
    rot = 2 * cosT.getDimSize(1);
  if (rot <= 0 || rot > head || rot % 2 || cosT.getDimSize(1) != rot / 2)
    return c.emitError("the rotary dim ")
               << rot << " must be even, at most the head size " << head
               << " and twice the caches' last dim",
           failure();
  bool offset = pos.getShape() == ArrayRef<int64_t>{1};
  if (!offset && pos.getShape() != ArrayRef<int64_t>{batch, seq})
    return c.emitError("position_ids must be [batch, seq] or [1] (a start "
                       "position)"),
           failure();
  Body b("RotaryEmbedding", {"X", "P", "COS", "SIN"}, {"Y"});
  if (offset) { // positions start, start + 1, ...
    b("r0", "Constant <value_int = 0> ()");
    b("r1", "Constant <value_int = 1> ()");
    b("rs", "Constant <value_int = " + std::to_string(seq) + "> ()");
    b("ar", "Range (r0, rs, r1)");
    b("pp", "Add (P, ar)");
    b("a0", intsConst({0}));
    b("pos", "Unsqueeze (pp, a0)");
  } else {
    b("pos", "Identity (P)");
  }
  b("cg", "Gather <axis = 0> (COS, pos)");
  b("sg", "Gather <axis = 0> (SIN, pos)");
  rotateInLayout(b, s, {batch, seq, heads, head}, rot,
                 c.getInt("interleaved", 0) != 0);
  return c.expandBody(b.finish());
}

Results importGroupQueryAttention(NodeContext &c) {
  RankedTensorType q = c.inputType(0);
  Type elt = q.getElementType();
  int64_t heads = c.getInt("num_heads", 0), kvHeads = c.getInt("kv_num_heads", 0);
  if (!isFloat(elt) || q.getRank() != 3)
    return c.emitError("query must be a 3-D floating-point tensor"), failure();
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads)
    return c.emitError("num_heads must be a multiple of kv_num_heads"),
           failure();
  for (unsigned i = 9; i < c.numInputs(); ++i)
    if (c.hasInput(i))
      return c.emitError("position_ids, attention_bias and head_sink are not "
                         "supported"),
             failure();
  if (c.getInt("local_window_size", -1) != -1 ||
      c.getInt("smooth_softmax", 0) != 0 || c.getInt("qk_output", 0) != 0)
    return c.emitError("local_window_size, smooth_softmax and qk_output are "
                       "not supported"),
           failure();
  bool packed = !c.hasInput(1);
  if (packed != !c.hasInput(2))
    return c.emitError("key and value come together (or neither: packed "
                       "QKV)"),
           failure();
  int64_t batch = q.getDimSize(0), seq = q.getDimSize(1);
  int64_t hidden = q.getDimSize(2);
  int64_t head = packed ? hidden / (heads + 2 * kvHeads) : hidden / heads;
  if (head <= 0 || (packed ? head * (heads + 2 * kvHeads) : head * heads) != hidden)
    return c.emitError("the hidden size ")
               << hidden << " does not split into the heads", failure();
  if (!packed)
    for (unsigned i : {1u, 2u})
      if (c.inputType(i).getShape() !=
              ArrayRef<int64_t>{batch, seq, kvHeads * head} ||
          c.inputType(i).getElementType() != elt)
        return c.emitError("key and value must be [batch, seq, kv_num_heads "
                           "* head_size] of the query's type"),
               failure();
  bool past = c.hasInput(3);
  if (past != c.hasInput(4))
    return c.emitError("past_key and past_value come together"), failure();
  int64_t pastLen = 0;
  if (past) {
    RankedTensorType pk = c.inputType(3);
    pastLen = pk.getRank() == 4 ? pk.getDimSize(2) : -1;
    if (pk.getShape() != ArrayRef<int64_t>{batch, kvHeads, pastLen, head} ||
        c.inputType(4) != pk || pk.getElementType() != elt)
      return c.emitError("past_key and past_value must be [batch, "
                         "kv_num_heads, past, head_size] (BNSH)"),
             failure();
  }
  if (!c.hasInput(5) || !c.hasInput(6))
    return c.emitError("seqlens_k and total_sequence_length are required"),
           failure();
  if (c.inputType(5).getShape() != ArrayRef<int64_t>{batch} ||
      !c.inputType(5).getElementType().isInteger(32))
    return c.emitError("seqlens_k must be int32 [batch]"), failure();
  // The present caches' length: the past's when they share its buffer (a
  // total_sequence_length not known at compile time must fit it), else the
  // total length, which must then be known.
  int64_t present = past ? pastLen : seq;
  if (auto total = c.knownInts(6); total && total->size() == 1) {
    present = std::max(present, (*total)[0]);
    if (!past && (*total)[0] != seq)
      return c.emitError("without past caches total_sequence_length must be "
                         "the sequence length ")
                 << seq,
             failure();
  }
  bool rotary = c.getInt("do_rotary", 0) != 0;
  int64_t rot = 0;
  if (rotary) {
    if (!c.hasInput(7) || !c.hasInput(8))
      return c.emitError("do_rotary needs cos_cache and sin_cache"), failure();
    RankedTensorType cosT = c.inputType(7);
    rot = cosT.getRank() == 2 ? 2 * cosT.getDimSize(1) : 0;
    if (cosT.getElementType() != elt || c.inputType(8) != cosT || rot <= 0 ||
        rot > head)
      return c.emitError("the caches must be [max_position, rotary_dim / 2] "
                         "of the query's type"),
             failure();
  }

  SmallVector<std::string> formals = {"Q"};
  if (!packed) {
    formals.push_back("K");
    formals.push_back("V");
  }
  if (past) {
    formals.push_back("PKIN");
    formals.push_back("PVIN");
  }
  formals.push_back("SL");
  formals.push_back("TOT");
  if (rotary) {
    formals.push_back("COS");
    formals.push_back("SIN");
  }
  Body b("GroupQueryAttention", formals, {"Y", "PK", "PV"});
  if (packed) {
    b("a2", intsConst({2}));
    b("o0", intsConst({0}));
    b("o1", intsConst({heads * head}));
    b("o2", intsConst({(heads + kvHeads) * head}));
    b("o3", intsConst({(heads + 2 * kvHeads) * head}));
    b("qq", "Slice (Q, o0, o1, a2)");
    b("kk", "Slice (Q, o1, o2, a2)");
    b("vv", "Slice (Q, o2, o3, a2)");
  } else {
    b("qq", "Identity (Q)");
    b("kk", "Identity (K)");
    b("vv", "Identity (V)");
  }
  b("qs", intsConst({batch, seq, heads, head}));
  b("ks", intsConst({batch, seq, kvHeads, head}));
  b("q3", "Reshape (qq, qs)");
  b("k3", "Reshape (kk, ks)");
  b("v3", "Reshape (vv, ks)");
  // Absolute positions of the new tokens: after seqlens_k + 1 - seq cached
  // ones (each batch row its own), from 0 without past caches.
  b("r0", "Constant <value_int = 0> ()");
  b("r1", "Constant <value_int = 1> ()");
  b("rs", "Constant <value_int = " + std::to_string(seq) + "> ()");
  b("ar", "Range (r0, rs, r1)");
  if (past) {
    b("sl64", "Cast <to = 7> (SL)");
    b("back", "Constant <value_int = " + std::to_string(1 - seq) + "> ()");
    b("start", "Add (sl64, back)");
    b("a1", intsConst({1}));
    b("startu", "Unsqueeze (start, a1)");
    b("pos", "Add (startu, ar)");
  } else {
    b("bs", intsConst({batch, seq}));
    b("pos", "Expand (ar, bs)");
  }
  if (rotary) {
    b("cg", "Gather <axis = 0> (COS, pos)");
    b("sg", "Gather <axis = 0> (SIN, pos)");
    bool inter = c.getInt("rotary_interleaved", 0) != 0;
    rotate(b, "q_", "q3", "cg", "sg", {batch, seq, heads, head}, rot, inter,
           "q3r");
    rotate(b, "k_", "k3", "cg", "sg", {batch, seq, kvHeads, head}, rot, inter,
           "k3r");
  } else {
    b("q3r", "Identity (q3)");
    b("k3r", "Identity (k3)");
  }
  b("q4", "Transpose <perm = [0, 2, 1, 3]> (q3r)");
  b("k4", "Transpose <perm = [0, 2, 1, 3]> (k3r)");
  b("v4", "Transpose <perm = [0, 2, 1, 3]> (v3)");
  if (past) {
    // The new keys and values go to their positions in the caches.
    if (present > pastLen) {
      b("grow", intsConst({0, 0, 0, 0, 0, 0, present - pastLen, 0}));
      b("pkb", "Pad (PKIN, grow)");
      b("pvb", "Pad (PVIN, grow)");
    } else {
      b("pkb", "Identity (PKIN)");
      b("pvb", "Identity (PVIN)");
    }
    b("ps", intsConst({batch, 1, seq, 1}));
    b("posr", "Reshape (pos, ps)");
    b("es", intsConst({batch, kvHeads, seq, head}));
    b("idx", "Expand (posr, es)");
    b("PK", "ScatterElements <axis = 2> (pkb, idx, k4)");
    b("PV", "ScatterElements <axis = 2> (pvb, idx, v4)");
  } else {
    b("PK", "Identity (k4)");
    b("PV", "Identity (v4)");
  }
  b.repeatHeads("PK", "PV", batch, kvHeads, heads / kvHeads, present, head,
                head);
  double scale = c.getFloat("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(double(head));
  b.scaledScores("q4", scale);
  std::string s = b.softcap("scores", c.getFloat("softcap", 0.0));
  // Query at position p sees the keys at positions up to p.
  b("rp", "Constant <value_int = " + std::to_string(present) + "> ()");
  b("keys", "Range (r0, rp, r1)");
  b("qps", intsConst({batch, 1, seq, 1}));
  b("qpos", "Reshape (pos, qps)");
  b("seen", "LessOrEqual (keys, qpos)");
  b.maskValues("qk");
  b("bias", "Where (seen, zero, fill)");
  b("biased", "Add (" + s + ", bias)");
  b("probs", "Softmax <axis = -1> (biased)");
  b("y4", "MatMul (probs, vh)");
  b.headsLast("Y", "y4", {batch, seq, heads * head});
  return c.expandBody(b.finish());
}

/// com.microsoft.MultiHeadAttention with 3-D query, key and value (BSH):
/// the q/k/v bias, past caches (BNSH, concatenated), a key padding mask
/// [batch, total] (0: masked), an additive attention bias, `unidirectional`
/// (causal after the cached positions). Masked scores get
/// `mask_filter_value` (-10000 by default) added, as ONNX Runtime does.
Results importMultiHeadAttention(NodeContext &c) {
  RankedTensorType q = c.inputType(0);
  Type elt = q.getElementType();
  int64_t heads = c.getInt("num_heads", 0);
  if (!isFloat(elt) || q.getRank() != 3 || heads <= 0)
    return c.emitError("query must be 3-D [batch, seq, hidden] of a float "
                       "type, with num_heads"),
           failure();
  if (!c.hasInput(1) || !c.hasInput(2) || c.inputType(1).getRank() != 3 ||
      c.inputType(2).getRank() != 3)
    return c.emitError("only 3-D key and value are supported (no packed QKV "
                       "or BNSH keys)"),
           failure();
  if (c.hasInput(8) || c.hasInput(9) || c.hasOutput(3))
    return c.emitError("past_sequence_length, cache_indirection and the qk "
                       "output are not supported"),
           failure();
  RankedTensorType k = c.inputType(1), v = c.inputType(2);
  int64_t batch = q.getDimSize(0), seq = q.getDimSize(1), kvLen = k.getDimSize(1);
  if (q.getDimSize(2) % heads || v.getDimSize(2) % heads ||
      k.getDimSize(2) != q.getDimSize(2) || k.getDimSize(0) != batch ||
      v.getDimSize(0) != batch || v.getDimSize(1) != kvLen ||
      k.getElementType() != elt || v.getElementType() != elt)
    return c.emitError("query and key must be [batch, *, num_heads * "
                       "head_size], value [batch, kv_seq, num_heads * v_head] "
                       "of one type"),
           failure();
  int64_t head = q.getDimSize(2) / heads, headV = v.getDimSize(2) / heads;
  bool bias = c.hasInput(3), mask = c.hasInput(4), attnBias = c.hasInput(5);
  bool past = c.hasInput(6);
  if (past != c.hasInput(7))
    return c.emitError("past_key and past_value come together"), failure();
  int64_t pastLen = 0;
  if (past) {
    RankedTensorType pk = c.inputType(6), pv = c.inputType(7);
    pastLen = pk.getRank() == 4 ? pk.getDimSize(2) : -1;
    if (pk.getShape() != ArrayRef<int64_t>{batch, heads, pastLen, head} ||
        pv.getShape() != ArrayRef<int64_t>{batch, heads, pastLen, headV} ||
        pk.getElementType() != elt || pv.getElementType() != elt)
      return c.emitError("past_key and past_value must be [batch, num_heads, "
                         "past, head_size] (BNSH)"),
             failure();
  }
  int64_t total = pastLen + kvLen;
  if (bias && c.inputType(3).getShape() !=
                  ArrayRef<int64_t>{2 * heads * head + heads * headV})
    return c.emitError("bias must be [2 * hidden + v_hidden]"), failure();
  if (mask && (c.inputType(4).getShape() != ArrayRef<int64_t>{batch, total} ||
               !c.inputType(4).getElementType().isInteger(32)))
    return c.emitError("only a key_padding_mask of int32 [batch, total "
                       "length] = [")
               << batch << ", " << total << "] is supported",
           failure();
  if (attnBias && (c.inputType(5).getRank() != 4 ||
                   c.inputType(5).getElementType() != elt))
    return c.emitError("attention_bias must be 4-D of the query's type"),
           failure();
  bool causal = c.getInt("unidirectional", 0) != 0;
  double fill = c.getFloat("mask_filter_value", -10000.0);
  double scale = c.getFloat("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(double(head));

  SmallVector<std::string> formals = {"Q", "K", "V"};
  if (bias)
    formals.push_back("B");
  if (mask)
    formals.push_back("MASK");
  if (attnBias)
    formals.push_back("AB");
  if (past) {
    formals.push_back("PKIN");
    formals.push_back("PVIN");
  }
  Body b("MultiHeadAttention", formals, {"Y", "PK", "PV"});
  if (bias) {
    int64_t hq = heads * head;
    b("z", intsConst({0}));
    b("e1", intsConst({hq}));
    b("e2", intsConst({2 * hq}));
    b("e3", intsConst({2 * hq + heads * headV}));
    b("qb", "Slice (B, z, e1)");
    b("kb", "Slice (B, e1, e2)");
    b("vb", "Slice (B, e2, e3)");
    b("qq", "Add (Q, qb)");
    b("kk", "Add (K, kb)");
    b("vv", "Add (V, vb)");
  } else {
    b("qq", "Identity (Q)");
    b("kk", "Identity (K)");
    b("vv", "Identity (V)");
  }
  b.headsFirst("q4", "qq", {batch, seq, heads, head});
  b.headsFirst("k4", "kk", {batch, kvLen, heads, head});
  b.headsFirst("v4", "vv", {batch, kvLen, heads, headV});
  b("PK", past ? "Concat <axis = 2> (PKIN, k4)" : "Identity (k4)");
  b("PV", past ? "Concat <axis = 2> (PVIN, v4)" : "Identity (v4)");
  b.repeatHeads("PK", "PV", batch, heads, 1, total, head, headV);
  b.scaledScores("q4", scale);
  std::string s = "scores";
  if (mask || causal)
    b.maskValues("qk", fill);
  if (attnBias) {
    b("ab", "Add (" + s + ", AB)");
    s = "ab";
  }
  if (mask) {
    b.zeroKeys("MASK").hideKeys(s, batch, total);
    s = "padded";
  }
  if (causal) {
    b.causalBias("cb", seq, total, pastLen);
    b("causal", "Add (" + s + ", cb)");
    s = "causal";
  }
  b("probs", "Softmax <axis = -1> (" + s + ")");
  b("y4", "MatMul (probs, vh)");
  b.headsLast("Y", "y4", {batch, seq, heads * headV});
  return c.expandBody(b.finish());
}

/// com.microsoft.Attention, as ONNX Runtime's transformer optimizer fuses
/// BERT's and GPT-2's self-attention: input [batch, seq, in] times the
/// packed weights [in, q + k + v] (plus bias), split into q, k and v of
/// `num_heads` heads (`qkv_hidden_sizes`, equal thirds by default); a
/// mask_index of key lengths [batch] (right padding) or a key mask [batch,
/// seq] (0: masked), an additive attention_bias, `unidirectional` (causal);
/// masked scores get `mask_filter_value` added (-10000 by default), as ONNX
/// Runtime does. The present output (k and v stacked, [2, batch, heads,
/// seq, head]) when asked. No past state, rotary or other mask layouts.
Results importOrtAttention(NodeContext &c) {
  RankedTensorType x = c.inputType(0), w = c.inputType(1);
  Type elt = x.getElementType();
  int64_t heads = c.getInt("num_heads", 0);
  if (!isFloat(elt) || x.getRank() != 3 || w.getRank() != 2 ||
      w.getDimSize(0) != x.getDimSize(2) || w.getElementType() != elt ||
      heads <= 0)
    return c.emitError("input must be [batch, seq, hidden] and weights "
                       "[hidden, q + k + v] of one float type, with num_heads"),
           failure();
  if (c.hasInput(4) || c.hasInput(6) || c.getInt("do_rotary", 0) != 0)
    return c.emitError("past state, past_sequence_length and do_rotary are "
                       "not supported"),
           failure();
  int64_t batch = x.getDimSize(0), seq = x.getDimSize(1), n = w.getDimSize(1);
  SmallVector<int64_t> sizes = c.getInts("qkv_hidden_sizes");
  if (sizes.empty() && n % 3 == 0)
    sizes = {n / 3, n / 3, n / 3};
  if (sizes.size() != 3 || sizes[0] != sizes[1] ||
      sizes[0] + sizes[1] + sizes[2] != n || sizes[0] % heads ||
      sizes[2] % heads)
    return c.emitError("weights of ")
               << n << " columns do not split into q, k and v of " << heads
               << " heads (qkv_hidden_sizes)",
           failure();
  int64_t head = sizes[0] / heads, headV = sizes[2] / heads;
  bool bias = c.hasInput(2), mask = c.hasInput(3), attnBias = c.hasInput(5);
  if (bias && c.inputType(2).getShape() != ArrayRef<int64_t>{n})
    return c.emitError("bias must be [") << n << "]", failure();
  bool lengths = false;
  if (mask) {
    RankedTensorType m = c.inputType(3);
    lengths = m.getShape() == ArrayRef<int64_t>{batch};
    if (!m.getElementType().isInteger(32) ||
        (!lengths && m.getShape() != ArrayRef<int64_t>{batch, seq}))
      return c.emitError("only an int32 mask_index of key lengths [")
                 << batch << "] or a key mask [" << batch << ", " << seq
                 << "] is supported",
             failure();
  }
  if (attnBias && (c.inputType(5).getRank() != 4 ||
                   c.inputType(5).getElementType() != elt))
    return c.emitError("attention_bias must be 4-D of the input's type"),
           failure();
  bool causal = c.getInt("unidirectional", 0) != 0;
  double fill = c.getFloat("mask_filter_value", -10000.0);
  double scale = c.getFloat("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(double(head));

  SmallVector<std::string> formals = {"X", "W"};
  if (bias)
    formals.push_back("B");
  if (mask)
    formals.push_back("MASK");
  if (attnBias)
    formals.push_back("AB");
  Body b("Attention", formals, {"Y", "PRESENT"});
  b("xw", "MatMul (X, W)");
  b("qkv", bias ? "Add (xw, B)" : "Identity (xw)");
  b("split", intsConst(sizes));
  b("qq, kk, vv", "Split <axis = 2> (qkv, split)");
  b.headsFirst("q4", "qq", {batch, seq, heads, head});
  b.headsFirst("k4", "kk", {batch, seq, heads, head});
  b.headsFirst("v4", "vv", {batch, seq, heads, headV});
  b("a0", intsConst({0}));
  b("ku", "Unsqueeze (k4, a0)");
  b("vu", "Unsqueeze (v4, a0)");
  b("PRESENT", head == headV ? "Concat <axis = 0> (ku, vu)" : "Identity (ku)");
  b.repeatHeads("k4", "v4", batch, heads, 1, seq, head, headV);
  b.scaledScores("q4", scale);
  std::string s = "scores";
  if (mask || causal)
    b.maskValues("qk", fill);
  if (attnBias) {
    b("ab", "Add (" + s + ", AB)");
    s = "ab";
  }
  // A masked key's score gets `fill` added; a future key (causality) is
  // left out of the softmax altogether, as ONNX Runtime computes it.
  if (mask) {
    if (lengths) { // key j is masked from the sample's length on
      b("i0", "Constant <value_int = 0> ()");
      b("i1", "Constant <value_int = 1> ()");
      b("in", "Constant <value_int = " + std::to_string(seq) + "> ()");
      b("keys64", "Range (i0, in, i1)");
      b("keys", "Cast <to = 6> (keys64)");
      b("ls", intsConst({batch, 1}));
      b("len2", "Reshape (MASK, ls)");
      b("masked", "GreaterOrEqual (keys, len2)");
    } else {
      b.zeroKeys("MASK");
    }
    b.hideKeys(s, batch, seq);
    s = "padded";
  }
  if (causal) {
    b.causalBias("cb", seq, seq, 0); // defines cb_seen [seq, seq]
    b.minusInfinity("ninf32");
    b("ninf", "CastLike (ninf32, qk)");
    b("futureb", "Where (cb_seen, zero, ninf)");
    b("causal", "Add (" + s + ", futureb)");
    s = "causal";
  }
  b("probs", "Softmax <axis = -1> (" + s + ")");
  b("y4", "MatMul (probs, vh)");
  b.headsLast("Y", "y4", {batch, seq, heads * headV});
  if (c.hasOutput(1) && head != headV)
    return c.emitError("the present output needs k and v of one head size"),
           failure();
  return c.expandBody(b.finish());
}

/// com.microsoft.SkipLayerNormalization: LayerNormalization over the last
/// dim of input + skip (+ bias), scaled by gamma and shifted by beta; the
/// sum itself as the fourth output.
Results importSkipLayerNorm(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  int64_t hidden = x.getRank() ? x.getDimSize(x.getRank() - 1) : 0;
  auto vec = [&](unsigned i) {
    return c.inputType(i).getShape() == ArrayRef<int64_t>{hidden} &&
           c.inputType(i).getElementType() == x.getElementType();
  };
  if (!isFloat(x.getElementType()) || x.getRank() < 2 ||
      c.inputType(1).getElementType() != x.getElementType() || !vec(2) ||
      (c.hasInput(3) && !vec(3)) || (c.hasInput(4) && !vec(4)))
    return c.emitError("input and skip must share one float type, gamma, "
                       "beta and bias be [hidden]"),
           failure();
  if (c.hasOutput(1) || c.hasOutput(2))
    return c.emitError("the mean and inv_std_var outputs are not supported"),
           failure();
  bool beta = c.hasInput(3), bias = c.hasInput(4);
  SmallVector<std::string> formals = {"X", "SK", "G"};
  if (beta)
    formals.push_back("BETA");
  if (bias)
    formals.push_back("BIAS");
  Body b("SkipLayerNormalization", formals, {"Y", "MEAN", "INV", "SUM"});
  b("xs", "Add (X, SK)");
  b("SUM", bias ? "Add (xs, BIAS)" : "Identity (xs)");
  b("MEAN", "Identity (SUM)"); // never asked for (refused above)
  b("INV", "Identity (SUM)");
  b("Y", "LayerNormalization <axis = -1, epsilon = " +
             real(c.getFloat("epsilon", 1e-12)) + "> (SUM, G" +
             (beta ? ", BETA)" : ")"));
  return c.expandBody(b.finish());
}

/// ONNX Runtime's GELUs: Gelu (erf), BiasGelu (erf of A + B), FastGelu
/// (tanh approximation, of X + bias), QuickGelu (x * sigmoid(alpha x)).
Results importOrtGelu(NodeContext &c, StringRef kind) {
  RankedTensorType x = c.inputType(0);
  if (!isFloat(x.getElementType()) ||
      (c.hasInput(1) && c.inputType(1).getElementType() != x.getElementType()))
    return c.emitError("inputs must share one float type"), failure();
  bool biased = c.hasInput(1);
  SmallVector<std::string> formals = {"X"};
  if (biased)
    formals.push_back("BIAS");
  Body b(kind, formals, {"Y"});
  b("v", biased ? "Add (X, BIAS)" : "Identity (X)");
  if (kind == "QuickGelu") {
    b("a32", "Constant <value_float = " + real(c.getFloat("alpha", 1.702)) +
                 "> ()");
    b("a", "CastLike (a32, v)");
    b("av", "Mul (v, a)");
    b("sg", "Sigmoid (av)");
    b("Y", "Mul (v, sg)");
    return c.expandBody(b.finish());
  }
  b("half32", "Constant <value_float = 0.5> ()");
  b("half", "CastLike (half32, v)");
  b("one32", "Constant <value_float = 1.0> ()");
  b("one", "CastLike (one32, v)");
  if (kind == "FastGelu") {
    b("c32", "Constant <value_float = 0.7978845608028654> ()");
    b("k32", "Constant <value_float = 0.044715> ()");
    b("cc", "CastLike (c32, v)");
    b("kk", "CastLike (k32, v)");
    b("v2", "Mul (v, v)");
    b("v3", "Mul (v2, v)");
    b("kv3", "Mul (v3, kk)");
    b("inner", "Add (v, kv3)");
    b("arg", "Mul (inner, cc)");
    b("t", "Tanh (arg)");
  } else {
    b("r32", "Constant <value_float = 0.7071067811865476> ()");
    b("r", "CastLike (r32, v)");
    b("arg", "Mul (v, r)");
    b("t", "Erf (arg)");
  }
  b("t1", "Add (t, one)");
  b("hv", "Mul (v, half)");
  b("Y", "Mul (hv, t1)");
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// CenterCropPad (18): crops or pads each listed axis around its centre.
//===----------------------------------------------------------------------===//

Results importCenterCropPad(NodeContext &c) {
  RankedTensorType x = c.inputType(0);
  int64_t rank = x.getRank();
  FailureOr<SmallVector<int64_t>> shape =
      c.constantInts(1, "CenterCropPad shape");
  if (failed(shape))
    return failure();
  SmallVector<int64_t> axes = c.getInts("axes");
  if (axes.empty())
    for (int64_t a = 0; a < rank; ++a)
      axes.push_back(a);
  if (axes.size() != shape->size())
    return c.emitError("shape has ")
               << shape->size() << " entries for " << axes.size() << " axes",
           failure();
  SmallVector<int64_t> starts(rank, 0), ends(x.getShape()), pads(2 * rank, 0);
  SmallVector<bool> seen(rank, false);
  for (auto [a, want] : llvm::zip(axes, *shape)) {
    FailureOr<int64_t> axis = c.normalizeAxis(a, rank);
    if (failed(axis))
      return failure();
    if (seen[*axis] || want < 0)
      return c.emitError("axes repeat or a target size is negative"),
             failure();
    seen[*axis] = true;
    int64_t dim = x.getDimSize(*axis);
    if (want < dim) { // the crop keeps the centre (the extra row at the end)
      starts[*axis] = (dim - want) / 2;
      ends[*axis] = starts[*axis] + want;
    } else { // the pad puts the extra row at the end
      pads[*axis] = (want - dim) / 2;
      pads[*axis + rank] = want - dim - pads[*axis];
    }
  }
  Body b("CenterCropPad", {"X", "S"}, {"Y"});
  b("st", intsConst(starts));
  b("en", intsConst(ends));
  b("cropped", "Slice (X, st, en)");
  b("pads", intsConst(pads));
  b("Y", "Pad (cropped, pads)");
  return c.expandBody(b.finish());
}

} // namespace

void mlir::llmc::onnximport::registerLlmOps(OpImporterRegistry &r) {
  int64_t max = OpImporterRegistry::kMaxOpset;
  r.add("Attention", 23, max, needs(3, importAttention));
  r.add("RMSNormalization", 23, max, needs(2, importRmsNorm));
  r.add("RotaryEmbedding", 23, max, needs(3, importRotary));
  r.add("TensorScatter", 24, max, needs(2, importTensorScatter));
  r.add("Swish", 24, max, needs(1, importSwish));
  r.add("CenterCropPad", 18, max, needs(2, importCenterCropPad));
  // ONNX Runtime's (com.microsoft ops at their domain's version 1).
  r.add("SimplifiedLayerNormalization", 1, max,
        needs(2, importSimplifiedLayerNorm));
  r.add("com.microsoft.SkipSimplifiedLayerNormalization", 1, 1,
        needs(3, importSkipSimplifiedLayerNorm));
  r.add("com.microsoft.RotaryEmbedding", 1, 1, needs(4, importOrtRotary));
  r.add("com.microsoft.GroupQueryAttention", 1, 1,
        needs(1, importGroupQueryAttention));
  r.add("com.microsoft.MultiHeadAttention", 1, 1,
        needs(1, importMultiHeadAttention));
  // As ONNX Runtime's transformer optimizer fuses BERT, GPT-2 and ViT.
  r.add("com.microsoft.Attention", 1, 1, needs(2, importOrtAttention));
  r.add("com.microsoft.SkipLayerNormalization", 1, 1,
        needs(3, importSkipLayerNorm));
  for (const char *gelu : {"Gelu", "BiasGelu", "FastGelu", "QuickGelu"})
    r.add(std::string("com.microsoft.") + gelu, 1, 1,
          needs(std::string(gelu) == "BiasGelu" ? 2 : 1,
                [kind = std::string(gelu)](NodeContext &c) {
                  return importOrtGelu(c, kind);
                }));
}
