//===- GemmEpilogue.cpp - Library calls' bias and activation --------------===//
//
// On CUDA, a kernel that only adds a bias vector to a library GEMM's result
// (broadcast along its rows) and then applies nothing, a ReLU or the tanh
// approximation of GELU, is cuBLASLt's epilogue (CUBLASLT_EPILOGUE_BIAS,
// _RELU_BIAS, _GELU_BIAS): the GEMM writes the kernel's output directly,
// and the kernel, its launch and the GEMM's intermediate buffer go. In
// f16/bf16 the kernel reads the GEMM's narrowed result and computes in its
// type; cuBLASLt computes the epilogue in f32 and rounds once, which is as
// close to the exact result or closer.
//
// Likewise a kernel that only adds a per-channel bias, and optionally a
// residual tensor, to a library convolution's result and applies a ReLU is
// cuDNN's fused convolution (cudnnConvolutionBiasActivationForward:
// y = relu(conv(x, w) + z + bias)). Only the ReLU folds: cuDNN's other
// activation there, the identity, restricts the convolution algorithm.
//
// The IR stays exact up to the CUDA program: the library call still writes
// its own buffer and the kernel function still reads it. KernelsToGpu
// leaves a matched kernel function unlowered, and the CUDA program
// (CudaArtifact) folds the call into the library step. Both use the one
// matcher for each, so they cannot disagree.
//
// The activation is recognised by the expression it computes, whatever the
// order of the operands of its sums and products: the body is flattened
// into sums of terms and products of factors, and each is compared as a
// multiset against the expected form, constants within 1e-6 relative.
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

#include <numeric>

using namespace mlir;
using namespace mlir::llmc;

