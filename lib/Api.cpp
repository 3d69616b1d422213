//===- Api.cpp - llmc's embedding API, free of MLIR types -----------------===//

#include "llmc/Api.h"

#include "llmc/Compiler.h"
#include "llmc/Dynamic.h"
#include "mlir/Bytecode/BytecodeWriter.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"
#include "llmc/Import/OnnxImporter.h"
#include "llmc/InitAll.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <mutex>
#include <unistd.h>

using namespace mlir;
using namespace mlir::llmc;
using ::llmc::runtime::DType;

namespace {
/// One registry for every context the API creates; passes registered once.
DialectRegistry &registry() {
  static DialectRegistry *instance = [] {
    auto *r = new DialectRegistry();
    registerAllDialects(*r);
    registerAllPasses();
    // The lowering honours MLIR's pass-manager options (print-ir, timing);
    // they must exist even though no command line sets them here.
    registerPassManagerCLOptions();
    registerDefaultTimingManagerCLOptions();
    return r;
  }();
  return *instance;
}

std::unique_ptr<MLIRContext> newContext() {
  auto context = std::make_unique<MLIRContext>(registry());
  context->loadAllAvailableDialects();
  return context;
}

/// Copies the handler's first error into `error` (or `fallback` when the
/// step failed without a diagnostic).
bool fail(const OneLineDiagnosticHandler &handler, ::llmc::api::Error &error,
          const std::string &fallback) {
  error.message = handler.hadError() ? handler.firstError() : fallback;
  error.node = handler.firstNode();
  return false;
}

/// The pipeline options of `options`; false with `error` for an unknown
/// target.
bool pipelineOptions(const ::llmc::api::CompileOptions &options,
                     const std::string &name, PipelineOptions &pipeline,
                     ::llmc::api::Error &error) {
  pipeline.fusion = options.fusion;
  pipeline.tf32 = options.tf32;
  std::string why;
  if (!parseTarget(options.target, pipeline, why))
    return error.message = name + ": " + why, false;
  if (options.mesh.empty() && !options.shards.empty())
    return error.message = name + ": shard= needs mesh=", false;
  pipeline.mesh = options.mesh;
  pipeline.strategy = options.strategy;
  pipeline.shards = options.shards;
  pipeline.linkBandwidth = options.linkBandwidth;
  pipeline.donate = options.donate;
  if (!checkShardingOptions(pipeline, why))
    return error.message = name + ": " + why, false;
  if (options.tf32 && pipeline.cudaChip.empty())
    return error.message = name + ": tf32 is for a cuda target (the CPU "
                                  "computes f32 in full precision)",
           false;
  return true;
}
} // namespace

namespace llmc::api {

bool compileOnnx(const std::string &modelBytes, const std::string &modelPath,
                 const CompileOptions &options, const std::string &artifactPath,
                 Error &error) {
  std::unique_ptr<MLIRContext> context = newContext();
  OneLineDiagnosticHandler diagnostics(context.get(), /*print=*/false);
  std::string name = modelPath.empty() ? "<model>" : modelPath;
  PipelineOptions pipeline;
  if (!pipelineOptions(options, name, pipeline, error))
    return false;
  if (!options.dynamic.empty()) {
    std::vector<DynamicRange> ranges;
    std::string why;
    if (!parseDynamic(options.dynamic, ranges, why)) {
      error.message = name + ": " + why;
      return false;
    }
    if (!options.exampleInputs.empty()) {
      error.message = name + ": dynamic= takes the sizes from its ranges: "
                             "give no example inputs";
      return false;
    }
    if (failed(compileDynamic(*context, modelBytes, name, ranges, pipeline,
                              artifactPath)))
      return fail(diagnostics, error, name + ": compilation failed");
    return true;
  }
  ImportOptions importOptions;
  for (const runtime::HostTensor &t : options.exampleInputs) {
    ImportInput in;
    in.name = t.name;
    in.shape = t.shape;
    in.elementType = elementTypeOf(*context, t.dtype);
    in.data = t.data;
    importOptions.inputs.push_back(std::move(in));
  }
  FailureOr<OwningOpRef<ModuleOp>> module = importOnnxModelFromBuffer(
      *context, modelBytes, name, importOptions);
  if (failed(module))
    return fail(diagnostics, error, name + ": cannot import the model");
  if (failed(compileToArtifact(**module, artifactPath, pipeline)))
    return fail(diagnostics, error, name + ": compilation failed");
  return true;
}

//===----------------------------------------------------------------------===//
// GraphBuilder
//===----------------------------------------------------------------------===//

struct GraphBuilder::Impl {
  std::string name;
  std::unique_ptr<MLIRContext> context;
  std::unique_ptr<OneLineDiagnosticHandler> diagnostics;
  OwningOpRef<ModuleOp> module;
  func::FuncOp func;
  std::vector<Value> values;
  std::vector<std::pair<std::string, Value>> outputs;
  bool compiled = false;
  bool finished = false;
  /// Ends @main with its outputs (once) and verifies it.
  bool finish(Error &error);

