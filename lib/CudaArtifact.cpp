//===- CudaArtifact.cpp - The CUDA program of a lowered module ------------===//
//
// After the CUDA pipeline, @main is straight-line host code: buffer
// allocations, views of them, constant tables, kernel launches
// (gpu.launch_func), GEMMs and convolutions (linalg.generic marked with a
// library call; a convolution's input padding is folded into it) and calls
// of kernel functions holding more of the same, or holding a GEMM's bias and
// activation, which become its cuBLASLt epilogue, or a convolution's bias,
// residual and ReLU, which make it cuDNN's fused convolution. This walks it once,
// in order, and records what the runtime replays: every buffer (the
// temporaries placed in one arena by their lifetimes), and every step with
// the buffers it reads and writes. Anything else on the host is refused:
// the runtime has no interpreter to fall back on.
//
//===----------------------------------------------------------------------===//

#include "llmc/Codegen/Passes.h"
#include "llmc/Compiler.h"
#include "llmc/Explain.h"
#include "llmc/Runtime/Artifact.h"
#include "llmc/Runtime/CudaProgram.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

using namespace mlir;
using namespace mlir::llmc;
namespace rt = ::llmc::runtime;

namespace {
/// Bytes per element in device memory (i1 is a byte, as LLVM stores it).
uint64_t elementBytes(Type t) {
  if (t.isIndex())
    return 8;
  return (t.getIntOrFloatBitWidth() + 7) / 8;
}

/// The strides and offset (in elements) of a static buffer type; false when
/// its shape or layout is dynamic.
bool staticLayout(MemRefType type, SmallVectorImpl<int64_t> &strides,
                  int64_t &offset) {
  return type.hasStaticShape() &&
         succeeded(type.getStridesAndOffset(strides, offset)) &&
         !ShapedType::isDynamic(offset) &&
         llvm::none_of(strides, ShapedType::isDynamic);
}

uint64_t bytesOf(MemRefType t) {
  return static_cast<uint64_t>(t.getNumElements()) *
         elementBytes(t.getElementType());
}

/// "Node_a,Node_b" from the ONNX node names in `loc`.
std::string nodesOf(Location loc) { return llvm::join(onnxNodeNames(loc), ","); }

/// The bytes of a constant global's initial value, as device memory holds
/// them.
FailureOr<std::string> globalBytes(memref::GlobalOp global) {
  auto init = dyn_cast_or_null<ElementsAttr>(global.getInitialValueAttr());
  if (!global.getConstant() || !init)
    return global.emitOpError("is not a constant with an initial value: a "
                              "CUDA program cannot hold it"),
           failure();
  Type t = init.getElementType();
  int64_t n = init.getNumElements();
  std::string out;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(init)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return global.emitOpError("has no data"), failure();
    ArrayRef<char> data = blob->getData();
    return std::string(data.data(), data.size());
  }
  auto dense = dyn_cast<DenseElementsAttr>(init);
  if (!dense)
    return global.emitOpError("has an initial value a CUDA program cannot "
                              "hold"),
           failure();
  if (t.isInteger(1)) {
    for (bool b : dense.getValues<bool>())
      out.push_back(b ? 1 : 0);
    return out;
  }
  ArrayRef<char> raw = dense.getRawData();
  if (dense.isSplat()) {
    for (int64_t i = 0; i < n; ++i)
      out.append(raw.data(), raw.size());
    return out;
  }
  return std::string(raw.data(), raw.size());
}

struct Extractor {
  ModuleOp module;
  rt::CudaProgram program;
  DenseMap<Value, uint32_t> buffers;
  llvm::StringMap<uint32_t> globals;
  /// Per buffer: the steps [first, last] that use it (arena buffers).
  std::vector<rt::Lifetime> lifetimes;
  /// Per step: dropped after it was recorded (lifetimes still count it
  /// until `compact`).
  std::vector<bool> dropped;
  /// f32 GEMMs and convolutions may use TF32 tensor cores.
  bool tf32 = false;
  /// The call of the kernel function being walked: its location names the
  /// fusion group's ONNX nodes.
  std::optional<Location> caller;
  /// The step of each library GEMM and convolution.
  DenseMap<Operation *, size_t> librarySteps;

  std::string nodes(Operation *op) {
    if (!caller)
      return nodesOf(op->getLoc());
    return nodesOf(FusedLoc::get(op->getContext(), {*caller, op->getLoc()}));
  }

  /// Adds the ONNX nodes of `loc` that `step` does not name yet.
  static void addNodes(rt::CudaStep &step, Location loc) {
    std::vector<std::string> names;
    for (StringRef n : llvm::split(step.node, ','))
      if (!n.empty())
        names.push_back(n.str());
    for (std::string &n : onnxNodeNames(loc))
      if (!llvm::is_contained(names, n))
        names.push_back(std::move(n));
    step.node = llvm::join(names, ",");
  }

  uint32_t addBuffer(rt::BufferKind kind, uint32_t index, uint64_t bytes) {
    program.buffers.push_back({kind, index, 0, bytes});
    lifetimes.push_back({bytes, -1, -1});
    return program.buffers.size() - 1;
  }

  /// The buffer `v` (a root or a view of one) lives in.
  FailureOr<uint32_t> bufferOf(Value v, Operation *user) {
    auto it = buffers.find(v);
    if (it != buffers.end())
      return it->second;
    return user->emitOpError("uses a value that is not a buffer of the CUDA "
                             "program"),
           failure();
  }