namespace {
using ValueTest = std::function<bool(Value)>;

/// True when `v` is a float constant within 1e-6 (relative) of `expected`,
/// or within one unit in the last place of its type where that is coarser
/// (f16 and bf16 constants are `expected` rounded).
bool isConstant(Value v, double expected) {
  FloatAttr::ValueType value(0.0f);
  if (!matchPattern(v, m_ConstantFloat(&value)))
    return false;
  double d = value.convertToDouble();
  double ulp = std::ldexp(1.0, 1 - static_cast<int>(llvm::APFloat::semanticsPrecision(
                                       value.getSemantics())));
  return std::abs(d - expected) <=
         std::max(1e-6, ulp) * std::max(1.0, std::abs(expected));
}

ValueTest constant(double expected) {
  return [expected](Value v) { return isConstant(v, expected); };
}

ValueTest is(Value x) {
  return [x](Value v) { return v == x; };
}

/// `v` as a product of factors: nested arith.mulf of `body` flattened, and
/// x ^ 3 (math.powf or math.fpowi by the constant 3) as x * x * x; `leaf`
/// (the activation's input) is never taken apart.
void factors(Value v, Block *body, Value leaf, SmallVectorImpl<Value> &out) {
  Operation *def = v.getDefiningOp();
  if (v != leaf && def && def->getBlock() == body) {
    if (auto mul = dyn_cast<arith::MulFOp>(def)) {
      factors(mul.getLhs(), body, leaf, out);
      factors(mul.getRhs(), body, leaf, out);
      return;
    }
    Value base, exponent;
    if (auto pow = dyn_cast<math::PowFOp>(def))
      base = pow.getLhs(), exponent = pow.getRhs();
    APInt integer;
    bool cube = (exponent && isConstant(exponent, 3.0));
    if (auto ipow = dyn_cast<math::FPowIOp>(def)) {
      base = ipow.getLhs();
      cube = matchPattern(ipow.getRhs(), m_ConstantInt(&integer)) &&
             integer == 3;
    }
    if (base && cube) {
      for (int i = 0; i < 3; ++i)
        factors(base, body, leaf, out);
      return;
    }
  }
  out.push_back(v);
}

/// `v` as a sum of terms: nested arith.addf of `body` flattened, except
/// `leaf`.
void terms(Value v, Block *body, Value leaf, SmallVectorImpl<Value> &out) {
  if (auto add = v.getDefiningOp<arith::AddFOp>();
      v != leaf && add && add->getBlock() == body) {
    terms(add.getLhs(), body, leaf, out);
    terms(add.getRhs(), body, leaf, out);
    return;
  }
  out.push_back(v);
}

/// True when `values` and `tests` pair up one to one, in some order.
bool matchesAll(ValueRange values, ArrayRef<ValueTest> tests) {
  if (values.size() != tests.size())
    return false;
  SmallVector<unsigned> order(tests.size());
  std::iota(order.begin(), order.end(), 0);
  do {
    bool all = true;
    for (size_t i = 0; i < values.size() && all; ++i)
      all = tests[order[i]](values[i]);
    if (all)
      return true;
  } while (std::next_permutation(order.begin(), order.end()));
  return false;
}

ValueTest product(Block *body, Value leaf, SmallVector<ValueTest> tests) {
  return [body, leaf, tests](Value v) {
    SmallVector<Value> f;
    factors(v, body, leaf, f);
    return matchesAll(f, tests);
  };
}

ValueTest sum(Block *body, Value leaf, SmallVector<ValueTest> tests) {
  return [body, leaf, tests](Value v) {
    SmallVector<Value> t;
    terms(v, body, leaf, t);
    return matchesAll(t, tests);
  };
}

/// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): the GELU cuBLASLt
/// computes (PyTorch's approximate="tanh").
bool isTanhGelu(Value v, Value x, Block *body) {
  constexpr double kSqrt2OverPi = 0.7978845608028654;
  ValueTest inner =
      sum(body, x,
          {is(x), product(body, x, {constant(0.044715), is(x), is(x), is(x)})});
  ValueTest tanh = [&](Value t) {
    auto op = t.getDefiningOp<math::TanhOp>();
    return op && op->getBlock() == body &&
           product(body, x, {constant(kSqrt2OverPi), inner})(op.getOperand());
  };
  return product(body, x,
                 {constant(0.5), is(x), sum(body, x, {constant(1.0), tanh})})(v);
}

/// max(x, 0), NaN-propagating or not. cuBLASLt's ReLU is max(x, 0): what
/// it gives for a NaN is unspecified, as in XLA's and TensorRT's ReLU
/// epilogues.
bool isRelu(Value v, Value x) {
  Operation *def = v.getDefiningOp();
  if (!isa_and_nonnull<arith::MaximumFOp, arith::MaxNumFOp>(def))
    return false;
  auto zero = [](Value z) { return matchPattern(z, m_AnyZeroFloat()); };
  return matchesAll(def->getOperands(), {is(x), zero});
}

/// True when `map` is (d0, ..., dn) -> (dn).
bool isLastDim(AffineMap map) {
  if (map.getNumResults() != 1 || map.getNumDims() == 0)
    return false;
  auto d = dyn_cast<AffineDimExpr>(map.getResult(0));
  return d && d.getPosition() == map.getNumDims() - 1;
}

bool isF32Buffer(Type t) {
  auto m = dyn_cast<MemRefType>(t);
  return m && m.hasStaticShape() && m.getLayout().isIdentity() &&
         m.getElementType().isF32();
}

/// A static, dense buffer of f32, f16 or bf16: what a cuBLASLt epilogue
/// reads and writes.
bool isEpilogueBuffer(Type t) {
  auto m = dyn_cast<MemRefType>(t);
  return m && m.hasStaticShape() && m.getLayout().isIdentity() &&
         isa<Float32Type, Float16Type, BFloat16Type>(m.getElementType());
}
} // namespace

/// The users of `alloc` and of its reshaped views (memref.reshape,
/// expand_shape, collapse_shape), the views themselves left out; false when
/// another kind of view of it exists.
static bool usersThroughReshapes(memref::AllocOp alloc,
                                 SmallVectorImpl<Operation *> &users) {
  SmallVector<Value> worklist{alloc.getResult()};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == v) {
        if (!isa<memref::ReshapeOp, memref::ExpandShapeOp,
                 memref::CollapseShapeOp>(user))
          return false;
        worklist.push_back(user->getResult(0));
        continue;
      }
      users.push_back(user);
    }
  }
  return true;
}