  Location loc(const std::string &where) {
    Location file = FileLineColLoc::get(context.get(), name, 0, 0);
    return where.empty() ? file : NameLoc::get(StringAttr::get(context.get(), where), file);
  }
  /// Starts a step: clears the previous step's error.
  void reset() {
    diagnostics = std::make_unique<OneLineDiagnosticHandler>(context.get(),
                                                             /*print=*/false);
  }
  bool valid(int value, Error &error) {
    if (value >= 0 && static_cast<size_t>(value) < values.size())
      return true;
    error.message = name + ": no value numbered " + std::to_string(value);
    return false;
  }
  /// Whether the graph may still be changed (`building`) or compiled.
  bool usable(Error &error, bool building = true) {
    if (compiled) {
      error.message = name + ": the graph was already compiled";
      return false;
    }
    if (building && finished) {
      error.message = name + ": the graph's outputs are final";
      return false;
    }
    return true;
  }
};

GraphBuilder::GraphBuilder(const std::string &name) : impl(new Impl) {
  impl->name = name;
  impl->context = newContext();
  impl->reset();
  Location loc = impl->loc("");
  impl->module = ModuleOp::create(loc);
  OpBuilder b(impl->context.get());
  b.setInsertionPointToEnd(impl->module->getBody());
  impl->func = func::FuncOp::create(b, loc, "main", b.getFunctionType({}, {}));
  impl->func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  impl->func.addEntryBlock();
}

GraphBuilder::~GraphBuilder() = default;

int GraphBuilder::input(const std::string &name, DType dtype,
                        const std::vector<int64_t> &shape, Error &error) {
  if (!impl->usable(error))
    return -1;
  Type element = elementTypeOf(*impl->context, dtype);
  for (int64_t d : shape)
    if (d < 0)
      return error.message = impl->name + ": input '" + name +
                             "' has a negative dim",
             -1;
  auto type = RankedTensorType::get(shape, element);
  Block &body = impl->func.getBody().front();
  Value arg = body.addArgument(type, impl->loc(name));
  unsigned index = body.getNumArguments() - 1;
  SmallVector<Type> inputs(body.getArgumentTypes());
  impl->func.setType(FunctionType::get(impl->context.get(), inputs, {}));
  impl->func.setArgAttr(index, kNameAttr,
                        StringAttr::get(impl->context.get(), name));
  impl->values.push_back(arg);
  return static_cast<int>(impl->values.size() - 1);
}

int GraphBuilder::constant(const std::string &name, DType dtype,
                           const std::vector<int64_t> &shape, const void *data,
                           size_t bytes, Error &error) {
  if (!impl->usable(error))
    return -1;
  auto type = RankedTensorType::get(shape, elementTypeOf(*impl->context, dtype));
  int64_t count = type.getNumElements();
  if (count < 0 || static_cast<size_t>(count) * runtime::dtypeSize(dtype) != bytes)
    return error.message = impl->name + ": constant '" + name + "' holds " +
                           std::to_string(bytes) + " bytes, its shape needs " +
                           std::to_string(count * runtime::dtypeSize(dtype)),
           -1;
  // As the ONNX importer does: small constants inline (the compiler folds
  // them), large ones (weights) as resource blobs, copied once.
  ArrayRef<char> raw(static_cast<const char *>(data), bytes);
  ElementsAttr attr;
  if (dtype == DType::Bool) {
    SmallVector<bool> bools;
    for (char c : raw)
      bools.push_back(c != 0);
    attr = DenseElementsAttr::get(type, ArrayRef<bool>(bools));
  } else if (count <= graph::kInlineConstantLimit) {
    bool splat = false;
    if (!DenseElementsAttr::isValidRawBuffer(type, raw, splat))
      return error.message = impl->name + ": constant '" + name +
                             "' has malformed data",
             -1;
    attr = DenseElementsAttr::getFromRawBuffer(type, raw);
  } else {
    AsmResourceBlob blob =
        HeapAsmResourceBlob::allocateAndCopyWithAlign(raw, alignof(uint64_t));
    attr = DenseResourceElementsAttr::get(type, name.empty() ? "constant" : name,
                                          std::move(blob));
  }
  OpBuilder b = OpBuilder::atBlockEnd(&impl->func.getBody().front());
  OperationState state(impl->loc(name), "graph.constant");
  state.addAttribute("value", attr);
  state.addTypes(type);
  Operation *op = b.create(state);
  impl->values.push_back(op->getResult(0));
  return static_cast<int>(impl->values.size() - 1);
}

std::vector<int> GraphBuilder::op(
    const std::string &opName, const std::vector<int> &operands,
    const std::vector<std::pair<std::string, std::string>> &attributes,
    const std::vector<std::string> &resultTypes, const std::string &location,
    Error &error) {
  if (!impl->usable(error))
    return {};
  impl->reset();
  MLIRContext *ctx = impl->context.get();
  std::string where = impl->name + (location.empty() ? "" : ": node '" + location + "'");
  OperationName name(opName, ctx);
  if (!name.isRegistered()) {
    error.message = where + ": unknown op '" + opName + "'";
    error.node = location;
    return {};
  }
  OperationState state(impl->loc(location), name);
  for (int v : operands) {
    if (!impl->valid(v, error))
      return {};
    state.operands.push_back(impl->values[v]);
  }
  for (const auto &[key, text] : attributes) {
    Attribute attr = parseAttribute(text, ctx);
    if (!attr) {
      error.message = where + ": attribute '" + key + "' of " + opName +
                      " does not parse: " + text;
      error.node = location;
      return {};
    }
    state.addAttribute(key, attr);
  }
  for (const std::string &text : resultTypes) {
    Type type = parseType(text, ctx);
    if (!type) {
      error.message = where + ": result type of " + opName +
                      " does not parse: " + text;
      error.node = location;
      return {};
    }
    state.addTypes(type);
  }
  if (resultTypes.empty()) {
    // Let the op infer its results: build it once without results (which
    // stores the attributes as its properties), ask it, then build it for
    // real.
    Operation *probe = Operation::create(state);
    auto infer = dyn_cast<InferTypeOpInterface>(probe);
    SmallVector<Type> inferred;
    LogicalResult ok =
        infer ? infer.inferReturnTypes(ctx, state.location, state.operands,
                                       probe->getDiscardableAttrDictionary(),
                                       probe->getPropertiesStorage(),
                                       probe->getRegions(), inferred)
              : failure();
    probe->destroy();
    if (failed(ok)) {
      if (!infer)
        mlir::emitError(state.location)
            << opName << " cannot infer its result types: give them";
      fail(*impl->diagnostics, error, where + ": " + opName + " is invalid");
      return {};
    }
    state.addTypes(inferred);
  }
  OpBuilder b = OpBuilder::atBlockEnd(&impl->func.getBody().front());
  Operation *op = b.create(state);
  if (failed(mlir::verify(op))) {
    fail(*impl->diagnostics, error, where + ": " + opName + " is invalid");
    op->erase();
    return {};
  }
  std::vector<int> results;
  for (Value r : op->getResults()) {
    impl->values.push_back(r);
    results.push_back(static_cast<int>(impl->values.size() - 1));
  }
  return results;
}

bool GraphBuilder::output(const std::string &name, int value, Error &error) {
  if (!impl->usable(error) || !impl->valid(value, error))
    return false;
  impl->outputs.emplace_back(name, impl->values[value]);
  return true;
}

std::vector<int64_t> GraphBuilder::shape(int value) const {
  if (value < 0 || static_cast<size_t>(value) >= impl->values.size())
    return {};
  auto type = cast<RankedTensorType>(impl->values[value].getType());
  return std::vector<int64_t>(type.getShape());
}

bool GraphBuilder::dtype(int value, DType &dtype) const {
  if (value < 0 || static_cast<size_t>(value) >= impl->values.size())
    return false;
  auto type = cast<RankedTensorType>(impl->values[value].getType());
  FailureOr<DType> d = dtypeOf(type.getElementType());
  if (failed(d))
    return false;
  dtype = *d;
  return true;
}

std::string GraphBuilder::mlir() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  impl->module->print(os, OpPrintingFlags().elideLargeElementsAttrs(16)
                              .elideLargeResourceString(64));
  return text;
}

