//===- GraphScalarCompute.cpp - Scalar bodies of elementwise graph ops ----===//
//
// ScalarComputeOpInterface: each elementwise op builds its computation on one
// scalar per operand, in the signless storage type of that operand. The
// lowering wraps these bodies into linalg.generic ops built from the
// iteration-space maps, so this file is the only place that knows what each
// elementwise op computes.
//
// Integer division and remainder guard a zero divisor (and INT_MIN / -1) so
// that no input can trap at run time; ONNX leaves those results undefined
// and llmc returns 0.
//
//===----------------------------------------------------------------------===//

#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

#include <cmath>
#include <optional>

using namespace mlir;
using namespace mlir::llmc::graph;

namespace {
/// Small builder facade so that each op's body reads like its formula.
struct ScalarBuilder {
  OpBuilder &b;
  Location loc;
  Type type; // storage type of the value being computed

  bool isFloat() const { return isa<FloatType>(type); }

  Value c(double v) const { return c(v, type); }
  Value c(double v, Type t) const {
    if (isa<FloatType>(t))
      return arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, v));
    return arith::ConstantOp::create(
        b, loc, t, b.getIntegerAttr(t, static_cast<int64_t>(v)));
  }
  Value add(Value x, Value y) const {
    return isFloat() ? (Value)arith::AddFOp::create(b, loc, x, y)
                     : (Value)arith::AddIOp::create(b, loc, x, y);
  }
  Value sub(Value x, Value y) const {
    return isFloat() ? (Value)arith::SubFOp::create(b, loc, x, y)
                     : (Value)arith::SubIOp::create(b, loc, x, y);
  }
  Value mul(Value x, Value y) const {
    return isFloat() ? (Value)arith::MulFOp::create(b, loc, x, y)
                     : (Value)arith::MulIOp::create(b, loc, x, y);
  }
  Value div(Value x, Value y) const {
    return arith::DivFOp::create(b, loc, x, y);
  }
  Value exp(Value x) const { return math::ExpOp::create(b, loc, x); }
  Value select(Value cond, Value x, Value y) const {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) const {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value cmpi(arith::CmpIPredicate p, Value x, Value y) const {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value lt(Value x, Value y, bool isUnsigned = false) const {
    return isFloat() ? cmpf(arith::CmpFPredicate::OLT, x, y)
                     : cmpi(isUnsigned ? arith::CmpIPredicate::ult
                                       : arith::CmpIPredicate::slt,
                            x, y);
  }
  Value gt(Value x, Value y, bool isUnsigned = false) const {
    return lt(y, x, isUnsigned);
  }
  Value maxf(Value x, Value y) const {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value minf(Value x, Value y) const {
    return arith::MinimumFOp::create(b, loc, x, y);
  }
};

ScalarBuilder scalar(OpBuilder &b, Location loc, Operation *op) {
  return {b, loc, getStorageType(getElementTypeOrSelf(op->getResult(0)))};
}

bool isUnsignedOperand(Operation *op, unsigned i = 0) {
  return isUnsignedInteger(op->getOperand(i).getType());
}

/// Integer division or remainder that never traps.
Value safeIntDivRem(OpBuilder &b, Location loc, Value x, Value y,
                    bool isUnsigned, bool remainder) {
  Type t = x.getType();
  Value zero = arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, 0));
  Value one = arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, 1));
  Value isZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, zero);
  Value bad = isZero;
  if (!isUnsigned) {
    // INT_MIN / -1 overflows: divide by 1 and negate instead.
    Value minusOne =
        arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, -1));
    Value isMinusOne =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, minusOne);
    bad = arith::OrIOp::create(b, loc, isZero, isMinusOne);
  }
  Value safeY = arith::SelectOp::create(b, loc, bad, one, y);
  Value r;
  if (remainder)
    r = isUnsigned ? (Value)arith::RemUIOp::create(b, loc, x, safeY)
                   : (Value)arith::RemSIOp::create(b, loc, x, safeY);
  else
    r = isUnsigned ? (Value)arith::DivUIOp::create(b, loc, x, safeY)
                   : (Value)arith::DivSIOp::create(b, loc, x, safeY);
  if (!isUnsigned && !remainder) {
    Value isMinusOne = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, y,
        arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, -1)));
    Value negated = arith::SubIOp::create(b, loc, zero, x);
    r = arith::SelectOp::create(b, loc, isMinusOne, negated, r);
  }
  if (remainder && !isUnsigned) {
    Value isMinusOne = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, y,
        arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, -1)));
    r = arith::SelectOp::create(b, loc, isMinusOne, zero, r);
  }
  return arith::SelectOp::create(b, loc, isZero, zero, r);
}
} // namespace

