//===- llmc.cpp - The llmc command ----------------------------------------===//
//
//   llmc compile MODEL.onnx -o OUT.llmcx [--target cpu] [--input ...]
//   llmc run MODEL.onnx|OUT.llmcx --input NAME=FILE.npy ... --output-dir DIR
//   llmc compile MODEL.onnx --compile-to=PHASE --emit=mlir [-o FILE]
//   llmc compile MODEL.onnx --target cuda:sm_90 --emit ptx -o FILE.ptx
//   llmc compile MODEL.onnx --target cuda:sm_90 -o OUT.llmcx
//   llmc bench MODEL.onnx|OUT.llmcx [--target cuda] [--cuda-graph]
//   llmc explain MODEL.onnx [--target cpu|cuda:sm_90] [--format json]
//
// Every error is one line on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "llmc/Compiler.h"
#include "llmc/Dynamic.h"
#include "llmc/Explain.h"
#include "llmc/Import/OnnxImporter.h"
#include "llmc/InitAll.h"
#include "llmc/Runtime/Artifact.h"
#include "llmc/Runtime/Cuda.h"

#include "mlir/IR/AsmState.h"

#include <chrono>
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::llmc;
namespace cl = llvm::cl;
using ::llmc::runtime::HostTensor;

static cl::SubCommand runCommand(
    "run", "Run MODEL (compiled for the CPU on the fly) or an artifact on the "
           "given inputs");
static cl::SubCommand compileCommand(
    "compile", "Compile MODEL into an artifact (-o OUT.llmcx), or write the IR "
               "of a phase (--emit=mlir)");

static cl::SubCommand benchCommand(
    "bench", "Time MODEL (compiled to an artifact first) or an artifact: "
             "warm-up runs, then timed runs, their median and spread");

static cl::SubCommand explainCommand(
    "explain", "Print every kernel of MODEL after fusion: its ONNX nodes, "
               "bytes, FLOPs and roofline time on the target");

static cl::opt<std::string> modelPath(cl::Positional, cl::desc("MODEL"),
                                      cl::sub(runCommand),
                                      cl::sub(compileCommand),
                                      cl::sub(benchCommand),
                                      cl::sub(explainCommand));
static cl::opt<std::string> explainTarget(
    "target", cl::desc("cpu, cuda (sm_90) or cuda:sm_80|sm_86|sm_89|sm_90"),
    cl::init("cpu"), cl::sub(explainCommand));
static cl::opt<std::string> explainFormat("format", cl::desc("text or json"),
                                          cl::init("text"),
                                          cl::sub(explainCommand));
static cl::opt<unsigned> benchRuns("runs", cl::desc("Timed runs (default 20)"),
                                   cl::init(20), cl::sub(benchCommand));
static cl::opt<unsigned> benchWarmup(
    "warmup",
    cl::desc("Untimed warm-up runs (default 30; warm-up also ends once it "
             "has taken 2 seconds, after at least one run)"),
    cl::init(30), cl::sub(benchCommand));
static cl::list<std::string>
    inputArgs("input",
              cl::desc("An input: NAME=FILE.npy, or FILE.npy for the next "
                       "input in graph order (repeatable)"),
              cl::sub(runCommand), cl::sub(compileCommand),
              cl::sub(benchCommand));
static cl::list<std::string> positionalInputs(cl::Positional, cl::ZeroOrMore,
                                              cl::desc("[FILE.npy ...]"),
                                              cl::sub(runCommand),
                                              cl::sub(benchCommand));
static cl::opt<std::string>
    outputDir("output-dir",
              cl::desc("Where `run` writes <output name>.npy (default .)"),
              cl::init("."), cl::sub(runCommand));
static cl::opt<std::string> outputFile(
    "o", cl::desc("The artifact (.llmcx), or with --emit=mlir the IR file"),
    cl::init("-"), cl::sub(compileCommand));
static cl::opt<std::string> compileTo(
    "compile-to",
    cl::desc("Stop after a phase: import, graph, linalg, bufferized, llvm"),
    cl::init(""), cl::sub(runCommand), cl::sub(compileCommand));
