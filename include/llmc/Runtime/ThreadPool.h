//===- ThreadPool.h - The runtime's persistent worker threads --*- C++ -*-===//
//
// Part of the runtime (no MLIR). One process-wide pool of worker threads
// that the CPU kernels split their work over. Workers are created once and
// spin briefly before sleeping, so back-to-back kernels of one model do not
// pay a thread start or a wake-up each. The BLAS runs single-threaded inside
// each piece: only this pool decides how many cores a kernel uses.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_THREADPOOL_H
#define LLMC_RUNTIME_THREADPOOL_H

#include <cstdint>
#include <functional>

namespace llmc::runtime {
/// Threads the kernels use, the caller included: $LLMC_NUM_THREADS when set
/// to a positive number, otherwise std::thread::hardware_concurrency().
int64_t threadCount();

/// Runs body(begin, end) over [0, count) in at most threadCount() pieces of
/// equal size, on the pool and the calling thread, and returns when all are
/// done. Runs on the calling thread alone when count * workPerItem is below
/// `minWork`, when called from inside another parallelFor, or when another
/// thread is using the pool.
void parallelFor(int64_t count, int64_t workPerItem,
                 const std::function<void(int64_t, int64_t)> &body,
                 int64_t minWork = 1 << 16);
/// Whether parallelFor on the calling thread may use the pool (default
/// true). A mesh of CPU devices with at least as many devices as threads
/// turns it off on each device's thread: the devices already occupy the
/// cores, and a pool shared between them would only oversubscribe them.
void setThreadUsesPool(bool uses);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_THREADPOOL_H
