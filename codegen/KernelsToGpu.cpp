//===- KernelsToGpu.cpp - Bufferized linalg as CUDA kernels ---------------===//
//
// The CUDA lowering of a bufferized module: every linalg op that is not a
// library call (cuBLASLt GEMMs) becomes a `gpu.func` in one `gpu.module`
// and a `gpu.launch_func` in its place.
//
// A row kernel (a fusion group of kind "row": softmax, LayerNorm, RMSNorm)
// becomes one kernel with one thread block per row: its phases run in order,
// each over the row's columns with the block's threads striding through
// them; a reduction phase combines per-thread partials with gpu.all_reduce
// (warp shuffles and shared memory); a barrier separates phases. Every
// other op becomes a kernel of its own: a grid-stride loop over its
// parallel iteration space with any reduction done sequentially per output
// element. A row group whose phases do not all stay within their row (or
// whose reductions are not a plain combiner) is lowered op by op instead:
// the result is the same, in more kernels.
//
// A kernel function that only adds a bias to a library GEMM's result and
// applies a ReLU or GELU is left as it is: the CUDA program makes it the
// GEMM's cuBLASLt epilogue (matchGemmEpilogue), and so is one that adds a
// bias (and a residual) to a library convolution's result and applies a
// ReLU: cuDNN's fused convolution (matchConvEpilogue). So is the narrowing
// of an f16/bf16 GEMM's f32 result (matchGemmNarrowing): the GEMM writes
// f16.
//
// A zero fill of a library GEMM's output stays on the host: the CUDA program
// makes it the GEMM's beta = 0. A copy out of a buffer that only a fill
// writes (bufferization's copy of a shared zero-filled GEMM init) becomes a
// fill of its target first, and a temporary copied into an output buffer
// (of @main or of a kernel function) as its last use is replaced by that
// output.
//
//===----------------------------------------------------------------------===//

#include "FlashAttention.h"
#include "llmc/Codegen/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"

namespace mlir::llmc {
#define GEN_PASS_DEF_KERNELSTOGPUPASS
#include "llmc/Codegen/Passes.h.inc"
} // namespace mlir::llmc

using namespace mlir;
using namespace mlir::llmc;

namespace {

constexpr int64_t kLoopThreads = 256;
/// The runtime's index error report on the CPU, and its CUDA counterpart
/// (see rewriteIndexChecks).
constexpr const char *kIndexErrorFunction = "llmc_index_error";
constexpr const char *kIndexStatusGlobal = "llmc_index_status";
constexpr int64_t kMaxBlocks = 1 << 20;

int64_t product(ArrayRef<int64_t> v) {
  int64_t n = 1;
  for (int64_t x : v)
    n *= x;
  return n;
}

Value cst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// The thread's and block's index and the block and grid sizes (x only).
std::tuple<Value, Value, Value, Value> threadIds(OpBuilder &b, Location loc) {
  return {gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x),
          gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
          gpu::BlockDimOp::create(b, loc, gpu::Dimension::x),
          gpu::GridDimOp::create(b, loc, gpu::Dimension::x)};
}

/// Linear index `lin` as indices over `sizes` (row-major).
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value lin,
                               ArrayRef<int64_t> sizes) {
  if (sizes.empty())
    return {};
  if (sizes.size() == 1)
    return {lin};
  auto op = affine::AffineDelinearizeIndexOp::create(b, loc, lin, sizes,
                                                     /*hasOuterBound=*/true);
  return SmallVector<Value>(op.getResults());
}

/// The indices `map` gives for iteration indices `iv`.
SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map,
                            ValueRange iv) {
  SmallVector<Value> out;
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      out.push_back(iv[d.getPosition()]);
      continue;
    }
    if (auto c = dyn_cast<AffineConstantExpr>(e)) {
      out.push_back(cst(b, loc, c.getValue()));
      continue;
    }
    out.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, e), iv));
  }
  return out;
}

/// Reads operand `operand` of `op` at iteration indices `iv` (a scalar
/// operand is its own value).
Value readOperand(OpBuilder &b, Location loc, linalg::GenericOp op,
                  OpOperand &operand, ValueRange iv, IRMapping &map) {
  Value v = map.lookupOrDefault(operand.get());
  if (!isa<MemRefType>(v.getType()))
    return v;
  return memref::LoadOp::create(
      b, loc, v, applyMap(b, loc, op.getMatchingIndexingMap(&operand), iv));
}

/// Values per thread along the innermost iteration dim when a kernel is
/// vectorized: 4 consecutive elements, so that f32 operands move in 128-bit
/// loads and stores.
constexpr int64_t kLanes = 4;

/// How a vectorized kernel reaches an operand across the lanes of iteration
/// dim `inner`: one value for all (the operand does not depend on `inner`),
/// one vector load or store (consecutive, aligned elements), or one scalar
/// access per lane.
enum class LaneAccess { Uniform, Vector, Gather };

LaneAccess laneAccess(linalg::GenericOp op, OpOperand &operand,
                      unsigned inner) {
  auto type = dyn_cast<MemRefType>(operand.get().getType());
  if (!type)
    return LaneAccess::Uniform;
  AffineMap map = op.getMatchingIndexingMap(&operand);
  unsigned n = map.getNumResults(), uses = 0;
  for (unsigned r = 0; r < n; ++r)
    uses += map.getResult(r).isFunctionOfDim(inner);
  if (uses == 0)
    return LaneAccess::Uniform;
  // The innermost index is exactly `inner`, the buffer dense with its rows
  // a multiple of the lanes: a lane group starting at a multiple of the
  // lanes is one aligned vector (buffers start 256-byte aligned).
  auto last = dyn_cast<AffineDimExpr>(map.getResult(n - 1));
  Type element = type.getElementType();
  unsigned bits = element.isIntOrFloat() ? element.getIntOrFloatBitWidth() : 0;
  if (uses == 1 && last && last.getPosition() == inner &&
      type.getLayout().isIdentity() && type.hasStaticShape() &&
      type.getRank() > 0 && type.getShape().back() % kLanes == 0 &&
      (bits == 8 || bits == 16 || bits == 32 || bits == 64))
    return LaneAccess::Vector;
  return LaneAccess::Gather;
}

/// True when `op` vectorizes along `inner` with some gain: the dim's extent
/// is a multiple of the lanes and some operand moves as vectors.
bool vectorizes(linalg::GenericOp op, unsigned inner) {
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  if (inner >= sizes.size() || ShapedType::isDynamic(sizes[inner]) ||
      sizes[inner] % kLanes != 0)
    return false;
  return llvm::any_of(op->getOpOperands(), [&](OpOperand &o) {
    return laneAccess(op, o, inner) == LaneAccess::Vector;
  });
}

/// `iv` with dim `inner` advanced by `lane`.
SmallVector<Value> laneIv(OpBuilder &b, Location loc, ArrayRef<Value> iv,
                          unsigned inner, int64_t lane) {
  SmallVector<Value> out(iv);
  if (lane)
    out[inner] = arith::AddIOp::create(b, loc, iv[inner], cst(b, loc, lane));
  return out;
}

VectorType laneVector(MemRefType type) {
  return VectorType::get({kLanes}, type.getElementType());
}

uint64_t laneAlignment(MemRefType type) {
  return kLanes * type.getElementType().getIntOrFloatBitWidth() / 8;
}

/// The value of `operand` at each lane (iv[inner] the first lane's index).
SmallVector<Value> readLanes(OpBuilder &b, Location loc, linalg::GenericOp op,
                             OpOperand &operand, ArrayRef<Value> iv,
                             unsigned inner, IRMapping &map) {
  SmallVector<Value> lanes;
  switch (laneAccess(op, operand, inner)) {
  case LaneAccess::Uniform:
    lanes.assign(kLanes, readOperand(b, loc, op, operand, iv, map));
    break;
  case LaneAccess::Vector: {
    auto type = cast<MemRefType>(operand.get().getType());
    Value v = vector::LoadOp::create(
        b, loc, laneVector(type), map.lookupOrDefault(operand.get()),
        applyMap(b, loc, op.getMatchingIndexingMap(&operand), iv),
        /*nontemporal=*/false, llvm::MaybeAlign(laneAlignment(type)));
    for (int64_t l = 0; l < kLanes; ++l)
      lanes.push_back(vector::ExtractOp::create(b, loc, v, l));
    break;
  }
  case LaneAccess::Gather:
    for (int64_t l = 0; l < kLanes; ++l)
      lanes.push_back(
          readOperand(b, loc, op, operand, laneIv(b, loc, iv, inner, l), map));
    break;
  }
  return lanes;
}