static cl::opt<std::string>
    emit("emit", cl::desc("What to write: mlir (the IR after --compile-to), "
                          "or ptx (the CUDA kernels, with --target cuda)"),
         cl::init(""), cl::sub(runCommand), cl::sub(compileCommand));
static cl::opt<std::string> target(
    "target",
    cl::desc("cpu (the default), cuda (sm_90) or cuda:sm_80|sm_86|sm_89|sm_90"),
                                   cl::init("cpu"), cl::sub(runCommand),
                                   cl::sub(compileCommand),
                                   cl::sub(benchCommand));

static cl::opt<bool> cudaGraph(
    "cuda-graph",
    cl::desc("CUDA: capture the model's launches once as a CUDA graph and "
             "replay it on every later run (the first run is eager)"),
    cl::init(false), cl::sub(runCommand), cl::sub(benchCommand));

static cl::opt<bool> tf32(
    "tf32",
    cl::desc("CUDA: let f32 GEMMs and convolutions use TF32 tensor cores "
             "(inputs rounded to a 10-bit mantissa; off: full fp32)"),
    cl::init(false), cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand));

static cl::opt<bool> noFusion(
    "no-fusion",
    cl::desc("Do not fuse memory-bound ops into kernels (one loop nest per op)"),
    cl::init(false), cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand), cl::sub(explainCommand));


static cl::opt<std::string> meshOption(
    "mesh",
    cl::desc("Run on a mesh of devices with named axes, e.g. tp=2 or "
             "dp=2,tp=4 (CPU: one thread per device)"),
    cl::init(""), cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand), cl::sub(explainCommand));
static cl::opt<std::string> strategyOption(
    "strategy",
    cl::desc("With --mesh: dp, megatron, megatron-sp, experts, auto (the "
             "default) or none (pins alone)"),
    cl::init("auto"), cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand), cl::sub(explainCommand));
static cl::list<std::string> shardOption(
    "shard",
    cl::desc("With --mesh: pin a tensor, NAME=AXIS,-,... (one entry per dim, "
             "'-' keeps it whole), by input or weight name"),
    cl::sub(runCommand), cl::sub(compileCommand), cl::sub(benchCommand),
    cl::sub(explainCommand));
static cl::opt<double> linkBandwidthOption(
    "link-bandwidth",
    cl::desc("With --mesh: link bandwidth per direction in GB/s for the cost "
             "model and explain (default 450, NVLink 4)"),
    cl::init(450), cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand), cl::sub(explainCommand));
static cl::opt<double> deviceMemory(
    "device-memory",
    cl::desc("Memory of one device in GB: refuse a plan whose per-device "
             "peak (weights, inputs, live activations; one device's part "
             "with --mesh) does not fit"),
    cl::init(0), cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand), cl::sub(explainCommand));
static cl::list<std::string> donateOption(
    "donate",
    cl::desc("Donate an input's buffer, by name (repeatable or NAME,NAME): "
             "the code may update it in place, and an output computed from it "
             "in place (a KV cache written by a scatter) is returned in it "
             "without a copy (CPU, one device)"),
    cl::CommaSeparated, cl::sub(runCommand), cl::sub(compileCommand),
    cl::sub(benchCommand));
static cl::opt<double> collectiveTimeout(
    "collective-timeout",
    cl::desc("With --mesh: seconds a collective waits for its peers before "
             "the run fails (default 60)"),
    cl::init(60), cl::sub(runCommand), cl::sub(benchCommand));

static cl::opt<std::string> signOption(
    "sign",
    cl::desc("Sign the artifact with the key in this file (HMAC-SHA256; at "
             "least 16 bytes, e.g. head -c 32 /dev/urandom > KEY), so that "
             "`llmc-run --verify KEY` refuses artifacts it did not build"),
    cl::value_desc("KEYFILE"), cl::sub(compileCommand));
