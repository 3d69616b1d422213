//===- OnnxRnnOps.cpp - RNN, GRU and LSTM, unrolled over time -------------===//
//
// The recurrent ops of the default domain (opsets 7 to 24), each written as
// an ONNX function body in the text syntax (OnnxBody.h) that unrolls the
// recurrence over the static sequence length: the input projection of
// every step is one MatMul ([seq, batch, input] x [input, gates * hidden]),
// then per step one MatMul of the hidden state, the gates' activations and
// the state update, as the ONNX specification writes them:
//
//   RNN   H = f(x W^T + H R^T + Wb + Rb)
//   GRU   z = f(x Wz^T + H Rz^T + Wbz + Rbz), r likewise,
//         h = g(x Wh^T + (r * H) Rh^T + Rbh + Wbh)        (default)
//         h = g(x Wh^T + r * (H Rh^T + Rbh) + Wbh)        (linear_before_reset)
//         H = (1 - z) * h + z * H
//   LSTM  i = f(x Wi^T + H Ri^T + Pi * C + Wbi + Rbi), f likewise (Pf),
//         c = g(x Wc^T + H Rc^T + Wbc + Rbc), C = f * C + i * c,
//         o = f(x Wo^T + H Ro^T + Po * C + Wbo + Rbo), H = o * h(C)
//
// with forward, reverse and bidirectional directions, `clip` (the gates'
// inputs clipped to [-clip, clip]), the activations and their alpha/beta,
// LSTM's input_forget, `layout` (batch first) and `sequence_lens`: a step
// past a batch entry's length keeps its state and outputs zeros (a reverse
// direction then starts at the entry's last step), so Y_h (and Y_c) are the
// states after each entry's last step. Fusion sees ordinary ops. The
// libonnx-testdata and onnx-wheel node tests check them (test/conformance).
//
//===----------------------------------------------------------------------===//

#include "OnnxBody.h"

#include "llvm/ADT/StringExtras.h"

#include <functional>
#include <optional>

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;

namespace {
using Results = FailureOr<SmallVector<Value>>;

/// One activation of the `activations` attribute, with its alpha and beta.
struct Activation {
  std::string name;
  double alpha = 0, beta = 0;
};

/// The defaults ONNX gives each activation's alpha and beta.
std::optional<Activation> activationDefaults(StringRef name) {
  std::string n = name.lower();
  if (n == "relu" || n == "tanh" || n == "sigmoid" || n == "softsign" ||
      n == "softplus")
    return Activation{n, 0, 0};
  if (n == "leakyrelu")
    return Activation{n, 0.01, 0};
  if (n == "thresholdedrelu" || n == "elu")
    return Activation{n, 1.0, 0};
  if (n == "hardsigmoid")
    return Activation{n, 0.2, 0.5};
  if (n == "affine" || n == "scaledtanh")
    return Activation{n, 1.0, 0.0};
  return std::nullopt;
}

bool takesAlpha(StringRef n) {
  return n == "leakyrelu" || n == "thresholdedrelu" || n == "elu" ||
         n == "hardsigmoid" || n == "affine" || n == "scaledtanh";
}
bool takesBeta(StringRef n) {
  return n == "hardsigmoid" || n == "affine" || n == "scaledtanh";
}

/// Writes the recurrence of one op; `gates` is 1 (RNN), 3 (GRU) or 4
/// (LSTM).
class Unroller {
public:
  Unroller(NodeContext &c, StringRef kind, int64_t gates)
      : c(c), kind(kind), gates(gates) {}

