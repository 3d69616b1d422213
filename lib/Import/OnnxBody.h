//===- OnnxBody.h - ONNX function bodies written as text --------*- C++ -*-===//
//
// The importers of ops that libonnx 1.12 has no schema (or no function) for
// write each node as an ONNX function body in the text syntax, with its
// attributes and its inputs' static shapes resolved, and import it through
// the ops it is made of (NodeContext::expandBody): the LLM ops
// (OnnxLlmOps.cpp) and the quantization ops (OnnxQuantOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_IMPORT_ONNXBODY_H
#define LLMC_LIB_IMPORT_ONNXBODY_H

#include "OnnxImportContext.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace mlir::llmc::onnximport {

inline std::string ints(ArrayRef<int64_t> v) {
  std::string s = "[";
  for (auto [i, x] : llvm::enumerate(v))
    s += (i ? ", " : "") + std::to_string(x);
  return s + "]";
}

inline std::string real(double v) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%.9g", v);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s;
}

/// `name = Constant(...)` of a 1-D int64 vector.
inline std::string intsConst(ArrayRef<int64_t> v) {
  return "Constant <value_ints = " + ints(v) + "> ()";
}

inline bool isFloat(Type t) { return isa<FloatType>(t); }

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

  // Pieces the attention bodies share. Each writes `out` (and helper
  // values named after it).

  /// [batch, seq, heads * head] -> [batch, heads, seq, head].
  Body &headsFirst(const std::string &out, StringRef in,
                   ArrayRef<int64_t> bshd) {
    (*this)(out + "_shape", intsConst(bshd));
    (*this)(out + "_bshd", "Reshape (" + in + ", " + out + "_shape)");
    return (*this)(out, "Transpose <perm = [0, 2, 1, 3]> (" + out + "_bshd)");
  }
  /// [batch, heads, seq, head] -> [batch, seq, heads * head].
  Body &headsLast(const std::string &out, StringRef in, ArrayRef<int64_t> bsh) {
    (*this)(out + "_bshd", "Transpose <perm = [0, 2, 1, 3]> (" + in + ")");
    (*this)(out + "_shape", intsConst(bsh));
    return (*this)(out, "Reshape (" + out + "_bshd, " + out + "_shape)");
  }
  /// `zero` and `fill` (the value masked scores get: -inf unless given) of
  /// `like`'s type.
  Body &maskValues(StringRef like, std::optional<double> fill = std::nullopt) {
    (*this)("zero32", "Constant <value_float = 0.0> ()");
    (*this)("zero", "CastLike (zero32, " + like + ")");
    if (fill) {
      (*this)("fill32", "Constant <value_float = " + real(*fill) + "> ()");
    } else {
      minusInfinity("fill32");
    }
    return (*this)("fill", "CastLike (fill32, " + like + ")");
  }
  /// `out` = -inf as a float (-1 / 0: the text syntax has no literal
  /// infinity).
  Body &minusInfinity(const std::string &out) {
    (*this)(out + "_m1", "Constant <value_float = -1.0> ()");
    (*this)(out + "_0", "Constant <value_float = 0.0> ()");
    return (*this)(out, "Div (" + out + "_m1, " + out + "_0)");
  }
  /// `kh`/`vh`: the KV heads repeated for their `group` query heads each
  /// (query head h reads kv head h / group, as HF's repeat_kv), from `k`
  /// and `v` [batch, kvHeads, len, head].
  Body &repeatHeads(StringRef k, StringRef v, int64_t batch, int64_t kvHeads,
                    int64_t group, int64_t len, int64_t headK, int64_t headV) {
    if (group == 1) {
      (*this)("kh", "Identity (" + k + ")");
      return (*this)("vh", "Identity (" + v + ")");
    }
    (*this)("rep_a2", intsConst({2}));
    (*this)("ku", "Unsqueeze (" + k + ", rep_a2)");
    (*this)("vu", "Unsqueeze (" + v + ", rep_a2)");
    (*this)("ke", intsConst({batch, kvHeads, group, len, headK}));
    (*this)("ve", intsConst({batch, kvHeads, group, len, headV}));
    (*this)("kx", "Expand (ku, ke)");
    (*this)("vx", "Expand (vu, ve)");
    (*this)("kr", intsConst({batch, kvHeads * group, len, headK}));
    (*this)("vr", intsConst({batch, kvHeads * group, len, headV}));
    (*this)("kh", "Reshape (kx, kr)");
    return (*this)("vh", "Reshape (vx, vr)");
  }
  /// `scores` = q @ kh^T * scale (`qk` unscaled).
  Body &scaledScores(StringRef q, double scale) {
    (*this)("kt", "Transpose <perm = [0, 1, 3, 2]> (kh)");
    (*this)("qk", "MatMul (" + q + ", kt)");
    (*this)("sc32", "Constant <value_float = " + real(scale) + "> ()");
    (*this)("sc", "CastLike (sc32, qk)");
    return (*this)("scores", "Mul (qk, sc)");
  }
  /// cap * tanh(x / cap) when cap > 0; the name of the result.
  std::string softcap(const std::string &x, double cap) {
    if (cap <= 0)
      return x;
    (*this)("cap32", "Constant <value_float = " + real(cap) + "> ()");
    (*this)("cap", "CastLike (cap32, qk)");
    (*this)("sd", "Div (" + x + ", cap)");
    (*this)("st", "Tanh (sd)");
    (*this)("capped", "Mul (st, cap)");
    return "capped";
  }
  /// `masked` [batch, keys]: true where the int32 key mask `mask` is 0.
  Body &zeroKeys(StringRef mask) {
    (*this)("m0", "Constant <value_int = 0> ()");
    (*this)("m032", "Cast <to = 6> (m0)");
    return (*this)("masked", "Equal (" + mask + ", m032)");
  }
  /// `padded` = `scores` + `fill` at the keys `masked` [batch, keys] hides.
  Body &hideKeys(StringRef scores, int64_t batch, int64_t keys) {
    (*this)("mb", "Where (masked, fill, zero)");
    (*this)("ms", intsConst({batch, 1, 1, keys}));
    (*this)("mb4", "Reshape (mb, ms)");
    return (*this)("padded", "Add (" + scores + ", mb4)");
  }
  /// The additive causal bias [rows, cols]: query i (after `past` cached
  /// positions) sees key j when j <= past + i; `fill` elsewhere.
  Body &causalBias(const std::string &out, int64_t rows, int64_t cols,
                   int64_t past) {
    auto n = [&](StringRef suffix) { return out + "_" + suffix.str(); };
    (*this)(n("r0"), "Constant <value_int = 0> ()");
    (*this)(n("r1"), "Constant <value_int = 1> ()");
    (*this)(n("rq"), "Constant <value_int = " + std::to_string(rows) + "> ()");
    (*this)(n("rk"), "Constant <value_int = " + std::to_string(cols) + "> ()");
    (*this)(n("rows"), "Range (" + n("r0") + ", " + n("rq") + ", " + n("r1") + ")");
    (*this)(n("cols"), "Range (" + n("r0") + ", " + n("rk") + ", " + n("r1") + ")");
    (*this)(n("a1"), intsConst({1}));
    (*this)(n("rows2"), "Unsqueeze (" + n("rows") + ", " + n("a1") + ")");
    (*this)(n("past"), "Constant <value_int = " + std::to_string(past) + "> ()");
    (*this)(n("last"), "Add (" + n("rows2") + ", " + n("past") + ")");
    (*this)(n("seen"), "LessOrEqual (" + n("cols") + ", " + n("last") + ")");
    return (*this)(out, "Where (" + n("seen") + ", zero, fill)");
  }

private:
  std::string text;
  llvm::raw_string_ostream os{text};
};

} // namespace mlir::llmc::onnximport

#endif // LLMC_LIB_IMPORT_ONNXBODY_H