  void add(rt::CudaStep step) {
    program.steps.push_back(std::move(step));
    dropped.push_back(false);
  }

  /// Notes that step `step` uses buffer `b`.
  void use(uint32_t b, int64_t step) {
    rt::Lifetime &l = lifetimes[b];
    if (l.first < 0)
      l.first = step;
    l.last = step;
  }

  LogicalResult launch(gpu::LaunchFuncOp op) {
    rt::CudaStep step;
    step.kind = rt::CudaStep::Launch;
    step.kernel = op.getKernelName().str();
    step.node = nodes(op);
    gpu::KernelDim3 grid = op.getGridSizeOperandValues(),
                    block = op.getBlockSizeOperandValues();
    Value dims[6] = {grid.x, grid.y, grid.z, block.x, block.y, block.z};
    for (int i = 0; i < 6; ++i) {
      std::optional<int64_t> d = getConstantIntValue(dims[i]);
      if (!d || *d < 1 || *d > std::numeric_limits<int32_t>::max())
        return op.emitOpError("has a launch size that is not a positive "
                              "constant"),
               failure();
      (i < 3 ? step.grid[i] : step.block[i - 3]) = static_cast<uint32_t>(*d);
    }
    if (Value shared = op.getDynamicSharedMemorySize()) {
      std::optional<int64_t> s = getConstantIntValue(shared);
      if (!s || *s < 0)
        return op.emitOpError("has a dynamic shared memory size that is not "
                              "a constant"),
               failure();
      step.sharedBytes = static_cast<uint32_t>(*s);
    }
    int64_t index = program.steps.size();
    for (Value arg : op.getKernelOperands()) {
      if (!isa<MemRefType>(arg.getType()))
        return op.emitOpError("passes a kernel argument of type ")
                   << arg.getType() << ": the CUDA runtime passes buffers only",
               failure();
      FailureOr<uint32_t> b = bufferOf(arg, op);
      if (failed(b))
        return failure();
      step.args.push_back(*b);
      use(*b, index);
    }
    add(std::move(step));
    return success();
  }

  /// A zero fill left on the host (for a GEMM's output): a memset of the
  /// bytes it covers.
  LogicalResult memset(linalg::FillOp op) {
    Value out = op.getOutputs()[0];
    auto type = dyn_cast<MemRefType>(out.getType());
    if (!type || !type.getLayout().isIdentity() || !type.hasStaticShape() ||
        !isZeroFill(op, out))
      return op.emitOpError("remains on the host but is not a zero fill of a "
                            "contiguous buffer"),
             failure();
    FailureOr<uint32_t> b = bufferOf(out, op);
    if (failed(b))
      return failure();
    rt::CudaStep step;
    step.kind = rt::CudaStep::Memset;
    step.node = nodes(op);
    step.args = {*b};
    step.bytes = bytesOf(type);
    use(*b, program.steps.size());
    add(std::move(step));
    return success();
  }