bool GraphBuilder::compile(const CompileOptions &options,
                           const std::string &artifactPath, Error &error) {
  if (!impl->usable(error, false))
    return false;
  PipelineOptions pipeline;
  if (!pipelineOptions(options, impl->name, pipeline, error))
    return false;
  if (!impl->finish(error))
    return false;
  impl->compiled = true;
  if (failed(compileToArtifact(*impl->module, artifactPath, pipeline)))
    return fail(*impl->diagnostics, error, impl->name + ": compilation failed");
  return true;
}

bool GraphBuilder::Impl::finish(Error &error) {
  if (finished)
    return true;
  if (outputs.empty())
    return error.message = name + ": the graph has no outputs", false;
  reset();
  OpBuilder b = OpBuilder::atBlockEnd(&func.getBody().front());
  SmallVector<Value> results;
  for (auto &[n, v] : outputs)
    results.push_back(v);
  func::ReturnOp::create(b, loc(""), results);
  SmallVector<Type> inputs(func.getBody().front().getArgumentTypes());
  func.setType(FunctionType::get(context.get(), inputs,
                                 ValueRange(results).getTypes()));
  for (auto [i, out] : llvm::enumerate(outputs))
    func.setResultAttr(i, kNameAttr, StringAttr::get(context.get(), out.first));
  finished = true;
  if (failed(mlir::verify(*module)))
    return fail(*diagnostics, error, name + ": compilation failed");
  return true;
}