/// The library GEMM (calling `call`) whose whole output `result`
/// is (or is a reshaped view of), when that output is a buffer of this
/// block zero-filled before the GEMM and `reader`, after it, is its only
/// other user; null otherwise.
static linalg::GenericOp producingGemm(Value result, Operation *reader,
                                       StringRef call) {
  auto alloc = bufferRoot(result).getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != reader->getBlock() ||
      !alloc.getType().getLayout().isIdentity() ||
      !alloc.getType().hasStaticShape() ||
      cast<MemRefType>(result.getType()).getShape().back() !=
          alloc.getType().getShape().back())
    return {};
  SmallVector<Operation *> users;
  if (!usersThroughReshapes(alloc, users) || llvm::count(users, reader) != 1)
    return {};
  linalg::GenericOp gemm;
  Operation *fill = nullptr;
  for (Operation *user : users) {
    if (user == reader)
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (generic && !gemm && generic.getLibraryCallAttr() &&
        generic.getLibraryCallAttr().getValue() == call &&
        generic.getNumDpsInits() == 1 &&
        generic.getDpsInits()[0] == alloc.getResult()) {
      gemm = generic;
      continue;
    }
    if (!fill && isZeroFill(user, alloc.getResult())) {
      fill = user;
      continue;
    }
    return {};
  }
  // Order: the zero fill, the GEMM, the reader, in one block.
  Block *block = reader->getBlock();
  if (!gemm || !fill || gemm->getBlock() != block ||
      !gemm->isBeforeInBlock(reader) || fill->getBlock() != block ||
      !fill->isBeforeInBlock(gemm))
    return {};
  return gemm;
}

/// True when the GEMM can write what `reader` reads of its output `result`
/// and the buffers `written` in the reader's place: they are distinct
/// buffers, not the GEMM's output, the GEMM reads none of them, and nothing
/// between the GEMM and the reader touches them.
static bool quietBetween(linalg::GenericOp gemm, Operation *reader,
                         Value result, ArrayRef<Value> written) {
  SmallVector<Value> roots;
  for (Value w : written) {
    Value r = bufferRoot(w);
    if (r == bufferRoot(result) || llvm::is_contained(roots, r))
      return false;
    roots.push_back(r);
  }
  for (Value in : gemm.getDpsInputs())
    if (llvm::is_contained(roots, bufferRoot(in)))
      return false;
  for (Operation *between = gemm->getNextNode(); between != reader;
       between = between->getNextNode()) {
    if (isa<ViewLikeOpInterface>(between))
      continue;
    WalkResult touched = between->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (llvm::is_contained(roots, bufferRoot(operand)))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (touched.wasInterrupted())
      return false;
  }
  return true;
}

/// The narrowing of an f16/bf16 GEMM's result (matchGemmNarrowing) whose
/// whole output `result` is (or is a reshaped view of), when that output
/// is a buffer of this block that only the narrowing writes and `reader`,
/// after it, is its only other user.
static std::optional<GemmNarrowing> narrowingInto(Value result,
                                                  Operation *reader);

static std::optional<GemmEpilogue> matchWith(func::CallOp call,
                                             func::FuncOp callee,
                                             linalg::GenericOp op,
                                             unsigned ci);

/// The kernel function `call` calls, when it is called there only (so it
/// need not be lowered) and its body is constants, constant globals,
/// expand_shapes of its arguments and one elementwise linalg.generic of one
/// output: that generic.
static linalg::GenericOp epilogueGeneric(func::CallOp call,
                                         func::FuncOp &callee) {
  callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      call, call.getCalleeAttr());
  if (!callee || callee.isExternal() || !callee->hasAttr("llmc.kernel") ||
      !callee.getBody().hasOneBlock())
    return {};
  Operation *symbolTable = SymbolTable::getNearestSymbolTable(callee);
  std::optional<SymbolTable::UseRange> uses =
      SymbolTable::getSymbolUses(callee, symbolTable);
  if (!uses || std::distance(uses->begin(), uses->end()) != 1)
    return {};
  Block *entry = &callee.getBody().front();
  linalg::GenericOp op;
  for (Operation &inner : *entry) {
    if (isa<arith::ConstantOp, func::ReturnOp, memref::GetGlobalOp>(inner))
      continue;
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(inner)) {
      auto arg = dyn_cast<BlockArgument>(expand.getSrc());
      if (!arg || arg.getOwner() != entry)
        return {};
      continue;
    }
    auto generic = dyn_cast<linalg::GenericOp>(inner);
    if (!generic || op)
      return {};
    op = generic;
  }
  if (!op || op.getLibraryCallAttr() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 0)
    return {};
  return op;
}