  /// A matmul marked for the library: C[b] += op(A[b]) op(B[b]).
  LogicalResult gemm(linalg::GenericOp op) {
    StringRef call = op.getLibraryCallAttr().getValue();
    std::optional<rt::DType> type =
        llvm::StringSwitch<std::optional<rt::DType>>(call)
            .Case("llmc_matmul_f32", rt::DType::F32)
            .Case("llmc_matmul_f64", rt::DType::F64)
            .Case("llmc_matmul_f16", rt::DType::F16)
            .Case("llmc_matmul_bf16", rt::DType::BF16)
            .Default(std::nullopt);
    if (!type)
      return op.emitOpError("calls '")
                 << call << "', which the CUDA runtime does not provide",
             failure();
    if (op.getNumDpsInputs() != 3 || op.getNumDpsInits() != 1)
      return op.emitOpError("is not a library matmul"), failure();
    rt::CudaStep step;
    step.kind = rt::CudaStep::Gemm;
    step.node = nodes(op);
    rt::CudaGemm &g = step.gemm;
    g.dtype = *type;
    // f16/bf16 operands accumulate into an f32 C.
    g.cDtype = g.dtype == rt::DType::F64 ? rt::DType::F64 : rt::DType::F32;
    g.tf32 = tf32 && g.dtype == rt::DType::F32;
    // Loops (b, m, n, k): A is (b, m, k) or (b, k, m) when transposed, B is
    // (b, k, n) or (b, n, k).
    auto maps = op.getIndexingMapsArray();
    auto isDim = [](AffineExpr e, unsigned d) {
      auto dim = dyn_cast<AffineDimExpr>(e);
      return dim && dim.getPosition() == d;
    };
    if (maps[0].getNumResults() != 3 || maps[1].getNumResults() != 3)
      return op.emitOpError("is not a 3-D library matmul"), failure();
    g.transA = isDim(maps[0].getResult(1), 3);
    g.transB = isDim(maps[1].getResult(1), 2);
    auto cType = cast<MemRefType>(op.getDpsInits()[0].getType());
    auto aType = cast<MemRefType>(op.getDpsInputs()[0].getType());
    g.batch = cType.getDimSize(0);
    g.m = cType.getDimSize(1);
    g.n = cType.getDimSize(2);
    g.k = aType.getDimSize(g.transA ? 1 : 2);
    int64_t index = program.steps.size();
    auto operand = [&](Value v, rt::GemmOperand &o) -> LogicalResult {
      auto type = cast<MemRefType>(v.getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      if (!staticLayout(type, strides, offset))
        return op.emitOpError("has an operand with a dynamic layout"),
               failure();
      if (strides[2] != 1 && type.getDimSize(2) != 1)
        return op.emitOpError("has an operand whose rows are not contiguous: "
                              "cuBLASLt cannot read it in place"),
               failure();
      FailureOr<uint32_t> b = bufferOf(v, op);
      if (failed(b))
        return failure();
      use(*b, index);
      o.buffer = *b;
      o.offset = offset;
      o.ld = std::max<int64_t>({strides[1], type.getDimSize(2), 1});
      o.batchStride = type.getDimSize(0) == 1 ? 0 : strides[0];
      return success();
    };
    if (failed(operand(op.getDpsInputs()[0], g.a)) ||
        failed(operand(op.getDpsInputs()[1], g.b)) ||
        failed(operand(op.getDpsInits()[0], g.c)))
      return failure();
    // A batch against one shared B, with A and C dense: one GEMM of
    // batch x M rows.
    if (g.batch > 1 && g.b.batchStride == 0 && !g.transA && g.a.ld == g.k &&
        g.a.batchStride == g.m * g.k && g.c.ld == g.n &&
        g.c.batchStride == g.m * g.n) {
      g.m *= g.batch;
      g.batch = 1;
      g.a.batchStride = g.c.batchStride = 0;
    }
    // C zeroed just before: the GEMM overwrites C instead (beta = 0).
    uint64_t element = rt::dtypeSize(g.cDtype);
    bool denseC = g.c.ld == g.n && (g.batch == 1 || g.c.batchStride == g.m * g.n);
    if (denseC && foldZeroInit(g.c.buffer,
                               static_cast<uint64_t>(g.c.offset) * element,
                               static_cast<uint64_t>(g.batch * g.m * g.n) *
                                   element))
      g.accumulate = false;
    librarySteps[op] = program.steps.size();
    add(std::move(step));
    return success();
  }

  /// Has the step of library call `lib` (a GEMM or a convolution), which
  /// overwrites its own output buffer, write `output` (named by `user`)
  /// there instead; the old buffer takes no room. Refused, with `user`'s
  /// error, when the call is not such a step or a step since it touches its
  /// output, `output` or `quiet`.
  FailureOr<size_t> redirect(linalg::GenericOp lib, Operation *user,
                             Value output, ArrayRef<uint32_t> quiet) {
    auto refuse = [&](const char *why) {
      return user->emitOpError("cannot be folded into its library call: ")
                 << why,
             failure();
    };
    auto it = librarySteps.find(lib);
    if (it == librarySteps.end() || dropped[it->second])
      return refuse("the library call is not a step");
    size_t i = it->second;
    rt::CudaStep &step = program.steps[i];
    bool gemm = step.kind == rt::CudaStep::Gemm;
    if (gemm ? step.gemm.accumulate ||
                   step.gemm.epilogue != rt::GemmEpilogue::None
             : step.conv.accumulate ||
                   step.conv.epilogue != rt::ConvEpilogue::None)
      return refuse("the library call does not just overwrite its output");
    FailureOr<uint32_t> out = bufferOf(output, user);
    if (failed(out))
      return failure();
    uint32_t old = gemm ? step.gemm.c.buffer : step.conv.y.buffer;
    SmallVector<uint32_t> watched{*out, old};
    watched.append(quiet.begin(), quiet.end());
    for (size_t j = i + 1; j < program.steps.size(); ++j)
      if (!dropped[j] && llvm::any_of(watched, [&](uint32_t b) {
            return touches(program.steps[j], b);
          }))
        return refuse("a step since the library call uses its buffers");
    SmallVector<int64_t> strides;
    int64_t offset;
    if (!staticLayout(cast<MemRefType>(output.getType()), strides, offset))
      return refuse("its output has a dynamic layout");
    if (gemm) {
      rt::CudaGemm &g = step.gemm;
      g.c = {*out, offset, g.n, g.batch > 1 ? g.m * g.n : 0};
    } else {
      // The output has the convolution's own (dense) type.
      rt::ConvOperand &y = step.conv.y;
      if (!std::equal(strides.begin(), strides.end(), y.strides))
        return refuse("its output is laid out unlike the convolution's");
      y.buffer = *out;
      y.offset = offset;
    }
    // The old output lives where the steps that remain use it (another
    // library call may have shared it).
    lifetimes[old] = {lifetimes[old].bytes, -1, -1};
    for (size_t j = 0; j < program.steps.size(); ++j)
      if (!dropped[j] && touches(program.steps[j], old))
        extend(old, j);
    extend(*out, i);
    return i;
  }

  /// The narrowing of an f16/bf16 GEMM's f32 result (matchGemmNarrowing):
  /// the GEMM writes the narrow buffer itself, accumulating in f32 and
  /// rounding once.
  LogicalResult narrowing(linalg::GenericOp op) {
    std::optional<GemmNarrowing> n = matchGemmNarrowing(op);
    if (!n)
      return op.emitOpError("was left for a GEMM to write but no longer has "
                            "that form"),
             failure();
    FailureOr<size_t> i = redirect(n->gemm, op, n->output, {});
    if (failed(i))
      return failure();
    rt::CudaGemm &g = program.steps[*i].gemm;
    if (g.cDtype != rt::DType::F32 ||
        (g.dtype != rt::DType::F16 && g.dtype != rt::DType::BF16))
      return op.emitOpError("narrows a GEMM's result that the GEMM cannot "
                            "write in its own type"),
             failure();
    g.cDtype = g.dtype;
    if (!rt::validGemm(g, program.buffers))
      return op.emitOpError("narrows into a buffer too small for its GEMM"),
             failure();
    return success();
  }

  /// Widens buffer `b`'s lifetime to cover step `step`.
  void extend(uint32_t b, int64_t step) {
    rt::Lifetime &l = lifetimes[b];
    l.first = l.first < 0 ? step : std::min(l.first, step);
    l.last = std::max(l.last, step);
  }

  /// A kernel that adds a bias to a GEMM's result and applies an activation
  /// (matchGemmEpilogue): the GEMM's cuBLASLt epilogue. The GEMM writes the
  /// kernel's output in its place.
  LogicalResult epilogue(GemmEpilogue e) {
    FailureOr<uint32_t> bias = bufferOf(e.bias, e.call);
    if (failed(bias))
      return failure();
    FailureOr<size_t> i = redirect(e.gemm, e.call, e.output, {*bias});
    if (failed(i))
      return failure();
    rt::CudaGemm &g = program.steps[*i].gemm;
    SmallVector<int64_t> strides;
    int64_t biasOffset;
    bool oneType = g.dtype == g.cDtype &&
                   (g.dtype == rt::DType::F32 || g.dtype == rt::DType::F16 ||
                    g.dtype == rt::DType::BF16);
    if (!oneType ||
        !staticLayout(cast<MemRefType>(e.bias.getType()), strides,
                      biasOffset))
      return e.call.emitOpError("is a GEMM epilogue that cuBLASLt cannot "
                                "apply: not one type of f32, f16 or bf16 "
                                "throughout, or a bias of dynamic layout"),
             failure();
    g.epilogue = e.kind == GemmEpilogueKind::ReluBias
                     ? rt::GemmEpilogue::ReluBias
                 : e.kind == GemmEpilogueKind::GeluBias
                     ? rt::GemmEpilogue::GeluBias
                     : rt::GemmEpilogue::Bias;
    g.biasBuffer = *bias;
    g.biasOffset = biasOffset;
    extend(*bias, *i);
    addNodes(program.steps[*i], e.call.getLoc());
    if (!rt::validGemm(g, program.buffers))
      return e.call.emitOpError("is a GEMM epilogue whose buffers are too "
                                "small"),
             failure();
    return success();
  }

  /// A kernel that adds a bias (and a residual) to a convolution's result
  /// and applies a ReLU (matchConvEpilogue): cuDNN's fused convolution
  /// writes the kernel's output in its place.
  LogicalResult epilogue(ConvEpilogue e) {
    if (auto g = e.bias.getDefiningOp<memref::GetGlobalOp>())
      if (failed(global(g)))
        return failure();
    FailureOr<uint32_t> bias = bufferOf(e.bias, e.call);
    if (failed(bias))
      return failure();
    SmallVector<uint32_t> quiet{*bias};
    std::optional<uint32_t> residual;
    if (e.residual) {
      FailureOr<uint32_t> z = bufferOf(e.residual, e.call);
      if (failed(z))
        return failure();
      residual = *z;
      quiet.push_back(*z);
    }
    FailureOr<size_t> i = redirect(e.conv, e.call, e.output, quiet);
    if (failed(i))
      return failure();
    rt::CudaConv &c = program.steps[*i].conv;
    SmallVector<int64_t> strides;
    int64_t biasOffset = 0, zOffset = 0;
    if (!staticLayout(cast<MemRefType>(e.bias.getType()), strides,
                      biasOffset) ||
        (e.residual &&
         !staticLayout(cast<MemRefType>(e.residual.getType()), strides,
                       zOffset)))
      return e.call.emitOpError("is a convolution epilogue of dynamic "
                                "layout"),
             failure();
    c.epilogue = rt::ConvEpilogue::ReluBias;
    c.biasBuffer = *bias;
    c.biasOffset = biasOffset;
    extend(*bias, *i);
    if (residual) {
      c.residual = true;
      c.z = c.y;
      c.z.buffer = *residual;
      c.z.offset = zOffset;
      extend(*residual, *i);
    }
    addNodes(program.steps[*i], e.call.getLoc());
    if (!rt::validConv(c, program.buffers))
      return e.call.emitOpError("is a convolution epilogue whose buffers are "
                                "too small"),
             failure();
    return success();
  }

  /// A call that llmc-kernels-to-gpu left unlowered as a `what` epilogue:
  /// it must still match (`match`), and folds into its library call.
  template <typename Match>
  LogicalResult foldEpilogue(func::CallOp call, Match match, StringRef what) {
    auto e = match(call);
    if (!e)
      return call.emitOpError("was left for a ")
                 << what << " epilogue that no longer has that form",
             failure();
    return epilogue(*e);
  }

  /// True when step `s` reads or writes buffer `b`.
  static bool touches(const rt::CudaStep &s, uint32_t b) {
    switch (s.kind) {
    case rt::CudaStep::Gemm:
      return s.gemm.a.buffer == b || s.gemm.b.buffer == b ||
             s.gemm.c.buffer == b ||
             (s.gemm.epilogue != rt::GemmEpilogue::None &&
              s.gemm.biasBuffer == b);
    case rt::CudaStep::Conv:
      return s.conv.x.buffer == b || s.conv.w.buffer == b ||
             s.conv.y.buffer == b ||
             (s.conv.epilogue != rt::ConvEpilogue::None &&
              s.conv.biasBuffer == b) ||
             (s.conv.residual && s.conv.z.buffer == b);
    case rt::CudaStep::Collective:
      return s.collective.in == b || s.collective.out == b ||
             (s.collective.hasScratch && s.collective.scratch == b);
    default:
      return llvm::is_contained(s.args, b);
    }
  }

  /// When an earlier step is a memset of exactly `bytes` bytes at `offset`
  /// of `buffer`, and no step since touches `buffer`, drops it and returns
  /// true: the library call about to be added overwrites its output
  /// instead (beta = 0). Bufferization zero-fills one buffer that several
  /// GEMMs share, so the memset is not always the last step.
  bool foldZeroInit(uint32_t buffer, uint64_t offset, uint64_t bytes) {
    for (size_t i = program.steps.size(); i-- > 0;) {
      if (dropped[i])
        continue;
      const rt::CudaStep &s = program.steps[i];
      if (!touches(s, buffer))
        continue;
      if (s.kind != rt::CudaStep::Memset || s.offset != offset ||
          s.bytes != bytes)
        return false;
      dropped[i] = true;
      // The buffer now lives from the step about to be added.
      rt::Lifetime &l = lifetimes[buffer];
      if (l.first == static_cast<int64_t>(i))
        l.first = program.steps.size();
      return true;
    }
    return false;
  }

  /// Removes the dropped steps, renumbering the lifetimes: a lifetime
  /// shrinks to the steps that remain (none: the buffer takes no room).
  void compact() {
    std::vector<int64_t> next(program.steps.size() + 1), prev(program.steps.size());
    std::vector<rt::CudaStep> kept;
    int64_t last = -1;
    for (size_t i = 0; i < program.steps.size(); ++i) {
      next[i] = kept.size();
      if (!dropped[i]) {
        last = kept.size();
        kept.push_back(std::move(program.steps[i]));
      }
      prev[i] = last;
    }
    for (rt::Lifetime &l : lifetimes) {
      if (l.first < 0)
        continue;
      int64_t first = next[l.first], end = prev[l.last];
      if (first > end)
        l.first = l.last = -1;
      else
        l.first = first, l.last = end;
    }
    program.steps = std::move(kept);
    dropped.assign(program.steps.size(), false);
  }

  /// A convolution marked for the library: y += conv(x, w), x read in place
  /// with its padding when `padding` says where it comes from.
  LogicalResult conv(linalg::GenericOp op, const ConvPadding *padding) {
    if (op.getNumDpsInputs() != 3 || op.getNumDpsInits() != 1)
      return op.emitOpError("is not a library convolution"), failure();
    rt::CudaStep step;
    step.kind = rt::CudaStep::Conv;
    step.node = nodes(op);
    rt::CudaConv &c = step.conv;
    c.tf32 = tf32;
    // Parameters: strides (h, w), dilations (h, w), groups.
    FailureOr<SmallVector<int64_t>> table =
        constantTable(op, op.getDpsInputs()[2], 5, "convolution");
    if (failed(table))
      return failure();
    SmallVector<int64_t> &p = *table;
    c.stride[0] = p[0];
    c.stride[1] = p[1];
    c.dilation[0] = p[2];
    c.dilation[1] = p[3];
    c.group = p[4];
    if (padding) {
      c.pad[0] = padding->padH;
      c.pad[1] = padding->padW;
    }
    int64_t index = program.steps.size();
    auto operand = [&](Value v, rt::ConvOperand &o,
                       int64_t *dims) -> LogicalResult {
      auto type = cast<MemRefType>(v.getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      if (!type.getElementType().isF32() || type.getRank() != 4 ||
          !staticLayout(type, strides, offset))
        return op.emitOpError("has a convolution operand that is not a "
                              "static 4-D f32 buffer"),
               failure();
      FailureOr<uint32_t> b = bufferOf(v, op);
      if (failed(b))
        return failure();
      use(*b, index);
      o.buffer = *b;
      o.offset = offset;
      for (int d = 0; d < 4; ++d) {
        o.strides[d] = strides[d];
        dims[d] = type.getDimSize(d);
      }
      return success();
    };
    Value x = padding ? padding->source : op.getDpsInputs()[0];
    if (failed(operand(x, c.x, c.input)) ||
        failed(operand(op.getDpsInputs()[1], c.w, c.filter)) ||
        failed(operand(op.getDpsInits()[0], c.y, c.output)))
      return failure();
    // y zeroed just before: cuDNN overwrites it (beta = 0).
    auto yType = cast<MemRefType>(op.getDpsInits()[0].getType());
    if (yType.getLayout().isIdentity() &&
        foldZeroInit(c.y.buffer, static_cast<uint64_t>(c.y.offset) * 4,
                     bytesOf(yType)))
      c.accumulate = false;
    if (!rt::validConv(c, program.buffers))
      return op.emitOpError("is a convolution with inconsistent sizes"),
             failure();
    librarySteps[op] = program.steps.size();
    add(std::move(step));
    return success();
  }

  /// The `count` integers of the constant global `v` holds: a library
  /// call's parameter table (`what`'s).
  FailureOr<SmallVector<int64_t>> constantTable(Operation *op, Value v,
                                                int64_t count,
                                                StringRef what) {
    auto get = v.getDefiningOp<memref::GetGlobalOp>();
    auto global =
        get ? module.lookupSymbol<memref::GlobalOp>(get.getNameAttr())
            : memref::GlobalOp();
    auto values = global ? dyn_cast_or_null<DenseIntElementsAttr>(
                               global.getInitialValueAttr())
                         : DenseIntElementsAttr();
    if (!values || values.getNumElements() != count)
      return op->emitOpError("has ")
                 << what << " parameters that are not a constant table of "
                 << count,
             failure();
    SmallVector<int64_t> out;
    for (const APInt &x : values.getValues<APInt>())
      out.push_back(x.getSExtValue());
    return out;
  }

  /// A collective marked for the runtime (CollectivesToLinalg): an NCCL
  /// step between the devices of its mesh axis, on dense tensors.
  LogicalResult collective(linalg::GenericOp op) {
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
      return op.emitOpError("is not a runtime collective"), failure();
    FailureOr<SmallVector<int64_t>> table =
        constantTable(op, op.getDpsInputs()[1], 7, "collective");
    if (failed(table))
      return failure();
    SmallVector<int64_t> &p = *table;
    rt::CudaStep step;
    step.kind = rt::CudaStep::Collective;
    step.node = nodes(op);
    rt::CudaCollective &c = step.collective;
    c.params.kind = static_cast<rt::CollectiveKind>(p[0]);
    c.params.axis = p[1];
    c.params.dim = p[2];
    c.params.reduce = static_cast<rt::ReduceKind>(p[3]);
    c.params.groupSize = p[4];
    c.params.stepId = p[5];
    c.params.dim2 = p[6];
    int64_t index = program.steps.size();
    auto operand = [&](Value v, uint32_t &buffer, int64_t &offset,
                       std::vector<int64_t> &shape) -> LogicalResult {
      auto type = cast<MemRefType>(v.getType());
      SmallVector<int64_t> strides;
      if (!staticLayout(type, strides, offset))
        return op.emitOpError("has a collective operand of dynamic layout"),
               failure();
      // NCCL moves contiguous buffers: row-major and dense.
      int64_t expect = 1;
      for (int64_t d = type.getRank() - 1; d >= 0; --d) {
        if (type.getDimSize(d) != 1 && strides[d] != expect)
          return op.emitOpError("has a collective operand that is not dense "
                                "and row-major: NCCL cannot move it in place"),
                 failure();
        expect *= type.getDimSize(d);
      }
      FailureOr<uint32_t> b = bufferOf(v, op);
      if (failed(b))
        return failure();
      use(*b, index);
      buffer = *b;
      shape.assign(type.getShape().begin(), type.getShape().end());
      return success();
    };
    Value in = op.getDpsInputs()[0], out = op.getDpsInits()[0];
    if (failed(operand(in, c.in, c.inOffset, c.inShape)) ||
        failed(operand(out, c.out, c.outOffset, c.outShape)))
      return failure();
    Type element = cast<MemRefType>(in.getType()).getElementType();
    c.dtype = element.isF32()          ? rt::DType::F32
              : element.isF64()        ? rt::DType::F64
              : element.isF16()        ? rt::DType::F16
              : element.isBF16()       ? rt::DType::BF16
              : element.isInteger(64)  ? rt::DType::I64
              : element.isInteger(32)  ? rt::DType::I32
              : element.isInteger(8)   ? rt::DType::I8
              : element.isInteger(1)   ? rt::DType::U8
                                       : rt::DType::U16;
    if (uint64_t bytes = rt::collectiveScratchBytes(c)) {
      c.hasScratch = true;
      c.scratch = addBuffer(rt::BufferKind::Arena, 0, bytes);
      use(c.scratch, index);
    }
    if (!rt::validCollective(c, program.buffers))
      return op.emitOpError("is a collective NCCL cannot run: its type, "
                            "shapes or buffers disagree with what it does"),
             failure();
    add(std::move(step));
    return success();
  }

  LogicalResult global(memref::GetGlobalOp op) {
    auto it = globals.find(op.getName());
    if (it == globals.end()) {
      auto g = module.lookupSymbol<memref::GlobalOp>(op.getNameAttr());
      if (!g)
        return op.emitOpError("names no global"), failure();
      FailureOr<std::string> bytes = globalBytes(g);
      if (failed(bytes))
        return failure();
      rt::CudaConstant c;
      c.shape = {static_cast<int64_t>(bytes->size())};
      c.data = std::move(*bytes);
      program.constants.push_back(std::move(c));
      uint32_t b = addBuffer(rt::BufferKind::Constant,
                             program.constants.size() - 1,
                             program.constants.back().data.size());
      it = globals.insert({op.getName(), b}).first;
    }
    buffers[op.getResult()] = it->second;
    return success();
  }

  /// Walks `func`'s body, whose arguments are already mapped.
  LogicalResult walk(func::FuncOp func, unsigned depth) {
    if (depth > 8)
      return func.emitOpError("calls nest too deeply"), failure();
    // Convolutions' padding is cuDNN's: the padded buffer, its fill and the
    // copy into it go.
    DenseMap<Operation *, ConvPadding> paddings;
    llvm::SmallPtrSet<Operation *, 16> folded;
    for (auto generic : func.getBody().front().getOps<linalg::GenericOp>())
      if (std::optional<ConvPadding> p = matchConvPadding(generic)) {
        folded.insert({p->padded, p->fill, p->interior, p->copy});
        paddings[generic] = *p;
      }
    for (Operation &op : func.getBody().front()) {
      LogicalResult ok = success();
      if (isa<arith::ConstantOp, func::ReturnOp, memref::DeallocOp>(op) ||
          folded.contains(&op))
        continue;
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        MemRefType t = alloc.getType();
        if (!t.hasStaticShape() || !t.getLayout().isIdentity())
          return alloc.emitOpError("allocates a buffer of dynamic size: a "
                                   "CUDA program's arena is laid out at "
                                   "compile time"),
                 failure();
        buffers[alloc.getResult()] =
            addBuffer(rt::BufferKind::Arena, 0, bytesOf(t));
        continue;
      }
      if (isa<memref::ReshapeOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
              memref::CastOp, memref::SubViewOp, memref::ReinterpretCastOp>(
              op)) {
        // A view: the same buffer, its layout (offset included) in the type
        // that the kernel was compiled for.
        FailureOr<uint32_t> b = bufferOf(op.getOperand(0), &op);
        if (failed(b))
          return failure();
        buffers[op.getResult(0)] = *b;
        continue;
      }
      if (auto g = dyn_cast<memref::GetGlobalOp>(op))
        ok = global(g);
      else if (auto fill = dyn_cast<linalg::FillOp>(op))
        ok = memset(fill);
      else if (auto l = dyn_cast<gpu::LaunchFuncOp>(op))
        ok = launch(l);
      else if (auto generic = dyn_cast<linalg::GenericOp>(op);
               generic && generic->hasAttr(kGemmNarrowingAttr))
        ok = narrowing(generic);
      else if (auto generic = dyn_cast<linalg::GenericOp>(op);
               generic && isLibraryConv(generic)) {
        auto it = paddings.find(generic);
        ok = conv(generic, it == paddings.end() ? nullptr : &it->second);
      } else if (auto generic = dyn_cast<linalg::GenericOp>(op);
                 generic && generic.getLibraryCallAttr() &&
                 generic.getLibraryCallAttr().getValue().starts_with(
                     "llmc_collective_"))
        ok = collective(generic);
      else if (auto generic = dyn_cast<linalg::GenericOp>(op);
               generic && generic.getLibraryCallAttr())
        ok = gemm(generic);
      else if (auto call = dyn_cast<func::CallOp>(op);
               call && call->hasAttr(kGemmEpilogueAttr))
        ok = foldEpilogue(call, matchGemmEpilogue, "GEMM");
      else if (auto call = dyn_cast<func::CallOp>(op);
               call && call->hasAttr(kConvEpilogueAttr))
        ok = foldEpilogue(call, matchConvEpilogue, "convolution");
      else if (auto call = dyn_cast<func::CallOp>(op)) {
        auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
        if (!callee || callee.isExternal() || callee.getBody().hasOneBlock() == false)
          return call.emitOpError("calls a function the CUDA program cannot "
                                  "run"),
                 failure();
        for (auto [arg, operand] :
             llvm::zip(callee.getArguments(), call.getOperands())) {
          FailureOr<uint32_t> b = bufferOf(operand, call);
          if (failed(b))
            return failure();
          buffers[arg] = *b;
        }
        std::optional<Location> outer = caller;
        caller = call.getLoc();
        ok = walk(callee, depth + 1);
        caller = outer;
      } else {
        return op.emitOpError("remains on the host after CUDA lowering: a "
                              "CUDA program runs only kernels and library "
                              "calls"),
               failure();
      }
      if (failed(ok))
        return failure();
    }
    return success();
  }
};

/// ptxas's cubin of `ptx` for `chip`; empty when ptxas is not installed,
/// failure when it rejects the PTX.
FailureOr<std::string> assemble(ModuleOp module, StringRef ptx,
                                StringRef chip) {
  llvm::ErrorOr<std::string> ptxas = llvm::sys::findProgramByName("ptxas");
  if (!ptxas)
    ptxas = llvm::sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"});
  if (!ptxas)
    return std::string();
  SmallString<128> in, out, err;
  if (llvm::sys::fs::createTemporaryFile("llmc", "ptx", in) ||
      llvm::sys::fs::createTemporaryFile("llmc", "cubin", out) ||
      llvm::sys::fs::createTemporaryFile("llmc", "log", err))
    return module.emitError("cannot create temporary files for ptxas"),
           failure();
  llvm::FileRemover removeIn(in), removeOut(out), removeErr(err);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec)
      return module.emitError("cannot write the PTX for ptxas"), failure();
    os << ptx;
  }
  std::string arch = ("-arch=" + chip).str();
  SmallVector<StringRef> args{*ptxas, arch, "-O3", "-o", out, in};
  std::optional<StringRef> redirects[] = {std::nullopt, std::nullopt,
                                          StringRef(err)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*ptxas, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/600, 0, &message);
  if (rc != 0) {
    std::string first = message;
    if (auto log = llvm::MemoryBuffer::getFile(err)) {
      StringRef text = (*log)->getBuffer().trim();
      first = text.split('\n').first.str();
    }
    return module.emitError("ptxas rejected the generated PTX: ") << first,
           failure();
  }
  auto cubin = llvm::MemoryBuffer::getFile(out, /*IsText=*/false);
  if (!cubin)
    return module.emitError("ptxas wrote no cubin"), failure();
  return (*cubin)->getBuffer().str();
}
} // namespace