  Results run() {
    RankedTensorType x = c.inputType(0), w = c.inputType(1);
    if (!isFloat(x.getElementType()))
      return c.emitError("X must be floating-point"), failure();
    if (x.getRank() != 3 || w.getRank() != 3 || !x.hasStaticShape() ||
        !w.hasStaticShape())
      return c.emitError("X and W must be of rank 3 with static shapes"),
             failure();
    batchFirst = c.getInt("layout", 0) != 0;
    seq = x.getDimSize(batchFirst ? 1 : 0);
    batch = x.getDimSize(batchFirst ? 0 : 1);
    std::string direction = c.getString("direction", "forward");
    if (direction != "forward" && direction != "reverse" &&
        direction != "bidirectional")
      return c.emitError("direction '") << direction
                                        << "' is not forward, reverse or "
                                           "bidirectional",
             failure();
    dirs = direction == "bidirectional" ? 2 : 1;
    reverseOnly = direction == "reverse";
    hidden = c.getInt("hidden_size", w.getDimSize(1) / gates);
    if (hidden <= 0 || w.getDimSize(0) != dirs ||
        w.getDimSize(1) != gates * hidden)
      return c.emitError("W is ")
             << ints(w.getShape()) << "; with direction '" << direction
             << "' and hidden_size " << hidden << " it must be [" << dirs
             << ", " << gates * hidden << ", input]",
             failure();
    if (seq == 0 || batch == 0)
      return c.emitError("an empty sequence or batch is not supported"),
             failure();
    clip = c.getFloat("clip", 0.0);
    if (c.hasAttr("clip") && !(clip > 0))
      return c.emitError("clip must be positive"), failure();
    inputForget = kind == "LSTM" && c.getInt("input_forget", 0) != 0;
    linearBeforeReset = kind == "GRU" && c.getInt("linear_before_reset", 0) != 0;
    if (failed(readActivations()))
      return failure();

    // Formals: the node's present inputs, in order.
    static const char *names[] = {"X", "W", "R", "B", "L", "H0", "C0", "P"};
    std::vector<std::string> formals;
    for (unsigned i = 0; i < c.numInputs() && i < 8; ++i)
      if (c.hasInput(i))
        formals.push_back(names[i]);
    has = [&](unsigned i) { return c.hasInput(i); };
    std::vector<std::string> results = {"Y", "Y_h"};
    if (kind == "LSTM")
      results.push_back("Y_c");
    Body body(kind, formals, results);
    b = &body;
    constants();
    std::vector<std::string> ys, hs, cs;
    for (int64_t d = 0; d < dirs; ++d) {
      bool reverse = reverseOnly || d == 1;
      std::string y, h, cell;
      direction1(d, reverse, y, h, cell);
      ys.push_back(y);
      hs.push_back(h);
      cs.push_back(cell);
    }
    // Y [seq, dirs, batch, hidden], Y_h (Y_c) [dirs, batch, hidden]; batch
    // first: [batch, seq, dirs, hidden] and [batch, dirs, hidden].
    (*b)("ax0", intsConst({0}));
    (*b)("ax1", intsConst({1}));
    auto stack = [&](const std::vector<std::string> &parts, StringRef axis,
                     const std::string &out) {
      std::vector<std::string> u;
      for (size_t i = 0; i < parts.size(); ++i) {
        u.push_back(out + "_u" + std::to_string(i));
        (*b)(u.back(), "Unsqueeze (" + parts[i] + ", " + axis + ")");
      }
      (*b)(out, "Concat <axis = " + axis.drop_front(2).str() + "> (" +
                    llvm::join(u, ", ") + ")");
    };
    stack(ys, "ax1", batchFirst ? "Y_sdbh" : "Y");
    stack(hs, "ax0", batchFirst ? "Y_h_dbh" : "Y_h");
    if (kind == "LSTM")
      stack(cs, "ax0", batchFirst ? "Y_c_dbh" : "Y_c");
    if (batchFirst) {
      (*b)("Y", "Transpose <perm = [2, 0, 1, 3]> (Y_sdbh)");
      (*b)("Y_h", "Transpose <perm = [1, 0, 2]> (Y_h_dbh)");
      if (kind == "LSTM")
        (*b)("Y_c", "Transpose <perm = [1, 0, 2]> (Y_c_dbh)");
    }
    return c.expandBody(body.finish());
  }

private:
  LogicalResult readActivations() {
    std::vector<std::string> defaults =
        kind == "RNN"   ? std::vector<std::string>{"Tanh"}
        : kind == "GRU" ? std::vector<std::string>{"Sigmoid", "Tanh"}
                        : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    size_t per = defaults.size();
    std::vector<std::string> given;
    if (const onnx::AttributeProto *a = c.getAttr("activations"))
      for (const std::string &s : a->strings())
        given.push_back(s);
    if (given.empty())
      for (int64_t d = 0; d < dirs; ++d)
        given.insert(given.end(), defaults.begin(), defaults.end());
    if (given.size() != per * dirs)
      return c.emitError("activations lists ")
             << given.size() << " functions; " << kind << " with " << dirs
             << " direction(s) takes " << per * dirs,
             failure();
    SmallVector<double> alphas = c.getFloats("activation_alpha"),
                        betas = c.getFloats("activation_beta");
    // One alpha (beta) per activation when the lists are that long, else
    // consumed in order by the activations that take one.
    bool alphaEach = alphas.size() == given.size(),
         betaEach = betas.size() == given.size();
    size_t nextAlpha = 0, nextBeta = 0;
    for (size_t i = 0; i < given.size(); ++i) {
      std::optional<Activation> a = activationDefaults(given[i]);
      if (!a)
        return c.emitError("activation '") << given[i] << "' is not supported",
               failure();
      if (alphaEach)
        a->alpha = alphas[i];
      else if (takesAlpha(a->name) && nextAlpha < alphas.size())
        a->alpha = alphas[nextAlpha++];
      if (betaEach)
        a->beta = betas[i];
      else if (takesBeta(a->name) && nextBeta < betas.size())
        a->beta = betas[nextBeta++];
      activations.push_back(*a);
    }
    return success();
  }

