//===- llmc-run.cpp - Run an artifact with the runtime alone --------------===//
//
//   llmc-run OUT.llmcx [NAME=]FILE.npy ... [--output-dir DIR] [--runs N]
//            [--cuda-graph] [--profile] [--donated-on-device]
//   llmc-run OUT.llmcx --describe
//
// Built from runtime/ only: no LLVM, MLIR, protobuf or ONNX. This is how an
// artifact compiled on one machine runs on another (a GPU machine without
// Debian's LLVM). Every error is one line on stderr and exit status 1.
//
// Under `mpirun -np N` each process is one device of the artifact's mesh;
// they agree on every error, which rank 0 alone prints, and rank 0 alone
// writes the outputs. A CUDA mesh also runs under torchrun's environment
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), one process per
// GPU with NCCL's bootstrap. Where the processes cannot agree (torchrun,
// or a CUDA mesh's run), each prints its own error, prefixed with its rank
// after rank 0.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Artifact.h"
#include "llmc/Runtime/Cuda.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h> // mkdir
#include <vector>

using namespace llmc::runtime;

namespace {
/// Whether this process is one of several that mpirun started but not
/// rank 0: every process meets the same errors (they agree on those of a
/// run), so only rank 0 prints them.
bool quietRank = false;
/// "rank R: " for a process after rank 0 whose errors are its own.
std::string rankPrefix;

int fail(const std::string &message) {
  if (!quietRank)
    std::fprintf(stderr, "error: %s%s\n", rankPrefix.c_str(),
                 oneLine(message).c_str());
  return 1;
}

const char *kUsage =
    "usage: llmc-run OUT.llmcx [NAME=]FILE.npy ... [--output-dir DIR] "
    "[--runs N] [--cuda-graph] [--profile] [--collective-timeout S]\n"
    "       [--devices 0,1,...] [--verify KEYFILE] [--donated-on-device]\n"
    "       llmc-run OUT.llmcx --describe\n"
    "--donated-on-device: a CUDA artifact's donated inputs (llmc compile\n"
    "--donate) are uploaded once and stay on the GPU; each of the --runs\n"
    "updates them in place (a decode loop's KV caches) and they come back\n"
    "once, after the last run.\n"
    "An artifact compiled with a device mesh (llmc compile --mesh) runs on\n"
    "that many CPU devices, one thread each, or for --target cuda on that\n"
    "many GPUs (CUDA devices 0..N-1, or those --devices lists) with NCCL;\n"
    "--collective-timeout (default 60 s) bounds how long a collective waits\n"
    "for its peers. Started by\n"
    "`mpirun -np N` (Open MPI 4), each process is one device of a mesh of N\n"
    "and the collectives go through MPI (no timeout: mpirun ends the job\n"
    "when a process dies); rank 0 writes the outputs. A CUDA mesh also runs\n"
    "one process per GPU under mpirun or torchrun (torchrun --no-python\n"
    "--nproc-per-node N llmc-run ...): NCCL's bootstrap, CUDA device\n"
    "LOCAL_RANK (or the LOCAL_RANK-th of --devices), and NCCL_COMM_ID, else\n"
    "MASTER_ADDR:MASTER_PORT+1, for NCCL's root.\n";

/// --donated-on-device: views of the inputs and outputs in which every
/// donated input (and the output it is) lives in device memory, uploaded
/// once; the rest are the host tensors.
struct DonatedOnDevice {
  CudaExecutable *exe = nullptr;
  std::vector<TensorView> in, out;
  std::vector<uint64_t> memory; // per input: its device copy, or 0