namespace {
/// An 8-bit float format (ONNX's FLOAT8*): its fields, and how it spells
/// what it cannot hold. FN formats have no infinity and one NaN per sign
/// (all ones); FNUZ formats have neither infinity nor negative zero, and
/// 0x80 is their NaN; E5M2 is IEEE-like.
/// FLOAT4E2M1 (4 bits) has neither infinity nor NaN: ml_dtypes and the
/// ONNX reference saturate to it and turn NaN into the zero of the other
/// sign.
struct SmallFloat {
  unsigned bits = 8;
  unsigned mantissa = 0;
  int bias = 0;
  unsigned maxCode = 0;   // the largest finite magnitude's code
  bool fnuz = false;
  bool hasInf = false;
  bool hasNaN = true;
};

std::optional<SmallFloat> smallFloat(Type t) {
  if (isa<Float8E4M3FNType>(t))
    return SmallFloat{8, 3, 7, 0x7E, false, false, true};
  if (isa<Float8E4M3FNUZType>(t))
    return SmallFloat{8, 3, 8, 0x7F, true, false, true};
  if (isa<Float8E5M2Type>(t))
    return SmallFloat{8, 2, 15, 0x7B, false, true, true};
  if (isa<Float8E5M2FNUZType>(t))
    return SmallFloat{8, 2, 16, 0x7F, true, false, true};
  if (isa<Float4E2M1FNType>(t))
    return SmallFloat{4, 1, 1, 0x7, false, false, false};
  return std::nullopt;
}

/// Integer arithmetic on i32 scalars, for the 8-bit float conversions.
struct Bits {
  OpBuilder &b;
  Location loc;
  Value c(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value shr(Value x, int64_t n) { return arith::ShRUIOp::create(b, loc, x, c(n)); }
  Value shl(Value x, int64_t n) { return arith::ShLIOp::create(b, loc, x, c(n)); }
  Value band(Value x, int64_t m) { return arith::AndIOp::create(b, loc, x, c(m)); }
  Value bor(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, int64_t v) {
    return arith::CmpIOp::create(b, loc, p, x, c(v));
  }
  Value eq(Value x, int64_t v) { return cmp(arith::CmpIPredicate::eq, x, v); }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
};

/// The f32 value of 8-bit float `x` (exact: every 8-bit float is an f32).
Value decodeSmallFloat(OpBuilder &b, Location loc, Value x, SmallFloat f) {
  Bits i{b, loc};
  Type f32 = b.getF32Type();
  Value bits = arith::ExtUIOp::create(
      b, loc, b.getI32Type(),
      arith::BitcastOp::create(b, loc, b.getIntegerType(f.bits), x));
  unsigned m = f.mantissa, e = f.bits - 1 - m;
  Value sign = i.shl(i.shr(bits, f.bits - 1), 31);
  Value exponent = i.band(i.shr(bits, m), (1 << e) - 1);
  Value mantissa = i.band(bits, (1 << m) - 1);
  // Normal: rebias the exponent and widen the mantissa into f32's fields.
  Value normal = i.bor(i.shl(i.add(exponent, i.c(127 - f.bias)), 23),
                       i.shl(mantissa, 23 - m));
  // Subnormal (exponent 0): mantissa * 2^(1 - bias - m), exact in f32.
  Value sub = arith::BitcastOp::create(
      b, loc, b.getI32Type(),
      arith::MulFOp::create(
          b, loc, arith::UIToFPOp::create(b, loc, f32, mantissa),
          arith::ConstantOp::create(
              b, loc, b.getF32FloatAttr(std::ldexp(1.0f, 1 - f.bias - int(m))))));
  Value magnitude = i.select(i.eq(exponent, 0), sub, normal);
  Value value = i.bor(sign, magnitude);
  Value nan = i.c(0x7FC00000);
  if (f.fnuz) {
    value = i.select(i.eq(bits, 0x80), i.bor(sign, nan), value); // -NaN
  } else if (f.hasInf) {
    // All-ones exponent: infinity (mantissa 0) or NaN.
    Value top = i.eq(exponent, (1 << e) - 1);
    Value inf = i.bor(sign, i.c(0x7F800000));
    value = i.select(top, i.select(i.eq(mantissa, 0), inf, i.bor(sign, nan)),
                     value);
  } else if (f.hasNaN) {
    value = i.select(i.eq(i.band(bits, 0x7F), 0x7F), i.bor(sign, nan), value);
  }
  return arith::BitcastOp::create(b, loc, f32, value);
}

/// `x` (f32) rounded to the nearest 8-bit float of format `f` (ties to
/// even), as ml_dtypes and the ONNX reference do: beyond the largest
/// finite value it is infinity where the format has one, else NaN; NaN
/// keeps its sign where the format has signed NaNs. (ONNX's saturating
/// Cast clips before this.)
Value encodeSmallFloat(OpBuilder &b, Location loc, Value x, SmallFloat f,
                       Type to) {
  Bits i{b, loc};
  unsigned m = f.mantissa;
  Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), x);
  Value sign = i.shr(bits, 31);
  Value a = i.band(bits, 0x7FFFFFFF);
  // Normal in the target: round f32's mantissa to m bits, ties to even
  // (a carry into the exponent is the next binade), and rebias.
  Value lsb = i.band(i.shr(a, 23 - m), 1);
  Value rounded = i.add(i.add(a, i.c((1 << (22 - m)) - 1)), lsb);
  Value normal = i.sub(i.shr(rounded, 23 - m), i.c((127 - f.bias) << m));
  // Below the smallest normal: |x| in units of the smallest subnormal,
  // rounded to even (2^m, the smallest normal, is that normal's code).
  Value scaled = arith::MulFOp::create(
      b, loc, math::AbsFOp::create(b, loc, x),
      arith::ConstantOp::create(
          b, loc, b.getF32FloatAttr(std::ldexp(1.0f, f.bias - 1 + int(m)))));
  Value sub = arith::FPToUIOp::create(
      b, loc, b.getI32Type(), math::RoundEvenOp::create(b, loc, scaled));
  Value isSub = i.cmp(arith::CmpIPredicate::ult, a, (128 - f.bias) << 23);
  Value code = i.select(isSub, sub, normal);
  Value over = i.cmp(arith::CmpIPredicate::ugt, code, f.maxCode);
  Value isNaN = i.cmp(arith::CmpIPredicate::ugt, a, 0x7F800000);
  Value signBit = i.shl(sign, f.bits - 1);
  Value result;
  if (!f.hasNaN) {
    // Saturating; NaN is the zero of the other sign (ml_dtypes').
    Value finite = i.bor(signBit, i.select(over, i.c(f.maxCode), code));
    Value nanZero =
        arith::XOrIOp::create(b, loc, signBit, i.c(1 << (f.bits - 1)));
    result = i.select(isNaN, nanZero, finite);
  } else if (f.fnuz) {
    // No negative zero; NaN and overflow are 0x80.
    Value signedCode = i.select(i.eq(code, 0), code, i.bor(signBit, code));
    result = i.select(arith::OrIOp::create(b, loc, over, isNaN), i.c(0x80),
                      signedCode);
  } else {
    Value overflow = i.bor(signBit, i.c(f.hasInf ? 0x7C : 0x7F));
    Value nan = i.bor(signBit, i.c(f.hasInf ? 0x7E : 0x7F));
    result = i.select(isNaN, nan,
                      i.select(over, overflow, i.bor(signBit, code)));
  }
  return arith::BitcastOp::create(
      b, loc, to,
      arith::TruncIOp::create(b, loc, b.getIntegerType(f.bits), result));
}
} // namespace

