//===- Compiler.cpp - Lowering, JIT execution and diagnostics -------------===//

#include "llmc/Compiler.h"

#include "llmc/Dialect/Graph/IR/GraphOps.h"
#include "llmc/Explain.h"
#include "llmc/Import/OnnxImporter.h"
#include "llmc/Codegen/CpuObject.h"
#include "llmc/Runtime/Artifact.h"
#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/CpuKernels.h"
#include "llmc/Runtime/Shards.h"
#include "llmc/Sharding/ShardingPlanner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::llmc;
using ::llmc::runtime::DType;
using ::llmc::runtime::HostTensor;

bool mlir::llmc::checkShardingOptions(const PipelineOptions &options,
                                      std::string &error) {
  if (options.mesh.empty())
    return true;
  if (!(options.linkBandwidth > 0))
    return error = "--link-bandwidth must be a positive number of GB/s", false;
  for (const std::string &pin : options.shards)
    if (pin.find_first_of("'\"{}") != std::string::npos)
      return error = "--shard '" + pin + "': quotes and braces are not allowed",
             false;
  return true;
}

FailureOr<ModelSignature> mlir::llmc::getSignature(ModuleOp module) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return module.emitError("the module has no @main function"), failure();
  ModelSignature sig;
  FunctionType type = main.getFunctionType();
  auto nameOf = [](Attribute a, const std::string &fallback) {
    auto s = dyn_cast_or_null<StringAttr>(a);
    return s ? s.str() : fallback;
  };
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    auto t = dyn_cast<RankedTensorType>(type.getInput(i));
    if (!t || !t.hasStaticShape())
      return main.emitError("@main argument ")
                 << i << " must be a statically shaped tensor",
             failure();
    sig.inputs.push_back(
        {nameOf(main.getArgAttr(i, kNameAttr), "input" + std::to_string(i)), t});
  }
  for (unsigned i = 0; i < type.getNumResults(); ++i) {
    auto t = dyn_cast<RankedTensorType>(type.getResult(i));
    if (!t || !t.hasStaticShape())
      return main.emitError("@main result ")
                 << i << " must be a statically shaped tensor",
             failure();
    sig.outputs.push_back(
        {nameOf(main.getResultAttr(i, kNameAttr), "output" + std::to_string(i)),
         t});
  }
  return sig;
}

LogicalResult mlir::llmc::markDonatedInputs(ModuleOp module,
                                            const PipelineOptions &options) {
  if (options.donate.empty())
    return success();
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return module.emitError("the module has no @main function"), failure();
  if (!options.mesh.empty())
    return module.emitError("donated inputs do not combine with a mesh (not "
                            "supported yet)"),
           failure();
  for (const std::string &name : options.donate) {
    std::string known;
    bool found = false;
    for (unsigned i = 0; i < main.getNumArguments(); ++i) {
      auto n = dyn_cast_or_null<StringAttr>(main.getArgAttr(i, kNameAttr));
      if (!n)
        continue;
      known += (known.empty() ? "" : ", ") + n.str();
      if (n.getValue() == name) {
        main.setArgAttr(i, kDonatedAttr, UnitAttr::get(module.getContext()));
        found = true;
      }
    }
    if (!found)
      return module.emitError("the model has no input '")
                 << name << "' to donate (inputs: " << known << ")",
             failure();
  }
  return success();
}

std::vector<int> mlir::llmc::outputAliases(ModuleOp module,
                                           const ModelSignature &signature) {
  std::vector<int> aliases(signature.outputs.size(), -1);
  Operation *main = module.lookupSymbol("main");
  auto attr = main ? main->getAttrOfType<DenseI64ArrayAttr>(kOutputAliasesAttr)
                   : DenseI64ArrayAttr();
  if (attr && attr.size() == static_cast<int64_t>(aliases.size()))
    for (auto [i, a] : llvm::enumerate(attr.asArrayRef()))
      aliases[i] = static_cast<int>(a);
  return aliases;
}

bool mlir::llmc::parseTarget(StringRef target, PipelineOptions &options,
                             std::string &error) {
  std::optional<StringRef> chip =
      llvm::StringSwitch<std::optional<StringRef>>(target)
          .Case("cpu", StringRef())
          .Case("cuda", "sm_90")
          .Cases({"cuda:sm_80", "cuda:sm_86", "cuda:sm_89", "cuda:sm_90"},
                 target.drop_front(5))
          .Default(std::nullopt);
  if (!chip) {
    error = "unknown target '" + target.str() +
            "' (cpu, cuda, cuda:sm_80, cuda:sm_86, cuda:sm_89, cuda:sm_90)";
    return false;
  }
  options.cudaChip = chip->str();
  return true;
}