static cl::opt<std::string> verifyOption(
    "verify",
    cl::desc("Run the artifact only if it is signed with the key in this "
             "file (llmc compile --sign)"),
    cl::value_desc("KEYFILE"), cl::sub(runCommand), cl::sub(benchCommand));

static cl::opt<std::string> devicesOption(
    "devices",
    cl::desc("With --target cuda and --mesh: the CUDA devices of the mesh's "
             "ranks, e.g. 2,3 (default 0..N-1)"),
    cl::sub(runCommand), cl::sub(benchCommand));

static cl::opt<std::string> dynamicOption(
    "dynamic",
    cl::desc("Dims that vary between runs, with their ranges: NAME=MIN..MAX "
             "(a symbolic dim of the model's inputs, or INPUT:AXIS), comma "
             "separated, e.g. batch=1..64,seq=1..512: one artifact runs every "
             "size (see docs/llm-inference.md)"),
    cl::value_desc("NAME=MIN..MAX,..."), cl::sub(compileCommand),
    cl::sub(explainCommand));

static int fail(const Twine &message) {
  // One line, whatever a name or a file put in the message.
  llvm::errs() << "error: " << ::llmc::runtime::oneLine(message.str()) << "\n";
  return 1;
}

/// Reads the --input files (and positional ones) in the order given.
static bool readInputs(std::vector<HostTensor> &tensors) {
  std::vector<std::string> all(inputArgs.begin(), inputArgs.end());
  all.insert(all.end(), positionalInputs.begin(), positionalInputs.end());
  std::string error;
  if (!::llmc::runtime::readInputFiles(all, tensors, error))
    return fail(error), false;
  return true;
}

/// Orders the given tensors as the signature's inputs; errors for missing,
/// extra or misnamed ones.
static bool matchInputs(const std::vector<std::string> &names,
                        std::vector<HostTensor> &given) {
  std::string error;
  if (!::llmc::runtime::orderInputs(names, given, modelPath, "model", error))
    return fail(error), false;
  return true;
}

static int writeOutputs(const std::vector<HostTensor> &outputs);

/// With --device-memory: false after a one-line error when the per-device
/// peak of `report` (the buffer plan of one device's program) exceeds it.
static bool fitsDevice(const ModelReport &report) {
  if (deviceMemory.getNumOccurrences() == 0)
    return true;
  if (!(deviceMemory > 0))
    return fail("--device-memory must be a positive number of GB"), false;
  double capacity = deviceMemory * 1e9;
  if (report.peakBytes <= capacity)
    return true;
  fail(llvm::formatv("{0}: the plan needs {1:F1} MB per device (weights, "
                     "inputs and live activations at the peak) but "
                     "--device-memory is {2:F1} MB{3}",
                     modelPath, report.peakBytes / 1e6, capacity / 1e6,
                     meshOption.empty() ? "; a --mesh splits the model"
                                        : "")
           .str());
  return false;
}

/// Copies --mesh, --strategy, --shard and --link-bandwidth into `options`;
/// false after a one-line error.
static bool meshOptions(PipelineOptions &options) {
  if (meshOption.getNumOccurrences() && meshOption.empty())
    return fail("--mesh needs axes, e.g. --mesh tp=2 or --mesh dp=2,tp=4"),
           false;
  bool meshGiven = !meshOption.empty();
  if (!meshGiven && (!shardOption.empty() || strategyOption.getNumOccurrences()))
    return fail("--shard and --strategy need --mesh (e.g. --mesh tp=2)"), false;
  if (!meshGiven)
    return true;
  options.mesh = meshOption;
  options.strategy = strategyOption;
  options.shards.assign(shardOption.begin(), shardOption.end());
  options.linkBandwidth = linkBandwidthOption * 1e9;
  std::string error;
  if (!checkShardingOptions(options, error))
    return fail(error), false;
  return true;
}