/// Stores `values` (one per lane) into `init`.
void writeLanes(OpBuilder &b, Location loc, linalg::GenericOp op,
                OpOperand &init, ArrayRef<Value> values, ArrayRef<Value> iv,
                unsigned inner, IRMapping &map) {
  Value buffer = map.lookupOrDefault(init.get());
  AffineMap indexing = op.getMatchingIndexingMap(&init);
  if (laneAccess(op, init, inner) == LaneAccess::Vector) {
    auto type = cast<MemRefType>(init.get().getType());
    Value v = vector::FromElementsOp::create(b, loc, laneVector(type), values);
    vector::StoreOp::create(b, loc, v, buffer, applyMap(b, loc, indexing, iv),
                            /*nontemporal=*/false, llvm::MaybeAlign(laneAlignment(type)));
    return;
  }
  // In lane order: the last lane's value stays where lanes share an element.
  for (int64_t l = 0; l < kLanes; ++l)
    memref::StoreOp::create(
        b, loc, values[l], buffer,
        applyMap(b, loc, indexing, laneIv(b, loc, iv, inner, l)));
}

/// Clones the scalar body of `op` at iteration indices `iv`, with its block
/// arguments bound to `args`; returns the yielded values. The op named
/// `skip` (a reduction's combiner) is not cloned.
SmallVector<Value> cloneBody(OpBuilder &b, linalg::GenericOp op, ValueRange iv,
                             ValueRange args, IRMapping &map,
                             Operation *skip = nullptr) {
  Block &body = op.getRegion().front();
  for (auto [arg, v] : llvm::zip(body.getArguments(), args))
    if (v)
      map.map(arg, v);
  for (Operation &inner : body.without_terminator()) {
    if (&inner == skip)
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      map.map(index.getResult(), iv[index.getDim()]);
      continue;
    }
    b.clone(inner, map);
  }
  SmallVector<Value> out;
  for (Value v : body.getTerminator()->getOperands())
    out.push_back(map.lookupOrDefault(v));
  return out;
}

/// A reduction of one output whose body is `combiner(out, expr)`: the
/// combiner, the operand that is the element value, and the matching
/// gpu.all_reduce operation.
struct Combiner {
  Operation *op = nullptr;
  Value element;
  gpu::AllReduceOperation kind;
};

std::optional<Combiner> matchCombiner(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1)
    return std::nullopt;
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArguments().back();
  Operation *yielded = body.getTerminator()->getOperand(0).getDefiningOp();
  if (!yielded || yielded->getBlock() != &body ||
      yielded->getNumOperands() != 2 || !out.hasOneUse() ||
      !yielded->getResult(0).hasOneUse() || *out.getUsers().begin() != yielded)
    return std::nullopt;
  using K = gpu::AllReduceOperation;
  std::optional<K> kind =
      llvm::TypeSwitch<Operation *, std::optional<K>>(yielded)
          .Case<arith::AddFOp, arith::AddIOp>([](auto) { return K::ADD; })
          .Case<arith::MulFOp, arith::MulIOp>([](auto) { return K::MUL; })
          .Case<arith::MaximumFOp>([](auto) { return K::MAXIMUMF; })
          .Case<arith::MinimumFOp>([](auto) { return K::MINIMUMF; })
          .Case<arith::MaxNumFOp>([](auto) { return K::MAXNUMF; })
          .Case<arith::MinNumFOp>([](auto) { return K::MINNUMF; })
          .Case<arith::MaxSIOp>([](auto) { return K::MAXSI; })
          .Case<arith::MinSIOp>([](auto) { return K::MINSI; })
          .Case<arith::MaxUIOp>([](auto) { return K::MAXUI; })
          .Case<arith::MinUIOp>([](auto) { return K::MINUI; })
          .Case<arith::AndIOp>([](auto) { return K::AND; })
          .Case<arith::OrIOp>([](auto) { return K::OR; })
          .Case<arith::XOrIOp>([](auto) { return K::XOR; })
          .Default([](Operation *) { return std::nullopt; });
  if (!kind)
    return std::nullopt;
  Value element = yielded->getOperand(0) == out ? yielded->getOperand(1)
                                                : yielded->getOperand(0);
  if (element == out)
    return std::nullopt;
  return Combiner{yielded, element, *kind};
}

/// A new `combiner` of `acc` and `element`, each in the operand position
/// the original gave the output and the element.
Value combine(OpBuilder &b, const Combiner &c, Value acc, Value element) {
  Operation *op = b.clone(*c.op);
  bool accFirst = c.op->getOperand(1) == c.element;
  op->setOperand(accFirst ? 0 : 1, acc);
  op->setOperand(accFirst ? 1 : 0, element);
  return op->getResult(0);
}

/// The combiner's neutral element in `type`.
TypedAttr neutralElement(OpBuilder &b, gpu::AllReduceOperation kind,
                         Type type) {
  using K = gpu::AllReduceOperation;
  if (auto f = dyn_cast<FloatType>(type)) {
    const llvm::fltSemantics &sem = f.getFloatSemantics();
    switch (kind) {
    case K::ADD:
      return b.getFloatAttr(f, 0.0);
    case K::MUL:
      return b.getFloatAttr(f, 1.0);
    case K::MAXIMUMF:
    case K::MAXNUMF:
      return b.getFloatAttr(f, llvm::APFloat::getInf(sem, true));
    case K::MINIMUMF:
    case K::MINNUMF:
      return b.getFloatAttr(f, llvm::APFloat::getInf(sem, false));
    default:
      return {};
    }
  }
  auto i = dyn_cast<IntegerType>(type);
  if (!i)
    return {};
  unsigned w = i.getWidth();
  switch (kind) {
  case K::ADD:
  case K::OR:
  case K::XOR:
  case K::MAXUI:
    return b.getIntegerAttr(i, llvm::APInt::getZero(w));
  case K::MUL:
    return b.getIntegerAttr(i, llvm::APInt(w, 1));
  case K::AND:
  case K::MINUI:
    return b.getIntegerAttr(i, llvm::APInt::getAllOnes(w));
  case K::MAXSI:
    return b.getIntegerAttr(i, llvm::APInt::getSignedMinValue(w));
  case K::MINSI:
    return b.getIntegerAttr(i, llvm::APInt::getSignedMaxValue(w));
  default:
    return {};
  }
}

/// Values an op uses that are defined outside it: memrefs and scalars
/// become kernel arguments, constants are cloned into the kernel.
void collectCaptures(Operation *op, SetVector<Value> &captures) {
  for (Value v : op->getOperands())
    captures.insert(v);
  SetVector<Value> above;
  getUsedValuesDefinedAbove(op->getRegions(), above);
  captures.insert(above.begin(), above.end());
}

class KernelBuilder {
public:
  explicit KernelBuilder(gpu::GPUModuleOp gpuModule)
      : gpuModule(gpuModule), symbols(gpuModule) {}

  /// Replaces `ops` (generics of one function, in order) by one kernel
  /// built by `emit`, launched with `grid` x `block` threads before
  /// `before`.
  void launch(StringRef name, ArrayRef<linalg::GenericOp> ops,
              Operation *before, int64_t grid, int64_t block,
              function_ref<void(OpBuilder &, IRMapping &)> emit) {
    SmallVector<Operation *> list(ops.begin(), ops.end());
    launchOps(name, list, before, grid, block, emit);
  }

  /// A sequential loop nest left on the host (a scatter's updates, applied
  /// in order) as a kernel of one thread: correct whatever the loop does
  /// with memory, since it runs alone and in stream order. Only scalar code
  /// is taken (scf, arith, math, affine, memref loads and stores): no
  /// allocation, call or linalg op, which a kernel cannot hold.
  LogicalResult lowerSequential(StringRef name, Operation *loop) {
    Operation *bad = nullptr;
    loop->walk<WalkOrder::PreOrder>([&](Operation *op) {
      Dialect *d = op->getDialect();
      if (isa<memref::LoadOp, memref::StoreOp>(op) ||
          (isa<memref::GetGlobalOp>(op) &&
           cast<memref::GetGlobalOp>(op).getName() == kIndexStatusGlobal) ||
          isa_and_nonnull<scf::SCFDialect, arith::ArithDialect,
                          math::MathDialect, affine::AffineDialect>(d))
        return WalkResult::advance();
      bad = op;
      return WalkResult::interrupt();
    });
    if (bad)
      return loop->emitOpError("on the host holds '")
                 << bad->getName()
                 << "': not lowered to a CUDA kernel (a sequential kernel "
                    "runs scalar code only)",
             failure();
    SetVector<Value> captures;
    collectCaptures(loop, captures);
    for (Value v : captures) {
      Operation *def = v.getDefiningOp();
      if (!isa<MemRefType>(v.getType()) &&
          !(def && def->hasTrait<OpTrait::ConstantLike>()))
        return loop->emitOpError("on the host uses a value that is neither a "
                                 "buffer nor a constant: not lowered to a "
                                 "CUDA kernel");
    }
    launchOps(name, loop, loop, 1, 1, [&](OpBuilder &b, IRMapping &map) {
      b.clone(*loop, map);
    });
    loop->erase();
    return success();
  }