LogicalResult mlir::llmc::lower(ModuleOp module, Phase first, Phase last,
                                const PipelineOptions &options) {
  PassManager pm(module->getName());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  applyDefaultTimingPassManagerCLOptions(pm);
  buildPipeline(pm, first, last, options);
  return pm.run(module);
}

FailureOr<std::string> mlir::llmc::getPtx(ModuleOp module) {
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute a : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(a))
        return object.getObject().str();
  return module.emitError("the CUDA pipeline produced no kernel binary"),
         failure();
}

/// A partitioned program's mesh and the shardings of its arguments and
/// results (llmc-partition's `llmc.mesh` and `llmc.sharding`).
static LogicalResult readShardings(ModuleOp module, func::FuncOp main,
                                   ModelSignature &sig) {
  namespace sharding = ::llmc::sharding;
  sig.meshAxisNames.clear();
  sig.meshAxisSizes.clear();
  sig.inputAxes.clear();
  sig.weightAxes.clear();
  sig.outputAxes.clear();
  auto meshText = module->getAttrOfType<StringAttr>("llmc.mesh");
  if (!meshText)
    return success();
  sharding::Mesh mesh;
  std::string error;
  if (!sharding::parseMesh(meshText.str(), mesh, error))
    return module.emitError(error);
  auto parse = [&](Attribute attr, int64_t rank,
                   std::vector<int> &axes) -> LogicalResult {
    axes.assign(rank, -1);
    auto text = dyn_cast_or_null<StringAttr>(attr);
    if (!text)
      return success();
    sharding::TensorSharding s;
    if (!sharding::parsePrintedSharding(text.str(), rank, mesh, s, error))
      return main.emitError(error);
    if (!s.partialAxes.empty())
      return main.emitError("a partial sum crosses @main's boundary: '")
             << text.getValue() << "'";
    axes = s.dimAxes;
    return success();
  };
  FunctionType type = main.getFunctionType();
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    std::vector<int> axes;
    if (failed(parse(main.getArgAttr(i, "llmc.sharding"),
                     cast<RankedTensorType>(type.getInput(i)).getRank(), axes)))
      return failure();
    (i < sig.inputs.size() ? sig.inputAxes : sig.weightAxes).push_back(axes);
  }
  for (unsigned i = 0; i < type.getNumResults(); ++i) {
    std::vector<int> axes;
    if (failed(parse(main.getResultAttr(i, "llmc.sharding"),
                     cast<RankedTensorType>(type.getResult(i)).getRank(), axes)))
      return failure();
    sig.outputAxes.push_back(axes);
  }
  sig.meshAxisNames = mesh.axisNames;
  sig.meshAxisSizes = mesh.axisSizes;
  return success();
}

LogicalResult mlir::llmc::takeWeights(ModuleOp module,
                                      ModelSignature &signature) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return module.emitError("the module has no @main function");
  signature.weights.clear();
  for (unsigned i = signature.inputs.size(); i < main.getNumArguments(); ++i) {
    auto weight =
        main.getArgAttrOfType<DenseResourceElementsAttr>(i, "llmc.weight");
    if (!weight || !weight.getRawHandle().getBlob())
      return main.emitError("argument ") << i << " of @main is not a weight";
    signature.weights.push_back(weight);
    main.removeArgAttr(i, "llmc.weight");
  }
  return readShardings(module, main, signature);
}

Type mlir::llmc::elementTypeOf(MLIRContext &ctx, DType dtype) {
  switch (dtype) {
  case DType::F32: return Float32Type::get(&ctx);
  case DType::F64: return Float64Type::get(&ctx);
  case DType::F16: return Float16Type::get(&ctx);
  case DType::BF16: return BFloat16Type::get(&ctx);
  case DType::F8E4M3FN: return Float8E4M3FNType::get(&ctx);
  case DType::F8E4M3FNUZ: return Float8E4M3FNUZType::get(&ctx);
  case DType::F8E5M2: return Float8E5M2Type::get(&ctx);
  case DType::F8E5M2FNUZ: return Float8E5M2FNUZType::get(&ctx);
  case DType::U4: return IntegerType::get(&ctx, 4, IntegerType::Unsigned);
  case DType::I4: return IntegerType::get(&ctx, 4);
  case DType::F4E2M1: return Float4E2M1FNType::get(&ctx);
  case DType::Bool: return IntegerType::get(&ctx, 1);
  case DType::I8: return IntegerType::get(&ctx, 8);
  case DType::I16: return IntegerType::get(&ctx, 16);
  case DType::I32: return IntegerType::get(&ctx, 32);
  case DType::I64: return IntegerType::get(&ctx, 64);
  case DType::U8: return IntegerType::get(&ctx, 8, IntegerType::Unsigned);
  case DType::U16: return IntegerType::get(&ctx, 16, IntegerType::Unsigned);
  case DType::U32: return IntegerType::get(&ctx, 32, IntegerType::Unsigned);
  case DType::U64: return IntegerType::get(&ctx, 64, IntegerType::Unsigned);
  }
  return {};
}