/// `llmc compile --dynamic` (and `explain --dynamic`, into a temporary
/// artifact): the variants' artifact at `out`; prints what was decided
/// when `print`, or its JSON into `json`.
static int compileDynamicModel(const PipelineOptions &pipeline,
                               const std::string &out, bool print,
                               std::string *json = nullptr) {
  std::vector<DynamicRange> ranges;
  std::string error;
  if (!parseDynamic(dynamicOption, ranges, error))
    return fail(error);
  if (!inputArgs.empty() || !positionalInputs.empty())
    return fail("--dynamic takes the sizes from its ranges: give no --input");
  if (!emit.empty() || !compileTo.empty())
    return fail("--dynamic writes an artifact: no --emit or --compile-to");
  if (::llmc::runtime::looksLikeArtifact(modelPath))
    return fail(modelPath + ": --dynamic is for models, not artifacts");
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OneLineDiagnosticHandler diagnostics(&context);
  std::string why;
  if (!::llmc::runtime::isRegularFile(modelPath, why))
    return fail(why);
  auto file = llvm::MemoryBuffer::getFile(modelPath, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file)
    return fail(modelPath + ": cannot read file: " + file.getError().message());
  std::string summary;
  if (failed(compileDynamic(context, (*file)->getBuffer(), modelPath, ranges,
                            pipeline, out, &summary)))
    return 1;
  if (print)
    llvm::outs() << summary;
  if (json) {
    std::unique_ptr<::llmc::runtime::Artifact> a =
        ::llmc::runtime::Artifact::load(out, error, modelPath);
    if (!a)
      return fail(error);
    *json = a->report();
  }
  return 0;
}

static int runOrCompile(bool isRun) {
  PipelineOptions pipeline;
  pipeline.fusion = !noFusion;
  pipeline.tf32 = tf32;
  std::string targetError;
  if (!parseTarget(target, pipeline, targetError))
    return fail(targetError);
  bool cuda = !pipeline.cudaChip.empty();
  if (!meshOptions(pipeline))
    return 1;
  pipeline.donate.assign(donateOption.begin(), donateOption.end());
  if (tf32 && !cuda)
    return fail("--tf32 is for --target cuda (the CPU computes f32 in full "
                "precision)");
  bool ptx = emit == "ptx";
  if (ptx && (!cuda || isRun || !compileTo.empty()))
    return fail("--emit ptx needs llmc compile --target cuda[:sm_XX] and no "
                "--compile-to");
  std::optional<Phase> last = Phase::LLVM;
  if (!compileTo.empty()) {
    last = parsePhase(compileTo);
    if (!last)
      return fail("unknown phase '" + compileTo +
                  "' (import, graph, linalg, bufferized, llvm)");
  }
  if (!emit.empty() && emit != "mlir" && emit != "ptx")
    return fail("unknown --emit '" + emit + "' (mlir, ptx)");
  if (!isRun && emit.empty() && compileTo.empty() &&
      (outputFile.empty() || outputFile == "-"))
    return fail("give the artifact's path: llmc compile MODEL -o OUT.llmcx");
  if (!isRun && dynamicOption.getNumOccurrences())
    return compileDynamicModel(pipeline, outputFile, /*print=*/true);

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OneLineDiagnosticHandler diagnostics(&context);

  std::vector<HostTensor> given;
  if (!readInputs(given))
    return 1;
  ImportOptions options;
  for (const HostTensor &t : given) {
    ImportInput in;
    in.name = t.name;
    in.shape = t.shape;
    in.elementType = elementTypeOf(context, t.dtype);
    in.data = t.data;
    options.inputs.push_back(std::move(in));
  }
  FailureOr<OwningOpRef<ModuleOp>> module =
      importOnnxModel(context, modelPath, options);
  if (failed(module))
    return 1;
  FailureOr<ModelSignature> sig = getSignature(**module);
  if (failed(sig) || failed(markDonatedInputs(**module, pipeline)))
    return 1;
  recordIndexRanges(**module, *sig);
  std::vector<std::string> names;
  for (const TensorSignature &t : sig->inputs)
    names.push_back(t.name);
  if (isRun && (!emit.empty() || compileTo.empty()) &&
      !matchInputs(names, given))
    return 1;
  // Lower through the graph phase, take the weights out of the code (the
  // runtime passes them in place), then lower the rest.
  if (failed(lower(**module, Phase::Graph, std::min(*last, Phase::Graph),
                         pipeline)))
    return 1;
  ModelReport report;
  if (!isRun && emit.empty() && compileTo.empty())
    report = explainReport(**module, pipeline);
  if (*last >= Phase::Graph && deviceMemory.getNumOccurrences() &&
      !fitsDevice(explainReport(**module, pipeline)))
    return 1;
  if (*last > Phase::Graph) {
    if (failed(takeWeights(**module, *sig)) ||
        failed(lower(**module, Phase::Linalg, *last, pipeline)))
      return 1;
  }

  if (ptx) {
    FailureOr<std::string> text = getPtx(**module);
    if (failed(text))
      return 1;
    std::string error;
    auto out = openOutputFile(outputFile.getValue(), &error);
    if (!out)
      return fail(error);
    out->os() << *text;
    out->keep();
    return 0;
  }

  if (!emit.empty() || !compileTo.empty()) {
    std::string error;
    auto out = openOutputFile(isRun ? std::string("-") : outputFile.getValue(), &error);
    if (!out)
      return fail(error);
    (*module)->print(out->os());
    out->keep();
    return 0;
  }

  if (!isRun && cuda)
    return failed(writeCudaArtifact(**module, *sig, pipeline,
                                    std::move(report), outputFile))
               ? 1
               : 0;
  if (!isRun) {
    std::string json;
    llvm::raw_string_ostream os(json);
    printReportJson(report, os);
    return failed(writeCpuArtifact(**module, *sig, json, outputFile)) ? 1 : 0;
  }

  FailureOr<std::vector<HostTensor>> outputs =
      runWithJit(**module, *sig, given, collectiveTimeout);
  if (failed(outputs))
    return 1;
  return writeOutputs(*outputs);
}