/// Converts a scalar between storage types with ONNX Cast semantics.
static Value convertScalar(OpBuilder &b, Location loc, Value x, Type from,
                           bool fromUnsigned, Type to, bool toUnsigned) {
  if (from == to)
    return x;
  // 8-bit floats go through f32, which holds each of them exactly.
  if (std::optional<SmallFloat> f = smallFloat(from)) {
    Value wide = decodeSmallFloat(b, loc, x, *f);
    return convertScalar(b, loc, wide, b.getF32Type(), false, to, toUnsigned);
  }
  if (std::optional<SmallFloat> f = smallFloat(to)) {
    Value wide =
        convertScalar(b, loc, x, from, fromUnsigned, b.getF32Type(), false);
    return encodeSmallFloat(b, loc, wide, *f, to);
  }
  auto fromFloat = dyn_cast<FloatType>(from);
  auto toFloat = dyn_cast<FloatType>(to);
  if (to.isInteger(1)) {
    if (fromFloat) {
      Value zero = arith::ConstantOp::create(b, loc, from, b.getFloatAttr(from, 0));
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zero);
    }
    Value zero = arith::ConstantOp::create(b, loc, from, b.getIntegerAttr(from, 0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero);
  }
  if (fromFloat && toFloat) {
    // bf16 <-> f16 have the same width but no direct conversion: go via f32.
    if (fromFloat.getWidth() == toFloat.getWidth()) {
      Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
      return arith::TruncFOp::create(b, loc, to, wide);
    }
    if (fromFloat.getWidth() < toFloat.getWidth())
      return arith::ExtFOp::create(b, loc, to, x);
    return arith::TruncFOp::create(b, loc, to, x);
  }
  if (toFloat) {
    if (fromUnsigned || from.isInteger(1))
      return arith::UIToFPOp::create(b, loc, to, x);
    return arith::SIToFPOp::create(b, loc, to, x);
  }
  if (fromFloat) {
    // To INT4/UINT4: toward zero, then wrapped to 4 bits (ml_dtypes').
    if (to.getIntOrFloatBitWidth() < 8) {
      Value wide = arith::FPToSIOp::create(b, loc, b.getI32Type(), x);
      return arith::TruncIOp::create(b, loc, to, wide);
    }
    if (toUnsigned)
      return arith::FPToUIOp::create(b, loc, to, x);
    return arith::FPToSIOp::create(b, loc, to, x);
  }
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw < tw) {
    if (fromUnsigned || from.isInteger(1))
      return arith::ExtUIOp::create(b, loc, to, x);
    return arith::ExtSIOp::create(b, loc, to, x);
  }
  if (fw > tw)
    return arith::TruncIOp::create(b, loc, to, x);
  return x;
}