  /// Values every step uses.
  void constants() {
    (*b)("zero32", "Constant <value_float = 0.0> ()");
    (*b)("zero", "CastLike (zero32, X)");
    (*b)("one32", "Constant <value_float = 1.0> ()");
    (*b)("one", "CastLike (one32, X)");
    (*b)("bh", intsConst({batch, hidden}));
    (*b)("zeros", "Expand (zero, bh)");
    if (clip > 0) {
      (*b)("clip32", "Constant <value_float = " + real(clip) + "> ()");
      (*b)("clip_hi", "CastLike (clip32, X)");
      (*b)("clip_lo", "Neg (clip_hi)");
    }
    (*b)("Xs", batchFirst ? "Transpose <perm = [1, 0, 2]> (X)" : "Identity (X)");
    if (has(4)) {
      (*b)("lens", "Cast <to = 7> (L)");
      (*b)("ax1_l", intsConst({1}));
      (*b)("lens2", "Unsqueeze (lens, ax1_l)");
    }
  }

  std::string n(const std::string &base, int64_t d, int64_t t = -1) {
    return base + "_d" + std::to_string(d) +
           (t >= 0 ? "_t" + std::to_string(t) : "");
  }

  /// `act(in)` of activation `which` (0: f, 1: g, 2: h) of direction d,
  /// after the clip.
  std::string activate(const std::string &in, int which, int64_t d,
                       const std::string &out) {
    std::string x = in;
    if (clip > 0) {
      (*b)(out + "_cl", "Clip (" + in + ", clip_lo, clip_hi)");
      x = out + "_cl";
    }
    const Activation &a = activations[d * (activations.size() / dirs) + which];
    auto attr = [](const char *name, double v) {
      return std::string(name) + " = " + real(v);
    };
    auto scalar = [&](const std::string &name, double v) {
      (*b)(name + "32", "Constant <value_float = " + real(v) + "> ()");
      (*b)(name, "CastLike (" + name + "32, X)");
      return name;
    };
    const std::string &f = a.name;
    if (f == "tanh")
      (*b)(out, "Tanh (" + x + ")");
    else if (f == "sigmoid")
      (*b)(out, "Sigmoid (" + x + ")");
    else if (f == "relu")
      (*b)(out, "Relu (" + x + ")");
    else if (f == "softsign")
      (*b)(out, "Softsign (" + x + ")");
    else if (f == "softplus")
      (*b)(out, "Softplus (" + x + ")");
    else if (f == "leakyrelu")
      (*b)(out, "LeakyRelu <" + attr("alpha", a.alpha) + "> (" + x + ")");
    else if (f == "thresholdedrelu")
      (*b)(out, "ThresholdedRelu <" + attr("alpha", a.alpha) + "> (" + x + ")");
    else if (f == "elu")
      (*b)(out, "Elu <" + attr("alpha", a.alpha) + "> (" + x + ")");
    else if (f == "hardsigmoid")
      (*b)(out, "HardSigmoid <" + attr("alpha", a.alpha) + ", " +
                    attr("beta", a.beta) + "> (" + x + ")");
    else if (f == "affine") {
      (*b)(out + "_m", "Mul (" + x + ", " + scalar(out + "_a", a.alpha) + ")");
      (*b)(out, "Add (" + out + "_m, " + scalar(out + "_b", a.beta) + ")");
    } else { // scaledtanh: alpha * tanh(beta * x)
      (*b)(out + "_m", "Mul (" + x + ", " + scalar(out + "_b", a.beta) + ")");
      (*b)(out + "_t", "Tanh (" + out + "_m)");
      (*b)(out, "Mul (" + out + "_t, " + scalar(out + "_a", a.alpha) + ")");
    }
    return out;
  }