FailureOr<rt::CudaProgram>
mlir::llmc::buildCudaProgram(ModuleOp module, const ModelSignature &sig,
                             const PipelineOptions &options) {
  StringRef chip = options.cudaChip;
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || main.isExternal() || !main.getBody().hasOneBlock())
    return module.emitError("the module has no straight-line @main"),
           failure();
  FailureOr<std::string> ptx = getPtx(module);
  if (failed(ptx))
    return failure();
  Extractor x;
  x.module = module;
  x.program.chip = chip.str();
  x.tf32 = options.tf32;
  x.program.ptx = std::move(*ptx);
  if (auto sites = module->getAttrOfType<ArrayAttr>("llmc.index_sites"))
    for (Attribute site : sites)
      x.program.indexSites.push_back(
          cast<StringAttr>(site).getValue().str());
  size_t nIn = sig.inputs.size(), nWeights = sig.weights.size();
  // A donated input's output is that input's buffer, updated in place: it
  // has no out-parameter (and no Output buffer); the others keep their
  // signature index.
  x.program.outputAliases = outputAliases(module, sig);
  std::vector<uint32_t> outIndex;
  for (auto [i, a] : llvm::enumerate(x.program.outputAliases))
    if (a < 0)
      outIndex.push_back(static_cast<uint32_t>(i));
  size_t nOut = outIndex.size();
  if (main.getNumArguments() != nIn + nWeights + nOut)
    return main.emitOpError("does not take inputs, weights and outputs as the "
                            "signature says"),
           failure();
  for (auto [i, arg] : llvm::enumerate(main.getArguments())) {
    auto type = dyn_cast<MemRefType>(arg.getType());
    if (!type || !type.hasStaticShape())
      return main.emitOpError("argument ") << i << " is not a static buffer",
             failure();
    rt::BufferKind kind = i < nIn              ? rt::BufferKind::Input
                          : i < nIn + nWeights ? rt::BufferKind::Weight
                                               : rt::BufferKind::Output;
    uint32_t index = i < nIn              ? i
                     : i < nIn + nWeights ? i - nIn
                                          : outIndex[i - nIn - nWeights];
    x.buffers[arg] = x.addBuffer(kind, index, bytesOf(type));
  }
  if (failed(x.walk(main, 0)))
    return failure();
  x.compact();
  // Lay the temporaries out in one arena by their lifetimes.
  std::vector<size_t> arena;
  std::vector<rt::Lifetime> lifetimes;
  for (auto [i, b] : llvm::enumerate(x.program.buffers))
    if (b.kind == rt::BufferKind::Arena) {
      rt::Lifetime l = x.lifetimes[i];
      if (l.first < 0) // never used: takes no room
        l.bytes = 0;
      arena.push_back(i);
      lifetimes.push_back(l);
    }
  std::vector<uint64_t> offsets;
  x.program.arenaBytes = rt::planArena(lifetimes, offsets);
  for (auto [j, i] : llvm::enumerate(arena)) {
    x.program.buffers[i].offset = offsets[j];
    if (lifetimes[j].bytes == 0)
      x.program.buffers[i].bytes = 0;
  }
  FailureOr<std::string> cubin = assemble(module, x.program.ptx, chip);
  if (failed(cubin))
    return failure();
  x.program.cubin = std::move(*cubin);
  return std::move(x.program);
}