FailureOr<DType> mlir::llmc::dtypeOf(Type t) {
  for (int32_t code : {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16, 17, 18, 19,
                       20, 21, 22, 23}) {
    DType d = static_cast<DType>(code);
    if (elementTypeOf(*t.getContext(), d) == t)
      return d;
  }
  return failure();
}

namespace {
/// A memref descriptor for the C interface: {allocated, aligned, offset,
/// sizes[rank], strides[rank]}, all 64-bit.
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(void *data, const std::vector<int64_t> &shape) {
    words.push_back(reinterpret_cast<int64_t>(data));
    words.push_back(reinterpret_cast<int64_t>(data));
    words.push_back(0);
    for (int64_t d : shape)
      words.push_back(d);
    std::vector<int64_t> strides(shape.size(), 1);
    for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * shape[i + 1];
    words.insert(words.end(), strides.begin(), strides.end());
  }
};

/// 64-byte aligned storage that outlives the call.
struct AlignedBuffer {
  void *ptr = nullptr;
  explicit AlignedBuffer(size_t bytes) {
    ptr = std::aligned_alloc(64, ((std::max<size_t>(bytes, 1) + 63) / 64) * 64);
  }
  ~AlignedBuffer() { std::free(ptr); }
  AlignedBuffer(const AlignedBuffer &) = delete;
};
} // namespace