int GraphBuilder::provePadding(
    GraphBuilder &smaller,
    const std::vector<std::pair<unsigned, unsigned>> &inputDims,
    int64_t size, int64_t smallerSize,
    std::vector<std::vector<int64_t>> &outputScales, std::string &why,
    Error &error) {
  if (!impl->usable(error, false) || !smaller.impl->usable(error, false) ||
      !impl->finish(error) || !smaller.impl->finish(error))
    return -1;
  impl->reset();
  // Both in this builder's context: a copy of this module, and the smaller
  // one through bytecode (its weights travel as resources).
  OwningOpRef<ModuleOp> big = impl->module->clone();
  std::string bytes;
  {
    llvm::raw_string_ostream os(bytes);
    if (failed(writeBytecodeToFile(*smaller.impl->module, os)))
      return error.message = impl->name + ": cannot copy the graph", -1;
  }
  ParserConfig config(impl->context.get());
  OwningOpRef<ModuleOp> small = parseSourceString<ModuleOp>(bytes, config);
  if (!small)
    return fail(*impl->diagnostics, error, impl->name + ": cannot copy the graph"), -1;
  FailureOr<bool> ok = mlir::llmc::provePadding(*big, *small, inputDims, size,
                                                 smallerSize, why, &outputScales);
  if (failed(ok))
    return fail(*impl->diagnostics, error, impl->name + ": compilation failed"), -1;
  return *ok ? 1 : 0;
}

