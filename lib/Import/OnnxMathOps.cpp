//===- OnnxMathOps.cpp - Importers of ONNX elementwise math and logic -----===//

#include "OnnxImportContext.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;
namespace g = mlir::llmc::graph;

namespace {
template <typename OpTy>
OpImporter unary() {
  return [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(OpTy::create(c.b, c.loc, x.getType(), x));
  };
}

/// Before opset 7, binary ops broadcast only with `broadcast = 1`, and then
/// the second operand's dims line up with the first's from `axis` on (by
/// default, with its trailing dims). Reshape it so numpy broadcasting means
/// the same.
Value legacyBroadcast(NodeContext &c, Value x, Value y) {
  if (c.opset >= 7 || c.getInt("broadcast", 0) == 0 || !c.hasAttr("axis"))
    return y;
  auto xt = cast<RankedTensorType>(x.getType());
  auto yt = cast<RankedTensorType>(y.getType());
  int64_t axis = c.getInt("axis", 0);
  if (axis < 0)
    axis += xt.getRank();
  if (axis < 0 || axis + yt.getRank() > xt.getRank())
    return y;
  SmallVector<int64_t> shape(yt.getShape());
  shape.append(xt.getRank() - axis - yt.getRank(), 1);
  return g::ReshapeOp::create(c.b, c.loc,
                              RankedTensorType::get(shape, yt.getElementType()),
                              y);
}

template <typename OpTy>
OpImporter binary() {
  return [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0), y = legacyBroadcast(c, c.input(0), c.input(1));
    if (getElementTypeOrSelf(x.getType()) != getElementTypeOrSelf(y.getType())) {
      c.emitError("operands have different element types");
      return failure();
    }
    SmallVector<Type> inferred;
    if (failed(OpTy::inferReturnTypes(c.b.getContext(), c.loc, {x, y}, DictionaryAttr(),
                                      OpaqueProperties(nullptr), RegionRange(), inferred))) {
      c.emitError("operand shapes ")
          << x.getType() << " and " << y.getType() << " do not broadcast";
      return failure();
    }
    return single(OpTy::create(c.b, c.loc, x, y));
  };
}

/// Sum, Mean, Max, Min over any number of inputs.
template <typename OpTy>
OpImporter variadic(bool mean = false) {
  return [mean](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value acc = c.input(0);
    for (unsigned i = 1; i < c.numInputs(); ++i) {
      SmallVector<Type> inferred;
      if (failed(OpTy::inferReturnTypes(c.b.getContext(), c.loc,
                                        {acc, c.input(i)}, DictionaryAttr(), OpaqueProperties(nullptr), RegionRange(), inferred))) {
        c.emitError("input shapes do not broadcast");
        return failure();
      }
      acc = OpTy::create(c.b, c.loc, acc, c.input(i));
    }
    if (mean && c.numInputs() > 1)
      acc = g::DivOp::create(
          c.b, c.loc, acc,
          c.scalarConstant(getElementTypeOrSelf(acc.getType()), c.numInputs()));
    return single(acc);
  };
}

FailureOr<SmallVector<Value>> importClip(NodeContext &c) {
  Value x = c.input(0);
  std::optional<double> lo, hi;
  if (c.opset < 11) {
    if (c.hasAttr("min"))
      lo = c.getFloat("min", 0);
    if (c.hasAttr("max"))
      hi = c.getFloat("max", 0);
  } else {
    if (c.hasInput(1)) {
      auto v = c.constantFloats(1, "Clip min");
      if (failed(v))
        return failure();
      lo = (*v)[0];
    }
    if (c.hasInput(2)) {
      auto v = c.constantFloats(2, "Clip max");
      if (failed(v))
        return failure();
      hi = (*v)[0];
    }
  }
  return single(g::ClipOp::create(
      c.b, c.loc, x.getType(), x,
      lo ? c.b.getF64FloatAttr(*lo) : FloatAttr(),
      hi ? c.b.getF64FloatAttr(*hi) : FloatAttr()));
}

FailureOr<SmallVector<Value>> importCast(NodeContext &c) {
  Value x = c.input(0);
  Type to;
  if (c.node.op_type() == "CastLike")
    to = getElementTypeOrSelf(c.input(1).getType());
  else
    if (const onnx::AttributeProto *a = c.getAttr("to");
        a && a->type() == onnx::AttributeProto::STRING) {
      // Before opset 6, `to` named the type ("FLOAT").
      onnx::TensorProto_DataType t;
      if (onnx::TensorProto_DataType_Parse(a->s(), &t))
        to = c.elementType(t);
    } else {
      to = c.elementType(static_cast<int32_t>(c.getInt("to", 0)));
    }
  if (!to) {
    c.emitError("unsupported target type ")
        << onnxTypeName(static_cast<int32_t>(c.getInt("to", 0)));
    return failure();
  }
  auto type = cast<RankedTensorType>(x.getType());
  // To an 8-bit float, Cast saturates by default (opset 19's `saturate`):
  // finite values beyond the largest, and infinities, become the largest;
  // NaN stays NaN. Otherwise they become infinity or NaN (graph.cast).
  if (to.getIntOrFloatBitWidth() == 8 && isa<FloatType>(to) &&
      c.getInt("saturate", 1) != 0) {
    auto from = dyn_cast<FloatType>(type.getElementType());
    if (from && from.getWidth() > 8) {
      double max = APFloat::getLargest(cast<FloatType>(to).getFloatSemantics())
                       .convertToDouble();
      x = g::ClipOp::create(c.b, c.loc, type, x, c.b.getF64FloatAttr(-max),
                            c.b.getF64FloatAttr(max));
    }
  }
  return single(
      g::CastOp::create(c.b, c.loc, type.clone(to), x));
}

