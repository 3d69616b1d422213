//===- OnnxGridSample.cpp - GridSample and AffineGrid ---------------------===//
//
// GridSample (opsets 16 and 20) on 4-D inputs, written as an ONNX body
// (OnnxBody.h) the way the ONNX reference computes it
// (onnx/reference/ops/op_grid_sample.py): per spatial dim the grid's
// normalized coordinate is denormalized (align_corners or not), rounded
// half to even for nearest, and brought inside the borders by clamping
// (border) or reflecting (reflection) when outside; then nearest reads one
// tap, (bi)linear 2 per dim and (bi)cubic 4 per dim (Keys' kernel, A =
// -0.75), each tap's index handled by the padding mode (zeros: a tap
// outside reads 0; border: clamped; reflection: reflected, then
// truncated). The taps are GatherND reads of the input laid out [N, H, W,
// C] at (y, x), so every channel comes with one index pair; the indices
// are always in range. AffineGrid (opset 20) makes the grids GridSample
// reads: theta applied to the homogeneous grid of linspaces.
//
//===----------------------------------------------------------------------===//

#include "OnnxBody.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;

namespace {
using Results = FailureOr<SmallVector<Value>>;

class GridSampler {
public:
  GridSampler(NodeContext &c, Body &b) : c(c), b(b) {}

  Results run() {
    RankedTensorType x = c.inputType(0), grid = c.inputType(1);
    if (!isFloat(x.getElementType()) || !isFloat(grid.getElementType()))
      return c.emitError("X and grid must be floating-point"), failure();
    if (x.getRank() != 4 || grid.getRank() != 4 || !x.hasStaticShape() ||
        !grid.hasStaticShape() || grid.getDimSize(3) != 2 ||
        grid.getDimSize(0) != x.getDimSize(0))
      return c.emitError("GridSample takes X [N, C, H, W] and grid [N, "
                         "H_out, W_out, 2] of static shapes (volumetric "
                         "inputs are not supported)"),
             failure();
    mode = c.getString("mode", c.opset >= 20 ? "linear" : "bilinear");
    if (mode == "bilinear")
      mode = "linear";
    if (mode == "bicubic")
      mode = "cubic";
    if (mode != "nearest" && mode != "linear" && mode != "cubic")
      return c.emitError("unsupported GridSample mode '") << mode << "'",
             failure();
    padding = c.getString("padding_mode", "zeros");
    if (padding != "zeros" && padding != "border" && padding != "reflection")
      return c.emitError("unsupported GridSample padding_mode '")
             << padding << "'",
             failure();
    alignCorners = c.getInt("align_corners", 0) != 0;
    N = x.getDimSize(0);
    C = x.getDimSize(1);
    H = x.getDimSize(2);
    W = x.getDimSize(3);
    Ho = grid.getDimSize(1);
    Wo = grid.getDimSize(2);

    // Everything in f64 as the reference's arithmetic; X as [N, H, W, C].
    b("g", "Cast <to = 11> (grid)");
    b("xt", "Transpose <perm = [0, 2, 3, 1]> (X)");
    b("ax3", intsConst({3}));
    b("i0", "Constant <value_int = 0> ()");
    b("i1", "Constant <value_int = 1> ()");
    b("gx", "Gather <axis = 3> (g, i0)"); // [N, Ho, Wo]: along W
    b("gy", "Gather <axis = 3> (g, i1)"); // along H
    std::string vx = coordinate("x", "gx", W), vy = coordinate("y", "gy", H);
    std::vector<std::pair<std::string, std::string>> tx = taps("x", vx, W),
                                                     ty = taps("y", vy, H);
    std::vector<std::string> terms;
    for (size_t j = 0; j < ty.size(); ++j)
      for (size_t i = 0; i < tx.size(); ++i) {
        std::string t = "t" + std::to_string(j) + "_" + std::to_string(i);
        // The tap's (y, x) index pair and whether it lies inside.
        auto [iy, wy] = ty[j];
        auto [ix, wx] = tx[i];
        std::string yi = index(t + "_y", iy, H), xi = index(t + "_x", ix, W);
        b(t + "_yu", "Unsqueeze (" + yi + ", ax3)");
        b(t + "_xu", "Unsqueeze (" + xi + ", ax3)");
        b(t + "_yx", "Concat <axis = 3> (" + t + "_yu, " + t + "_xu)");
        b(t + "_v", "GatherND <batch_dims = 1> (xt, " + t + "_yx)"); // [N,Ho,Wo,C]
        b(t + "_vd", "Cast <to = 11> (" + t + "_v)");
        std::string w = t + "_w";
        b(w, "Mul (" + wy + ", " + wx + ")");
        if (padding == "zeros") {
          b(t + "_in", "And (" + inside(t + "_y", iy, H) + ", " +
                           inside(t + "_x", ix, W) + ")");
          b(t + "_wz", "Where (" + t + "_in, " + w + ", zero)");
          w = t + "_wz";
        }
        b(t + "_wu", "Unsqueeze (" + w + ", ax3)");
        b(t, "Mul (" + t + "_vd, " + t + "_wu)");
        terms.push_back(t);
      }
    std::string acc = terms[0];
    for (size_t k = 1; k < terms.size(); ++k) {
      b("acc" + std::to_string(k), "Add (" + acc + ", " + terms[k] + ")");
      acc = "acc" + std::to_string(k);
    }
    b("ynhwc", "CastLike (" + acc + ", X)");
    b("Y", "Transpose <perm = [0, 3, 1, 2]> (ynhwc)");
    return c.expandBody(b.finish());
  }

private:
  std::string k(double v) {
    std::string name = "k" + std::to_string(constants++);
    b(name, "Constant <value = double {" + real(v) + "}> ()");
    return name;
  }