//===----------------------------------------------------------------------===//
// Unary ops.
//===----------------------------------------------------------------------===//

#define LLMC_MATH_UNARY(OP, MATH_OP)                                           \
  Value OP::buildScalarComputation(OpBuilder &b, Location loc,                 \
                                   ValueRange args) {                          \
    return MATH_OP::create(b, loc, args[0]);                                   \
  }
LLMC_MATH_UNARY(ExpOp, math::ExpOp)
LLMC_MATH_UNARY(LogOp, math::LogOp)
LLMC_MATH_UNARY(SqrtOp, math::SqrtOp)
LLMC_MATH_UNARY(CeilOp, math::CeilOp)
LLMC_MATH_UNARY(FloorOp, math::FloorOp)
LLMC_MATH_UNARY(RoundOp, math::RoundEvenOp)
LLMC_MATH_UNARY(SinOp, math::SinOp)
LLMC_MATH_UNARY(CosOp, math::CosOp)
LLMC_MATH_UNARY(TanOp, math::TanOp)
LLMC_MATH_UNARY(AsinOp, math::AsinOp)
LLMC_MATH_UNARY(AcosOp, math::AcosOp)
LLMC_MATH_UNARY(AtanOp, math::AtanOp)
LLMC_MATH_UNARY(SinhOp, math::SinhOp)
LLMC_MATH_UNARY(CoshOp, math::CoshOp)
LLMC_MATH_UNARY(AsinhOp, math::AsinhOp)
LLMC_MATH_UNARY(AcoshOp, math::AcoshOp)
LLMC_MATH_UNARY(AtanhOp, math::AtanhOp)
LLMC_MATH_UNARY(TanhOp, math::TanhOp)
LLMC_MATH_UNARY(ErfOp, math::ErfOp)
#undef LLMC_MATH_UNARY

Value AbsOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  if (s.isFloat())
    return math::AbsFOp::create(b, loc, args[0]);
  if (isUnsignedOperand(*this))
    return args[0];
  return math::AbsIOp::create(b, loc, args[0]);
}

Value NegOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  if (s.isFloat())
    return arith::NegFOp::create(b, loc, args[0]);
  return s.sub(s.c(0), args[0]);
}

Value SignOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  bool isUnsigned = isUnsignedOperand(*this);
  Value x = args[0], zero = s.c(0);
  Value positive = s.select(s.gt(x, zero, isUnsigned), s.c(1), zero);
  if (isUnsigned)
    return positive;
  return s.select(s.lt(x, zero), s.c(-1), positive);
}