std::optional<GemmEpilogue> mlir::llmc::matchGemmEpilogue(func::CallOp call) {
  func::FuncOp callee;
  linalg::GenericOp op = epilogueGeneric(call, callee);
  if (!op || op.getNumDpsInputs() != 2)
    return std::nullopt;
  // out[..., j] = act(c[..., j] + bias[j]), c and out dense and alike; the
  // bias is either input.
  for (unsigned ci : {0u, 1u})
    if (std::optional<GemmEpilogue> e = matchWith(call, callee, op, ci))
      return e;
  return std::nullopt;
}

/// The epilogue `call` of `callee` (whose one generic is `op`) is, with the
/// GEMM's result as input `ci` of `op` and the bias as the other.
static std::optional<GemmEpilogue> matchWith(func::CallOp call,
                                             func::FuncOp callee,
                                             linalg::GenericOp op,
                                             unsigned ci) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value c = op.getDpsInputs()[ci], bias = op.getDpsInputs()[1 - ci],
        out = op.getDpsInits()[0];
  auto cArg = dyn_cast<BlockArgument>(c), biasArg = dyn_cast<BlockArgument>(bias),
       outArg = dyn_cast<BlockArgument>(out);
  Block *entry = &callee.getBody().front();
  if (!cArg || !biasArg || !outArg || cArg.getOwner() != entry ||
      biasArg.getOwner() != entry || outArg.getOwner() != entry ||
      !isEpilogueBuffer(c.getType()) || c.getType() != out.getType() ||
      !isEpilogueBuffer(bias.getType()) ||
      getElementTypeOrSelf(bias.getType()) != getElementTypeOrSelf(c.getType()))
    return std::nullopt;
  auto cType = cast<MemRefType>(c.getType());
  auto biasType = cast<MemRefType>(bias.getType());
  if (cType.getRank() < 1 || biasType.getRank() != 1 ||
      biasType.getDimSize(0) != cType.getShape().back())
    return std::nullopt;
  if (!maps[ci].isIdentity() || !maps[2].isIdentity() ||
      !isLastDim(maps[1 - ci]))
    return std::nullopt;
  Block *body = op.getBody();
  Value x = body->getArgument(ci), b = body->getArgument(1 - ci);
  if (!body->getArgument(2).use_empty())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  Value result = yield.getOperand(0);
  // s = x + bias.
  Value s;
  for (Operation &inner : body->without_terminator())
    if (auto add = dyn_cast<arith::AddFOp>(inner);
        add && matchesAll(add->getOperands(), {is(x), is(b)}))
      s = add.getResult();
  if (!s)
    return std::nullopt;
  GemmEpilogue e;
  if (result == s)
    e.kind = GemmEpilogueKind::Bias;
  else if (isRelu(result, s))
    e.kind = GemmEpilogueKind::ReluBias;
  else if (isTanhGelu(result, s, body))
    e.kind = GemmEpilogueKind::GeluBias;
  else
    return std::nullopt;

  // The caller: the kernel reads (a view of) an f32 library GEMM's whole
  // output, zero-filled before it (so the GEMM overwrites it), which
  // nothing else uses; or, in f16/bf16, the narrowing of an f16/bf16
  // GEMM's f32 output (matchGemmNarrowing) that nothing else uses. Nothing
  // between the GEMM and the kernel touches the output or the bias.
  e.call = call;
  e.result = call.getOperand(cArg.getArgNumber());
  e.bias = call.getOperand(biasArg.getArgNumber());
  e.output = call.getOperand(outArg.getArgNumber());
  if (llvm::count(call.getOperands(), e.result) != 1)
    return std::nullopt;
  if (cType.getElementType().isF32()) {
    e.gemm = producingGemm(e.result, call, "llmc_matmul_f32");
  } else if (std::optional<GemmNarrowing> n = narrowingInto(e.result, call)) {
    e.gemm = n->gemm;
  }
  if (!e.gemm || !quietBetween(e.gemm, call, e.result, {e.output, e.bias}))
    return std::nullopt;
  return e;
}

/// The argument of `callee`'s entry block that `v` is, directly or through
/// a memref.expand_shape; null otherwise.
static BlockArgument entryArgument(Value v, func::FuncOp callee) {
  if (auto expand = v.getDefiningOp<memref::ExpandShapeOp>())
    v = expand.getSrc();
  auto arg = dyn_cast<BlockArgument>(v);
  return arg && arg.getOwner() == &callee.getBody().front() ? arg
                                                            : BlockArgument();
}

