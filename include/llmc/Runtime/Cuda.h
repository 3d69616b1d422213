//===- Cuda.h - Running a CUDA program (no MLIR, no CUDA link) -*- C++ -*-===//
//
// Part of the runtime. The CUDA driver (libcuda.so.1) and cuBLASLt are
// opened at run time with dlopen, never linked: llmc and llmc-run build,
// load and run CPU artifacts on machines without a driver, and say
// `no CUDA device` in one line when asked for CUDA there.
//
// One executable owns, on one device: the loaded module (the cubin when it
// was built for the device's architecture, the PTX otherwise), one stream,
// one arena for every temporary (laid out at compile time), the inputs',
// outputs', weights' and constants' device buffers, and one cuBLASLt
// handle and workspace with each GEMM's algorithm chosen once. A run
// uploads the inputs, enqueues the steps (or replays them as a CUDA graph),
// and downloads the outputs. Every status is checked; an error names the
// step's kernel and ONNX node, and poisons the executable: later runs fail
// at once with the original error.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_CUDA_H
#define LLMC_RUNTIME_CUDA_H

#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/CudaProgram.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llmc::runtime {

/// True when this runtime was built with the CUDA headers (it can run CUDA
/// artifacts where a driver and a device are present).
bool cudaSupportBuilt();

/// Host data the program's Weight buffers are uploaded from.
struct HostBytes {
  const void *data = nullptr;
  size_t bytes = 0;
};

/// One input or output of a run: `bytes` at `data`, in host memory (copied
/// to or from the device) or, with `device`, memory on the executable's
/// device (a CUdeviceptr), used where it is: read in place, written in
/// place when it is an output, updated in place when it is a donated input
/// (whose output is then the same device buffer). Device arguments let a
/// decode loop keep its KV caches on the GPU between steps.
struct CudaArg {
  void *data = nullptr;
  size_t bytes = 0;
  bool device = false;
};

class CudaExecutable {
public:
  /// Opens the driver, picks the device (LLMC_CUDA_DEVICE, default 0),
  /// loads the module and uploads weights and constants. Null with a
  /// one-line `error` ("no CUDA device: ..." where there is none).
  /// `shared`, when given, holds the device copies of weights already
  /// uploaded by executables that live as long as this one (the variants
  /// of one dynamic artifact), by host address: a weight found there is
  /// not uploaded again, and one uploaded is added.
  /// `ordinal` picks the device (-1: LLMC_CUDA_DEVICE, default 0).
  static std::unique_ptr<CudaExecutable>
  create(CudaProgram program, const std::vector<HostBytes> &weights,
         std::string &error,
         std::map<const void *, uint64_t> *shared = nullptr, int ordinal = -1);
  ~CudaExecutable();

  /// Replays the steps as one CUDA graph (captured on the first run).
  void useGraph(bool on) { graph_ = on; }

  /// Runs on host buffers, `inputs` and `outputs` in signature order with
  /// the byte sizes the program's buffers have.
  bool run(const std::vector<HostBytes> &inputs,
           const std::vector<void *> &outputs, std::string &error);
  /// Runs on host or device arguments (see CudaArg), in signature order;
  /// an output that is a donated input (CudaProgram::outputAliases) is
  /// given as that input is: the same device buffer, or host memory it is
  /// copied back to. Each device argument is checked to lie in one
  /// allocation on this executable's device. `producer`, when not 0, is
  /// the stream (a CUstream; 1: the legacy default stream, 2: the
  /// per-thread one, as __cuda_array_interface__ says) whose work so far
  /// the run waits for before reading device inputs. A CUDA graph is
  /// captured again when the device arguments' addresses change.
  bool run(const std::vector<CudaArg> &inputs,
           const std::vector<CudaArg> &outputs, std::string &error,
           uint64_t producer = 0);

  /// Device memory on this executable's device, for arguments that stay
  /// there between runs; freed by `release` before the executable goes.
  /// The copies are synchronous.
  bool allocate(size_t bytes, uint64_t &pointer, std::string &error);
  void release(uint64_t pointer);
  bool copyToDevice(uint64_t to, const void *from, size_t bytes,
                    std::string &error);
  bool copyToHost(void *to, uint64_t from, size_t bytes, std::string &error);
  /// True when [pointer, pointer + bytes) lies in one allocation on this
  /// executable's device; otherwise false with why ("is not CUDA device
  /// memory", "is on CUDA device 1; ...").
  bool checkDevicePointer(uint64_t pointer, size_t bytes, std::string &error);

