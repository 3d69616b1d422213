//===- CudaFakeDriverTest.cpp - The CUDA runtime on the fake driver -------===//
//
// Runs a CudaExecutable through the fake CUDA driver (test/fake-cuda) and
// reads the calls it recorded. The fake is loaded by path before the
// runtime asks for libcuda.so.1: the loader hands an already loaded
// library back for its soname, so no LD_LIBRARY_PATH is needed (which a
// running process could not change anyway). Skipped where the fake is not
// built (no CUDA headers).
//
// What lit cannot drive through llmc-run is checked here: threads. Python
// calls one executable from several threads with the GIL released.
//
//===----------------------------------------------------------------------===//

#include "FakeCudaSupport.h"
#include "llmc/Runtime/Cuda.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

using namespace llmc::runtime;

using namespace llmc::testing;

namespace {
/// 256 floats in, 256 out: a kernel, a memset of the arena, a kernel.
CudaProgram program() {
  CudaProgram p;
  p.chip = "sm_90";
  p.ptx = ".version 8.0\n.target sm_90\n.address_size 64\n"
          ".visible .entry fake_kernel(.param .u64 a, .param .u64 b)\n"
          "{\n  ret;\n}\n";
  p.arenaBytes = 1024;
  p.buffers = {{BufferKind::Input, 0, 0, 1024},
               {BufferKind::Output, 0, 0, 1024},
               {BufferKind::Arena, 0, 0, 1024}};
  CudaStep first;
  first.kind = CudaStep::Launch;
  first.kernel = "fake_kernel";
  first.grid[0] = 1;
  first.block[0] = 256;
  first.args = {0, 2};
  CudaStep zero;
  zero.kind = CudaStep::Memset;
  zero.args = {1};
  zero.bytes = 1024;
  CudaStep second = first;
  second.args = {2, 1};
  p.steps = {first, zero, second};
  return p;
}
} // namespace

// Two threads run one executable at once, both released together: every
// run holds the executable's mutex, so the fake never sees two device
// calls in flight. Without the mutex (runWith's lock_guard) the trace
// holds OVERLAP lines, and the runs race on the stream and buffers.
TEST(CudaFakeDriver, RunsFromTwoThreadsDoNotInterleave) {
  if (std::string why = openFakeDriver(); !why.empty())
    GTEST_SKIP() << why;
  std::string trace = freshTrace("threads");
  std::string error;
  std::unique_ptr<CudaExecutable> exe =
      CudaExecutable::create(program(), {}, error);
  ASSERT_TRUE(exe) << error;
  EXPECT_EQ(exe->deviceName(), "Fake GPU (llmc test driver) (sm_90)");

  constexpr int kRuns = 20;
  std::atomic<bool> go{false};
  std::mutex errorMutex;
  std::vector<std::string> errors;
  auto runMany = [&]() {
    std::vector<float> in(256, 1.0f), out(256);
    while (!go)
      std::this_thread::yield();
    for (int i = 0; i < kRuns; ++i) {
      std::string why;
      if (!exe->run({{in.data(), in.size() * 4}}, {out.data()}, why)) {
        std::lock_guard<std::mutex> lock(errorMutex);
        errors.push_back(why);
        return;
      }
    }
  };
  std::thread a(runMany), b(runMany);
  go = true;
  a.join();
  b.join();
  EXPECT_TRUE(errors.empty()) << errors.front();

  std::string text = readFile(trace);
  size_t overlap = text.find("OVERLAP");
  EXPECT_EQ(overlap, std::string::npos)
      << count(text, "OVERLAP") << " overlapping calls, the first: "
      << text.substr(overlap, text.find('\n', overlap) - overlap);
  EXPECT_EQ(count(text, "cuLaunchKernel fake_kernel"), 2u * 2 * kRuns);
}

// profile() on a thread that never made the context current (the driver's
// current context is per thread): it makes it current before creating its
// events. Without that, the fake's cuEventCreate fails with
// CUDA_ERROR_INVALID_CONTEXT, as the driver's does.
TEST(CudaFakeDriver, ProfileFromAnotherThread) {
  if (std::string why = openFakeDriver(); !why.empty())
    GTEST_SKIP() << why;
  std::string trace = freshTrace("profile");
  std::string error;
  std::unique_ptr<CudaExecutable> exe =
      CudaExecutable::create(program(), {}, error);
  ASSERT_TRUE(exe) << error;
  std::vector<double> stepMs;
  bool ok = false;
  std::thread([&]() {
    std::vector<float> in(256, 1.0f), out(256);
    ok =
        exe->profile({{in.data(), in.size() * 4}}, {out.data()}, stepMs, error);
  }).join();
  EXPECT_TRUE(ok) << error;
  EXPECT_NE(readFile(trace).find("cuEventCreate"), std::string::npos);
  EXPECT_EQ(stepMs.size(), 3u);
}