/// The buffer input `i` of `op` (rank-4 loops n, k, h, w) reads as a
/// per-channel vector, when it does: a dense f32 buffer of K elements (an
/// argument of `callee` or a constant global), possibly expanded, indexed
/// by k alone (its other dims of size 1, indexed by 0). Null otherwise.
static Value channelVector(linalg::GenericOp op, unsigned i,
                           func::FuncOp callee, int64_t channels) {
  Value v = op.getDpsInputs()[i];
  Value root = v;
  if (auto expand = v.getDefiningOp<memref::ExpandShapeOp>())
    root = expand.getSrc();
  auto rootType = dyn_cast<MemRefType>(root.getType());
  if (!(entryArgument(root, callee) == root ||
        root.getDefiningOp<memref::GetGlobalOp>()) ||
      !isF32Buffer(rootType) || rootType.getNumElements() != channels)
    return {};
  AffineMap map = op.getIndexingMapsArray()[i];
  auto type = cast<MemRefType>(v.getType());
  bool seen = false;
  for (auto [d, e] : llvm::enumerate(map.getResults())) {
    if (auto dim = dyn_cast<AffineDimExpr>(e);
        dim && dim.getPosition() == 1 && !seen &&
        type.getDimSize(d) == channels) {
      seen = true;
      continue;
    }
    auto c = dyn_cast<AffineConstantExpr>(e);
    if (!c || c.getValue() != 0 || type.getDimSize(d) != 1)
      return {};
  }
  return seen ? root : Value();
}

std::optional<ConvEpilogue> mlir::llmc::matchConvEpilogue(func::CallOp call) {
  func::FuncOp callee;
  linalg::GenericOp op = epilogueGeneric(call, callee);
  if (!op || op.getNumDpsInputs() < 2 || op.getNumDpsInputs() > 3 ||
      op.getNumLoops() != 4)
    return std::nullopt;
  // out = max(c + bias [+ z], 0): out, c and z dense NCHW f32 of one type,
  // read at the same point; bias per channel.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  BlockArgument outArg = entryArgument(op.getDpsInits()[0], callee);
  Type outType = op.getDpsInits()[0].getType();
  if (!outArg || outArg != op.getDpsInits()[0] || !isF32Buffer(outType) ||
      cast<MemRefType>(outType).getRank() != 4 || !maps.back().isIdentity())
    return std::nullopt;
  int64_t channels = cast<MemRefType>(outType).getDimSize(1);
  SmallVector<unsigned> full;
  std::optional<unsigned> biasIndex;
  Value bias;
  for (unsigned i = 0; i < op.getNumDpsInputs(); ++i) {
    Value in = op.getDpsInputs()[i];
    if (maps[i].isIdentity() && in.getType() == outType &&
        entryArgument(in, callee) == in) {
      full.push_back(i);
      continue;
    }
    if (biasIndex || !(bias = channelVector(op, i, callee, channels)))
      return std::nullopt;
    biasIndex = i;
  }
  if (!biasIndex || full.empty())
    return std::nullopt;
  Block *body = op.getBody();
  if (!body->getArguments().back().use_empty())
    return std::nullopt;
  // The ReLU of one sum of every input, NaN-propagating (arith.maximumf)
  // as cuDNN's is with CUDNN_PROPAGATE_NAN.
  Operation *relu = body->getTerminator()->getOperand(0).getDefiningOp();
  if (!isa_and_nonnull<arith::MaximumFOp>(relu) || relu->getBlock() != body)
    return std::nullopt;
  SmallVector<ValueTest> summands;
  for (unsigned i = 0; i < op.getNumDpsInputs(); ++i)
    summands.push_back(is(body->getArgument(i)));
  ValueTest total = sum(body, Value(), summands);
  auto zero = [](Value z) { return matchPattern(z, m_AnyZeroFloat()); };
  if (!matchesAll(relu->getOperands(), {total, zero}))
    return std::nullopt;

  // The caller: which full-size input is the convolution's output (the
  // other, if any, is the residual).
  auto operandOf = [&](unsigned input) {
    auto arg = cast<BlockArgument>(entryArgument(op.getDpsInputs()[input],
                                                 callee));
    return call.getOperand(arg.getArgNumber());
  };
  for (unsigned ci : full) {
    ConvEpilogue e;
    e.call = call;
    e.result = operandOf(ci);
    // A constant global bias is the callee's; an argument, the caller's.
    auto biasArg = dyn_cast<BlockArgument>(bias);
    e.bias = biasArg ? call.getOperand(biasArg.getArgNumber()) : bias;
    e.output = call.getOperand(outArg.getArgNumber());
    SmallVector<Value> quiet{e.output};
    if (biasArg)
      quiet.push_back(e.bias);
    for (unsigned zi : full)
      if (zi != ci)
        quiet.push_back(e.residual = operandOf(zi));
    if (llvm::count(call.getOperands(), e.result) != 1)
      continue;
    e.conv = producingGemm(e.result, call, "llmc_conv2d_f32");
    if (e.conv && quietBetween(e.conv, call, e.result, quiet))
      return e;
  }
  return std::nullopt;
}