  /// The reflection of `v` into [lo, hi] (the reference's _gs_reflect).
  std::string reflect(const std::string &p, const std::string &v, double lo,
                      double hi) {
    double range = hi - lo;
    auto n = [&](StringRef s) { return p + "_" + s.str(); };
    // Below lo: dx = lo - v; above hi: dx = v - hi.
    b(n("below"), "Less (" + v + ", " + k(lo) + ")");
    b(n("above"), "Greater (" + v + ", " + k(hi) + ")");
    b(n("dlo"), "Sub (" + k(lo) + ", " + v + ")");
    b(n("dhi"), "Sub (" + v + ", " + k(hi) + ")");
    std::string out = v;
    for (const char *side : {"lo", "hi"}) {
      std::string s = side;
      std::string dx = n("d" + s);
      b(n("q" + s), "Div (" + dx + ", " + k(range > 0 ? range : 1) + ")");
      b(n("f" + s), "Floor (" + n("q" + s) + ")");
      b(n("m" + s), "Mul (" + n("f" + s) + ", " + k(range) + ")");
      b(n("r" + s), "Sub (" + dx + ", " + n("m" + s) + ")");
      b(n("h" + s), "Div (" + n("f" + s) + ", " + k(2) + ")");
      b(n("hf" + s), "Floor (" + n("h" + s) + ")");
      b(n("even" + s), "Equal (" + n("h" + s) + ", " + n("hf" + s) + ")");
      // Even: the near border's side; odd: the far one's.
      b(n("a" + s), "Add (" + k(lo) + ", " + n("r" + s) + ")");
      b(n("z" + s), "Sub (" + k(hi) + ", " + n("r" + s) + ")");
      if (s == "lo")
        b(n("to" + s), "Where (" + n("even" + s) + ", " + n("a" + s) + ", " +
                           n("z" + s) + ")");
      else
        b(n("to" + s), "Where (" + n("even" + s) + ", " + n("z" + s) + ", " +
                           n("a" + s) + ")");
    }
    b(n("r1"), "Where (" + n("above") + ", " + n("tohi") + ", " + v + ")");
    out = n("reflected");
    b(out, "Where (" + n("below") + ", " + n("tolo") + ", " + n("r1") + ")");
    return out;
  }