namespace {
/// A decode step in miniature: x (host) and a donated cache in; a kernel
/// updates the cache in place, another reads it into y. Output 1 is the
/// cache (no Output buffer of its own).
CudaProgram donatingProgram() {
  CudaProgram p;
  p.chip = "sm_90";
  p.ptx = ".version 8.0\n.target sm_90\n.address_size 64\n"
          ".visible .entry update(.param .u64 a, .param .u64 b)\n"
          "{\n  ret;\n}\n"
          ".visible .entry read(.param .u64 a, .param .u64 b)\n"
          "{\n  ret;\n}\n";
  p.buffers = {{BufferKind::Input, 0, 0, 1024},
               {BufferKind::Input, 1, 0, 4096},
               {BufferKind::Output, 0, 0, 1024}};
  CudaStep update;
  update.kind = CudaStep::Launch;
  update.kernel = "update";
  update.args = {0, 1};
  CudaStep read = update;
  read.kernel = "read";
  read.args = {1, 2};
  p.steps = {update, read};
  p.outputAliases = {-1, 1};
  return p;
}

std::string hex(uint64_t p) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%lx", static_cast<unsigned long>(p));
  return text;
}
} // namespace

// Device arguments are used where they are: a donated cache on the device
// is neither uploaded nor downloaded, the kernels get its address, the
// executable makes no buffer of its own for it, and its output is the same
// memory. A CUDA graph is captured once while the addresses stay, again
// when they move.
TEST(CudaFakeDriver, DeviceArgumentsAreBoundInPlace) {
  if (std::string why = openFakeDriver(); !why.empty())
    GTEST_SKIP() << why;
  setenv("FAKE_CUDA_TRACE_ARGS", "1", 1);
  std::string trace = freshTrace("device-args");
  std::string error;
  std::unique_ptr<CudaExecutable> exe =
      CudaExecutable::create(donatingProgram(), {}, error);
  ASSERT_TRUE(exe) << error;
  uint64_t cache = 0, other = 0;
  ASSERT_TRUE(exe->allocate(4096, cache, error)) << error;
  ASSERT_TRUE(exe->allocate(4096, other, error)) << error;
  std::vector<float> pattern(1024);
  for (size_t i = 0; i < pattern.size(); ++i)
    pattern[i] = static_cast<float>(i);
  ASSERT_TRUE(exe->copyToDevice(cache, pattern.data(), 4096, error)) << error;
  std::string before = readFile(trace);

  std::vector<float> x(256, 1.0f), y(256);
  auto args = [&](uint64_t at) {
    void *p = reinterpret_cast<void *>(at);
    return std::make_pair(
        std::vector<CudaArg>{{x.data(), 1024, false}, {p, 4096, true}},
        std::vector<CudaArg>{{y.data(), 1024, false}, {p, 4096, true}});
  };
  exe->useGraph(true);
  for (int step = 0; step < 3; ++step) {
    auto [in, out] = args(cache);
    ASSERT_TRUE(exe->run(in, out, error, /*producer=*/1)) << error;
  }
  std::string steps = readFile(trace).substr(before.size());
  EXPECT_EQ(count(steps, "cuMemcpyHtoDAsync 1024"), 3u);
  EXPECT_EQ(count(steps, "cuMemcpyDtoHAsync 1024"), 3u);
  EXPECT_EQ(count(steps, "4096"), 0u) << "the cache was copied";
  EXPECT_EQ(count(steps, "cuMemAlloc"), 2u) << "x's and y's own buffers only";
  EXPECT_EQ(count(steps, "cuEventRecord legacy"), 3u);
  EXPECT_EQ(count(steps, "cuStreamWaitEvent"), 3u);
  // Eager, captured, replayed: the kernels see the cache where it is.
  EXPECT_NE(steps.find("cuLaunchKernel update grid=1x1x1 block=1x1x1 shared=0 "
                       "eager args=0x"),
            std::string::npos);
  EXPECT_NE(steps.find("," + hex(cache) + "\n"), std::string::npos);
  EXPECT_EQ(count(steps, "cuStreamBeginCapture"), 1u);
  EXPECT_EQ(count(steps, "cuGraphLaunch"), 2u);

  // The cache moves: captured again, then replayed.
  for (int step = 0; step < 2; ++step) {
    auto [in, out] = args(other);
    ASSERT_TRUE(exe->run(in, out, error)) << error;
  }
  std::string moved = readFile(trace).substr(before.size() + steps.size());
  EXPECT_EQ(count(moved, "cuStreamBeginCapture"), 1u);
  EXPECT_NE(moved.find("," + hex(other) + "\n"), std::string::npos);
  EXPECT_EQ(count(moved, "cuGraphLaunch"), 2u);

  // In host memory the cache goes up and comes back down from the input's
  // own buffer (made now), and the graph is captured again.
  std::vector<float> hostCache(pattern), present(1024, -1.0f);
  std::string all = readFile(trace);
  ASSERT_TRUE(exe->run({{x.data(), 1024, false}, {hostCache.data(), 4096, false}},
                       {{y.data(), 1024, false}, {present.data(), 4096, false}},
                       error))
      << error;
  std::string host = readFile(trace).substr(all.size());
  EXPECT_EQ(count(host, "cuMemAlloc 4096"), 1u);
  EXPECT_EQ(count(host, "cuMemcpyHtoDAsync 4096"), 1u);
  EXPECT_EQ(count(host, "cuMemcpyDtoHAsync 4096"), 1u);
  EXPECT_EQ(count(host, "cuStreamBeginCapture"), 1u);
  EXPECT_EQ(present, pattern); // the fake's kernels compute nothing

  // What the device holds comes back.
  std::vector<float> back(1024);
  ASSERT_TRUE(exe->copyToHost(back.data(), cache, 4096, error)) << error;
  EXPECT_EQ(back, pattern);
  exe->release(cache);
  exe->release(other);
  unsetenv("FAKE_CUDA_TRACE_ARGS");
}