FailureOr<std::vector<HostTensor>>
mlir::llmc::runWithJit(ModuleOp module, const ModelSignature &sig,
                       const std::vector<HostTensor> &inputs,
                       double collectiveTimeout) {
  namespace rt = ::llmc::runtime;
  // Indices out of their dim: refused before the code would clamp them.
  for (size_t i = 0; i < inputs.size() && i < sig.inputs.size(); ++i) {
    rt::TensorSpec spec;
    spec.name = sig.inputs[i].name;
    spec.dtype = inputs[i].dtype;
    spec.indexMin = sig.inputs[i].indexMin;
    spec.indexMax = sig.inputs[i].indexMax;
    spec.indexNode = sig.inputs[i].indexNode;
    std::string error;
    if (!rt::checkIndexValues("", spec, inputs[i].data.data(),
                              inputs[i].data.size(), error))
      return module.emitError(error.substr(2)), failure();
  }
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());

  ExecutionEngineOptions options;
  // options.transformer is a function_ref: the transformer must outlive it.
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0, nullptr);
  options.transformer = transformer;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine) {
    std::string msg = llvm::toString(engine.takeError());
    return module.emitError("JIT compilation failed: ") << msg, failure();
  }
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    for (const auto *s = rt::getCpuKernelSymbols(); s->name; ++s)
      map[interner(s->name)] = {llvm::orc::ExecutorAddr::fromPtr(s->address),
                                llvm::JITSymbolFlags::Exported};
    return map;
  });

  std::vector<HostTensor> outputs;
  for (const TensorSignature &s : sig.outputs) {
    HostTensor t;
    t.name = s.name;
    FailureOr<DType> d = dtypeOf(s.type.getElementType());
    if (failed(d))
      return module.emitError("unsupported output type"), failure();
    t.dtype = *d;
    t.shape.assign(s.type.getShape().begin(), s.type.getShape().end());
    t.data.assign(t.numElements() * rt::dtypeSize(t.dtype), 0);
    outputs.push_back(std::move(t));
  }

  std::vector<int> aliases = outputAliases(module, sig);
  // One device's run: its parts of the inputs and weights in, its parts of
  // the outputs out (the whole tensors when there is no mesh).
  rt::MeshShape mesh{sig.meshAxisNames, sig.meshAxisSizes};
  if (!sig.partitioned())
    mesh = rt::MeshShape{{}, {}};
  auto axesOf = [&](const std::vector<std::vector<int>> &all, size_t i) {
    return sig.partitioned() && i < all.size() ? all[i] : std::vector<int>();
  };
  std::vector<std::string> errors(std::max<int64_t>(mesh.numDevices(), 1));
  auto runDevice = [&](int64_t rank) {
    std::vector<int64_t> coords = mesh.coordinates(rank);
    std::vector<std::unique_ptr<AlignedBuffer>> buffers;
    std::vector<Descriptor> descriptors;
    // Cuts `data` of `shape` to this device's part, or passes it in place.
    auto pass = [&](const void *data, const std::vector<int64_t> &shape,
                    int64_t elementSize, const std::vector<int> &axes,
                    bool copy) {
      std::vector<int64_t> part = rt::shardShape(shape, axes, mesh.axisSizes);
      bool split = llvm::any_of(axes, [](int a) { return a >= 0; });
      if (!split && !copy) {
        descriptors.emplace_back(const_cast<void *>(data), part);
        return;
      }
      int64_t bytes = elementSize;
      for (int64_t d : part)
        bytes *= d;
      buffers.push_back(std::make_unique<AlignedBuffer>(bytes));
      if (split)
        rt::copyShard(data, shape, elementSize, axes, mesh.axisSizes, coords,
                      buffers.back()->ptr);
      else
        std::memcpy(buffers.back()->ptr, data, bytes);
      descriptors.emplace_back(buffers.back()->ptr, part);
    };
    for (auto [i, tensor] : llvm::enumerate(inputs))
      pass(tensor.data.data(), tensor.shape, rt::dtypeSize(tensor.dtype),
           axesOf(sig.inputAxes, i), /*copy=*/true);
    // Weights are passed in place, straight from their resource blobs.
    for (auto [i, weight] : llvm::enumerate(sig.weights)) {
      ArrayRef<char> data = weight.getRawHandle().getBlob()->getData();
      std::vector<int64_t> shape(weight.getType().getShape());
      int64_t elements = std::max<int64_t>(weight.getNumElements(), 1);
      pass(data.data(), shape, data.size() / elements,
           axesOf(sig.weightAxes, i), /*copy=*/false);
    }
    size_t firstOutput = buffers.size();
    for (auto [i, t] : llvm::enumerate(outputs)) {
      // A donated input updated in place is its own output's buffer (the
      // run's copy of that input): no parameter.
      if (aliases[i] >= 0) {
        buffers.push_back(nullptr);
        continue;
      }
      std::vector<int64_t> part =
          rt::shardShape(t.shape, axesOf(sig.outputAxes, i), mesh.axisSizes);
      int64_t bytes = rt::dtypeSize(t.dtype);
      for (int64_t d : part)
        bytes *= d;
      buffers.push_back(std::make_unique<AlignedBuffer>(bytes));
      std::memset(buffers.back()->ptr, 0, bytes);
      descriptors.emplace_back(buffers.back()->ptr, part);
    }
    std::vector<void *> descriptorPtrs;
    for (Descriptor &d : descriptors)
      descriptorPtrs.push_back(d.words.data());
    std::vector<void *> args;
    for (void *&p : descriptorPtrs)
      args.push_back(&p);
    if (llvm::Error err = (*engine)->invokePacked("_mlir_ciface_main", args)) {
      errors[rank] = "execution failed: " + llvm::toString(std::move(err));
      return;
    }
    // An index the code computed out of its dim fails the run.
    if (std::string why = rt::takeIndexError(); !why.empty()) {
      errors[rank] = sig.partitioned()
                         ? "device " + std::to_string(rank) + ": " + why
                         : why;
      return;
    }
    // Every device holds whole copies of the unsplit outputs; device 0's
    // are taken.
    for (auto [i, t] : llvm::enumerate(outputs)) {
      if (aliases[i] >= 0) {
        std::memcpy(t.data.data(), buffers[aliases[i]]->ptr, t.data.size());
        continue;
      }
      std::vector<int> axes = axesOf(sig.outputAxes, i);
      bool split = llvm::any_of(axes, [](int a) { return a >= 0; });
      if (split)
        rt::placeShard(buffers[firstOutput + i]->ptr, t.shape,
                       rt::dtypeSize(t.dtype), axes, mesh.axisSizes, coords,
                       t.data.data());
      else if (rank == 0)
        std::memcpy(t.data.data(), buffers[firstOutput + i]->ptr, t.data.size());
    }
  };
  if (!sig.partitioned()) {
    runDevice(0);
    std::string collectiveError = rt::takeCollectiveError();
    if (!collectiveError.empty())
      errors[0] = collectiveError;
  } else {
    std::string error = rt::runOnCpuMesh(mesh, collectiveTimeout, runDevice);
    if (!error.empty())
      return module.emitError(error), failure();
  }
  for (const std::string &e : errors)
    if (!e.empty())
      return module.emitError(e), failure();
  return outputs;
}