  void launchOps(StringRef name, ArrayRef<Operation *> ops,
                 Operation *before, int64_t grid, int64_t block,
                 function_ref<void(OpBuilder &, IRMapping &)> emit) {
    SetVector<Value> captures;
    for (Operation *op : ops)
      collectCaptures(op, captures);
    launchCaptures(name, ops, captures, before, grid, block, emit);
  }

  /// A call of the runtime's CPU attention kernel (f32 graph.attention,
  /// bufferized: llmc_attention_f32 or llmc_attention_nobias_f32 on casts
  /// of static buffers, params = [scale]) as the flash-attention kernel of
  /// FlashAttention.cpp. An operand with a strided layout is copied into a
  /// contiguous buffer first (and the output back).
  LogicalResult lowerAttention(StringRef name, func::CallOp call) {
    bool hasBias = call.getCallee() == "llmc_attention_f32";
    Location loc = call.getLoc();
    SmallVector<Value> operands;
    for (Value a : call.getOperands()) {
      auto c = a.getDefiningOp<memref::CastOp>();
      operands.push_back(c ? c.getSource() : a);
    }
    if (operands.size() != (hasBias ? 6u : 5u))
      return call.emitOpError("is not a call of the attention kernel");
    Value params = operands[hasBias ? 4 : 3];
    memref::StoreOp scaleStore;
    for (Operation *u : params.getUsers())
      if (auto st = dyn_cast<memref::StoreOp>(u))
        scaleStore = st;
    FloatAttr scale;
    if (!scaleStore ||
        !matchPattern(scaleStore.getValueToStore(), m_Constant(&scale)))
      return call.emitOpError("has no constant scale: not lowered to a "
                              "CUDA kernel");
    OpBuilder host(call);
    // Each buffer contiguous: a strided view is copied in (and out).
    auto contiguous = [&](Value &buffer, bool isOutput) -> LogicalResult {
      auto type = dyn_cast<MemRefType>(buffer.getType());
      if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
        return call.emitOpError("has an operand that is not a static f32 "
                                "buffer: not lowered to a CUDA kernel");
      if (type.getLayout().isIdentity())
        return success();
      Value copy = memref::AllocOp::create(
          host, loc, MemRefType::get(type.getShape(), type.getElementType()));
      if (isOutput) {
        OpBuilder after(call->getBlock(), ++Block::iterator(call));
        memref::CopyOp::create(after, loc, copy, buffer);
      } else {
        memref::CopyOp::create(host, loc, buffer, copy);
      }
      buffer = copy;
      return success();
    };
    Value q = operands[0], k = operands[1], v = operands[2],
          bias = hasBias ? operands[3] : Value(), out = operands.back();
    for (Value *buffer : {&q, &k, &v, &out})
      if (failed(contiguous(*buffer, buffer == &out)))
        return failure();
    if (bias && failed(contiguous(bias, false)))
      return failure();
    ArrayRef<int64_t> qs = cast<MemRefType>(q.getType()).getShape(),
                      ks = cast<MemRefType>(k.getType()).getShape(),
                      vs = cast<MemRefType>(v.getType()).getShape();
    FlashAttentionShape shape;
    shape.B = qs[0];
    shape.KVH = qs[1];
    shape.G = qs[2];
    shape.L = qs[3];
    shape.D = qs[4];
    shape.S = ks[2];
    shape.E = vs[3];
    shape.scale = scale.getValueAsDouble();
    shape.hasBias = static_cast<bool>(bias);
    if (bias) {
      ArrayRef<int64_t> bs = cast<MemRefType>(bias.getType()).getShape();
      int64_t full[5] = {shape.B, shape.KVH, shape.G, shape.L, shape.S};
      for (int d = 0; d < 5; ++d)
        shape.biasFull[d] = bs[d] != 1 || full[d] == 1;
    }
    if (shape.D > kFlashAttentionMaxHeadDim ||
        shape.E > kFlashAttentionMaxHeadDim || shape.S == 0 || shape.L == 0)
      return call.emitOpError("has head dims above ")
             << kFlashAttentionMaxHeadDim
             << " or no keys: not lowered to a CUDA kernel";
    FlashAttentionPlan plan = planFlashAttention(shape);
    SetVector<Value> captures;
    for (Value buffer : {q, k, v, bias, out})
      if (buffer)
        captures.insert(buffer);
    // Layers of one model have the same attention: one kernel for each
    // distinct problem (the operands' types, the scale).
    std::string key;
    llvm::raw_string_ostream os(key);
    for (Value buffer : captures)
      os << buffer.getType() << ";";
    os << llvm::format("%.17g", shape.scale);
    if (gpu::GPUFuncOp same = attentionKernels.lookup(key);
        same && captures.size() == 5 - !bias) {
      OpBuilder host(call);
      Value g = cst(host, loc, plan.grid), t = cst(host, loc, plan.block()),
            one = cst(host, loc, 1);
      gpu::LaunchFuncOp::create(host, loc, same, gpu::KernelDim3{g, one, one},
                                gpu::KernelDim3{t, one, one}, Value(),
                                captures.getArrayRef());
    } else {
      attentionKernels[key] = launchCaptures(
          name, {call.getOperation()}, captures, call, plan.grid, plan.block(),
          [&](OpBuilder &b, IRMapping &map) {
            emitFlashAttention(b, loc, shape, plan, map.lookup(q),
                               map.lookup(k), map.lookup(v),
                               bias ? map.lookup(bias) : Value(),
                               map.lookup(out));
          });
    }
    SmallVector<Value> args(call.getOperands());
    call.erase();
    for (Value a : args)
      if (auto c = a.getDefiningOp<memref::CastOp>(); c && c->use_empty())
        c.erase();
    scaleStore.erase();
    if (Operation *alloca = params.getDefiningOp(); alloca && alloca->use_empty())
      alloca->erase();
    return success();
  }