  double lo(int64_t len) const { return alignCorners ? 0.0 : -0.5; }
  double hi(int64_t len) const {
    return alignCorners ? static_cast<double>(len) - 1 : len - 0.5;
  }

  /// The denormalized coordinate along a dim of `len`, rounded (nearest)
  /// and brought inside the borders as the padding mode says.
  std::string coordinate(const std::string &p, const std::string &g,
                         int64_t len) {
    std::string v = p + "_v";
    if (alignCorners) { // (g + 1) / 2 * (len - 1)
      b(p + "_a", "Add (" + g + ", " + k(1) + ")");
      b(p + "_b", "Div (" + p + "_a, " + k(2) + ")");
      b(v, "Mul (" + p + "_b, " + k(len - 1) + ")");
    } else { // ((g + 1) * len - 1) / 2
      b(p + "_a", "Add (" + g + ", " + k(1) + ")");
      b(p + "_b", "Mul (" + p + "_a, " + k(len) + ")");
      b(p + "_c", "Sub (" + p + "_b, " + k(1) + ")");
      b(v, "Div (" + p + "_c, " + k(2) + ")");
    }
    if (mode == "nearest") { // np.rint: half to even
      b(p + "_r", "Round (" + v + ")");
      v = p + "_r";
    }
    if (padding == "border") {
      // Clamped into the input only when outside the borders (between
      // -0.5 and 0 it stays: the cubic taps see the difference).
      b(p + "_bd", "Clip (" + v + ", " + k(0) + ", " + k(len - 1) + ")");
      b(p + "_out_lo", "Less (" + v + ", " + k(lo(len)) + ")");
      b(p + "_out_hi", "Greater (" + v + ", " + k(hi(len)) + ")");
      b(p + "_out", "Or (" + p + "_out_lo, " + p + "_out_hi)");
      b(p + "_bv", "Where (" + p + "_out, " + p + "_bd, " + v + ")");
      v = p + "_bv";
    } else if (padding == "reflection") {
      v = reflect(p + "_rf", v, lo(len), hi(len));
    }
    return v;
  }

  /// The taps along a dim: (the tap's position as f64, its weight).
  std::vector<std::pair<std::string, std::string>>
  taps(const std::string &p, const std::string &v, int64_t len) {
    std::vector<std::pair<std::string, std::string>> out;
    if (mode == "nearest") {
      // int(v): truncation (v is integral unless reflected).
      b(p + "_abs", "Abs (" + v + ")");
      b(p + "_fl", "Floor (" + p + "_abs)");
      b(p + "_sg", "Sign (" + v + ")");
      b(p + "_tr", "Mul (" + p + "_fl, " + p + "_sg)");
      b(p + "_one", "Constant <value = double {1.0}> ()");
      b(p + "_shape", intsConst({N, Ho, Wo}));
      b(p + "_w1", "Expand (" + p + "_one, " + p + "_shape)");
      return {{p + "_tr", p + "_w1"}};
    }
    b(p + "_f", "Floor (" + v + ")");
    b(p + "_t", "Sub (" + v + ", " + p + "_f)");
    if (mode == "linear") {
      b(p + "_w0", "Sub (" + k(1) + ", " + p + "_t)");
      b(p + "_p1", "Add (" + p + "_f, " + k(1) + ")");
      return {{p + "_f", p + "_w0"}, {p + "_p1", p + "_t"}};
    }
    // Cubic: Keys' kernel at distances 1 + t, t, 1 - t, 2 - t.
    const double A = -0.75;
    auto far = [&](const std::string &s, const std::string &out) {
      b(out + "_a", "Mul (" + s + ", " + k(A) + ")");
      b(out + "_b", "Sub (" + out + "_a, " + k(5 * A) + ")");
      b(out + "_c", "Mul (" + out + "_b, " + s + ")");
      b(out + "_d", "Add (" + out + "_c, " + k(8 * A) + ")");
      b(out + "_e", "Mul (" + out + "_d, " + s + ")");
      b(out, "Sub (" + out + "_e, " + k(4 * A) + ")");
    };
    auto near = [&](const std::string &s, const std::string &out) {
      b(out + "_a", "Mul (" + s + ", " + k(A + 2) + ")");
      b(out + "_b", "Sub (" + out + "_a, " + k(A + 3) + ")");
      b(out + "_c", "Mul (" + out + "_b, " + s + ")");
      b(out + "_d", "Mul (" + out + "_c, " + s + ")");
      b(out, "Add (" + out + "_d, " + k(1) + ")");
    };
    b(p + "_s0", "Add (" + p + "_t, " + k(1) + ")");
    b(p + "_s2", "Sub (" + k(1) + ", " + p + "_t)");
    b(p + "_s3", "Sub (" + k(2) + ", " + p + "_t)");
    far(p + "_s0", p + "_c0");
    near(p + "_t", p + "_c1");
    near(p + "_s2", p + "_c2");
    far(p + "_s3", p + "_c3");
    for (int j = 0; j < 4; ++j) {
      std::string at = p + "_p" + std::to_string(j);
      b(at, "Add (" + p + "_f, " + k(j - 1) + ")");
      out.push_back({at, p + "_c" + std::to_string(j)});
    }
    return out;
  }