Value ReluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  if (s.isFloat())
    return s.maxf(args[0], s.c(0));
  if (isUnsignedOperand(*this))
    return args[0];
  return arith::MaxSIOp::create(b, loc, args[0], s.c(0));
}

Value ReciprocalOp::buildScalarComputation(OpBuilder &b, Location loc,
                                           ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  return s.div(s.c(1), args[0]);
}

Value SigmoidOp::buildScalarComputation(OpBuilder &b, Location loc,
                                        ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value e = s.exp(arith::NegFOp::create(b, loc, args[0]));
  return s.div(s.c(1), s.add(s.c(1), e));
}

Value SoftplusOp::buildScalarComputation(OpBuilder &b, Location loc,
                                         ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  return math::LogOp::create(b, loc, s.add(s.exp(args[0]), s.c(1)));
}

Value SoftsignOp::buildScalarComputation(OpBuilder &b, Location loc,
                                         ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value abs = math::AbsFOp::create(b, loc, args[0]);
  return s.div(args[0], s.add(s.c(1), abs));
}

Value HardSwishOp::buildScalarComputation(OpBuilder &b, Location loc,
                                          ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0];
  Value t = s.add(s.mul(x, s.c(1.0 / 6.0)), s.c(0.5));
  return s.mul(x, s.maxf(s.c(0), s.minf(s.c(1), t)));
}

Value NotOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  return arith::XOrIOp::create(b, loc, args[0], s.c(1));
}

Value BitwiseNotOp::buildScalarComputation(OpBuilder &b, Location loc,
                                           ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  return arith::XOrIOp::create(b, loc, args[0], s.c(-1));
}

Value GeluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0], inner;
  if (getApproximate() == "tanh") {
    Value cube = s.mul(s.mul(x, x), x);
    Value poly = s.add(x, s.mul(s.c(0.044715), cube));
    inner = math::TanhOp::create(b, loc, s.mul(s.c(std::sqrt(2.0 / M_PI)), poly));
  } else {
    inner = math::ErfOp::create(b, loc, s.mul(x, s.c(M_SQRT1_2)));
  }
  return s.mul(s.mul(s.c(0.5), x), s.add(s.c(1), inner));
}

Value LeakyReluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                          ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0];
  return s.select(s.lt(x, s.c(0)), s.mul(s.c(getAlpha().convertToDouble()), x),
                  x);
}

Value EluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0];
  Value neg = s.mul(s.c(getAlpha().convertToDouble()), s.sub(s.exp(x), s.c(1)));
  return s.select(s.lt(x, s.c(0)), neg, x);
}

Value CeluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0], alpha = s.c(getAlpha().convertToDouble());
  Value neg = s.mul(alpha, s.sub(s.exp(s.div(x, alpha)), s.c(1)));
  return s.add(s.maxf(s.c(0), x), s.minf(s.c(0), neg));
}

Value SeluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0], alpha = s.c(getAlpha().convertToDouble());
  Value gamma = s.c(getGamma().convertToDouble());
  Value neg = s.sub(s.mul(alpha, s.exp(x)), alpha);
  return s.mul(gamma, s.select(s.gt(x, s.c(0)), x, neg));
}

Value HardSigmoidOp::buildScalarComputation(OpBuilder &b, Location loc,
                                            ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value t = s.add(s.mul(s.c(getAlpha().convertToDouble()), args[0]),
                  s.c(getBeta().convertToDouble()));
  return s.maxf(s.c(0), s.minf(s.c(1), t));
}

Value ThresholdedReluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                                ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0];
  return s.select(s.gt(x, s.c(getAlpha().convertToDouble())), x, s.c(0));
}

Value ShrinkOp::buildScalarComputation(OpBuilder &b, Location loc,
                                       ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0];
  double lambd = getLambd().convertToDouble(), bias = getBias().convertToDouble();
  bool isUnsigned = isUnsignedOperand(*this);
  Value below = s.select(s.lt(x, s.c(-lambd), isUnsigned), s.add(x, s.c(bias)),
                         s.c(0));
  return s.select(s.gt(x, s.c(lambd), isUnsigned), s.sub(x, s.c(bias)), below);
}