  /// One kernel computing `ops`' (for its locations) from `captures`:
  /// buffers and scalars become its arguments, constants are cloned in.
  gpu::GPUFuncOp launchCaptures(StringRef name, ArrayRef<Operation *> ops,
                      const SetVector<Value> &captures, Operation *before,
                      int64_t grid, int64_t block,
                      function_ref<void(OpBuilder &, IRMapping &)> emit) {
    SmallVector<Value> args;
    SmallVector<Operation *> cloned;
    for (Value v : captures) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>()) {
        cloned.push_back(def);
        continue;
      }
      args.push_back(v);
    }
    OpBuilder b(gpuModule.getBodyRegion());
    b.setInsertionPointToEnd(gpuModule.getBody());
    Location loc = ops.front()->getLoc();
    auto func = gpu::GPUFuncOp::create(
        b, loc, name, b.getFunctionType(ValueRange(args).getTypes(), {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    func.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({static_cast<int32_t>(block), 1, 1}));
    symbols.insert(func);
    Block &entry = func.getBody().front();
    b.setInsertionPointToStart(&entry);
    IRMapping map;
    for (auto [v, arg] : llvm::zip(args, entry.getArguments()))
      map.map(v, arg);
    for (Operation *c : cloned)
      b.clone(*c, map);
    emit(b, map);
    gpu::ReturnOp::create(b, loc);

    // The launch carries every op's location: the ONNX nodes it computes.
    SmallVector<Location> locs;
    for (Operation *op : ops)
      locs.push_back(op->getLoc());
    OpBuilder host(before);
    Location launchLoc = host.getFusedLoc(locs);
    Value g = cst(host, loc, grid), t = cst(host, loc, block),
          one = cst(host, loc, 1);
    gpu::LaunchFuncOp::create(host, launchLoc, func, gpu::KernelDim3{g, one, one},
                              gpu::KernelDim3{t, one, one}, Value(), args);
    return func;
  }

  /// Ops as one grid-stride loop over their parallel iteration space
  /// (several ops only when all are parallel over the same space and
  /// independent: see batchable); reductions run sequentially per output.
  LogicalResult lowerLoop(StringRef name, ArrayRef<linalg::GenericOp> ops) {
    linalg::GenericOp first = ops.front();
    SmallVector<int64_t> sizes = first.getStaticLoopRanges();
    if (ShapedType::isDynamicShape(sizes))
      return first.emitOpError("has a dynamic iteration space: not lowered "
                               "to a CUDA kernel");
    SmallVector<unsigned> parallel, reduction;
    for (auto [i, it] : llvm::enumerate(first.getIteratorTypesArray()))
      (it == utils::IteratorType::parallel ? parallel : reduction).push_back(i);
    SmallVector<int64_t> pSizes;
    for (unsigned d : parallel)
      pSizes.push_back(sizes[d]);
    // All parallel and some operand moves as vectors: each thread computes
    // kLanes consecutive elements of the innermost dim per iteration.
    unsigned inner = sizes.size() - 1;
    bool lanes = reduction.empty() && !sizes.empty() &&
                 llvm::all_of(ops, [&](linalg::GenericOp op) {
                   return op.getStaticLoopRanges()[inner] % kLanes == 0;
                 }) &&
                 llvm::any_of(ops, [&](linalg::GenericOp op) {
                   return vectorizes(op, inner);
                 });
    if (lanes)
      pSizes.back() /= kLanes;
    int64_t total = product(pSizes);
    int64_t blocks = std::clamp<int64_t>(
        (total + kLoopThreads - 1) / kLoopThreads, 1, kMaxBlocks);
    launch(
        name, ops, ops.back(), blocks, kLoopThreads,
        [&](OpBuilder &b, IRMapping &map) {
          Location loc = first.getLoc();
          auto [tid, bid, bdim, gdim] = threadIds(b, loc);
          Value start = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, bid, bdim), tid);
          Value step = arith::MulIOp::create(b, loc, gdim, bdim);
          auto loop =
              scf::ForOp::create(b, loc, start, cst(b, loc, total), step);
          b.setInsertionPointToStart(loop.getBody());
          // Reduction dims read as 0 until their loops bind them (outputs do
          // not depend on them).
          SmallVector<Value> iv(sizes.size(), cst(b, loc, 0));
          for (auto [d, v] :
               llvm::zip(parallel,
                         delinearize(b, loc, loop.getInductionVar(), pSizes)))
            iv[d] = v;
          if (lanes) {
            iv[inner] = arith::MulIOp::create(b, loc, iv[inner],
                                              cst(b, loc, kLanes));
            for (linalg::GenericOp op : ops)
              emitLanes(b, op, iv, inner, map);
          } else {
            for (linalg::GenericOp op : ops)
              emitElement(b, op, iv, reduction, sizes, map);
          }
          b.setInsertionPointAfter(loop);
        });
    return success();
  }

  /// One output element of `op` at the parallel indices of `iv` (reduction
  /// dims looped over sequentially), stored. An output indexed by a
  /// reduction dim (fusion can leave one: a value computed along the
  /// reduced loop beside the reduction) is an element per iteration: read
  /// and stored inside the loops, not carried through them.
  void emitElement(OpBuilder &b, linalg::GenericOp op, SmallVector<Value> &iv,
                   ArrayRef<unsigned> reduction, ArrayRef<int64_t> sizes,
                   IRMapping &map) {
    Location loc = op.getLoc();
    Block &body = op.getRegion().front();
    // Which outputs are per iteration of the reduction loops.
    SmallVector<bool> perIteration;
    for (OpOperand &init : op.getDpsInitsMutable()) {
      AffineMap m = op.getMatchingIndexingMap(&init);
      perIteration.push_back(llvm::any_of(reduction, [&](unsigned d) {
        return m.isFunctionOfDim(d);
      }));
    }
    // Outputs start from what the buffer holds (a reduction's init).
    SmallVector<Value> outs;
    for (auto [k, init] : llvm::enumerate(op.getDpsInitsMutable())) {
      BlockArgument arg = op.getMatchingBlockArgument(&init);
      if (perIteration[k])
        continue;
      outs.push_back(reduction.empty() && arg.use_empty()
                         ? Value()
                         : readOperand(b, loc, op, init, iv, map));
    }
    // The body at `ivs`, the carried outputs being `acc`; stores the
    // per-iteration outputs and returns the carried ones.
    auto compute = [&](OpBuilder &nb, ValueRange ivs, ValueRange acc) {
      SmallVector<Value> args;
      for (OpOperand *in : op.getDpsInputOperands())
        args.push_back(body.getArgument(in->getOperandNumber()).use_empty()
                           ? Value()
                           : readOperand(nb, loc, op, *in, ivs, map));
      unsigned next = 0;
      for (auto [k, init] : llvm::enumerate(op.getDpsInitsMutable()))
        args.push_back(!perIteration[k] ? acc[next++]
                       : op.getMatchingBlockArgument(&init).use_empty()
                           ? Value()
                           : readOperand(nb, loc, op, init, ivs, map));
      SmallVector<Value> all = cloneBody(nb, op, ivs, args, map), carried;
      for (auto [k, init] : llvm::enumerate(op.getDpsInitsMutable())) {
        if (!perIteration[k]) {
          carried.push_back(all[k]);
          continue;
        }
        memref::StoreOp::create(
            nb, loc, all[k], map.lookupOrDefault(init.get()),
            applyMap(nb, loc, op.getMatchingIndexingMap(&init), ivs));
      }
      return carried;
    };
    SmallVector<Value> results;
    if (reduction.empty()) {
      results = compute(b, iv, outs);
    } else {
      // Sequential loops over the reduction dims, carrying the outputs.
      std::function<SmallVector<Value>(OpBuilder &, unsigned, ValueRange)>
          nest = [&](OpBuilder &nb, unsigned k,
                     ValueRange carried) -> SmallVector<Value> {
        if (k == reduction.size())
          return compute(nb, iv, carried);
        auto inner = scf::ForOp::create(nb, loc, cst(nb, loc, 0),
                                        cst(nb, loc, sizes[reduction[k]]),
                                        cst(nb, loc, 1), carried);
        OpBuilder ib = OpBuilder::atBlockBegin(inner.getBody());
        iv[reduction[k]] = inner.getInductionVar();
        SmallVector<Value> next = nest(ib, k + 1, inner.getRegionIterArgs());
        scf::YieldOp::create(ib, loc, next);
        return SmallVector<Value>(inner.getResults());
      };
      results = nest(b, 0, outs);
    }
    unsigned next = 0;
    for (auto [k, init] : llvm::enumerate(op.getDpsInitsMutable()))
      if (!perIteration[k])
        memref::StoreOp::create(
            b, loc, results[next++], map.lookupOrDefault(init.get()),
            applyMap(b, loc, op.getMatchingIndexingMap(&init), iv));
  }

  /// The kLanes output elements of the parallel op `op` from iv[inner]
  /// on, computed one lane after the other and stored (as one vector where
  /// the output is dense along `inner`).
  void emitLanes(OpBuilder &b, linalg::GenericOp op, ArrayRef<Value> iv,
                 unsigned inner, IRMapping &map) {
    Location loc = op.getLoc();
    SmallVector<SmallVector<Value>> operands;
    for (OpOperand &o : op->getOpOperands())
      operands.push_back(
          op.getMatchingBlockArgument(&o).use_empty()
              ? SmallVector<Value>(kLanes, Value())
              : readLanes(b, loc, op, o, iv, inner, map));
    SmallVector<SmallVector<Value>> results(op.getNumDpsInits());
    for (int64_t l = 0; l < kLanes; ++l) {
      SmallVector<Value> args;
      for (auto &lanes : operands)
        args.push_back(lanes[l]);
      SmallVector<Value> laneIvs = laneIv(b, loc, iv, inner, l);
      for (auto [k, v] : llvm::enumerate(cloneBody(b, op, laneIvs, args, map)))
        results[k].push_back(v);
    }
    for (auto [init, values] : llvm::zip(op.getDpsInitsMutable(), results))
      writeLanes(b, loc, op, init, values, iv, inner, map);
  }

  /// A row group as one kernel, one block per row; false (with nothing
  /// changed) when its ops do not fit that form.
  bool lowerRows(StringRef name, ArrayRef<linalg::GenericOp> ops,
                 Operation *before);