  /// Whether tap position `v` (integral) lies in [0, len).
  std::string inside(const std::string &p, const std::string &v, int64_t len) {
    b(p + "_ge", "GreaterOrEqual (" + v + ", " + k(0) + ")");
    b(p + "_le", "LessOrEqual (" + v + ", " + k(len - 1) + ")");
    b(p + "_inside", "And (" + p + "_ge, " + p + "_le)");
    return p + "_inside";
  }

  /// The tap's int64 index into a dim of `len`: clamped (zeros: the weight
  /// is zeroed outside; border), or reflected and truncated.
  std::string index(const std::string &p, const std::string &v, int64_t len) {
    std::string at = v;
    if (padding == "reflection") {
      std::string r = reflect(p + "_ri", v, lo(len), hi(len));
      b(p + "_rabs", "Abs (" + r + ")");
      b(p + "_rfl", "Floor (" + p + "_rabs)");
      b(p + "_rsg", "Sign (" + r + ")");
      b(p + "_rtr", "Mul (" + p + "_rfl, " + p + "_rsg)");
      at = p + "_rtr";
    }
    b(p + "_cl", "Clip (" + at + ", " + k(0) + ", " + k(len - 1) + ")");
    b(p + "_i", "Cast <to = 7> (" + p + "_cl)");
    return p + "_i";
  }

