//===- Artifact.h - llmc artifacts: writing, loading, running --*- C++ -*-===//
//
// Part of the runtime (no MLIR or LLVM). An artifact (.llmcx) is
//
//   header (64 bytes): magic "LLMCX\0\r\n", u32 format version, u32 flags
//                      (bit 0: signed), u64 payload size, u64 FNV-1a
//                      checksum of the payload, then 32 bytes: zero, or
//                      the signature, HMAC-SHA256 under the signer's key
//                      of the header's first 32 bytes and the payload
//   payload:           a FlatBuffer (runtime/Artifact.fbs): target, I/O
//                      signature, weights (64-byte aligned, used in place
//                      from the mapped file) and the compiled shared object.
//
// The loader checks size, magic, version, checksum, the FlatBuffer's
// structure and the target before it trusts anything in the file.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_ARTIFACT_H
#define LLMC_RUNTIME_ARTIFACT_H

#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/CudaProgram.h"
#include "llmc/Runtime/Tensor.h"

#include <cstdint>
#include <map>
#include <tuple>
#include <memory>
#include <string>
#include <vector>

namespace llmc::runtime {

constexpr char kArtifactMagic[8] = {'L', 'L', 'M', 'C', 'X', '\0', '\r', '\n'};
/// The format written; versions from kOldestArtifactVersion on are read
/// (2 added GEMM epilogues, 3 convolution epilogues, 4 meshes, 5 donated
/// inputs, 6 dynamic dims, 7 CUDA collectives).
constexpr uint32_t kArtifactVersion = 7;
constexpr uint32_t kOldestArtifactVersion = 1;
constexpr size_t kArtifactHeaderSize = 64;
/// The CPU target; CUDA targets are "cuda-sm_XX".
constexpr const char *kCpuTarget = "cpu-x86_64";
class CudaExecutable;
class CudaMesh;

/// Name, element type and shape of an input or output.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// With a mesh: per dim, the mesh axis that splits it (-1: whole); empty:
  /// whole on every device.
  std::vector<int> shardAxes;
  /// Outputs only: the input (donated, `--donate`) this output is: the code
  /// updates that input's buffer in place and the output is read from it.
  /// -1: the output has a buffer of its own.
  int aliasOf = -1;
  /// A dynamic artifact's outputs: per dim, the constant part of a dynamic
  /// (-1) dim: its size is this plus the sizes of the dims that have it
  /// among their outputs, each times its scale (a KV cache's `past + 1`).
  std::vector<int64_t> dimOffsets;
  /// Inputs whose values index a dim (a gather's indices): every value must
  /// lie in [indexMin, indexMax], which run() checks; `indexNode` names the
  /// node. Unchecked when indexMax < indexMin.
  int64_t indexMin = 0, indexMax = -1;
  std::string indexNode;
};

/// False with a one-line `error` (naming `path`, the input, the value and
/// the node) when the integer tensor `data` of spec `s` holds a value
/// outside [s.indexMin, s.indexMax].
bool checkIndexValues(const std::string &path, const TensorSpec &s,
                      const void *data, size_t bytes, std::string &error);

/// A host tensor of `s`'s name, dtype and shape, zeroed.
HostTensor zeroTensor(const TensorSpec &s);

/// A dense C-order tensor owned by the caller: what run() reads and writes
/// in place. The compiled code assumes only the element type's alignment.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
  size_t bytes = 0;
  /// `data` is memory on the CUDA device a CUDA artifact for one device
  /// runs on (see CudaArg): used there, never copied. Refused elsewhere.
  bool device = false;
};

/// A dim that varies between runs of a dynamic artifact (`--dynamic`): its
/// dims in the signature are -1; every size in [min, max] runs.
struct DynamicDim {
  std::string name;
  int64_t min = 1, max = 1;
  /// Sizes between two variants run on the larger one, inputs padded with
  /// zeros and outputs cut back (the compiler proved that padding cannot
  /// reach the kept part); otherwise each size has a variant of its own.
  bool padded = false;
  /// Dim `axis` of input `tensor` is the dim's size times `scale`; of an
  /// output, one term of its size (see TensorSpec::dimOffsets).
  struct Ref {
    int tensor = 0, axis = 0;
    int64_t scale = 1;
  };
  std::vector<Ref> inputs, outputs;
  /// Why the dim is exact (what padding would change), for describe.
  std::string why;
};