private:
  gpu::GPUModuleOp gpuModule;
  SymbolTable symbols;
  /// The attention kernels made so far, by problem.
  llvm::StringMap<gpu::GPUFuncOp> attentionKernels;
};

/// One op of a row kernel: its iteration dims split into the row part
/// (leading parallel dims whose sizes multiply to the row count) and the
/// column part (all parallel, or all reduction).
struct Phase {
  linalg::GenericOp op;
  SmallVector<int64_t> rowSizes, colSizes;
  std::optional<Combiner> combiner; // set for a reduction
  bool lanes = false; // kLanes columns a thread at a time
};

/// The buffer a contiguous view (reshape, expand/collapse) is of.
Value viewRoot(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto r = dyn_cast<memref::ReshapeOp>(def))
      v = r.getSource();
    else if (auto e = dyn_cast<memref::ExpandShapeOp>(def))
      v = e.getSrc();
    else if (auto c = dyn_cast<memref::CollapseShapeOp>(def))
      v = c.getSrc();
    else
      break;
  }
  return v;
}

/// True when `operand` of a phase touches only its own row: the memref
/// has identity layout, the leading indices of the access are the phase's
/// row dims in order, and they span the memref's leading dims.
bool rowLocal(const Phase &p, OpOperand &operand) {
  linalg::GenericOp op = p.op;
  auto type = dyn_cast<MemRefType>(operand.get().getType());
  if (!type || !type.getLayout().isIdentity() || !type.hasStaticShape())
    return false;
  AffineMap map = op.getMatchingIndexingMap(&operand);
  size_t k = p.rowSizes.size();
  if (map.getNumResults() < k)
    return false;
  for (size_t i = 0; i < k; ++i) {
    auto d = dyn_cast<AffineDimExpr>(map.getResult(i));
    if (!d || d.getPosition() != i || type.getDimSize(i) != p.rowSizes[i])
      return false;
  }
  return true;
}

/// The block's combination of its threads' partials of reduction phase
/// `p`, combined by the first thread into the row's output.
void reduceRow(OpBuilder &b, Location loc, const Phase &p, Value partial,
               ArrayRef<Value> rowIv, Value isFirst, IRMapping &map) {
  linalg::GenericOp op = p.op;
  // Warp shuffles move 32 or 64 bits: narrower partials meet widened (f16
  // and bf16 as f32; integers extended as the combiner reads them) and are
  // narrowed back, which for these combiners gives the same value.
  using K = gpu::AllReduceOperation;
  K kind = p.combiner->kind;
  Type type = partial.getType();
  unsigned width = type.getIntOrFloatBitWidth();
  Value wide = partial;
  if (width < 32 && isa<FloatType>(type)) {
    wide = arith::ExtFOp::create(b, loc, b.getF32Type(), partial);
  } else if (width < 32) {
    bool unsignedKind = kind == K::MAXUI || kind == K::MINUI;
    bool signedKind = kind == K::MAXSI || kind == K::MINSI;
    if (signedKind || (width > 1 && !unsignedKind))
      wide = arith::ExtSIOp::create(b, loc, b.getI32Type(), partial);
    else
      wide = arith::ExtUIOp::create(b, loc, b.getI32Type(), partial);
  }
  Value total =
      gpu::AllReduceOp::create(
          b, loc, wide, gpu::AllReduceOperationAttr::get(b.getContext(), kind),
          b.getUnitAttr())
          .getResult();
  if (wide != partial)
    total = isa<FloatType>(type)
                ? arith::TruncFOp::create(b, loc, type, total).getResult()
                : arith::TruncIOp::create(b, loc, type, total).getResult();
  auto first = scf::IfOp::create(b, loc, isFirst, false);
  OpBuilder ib = first.getThenBodyBuilder();
  OpOperand &init = op.getDpsInitsMutable()[0];
  SmallVector<Value> iv(rowIv);
  for (size_t i = 0; i < p.colSizes.size(); ++i)
    iv.push_back(cst(ib, loc, 0)); // outputs do not depend on reduction dims
  Value initial = readOperand(ib, loc, op, init, iv, map);
  Value result = combine(ib, *p.combiner, initial, total);
  memref::StoreOp::create(
      ib, loc, result, map.lookupOrDefault(init.get()),
      applyMap(ib, loc, op.getMatchingIndexingMap(&init), iv));
}

bool KernelBuilder::lowerRows(StringRef name, ArrayRef<linalg::GenericOp> ops,
                              Operation *before) {
  // The row count: the parallel extent of the first reduction.
  int64_t rows = -1;
  for (linalg::GenericOp op : ops) {
    if (op.getNumReductionLoops() == 0)
      continue;
    SmallVector<int64_t> sizes = op.getStaticLoopRanges();
    int64_t n = 1;
    for (auto [s, it] : llvm::zip(sizes, op.getIteratorTypesArray()))
      if (it == utils::IteratorType::parallel)
        n *= s;
    rows = n;
    break;
  }
  if (rows < 1)
    return false;
  SmallVector<Phase> phases;
  int64_t maxCols = 1;
  for (linalg::GenericOp op : ops) {
    SmallVector<int64_t> sizes = op.getStaticLoopRanges();
    if (ShapedType::isDynamicShape(sizes))
      return false;
    auto its = op.getIteratorTypesArray();
    Phase p{op, {}, {}, std::nullopt};
    size_t k = 0;
    int64_t n = 1;
    while (n < rows && k < sizes.size())
      n *= sizes[k++];
    // Trailing unit dims of the row part belong to it as well (all of a
    // single row's leading unit dims, when there is one row).
    while (k < sizes.size() && sizes[k] == 1 &&
           its[k] == utils::IteratorType::parallel)
      ++k;
    if (n != rows)
      return false;
    p.rowSizes.assign(sizes.begin(), sizes.begin() + k);
    p.colSizes.assign(sizes.begin() + k, sizes.end());
    for (size_t i = 0; i < k; ++i)
      if (its[i] != utils::IteratorType::parallel)
        return false;
    bool anyReduction = op.getNumReductionLoops() > 0;
    for (size_t i = k; i < its.size(); ++i)
      if (anyReduction && its[i] != utils::IteratorType::reduction)
        return false;
    if (anyReduction) {
      p.combiner = matchCombiner(op);
      OpBuilder probe(op);
      if (!p.combiner ||
          !neutralElement(probe, p.combiner->kind,
                          p.combiner->op->getResult(0).getType()))
        return false;
    }
    p.lanes = !p.colSizes.empty() && vectorizes(op, sizes.size() - 1);
    maxCols = std::max(maxCols,
                       product(p.colSizes) / (p.lanes ? kLanes : 1));
    phases.push_back(std::move(p));
  }
  // What the kernel writes and reads again must stay within its row: rows
  // run in different blocks, which do not see each other's writes.
  DenseSet<Value> written;
  for (Phase &p : phases)
    for (OpOperand &init : p.op.getDpsInitsMutable())
      written.insert(viewRoot(init.get()));
  for (Phase &p : phases)
    for (OpOperand &operand : p.op->getOpOperands())
      if (isa<MemRefType>(operand.get().getType()) &&
          written.contains(viewRoot(operand.get())) && !rowLocal(p, operand))
        return false;
  // Buffers an op's body reads directly (gathers) must not be written here.
  for (Phase &p : phases) {
    SetVector<Value> above;
    getUsedValuesDefinedAbove(p.op.getRegion(), above);
    for (Value v : above)
      if (isa<MemRefType>(v.getType()) && written.contains(viewRoot(v)))
        return false;
  }

  int64_t threads = std::clamp<int64_t>((maxCols + 31) / 32 * 32, 32, 256);
  int64_t blocks = std::min(rows, kMaxBlocks);
  launch(name, ops, before, blocks, threads, [&](OpBuilder &b, IRMapping &map) {
    Location loc = ops.front()->getLoc();
    auto [tid, bid, bdim, gdim] = threadIds(b, loc);
    Value zero = cst(b, loc, 0);
    Value isFirst =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, zero);
    auto rowLoop = scf::ForOp::create(b, loc, bid, cst(b, loc, rows), gdim);
    b.setInsertionPointToStart(rowLoop.getBody());
    Value row = rowLoop.getInductionVar();
    for (Phase &p : phases) {
      linalg::GenericOp op = p.op;
      Block &body = op.getRegion().front();
      SmallVector<Value> rowIv = delinearize(b, loc, row, p.rowSizes);
      auto indices = [&](OpBuilder &nb, Value col) {
        SmallVector<Value> iv = rowIv;
        SmallVector<Value> c = delinearize(nb, loc, col, p.colSizes);
        iv.append(c.begin(), c.end());
        return iv;
      };
      auto inputs = [&](OpBuilder &nb, ValueRange iv) {
        SmallVector<Value> args;
        for (OpOperand *in : op.getDpsInputOperands())
          args.push_back(body.getArgument(in->getOperandNumber()).use_empty()
                             ? Value()
                             : readOperand(nb, loc, op, *in, iv, map));
        return args;
      };
      int64_t cols = product(p.colSizes);
      unsigned inner = p.rowSizes.size() + p.colSizes.size() - 1;
      // The first column a loop step covers (kLanes of them with lanes).
      auto column = [&](OpBuilder &nb, Value step) -> Value {
        return p.lanes ? arith::MulIOp::create(nb, loc, step,
                                               cst(nb, loc, kLanes))
                             .getResult()
                       : step;
      };
      if (p.lanes)
        cols /= kLanes;
      if (p.combiner) {
        // Per-thread partials over strided columns (with lanes, groups of
        // kLanes columns, each lane combined in turn), then the block's.
        Type t = p.combiner->op->getResult(0).getType();
        Value neutral = arith::ConstantOp::create(
            b, loc, neutralElement(b, p.combiner->kind, t));
        auto loop = scf::ForOp::create(b, loc, tid, cst(b, loc, cols), bdim,
                                       ValueRange{neutral});
        {
          OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
          SmallVector<Value> iv =
              indices(lb, column(lb, loop.getInductionVar()));
          SmallVector<SmallVector<Value>> lanes;
          for (OpOperand *in : op.getDpsInputOperands()) {
            if (body.getArgument(in->getOperandNumber()).use_empty())
              lanes.push_back(SmallVector<Value>(kLanes, Value()));
            else if (p.lanes)
              lanes.push_back(readLanes(lb, loc, op, *in, iv, inner, map));
            else
              lanes.push_back({readOperand(lb, loc, op, *in, iv, map)});
          }
          Value acc = loop.getRegionIterArgs()[0];
          for (int64_t l = 0; l < (p.lanes ? kLanes : 1); ++l) {
            SmallVector<Value> args;
            for (auto &operand : lanes)
              args.push_back(operand[l]);
            args.push_back(Value());
            cloneBody(lb, op, p.lanes ? laneIv(lb, loc, iv, inner, l) : iv,
                      args, map, p.combiner->op);
            acc = combine(lb, *p.combiner, acc,
                          map.lookupOrDefault(p.combiner->element));
          }
          scf::YieldOp::create(lb, loc, acc);
        }
        reduceRow(b, loc, p, loop.getResult(0), rowIv, isFirst, map);
      } else if (p.lanes) {
        auto loop = scf::ForOp::create(b, loc, tid, cst(b, loc, cols), bdim);
        OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
        emitLanes(lb, op, indices(lb, column(lb, loop.getInductionVar())),
                  inner, map);
      } else {
        auto loop = scf::ForOp::create(b, loc, tid, cst(b, loc, cols), bdim);
        OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
        SmallVector<Value> iv = indices(lb, loop.getInductionVar());
        SmallVector<Value> args = inputs(lb, iv);
        for (OpOperand &init : op.getDpsInitsMutable())
          args.push_back(op.getMatchingBlockArgument(&init).use_empty()
                             ? Value()
                             : readOperand(lb, loc, op, init, iv, map));
        SmallVector<Value> results = cloneBody(lb, op, iv, args, map);
        for (auto [init, v] : llvm::zip(op.getDpsInitsMutable(), results))
          memref::StoreOp::create(
              lb, loc, v, map.lookupOrDefault(init.get()),
              applyMap(lb, loc, op.getMatchingIndexingMap(&init), iv));
      }
      // What this phase wrote is visible to the whole block after this.
      gpu::BarrierOp::create(b, loc);
    }
    b.setInsertionPointAfter(rowLoop);
  });
  return true;
}