FailureOr<SmallVector<Value>> importPow(NodeContext &c) {
  Value x = c.input(0), y = c.input(1);
  SmallVector<Type> inferred;
  if (failed(g::PowOp::inferReturnTypes(c.b.getContext(), c.loc, {x, y},
                                        DictionaryAttr(), OpaqueProperties(nullptr), RegionRange(), inferred))) {
    c.emitError("operand shapes do not broadcast");
    return failure();
  }
  return single(g::PowOp::create(c.b, c.loc, x, y));
}

FailureOr<SmallVector<Value>> importWhere(NodeContext &c) {
  Value cond = c.input(0), x = c.input(1), y = c.input(2);
  SmallVector<Type> inferred;
  if (failed(g::WhereOp::inferReturnTypes(c.b.getContext(), c.loc,
                                          {cond, x, y}, DictionaryAttr(), OpaqueProperties(nullptr), RegionRange(), inferred))) {
    c.emitError("operand shapes or types do not match");
    return failure();
  }
  return single(g::WhereOp::create(c.b, c.loc, cond, x, y));
}
} // namespace

void mlir::llmc::onnximport::registerMathOps(OpImporterRegistry &r) {
  r.add("Abs", unary<g::AbsOp>());
  r.add("Neg", unary<g::NegOp>());
  r.add("Sign", unary<g::SignOp>());
  r.add("Relu", unary<g::ReluOp>());
  r.add("Exp", unary<g::ExpOp>());
  r.add("Log", unary<g::LogOp>());
  r.add("Sqrt", unary<g::SqrtOp>());
  r.add("Reciprocal", unary<g::ReciprocalOp>());
  r.add("Ceil", unary<g::CeilOp>());
  r.add("Floor", unary<g::FloorOp>());
  r.add("Round", unary<g::RoundOp>());
  r.add("Sin", unary<g::SinOp>());
  r.add("Cos", unary<g::CosOp>());
  r.add("Tan", unary<g::TanOp>());
  r.add("Asin", unary<g::AsinOp>());
  r.add("Acos", unary<g::AcosOp>());
  r.add("Atan", unary<g::AtanOp>());
  r.add("Sinh", unary<g::SinhOp>());
  r.add("Cosh", unary<g::CoshOp>());
  r.add("Asinh", unary<g::AsinhOp>());
  r.add("Acosh", unary<g::AcoshOp>());
  r.add("Atanh", unary<g::AtanhOp>());
  r.add("Tanh", unary<g::TanhOp>());
  r.add("Sigmoid", unary<g::SigmoidOp>());
  r.add("Erf", unary<g::ErfOp>());
  r.add("Softplus", unary<g::SoftplusOp>());
  // Mish: x * tanh(softplus(x)).
  r.add("Mish", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    Type t = x.getType();
    if (!isa<FloatType>(getElementTypeOrSelf(t))) {
      c.emitError("Mish needs a float input, got ") << t;
      return failure();
    }
    Value s = g::SoftplusOp::create(c.b, c.loc, t, x);
    return single(g::MulOp::create(c.b, c.loc, x,
                                   g::TanhOp::create(c.b, c.loc, t, s)));
  });
  r.add("Softsign", unary<g::SoftsignOp>());
  r.add("HardSwish", unary<g::HardSwishOp>());
  r.add("Not", unary<g::NotOp>());
  r.add("BitwiseNot", unary<g::BitwiseNotOp>());
  r.add("Gelu", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::GeluOp::create(c.b, c.loc, x.getType(), x,
                                    c.getString("approximate", "none")));
  });
  r.add("LeakyRelu", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::LeakyReluOp::create(c.b, c.loc, x.getType(), x,
                                         c.b.getF64FloatAttr(c.getFloat("alpha", 0.01))));
  });
  r.add("Elu", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(
        g::EluOp::create(c.b, c.loc, x.getType(), x, c.b.getF64FloatAttr(c.getFloat("alpha", 1.0))));
  });
  r.add("Celu", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::CeluOp::create(c.b, c.loc, x.getType(), x,
                                    c.b.getF64FloatAttr(c.getFloat("alpha", 1.0))));
  });
  r.add("Selu", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::SeluOp::create(
        c.b, c.loc, x.getType(), x,
        c.b.getF64FloatAttr(c.getFloat("alpha", 1.67326319217681884765625)),
        c.b.getF64FloatAttr(c.getFloat("gamma", 1.05070102214813232421875))));
  });
  r.add("HardSigmoid", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::HardSigmoidOp::create(c.b, c.loc, x.getType(), x,
                                           c.b.getF64FloatAttr(c.getFloat("alpha", 0.2)),
                                           c.b.getF64FloatAttr(c.getFloat("beta", 0.5))));
  });
  r.add("ThresholdedRelu", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::ThresholdedReluOp::create(c.b, c.loc, x.getType(), x,
                                               c.b.getF64FloatAttr(c.getFloat("alpha", 1.0))));
  });
  r.add("Shrink", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    return single(g::ShrinkOp::create(c.b, c.loc, x.getType(), x,
                                      c.b.getF64FloatAttr(c.getFloat("bias", 0.0)),
                                      c.b.getF64FloatAttr(c.getFloat("lambd", 0.5))));
  });
  r.add("IsNaN", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    auto type = cast<RankedTensorType>(x.getType());
    return single(g::IsNaNOp::create(c.b, c.loc, type.clone(c.b.getI1Type()), x));
  });
  r.add("IsInf", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0);
    auto type = cast<RankedTensorType>(x.getType());
    return single(g::IsInfOp::create(c.b, c.loc, type.clone(c.b.getI1Type()), x,
                                     c.getInt("detect_positive", 1) != 0,
                                     c.getInt("detect_negative", 1) != 0));
  });
  r.add("Clip", importClip);
  r.add("Cast", importCast);
  r.add("CastLike", importCast);

  r.add("Add", binary<g::AddOp>());
  r.add("Sub", binary<g::SubOp>());
  r.add("Mul", binary<g::MulOp>());
  r.add("Div", binary<g::DivOp>());
  r.add("Pow", importPow);
  r.add("Mod", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0), y = c.input(1);
    SmallVector<Type> inferred;
    if (failed(g::ModOp::inferReturnTypes(c.b.getContext(), c.loc, {x, y},
                                          DictionaryAttr(), OpaqueProperties(nullptr), RegionRange(), inferred))) {
      c.emitError("operand shapes do not broadcast");
      return failure();
    }
    return single(g::ModOp::create(c.b, c.loc, inferred[0], x, y,
                                   c.getInt("fmod", 0) != 0));
  });
  r.add("Max", variadic<g::MaxOp>());
  r.add("Min", variadic<g::MinOp>());
  r.add("Sum", variadic<g::AddOp>());
  r.add("Mean", variadic<g::AddOp>(/*mean=*/true));
  r.add("PRelu", 7, OpImporterRegistry::kMaxOpset, binary<g::PReluOp>());
  r.add("PRelu", 1, 6, [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    // Before opset 7 a 1-D slope of C values applies along the channels.
    Value x = c.input(0), slope = c.input(1);
    auto xt = cast<RankedTensorType>(x.getType());
    auto st = cast<RankedTensorType>(slope.getType());
    if (st.getRank() == 1 && xt.getRank() >= 2 &&
        st.getDimSize(0) == xt.getDimSize(1) && st.getDimSize(0) != 1) {
      SmallVector<int64_t> shape(xt.getRank() - 1, 1);
      shape[0] = st.getDimSize(0);
      slope = g::ReshapeOp::create(
          c.b, c.loc, RankedTensorType::get(shape, st.getElementType()), slope);
    }
    SmallVector<Type> inferred;
    if (failed(g::PReluOp::inferReturnTypes(
            c.b.getContext(), c.loc, {x, slope}, DictionaryAttr(),
            OpaqueProperties(nullptr), RegionRange(), inferred))) {
      c.emitError("slope does not broadcast to the input");
      return failure();
    }
    return single(g::PReluOp::create(c.b, c.loc, x, slope));
  });
  r.add("BitShift", [](NodeContext &c) -> FailureOr<SmallVector<Value>> {
    Value x = c.input(0), y = c.input(1);
    SmallVector<Type> inferred;
    if (failed(g::BitShiftOp::inferReturnTypes(c.b.getContext(), c.loc, {x, y},
                                               DictionaryAttr(), OpaqueProperties(nullptr), RegionRange(), inferred))) {
      c.emitError("operand shapes do not broadcast");
      return failure();
    }
    return single(g::BitShiftOp::create(c.b, c.loc, inferred[0], x, y,
                                        c.getString("direction", "")));
  });
  r.add("And", binary<g::AndOp>());
  r.add("Or", binary<g::OrOp>());
  r.add("Xor", binary<g::XorOp>());
  r.add("BitwiseAnd", binary<g::BitwiseAndOp>());
  r.add("BitwiseOr", binary<g::BitwiseOrOp>());
  r.add("BitwiseXor", binary<g::BitwiseXorOp>());
  r.add("Equal", binary<g::EqualOp>());
  r.add("Less", binary<g::LessOp>());
  r.add("LessOrEqual", binary<g::LessEqualOp>());
  r.add("Greater", binary<g::GreaterOp>());
  r.add("GreaterOrEqual", binary<g::GreaterEqualOp>());
  r.add("Where", importWhere);
}