/// What the compiler hands the writer.
struct ArtifactContents {
  std::string target = kCpuTarget;
  std::string entry = "llmc_entry";
  std::vector<TensorSpec> inputs, outputs;
  struct Weight {
    DType dtype;
    std::vector<int64_t> shape;
    const char *data;
    size_t size;
    std::vector<int> shardAxes;
  };
  std::vector<Weight> weights;
  /// A partitioned program's mesh (empty: one device).
  std::vector<std::string> meshAxisNames;
  std::vector<int64_t> meshAxisSizes;
  std::string sharedObject;
  /// The CUDA program, for a CUDA target (then there is no shared object).
  const CudaProgram *cuda = nullptr;
  /// What the compiler decided, kernel by kernel (`llmc explain`'s JSON).
  std::string report;
};

/// Writes an artifact; false with a one-line `error` on failure.
bool writeArtifact(const std::string &path, const ArtifactContents &contents,
                   std::string &error);

/// Writes the dynamic artifact of `variants` (artifacts of one model at
/// static shapes, one per combination of the dims' sizes, for one device
/// and without donated inputs): the signature `inputs` and `outputs` with
/// -1 at the dims of `dynamic`, every variant's weights stored once, and
/// `report`. False with a one-line `error` on failure.
bool writeDynamicArtifact(const std::string &path,
                          const std::vector<std::string> &variants,
                          const std::vector<TensorSpec> &inputs,
                          const std::vector<TensorSpec> &outputs,
                          const std::vector<DynamicDim> &dynamic,
                          const std::string &report, std::string &error);

/// The least bytes a signing key may have.
constexpr size_t kMinSigningKeyBytes = 16;

/// Reads a signing key: the bytes of the file at `path` (at least
/// kMinSigningKeyBytes, at most 1 MiB). False with a one-line `error`.
bool readSigningKey(const std::string &path, std::string &key,
                    std::string &error);

/// Signs the artifact at `path` in place (`llmc compile --sign`): sets the
/// header's signed flag and writes the HMAC-SHA256 of its first 32 bytes
/// and its payload under `key`. A checksum detects damage; a signature
/// detects tampering by anyone without the key. False with `error`.
bool signArtifact(const std::string &path, const std::string &key,
                  std::string &error);

/// True when the file starts with the artifact magic.
bool looksLikeArtifact(const std::string &path);

/// A verified artifact's summary, without loading its code or touching a
/// device: target, signature, and for CUDA the arena and every step. False
/// with a one-line `error` on failure.
bool describeArtifact(const std::string &path, std::string &text,
                      std::string &error);

/// A loaded, verified artifact, ready to run.
class Artifact {
public:
  /// Loads and verifies `path`; null with a one-line `error` on failure
  /// (for a CUDA artifact, "no CUDA device" where there is none).
  /// `displayName` replaces the path in messages when given. `processes`
  /// is this process's place in a job an MPI launcher started (llmc-run
  /// passes processLaunch()): a mesh artifact then needs as many devices as
  /// the job has processes, and with more than one this process is device
  /// `processes.rank` alone: it cuts only its own weight parts, and run()
  /// exchanges the collectives through MPI (startMpi must have succeeded)
  /// and fills the outputs on rank 0 only. An artifact for one device is
  /// refused in a job of several.
  /// With `verifyKey` (`llmc-run --verify KEYFILE`), the artifact must be
  /// signed with that key: an unsigned one, or one whose signature does not
  /// match, is refused before anything in it is read.
  static std::unique_ptr<Artifact> load(const std::string &path,
                                        std::string &error,
                                        const std::string &displayName = "",
                                        const ProcessLaunch &processes = {},
                                        const std::string &verifyKey = "");
  ~Artifact();

