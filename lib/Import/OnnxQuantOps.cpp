//===- OnnxQuantOps.cpp - Importers of ONNX's quantization ops ------------===//
//
// QuantizeLinear, DequantizeLinear (per tensor, per axis and blocked; int8,
// uint8, int16, uint16 and int32 where the opset has them),
// DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul and
// QLinearConv, each written as its ONNX definition in float and integer
// arithmetic (an ONNX function body, OnnxBody.h): they run dequantized, to
// the ONNX reference's results. Integer products are exact in double (they
// stay far below 2^53). Float8, int4 and float4 elements are refused by
// name: llmc has no such element types yet.
//
//===----------------------------------------------------------------------===//

#include "OnnxBody.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;

namespace {
using Results = FailureOr<SmallVector<Value>>;

/// ONNX's number of an element type llmc imports (0 for others).
int onnxNumber(Type t) {
  if (t.isF32())
    return 1;
  if (t.isF16())
    return 10;
  if (t.isBF16())
    return 16;
  if (t.isF64())
    return 11;
  if (isa<Float8E4M3FNType>(t))
    return kOnnxFloat8E4M3FN;
  if (isa<Float8E4M3FNUZType>(t))
    return kOnnxFloat8E4M3FNUZ;
  if (isa<Float8E5M2Type>(t))
    return kOnnxFloat8E5M2;
  if (isa<Float8E5M2FNUZType>(t))
    return kOnnxFloat8E5M2FNUZ;
  if (isa<Float4E2M1FNType>(t))
    return kOnnxFloat4E2M1;
  if (auto i = dyn_cast<IntegerType>(t)) {
    bool u = i.isUnsigned();
    switch (i.getWidth()) {
    case 4:
      return u ? kOnnxUInt4 : kOnnxInt4;
    case 8:
      return u ? 2 : 3;
    case 16:
      return u ? 4 : 5;
    case 32:
      return u ? 12 : 6;
    case 64:
      return u ? 13 : 7;
    }
  }
  return 0;
}

/// The range of a quantized integer type (int8, uint8, int16, uint16).
std::optional<std::pair<double, double>> quantRange(Type t) {
  auto i = dyn_cast<IntegerType>(t);
  if (!i || (i.getWidth() != 4 && i.getWidth() != 8 && i.getWidth() != 16))
    return std::nullopt;
  double n = std::ldexp(1.0, i.getWidth());
  return i.isUnsigned() ? std::make_pair(0.0, n - 1)
                        : std::make_pair(-n / 2, n / 2 - 1);
}

std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream(s) << t;
  return s;
}

/// Writes `out`: `param` (a scale or zero point, already a float32 value
/// named `param`) shaped to broadcast against `shape`: as it is (one per
/// tensor), along `axis` (one per slice), or repeated `block` times along
/// `axis` and cut to the axis (blocked).
void shapeParam(Body &b, const std::string &out, const std::string &param,
                ArrayRef<int64_t> paramShape, ArrayRef<int64_t> shape,
                int64_t axis, int64_t block) {
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t count = 1;
  for (int64_t d : paramShape)
    count *= d;
  if (count == 1 && block == 0) {
    b(out, "Identity (" + param + ")");
    return;
  }
  if (block == 0) { // per axis: [n] -> [1, .., n, .., 1]
    SmallVector<int64_t> to(rank, 1);
    to[axis] = count;
    b(out + "_shape", intsConst(to));
    b(out, "Reshape (" + param + ", " + out + "_shape)");
    return;
  }
  // Blocked: [.., nb, ..] -> [.., nb, block, ..] -> [.., nb * block, ..],
  // cut to the axis.
  SmallVector<int64_t> expanded(paramShape.begin(), paramShape.end());
  expanded.insert(expanded.begin() + axis + 1, block);
  SmallVector<int64_t> merged(paramShape.begin(), paramShape.end());
  merged[axis] *= block;
  b(out + "_axes", intsConst({axis + 1}));
  b(out + "_u", "Unsqueeze (" + param + ", " + out + "_axes)");
  b(out + "_eshape", intsConst(expanded));
  b(out + "_e", "Expand (" + out + "_u, " + out + "_eshape)");
  b(out + "_mshape", intsConst(merged));
  b(out + "_m", "Reshape (" + out + "_e, " + out + "_mshape)");
  b(out + "_starts", intsConst({0}));
  b(out + "_ends", intsConst({shape[axis]}));
  b(out + "_sliceaxes", intsConst({axis}));
  b(out, "Slice (" + out + "_m, " + out + "_starts, " + out + "_ends, " + out +
             "_sliceaxes)");
}