  NodeContext &c;
  Body &b;
  std::string mode, padding;
  bool alignCorners = false;
  int64_t N = 0, C = 0, H = 0, W = 0, Ho = 0, Wo = 0;
  int constants = 0;
};

/// AffineGrid (opset 20): theta [N, 2, 3] (or [N, 3, 4]) applied to the
/// homogeneous grid of the constant `size`'s spatial dims, each a linspace
/// over [-1, 1] (pixel corners with align_corners, else centres), in the
/// order (x, y[, z], 1) as the ONNX reference builds it.
Results importAffineGrid(NodeContext &c) {
  RankedTensorType theta = c.inputType(0);
  std::optional<SmallVector<int64_t>> size = c.knownInts(1);
  if (!isFloat(theta.getElementType()))
    return c.emitError("theta must be floating-point"), failure();
  if (!size || (size->size() != 4 && size->size() != 5))
    return c.emitError("AffineGrid's size must be known at compile time: "
                       "[N, C, H, W] or [N, C, D, H, W]"),
           failure();
  int64_t N = (*size)[0];
  SmallVector<int64_t> dims(size->begin() + 2, size->end()); // [D,] H, W
  int64_t spatial = static_cast<int64_t>(dims.size());
  if (theta.getRank() != 3 || !theta.hasStaticShape() ||
      theta.getDimSize(0) != N || theta.getDimSize(1) != spatial ||
      theta.getDimSize(2) != spatial + 1)
    return c.emitError("theta must be [")
           << N << ", " << spatial << ", " << spatial + 1 << "] for size "
           << ints(*size),
           failure();
  for (int64_t d : dims)
    if (d < 1)
      return c.emitError("AffineGrid's size must be positive"), failure();
  bool align = c.getInt("align_corners", 0) != 0;
  Body b("AffineGrid", {"theta", "size"}, {"grid"});
  b("r0", "Constant <value = float {0.0}> ()");
  b("r1", "Constant <value = float {1.0}> ()");
  b("full", intsConst(dims));
  int64_t points = 1;
  for (int64_t d : dims)
    points *= d;
  // Per dim, its linspace shaped to broadcast along that dim only.
  std::vector<std::string> coords; // in the order x, y[, z]
  for (int64_t i = spatial - 1; i >= 0; --i) {
    std::string p = "a" + std::to_string(i);
    int64_t len = dims[i];
    double step = align ? (len > 1 ? 2.0 / (len - 1) : 0.0) : 2.0 / len;
    double start = align ? -1.0 : -1.0 + 1.0 / len;
    b(p + "_n", "Constant <value = float {" + real(len) + "}> ()");
    b(p + "_i", "Range (r0, " + p + "_n, r1)");
    b(p + "_s", "Constant <value = float {" + real(step) + "}> ()");
    b(p + "_o", "Constant <value = float {" + real(start) + "}> ()");
    b(p + "_m", "Mul (" + p + "_i, " + p + "_s)");
    b(p + "_v", "Add (" + p + "_m, " + p + "_o)");
    SmallVector<int64_t> shape(spatial, 1);
    shape[i] = len;
    b(p + "_shape", intsConst(shape));
    b(p + "_r", "Reshape (" + p + "_v, " + p + "_shape)");
    b(p + "_e", "Expand (" + p + "_r, full)");
    coords.push_back(p + "_e");
  }
  b("ones", "Expand (r1, full)");
  coords.push_back("ones");
  b("last", intsConst({-1}));
  std::vector<std::string> parts;
  for (const std::string &x : coords) {
    parts.push_back(x + "_u");
    b(parts.back(), "Unsqueeze (" + x + ", last)");
  }
  b("homo", "Concat <axis = -1> (" + llvm::join(parts, ", ") + ")");
  b("flat_shape", intsConst({points, spatial + 1}));
  b("flat", "Reshape (homo, flat_shape)");
  b("base", "Transpose (flat)");      // [spatial + 1, points]
  b("th", "Cast <to = 1> (theta)");
  b("moved", "MatMul (th, base)");    // [N, spatial, points]
  b("pts", "Transpose <perm = [0, 2, 1]> (moved)");
  SmallVector<int64_t> out{N};
  out.append(dims.begin(), dims.end());
  out.push_back(spatial);
  b("out_shape", intsConst(out));
  b("g32", "Reshape (pts, out_shape)");
  b("grid", "CastLike (g32, theta)");
  return c.expandBody(b.finish());
}

Results importGridSample(NodeContext &c) {
  Body b("GridSample", {"X", "grid"}, {"Y"});
  b("zero", "Constant <value = double {0.0}> ()");
  return GridSampler(c, b).run();
}
} // namespace

void mlir::llmc::onnximport::registerGridSample(OpImporterRegistry &r) {
  r.add("GridSample", 16, OpImporterRegistry::kMaxOpset,
        needs(2, importGridSample));
  r.add("AffineGrid", 20, OpImporterRegistry::kMaxOpset,
        needs(2, importAffineGrid));
}