Value ClipOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  bool isUnsigned = isUnsignedOperand(*this);
  Value x = args[0];
  // Comparisons keep NaN inputs as they are, as numpy.clip does.
  if (auto lo = getMinAttr()) {
    Value v = s.c(lo.getValueAsDouble());
    x = s.select(s.lt(x, v, isUnsigned), v, x);
  }
  if (auto hi = getMaxAttr()) {
    Value v = s.c(hi.getValueAsDouble());
    x = s.select(s.gt(x, v, isUnsigned), v, x);
  }
  return x;
}

Value IsNaNOp::buildScalarComputation(OpBuilder &b, Location loc,
                                      ValueRange args) {
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, args[0],
                               args[0]);
}

Value IsInfOp::buildScalarComputation(OpBuilder &b, Location loc,
                                      ValueRange args) {
  Type t = args[0].getType();
  ScalarBuilder s{b, loc, t};
  Value inf = s.c(INFINITY);
  Value pos = s.cmpf(arith::CmpFPredicate::OEQ, args[0], inf);
  Value neg = s.cmpf(arith::CmpFPredicate::OEQ, args[0],
                     arith::NegFOp::create(b, loc, inf));
  Value f = arith::ConstantOp::create(b, loc, b.getI1Type(), b.getBoolAttr(false));
  Value r = getDetectPositive() ? pos : f;
  if (getDetectNegative())
    r = arith::OrIOp::create(b, loc, r, neg);
  return r;
}

Value CastOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  Type from = getInput().getType().getElementType();
  Type to = getOutput().getType().getElementType();
  return convertScalar(b, loc, args[0], getStorageType(from),
                       isUnsignedInteger(from), getStorageType(to),
                       isUnsignedInteger(to));
}

Value BroadcastToOp::buildScalarComputation(OpBuilder &, Location,
                                            ValueRange args) {
  return args[0];
}

//===----------------------------------------------------------------------===//
// Binary and ternary ops.
//===----------------------------------------------------------------------===//

Value AddOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  return scalar(b, loc, *this).add(args[0], args[1]);
}
Value SubOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  return scalar(b, loc, *this).sub(args[0], args[1]);
}
Value MulOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  return scalar(b, loc, *this).mul(args[0], args[1]);
}
Value DivOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  if (s.isFloat())
    return s.div(args[0], args[1]);
  return safeIntDivRem(b, loc, args[0], args[1], isUnsignedOperand(*this),
                       /*remainder=*/false);
}

Value PowOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  Type base = getLhs().getType().getElementType();
  Type exponent = getRhs().getType().getElementType();
  // Compute in the base's float type (f64 for integer bases).
  Type ft = isa<FloatType>(base) ? base : (Type)b.getF64Type();
  Value x = convertScalar(b, loc, args[0], getStorageType(base),
                          isUnsignedInteger(base), ft, false);
  Value y = convertScalar(b, loc, args[1], getStorageType(exponent),
                          isUnsignedInteger(exponent), ft, false);
  Value r = math::PowFOp::create(b, loc, x, y);
  return convertScalar(b, loc, r, ft, false, getStorageType(base),
                       isUnsignedInteger(base));
}

Value ModOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0], y = args[1];
  if (s.isFloat()) {
    Value r = arith::RemFOp::create(b, loc, x, y);
    if (getFmod())
      return r;
    // Sign of the divisor: add y when the signs differ and r != 0.
    Value zero = s.c(0);
    Value rNeg = s.lt(r, zero), yNeg = s.lt(y, zero);
    Value differ = arith::XOrIOp::create(b, loc, rNeg, yNeg);
    Value nonzero = s.cmpf(arith::CmpFPredicate::ONE, r, zero);
    Value fix = arith::AndIOp::create(b, loc, differ, nonzero);
    return s.select(fix, s.add(r, y), r);
  }
  bool isUnsigned = isUnsignedOperand(*this);
  Value r = safeIntDivRem(b, loc, x, y, isUnsigned, /*remainder=*/true);
  if (isUnsigned || getFmod())
    return r;
  Value zero = s.c(0);
  Value differ = arith::XOrIOp::create(b, loc, s.lt(r, zero), s.lt(y, zero));
  Value nonzero = s.cmpi(arith::CmpIPredicate::ne, r, zero);
  Value fix = arith::AndIOp::create(b, loc, differ, nonzero);
  return s.select(fix, s.add(r, y), r);
}

