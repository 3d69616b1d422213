//===- OnnxLlmOps.cpp - Importers of the LLM ops of opsets 23 and 24 ------===//
//
// Attention (23, 24), RMSNormalization (23), RotaryEmbedding (23),
// TensorScatter (24) and Swish (24). Debian's libonnx 1.12 has no schema for
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

#include "OnnxImportContext.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;

namespace {
using Results = FailureOr<SmallVector<Value>>;

/// An ONNX function body in the text syntax, written line by line.
class Body {
public:
  /// `formals`: the names of the node's present inputs, in order;
  /// `results`: the body's outputs.
  Body(StringRef name, ArrayRef<std::string> formals,
       ArrayRef<std::string> results) {
    os << "<domain: \"llmc.body\", opset_import: [\"\" : 18]>\n"
       << name << " (" << llvm::join(formals, ", ") << ") => ("
       << llvm::join(results, ", ") << ")\n{\n";
  }
  /// `out = text`: one node.
  Body &operator()(StringRef out, const Twine &text) {
    os << "  " << out << " = " << text << "\n";
    return *this;
  }
  std::string finish() {
    os << "}\n";
    return text;
  }

private:
  std::string text;
  llvm::raw_string_ostream os{text};
};

std::string ints(ArrayRef<int64_t> v) {
  std::string s = "[";
  for (auto [i, x] : llvm::enumerate(v))
    s += (i ? ", " : "") + std::to_string(x);
  return s + "]";
}

std::string real(double v) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%.9g", v);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s;
}

/// `name = Constant(...)` of a 1-D int64 vector.
std::string intsConst(ArrayRef<int64_t> v) {
  return "Constant <value_ints = " + ints(v) + "> ()";
}