/// Loads an artifact and reads the inputs for it, in its order; null after
/// reporting an error.
static std::unique_ptr<::llmc::runtime::Artifact>
loadWithInputs(const std::string &path, std::vector<HostTensor> &given) {
  std::string error;
  // Errors name the model, not the temporary artifact compiled from it.
  // Read by the CUDA runtime (CudaMesh), which checks the list.
  if (devicesOption.getNumOccurrences())
    setenv("LLMC_CUDA_DEVICES", devicesOption.c_str(), 1);
  std::string key;
  if (!verifyOption.empty() &&
      !::llmc::runtime::readSigningKey(verifyOption, key, error)) {
    fail(error);
    return nullptr;
  }
  std::unique_ptr<::llmc::runtime::Artifact> artifact =
      ::llmc::runtime::Artifact::load(path, error, modelPath, {}, key);
  if (!artifact) {
    fail(error);
    return nullptr;
  }
  artifact->useCudaGraph(cudaGraph);
  artifact->setCollectiveTimeout(collectiveTimeout);
  std::vector<std::string> names;
  for (const auto &spec : artifact->inputs())
    names.push_back(spec.name);
  if (!readInputs(given) || !matchInputs(names, given))
    return nullptr;
  return artifact;
}

/// `llmc run OUT.llmcx`: the runtime alone, no compiler involved.
static int runArtifact(const std::string &path) {
  std::vector<HostTensor> given, outputs;
  auto artifact = loadWithInputs(path, given);
  if (!artifact)
    return 1;
  std::string error;
  if (!artifact->run(given, outputs, error))
    return fail(error);
  return writeOutputs(outputs);
}