  /// Columns [k * hidden, (k + 1) * hidden) of `in` along its last axis.
  std::string gate(const std::string &in, int64_t k, const std::string &out) {
    (*b)(out + "_s", intsConst({k * hidden}));
    (*b)(out + "_e", intsConst({(k + 1) * hidden}));
    (*b)(out + "_a", intsConst({-1}));
    (*b)(out, "Slice (" + in + ", " + out + "_s, " + out + "_e, " + out + "_a)");
    return out;
  }

  /// One direction: its outputs [seq, batch, hidden] (y), final hidden
  /// state (h) and, for LSTM, final cell state (cell), each [batch, hidden].
  void direction1(int64_t d, bool reverse, std::string &y, std::string &h,
                  std::string &cell) {
    auto &B = *b;
    std::string dIdx = n("idx", d);
    B(dIdx, "Constant <value_int = " + std::to_string(d) + "> ()");
    B(n("W", d), "Gather <axis = 0> (W, " + dIdx + ")");
    B(n("R", d), "Gather <axis = 0> (R, " + dIdx + ")");
    B(n("Wt", d), "Transpose (" + n("W", d) + ")");
    B(n("Rt", d), "Transpose (" + n("R", d) + ")");
    // Every step's input projection at once: [seq, batch, gates * hidden].
    B(n("XW", d), "MatMul (Xs, " + n("Wt", d) + ")");
    std::string bias; // Wb + Rb, [gates * hidden] (GRU: without Rbh)
    std::string rbh;  // GRU: Rbh [hidden]
    if (has(3)) {
      B(n("B", d), "Gather <axis = 0> (B, " + dIdx + ")");
      B(n("Bs0", d), intsConst({0}));
      B(n("Bs1", d), intsConst({gates * hidden}));
      B(n("Bs2", d), intsConst({2 * gates * hidden}));
      B(n("Wb", d), "Slice (" + n("B", d) + ", " + n("Bs0", d) + ", " +
                        n("Bs1", d) + ")");
      B(n("Rb", d), "Slice (" + n("B", d) + ", " + n("Bs1", d) + ", " +
                        n("Bs2", d) + ")");
      if (kind == "GRU") {
        // Rbh joins inside the reset (linear_before_reset) or after the
        // hidden product: z and r take Wb + Rb, h takes Wbh here.
        B(n("Rbzr_e", d), intsConst({2 * hidden}));
        B(n("Rbzr", d), "Slice (" + n("Rb", d) + ", " + n("Bs0", d) + ", " +
                            n("Rbzr_e", d) + ")");
        rbh = gate(n("Rb", d), 2, n("Rbh", d));
        B(n("hdim", d), intsConst({hidden}));
        B(n("zh", d), "Expand (zero, " + n("hdim", d) + ")");
        B(n("Rbz0", d), "Concat <axis = 0> (" + n("Rbzr", d) + ", " +
                            n("zh", d) + ")");
        B(n("bias", d), "Add (" + n("Wb", d) + ", " + n("Rbz0", d) + ")");
      } else {
        B(n("bias", d), "Add (" + n("Wb", d) + ", " + n("Rb", d) + ")");
      }
      bias = n("bias", d);
    }
    if (kind == "GRU" && !has(3)) {
      B(n("hdim", d), intsConst({hidden}));
      rbh = n("Rbh", d);
      B(rbh, "Expand (zero, " + n("hdim", d) + ")");
    }
    std::string rhT; // GRU: Rh^T [hidden, hidden]
    if (kind == "GRU")
      rhT = gate(n("Rt", d), 2, n("RhT", d));
    std::string H = has(5) ? n("H0", d) : "zeros";
    if (has(5))
      B(H, "Gather <axis = 0> (H0, " + dIdx + ")");
    std::string C = "zeros";
    if (kind == "LSTM" && has(6)) {
      C = n("C0", d);
      B(C, "Gather <axis = 0> (C0, " + dIdx + ")");
    }
    std::string pi, po, pf;
    if (kind == "LSTM" && has(7)) {
      B(n("P", d), "Gather <axis = 0> (P, " + dIdx + ")");
      pi = gate(n("P", d), 0, n("Pi", d));
      po = gate(n("P", d), 1, n("Po", d));
      pf = gate(n("P", d), 2, n("Pf", d));
    }
    std::vector<std::string> outs(seq);
    for (int64_t k = 0; k < seq; ++k) {
      int64_t t = reverse ? seq - 1 - k : k;
      auto s = [&](const std::string &base) { return n(base, d, t); };
      B(s("ti"), "Constant <value_int = " + std::to_string(t) + "> ()");
      B(s("x"), "Gather <axis = 0> (" + n("XW", d) + ", " + s("ti") + ")");
      B(s("hr"), "MatMul (" + H + ", " + n("Rt", d) + ")");
      B(s("pre0"), "Add (" + s("x") + ", " + s("hr") + ")");
      std::string pre = s("pre0");
      if (!bias.empty()) {
        B(s("pre"), "Add (" + pre + ", " + bias + ")");
        pre = s("pre");
      }
      std::string Hn, Cn;
      if (kind == "RNN") {
        Hn = activate(pre, 0, d, s("H"));
      } else if (kind == "GRU") {
        std::string z = activate(gate(pre, 0, s("zp")), 0, d, s("z"));
        std::string r = activate(gate(pre, 1, s("rp")), 0, d, s("r"));
        std::string xh = gate(s("x"), 2, s("xh"));
        std::string wbh;
        if (!bias.empty())
          wbh = gate(n("Wb", d), 2, s("Wbh"));
        std::string inner;
        if (linearBeforeReset) {
          std::string hh = gate(s("hr"), 2, s("hh"));
          B(s("hhb"), "Add (" + hh + ", " + rbh + ")");
          B(s("rhh"), "Mul (" + r + ", " + s("hhb") + ")");
          inner = s("rhh");
        } else {
          B(s("rH"), "Mul (" + r + ", " + H + ")");
          B(s("rHR"), "MatMul (" + s("rH") + ", " + rhT + ")");
          B(s("rHRb"), "Add (" + s("rHR") + ", " + rbh + ")");
          inner = s("rHRb");
        }
        B(s("hp0"), "Add (" + xh + ", " + inner + ")");
        std::string hp = s("hp0");
        if (!wbh.empty()) {
          B(s("hp"), "Add (" + hp + ", " + wbh + ")");
          hp = s("hp");
        }
        std::string hc = activate(hp, 1, d, s("hc"));
        B(s("omz"), "Sub (one, " + z + ")");
        B(s("a"), "Mul (" + s("omz") + ", " + hc + ")");
        B(s("bz"), "Mul (" + z + ", " + H + ")");
        B(s("H"), "Add (" + s("a") + ", " + s("bz") + ")");
        Hn = s("H");
      } else { // LSTM: gates i, o, f, c
        std::string ip = gate(pre, 0, s("ip")), op = gate(pre, 1, s("op")),
                    fp = gate(pre, 2, s("fp")), cp = gate(pre, 3, s("cp"));
        if (!pi.empty()) {
          B(s("ipp"), "Mul (" + pi + ", " + C + ")");
          B(s("ip2"), "Add (" + ip + ", " + s("ipp") + ")");
          ip = s("ip2");
          B(s("fpp"), "Mul (" + pf + ", " + C + ")");
          B(s("fp2"), "Add (" + fp + ", " + s("fpp") + ")");
          fp = s("fp2");
        }
        std::string i = activate(ip, 0, d, s("i"));
        std::string f;
        if (inputForget) {
          B(s("f"), "Sub (one, " + i + ")");
          f = s("f");
        } else {
          f = activate(fp, 0, d, s("f"));
        }
        std::string cc = activate(cp, 1, d, s("cc"));
        B(s("fc"), "Mul (" + f + ", " + C + ")");
        B(s("ic"), "Mul (" + i + ", " + cc + ")");
        B(s("C"), "Add (" + s("fc") + ", " + s("ic") + ")");
        Cn = s("C");
        if (!po.empty()) {
          B(s("opp"), "Mul (" + po + ", " + Cn + ")");
          B(s("op2"), "Add (" + op + ", " + s("opp") + ")");
          op = s("op2");
        }
        std::string o = activate(op, 0, d, s("o"));
        std::string hC = activate(Cn, 2, d, s("hC"));
        B(s("H"), "Mul (" + o + ", " + hC + ")");
        Hn = s("H");
      }
      if (has(4)) {
        // Entries past their length keep their state and output zeros.
        B(s("tv"), "Constant <value_int = " + std::to_string(t) + "> ()");
        B(s("valid"), "Less (" + s("tv") + ", lens2)");
        B(s("Hk"), "Where (" + s("valid") + ", " + Hn + ", " + H + ")");
        B(s("Yt"), "Where (" + s("valid") + ", " + Hn + ", zeros)");
        if (!Cn.empty()) {
          B(s("Ck"), "Where (" + s("valid") + ", " + Cn + ", " + C + ")");
          Cn = s("Ck");
        }
        outs[t] = s("Yt");
        Hn = s("Hk");
      } else {
        outs[t] = Hn;
      }
      H = Hn;
      if (!Cn.empty())
        C = Cn;
    }
    std::vector<std::string> u;
    B(n("t_ax", d), intsConst({0}));
    for (int64_t t = 0; t < seq; ++t) {
      u.push_back(n("yu", d, t));
      B(u.back(), "Unsqueeze (" + outs[t] + ", " + n("t_ax", d) + ")");
    }
    y = n("Ys", d);
    B(y, "Concat <axis = 0> (" + llvm::join(u, ", ") + ")");
    h = H;
    cell = C;
  }

  NodeContext &c;
  std::string kind;
  int64_t gates;
  Body *b = nullptr;
  std::function<bool(unsigned)> has;
  bool batchFirst = false, reverseOnly = false, inputForget = false,
       linearBeforeReset = false;
  int64_t seq = 0, batch = 0, hidden = 0, dirs = 1;
  double clip = 0;
  std::vector<Activation> activations;
};

Results importRnn(NodeContext &c) { return Unroller(c, "RNN", 1).run(); }
Results importGru(NodeContext &c) { return Unroller(c, "GRU", 3).run(); }
Results importLstm(NodeContext &c) { return Unroller(c, "LSTM", 4).run(); }

} // namespace

void mlir::llmc::onnximport::registerRnnOps(OpImporterRegistry &r) {
  int64_t max = OpImporterRegistry::kMaxOpset;
  r.add("RNN", 7, max, needs(3, importRnn));
  r.add("GRU", 7, max, needs(3, importGru));
  r.add("LSTM", 7, max, needs(3, importLstm));
}