  bool start(const Artifact &artifact, const std::string &path,
             std::vector<HostTensor> &inputs, std::vector<HostTensor> &outputs,
             std::string &error) {
    exe = artifact.cuda();
    if (!exe || !artifact.dynamicDims().empty()) {
      error = path + ": --donated-on-device needs a CUDA artifact for one "
                     "device and static shapes; this one is for " +
              artifact.target() +
              (artifact.cudaMesh()                 ? " on a mesh of GPUs"
               : !artifact.dynamicDims().empty() ? " with dynamic dims"
                                                 : "");
      return false;
    }
    const std::vector<TensorSpec> &specs = artifact.outputs();
    if (std::none_of(specs.begin(), specs.end(),
                     [](const TensorSpec &s) { return s.aliasOf >= 0; })) {
      error = path + ": --donated-on-device: the artifact has no donated "
                     "inputs (llmc compile --donate NAME)";
      return false;
    }
    memory.assign(inputs.size(), 0);
    for (const TensorSpec &s : specs)
      if (s.aliasOf >= 0 && static_cast<size_t>(s.aliasOf) < inputs.size())
        memory[s.aliasOf] = 1;
    for (size_t i = 0; i < inputs.size(); ++i) {
      HostTensor &t = inputs[i];
      in.push_back({t.dtype, t.shape, t.data.data(), t.data.size()});
      if (!memory[i])
        continue;
      memory[i] = 0;
      if (!exe->allocate(t.data.size(), memory[i], error) ||
          !exe->copyToDevice(memory[i], t.data.data(), t.data.size(), error)) {
        error = path + ": input '" + t.name + "': " + error;
        return false;
      }
      in.back().data = reinterpret_cast<void *>(memory[i]);
      in.back().device = true;
    }
    outputs.clear();
    for (const TensorSpec &s : specs) {
      outputs.push_back(zeroTensor(s));
      out.push_back(s.aliasOf >= 0 ? in[s.aliasOf]
                                   : TensorView{outputs.back().dtype,
                                                outputs.back().shape,
                                                outputs.back().data.data(),
                                                outputs.back().data.size()});
    }
    return true;
  }
  /// The donated outputs, read back into `outputs`.
  bool finish(std::vector<HostTensor> &outputs, std::string &error) {
    for (size_t j = 0; j < outputs.size(); ++j)
      if (out[j].device &&
          !exe->copyToHost(outputs[j].data.data(),
                           reinterpret_cast<uint64_t>(out[j].data),
                           outputs[j].data.size(), error))
        return false;
    return true;
  }
  ~DonatedOnDevice() {
    for (uint64_t p : memory)
      if (p)
        exe->release(p);
  }
};

} // namespace