/// True when `op` can run in the same grid-stride loop as `batch`: every
/// op is parallel over the same static iteration space, and none reads or
/// writes a buffer another of them writes (each thread then computes the
/// same element of every op, in any order).
bool batchable(ArrayRef<linalg::GenericOp> batch, linalg::GenericOp op) {
  auto parallelOnly = [](linalg::GenericOp g) {
    return g.getNumReductionLoops() == 0 &&
           !ShapedType::isDynamicShape(g.getStaticLoopRanges());
  };
  linalg::GenericOp front = batch.front();
  if (!parallelOnly(op) || !parallelOnly(front) ||
      op.getStaticLoopRanges() != front.getStaticLoopRanges())
    return false;
  llvm::SmallPtrSet<Value, 8> written;
  for (linalg::GenericOp g : batch)
    for (Value init : g.getDpsInits())
      written.insert(viewRoot(init));
  for (Value init : op.getDpsInits())
    if (!written.insert(viewRoot(init)).second)
      return false;
  auto touchesWritten = [&](linalg::GenericOp g, bool skipOwnInits) {
    for (OpOperand &o : g->getOpOperands()) {
      if (skipOwnInits && g.isDpsInit(&o))
        continue;
      if (written.contains(viewRoot(o.get())))
        return true;
    }
    return false;
  };
  // Reads of any written buffer (by the new op, or of the new op's outputs
  // by the batch) would race.
  if (touchesWritten(op, /*skipOwnInits=*/true))
    return false;
  for (linalg::GenericOp g : batch)
    for (OpOperand *in : g.getDpsInputOperands())
      if (written.contains(viewRoot(in->get())))
        return false;
  return true;
}

/// True when nothing between `a` and `b` (in one block) reads or writes
/// memory: moving `a` down to `b` changes no result.
bool adjacent(Operation *a, Operation *b) {
  if (a->getBlock() != b->getBlock() || !a->isBeforeInBlock(b))
    return false;
  for (Operation *op = a->getNextNode(); op && op != b; op = op->getNextNode())
    if (!isa<memref::AllocOp, memref::GetGlobalOp, arith::ConstantOp,
             ViewLikeOpInterface>(op))
      return false;
  return true;
}

/// Scalar code left directly on the host, a memref.store of values loaded
/// and computed there (a TopK, gather or scatter over one element, whose
/// loops folded away, or a loop whose results are stored after it), goes
/// into a loop of one trip, which then becomes a sequential kernel like
/// any other host loop (a loop lowered alone left its stored results
/// dangling). Only when nothing between
/// the first op moved and the store writes memory (a call, a copy, a
/// kernel): the loads then read what they read before.
void wrapHostStores(func::FuncOp func) {
  if (!func.getBody().hasOneBlock())
    return;
  Block &block = func.getBody().front();
  SmallVector<memref::StoreOp> stores(block.getOps<memref::StoreOp>());
  for (memref::StoreOp store : stores) {
    // The ops computing what the store writes and where, in this block.
    SetVector<Operation *> slice;
    SmallVector<Value> work(store->getOperands().begin(),
                            store->getOperands().end());
    bool movable = true;
    while (!work.empty() && movable) {
      Operation *def = work.pop_back_val().getDefiningOp();
      if (!def || def->getBlock() != &block || slice.contains(def) ||
          def->hasTrait<OpTrait::ConstantLike>() ||
          isa<memref::AllocOp, memref::GetGlobalOp>(def) ||
          isa<ViewLikeOpInterface>(def))
        continue;
      Dialect *d = def->getDialect();
      if (!isa<memref::LoadOp>(def) &&
          !isa_and_nonnull<arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect>(d)) {
        movable = false;
        break;
      }
      slice.insert(def);
      work.append(def->getOperands().begin(), def->getOperands().end());
      // A loop whose result the store writes (a TopK's rounds) moves with
      // it, and so does what its body reads from the block.
      if (def->getNumRegions()) {
        SetVector<Value> captured;
        for (Region &r : def->getRegions())
          getUsedValuesDefinedAbove(r, captured);
        work.append(captured.begin(), captured.end());
      }
    }
    if (!movable)
      continue;
    Operation *first = store;
    for (Operation *op : slice)
      if (op->isBeforeInBlock(first))
        first = op;
    for (Operation *op = first; op != store; op = op->getNextNode())
      if (!slice.contains(op) && !isMemoryEffectFree(op) &&
          !isa<memref::AllocOp, memref::GetGlobalOp>(op))
        movable = false;
    if (!movable)
      continue;
    OpBuilder b(store);
    Location loc = store.getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, zero, one, one);
    OpBuilder inner = OpBuilder::atBlockBegin(loop.getBody());
    IRMapping map;
    SmallVector<Operation *> ordered(slice.begin(), slice.end());
    llvm::sort(ordered, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
    for (Operation *op : ordered)
      inner.clone(*op, map);
    inner.clone(*store, map);
    store.erase();
    for (Operation *op : llvm::reverse(ordered))
      if (op->use_empty())
        op->erase();
  }
}

