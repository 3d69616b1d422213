//===- ThreadPool.cpp - The runtime's persistent worker threads -----------===//

#include "llmc/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

/// How long a worker busy-waits for the next job before it sleeps. Waking a
/// sleeping thread costs a futex call and, on a virtual machine whose other
/// vCPU went idle, up to milliseconds; a model's kernels come faster than
/// that, so workers spin through the serial code between them and sleep
/// only once the model is done. (The caller waits for stragglers the same
/// way.)
constexpr auto kSpinTime = std::chrono::milliseconds(5);

/// Busy-waits until `ready()` or kSpinTime passed; returns ready().
template <typename Ready>
bool spinUntil(Ready ready) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (unsigned i = 1;; ++i) {
    if (ready())
      return true;
    if (i % 256 == 0 && std::chrono::steady_clock::now() > deadline)
      return ready();
    cpuRelax();
  }
}


/// One parallelFor call: pieces are claimed through `next`.
struct Job {
  const std::function<void(int64_t, int64_t)> *body;
  int64_t count, per, pieces;
  std::atomic<int64_t> next{0}, remaining{0};
  int inside = 0; // workers working on this job, guarded by Pool::mutex

  void work() {
    for (int64_t i; (i = next.fetch_add(1)) < pieces;) {
      int64_t begin = i * per;
      (*body)(begin, std::min(count, begin + per));
      remaining.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

thread_local bool insideParallelFor = false;
/// See setThreadUsesPool.
thread_local bool threadUsesPool = true;

class Pool {
public:
  explicit Pool(int64_t threads) {
    for (int64_t i = 1; i < threads; ++i)
      workers.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
      generation.fetch_add(1);
    }
    wake.notify_all();
    for (std::thread &t : workers)
      t.join();
  }

  /// False when another thread holds the pool (the caller runs serially).
  bool run(Job &job) {
    std::unique_lock<std::mutex> owner(callers, std::try_to_lock);
    if (!owner.owns_lock())
      return false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      current = &job;
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    insideParallelFor = true;
    job.work();
    insideParallelFor = false;
    spinUntil([&] { return job.remaining.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] {
      return job.remaining.load() == 0 && job.inside == 0;
    });
    current = nullptr;
    return true;
  }

private:
  void loop() {
    insideParallelFor = true;
    uint64_t seen = 0;
    for (;;) {
      spinUntil([&] { return generation.load(std::memory_order_acquire) != seen; });
      Job *job;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return generation.load() != seen; });
        if (stop)
          return;
        seen = generation.load();
        job = current;
        if (!job)
          continue;
        ++job->inside;
      }
      job->work();
      {
        std::lock_guard<std::mutex> lock(mutex);
        --job->inside;
      }
      done.notify_all();
    }
  }

  std::vector<std::thread> workers;
  std::mutex mutex, callers;
  std::condition_variable wake, done;
  std::atomic<uint64_t> generation{0};
  Job *current = nullptr;
  bool stop = false;
};

Pool &pool() {
  static Pool instance(llmc::runtime::threadCount());
  return instance;
}
} // namespace

int64_t llmc::runtime::threadCount() {
  static const int64_t count = [] {
    if (const char *env = std::getenv("LLMC_NUM_THREADS")) {
      char *end = nullptr;
      long value = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && value > 0)
        return static_cast<int64_t>(std::min(value, 1024L));
    }
    return std::max<int64_t>(1, std::thread::hardware_concurrency());
  }();
  return count;
}

void llmc::runtime::setThreadUsesPool(bool uses) { threadUsesPool = uses; }

void llmc::runtime::parallelFor(
    int64_t count, int64_t workPerItem,
    const std::function<void(int64_t, int64_t)> &body, int64_t minWork) {
  if (count <= 0)
    return;
  int64_t pieces = std::min(threadCount(), count);
  if (pieces <= 1 || insideParallelFor || !threadUsesPool ||
      count * workPerItem < minWork) {
    body(0, count);
    return;
  }
  Job job;
  job.body = &body;
  job.count = count;
  job.per = (count + pieces - 1) / pieces;
  job.pieces = (count + job.per - 1) / job.per;
  job.remaining = job.pieces;
  if (!pool().run(job))
    body(0, count);
}
