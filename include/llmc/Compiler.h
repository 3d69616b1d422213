//===- Compiler.h - The llmc compiler driver API ---------------*- C++ -*-===//

#ifndef LLMC_COMPILER_H
#define LLMC_COMPILER_H

#include "llmc/Codegen/Passes.h"
#include "llmc/Explain.h"
#include "llmc/Runtime/CudaProgram.h"
#include "llmc/Runtime/Tensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

#include <memory>
#include <string>
#include <vector>

namespace llmc::runtime {
struct ArtifactContents;
} // namespace llmc::runtime

namespace mlir::llmc {

/// Name and type of one input or output of a model's @main.
struct TensorSignature {
  std::string name;
  RankedTensorType type;
  /// An input whose values index a dim (see recordIndexRanges): every value
  /// must lie in [indexMin, indexMax] (unchecked when indexMax < indexMin);
  /// `indexNode` names the node that indexes with it.
  int64_t indexMin = 0, indexMax = -1;
  std::string indexNode;
};
struct ModelSignature {
  std::vector<TensorSignature> inputs, outputs;
  /// Weights passed in after the inputs (see llmc-outline-weights), in
  /// argument order; each holds its data as a resource blob.
  std::vector<DenseResourceElementsAttr> weights;
  /// A partitioned program's mesh (llmc-partition; empty for one device),
  /// and the mesh axis splitting each dim of every input, weight and output
  /// (-1: whole). The program takes and returns local parts: the runtime
  /// cuts inputs and weights, and reassembles outputs, by these.
  std::vector<std::string> meshAxisNames;
  std::vector<int64_t> meshAxisSizes;
  std::vector<std::vector<int>> inputAxes, weightAxes, outputAxes;
  bool partitioned() const { return !meshAxisSizes.empty(); }
};

/// Reads @main's signature (names from `llmc.name` attributes). Must be
/// called before bufferization rewrites the function.
FailureOr<ModelSignature> getSignature(ModuleOp module);

/// Records in `sig` the range of every input of @main (as imported) whose
/// values a gather or scatter takes as indices (through reshapes and
/// integer casts): [-n, n-1] for a dim of n, intersected over its users.
/// The runtime refuses values outside it (ONNX leaves them undefined; the
/// compiled code would clamp them, a silent wrong answer).
void recordIndexRanges(ModuleOp module, ModelSignature &sig);

/// Reads a target name into `options.cudaChip`: "cpu" (empty), "cuda"
/// (sm_90) or "cuda:sm_80", "cuda:sm_86", "cuda:sm_89", "cuda:sm_90".
/// False with a one-line `error` for anything else.
bool parseTarget(llvm::StringRef target, PipelineOptions &options,
                 std::string &error);

/// Checks the sharding choices of `options` (a mesh with a CUDA target, a
/// link bandwidth that is not positive, pins holding quotes or braces,
/// which the pass pipeline's syntax cannot carry): false with a one-line
/// `error` (naming the command-line options) otherwise.
bool checkShardingOptions(const PipelineOptions &options, std::string &error);

/// Marks the inputs of @main that `options.donate` names as donated
/// (kDonatedAttr). Fails with one error line when a name is no input of
/// the model, or the target is CUDA or a mesh (not supported there yet).
LogicalResult markDonatedInputs(ModuleOp module, const PipelineOptions &options);

/// Per output of @main as `signature` lists them: the donated input that
/// llmc-alias-donated-results made it (updated in place), or -1. All -1
/// before the bufferized phase or without donated inputs.
std::vector<int> outputAliases(ModuleOp module, const ModelSignature &signature);

/// Lowers `module` through the phases from `first` up to and including
/// `last` of the pipeline `options` selects (CPU or CUDA), honouring MLIR's
/// pass-manager command-line options (--mlir-print-ir-after-all,
/// --mlir-timing).
LogicalResult lower(ModuleOp module, Phase first, Phase last,
                    const PipelineOptions &options = {});

/// The PTX of a module lowered through the CUDA pipeline's last phase (the
/// text of its one gpu.binary); failure after an error if there is none.
FailureOr<std::string> getPtx(ModuleOp module);

/// Moves the `llmc.weight` attributes of @main's arguments (after the graph
/// phase) into `signature.weights`, and reads a partitioned program's mesh
/// and shardings into `signature`.
LogicalResult takeWeights(ModuleOp module, ModelSignature &signature);

/// JIT-compiles an LLVM-dialect module and runs @main on `inputs`, given in
/// signature order; returns the outputs in signature order. A partitioned
/// program runs on the signature's mesh of CPU devices (one thread each,
/// collectives in shared memory, `collectiveTimeout` seconds before a
/// collective gives up).
FailureOr<std::vector<::llmc::runtime::HostTensor>>
runWithJit(ModuleOp module, const ModelSignature &signature,
           const std::vector<::llmc::runtime::HostTensor> &inputs,
           double collectiveTimeout = 60);

/// `llmc explain` for the target `options` selects, of a module after the
/// graph phase.
ModelReport explainReport(ModuleOp module, const PipelineOptions &options = {});
/// The same as `llmc explain --format json` prints: what an artifact
/// carries as its report.
std::string explainJson(ModuleOp module, const PipelineOptions &options = {});

/// Compiles an LLVM-dialect module into a CPU artifact at `path`: native
/// code as a shared object, the signature, the weights, and `report` (see
/// explainJson).
LogicalResult writeCpuArtifact(ModuleOp module, const ModelSignature &signature,
                               llvm::StringRef report, llvm::StringRef path);

/// The signature (inputs, outputs) and weights of an artifact, from `sig`.
LogicalResult describeSignature(ModuleOp module, const ModelSignature &sig,
                                ::llmc::runtime::ArtifactContents &contents);

/// The CUDA program of a module lowered through the CUDA pipeline's last
/// phase: its PTX, ptxas's cubin when ptxas is installed, the buffers (the
/// temporaries laid out in one arena by liveness) and the steps in stream
/// order. Fails after an error when the host code holds anything but
/// buffers, views, kernel launches and library GEMMs, or ptxas rejects the
/// PTX.
FailureOr<::llmc::runtime::CudaProgram>
buildCudaProgram(ModuleOp module, const ModelSignature &sig,
                 const PipelineOptions &options);

/// The library calls of `program` that run a kernel of the fusion plan as
/// their epilogue (for foldLibraryEpilogues).
std::vector<LibraryEpilogue>
libraryEpilogues(const ::llmc::runtime::CudaProgram &program);

/// Writes the CUDA artifact (target "cuda-<chip>", `options.cudaChip`) of a
/// module lowered through the CUDA pipeline; `report` (explainReport of the
/// module after the graph phase) is carried with the kernels that became
/// library epilogues folded in.
LogicalResult writeCudaArtifact(ModuleOp module, const ModelSignature &sig,
                                const PipelineOptions &options,
                                ModelReport report, llvm::StringRef path);

/// The element type of a runtime dtype, and back.
Type elementTypeOf(MLIRContext &context, ::llmc::runtime::DType dtype);
FailureOr<::llmc::runtime::DType> dtypeOf(Type elementType);

/// Lowers an imported (or built) graph-dialect module all the way and
/// writes the artifact at `path` for the target `options` selects (CPU or
/// CUDA): what `llmc compile` does after import.
LogicalResult compileToArtifact(ModuleOp module, llvm::StringRef path,
                                const PipelineOptions &options = {});

/// Reports the first error as one line `error: FILE: node 'NAME': message`
/// (or `error: LOCATION: message` for .mlir input) on stderr, or, when
/// constructed with print = false, only keeps it for the caller.
class OneLineDiagnosticHandler : public ScopedDiagnosticHandler {
public:
  explicit OneLineDiagnosticHandler(MLIRContext *context, bool print = true);
  /// True once an error has been reported.
  bool hadError() const { return errorSeen; }
  /// The first error's line without the "error: " prefix, and the node
  /// (NameLoc) it names, if any.
  const std::string &firstError() const { return first; }
  const std::string &firstNode() const { return node; }

private:
  bool errorSeen = false;
  std::string first, node;
};

} // namespace mlir::llmc

#endif // LLMC_COMPILER_H