/// Per-step times of one CUDA run, from CUDA events: each step's time, the
/// bandwidth it achieved over the bytes it moves (and the TFLOP/s of
/// GEMMs and convolutions), beside the roofline estimate for the target.
static bool profileCuda(const ::llmc::runtime::Artifact &artifact,
                        ::llmc::runtime::CudaExecutable &cuda,
                        const std::vector<HostTensor> &given) {
  namespace rt = ::llmc::runtime;
  std::vector<double> stepMs;
  std::string error;
  if (!artifact.profile(given, stepMs, error))
    return fail(error), false;
  const rt::CudaProgram &p = cuda.program();
  std::optional<rt::Roofline> roofline;
  if (const RooflineTarget *t = lookupRooflineTarget("cuda:" + p.chip))
    roofline = rt::Roofline{t->name, t->bytesPerSecond, t->flopsPerSecond,
                            t->launchSeconds};
  llvm::outs() << "device: " << cuda.deviceName() << "\n"
               << rt::formatProfile(p, stepMs, roofline ? &*roofline : nullptr);
  return true;
}

/// `llmc bench`: load the artifact once, then time whole runs.
static int benchArtifact(const std::string &path) {
  std::vector<HostTensor> given;
  auto artifact = loadWithInputs(path, given);
  if (!artifact)
    return 1;
  std::string error;
  if (benchRuns == 0)
    return fail("--runs must be at least 1");
  std::vector<HostTensor> outputs;
  std::vector<double> ms;
  // Warm-up: caches, page faults, the thread pool and (on a virtual
  // machine) the other vCPU all settle over the first runs.
  unsigned warmed = 0;
  auto warmupStart = std::chrono::steady_clock::now();
  while (warmed < benchWarmup) {
    if (!artifact->run(given, outputs, error))
      return fail(error);
    ++warmed;
    if (std::chrono::steady_clock::now() - warmupStart > std::chrono::seconds(2))
      break;
  }
  for (unsigned i = 0; i < benchRuns; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (!artifact->run(given, outputs, error))
      return fail(error);
    auto end = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1))]; };
  llvm::outs() << llvm::format(
      "%s: %u runs after %u warm-up: median %.3f ms  min %.3f ms  p90 %.3f ms  "
      "max %.3f ms\n",
      modelPath.c_str(), benchRuns.getValue(), warmed, at(0.5),
      ms.front(), at(0.9), ms.back());
  if (::llmc::runtime::CudaExecutable *cuda = artifact->cuda())
    return profileCuda(*artifact, *cuda, given) ? 0 : 1;
  return 0;
}

static int writeOutputs(const std::vector<HostTensor> &outputs) {
  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
    return fail("cannot create output directory '" + outputDir +
                "': " + ec.message());
  for (const HostTensor &t : outputs) {
    SmallString<256> path(outputDir);
    llvm::sys::path::append(path, ::llmc::runtime::outputFileName(t.name) + ".npy");
    std::string error;
    if (!::llmc::runtime::writeNpy(std::string(path), t, error))
      return fail(error);
  }
  return 0;
}

/// The library epilogues of MODEL's CUDA program for `options`' chip, or the
/// first error that stops it being built (in `why`).
static FailureOr<std::vector<LibraryEpilogue>>
cudaEpilogues(const PipelineOptions &options, std::string &why) {
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OneLineDiagnosticHandler diagnostics(&context, /*print=*/false);
  FailureOr<OwningOpRef<ModuleOp>> module =
      importOnnxModel(context, modelPath, ImportOptions());
  FailureOr<ModelSignature> sig = failure();
  if (succeeded(module))
    sig = getSignature(**module);
  FailureOr<::llmc::runtime::CudaProgram> program = failure();
  if (succeeded(sig) &&
      succeeded(lower(**module, Phase::Graph, Phase::Graph, options)) &&
      succeeded(takeWeights(**module, *sig)) &&
      succeeded(lower(**module, Phase::Linalg, Phase::LLVM, options)))
    program = buildCudaProgram(**module, *sig, options);
  if (failed(program)) {
    why = diagnostics.firstError();
    return failure();
  }
  return libraryEpilogues(*program);
}