/// True for the library calls the CUDA runtime makes: cuBLASLt GEMMs,/// True for the library calls the CUDA runtime makes: cuBLASLt GEMMs,
/// cuDNN convolutions and NCCL collectives (whose body is only what a group
/// of one device computes). Any other marked generic would be a kernel
/// here: a marked generic computes exactly what its op means.
bool runsInLibrary(linalg::GenericOp op) {
  StringAttr call = op.getLibraryCallAttr();
  return call && (call.getValue().starts_with("llmc_matmul_") ||
                  call.getValue().starts_with("llmc_collective_") ||
                  isLibraryConv(op));
}

/// True when `fill` writes zeros into a contiguous buffer that a library
/// GEMM or convolution then accumulates into: it stays on the host, where
/// the CUDA program makes it the library call's beta = 0 (or a memset).
bool isLibraryZeroInit(linalg::FillOp fill) {
  Value out = fill.getOutputs()[0];
  auto type = dyn_cast<MemRefType>(out.getType());
  if (!type || !type.getLayout().isIdentity() || !isZeroFill(fill, out))
    return false;
  return llvm::any_of(out.getUsers(), [&](Operation *user) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    return generic && runsInLibrary(generic) &&
           generic.getDpsInits()[0] == out;
  });
}

/// A copy out of a buffer that holds a fill's value (filled earlier in the
/// block and, since, only read by copies) becomes that fill of the copy's
/// target: bufferization copies one shared zero-filled GEMM init for every
/// GEMM. Fills of buffers nothing reads any more are then dropped.
void forwardFills(ModuleOp module) {
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp c) { copies.push_back(c); });
  for (memref::CopyOp c : copies) {
    auto alloc = c.getSource().getDefiningOp<memref::AllocOp>();
    if (!alloc || c.getSource().getType() != c.getTarget().getType() ||
        c.getTarget() == c.getSource() ||
        llvm::any_of(alloc->getUsers(), [&](Operation *u) {
          // A view made before the copy could write the buffer unseen.
          return isa<ViewLikeOpInterface>(u) &&
                 (u->getBlock() != c->getBlock() || u->isBeforeInBlock(c));
        }))
      continue;
    // Walk back from the copy to the fill through reads by copies only.
    linalg::FillOp fill;
    for (Operation *op = c->getPrevNode(); op; op = op->getPrevNode()) {
      if (!llvm::is_contained(op->getOperands(), alloc.getResult()))
        continue;
      if (auto f = dyn_cast<linalg::FillOp>(op);
          f && f.getOutputs()[0] == alloc.getResult())
        fill = f;
      else if (auto other = dyn_cast<memref::CopyOp>(op);
               other && other.getSource() == alloc.getResult() &&
               other.getTarget() != alloc.getResult())
        continue;
      break;
    }
    if (!fill)
      continue;
    OpBuilder b(c);
    linalg::FillOp::create(b, c.getLoc(), fill.getInputs()[0], c.getTarget());
    c.erase();
  }
  SmallVector<memref::AllocOp> allocs;
  module.walk([&](memref::AllocOp a) { allocs.push_back(a); });
  for (memref::AllocOp a : allocs) {
    if (!llvm::all_of(a->getUsers(),
                      [](Operation *u) { return isa<linalg::FillOp>(u); }))
      continue;
    for (Operation *u : llvm::make_early_inc_range(a->getUsers()))
      u->erase();
    a.erase();
  }
}

/// A copy of a temporary (or of a reshaped view of one) into a function's
/// output buffer, as the temporary's last use, is dropped: the temporary
/// becomes the output buffer (reshaped back), so whatever wrote it writes
/// the output. This removes the copies that buffer-results-to-out-params
/// leaves at the end of @main and of every kernel function.
void forwardOutputs(ModuleOp module) {
  for (func::FuncOp func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    Block &body = func.getBody().front();
    SmallVector<memref::CopyOp> copies(body.getOps<memref::CopyOp>());
    for (memref::CopyOp c : copies) {
      auto out = dyn_cast<BlockArgument>(c.getTarget());
      if (!out || out.getOwner() != &body)
        continue;
      Value src = c.getSource();
      Operation *view = nullptr;
      if (isa_and_nonnull<memref::CollapseShapeOp, memref::ExpandShapeOp>(
              src.getDefiningOp())) {
        view = src.getDefiningOp();
        src = view->getOperand(0);
        if (!view->hasOneUse())
          continue;
      }
      auto alloc = src.getDefiningOp<memref::AllocOp>();
      if (!alloc || alloc->getBlock() != &body ||
          !alloc.getType().getLayout().isIdentity() ||
          !cast<MemRefType>(out.getType()).getLayout().isIdentity())
        continue;
      // The copy is the temporary's last use (a use nested in an op, such
      // as a load in a gather's body, counts where that op is), and nothing
      // touches the output before it.
      bool last = llvm::all_of(alloc->getUsers(), [&](Operation *u) {
        Operation *top = body.findAncestorOpInBlock(*u);
        return u == c || u == view || (top && top->isBeforeInBlock(c));
      });
      bool untouched = llvm::all_of(out.getUsers(), [&](Operation *u) {
        Operation *top = body.findAncestorOpInBlock(*u);
        return u == c || (top && c->isBeforeInBlock(top));
      });
      if (!last || !untouched)
        continue;
      OpBuilder b(alloc);
      Value replacement = out;
      if (auto collapse = dyn_cast_or_null<memref::CollapseShapeOp>(view))
        replacement = memref::ExpandShapeOp::create(
            b, c.getLoc(), alloc.getType().getShape(), out,
            collapse.getReassociationIndices());
      else if (auto expand = dyn_cast_or_null<memref::ExpandShapeOp>(view))
        replacement = memref::CollapseShapeOp::create(
            b, c.getLoc(), out, expand.getReassociationIndices());
      if (replacement.getType() != alloc.getType()) {
        if (replacement != out)
          replacement.getDefiningOp()->erase();
        continue;
      }
      c.erase();
      if (view)
        view->erase();
      alloc.getResult().replaceAllUsesWith(replacement);
      alloc.erase();
    }
  }
}

/// Turns memref.copy into linalg.copy and named linalg ops into generics,
/// so that one code path handles them all.
LogicalResult normalize(ModuleOp module) {
  forwardOutputs(module);
  forwardFills(module);
  // A convolution's zero padding stays on the host: the CUDA program hands
  // it to cuDNN instead of running a fill and a copy.
  llvm::SmallPtrSet<Operation *, 16> padding;
  module.walk([&](linalg::GenericOp op) {
    if (std::optional<ConvPadding> p = matchConvPadding(op)) {
      padding.insert(p->fill);
      padding.insert(p->copy);
    }
  });
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp c) {
    if (!padding.contains(c))
      copies.push_back(c);
  });
  for (memref::CopyOp c : copies) {
    OpBuilder b(c);
    linalg::CopyOp::create(b, c.getLoc(), c.getSource(), c.getTarget());
    c.erase();
  }
  SmallVector<linalg::LinalgOp> named;
  module.walk([&](linalg::LinalgOp op) {
    auto fill = dyn_cast<linalg::FillOp>(op.getOperation());
    if (!isa<linalg::GenericOp>(op) && !(fill && isLibraryZeroInit(fill)) &&
        !padding.contains(op))
      named.push_back(op);
  });
  IRRewriter rewriter(module.getContext());
  for (linalg::LinalgOp op : named) {
    rewriter.setInsertionPoint(op);
    if (failed(linalg::generalizeNamedOp(rewriter, op)))
      return op->emitOpError("cannot be expressed as a linalg.generic for "
                             "the CUDA kernel generator");
  }
  return success();
}