  /// The signature; in a dynamic artifact a dynamic dim is -1.
  const std::vector<TensorSpec> &inputs() const { return inputs_; }
  const std::vector<TensorSpec> &outputs() const { return outputs_; }
  /// A dynamic artifact's dims (empty for static shapes).
  const std::vector<DynamicDim> &dynamicDims() const { return dynamic_; }
  /// The outputs' specs for inputs of `shapes` (signature order): each
  /// checked against the signature and, in a dynamic artifact, the dims'
  /// ranges (a size out of range is named with its input and range). False
  /// with a one-line `error` otherwise.
  bool outputSpecs(const std::vector<std::vector<int64_t>> &shapes,
                   std::vector<TensorSpec> &outputs, std::string &error) const;
  /// The number of variants of a dynamic artifact (0 for static shapes),
  /// and the sizes of the dynamic dims variant `i` was compiled for.
  size_t numVariants() const { return variants_.size(); }
  std::vector<int64_t> variantSizes(size_t i) const { return variantSizes_[i]; }
  /// The compile report (`llmc explain --format json`), or empty.
  const std::string &report() const { return report_; }
  /// "cpu-x86_64" or "cuda-sm_XX".
  const std::string &target() const { return target_; }
  /// A partitioned program's mesh: axis names and sizes (empty: one device).
  const std::vector<std::string> &meshAxisNames() const { return meshNames_; }
  const std::vector<int64_t> &meshAxisSizes() const { return meshSizes_; }
  /// How long a collective waits for its peers (default 60 s).
  void setCollectiveTimeout(double seconds) {
    collectiveTimeout_ = seconds;
    for (const std::unique_ptr<Artifact> &v : variants_)
      v->setCollectiveTimeout(seconds);
  }
  /// The CUDA executable of a CUDA artifact for one device; null for the
  /// CPU and for a mesh (see cudaMesh).
  CudaExecutable *cuda() const { return cuda_.get(); }
  /// A CUDA artifact's mesh of GPUs; null for one device.
  CudaMesh *cudaMesh() const { return cudaMesh_.get(); }
  /// Replays a CUDA artifact's steps as CUDA graphs (see
  /// CudaExecutable::useGraph), on every device; nothing for the CPU.
  void useCudaGraph(bool on);

  bool run(const std::vector<HostTensor> &inputs,
           std::vector<HostTensor> &outputs, std::string &error) const;
  /// Runs on `inputs` (in signature order, checked against it); false with
  /// a one-line `error` on failure. A donated input is copied into the
  /// output it becomes (the caller's `inputs` are never written).
  /// Runs on the caller's buffers without copying: `inputs` and `outputs`
  /// in signature order, each checked against the signature (dtype, shape
  /// and size) before the code runs. An output that aliases a donated input
  /// (TensorSpec::aliasOf) must be given that input's buffer: the code
  /// updates it in place.
  /// Device views (TensorView::device): see CudaExecutable::run; the run
  /// first waits for the work on `producer` (the stream that wrote them; 0:
  /// none).
  bool run(const std::vector<TensorView> &inputs,
           const std::vector<TensorView> &outputs, std::string &error,
           uint64_t producer = 0) const;
  /// CUDA artifacts: runs once on `inputs` timing every step of the
  /// program with CUDA events (`stepMs[i]`: step i, in milliseconds; see
  /// formatProfile). False with a one-line `error` on failure.
  bool profile(const std::vector<HostTensor> &inputs,
               std::vector<double> &stepMs, std::string &error) const;

private:
  /// load and run, their errors as they come (load and run make them one
  /// line).
  static std::unique_ptr<Artifact>
  loadRaw(const std::string &path, std::string &error,
          const std::string &displayName, const ProcessLaunch &processes,
          const std::string &verifyKey);
  bool runRaw(const std::vector<TensorView> &inputs,
              const std::vector<TensorView> &outputs, std::string &error,
              uint64_t producer) const;
  /// True when every output that is a donated input is given that input's
  /// buffer, which no other input overlaps; else false with `error`.
  bool checkDonated(const std::vector<TensorView> &inputs,
                    const std::vector<TensorView> &outputs,
                    std::string &error) const;
  /// True when `given` matches `specs` (count, dtype, shape, bytes);
  /// otherwise false with a one-line `error` naming the `what` that differs.
  bool checkViews(const std::vector<TensorView> &given,
                  const std::vector<TensorSpec> &specs, const char *what,
                  std::string &error) const;
  /// Views of `inputs`, and zeroed `outputs` of the signature's types (or
  /// of `specs`: a dynamic artifact's for these inputs) with their views.
  void viewsOf(const std::vector<HostTensor> &inputs,
               std::vector<TensorView> &in, std::vector<HostTensor> &outputs,
               std::vector<TensorView> &out,
               const std::vector<TensorSpec> *specs = nullptr) const;

