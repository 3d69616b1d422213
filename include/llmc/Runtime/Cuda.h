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

class CudaExecutable {
public:
  /// Opens the driver, picks the device (LLMC_CUDA_DEVICE, default 0),
  /// loads the module and uploads weights and constants. Null with a
  /// one-line `error` ("no CUDA device: ..." where there is none).
  /// `shared`, when given, holds the device copies of weights already
  /// uploaded by executables that live as long as this one (the variants
  /// of one dynamic artifact), by host address: a weight found there is
  /// not uploaded again, and one uploaded is added.
  static std::unique_ptr<CudaExecutable>
  create(CudaProgram program, const std::vector<HostBytes> &weights,
         std::string &error,
         std::map<const void *, uint64_t> *shared = nullptr);
  ~CudaExecutable();

  /// Replays the steps as one CUDA graph (captured on the first run).
  void useGraph(bool on) { graph_ = on; }

  /// Runs on host buffers, `inputs` and `outputs` in signature order with
  /// the byte sizes the program's buffers have.
  bool run(const std::vector<HostBytes> &inputs,
           const std::vector<void *> &outputs, std::string &error);

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
  CudaExecutable() = default;
  std::unique_ptr<State> state_;
  bool graph_ = false;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_CUDA_H