/// The index checks of llmc-convert-graph-to-linalg{check-indices}: a call
/// of the runtime's llmc_index_error (index, size, the node's name) in the
/// body of a gather or scatter becomes stores of (site + 1, index, size)
/// into the device global `llmc_index_status` (i64 x 3), which the runtime
/// zeroes before each run and reads after it. The sites' names become the
/// module's `llmc.index_sites` (the CUDA program carries them), and the
/// host's name strings and declaration go.
void rewriteIndexChecks(ModuleOp module, gpu::GPUModuleOp gpuModule) {
  SmallVector<func::CallOp> calls;
  module.walk([&](func::CallOp call) {
    if (call.getCallee() == kIndexErrorFunction)
      calls.push_back(call);
  });
  if (calls.empty())
    return;
  MLIRContext *ctx = module.getContext();
  // The sites' names, by number (llmc_index_site_<N>).
  SmallVector<Attribute> sites;
  SmallVector<memref::GlobalOp> hostGlobals;
  for (memref::GlobalOp g : module.getOps<memref::GlobalOp>()) {
    StringRef name = g.getSymName();
    unsigned n = 0;
    if (!name.consume_front("llmc_index_site_") || name.getAsInteger(10, n))
      continue;
    hostGlobals.push_back(g);
    std::string text;
    if (auto init = dyn_cast_or_null<DenseElementsAttr>(g.getInitialValueAttr()))
      for (const APInt &c : init.getValues<APInt>())
        text.push_back(static_cast<char>(c.getZExtValue()));
    if (sites.size() <= n)
      sites.resize(n + 1, StringAttr::get(ctx, ""));
    sites[n] = StringAttr::get(ctx, text);
  }
  module->setAttr("llmc.index_sites", ArrayAttr::get(ctx, sites));
  auto statusType = MemRefType::get({3}, IntegerType::get(ctx, 64));
  OpBuilder top(gpuModule.getBodyRegion());
  top.setInsertionPointToStart(gpuModule.getBody());
  memref::GlobalOp::create(
      top, module.getLoc(), kIndexStatusGlobal, top.getStringAttr("public"),
      statusType,
      DenseElementsAttr::get(RankedTensorType::get({3}, top.getI64Type()),
                             top.getI64IntegerAttr(0).getValue()),
      /*constant=*/false, /*alignment=*/top.getI64IntegerAttr(8));
  for (func::CallOp call : calls) {
    OpBuilder b(call);
    Location loc = call.getLoc();
    // The site: the number of the name string the call passes.
    int64_t site = 0;
    Value text = call.getOperand(2);
    if (auto cast = text.getDefiningOp<memref::CastOp>())
      text = cast.getSource();
    if (auto get = text.getDefiningOp<memref::GetGlobalOp>()) {
      StringRef name = get.getName();
      if (name.consume_front("llmc_index_site_"))
        name.getAsInteger(10, site);
    }
    Value status =
        memref::GetGlobalOp::create(b, loc, statusType, kIndexStatusGlobal);
    auto i64 = [&](int64_t v) -> Value {
      return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
    };
    memref::StoreOp::create(b, loc, call.getOperand(0), status, cst(b, loc, 1));
    memref::StoreOp::create(b, loc, call.getOperand(1), status, cst(b, loc, 2));
    memref::StoreOp::create(b, loc, i64(site + 1), status, cst(b, loc, 0));
    Value textValue = call.getOperand(2);
    call.erase();
    // The name string's view and get_global, now unused.
    while (Operation *def = textValue.getDefiningOp()) {
      if (!def->use_empty())
        break;
      Value next = def->getNumOperands() ? def->getOperand(0) : Value();
      def->erase();
      if (!next)
        break;
      textValue = next;
    }
  }
  for (memref::GlobalOp g : hostGlobals)
    if (SymbolTable::symbolKnownUseEmpty(g, module))
      g.erase();
  if (auto decl = module.lookupSymbol<func::FuncOp>(kIndexErrorFunction);
      decl && SymbolTable::symbolKnownUseEmpty(decl, module))
    decl.erase();
}

struct KernelsToGpuPass final
    : ::mlir::llmc::impl::KernelsToGpuPassBase<KernelsToGpuPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule =
        gpu::GPUModuleOp::create(b, module.getLoc(), "llmc_kernels");
    KernelBuilder kernels(gpuModule);
    rewriteIndexChecks(module, gpuModule);

    // Attention: the runtime's CPU kernel call becomes the flash-attention
    // kernel (its copies of strided operands, made here, are normalized
    // below with the others).
    SmallVector<func::CallOp> attention;
    module.walk([&](func::CallOp call) {
      if (call.getCallee() == "llmc_attention_f32" ||
          call.getCallee() == "llmc_attention_nobias_f32")
        attention.push_back(call);
    });
    for (auto [i, call] : llvm::enumerate(attention)) {
      auto parent = call->getParentOfType<func::FuncOp>();
      if (call->getParentOp() != parent) {
        call.emitOpError("inside a loop is not lowered to a CUDA kernel");
        return signalPassFailure();
      }
      if (failed(kernels.lowerAttention(
              (parent.getSymName() + "_attention" + Twine(i)).str(), call)))
        return signalPassFailure();
    }
    for (StringRef callee : {"llmc_attention_f32", "llmc_attention_nobias_f32"})
      if (auto decl = module.lookupSymbol<func::FuncOp>(callee);
          decl && SymbolTable::symbolKnownUseEmpty(decl, module))
        decl.erase();
    if (failed(normalize(module)))
      return signalPassFailure();

    // A kernel function that is a GEMM's bias and activation stays as it
    // is: the CUDA program makes it the GEMM's cuBLASLt epilogue. So does
    // a convolution's bias, residual and ReLU (cuDNN's fused convolution).
    llvm::StringSet<> epilogues;
    module.walk([&](func::CallOp call) {
      const char *attr = matchGemmEpilogue(call)   ? kGemmEpilogueAttr
                         : matchConvEpilogue(call) ? kConvEpilogueAttr
                                                   : nullptr;
      if (attr) {
        epilogues.insert(call.getCallee());
        call->setAttr(attr, UnitAttr::get(call.getContext()));
      }
    });

    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs) {
      if (func.isExternal() || epilogues.contains(func.getSymName()))
        continue;
      wrapHostStores(func);
      SmallVector<linalg::GenericOp> ops;
      SmallVector<Operation *> sequential;
      WalkResult walk = func.walk<WalkOrder::PreOrder>([&](Operation *op) {
        auto generic = dyn_cast<linalg::GenericOp>(op);
        // The narrowing of an f16/bf16 GEMM's f32 result stays on the
        // host: the CUDA program has the GEMM write the narrow type.
        if (generic && matchGemmNarrowing(generic)) {
          generic->setAttr(kGemmNarrowingAttr, UnitAttr::get(op->getContext()));
          return WalkResult::skip();
        }
        if (generic && !runsInLibrary(generic)) {
          if (op->getParentOp() != func) {
            op->emitOpError("inside a loop is not lowered to a CUDA kernel");
            return WalkResult::interrupt();
          }
          ops.push_back(generic);
          return WalkResult::skip();
        }
        if (isa<scf::ForOp, scf::WhileOp, scf::IfOp, scf::ParallelOp>(op)) {
          if (op->getParentOp() == func) {
            sequential.push_back(op);
            return WalkResult::skip();
          }
          op->emitOpError("on the host is not lowered to a CUDA kernel");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      if (walk.wasInterrupted())
        return signalPassFailure();
      for (auto [i, loop] : llvm::enumerate(sequential))
        if (failed(kernels.lowerSequential(
                func.getSymName().str() + "_seq" + std::to_string(i), loop)))
          return signalPassFailure();
      if (ops.empty())
        continue;
      auto kind = func->getAttrOfType<StringAttr>("llmc.kernel");
      std::string base = func.getSymName().str();
      if (kind && kind.getValue() == "row") {
        if (kernels.lowerRows(base, ops,
                              func.getBody().front().getTerminator())) {
          for (linalg::GenericOp op : ops)
            op.erase();
          continue;
        }
      }
      // One kernel per op, or per run of independent ops over one parallel
      // space in a group (a split's outputs): named after the group's kernel
      // function (numbered when a group needs several), or after the op in
      // @main.
      SmallVector<SmallVector<linalg::GenericOp>> batches;
      for (linalg::GenericOp op : ops) {
        if (kind && !batches.empty() && adjacent(batches.back().back(), op) &&
            batchable(batches.back(), op))
          batches.back().push_back(op);
        else
          batches.push_back({op});
      }
      for (auto [i, batch] : llvm::enumerate(batches)) {
        std::string name =
            kind ? (batches.size() == 1 ? base : base + "_" + std::to_string(i))
                 : base + "_op" + std::to_string(i);
        if (failed(kernels.lowerLoop(name, batch)))
          return signalPassFailure();
        for (linalg::GenericOp op : batch)
          op.erase();
      }
    }
  }
};
} // namespace