/// `llmc explain`: the graph phase without fusion, then llmc-fuse with the
/// target's kernel budget, then the report. On CUDA, the kernels that the
/// CUDA program folds into library calls as their epilogues are shown so.
static int explainModel() {
  PipelineOptions targetOptions;
  std::string targetError;
  if (!parseTarget(explainTarget, targetOptions, targetError))
    return fail(targetError);
  bool cuda = !targetOptions.cudaChip.empty();
  const RooflineTarget *roofline = lookupRooflineTarget(
      cuda ? "cuda:" + targetOptions.cudaChip : std::string("cpu"));
  if (!roofline)
    return fail("no roofline figures for target '" + explainTarget + "'");
  if (explainFormat != "text" && explainFormat != "json")
    return fail("unknown --format '" + explainFormat + "' (text or json)");
  if (dynamicOption.getNumOccurrences()) {
    // Every variant's estimate: the compile decides them.
    PipelineOptions pipeline;
    pipeline.fusion = !noFusion;
    pipeline.cudaChip = targetOptions.cudaChip;
    if (!meshOptions(pipeline))
      return 1;
    SmallString<128> tmp;
    if (llvm::sys::fs::createTemporaryFile("llmc", "llmcx", tmp))
      return fail("cannot create a temporary file");
    llvm::FileRemover remove(tmp);
    std::string json;
    bool text = explainFormat == "text";
    if (int rc = compileDynamicModel(pipeline, std::string(tmp), text,
                                     text ? nullptr : &json))
      return rc;
    if (!text)
      llvm::outs() << json << "\n";
    return 0;
  }
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OneLineDiagnosticHandler diagnostics(&context);
  FailureOr<OwningOpRef<ModuleOp>> module =
      importOnnxModel(context, modelPath, ImportOptions());
  if (failed(module))
    return 1;
  PipelineOptions pipeline;
  pipeline.fusion = false;
  pipeline.cudaChip = targetOptions.cudaChip;
  if (!meshOptions(pipeline))
    return 1;
  pipeline.cudaChip.clear(); // the graph phase is the CPU's here
  if (!noFusion) // fused apart below, but attention is lifted as it will be
    pipeline.liftAttentionFor = cuda ? "cuda" : "cpu";
  if (failed(lower(**module, Phase::Graph, Phase::Graph, pipeline)))
    return 1;
  if (!noFusion) {
    PassManager pm(&context);
    std::string budget = cuda ? "cuda" : "cpu";
    if (failed(parsePassPipeline("func.func(llmc-fuse{target=" + budget + "})",
                                 pm, llvm::errs())) ||
        failed(pm.run(**module)))
      return 1;
  }
  ModelReport report = explainModule(**module, *roofline);
  if (!fitsDevice(report))
    return 1;
  if (cuda && !noFusion) {
    std::string why;
    FailureOr<std::vector<LibraryEpilogue>> epilogues =
        cudaEpilogues(targetOptions, why);
    if (succeeded(epilogues))
      foldLibraryEpilogues(report, *epilogues, *roofline);
    else
      llvm::errs() << "warning: library epilogues not shown: the CUDA "
                      "program cannot be built: "
                   << why << "\n";
  }
  if (explainFormat == "json")
    printReportJson(report, llvm::outs());
  else
    printReportText(report, llvm::outs());
  return 0;
}