  /// Runs once timing every step with CUDA events: `stepMs[i]` is step i's
  /// time in milliseconds.
  bool profile(const std::vector<HostBytes> &inputs,
               const std::vector<void *> &outputs, std::vector<double> &stepMs,
               std::string &error);

  const CudaProgram &program() const;
  /// "NVIDIA H100 80GB HBM3 (sm_90)"
  const std::string &deviceName() const;

  struct State;

private:
  friend class CudaMesh;
  CudaExecutable() = default;
  std::unique_ptr<State> state_;
  bool graph_ = false;
};

/// A partitioned program on the GPUs of a mesh, driven by one process: one
/// CudaExecutable per device (each with its own weight parts), a thread
/// per device for each run, and the collectives run by NCCL (opened at run
/// time: LLMC_NCCL, else libnccl.so.2), one communicator per mesh axis and
/// group, enqueued on each device's stream (and captured in its CUDA graph
/// with useGraph). Devices are ranks of the mesh in row-major order, on CUDA
/// devices 0..N-1 or those LLMC_CUDA_DEVICES lists ("2,3").
///
/// In a job of several processes (mpirun, or torchrun's environment), each
/// process drives one GPU, the device of mesh rank = process rank, on CUDA
/// device LOCAL_RANK (or the LOCAL_RANK-th of LLMC_CUDA_DEVICES). The
/// communicators come from NCCL's own bootstrap: a world communicator
/// (ncclCommInitRankConfig) whose unique id rank 0 makes and MPI shares
/// (mpirun) or that NCCL_COMM_ID names (torchrun: MASTER_ADDR and
/// MASTER_PORT + 1 unless NCCL_COMM_ID is set), then ncclCommSplit into the
/// axes' groups. They are made by the first run, which waits for every
/// process at most the timeout.
///
/// A collective that does not complete never hangs a run: when no device
/// makes progress for the timeout (a peer failed, or never arrived), every
/// communicator is aborted and the run fails with one line naming the
/// collective, its mesh axis and its step; the mesh is unusable afterwards.
class CudaMesh {
public:
  /// `weights[rank]`: device `rank`'s weights (its parts of the split
  /// ones; with `process`, only that process's rank is read). Null with a
  /// one-line `error` (too few devices, no NCCL...).
  static std::unique_ptr<CudaMesh>
  create(const CudaProgram &program, const MeshShape &mesh,
         const std::vector<std::vector<HostBytes>> &weights,
         std::string &error, const ProcessLaunch *process = nullptr);
  ~CudaMesh();

  void useGraph(bool on);
  /// Seconds without progress before a run is stopped (default 60).
  void setTimeout(double seconds) { timeout_ = seconds; }
  /// Runs every device on its own inputs and outputs (`inputs[rank]`,
  /// `outputs[rank]`, as CudaExecutable::run takes them).
  bool run(const std::vector<std::vector<HostBytes>> &inputs,
           const std::vector<std::vector<void *>> &outputs, std::string &error);
  /// The devices this process drives (all of the mesh's, or its one).
  int64_t numDevices() const;
  CudaExecutable &device(int64_t i);
  /// The mesh rank of this process's device `i`.
  int64_t rankOf(int64_t i) const;
  /// In a job of several processes: every process passes `bytes` bytes at
  /// `part`; rank 0 receives them all at `all`, rank r's at r * bytes (NCCL
  /// over the world communicator, bounded by the timeout). False with a
  /// one-line `error`.
  bool gatherAtRoot(const void *part, size_t bytes, void *all,
                    std::string &error);

  struct Impl;

private:
  CudaMesh() = default;
  /// In a job of several processes: makes the communicators once (every
  /// process must come within the timeout). True at once otherwise.
  bool connect(std::string &error);
  std::unique_ptr<Impl> impl_;
  double timeout_ = 60;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_CUDA_H
