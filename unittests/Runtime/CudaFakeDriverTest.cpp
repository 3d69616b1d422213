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