// Device arguments that cannot be used are refused in one line, before
// anything runs, and the executable stays usable.
TEST(CudaFakeDriver, BadDeviceArgumentsAreRefused) {
  if (std::string why = openFakeDriver(); !why.empty())
    GTEST_SKIP() << why;
  setenv("FAKE_CUDA_DEVICES", "2", 1);
  freshTrace("device-args-bad");
  std::string error;
  std::unique_ptr<CudaExecutable> exe =
      CudaExecutable::create(donatingProgram(), {}, error, nullptr, 0);
  std::unique_ptr<CudaExecutable> second =
      CudaExecutable::create(donatingProgram(), {}, error, nullptr, 1);
  ASSERT_TRUE(exe && second) << error;
  uint64_t cache = 0, other = 0, small = 0, elsewhere = 0;
  ASSERT_TRUE(exe->allocate(4096, cache, error)) << error;
  ASSERT_TRUE(exe->allocate(4096, other, error)) << error;
  ASSERT_TRUE(exe->allocate(2048, small, error)) << error;
  ASSERT_TRUE(second->allocate(4096, elsewhere, error)) << error;
  std::vector<float> x(256), y(256), host(1024);
  auto run = [&](void *in, size_t bytes, void *out) {
    std::string why;
    EXPECT_FALSE(exe->run({{x.data(), 1024, false}, {in, bytes, true}},
                          {{y.data(), 1024, false}, {out, bytes, true}}, why));
    return why;
  };
  void *c = reinterpret_cast<void *>(cache);
  EXPECT_EQ(run(host.data(), 4096, host.data()),
            "input 1: is not CUDA device memory");
  EXPECT_EQ(run(reinterpret_cast<void *>(elsewhere), 4096,
                reinterpret_cast<void *>(elsewhere)),
            "input 1: is on CUDA device 1; this executable runs on Fake GPU "
            "(llmc test driver) (sm_90)");
  EXPECT_EQ(run(reinterpret_cast<void *>(small), 4096,
                reinterpret_cast<void *>(small)),
            "input 1: runs past the end of its device allocation (4096 bytes "
            "from offset 0 of 2048)");
  EXPECT_EQ(run(c, 4096, reinterpret_cast<void *>(other)),
            "output 1 is input 1 updated in place (donated): give both the "
            "same device buffer");
  EXPECT_EQ(run(c, 1024, c), "input 1 holds 1024 bytes; the program's "
                             "buffer has 4096");
  // Still usable.
  EXPECT_TRUE(exe->run({{x.data(), 1024, false}, {c, 4096, true}},
                       {{y.data(), 1024, false}, {c, 4096, true}}, error))
      << error;
  exe->release(cache);
  exe->release(other);
  exe->release(small);
  second->release(elsewhere);
  unsetenv("FAKE_CUDA_DEVICES");
}