  Artifact() = default;
  /// Reads executable `exe` (an fb::Executable) into `a`, its weights
  /// being `weights` (fb::Weight pointers), and loads its code.
  static bool loadExecutable(const std::string &path, const void *exe,
                             const std::vector<const void *> &weights,
                             const ProcessLaunch &processes, Artifact &a,
                             std::string &error,
                             std::map<const void *, uint64_t> *sharedWeights =
                                 nullptr);
  /// Reads the variants and dims of dynamic executable `exe` into `a`.
  static std::unique_ptr<Artifact>
  loadDynamic(const std::string &path, const void *exe,
              const std::vector<const void *> &weights,
              const ProcessLaunch &processes, std::unique_ptr<Artifact> a,
              std::string &error);
  /// A dynamic artifact: the sizes of its dims in `shapes` (checked as
  /// outputSpecs does), and the variant that runs them.
  bool pickVariant(const std::vector<std::vector<int64_t>> &shapes,
                   std::vector<int64_t> &sizes, size_t &variant,
                   std::string &error) const;
  /// Runs a dynamic artifact on the variant for the inputs' sizes.
  bool runDynamic(const std::vector<TensorView> &inputs,
                  const std::vector<TensorView> &outputs,
                  std::string &error) const;
  /// A dynamic CUDA artifact's weights on the device, by host address,
  /// shared by its variants (see CudaExecutable::create).
  std::map<const void *, uint64_t> deviceWeightCopies_;
  std::vector<std::unique_ptr<Artifact>> variants_;
  std::vector<std::vector<int64_t>> variantSizes_;
  std::vector<DynamicDim> dynamic_;
  std::string path_, target_;
  std::unique_ptr<CudaExecutable> cuda_;
  std::unique_ptr<CudaMesh> cudaMesh_;
  /// Runs a partitioned CUDA program on its mesh of GPUs.
  bool runCudaMesh(const std::vector<TensorView> &inputs,
                   const std::vector<TensorView> &outputs,
                   std::string &error) const;
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  void *library_ = nullptr;
  int codeFd_ = -1; // the memfd the code was loaded from

  void (*entry_)(void **) = nullptr;
  std::vector<TensorSpec> inputs_, outputs_;
  std::string report_;
  struct WeightView {
    std::vector<int64_t> shape;
    const void *data;
    DType dtype = DType::F32;
    std::vector<int> shardAxes;
  };
  std::vector<WeightView> weights_;
  /// Reads and checks the mesh of `executable` (an fb::Executable) into `a`,
  /// checks it against `processes` (see load) and cuts the parts of the
  /// split weights of each device this process runs.
  static bool readMesh(const std::string &path, const void *executable,
                       const ProcessLaunch &processes, Artifact &a,
                       std::string &error);
  /// Runs a partitioned program: each device's parts in, its parts out.
  bool runMesh(const std::vector<TensorView> &inputs,
               const std::vector<TensorView> &outputs,
               std::string &error) const;
  std::vector<std::string> meshNames_;
  std::vector<int64_t> meshSizes_;
  /// Per device, its parts of the split weights (loaded once), in the order
  /// of weights_ (empty for a weight every device holds whole; in a job of
  /// several processes, for every device but this process's).
  using WeightPart = std::shared_ptr<const std::vector<char>>;
  std::vector<std::vector<WeightPart>> deviceWeights_;
  /// The parts cut so far by the variants of one dynamic artifact, by
  /// (weight, split, mesh, device): variants that split a weight alike
  /// share its parts.
  using PartKey = std::tuple<const void *, std::vector<int>,
                             std::vector<int64_t>, int64_t>;
  std::shared_ptr<std::map<PartKey, WeightPart>> partCache_;
  /// In a job of several processes, the device this process is; else -1.
  int64_t processDevice_ = -1;
  /// How this process's job was started (when it is one of several).
  ProcessLaunch launch_;
  double collectiveTimeout_ = 60;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_ARTIFACT_H