/// Checks a scale / zero-point shape against x's for `axis` and `block`.
LogicalResult checkParam(NodeContext &c, unsigned input, StringRef what,
                         ArrayRef<int64_t> shape, int64_t axis, int64_t block) {
  ArrayRef<int64_t> p = c.inputType(input).getShape();
  int64_t count = 1;
  for (int64_t d : p)
    count *= d;
  if (block == 0) {
    if (count == 1 && p.size() <= 1)
      return success();
    if (p.size() == 1 && p[0] == shape[axis])
      return success();
    return c.emitError(what) << " must be a scalar or hold one value per "
                                "slice of axis "
                             << axis << " (" << shape[axis] << ")",
           failure();
  }
  if (block < 0 || p.size() != shape.size())
    return c.emitError(what) << " must have x's rank for block_size "
                             << block,
           failure();
  for (size_t d = 0; d < p.size(); ++d) {
    int64_t want = static_cast<int64_t>(d) == axis
                       ? (shape[d] + block - 1) / block
                       : shape[d];
    if (p[d] != want)
      return c.emitError(what) << " has dim " << d << " of " << p[d]
                               << ", expected " << want << " for block_size "
                               << block,
             failure();
  }
  return success();
}

/// The axis of a per-axis or blocked scale (ignored, 0, for one scale).
FailureOr<int64_t> quantAxis(NodeContext &c, RankedTensorType x,
                             int64_t block) {
  int64_t count = 1;
  for (int64_t d : c.inputType(1).getShape())
    count *= d;
  if ((count == 1 && block == 0 && c.inputType(1).getRank() <= 1) ||
      x.getRank() == 0)
    return 0;
  return c.normalizeAxis(c.getInt("axis", 1), x.getRank());
}

/// The names of the node's present inputs, for a Body's formals.
SmallVector<std::string> formals(NodeContext &c, ArrayRef<std::string> names) {
  SmallVector<std::string> out;
  for (unsigned i = 0; i < names.size(); ++i)
    if (c.hasInput(i))
      out.push_back(names[i]);
  return out;
}

//===----------------------------------------------------------------------===//
// DequantizeLinear, QuantizeLinear
//===----------------------------------------------------------------------===//

Results importDequantizeLinear(NodeContext &c) {
  RankedTensorType xt = c.inputType(0);
  Type x = xt.getElementType(), scale = c.inputType(1).getElementType();
  auto xi = dyn_cast<IntegerType>(x);
  bool float8 = isa<FloatType>(x) && x.getIntOrFloatBitWidth() <= 8;
  if ((!xi || xi.getWidth() > 32) && !float8)
    return c.emitError("DequantizeLinear of " + typeName(x) +
                       " is not supported (int4, uint4, int8, uint8, int16, "
                       "uint16, int32, the float8 types, float4e2m1)"),
           failure();
  if (!isFloat(scale))
    return c.emitError("x_scale must be floating-point"), failure();
  int64_t block = c.getInt("block_size", 0);
  FailureOr<int64_t> axis = quantAxis(c, xt, block);
  if (failed(axis) ||
      failed(checkParam(c, 1, "x_scale", xt.getShape(), *axis, block)) ||
      (c.hasInput(2) &&
       failed(checkParam(c, 2, "x_zero_point", xt.getShape(), *axis, block))))
    return failure();
  if (c.hasInput(2) && c.inputType(2).getElementType() != x)
    return c.emitError("x_zero_point must have x's type"), failure();
  Type out = scale;
  if (int64_t t = c.getInt("output_dtype", 0)) {
    out = c.elementType(static_cast<int32_t>(t));
    if (!out || !isFloat(out))
      return c.emitError("output_dtype must be a floating-point type"),
             failure();
  }
  Body b("DequantizeLinear", formals(c, {"x", "s", "z"}), {"y"});
  b("xf", "Cast <to = 11> (x)");
  b("s32", "Cast <to = 11> (s)");
  shapeParam(b, "sb", "s32", c.inputType(1).getShape(), xt.getShape(), *axis,
             block);
  std::string d = "xf";
  if (c.hasInput(2)) {
    b("z32", "Cast <to = 11> (z)");
    shapeParam(b, "zb", "z32", c.inputType(2).getShape(), xt.getShape(),
               *axis, block);
    b("d", "Sub (xf, zb)");
    d = "d";
  }
  // The reference multiplies in float32 and rounds to the output type.
  b("d32", "Cast <to = 1> (" + d + ")");
  b("sb32", "Cast <to = 1> (sb)");
  b("y32", "Mul (d32, sb32)");
  b("y", "Cast <to = " + std::to_string(onnxNumber(out)) + "> (y32)");
  return c.expandBody(b.finish());
}