/// Compiles MODEL to a temporary artifact, calls `use` on its path, and
/// removes it.
static int withTemporaryArtifact(int (*use)(const std::string &)) {
  SmallString<128> tmp;
  if (llvm::sys::fs::createTemporaryFile("llmc", "llmcx", tmp))
    return fail("cannot create a temporary file");
  llvm::FileRemover remove(tmp);
  outputFile = std::string(tmp);
  if (int rc = runOrCompile(false))
    return rc;
  return use(std::string(tmp));
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAllPasses();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // `llmc --help` lists the commands; LLVM's and MLIR's own options (IR
  // printing, timing, backend flags) still work and are listed by
  // --help-hidden.
  static cl::OptionCategory none("llmc");
  cl::HideUnrelatedOptions(none);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "llmc " << LLMC_VERSION << " (MLIR and LLVM " << LLVM_VERSION_STRING
       << ")\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc: compiles ONNX models through MLIR and runs them\n\n"
      "  llmc compile MODEL.onnx -o OUT.llmcx [--input NAME=FILE.npy ...]\n"
      "  llmc run MODEL.onnx|OUT.llmcx --input NAME=FILE.npy ... --output-dir DIR\n"
      "  llmc bench MODEL.onnx|OUT.llmcx --input NAME=FILE.npy ... [--runs N]\n"
      "  llmc compile MODEL.onnx --compile-to=PHASE --emit=mlir -o FILE\n"
      "  llmc compile MODEL.onnx --target cuda:sm_90 --emit ptx -o FILE.ptx\n"
      "  llmc compile MODEL.onnx --dynamic batch=1..64,seq=1..512 -o OUT.llmcx\n"
      "  llmc explain MODEL.onnx [--target cpu|cuda:sm_90] [--format json]\n\n"
      "  llmc COMMAND --help lists a command's options; llmc --help-hidden\n"
      "  also lists MLIR's and LLVM's (e.g. --mlir-print-ir-after-all,\n"
      "  --mlir-timing), which every command accepts.\n");
  if ((runCommand || benchCommand) && target != "cpu") {
    PipelineOptions options;
    std::string error;
    if (!parseTarget(target, options, error))
      return fail(error);
    if (::llmc::runtime::looksLikeArtifact(modelPath))
      return fail("--target is for models: an artifact runs on the target "
                  "it was compiled for");
    if (runCommand && (!emit.empty() || !compileTo.empty()))
      return fail("--emit and --compile-to need --target cpu with llmc run; "
                  "use llmc compile --target " + target);
  }
  if ((runCommand || benchCommand) && !(collectiveTimeout > 0))
    return fail("--collective-timeout must be a positive number of seconds");
  if ((runCommand || benchCommand) &&
      ::llmc::runtime::looksLikeArtifact(modelPath)) {
    if (meshOption.getNumOccurrences())
      return fail("--mesh is for models: an artifact runs on the mesh it was "
                  "compiled for");
    if (donateOption.getNumOccurrences())
      return fail("--donate is for models: an artifact's donated inputs were "
                  "chosen when it was compiled");
    if (shardOption.getNumOccurrences() || strategyOption.getNumOccurrences() ||
        linkBandwidthOption.getNumOccurrences())
      return fail("--shard, --strategy and --link-bandwidth are for models: "
                  "an artifact runs as it was partitioned when compiled");
  }
  if (verifyOption.getNumOccurrences() &&
      !::llmc::runtime::looksLikeArtifact(modelPath))
    return fail("--verify is for artifacts: a model compiled here needs no "
                "signature");
  if (runCommand && ::llmc::runtime::looksLikeArtifact(modelPath))
    return runArtifact(modelPath);
  // A CUDA run, and any bench of a model, compile to a temporary artifact
  // that the runtime then runs.
  if (runCommand && target != "cpu")
    return withTemporaryArtifact(runArtifact);
  if (benchCommand) {
    if (::llmc::runtime::looksLikeArtifact(modelPath))
      return benchArtifact(modelPath);
    return withTemporaryArtifact(benchArtifact);
  }
  if (explainCommand)
    return explainModel();
  if (runCommand)
    return runOrCompile(true);
  if (compileCommand) {
    // The key is read first: a bad one fails before the compile's work.
    std::string key, error;
    if (!signOption.empty() &&
        !::llmc::runtime::readSigningKey(signOption, key, error))
      return fail(error);
    if (!signOption.empty() && (!emit.empty() || !compileTo.empty()))
      return fail("--sign signs an artifact: no --emit or --compile-to");
    if (int rc = runOrCompile(false))
      return rc;
    if (!key.empty() &&
        !::llmc::runtime::signArtifact(outputFile, key, error)) {
      std::remove(outputFile.c_str());
      return fail(error);
    }
    return 0;
  }
  return fail("give a command: compile, run, bench or explain (see llmc --help)");
}