int main(int argc, char **argv) {
  ProcessLaunch launch = processLaunch();
  bool several = launch.size > 1;
  bool mpi = several && launch.launcher == "mpirun";
  quietRank = mpi && launch.rank != 0;
  if (several && !mpi && launch.rank != 0)
    rankPrefix = "rank " + std::to_string(launch.rank) + ": ";
  std::string artifactPath, outputDir = ".";
  std::vector<std::string> inputArgs;
  bool describe = false, graph = false, profile = false, onDevice = false;
  long runs = 1;
  double collectiveTimeout = 60;
  // --verify: the key the artifact must be signed with (llmc compile --sign).
  std::string verifyKey;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *flag) -> const char * {
      if (i + 1 >= argc) {
        fail(std::string(flag) + " needs a value");
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--describe") {
      describe = true;
    } else if (a == "--cuda-graph") {
      graph = true;
    } else if (a == "--profile") {
      profile = true;
    } else if (a == "--donated-on-device") {
      onDevice = true;
    } else if (a == "--output-dir") {
      outputDir = value("--output-dir");
    } else if (a == "--runs") {
      char *end = nullptr;
      const char *v = value("--runs");
      runs = std::strtol(v, &end, 10);
      if (*v == '\0' || *end != '\0' || runs < 1)
        return fail("--runs must be a positive number, got '" +
                    std::string(v) + "'");
    } else if (a == "--collective-timeout") {
      char *end = nullptr;
      const char *v = value("--collective-timeout");
      collectiveTimeout = std::strtod(v, &end);
      if (*v == '\0' || *end != '\0' || !(collectiveTimeout > 0))
        return fail("--collective-timeout must be a positive number of "
                    "seconds, got '" + std::string(v) + "'");
    } else if (a == "--verify") {
      std::string why;
      if (!readSigningKey(value("--verify"), verifyKey, why))
        return fail(why);
    } else if (a == "--devices") {
      // Read by the CUDA runtime (CudaMesh), which checks the list.
      setenv("LLMC_CUDA_DEVICES", value("--devices"), 1);
    } else if (a.rfind("--", 0) == 0) {
      return fail("unknown option '" + a + "' (see llmc-run --help)");
    } else if (artifactPath.empty()) {
      artifactPath = a;
    } else {
      inputArgs.push_back(a);
    }
  }
  if (artifactPath.empty())
    return std::fputs(kUsage, stderr), 1;
  std::string error;
  if (describe) {
    std::string text;
    if (!describeArtifact(artifactPath, text, error))
      return fail(error);
    if (launch.rank == 0)
      std::fputs(text.c_str(), stdout);
    return 0;
  }
  // Several processes: MPI first, so that they can agree on what follows.
  if (mpi && !startMpi(error))
    return fail(error);
  std::unique_ptr<Artifact> artifact;
  std::vector<HostTensor> inputs;
  // Loads the artifact and reads the inputs; "" or the first error.
  auto prepare = [&]() -> std::string {
    std::string why;
    artifact = Artifact::load(artifactPath, why, "", launch, verifyKey);
    if (!artifact)
      return why;
    if (profile && !artifact->cuda() && !artifact->cudaMesh())
      return artifactPath +
             std::string(": --profile times the steps of a "
                         "CUDA artifact; this one is for ") +
             artifact->target();
    artifact->useCudaGraph(graph);
    artifact->setCollectiveTimeout(collectiveTimeout);
    // Inputs: NAME=FILE.npy by name, FILE.npy in signature order. Each
    // process reads them whole and cuts its own parts.
    std::vector<std::string> names;
    for (const TensorSpec &spec : artifact->inputs())
      names.push_back(spec.name);
    if (!readInputFiles(inputArgs, inputs, why) ||
        !orderInputs(names, inputs, artifactPath, "artifact", why))
      return why;
    return "";
  };
  error = prepare();
  if (mpi)
    error = agreeAcrossProcesses(error);
  if (!error.empty())
    return fail(error);
  // A CUDA mesh's processes do not agree on the errors of a run (NCCL
  // would wait for a process that already left): each prints its own.
  if (several && artifact->cudaMesh()) {
    quietRank = false;
    if (launch.rank != 0)
      rankPrefix = "rank " + std::to_string(launch.rank) + ": ";
  }

  std::vector<HostTensor> outputs;
  std::vector<double> ms;
  DonatedOnDevice resident;
  if (onDevice && !resident.start(*artifact, artifactPath, inputs, outputs,
                                  error))
    return fail(error);
  for (long r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (onDevice ? !artifact->run(resident.in, resident.out, error)
                 : !artifact->run(inputs, outputs, error))
      return fail(error);
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
  if (onDevice && !resident.finish(outputs, error))
    return fail(error);
  if (runs > 1 && launch.rank == 0) {
    std::sort(ms.begin(), ms.end());
    std::printf("%s: %ld runs: median %.3f ms  min %.3f ms  max %.3f ms\n",
                artifactPath.c_str(), runs, ms[ms.size() / 2], ms.front(),
                ms.back());
  }
  if (profile) {
    std::vector<double> stepMs;
    if (!artifact->profile(inputs, stepMs, error))
      return fail(error);
    std::printf("device: %s\n%s", artifact->cuda()->deviceName().c_str(),
                formatProfile(artifact->cuda()->program(), stepMs, nullptr)
                    .c_str());
  }
  // Under mpirun, rank 0 holds the whole outputs (gathered from every
  // device's parts).
  if (several && launch.rank != 0)
    return 0;
  ::mkdir(outputDir.c_str(), 0777);
  for (const HostTensor &t : outputs) {
    std::string path = outputDir + "/" + outputFileName(t.name) + ".npy";
    if (!writeNpy(path, t, error))
      return fail(error);
  }
  return 0;
}