Value MinOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  if (s.isFloat())
    return s.minf(args[0], args[1]);
  if (isUnsignedOperand(*this))
    return arith::MinUIOp::create(b, loc, args[0], args[1]);
  return arith::MinSIOp::create(b, loc, args[0], args[1]);
}

Value MaxOp::buildScalarComputation(OpBuilder &b, Location loc,
                                    ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  if (s.isFloat())
    return s.maxf(args[0], args[1]);
  if (isUnsignedOperand(*this))
    return arith::MaxUIOp::create(b, loc, args[0], args[1]);
  return arith::MaxSIOp::create(b, loc, args[0], args[1]);
}

Value PReluOp::buildScalarComputation(OpBuilder &b, Location loc,
                                      ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  Value x = args[0];
  return s.select(s.lt(x, s.c(0), isUnsignedOperand(*this)),
                  s.mul(args[1], x), x);
}

Value BitShiftOp::buildScalarComputation(OpBuilder &b, Location loc,
                                         ValueRange args) {
  ScalarBuilder s = scalar(b, loc, *this);
  // Shifting by the bit width or more is poison in LLVM: yield 0 instead.
  unsigned width = s.type.getIntOrFloatBitWidth();
  Value tooFar = s.cmpi(arith::CmpIPredicate::uge, args[1], s.c(width));
  Value shifted = getDirection() == "LEFT"
                      ? (Value)arith::ShLIOp::create(b, loc, args[0], args[1])
                      : (Value)arith::ShRUIOp::create(b, loc, args[0], args[1]);
  return s.select(tooFar, s.c(0), shifted);
}

#define LLMC_INT_BINARY(OP, ARITH_OP)                                          \
  Value OP::buildScalarComputation(OpBuilder &b, Location loc,                 \
                                   ValueRange args) {                          \
    return ARITH_OP::create(b, loc, args[0], args[1]);                         \
  }
LLMC_INT_BINARY(AndOp, arith::AndIOp)
LLMC_INT_BINARY(OrOp, arith::OrIOp)
LLMC_INT_BINARY(XorOp, arith::XOrIOp)
LLMC_INT_BINARY(BitwiseAndOp, arith::AndIOp)
LLMC_INT_BINARY(BitwiseOrOp, arith::OrIOp)
LLMC_INT_BINARY(BitwiseXorOp, arith::XOrIOp)
#undef LLMC_INT_BINARY

/// Comparison of two operands of one (storage) type.
static Value compare(OpBuilder &b, Location loc, Operation *op, ValueRange args,
                     arith::CmpFPredicate fp, arith::CmpIPredicate sp,
                     arith::CmpIPredicate up) {
  Type t = args[0].getType();
  if (isa<FloatType>(t))
    return arith::CmpFOp::create(b, loc, fp, args[0], args[1]);
  return arith::CmpIOp::create(b, loc, isUnsignedOperand(op) ? up : sp, args[0],
                               args[1]);
}

Value EqualOp::buildScalarComputation(OpBuilder &b, Location loc,
                                      ValueRange args) {
  return compare(b, loc, *this, args, arith::CmpFPredicate::OEQ,
                 arith::CmpIPredicate::eq, arith::CmpIPredicate::eq);
}
Value LessOp::buildScalarComputation(OpBuilder &b, Location loc,
                                     ValueRange args) {
  return compare(b, loc, *this, args, arith::CmpFPredicate::OLT,
                 arith::CmpIPredicate::slt, arith::CmpIPredicate::ult);
}
Value LessEqualOp::buildScalarComputation(OpBuilder &b, Location loc,
                                          ValueRange args) {
  return compare(b, loc, *this, args, arith::CmpFPredicate::OLE,
                 arith::CmpIPredicate::sle, arith::CmpIPredicate::ule);
}
Value GreaterOp::buildScalarComputation(OpBuilder &b, Location loc,
                                        ValueRange args) {
  return compare(b, loc, *this, args, arith::CmpFPredicate::OGT,
                 arith::CmpIPredicate::sgt, arith::CmpIPredicate::ugt);
}
Value GreaterEqualOp::buildScalarComputation(OpBuilder &b, Location loc,
                                             ValueRange args) {
  return compare(b, loc, *this, args, arith::CmpFPredicate::OGE,
                 arith::CmpIPredicate::sge, arith::CmpIPredicate::uge);
}

Value WhereOp::buildScalarComputation(OpBuilder &b, Location loc,
                                      ValueRange args) {
  return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
}