ModelReport mlir::llmc::explainReport(ModuleOp module,
                                      const PipelineOptions &options) {
  std::string target =
      options.cudaChip.empty() ? "cpu" : "cuda:" + options.cudaChip;
  return explainModule(module, *lookupRooflineTarget(target));
}

std::string mlir::llmc::explainJson(ModuleOp module,
                                    const PipelineOptions &options) {
  std::string json;
  llvm::raw_string_ostream os(json);
  printReportJson(explainReport(module, options), os);
  return json;
}

LogicalResult
mlir::llmc::describeSignature(ModuleOp module, const ModelSignature &sig,
                              ::llmc::runtime::ArtifactContents &contents) {
  auto spec = [&](const TensorSignature &s)
      -> FailureOr<::llmc::runtime::TensorSpec> {
    FailureOr<DType> d = dtypeOf(s.type.getElementType());
    if (failed(d))
      return module.emitError("unsupported type of '") << s.name << "'",
             failure();
    ::llmc::runtime::TensorSpec spec;
    spec.name = s.name;
    spec.dtype = *d;
    spec.shape.assign(s.type.getShape().begin(), s.type.getShape().end());
    spec.indexMin = s.indexMin;
    spec.indexMax = s.indexMax;
    spec.indexNode = s.indexNode;
    return spec;
  };
  // A partitioned program's split of each tensor (none: whole).
  auto axes = [&](const std::vector<std::vector<int>> &all, size_t i) {
    return sig.partitioned() && i < all.size() ? all[i] : std::vector<int>();
  };
  for (auto [i, s] : llvm::enumerate(sig.inputs)) {
    auto t = spec(s);
    if (failed(t))
      return failure();
    t->shardAxes = axes(sig.inputAxes, i);
    contents.inputs.push_back(*t);
  }
  std::vector<int> aliases = outputAliases(module, sig);
  for (auto [i, s] : llvm::enumerate(sig.outputs)) {
    auto t = spec(s);
    if (failed(t))
      return failure();
    t->shardAxes = axes(sig.outputAxes, i);
    t->aliasOf = aliases[i];
    contents.outputs.push_back(*t);
  }
  for (auto [i, w] : llvm::enumerate(sig.weights)) {
    FailureOr<DType> d = dtypeOf(w.getType().getElementType());
    if (failed(d))
      return module.emitError("unsupported weight type"), failure();
    ArrayRef<char> data = w.getRawHandle().getBlob()->getData();
    contents.weights.push_back({*d,
                                std::vector<int64_t>(w.getType().getShape()),
                                data.data(), data.size(),
                                axes(sig.weightAxes, i)});
  }
  contents.meshAxisNames = sig.meshAxisNames;
  contents.meshAxisSizes = sig.meshAxisSizes;
  return success();
}