Results importQuantizeLinear(NodeContext &c) {
  RankedTensorType xt = c.inputType(0);
  Type x = xt.getElementType(), scale = c.inputType(1).getElementType();
  if (!isFloat(x) && !x.isSignlessInteger(32) && !x.isInteger(32))
    return c.emitError("x must be floating-point or int32"), failure();
  if (!isFloat(scale))
    return c.emitError("y_scale must be floating-point"), failure();
  Type out = IntegerType::get(x.getContext(), 8, IntegerType::Unsigned);
  if (c.hasInput(2))
    out = c.inputType(2).getElementType();
  else if (int64_t t = c.getInt("output_dtype", 0))
    out = c.elementType(static_cast<int32_t>(t));
  std::optional<std::pair<double, double>> range =
      out ? quantRange(out) : std::nullopt;
  bool float8 = out && isa<FloatType>(out) && out.getIntOrFloatBitWidth() <= 8;
  if (!range && !float8)
    return c.emitError("QuantizeLinear to " +
                       (out ? typeName(out) : std::string("this type")) +
                       " is not supported (int4, uint4, int8, uint8, int16, "
                       "uint16, the float8 types, float4e2m1)"),
           failure();
  int64_t block = c.getInt("block_size", 0);
  FailureOr<int64_t> axis = quantAxis(c, xt, block);
  if (failed(axis) ||
      failed(checkParam(c, 1, "y_scale", xt.getShape(), *axis, block)) ||
      (c.hasInput(2) &&
       failed(checkParam(c, 2, "y_zero_point", xt.getShape(), *axis, block))))
    return failure();
  Body b("QuantizeLinear", formals(c, {"x", "s", "z"}), {"y"});
  // x / scale in x's own precision (the reference's), rounded half to even.
  std::string xs = "x";
  if (!isFloat(x)) {
    b("xf", "Cast <to = 1> (x)");
    xs = "xf";
  }
  b("sx", "CastLike (s, " + xs + ")");
  shapeParam(b, "sb", "sx", c.inputType(1).getShape(), xt.getShape(), *axis,
             block);
  b("q", "Div (" + xs + ", sb)");
  if (float8) {
    // To a float8: x / scale (+ zero point) cast as Cast does, saturating
    // unless `saturate` is 0; no rounding to integers.
    std::string v8 = "q";
    if (c.hasInput(2)) {
      b("zq", "CastLike (z, q)");
      shapeParam(b, "zb", "zq", c.inputType(2).getShape(), xt.getShape(),
                 *axis, block);
      b("qz", "Add (q, zb)");
      v8 = "qz";
    }
    b("y", "Cast <to = " + std::to_string(onnxNumber(out)) +
               ", saturate = " + std::to_string(c.getInt("saturate", 1)) +
               "> (" + v8 + ")");
    return c.expandBody(b.finish());
  }
  b("r", "Round (q)");
  b("r64", "Cast <to = 11> (r)");
  std::string v = "r64";
  if (c.hasInput(2)) {
    b("z64", "Cast <to = 11> (z)");
    shapeParam(b, "zb", "z64", c.inputType(2).getShape(), xt.getShape(),
               *axis, block);
    b("rz", "Add (r64, zb)");
    v = "rz";
  }
  b("lo", "Constant <value = double {" + real(range->first) + "}> ()");
  b("hi", "Constant <value = double {" + real(range->second) + "}> ()");
  b("cl", "Clip (" + v + ", lo, hi)");
  b("y", "Cast <to = " + std::to_string(onnxNumber(out)) + "> (cl)");
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// DynamicQuantizeLinear
//===----------------------------------------------------------------------===//

Results importDynamicQuantizeLinear(NodeContext &c) {
  if (!c.inputType(0).getElementType().isF32())
    return c.emitError("x must be float32"), failure();
  Body b("DynamicQuantizeLinear", {"x"}, {"y", "y_scale", "y_zero_point"});
  b("zero", "Constant <value_float = 0.0> ()");
  b("qmax", "Constant <value_float = 255.0> ()");
  b("lo", "ReduceMin <keepdims = 0> (x)");
  b("hi", "ReduceMax <keepdims = 0> (x)");
  b("mn", "Min (lo, zero)");
  b("mx", "Max (hi, zero)");
  b("range", "Sub (mx, mn)");
  b("y_scale", "Div (range, qmax)");
  b("zq", "Div (mn, y_scale)");
  b("zi", "Sub (zero, zq)");
  b("zc", "Clip (zi, zero, qmax)");
  b("zr", "Round (zc)");
  b("y_zero_point", "Cast <to = 2> (zr)");
  b("q", "Div (x, y_scale)");
  b("r", "Round (q)");
  b("rz", "Add (r, zr)");
  b("cl", "Clip (rz, zero, qmax)");
  b("y", "Cast <to = 2> (cl)");
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv
//===----------------------------------------------------------------------===//

/// `in`, a per-slice parameter of shape `shape` ([n]), made to broadcast
/// along `axis` of a rank-`rank` tensor ([1, .., n, .., 1]); `in` itself
/// when it holds one value. Returns the name to use.
std::string alongAxis(Body &b, const std::string &in, ArrayRef<int64_t> shape,
                      int64_t rank, int64_t axis) {
  if (shape.size() != 1 || shape[0] == 1)
    return in;
  SmallVector<int64_t> to(rank, 1);
  to[axis] = shape[0];
  b(in + "_shape", intsConst(to));
  b(in + "_r", "Reshape (" + in + ", " + in + "_shape)");
  return in + "_r";
}

bool isQuantInt(Type t) {
  auto i = dyn_cast<IntegerType>(t);
  return i && i.getWidth() == 8;
}

/// `out` = `in` (an 8-bit integer input) minus its zero point `zp` (when
/// `hasZp`), in double. `zpShape` is the zero point's shape; a 1-D zero
/// point of a matmul's A is per row when `perRow` (reshaped to [M, 1]).
void centered(Body &b, const std::string &out, const std::string &in,
              const std::string &zp, bool hasZp, ArrayRef<int64_t> zpShape,
              bool perRow) {
  b(out + "_f", "Cast <to = 11> (" + in + ")");
  if (!hasZp) {
    b(out, "Identity (" + out + "_f)");
    return;
  }
  b(out + "_z", "Cast <to = 11> (" + zp + ")");
  std::string z = perRow ? alongAxis(b, out + "_z", zpShape, 2, 0) : out + "_z";
  b(out, "Sub (" + out + "_f, " + z + ")");
}

Results importMatMulInteger(NodeContext &c) {
  if (!isQuantInt(c.inputType(0).getElementType()) ||
      !isQuantInt(c.inputType(1).getElementType()))
    return c.emitError("A and B must be int8 or uint8"), failure();
  Body b("MatMulInteger", formals(c, {"A", "B", "az", "bz"}), {"Y"});
  centered(b, "a", "A", "az", c.hasInput(2),
           c.hasInput(2) ? c.inputType(2).getShape() : ArrayRef<int64_t>(),
           true);
  centered(b, "b", "B", "bz", c.hasInput(3),
           c.hasInput(3) ? c.inputType(3).getShape() : ArrayRef<int64_t>(),
           false);
  b("p", "MatMul (a, b)");
  b("Y", "Cast <to = 6> (p)");
  return c.expandBody(b.finish());
}

/// Requantizes the exact integer result `acc` (double) by `factor` (a
/// float32 value) to the zero point `zp`'s type, as the reference does:
/// round half to even, add the zero point, saturate.
void requantize(Body &b, NodeContext &c, unsigned zpInput,
                const std::string &acc, const std::string &factor) {
  Type out = c.inputType(zpInput).getElementType();
  std::pair<double, double> range = *quantRange(out);
  b("f64", "Cast <to = 11> (" + factor + ")");
  b("scaled", "Mul (" + acc + ", f64)");
  b("rounded", "Round (scaled)");
  b("yz", "Cast <to = 11> (y_zero_point)");
  b("shifted", "Add (rounded, yz)");
  b("lo", "Constant <value = double {" + real(range.first) + "}> ()");
  b("hi", "Constant <value = double {" + real(range.second) + "}> ()");
  b("cl", "Clip (shifted, lo, hi)");
  b("y", "Cast <to = " + std::to_string(onnxNumber(out)) + "> (cl)");
}

Results importQLinearMatMul(NodeContext &c) {
  if (!isQuantInt(c.inputType(0).getElementType()) ||
      !isQuantInt(c.inputType(3).getElementType()) ||
      !quantRange(c.inputType(7).getElementType()))
    return c.emitError("a, b and y must be int8 or uint8"), failure();
  Body b("QLinearMatMul",
         {"a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
          "y_scale", "y_zero_point"},
         {"y"});
  centered(b, "ac", "a", "a_zero_point", true, c.inputType(2).getShape(), true);
  centered(b, "bc", "b", "b_zero_point", true, c.inputType(5).getShape(), false);
  b("acc", "MatMul (ac, bc)");
  // a_scale * b_scale / y_scale in float32, as the reference.
  b("as", "Cast <to = 1> (a_scale)");
  b("bs", "Cast <to = 1> (b_scale)");
  b("ys", "Cast <to = 1> (y_scale)");
  // Per row of a: [M, 1].
  std::string a = alongAxis(b, "as", c.inputType(1).getShape(), 2, 0);
  b("ab", "Mul (" + a + ", bs)");
  b("factor", "Div (ab, ys)");
  requantize(b, c, 7, "acc", "factor");
  return c.expandBody(b.finish());
}

/// Conv's attributes as the text syntax writes them.
std::string convAttributes(NodeContext &c) {
  std::vector<std::string> attrs;
  std::string pad = c.getString("auto_pad", "NOTSET");
  if (pad != "NOTSET")
    attrs.push_back("auto_pad = \"" + pad + "\"");
  if (c.hasAttr("dilations"))
    attrs.push_back("dilations = " + ints(c.getInts("dilations")));
  attrs.push_back("group = " + std::to_string(c.getInt("group", 1)));
  if (c.hasAttr("kernel_shape"))
    attrs.push_back("kernel_shape = " + ints(c.getInts("kernel_shape")));
  if (c.hasAttr("pads"))
    attrs.push_back("pads = " + ints(c.getInts("pads")));
  if (c.hasAttr("strides"))
    attrs.push_back("strides = " + ints(c.getInts("strides")));
  return "<" + llvm::join(attrs, ", ") + ">";
}

/// `out` = a convolution's weight `w` (an 8-bit integer input) minus its
/// zero point (scalar or one per output channel), in double.
void centeredWeight(Body &b, NodeContext &c, const std::string &out,
                    const std::string &w, unsigned zpInput, unsigned wInput) {
  b(out + "_f", "Cast <to = 11> (" + w + ")");
  if (!c.hasInput(zpInput)) {
    b(out, "Identity (" + out + "_f)");
    return;
  }
  b(out + "_z", "Cast <to = 11> (w_zero_point)");
  std::string z = alongAxis(b, out + "_z", c.inputType(zpInput).getShape(),
                            c.inputType(wInput).getRank(), 0);
  b(out, "Sub (" + out + "_f, " + z + ")");
}

Results importConvInteger(NodeContext &c) {
  if (!isQuantInt(c.inputType(0).getElementType()) ||
      !isQuantInt(c.inputType(1).getElementType()))
    return c.emitError("x and w must be int8 or uint8"), failure();
  Body b("ConvInteger", formals(c, {"x", "w", "x_zero_point", "w_zero_point"}),
         {"y"});
  centered(b, "xc", "x", "x_zero_point", c.hasInput(2), {}, false);
  centeredWeight(b, c, "wc", "w", 3, 1);
  b("acc", "Conv " + convAttributes(c) + " (xc, wc)");
  b("y", "Cast <to = 6> (acc)");
  return c.expandBody(b.finish());
}

Results importQLinearConv(NodeContext &c) {
  if (!isQuantInt(c.inputType(0).getElementType()) ||
      !isQuantInt(c.inputType(3).getElementType()) ||
      !quantRange(c.inputType(7).getElementType()))
    return c.emitError("x, w and y must be int8 or uint8"), failure();
  Body b("QLinearConv",
         formals(c, {"x", "x_scale", "x_zero_point", "w", "w_scale",
                     "w_zero_point", "y_scale", "y_zero_point", "B"}),
         {"y"});
  centered(b, "xc", "x", "x_zero_point", true, {}, false);
  centeredWeight(b, c, "wc", "w", 5, 3);
  std::string acc = "conv";
  b("conv", "Conv " + convAttributes(c) + " (xc, wc)");
  int64_t rank = c.inputType(0).getRank();
  if (c.hasInput(8)) { // the int32 bias, per output channel
    b("bias_f", "Cast <to = 11> (B)");
    std::string bias =
        alongAxis(b, "bias_f", c.inputType(8).getShape(), rank, 1);
    b("acc", "Add (conv, " + bias + ")");
    acc = "acc";
  }
  b("xs", "Cast <to = 1> (x_scale)");
  b("ws", "Cast <to = 1> (w_scale)");
  b("ys", "Cast <to = 1> (y_scale)");
  // Per output channel.
  std::string ws = alongAxis(b, "ws", c.inputType(4).getShape(), rank, 1);
  b("xw", "Mul (xs, " + ws + ")");
  b("factor", "Div (xw, ys)");
  requantize(b, c, 7, acc, "factor");
  return c.expandBody(b.finish());
}

//===----------------------------------------------------------------------===//
// MatMulNBits (com.microsoft): weights block-quantized to 2, 4 or 8 bits
//===----------------------------------------------------------------------===//

/// `out` [rows, bytes * 8 / bits]: the codes packed low-first in each byte
/// of `packed` [rows, bytes] (uint8), as uint8.
void unpackCodes(Body &b, const std::string &out, const std::string &packed,
                 int64_t bits) {
  int64_t per = 8 / bits;
  b(out + "_mask", "Constant <value = uint8 {" + std::to_string((1 << bits) - 1) +
                       "}> ()");
  b(out + "_ax", intsConst({-1}));
  std::vector<std::string> parts;
  for (int64_t j = 0; j < per; ++j) {
    std::string shifted = packed;
    if (j > 0) {
      b(out + "_s" + std::to_string(j),
        "Constant <value = uint8 {" + std::to_string(j * bits) + "}> ()");
      shifted = out + "_sh" + std::to_string(j);
      b(shifted, "BitShift <direction = \"RIGHT\"> (" + packed + ", " + out +
                     "_s" + std::to_string(j) + ")");
    }
    std::string code = out + "_c" + std::to_string(j);
    b(code, "BitwiseAnd (" + shifted + ", " + out + "_mask)");
    parts.push_back(out + "_u" + std::to_string(j));
    b(parts.back(), "Unsqueeze (" + code + ", " + out + "_ax)");
  }
  b(out + "_cat", "Concat <axis = -1> (" + llvm::join(parts, ", ") + ")");
  b(out + "_flat_shape", intsConst({0, 0, -1}));
  b(out, "Reshape (" + out + "_cat, " + out + "_flat_shape)");
}

/// Y = A @ dequant(B)^T (+ bias), dequant(B)[n, k] = (code - zero point) *
/// scale of k's block in row n; codes packed low-first, `bits` each, along
/// K; the zero points uint8 packed alike (default 2^(bits - 1)) or of the
/// scales' type. Runs dequantized: the float weight [K, N] is what the
/// GEMM reads (folded at compile time when B is an initializer).
Results importMatMulNBits(NodeContext &c) {
  RankedTensorType a = c.inputType(0), bq = c.inputType(1),
                   scales = c.inputType(2);
  int64_t K = c.getInt("K", -1), N = c.getInt("N", -1),
          bits = c.getInt("bits", 4), block = c.getInt("block_size", -1);
  if (!isFloat(a.getElementType()) || !isFloat(scales.getElementType()))
    return c.emitError("A and scales must be floating-point"), failure();
  if (bits != 2 && bits != 4 && bits != 8)
    return c.emitError("bits ") << bits << " is not supported (2, 4 or 8)",
           failure();
  if (K <= 0 || N <= 0 || block < 16 || (block & (block - 1)) != 0)
    return c.emitError("K, N and block_size (a power of two, at least 16) "
                       "must be given"),
           failure();
  int64_t blocks = (K + block - 1) / block, blob = block * bits / 8;
  if (!bq.getElementType().isUnsignedInteger(8) &&
      !bq.getElementType().isSignlessInteger(8))
    return c.emitError("B must be uint8"), failure();
  if (bq.getRank() != 3 || bq.getDimSize(0) != N ||
      bq.getDimSize(1) != blocks || bq.getDimSize(2) != blob)
    return c.emitError("B is ")
           << ints(bq.getShape()) << "; K " << K << ", N " << N
           << ", bits " << bits << " and block_size " << block
           << " make it [" << N << ", " << blocks << ", " << blob << "]",
           failure();
  if (!a.hasStaticShape() || a.getRank() < 1 || a.getShape().back() != K)
    return c.emitError("A's last dim must be K = ") << K, failure();
  if (scales.getNumElements() != N * blocks)
    return c.emitError("scales has ")
           << scales.getNumElements() << " elements; it needs N * blocks = "
           << N * blocks,
           failure();
  if (c.hasInput(4))
    return c.emitError("g_idx (act-order block indices) is not supported"),
           failure();
  bool floatZp = c.hasInput(3) && isFloat(c.inputType(3).getElementType());
  if (c.hasInput(3)) {
    RankedTensorType zp = c.inputType(3);
    int64_t want = floatZp ? N * blocks : N * ((blocks * bits + 7) / 8);
    if (zp.getNumElements() != want)
      return c.emitError("zero_points has ")
             << zp.getNumElements() << " elements; it needs " << want,
             failure();
  }
  Body b("MatMulNBits", formals(c, {"A", "B", "scales", "zp", "g_idx", "bias"}),
         {"Y"});
  unpackCodes(b, "codes", "B", bits); // [N, blocks, block]
  b("q", "CastLike (codes, scales)");
  b("blk", intsConst({N, blocks, 1}));
  b("s3", "Reshape (scales, blk)");
  if (!c.hasInput(3)) {
    b("zp32", "Constant <value_float = " + real(1 << (bits - 1)) + "> ()");
    b("z3", "CastLike (zp32, scales)");
  } else if (floatZp) {
    b("z3", "Reshape (zp, blk)");
  } else {
    b("zrows", intsConst({N, 1, -1}));
    b("zpr", "Reshape (zp, zrows)");
    unpackCodes(b, "zcodes", "zpr", bits); // [N, 1, per-row codes]
    b("z_st", intsConst({0}));
    b("z_en", intsConst({blocks}));
    b("z_ax", intsConst({2}));
    b("zsl", "Slice (zcodes, z_st, z_en, z_ax)");
    b("zt", "Transpose <perm = [0, 2, 1]> (zsl)");
    b("z3", "CastLike (zt, scales)");
  }
  b("centered", "Sub (q, z3)");
  b("deq", "Mul (centered, s3)");
  b("nk", intsConst({N, blocks * block}));
  b("flat", "Reshape (deq, nk)");
  b("k_st", intsConst({0}));
  b("k_en", intsConst({K}));
  b("k_ax", intsConst({1}));
  b("wnk", "Slice (flat, k_st, k_en, k_ax)");
  b("wkn", "Transpose (wnk)");
  b("w", "CastLike (wkn, A)");
  if (c.hasInput(5)) {
    b("prod", "MatMul (A, w)");
    b("Y", "Add (prod, bias)");
  } else {
    b("Y", "MatMul (A, w)");
  }
  return c.expandBody(b.finish());
}

} // namespace

void mlir::llmc::onnximport::registerQuantOps(OpImporterRegistry &r) {
  constexpr int64_t max = OpImporterRegistry::kMaxOpset;
  r.add("DequantizeLinear", 10, max, needs(2, importDequantizeLinear));
  r.add("QuantizeLinear", 10, max, needs(2, importQuantizeLinear));
  r.add("DynamicQuantizeLinear", 11, max, needs(1, importDynamicQuantizeLinear));
  r.add("MatMulInteger", 10, max, needs(2, importMatMulInteger));
  r.add("QLinearMatMul", 10, max, needs(8, importQLinearMatMul));
  r.add("ConvInteger", 10, max, needs(2, importConvInteger));
  r.add("QLinearConv", 10, max, needs(8, importQLinearConv));
  // ONNX Runtime's int4 (and 2-, 8-bit) weight-only quantizer's.
  r.add("com.microsoft.MatMulNBits", 1, 1, needs(3, importMatMulNBits));
}