std::optional<GemmNarrowing>
mlir::llmc::matchGemmNarrowing(linalg::GenericOp narrow) {
  // out = truncf(c) elementwise, c f32, out f16 or bf16, both dense.
  if (narrow.getLibraryCallAttr() || narrow.getNumDpsInputs() != 1 ||
      narrow.getNumDpsInits() != 1 || narrow.getNumReductionLoops() != 0 ||
      !llvm::all_of(narrow.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return std::nullopt;
  Value c = narrow.getDpsInputs()[0], out = narrow.getDpsInits()[0];
  auto cType = dyn_cast<MemRefType>(c.getType());
  auto outType = dyn_cast<MemRefType>(out.getType());
  if (!cType || !outType || !isF32Buffer(cType) ||
      !outType.getLayout().isIdentity() || !outType.hasStaticShape() ||
      cType.getShape() != outType.getShape())
    return std::nullopt;
  Block *body = narrow.getBody();
  auto trunc = body->getTerminator()->getOperand(0).getDefiningOp<arith::TruncFOp>();
  if (!trunc || trunc.getIn() != body->getArgument(0) ||
      trunc.getType() != outType.getElementType() ||
      !body->getArgument(1).use_empty() ||
      !isa<Float16Type, BFloat16Type>(outType.getElementType()))
    return std::nullopt;
  StringRef call = outType.getElementType().isF16() ? "llmc_matmul_f16"
                                                    : "llmc_matmul_bf16";
  GemmNarrowing n;
  n.narrow = narrow;
  n.output = out;
  n.gemm = producingGemm(c, narrow, call);
  if (!n.gemm || !quietBetween(n.gemm, narrow, c, {out}))
    return std::nullopt;
  return n;
}

static std::optional<GemmNarrowing> narrowingInto(Value result,
                                                  Operation *reader) {
  auto alloc = bufferRoot(result).getDefiningOp<memref::AllocOp>();
  Block *block = reader->getBlock();
  if (!alloc || alloc->getBlock() != block)
    return std::nullopt;
  // Bufferization may reuse one buffer for several narrowings in turn: the
  // users, in block order, must be the narrowing, then the reader, then
  // nothing, or first an op that overwrites all of it without reading it
  // (so the narrowed value is dead after the reader).
  SmallVector<Operation *> users;
  if (!usersThroughReshapes(alloc, users))
    return std::nullopt;
  for (Operation *&user : users)
    if (!(user = block->findAncestorOpInBlock(*user)))
      return std::nullopt;
  llvm::sort(users, [](Operation *a, Operation *b) {
    return a->isBeforeInBlock(b);
  });
  users.erase(std::unique(users.begin(), users.end()), users.end());
  auto at = llvm::find(users, reader);
  if (at == users.end() || at == users.begin())
    return std::nullopt;
  auto narrow = dyn_cast<linalg::GenericOp>(*std::prev(at));
  if (!narrow)
    return std::nullopt;
  std::optional<GemmNarrowing> n = matchGemmNarrowing(narrow);
  if (!n || n->output != alloc.getResult())
    return std::nullopt;
  if (std::next(at) != users.end()) {
    auto next = dyn_cast<linalg::GenericOp>(*std::next(at));
    if (!next || next.getNumDpsInits() != 1 ||
        next.getDpsInits()[0] != alloc.getResult() ||
        llvm::is_contained(next.getDpsInputs(), alloc.getResult()) ||
        !next.getIndexingMapsArray().back().isIdentity() ||
        !next.getBody()->getArguments().back().use_empty())
      return std::nullopt;
  }
  return n;
}
