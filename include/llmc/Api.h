//===- Api.h - llmc's embedding API, free of MLIR types --------*- C++ -*-===//
//
// What a host program (the Python bindings, first of all) needs from the
// compiler, in plain C++ types: compile an ONNX model or a graph built op by
// op into an artifact, run a pass pipeline on MLIR text, list the passes.
// Nothing here throws: every call reports failure through an `Error`, the
// first diagnostic of the failing step as one line plus the node it names.
// This header includes no MLIR or LLVM header, so a translation unit built
// with exceptions and RTTI (the pybind11 module) can include it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_API_H
#define LLMC_API_H

#include "llmc/Runtime/Tensor.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmc::api {

/// A compile error: `message` is the line the `llmc` command would print
/// after "error: " (it names the file and node); `node` is the ONNX node
/// name (or the module path of a captured call) when the error has one.
struct Error {
  std::string message;
  std::string node;
};

struct CompileOptions {
  /// "cpu", "cuda" (sm_90) or "cuda:sm_80|sm_86|sm_89|sm_90"; a CUDA
  /// artifact loads only where there is a CUDA device.
  std::string target = "cpu";
  /// Tensors whose shapes (and, for shape inputs, data) specialise the
  /// model's symbolic dims, by name or in graph order when unnamed.
  std::vector<runtime::HostTensor> exampleInputs;
  /// Fuse memory-bound ops into kernels (llmc-fuse); off gives one loop
  /// nest per op, the reference the fused code is tested against.
  bool fusion = true;
  /// CUDA only: f32 GEMMs and convolutions may use TF32 tensor cores.
  bool tf32 = false;
  /// A device mesh ("tp=2", "dp=2,tp=4"; empty: one device): the program
  /// is partitioned over it (CPU devices, one thread each).
  std::string mesh;
  /// With a mesh: dp, megatron, megatron-sp, experts, auto or none.
  std::string strategy = "auto";
  /// With a mesh: pins NAME=AXIS,-,... by input or weight name.
  std::vector<std::string> shards;
  /// With a mesh: link bandwidth in bytes/s per direction (cost model).
  double linkBandwidth = 450e9;
  /// Inputs the caller donates, by name: updated in place, each returned in
  /// the output computed from it in place (CPU, one device).
  std::vector<std::string> donate;
  /// Dims that vary between runs: "batch=1..64,seq=1..512" (see
  /// llmc/Dynamic.h): the artifact holds the variants the compiler chose
  /// and runs every size in the ranges. ONNX models, without example inputs.
  std::string dynamic;
};

/// Compiles a serialized ONNX ModelProto into a CPU artifact at
/// `artifactPath`. `modelPath` names the model in messages and is where
/// external data is looked up (may be empty for in-memory models).
bool compileOnnx(const std::string &modelBytes, const std::string &modelPath,
                 const CompileOptions &options, const std::string &artifactPath,
                 Error &error);

/// Builds a graph-dialect function op by op (what the torch.fx capture
/// drives), then compiles it like an imported ONNX model. Values are
/// numbered in creation order from 0.
class GraphBuilder {
public:
  /// `name` names the model in messages.
  explicit GraphBuilder(const std::string &name);
  ~GraphBuilder();
  GraphBuilder(const GraphBuilder &) = delete;
  GraphBuilder &operator=(const GraphBuilder &) = delete;

  /// A graph input; -1 and `error` on failure.
  int input(const std::string &name, runtime::DType dtype,
            const std::vector<int64_t> &shape, Error &error);
  /// A constant (a weight): its data is copied once into a resource blob.
  int constant(const std::string &name, const runtime::DType dtype,
               const std::vector<int64_t> &shape, const void *data,
               size_t bytes, Error &error);
  /// Appends op `opName` (e.g. "graph.conv") on `operands`, with attributes
  /// in MLIR syntax ({"perm", "array<i64: 1, 0>"}) and result types in MLIR
  /// syntax, or none to let the op infer them. `location` names the call
  /// (the module path) in diagnostics. Returns the result value numbers;
  /// empty with `error` when the op is unknown, an attribute does not parse
  /// or the op does not verify.
  std::vector<int>
  op(const std::string &opName, const std::vector<int> &operands,
     const std::vector<std::pair<std::string, std::string>> &attributes,
     const std::vector<std::string> &resultTypes, const std::string &location,
     Error &error);
  /// Marks `value` as the next graph output, named `name`.
  bool output(const std::string &name, int value, Error &error);

  /// Shape and element type of a value.
  std::vector<int64_t> shape(int value) const;
  bool dtype(int value, runtime::DType &dtype) const;
  /// The function built so far, as MLIR text.
  std::string mlir() const;

  /// Whether this graph (a model at size `size` of some dims) run on
  /// inputs zero-padded at the end of dims `inputDims` (input number, axis)
  /// from `smallerSize` gives, in the kept part of every output, what
  /// `smaller` (the same model captured at `smallerSize`) gives (see
  /// llmc/Dynamic.h's provePadding). 1 with each output's dims' scales (0:
  /// not padded), 0 with `why` when padding is not proven, -1 with `error`
  /// when the graphs cannot be analysed. Both builders are finished (their
  /// outputs set); this one can still be compiled.
  int provePadding(GraphBuilder &smaller,
                   const std::vector<std::pair<unsigned, unsigned>> &inputDims,
                   int64_t size, int64_t smallerSize,
                   std::vector<std::vector<int64_t>> &outputScales,
                   std::string &why, Error &error);

  /// Compiles the graph (outputs must be set) into a CPU artifact.
  bool compile(const CompileOptions &options, const std::string &artifactPath,
               Error &error);

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Parses `mlirText`, runs `pipeline` (textual, e.g.
/// "builtin.module(canonicalize)") on it and prints the result into
/// `result`. On failure returns false with every diagnostic, one per line,
/// in `diagnostics`.
bool runPipeline(const std::string &mlirText, const std::string &pipeline,
                 std::string &result, std::string &diagnostics);

/// Every registered pass and pass pipeline: (argument, summary).
std::vector<std::pair<std::string, std::string>> registeredPasses();

} // namespace llmc::api

#endif // LLMC_API_H