bool isFloat(Type t) { return isa<FloatType>(t); }

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
  // [batch, seq, heads, head] whatever X's layout.
  if (rank == 4) {
    b("x4", "Transpose <perm = [0, 2, 1, 3]> (X)");
  } else {
    b("shape4", intsConst({batch, seq, heads, head}));
    b("x4", "Reshape (X, shape4)");
  }
  b("cg", positions ? "Gather <axis = 0> (cosc, pos)" : "Identity (cosc)");
  b("sg", positions ? "Gather <axis = 0> (sinc, pos)" : "Identity (sinc)");
  b("a2", intsConst({2}));
  b("cosu", "Unsqueeze (cg, a2)");
  b("sinu", "Unsqueeze (sg, a2)");
  b("a3", intsConst({3}));
  b("z", intsConst({0}));
  b("rd", intsConst({rot}));
  b("xr", rot == head ? "Identity (x4)" : "Slice (x4, z, rd, a3)");
  if (interleaved) {
    b("one", intsConst({1}));
    b("two", intsConst({2}));
    b("x1", "Slice (xr, z, rd, a3, two)");
    b("x2", "Slice (xr, one, rd, a3, two)");
  } else {
    b("h", intsConst({half}));
    b("x1", "Slice (xr, z, h, a3)");
    b("x2", "Slice (xr, h, rd, a3)");
  }
  b("c1", "Mul (cosu, x1)");
  b("s2", "Mul (sinu, x2)");
  b("re", "Sub (c1, s2)");
  b("s1", "Mul (sinu, x1)");
  b("c2", "Mul (cosu, x2)");
  b("im", "Add (s1, c2)");
  if (interleaved) {
    b("a4", intsConst({4}));
    b("re5", "Unsqueeze (re, a4)");
    b("im5", "Unsqueeze (im, a4)");
    b("pairs", "Concat <axis = 4> (re5, im5)");
    b("rshape", intsConst({batch, seq, heads, rot}));
    b("rot4", "Reshape (pairs, rshape)");
  } else {
    b("rot4", "Concat <axis = 3> (re, im)");
  }
  if (rot < head) {
    b("hd", intsConst({head}));
    b("xp", "Slice (x4, rd, hd, a3)");
    b("y4", "Concat <axis = 3> (rot4, xp)");
  } else {
    b("y4", "Identity (rot4)");
  }
  if (rank == 4) {
    b("Y", "Transpose <perm = [0, 2, 1, 3]> (y4)");
  } else {
    b("shape3", intsConst(s));
    b("Y", "Reshape (y4, shape3)");
  }
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
    b("qs", intsConst({batch, qLen, qHeads, headQ}));
    b("ks", intsConst({batch, kvLen, kvHeads, headK}));
    b("vs", intsConst({batch, kvLen, kvHeads, headV}));
    b("q3", "Reshape (Q, qs)");
    b("k3", "Reshape (K, ks)");
    b("v3", "Reshape (V, vs)");
    b("q4", "Transpose <perm = [0, 2, 1, 3]> (q3)");
    b("k4", "Transpose <perm = [0, 2, 1, 3]> (k3)");
    b("v4", "Transpose <perm = [0, 2, 1, 3]> (v3)");
  } else {
    b("q4", "Identity (Q)");
    b("k4", "Identity (K)");
    b("v4", "Identity (V)");
  }
  // The caches grow by the new keys and values.
  b("PK", pastK ? "Concat <axis = 2> (pk, k4)" : "Identity (k4)");
  b("PV", pastK ? "Concat <axis = 2> (pv, v4)" : "Identity (v4)");
  // Grouped heads: query head h reads kv head h / group, as HF's repeat_kv.
  int64_t group = qHeads / kvHeads;
  if (group > 1) {
    b("a2", intsConst({2}));
    b("ku", "Unsqueeze (PK, a2)");
    b("vu", "Unsqueeze (PV, a2)");
    b("ke", intsConst({batch, kvHeads, group, total, headK}));
    b("ve", intsConst({batch, kvHeads, group, total, headV}));
    b("kx", "Expand (ku, ke)");
    b("vx", "Expand (vu, ve)");
    b("kr", intsConst({batch, qHeads, total, headK}));
    b("vr", intsConst({batch, qHeads, total, headV}));
    b("kh", "Reshape (kx, kr)");
    b("vh", "Reshape (vx, vr)");
  } else {
    b("kh", "Identity (PK)");
    b("vh", "Identity (PV)");
  }
  b("kt", "Transpose <perm = [0, 1, 3, 2]> (kh)");
  b("qk", "MatMul (q4, kt)");
  b("sc32", "Constant <value_float = " + real(scale) + "> ()");
  b("sc", "CastLike (sc32, qk)");
  b("scores", "Mul (qk, sc)");
  // The bias: the mask (bool: -inf where false; padded with -inf up to the
  // total length), the causal triangle, the padding of each batch row.
  bool bias = mask || causal || nonpad;
  if (bias) {
    b("zero32", "Constant <value_float = 0.0> ()");
    b("zero", "CastLike (zero32, qk)");
    b("m1", "Constant <value_float = -1.0> ()");
    b("ninf32", "Div (m1, zero32)");
    b("ninf", "CastLike (ninf32, qk)");
  }
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
    b("mb", m.getElementType().isInteger(1) ? "Where (mask, zero, ninf)"
                                            : "Identity (mask)");
    int64_t padWidth = total - m.getShape().back();
    if (padWidth > 0) {
      SmallVector<int64_t> pads(2 * m.getRank(), 0);
      pads[2 * m.getRank() - 1] = padWidth;
      b("mpads", intsConst(pads));
      b("mask_bias", "Pad <mode = \"constant\"> (mb, mpads, ninf)");
    } else {
      b("mask_bias", "Identity (mb)");
    }
    addBias("mask_bias");
  }
  if (causal) {
    // Query i (after `past` cached positions) sees key j when j <= past + i.
    b("r0", "Constant <value_int = 0> ()");
    b("r1", "Constant <value_int = 1> ()");
    b("rq", "Constant <value_int = " + std::to_string(qLen) + "> ()");
    b("rk", "Constant <value_int = " + std::to_string(total) + "> ()");
    b("rows", "Range (r0, rq, r1)");
    b("cols", "Range (r0, rk, r1)");
    b("a1", intsConst({1}));
    b("rows2", "Unsqueeze (rows, a1)");
    b("rp", "Constant <value_int = " + std::to_string(past) + "> ()");
    b("last", "Add (rows2, rp)");
    b("seen", "LessOrEqual (cols, last)");
    b("causal_bias", "Where (seen, zero, ninf)");
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
    b("pb", "Where (real_key, zero, ninf)");
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
  if (softcap > 0) {
    b("cap32", "Constant <value_float = " + real(softcap) + "> ()");
    b("cap", "CastLike (cap32, qk)");
    b("sd", "Div (" + s + ", cap)");
    b("st", "Tanh (sd)");
    b("capped", "Mul (st, cap)");
    s = "capped";
  }
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
    b("yt", "Transpose <perm = [0, 2, 1, 3]> (y4)");
    b("ys", intsConst({batch, qLen, qHeads * headV}));
    b("Y", "Reshape (yt, ys)");
  } else {
    b("Y", "Identity (y4)");
  }
  return c.expandBody(b.finish());
}

/// Requires the first `n` inputs.
OpImporter needs(unsigned n, OpImporter importer) {
  return [n, importer = std::move(importer)](NodeContext &c) -> Results {
    for (unsigned i = 0; i < n; ++i)
      if (!c.hasInput(i)) {
        c.emitError("required input ") << i << " is missing";
        return failure();
      }
    return importer(c);
  };
}
} // namespace

void mlir::llmc::onnximport::registerLlmOps(OpImporterRegistry &r) {
  int64_t max = OpImporterRegistry::kMaxOpset;
  r.add("Attention", 23, max, needs(3, importAttention));
  r.add("RMSNormalization", 23, max, needs(2, importRmsNorm));
  r.add("RotaryEmbedding", 23, max, needs(3, importRotary));
  r.add("TensorScatter", 24, max, needs(2, importTensorScatter));
  r.add("Swish", 24, max, needs(1, importSwish));
}