std::vector<LibraryEpilogue>
mlir::llmc::libraryEpilogues(const rt::CudaProgram &program) {
  std::vector<LibraryEpilogue> out;
  for (const rt::CudaStep &s : program.steps) {
    const char *kind =
        s.kind == rt::CudaStep::Gemm   ? rt::epilogueName(s.gemm.epilogue)
        : s.kind == rt::CudaStep::Conv ? rt::epilogueName(s.conv.epilogue)
                                       : "";
    if (!*kind)
      continue;
    LibraryEpilogue e;
    e.kind = kind;
    for (StringRef n : llvm::split(s.node, ','))
      if (!n.empty())
        e.nodes.push_back(n.str());
    out.push_back(std::move(e));
  }
  return out;
}

LogicalResult mlir::llmc::writeCudaArtifact(ModuleOp module,
                                            const ModelSignature &sig,
                                            const PipelineOptions &options,
                                            ModelReport report,
                                            StringRef path) {
  StringRef chip = options.cudaChip;
  FailureOr<rt::CudaProgram> program = buildCudaProgram(module, sig, options);
  if (failed(program))
    return failure();
  rt::ArtifactContents contents;
  if (failed(describeSignature(module, sig, contents)))
    return failure();
  contents.target = ("cuda-" + chip).str();
  contents.entry = "";
  contents.cuda = &*program;
  foldLibraryEpilogues(report, libraryEpilogues(*program),
                       *lookupRooflineTarget(("cuda:" + chip).str()));
  llvm::raw_string_ostream json(contents.report);
  printReportJson(report, json);
  std::string error;
  if (!rt::writeArtifact(path.str(), contents, error))
    return module.emitError(error), failure();
  return success();
}