//===----------------------------------------------------------------------===//
// Passes
//===----------------------------------------------------------------------===//

bool runPipeline(const std::string &mlirText, const std::string &pipeline,
                 std::string &result, std::string &diagnostics) {
  std::unique_ptr<MLIRContext> context = newContext();
  llvm::raw_string_ostream diag(diagnostics);
  ScopedDiagnosticHandler handler(context.get(), [&](Diagnostic &d) {
    const char *kind = d.getSeverity() == DiagnosticSeverity::Error     ? "error"
                       : d.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                       : d.getSeverity() == DiagnosticSeverity::Remark  ? "remark"
                                                                        : "note";
    std::string message = d.str();
    std::replace(message.begin(), message.end(), '\n', ' ');
    if (auto file = dyn_cast<FileLineColLoc>(d.getLocation()))
      diag << file.getFilename().getValue() << ":" << file.getLine() << ":"
           << file.getColumn();
    else
      diag << d.getLocation();
    diag << ": " << kind << ": " << message << "\n";
    return success();
  });
  ParserConfig config(context.get());
  // Top-level ops other than a module are wrapped in one, as mlir-opt does.
  OwningOpRef<ModuleOp> op =
      parseSourceString<ModuleOp>(mlirText, config, /*sourceName=*/"<input>");
  if (!op)
    return false;
  // The pipeline names its anchor: "builtin.module(...)".
  std::string parseErrors;
  llvm::raw_string_ostream parseStream(parseErrors);
  FailureOr<OpPassManager> parsed = parsePassPipeline(pipeline, parseStream);
  if (failed(parsed)) {
    diag << "error: invalid pass pipeline '" << pipeline
         << "': " << parseErrors;
    if (parseErrors.empty() || parseErrors.back() != '\n')
      diag << "\n";
    return false;
  }
  StringRef opName = op.get()->getName().getStringRef();
  std::optional<StringRef> anchor = parsed->getOpName();
  if (anchor && *anchor != opName && *anchor != "any") {
    diag << "error: the pipeline runs on '" << *anchor
         << "' but the input is a '" << opName << "'\n";
    return false;
  }
  PassManager pm(context.get(), opName);
  static_cast<OpPassManager &>(pm) = *parsed;
  if (failed(pm.run(op.get())))
    return false;
  llvm::raw_string_ostream os(result);
  op.get()->print(os);
  return true;
}

std::vector<std::pair<std::string, std::string>> registeredPasses() {
  // MLIR lists its registry only by printing it: print into a temporary
  // file through stdout, once, and parse the "  --name   -   summary" lines.
  static std::vector<std::pair<std::string, std::string>> passes = [] {
    registry();
    std::vector<std::pair<std::string, std::string>> list;
    llvm::SmallString<128> path;
    int fd;
    if (llvm::sys::fs::createTemporaryFile("llmc-passes", "txt", fd, path))
      return list;
    llvm::outs().flush();
    std::fflush(stdout);
    int saved = ::dup(1);
    ::dup2(fd, 1);
    printRegisteredPasses();
    llvm::outs().flush();
    ::dup2(saved, 1);
    ::close(saved);
    ::close(fd);
    auto buffer = llvm::MemoryBuffer::getFile(path);
    llvm::sys::fs::remove(path);
    if (!buffer)
      return list;
    SmallVector<StringRef> lines;
    (*buffer)->getBuffer().split(lines, '\n');
    for (StringRef line : lines) {
      // Passes are indented by two spaces; their options by more.
      if (!line.starts_with("  --") || line.starts_with("   "))
        continue;
      StringRef rest = line.drop_front(4);
      StringRef name = rest.take_until([](char c) { return c == ' '; });
      StringRef summary = rest.drop_front(name.size()).ltrim();
      if (summary.consume_front("-"))
        summary = summary.ltrim();
      list.emplace_back(name.str(), summary.str());
    }
    return list;
  }();
  return passes;
}

} // namespace llmc::api