LogicalResult mlir::llmc::writeCpuArtifact(ModuleOp module,
                                           const ModelSignature &sig,
                                           StringRef report, StringRef path) {
  FailureOr<std::string> so = emitCpuSharedObject(module);
  if (failed(so))
    return failure();
  ::llmc::runtime::ArtifactContents contents;
  if (failed(describeSignature(module, sig, contents)))
    return failure();
  contents.entry = kCpuEntryName.str();
  contents.sharedObject = std::move(*so);
  contents.report = report.str();
  std::string error;
  if (!::llmc::runtime::writeArtifact(path.str(), contents, error))
    return module.emitError(error), failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

/// "FILE: node 'NAME'" for a named ONNX node, "FILE" or "FILE:L:C" otherwise.
static std::string describeLocation(Location loc) {
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      return describeLocation(fused.getLocations().front());
  if (auto name = dyn_cast<NameLoc>(loc)) {
    std::string child = describeLocation(name.getChildLoc());
    return child + (child.empty() ? "" : ": ") + "node '" +
           name.getName().str() + "'";
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    if (file.getLine() == 0)
      return file.getFilename().str();
    return (file.getFilename().str() + ":" + Twine(file.getLine()) + ":" +
            Twine(file.getColumn()))
        .str();
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return describeLocation(callSite.getCallee());
  return "";
}

/// The name of the innermost NameLoc of `loc` (the ONNX node), if any.
/// The first ONNX node `loc` names, or "".
static std::string nodeName(Location loc) {
  std::vector<std::string> names = onnxNodeNames(loc);
  return names.empty() ? std::string() : names.front();
}

OneLineDiagnosticHandler::OneLineDiagnosticHandler(MLIRContext *context,
                                                   bool print)
    : ScopedDiagnosticHandler(context) {
  setHandler([this, print](Diagnostic &diag) -> LogicalResult {
    if (diag.getSeverity() != DiagnosticSeverity::Error)
      return success(); // notes and remarks are dropped: one line per error
    if (errorSeen)
      return success(); // only the first error: it is the cause
    errorSeen = true;
    std::string where = describeLocation(diag.getLocation());
    std::string message = diag.str();
    std::replace(message.begin(), message.end(), '\n', ' ');
    first = where + (where.empty() ? "" : ": ") + message;
    node = nodeName(diag.getLocation());
    if (print)
      llvm::errs() << "error: " << first << "\n";
    return success();
  });
}

void mlir::llmc::recordIndexRanges(ModuleOp module, ModelSignature &sig) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || main.isExternal())
    return;
  auto record = [&](Operation *op, Value indices, Value data, int64_t axis) {
    // Back through what keeps the values: reshapes, integer casts.
    while (Operation *def = indices.getDefiningOp()) {
      if (isa<graph::ReshapeOp>(def) ||
          (isa<graph::CastOp>(def) &&
           isa<IntegerType>(getElementTypeOrSelf(def->getOperand(0)))))
        indices = def->getOperand(0);
      else
        break;
    }
    auto arg = dyn_cast<BlockArgument>(indices);
    auto type = dyn_cast<RankedTensorType>(data.getType());
    if (!arg || arg.getOwner() != &main.getBody().front() ||
        arg.getArgNumber() >= sig.inputs.size() || !type || axis < 0 ||
        axis >= type.getRank() || type.isDynamicDim(axis))
      return;
    int64_t n = type.getDimSize(axis);
    TensorSignature &in = sig.inputs[arg.getArgNumber()];
    std::string node;
    if (auto name = dyn_cast<NameLoc>(op->getLoc()))
      node = name.getName().str();
    else if (auto fused = dyn_cast<FusedLoc>(op->getLoc()))
      if (!fused.getLocations().empty())
        if (auto first = dyn_cast<NameLoc>(fused.getLocations().front()))
          node = first.getName().str();
    bool tighter = in.indexMax < in.indexMin || n - 1 < in.indexMax;
    if (tighter) {
      in.indexMin = -n;
      in.indexMax = n - 1;
      in.indexNode = node;
    }
  };
  main.walk([&](Operation *op) {
    if (auto g = dyn_cast<graph::GatherOp>(op))
      record(op, g.getIndices(), g.getData(), g.getAxis());
    else if (auto g = dyn_cast<graph::GatherElementsOp>(op))
      record(op, g.getIndices(), g.getData(), g.getAxis());
    else if (auto s = dyn_cast<graph::ScatterElementsOp>(op))
      record(op, s.getIndices(), s.getData(), s.getAxis());
  });
}

LogicalResult mlir::llmc::compileToArtifact(ModuleOp module, StringRef path,
                                            const PipelineOptions &options) {
  FailureOr<ModelSignature> sig = getSignature(module);
  if (failed(sig) || failed(markDonatedInputs(module, options)))
    return failure();
  recordIndexRanges(module, *sig);
  // Lower through the graph phase, take the weights out of the code (the
  // runtime passes them in place), then lower the rest.
  if (failed(lower(module, Phase::Graph, Phase::Graph, options)))
    return failure();
  ModelReport report = explainReport(module, options);
  if (failed(takeWeights(module, *sig)) ||
      failed(lower(module, Phase::Linalg, Phase::LLVM, options)))
    return failure();
  if (!options.cudaChip.empty())
    return writeCudaArtifact(module, *sig, options, std::move(report), path);
  std::string json;
  llvm::raw_string_ostream os(json);
  printReportJson(report, os);
  return writeCpuArtifact(module, *sig, json, path);
}
