//===- FakeCuda.h - What the fake CUDA driver shares with its libraries ---===//
//
// The fake driver (libcuda.so.1) owns the one trace file, the device
// allocations, the streams' capture state and the in-flight count; the
// fake cuBLASLt and cuDNN link against it so that their calls land in the
// same trace, in order, and are checked against the same memory.
//
// Environment:
//   FAKE_CUDA_TRACE=PATH         every call appends one line to PATH
//   FAKE_CUDA_DEVICES=N          N devices (1 to 16; default 1)
//   FAKE_CUDA_REJECT_CUBIN=CODE  ELF images fail to load with CUresult CODE
//   FAKE_CUDA_REJECT_PTX=CODE    PTX text fails to load with CUresult CODE
//   FAKE_CUDNN_FUSED_STATUS=N    cudnnConvolutionBiasActivationForward
//                                returns cudnnStatus_t N
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_FAKE_CUDA_H
#define LLMC_TEST_FAKE_CUDA_H

#include <cuda.h>

#include <cstddef>

#define FAKE_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

/// Appends one line (printf-formatted, without its newline) to the file
/// FAKE_CUDA_TRACE names, under a process-wide lock.
FAKE_CUDA_EXPORT void fakeCudaTrace(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/// True when [p, p + bytes) lies inside one live fake device allocation.
FAKE_CUDA_EXPORT bool fakeCudaIsDeviceRange(const void *p, size_t bytes);

/// Device work enqueued on `stream`: while the stream is captured it
/// becomes a graph node and "captured" is returned; otherwise it "runs"
/// (holding the in-flight count for a moment, so that two runs that
/// interleave leave OVERLAP in the trace) and "eager" is returned.
FAKE_CUDA_EXPORT const char *fakeCudaDeviceWork(CUstream stream,
                                                const char *what);

/// The device whose context `stream` was created in (-1: none).
FAKE_CUDA_EXPORT int fakeCudaStreamDevice(CUstream stream);

/// Queues work on `stream` that never completes: cuStreamQuery and the
/// events recorded after it say CUDA_ERROR_NOT_READY from now on.
FAKE_CUDA_EXPORT void fakeCudaStallStream(CUstream stream);

#endif // LLMC_TEST_FAKE_CUDA_H
