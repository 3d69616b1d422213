//===- CudaMeshTest.cpp - A mesh of GPUs on the fake driver and NCCL ------===//
//
// Runs CudaMesh through the fake CUDA driver with several devices and the
// fake NCCL (test/fake-cuda), which really moves the bytes between the
// devices' (host) memory. Each program is one collective step from an
// input to an output; every device's output is compared, bit for bit,
// with what the CPU devices' collective (runtime/Collectives.cpp, tested
// on its own in CollectivesTest.cpp) computes from the same inputs: the
// packing of inner dims through the scratch, NCCL's calls and the
// unpacking are all checked. Then the failure paths: a collective that
// never completes, a rank that never arrives, too few devices.
//
//===----------------------------------------------------------------------===//

#include "FakeCudaSupport.h"
#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/Cuda.h"

#include "gtest/gtest.h"

#include <csignal>
#include <cstring>
#include <functional>
#include <numeric>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace llmc::runtime;
using namespace llmc::testing;

namespace {
/// "" when the fake driver and NCCL can run a mesh of `devices`.
std::string prepare(int devices) {
  if (std::string why = openFakeDriver(); !why.empty())
    return why;
  setenv("LLMC_NCCL", fakeLibrary("libfake-nccl.so").c_str(), 1);
  setenv("FAKE_CUDA_DEVICES", std::to_string(devices).c_str(), 1);
  unsetenv("FAKE_NCCL_STALL");
  unsetenv("FAKE_NCCL_ABSENT_RANK");
  unsetenv("LLMC_CUDA_DEVICES");
  return "";
}

/// A program of one collective from input 0 to output 0.
CudaProgram collectiveProgram(const CollectiveParams &params, DType dtype,
                              const std::vector<int64_t> &inShape,
                              const std::vector<int64_t> &outShape) {
  CudaProgram p;
  p.chip = "sm_90";
  p.ptx = ".version 8.0\n.target sm_90\n.address_size 64\n";
  CudaStep step;
  step.kind = CudaStep::Collective;
  step.node = "Collective_0";
  CudaCollective &c = step.collective;
  c.params = params;
  c.dtype = dtype;
  c.inShape = inShape;
  c.outShape = outShape;
  uint64_t element = dtypeSize(dtype);
  p.buffers = {{BufferKind::Input, 0, 0,
                static_cast<uint64_t>(numElements(inShape)) * element},
               {BufferKind::Output, 0, 0,
                static_cast<uint64_t>(numElements(outShape)) * element}};
  c.in = 0;
  c.out = 1;
  if (uint64_t bytes = collectiveScratchBytes(c)) {
    p.buffers.push_back({BufferKind::Arena, 0, 0, bytes});
    p.arenaBytes = bytes;
    c.hasScratch = true;
    c.scratch = 2;
  }
  EXPECT_TRUE(validCollective(c, p.buffers));
  p.steps = {step};
  return p;
}

/// Device `rank`'s input: distinct values on every device.
std::vector<float> inputOf(int64_t rank, int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(rank * 1000 + i) * 0.5f - 7.0f;
  return v;
}

/// Runs `params` on a mesh through the fake GPUs and on CPU devices, and
/// compares every device's output.
void expectSameAsCpu(const MeshShape &mesh, CollectiveParams params,
                     std::vector<int64_t> inShape,
                     std::vector<int64_t> outShape) {
  int64_t n = mesh.numDevices();
  params.groupSize = mesh.axisSizes[params.axis];
  CudaProgram program =
      collectiveProgram(params, DType::F32, inShape, outShape);
  std::string error;
  std::unique_ptr<CudaMesh> gpus = CudaMesh::create(
      program, mesh, std::vector<std::vector<HostBytes>>(n), error);
  ASSERT_TRUE(gpus) << error;
  int64_t inCount = numElements(inShape), outCount = numElements(outShape);
  std::vector<std::vector<float>> in(n), got(n), want(n);
  std::vector<std::vector<HostBytes>> inputs(n);
  std::vector<std::vector<void *>> outputs(n);
  for (int64_t r = 0; r < n; ++r) {
    in[r] = inputOf(r, inCount);
    got[r].assign(outCount, -1.0f);
    want[r].assign(outCount, -2.0f);
    inputs[r] = {{in[r].data(), in[r].size() * 4}};
    outputs[r] = {got[r].data()};
  }
  ASSERT_TRUE(gpus->run(inputs, outputs, error)) << error;
  std::string why = runOnCpuMesh(mesh, 10, [&](int64_t r) {
    collective(params, DType::F32, in[r].data(), inShape, want[r].data(),
               outShape);
  });
  ASSERT_EQ(why, "");
  for (int64_t r = 0; r < n; ++r)
    EXPECT_EQ(0, std::memcmp(got[r].data(), want[r].data(), outCount * 4))
        << collectiveName(params.kind) << " dim " << params.dim
        << ": device " << r << " differs from the CPU devices' result";
}

CollectiveParams make(CollectiveKind kind, int64_t axis, int64_t dim,
                      int64_t dim2 = 0, ReduceKind reduce = ReduceKind::Sum) {
  CollectiveParams p;
  p.kind = kind;
  p.axis = axis;
  p.dim = dim;
  p.dim2 = dim2;
  p.reduce = reduce;
  p.stepId = 7;
  return p;
}
} // namespace

TEST(CudaMesh, CollectivesMatchTheCpuDevices) {
  if (std::string why = prepare(4); !why.empty())
    GTEST_SKIP() << why;
  freshTrace("mesh-collectives");
  MeshShape tp2{{"tp"}, {2}}, tp4{{"tp"}, {4}};
  using K = CollectiveKind;
  expectSameAsCpu(tp2, make(K::AllReduce, 0, 0), {2, 3, 4}, {2, 3, 4});
  expectSameAsCpu(tp4, make(K::AllReduce, 0, 0, 0, ReduceKind::Max), {5, 3},
                  {5, 3});
  expectSameAsCpu(tp4, make(K::AllReduce, 0, 0, 0, ReduceKind::Min), {7},
                  {7});
  // Along the outermost dim NCCL's own layout is the result; inside, the
  // chunks go through the scratch.
  expectSameAsCpu(tp2, make(K::AllGather, 0, 0), {2, 3, 4}, {4, 3, 4});
  expectSameAsCpu(tp4, make(K::AllGather, 0, 1), {2, 3, 4}, {2, 12, 4});
  expectSameAsCpu(tp2, make(K::AllGather, 0, 2), {2, 3, 4}, {2, 3, 8});
  expectSameAsCpu(tp2, make(K::ReduceScatter, 0, 0), {4, 3}, {2, 3});
  expectSameAsCpu(tp4, make(K::ReduceScatter, 0, 1), {2, 8, 3}, {2, 2, 3});
  expectSameAsCpu(tp2, make(K::ReduceScatter, 0, 2, 0, ReduceKind::Max),
                  {2, 3, 4}, {2, 3, 2});
  expectSameAsCpu(tp2, make(K::Split, 0, 0), {4, 3}, {2, 3});
  expectSameAsCpu(tp4, make(K::Split, 0, 1), {2, 8, 3}, {2, 2, 3});
  expectSameAsCpu(tp2, make(K::AllToAll, 0, 0, 1), {4, 3}, {2, 6});
  expectSameAsCpu(tp4, make(K::AllToAll, 0, 1, 2), {2, 8, 3}, {2, 2, 12});
  expectSameAsCpu(tp4, make(K::AllToAll, 0, 2, 0), {2, 3, 8}, {8, 3, 2});
  expectSameAsCpu(tp2, make(K::AllToAll, 0, 1, 1), {2, 4, 3}, {2, 4, 3});
}

// On dp=2,tp=2 a collective over one axis runs in the groups of the other:
// one communicator per group, each rank in the right one.
TEST(CudaMesh, GroupsFollowTheOtherAxes) {
  if (std::string why = prepare(4); !why.empty())
    GTEST_SKIP() << why;
  std::string trace = freshTrace("mesh-groups");
  MeshShape mesh{{"dp", "tp"}, {2, 2}};
  using K = CollectiveKind;
  expectSameAsCpu(mesh, make(K::AllReduce, 1, 0), {3, 4}, {3, 4});
  expectSameAsCpu(mesh, make(K::AllGather, 0, 1), {3, 4}, {3, 8});
  expectSameAsCpu(mesh, make(K::AllToAll, 1, 1, 0), {3, 4}, {6, 2});
  std::string text = readFile(trace);
  // Per mesh: two groups on each axis, the devices of each in order.
  EXPECT_EQ(count(text, "ncclCommInitAll ndev=2 devices=0,2"), 3u) << text;
  EXPECT_EQ(count(text, "ncclCommInitAll ndev=2 devices=1,3"), 3u);
  EXPECT_EQ(count(text, "ncclCommInitAll ndev=2 devices=0,1"), 3u);
  EXPECT_EQ(count(text, "ncclCommInitAll ndev=2 devices=2,3"), 3u);
  EXPECT_EQ(count(text, "MISMATCH"), 0u);
  EXPECT_EQ(count(text, "OVERLAP"), 0u);
}

// LLMC_CUDA_DEVICES picks the GPUs; a mesh needs as many as it has devices.
TEST(CudaMesh, DevicesAreChosenAndCounted) {
  if (std::string why = prepare(3); !why.empty())
    GTEST_SKIP() << why;
  std::string trace = freshTrace("mesh-devices");
  MeshShape tp2{{"tp"}, {2}};
  CudaProgram program = collectiveProgram(
      make(CollectiveKind::AllReduce, 0, 0), DType::F32, {4}, {4});
  program.steps[0].collective.params.groupSize = 2;
  std::string error;
  setenv("LLMC_CUDA_DEVICES", "2,1", 1);
  auto gpus = CudaMesh::create(program, tp2, {{}, {}}, error);
  ASSERT_TRUE(gpus) << error;
  EXPECT_EQ(gpus->device(0).deviceName(),
            "Fake GPU 2 (llmc test driver) (sm_90)");
  EXPECT_NE(readFile(trace).find("ncclCommInitAll ndev=2 devices=2,1"),
            std::string::npos);
  gpus.reset();

  setenv("LLMC_CUDA_DEVICES", "0,0", 1);
  EXPECT_FALSE(CudaMesh::create(program, tp2, {{}, {}}, error));
  EXPECT_EQ(error, "--devices (LLMC_CUDA_DEVICES) '0,0' names a device twice: "
                   "NCCL needs a device per rank");
  setenv("LLMC_CUDA_DEVICES", "0,x", 1);
  EXPECT_FALSE(CudaMesh::create(program, tp2, {{}, {}}, error));
  EXPECT_EQ(error, "--devices (LLMC_CUDA_DEVICES) '0,x' is not a list of CUDA "
                   "device numbers, e.g. 0,1");
  unsetenv("LLMC_CUDA_DEVICES");
  MeshShape tp4{{"tp"}, {4}};
  program.steps[0].collective.params.groupSize = 4;
  EXPECT_FALSE(CudaMesh::create(program, tp4, {{}, {}, {}, {}}, error));
  EXPECT_EQ(error, "the artifact's mesh tp=4 needs 4 CUDA devices; there are 3");
}

// A collective that never completes (its stream never drains) and a rank
// that never arrives (its peers wait inside NCCL): both end after the
// timeout with one line naming the collective, and the mesh refuses to run
// again; nothing hangs.
TEST(CudaMesh, CollectivesThatDoNotCompleteTimeOut) {
  if (std::string why = prepare(2); !why.empty())
    GTEST_SKIP() << why;
  MeshShape tp2{{"tp"}, {2}};
  CollectiveParams params = make(CollectiveKind::AllReduce, 0, 0);
  params.groupSize = 2;
  CudaProgram program = collectiveProgram(params, DType::F32, {4}, {4});
  for (const char *env : {"FAKE_NCCL_STALL", "FAKE_NCCL_ABSENT_RANK"}) {
    freshTrace("mesh-timeout");
    setenv(env, "1", 1);
    std::string error;
    auto gpus = CudaMesh::create(program, tp2, {{}, {}}, error);
    ASSERT_TRUE(gpus) << error;
    gpus->setTimeout(0.3);
    std::vector<float> a(4, 1.0f), b(4, 2.0f), x(4), y(4);
    std::vector<std::vector<HostBytes>> in{{{a.data(), 16}}, {{b.data(), 16}}};
    std::vector<std::vector<void *>> out{{x.data()}, {y.data()}};
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(gpus->run(in, out, error)) << env;
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    EXPECT_LT(seconds, 5.0) << env;
    EXPECT_EQ(error, "collective all_reduce (step 7) over mesh axis 'tp' (ONNX "
                     "node 'Collective_0') did not complete within 0.3 s "
                     "(--collective-timeout) on device 0 (CUDA device 0): a "
                     "peer did not take part, or the device hung")
        << env;
    EXPECT_EQ(error.find('\n'), std::string::npos);
    EXPECT_FALSE(gpus->run(in, out, error));
    EXPECT_EQ(error.rfind("an earlier failure left this mesh of devices "
                          "unusable: ",
                          0),
              0u)
        << error;
    unsetenv(env);
  }
}

// --cuda-graph: the first run eager, the second captures the collective
// (with its end recorded as an external event node) and the rest replay.
TEST(CudaMesh, CollectivesAreCapturedInGraphs) {
  if (std::string why = prepare(2); !why.empty())
    GTEST_SKIP() << why;
  std::string trace = freshTrace("mesh-graph");
  MeshShape tp2{{"tp"}, {2}};
  CollectiveParams params = make(CollectiveKind::AllGather, 0, 1);
  params.groupSize = 2;
  CudaProgram program = collectiveProgram(params, DType::F32, {2, 2}, {2, 4});
  std::string error;
  auto gpus = CudaMesh::create(program, tp2, {{}, {}}, error);
  ASSERT_TRUE(gpus) << error;
  gpus->useGraph(true);
  std::vector<float> a(4, 1.0f), b(4, 2.0f), x(8), y(8);
  std::vector<std::vector<HostBytes>> in{{{a.data(), 16}}, {{b.data(), 16}}};
  std::vector<std::vector<void *>> out{{x.data()}, {y.data()}};
  for (int run = 0; run < 3; ++run)
    ASSERT_TRUE(gpus->run(in, out, error)) << error;
  std::string text = readFile(trace);
  EXPECT_EQ(count(text, "ncclAllGather rank=0/2 device=0 count=4 eager"), 1u);
  EXPECT_EQ(count(text, "ncclAllGather rank=1/2 device=1 count=4 captured"), 1u);
  EXPECT_EQ(count(text, "cuMemcpy2DAsync 8x2 captured"), 4u) << text;
  EXPECT_EQ(count(text, "cuGraphLaunch"), 4u);
  EXPECT_EQ(count(text, "-> 1 ("), 0u) << text;
  // The eager run's result: each row [a a b b].
  EXPECT_EQ(x, (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2}));
}

namespace {
/// Runs `body(rank)` in `n` child processes at once (each one process of
/// a job, as torchrun starts them) and returns their exit statuses; a
/// child that does not finish within 60 s is killed (status -1).
std::vector<int> inProcesses(int n, const std::function<int(int)> &body) {
  std::vector<pid_t> children;
  for (int rank = 0; rank < n; ++rank) {
    pid_t pid = fork();
    if (pid == 0) {
      int status = 1;
      try {
        status = body(rank);
      } catch (...) {
      }
      std::fflush(nullptr);
      _exit(status);
    }
    children.push_back(pid);
  }
  std::vector<int> statuses;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (pid_t pid : children) {
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (done != pid) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      statuses.push_back(-1);
      continue;
    }
    statuses.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return statuses;
}

/// A fresh folder for the fake NCCL's files, and an NCCL_COMM_ID of this
/// test's own: the processes find each other through both.
/// (The fake NCCL, like NCCL, ties one job to an NCCL_COMM_ID.)
void freshBootstrap(const char *name) {
  std::string dir = ::testing::TempDir() + "llmc-fake-nccl-" + name + "-" +
                    std::to_string(getpid());
  std::string rm = "rm -rf '" + dir + "'";
  ASSERT_EQ(std::system(rm.c_str()), 0);
  ASSERT_EQ(mkdir(dir.c_str(), 0777), 0);
  setenv("FAKE_NCCL_DIR", dir.c_str(), 1);
  setenv("NCCL_COMM_ID", ("127.0.0.1:" + std::to_string(getpid())).c_str(), 1);
}
} // namespace

// One process per GPU (torchrun's way): on dp=2,tp=2, four processes join
// one world communicator through NCCL_COMM_ID, split it into the axes'
// groups, and each runs its device's collective; the results equal the
// CPU devices', and rank 0 gathers every device's output.
TEST(CudaMesh, ProcessesJoinThroughNcclsBootstrap) {
  if (std::string why = prepare(4); !why.empty())
    GTEST_SKIP() << why;
  std::string trace = freshTrace("mesh-processes");
  MeshShape mesh{{"dp", "tp"}, {2, 2}};
  using K = CollectiveKind;
  for (CollectiveParams params :
       {make(K::AllReduce, 1, 0), make(K::AllGather, 0, 1)}) {
    // A job of its own: the fake's files of the last one would be read.
    freshBootstrap(collectiveName(params.kind));
    params.groupSize = mesh.axisSizes[params.axis];
    std::vector<int64_t> inShape = {3, 4};
    std::vector<int64_t> outShape =
        params.kind == K::AllGather ? std::vector<int64_t>{3, 8} : inShape;
    CudaProgram program =
        collectiveProgram(params, DType::F32, inShape, outShape);
    int64_t inCount = numElements(inShape), outCount = numElements(outShape);
    // What every device should hold: the CPU devices' result.
    std::vector<std::vector<float>> in(4), want(4);
    for (int64_t r = 0; r < 4; ++r) {
      in[r] = inputOf(r, inCount);
      want[r].assign(outCount, 0.0f);
    }
    ASSERT_EQ(runOnCpuMesh(mesh, 10, [&](int64_t r) {
                collective(params, DType::F32, in[r].data(), inShape,
                           want[r].data(), outShape);
              }),
              "");
    std::vector<int> statuses = inProcesses(4, [&](int rank) {
      ProcessLaunch launch{4, rank, rank, "torchrun"};
      std::string error;
      auto gpu = CudaMesh::create(
          program, mesh, std::vector<std::vector<HostBytes>>(4), error, &launch);
      if (!gpu || gpu->numDevices() != 1 || gpu->rankOf(0) != rank) {
        std::fprintf(stderr, "rank %d: %s\n", rank, error.c_str());
        return 2;
      }
      std::vector<float> got(outCount, -1.0f);
      if (!gpu->run({{{in[rank].data(), in[rank].size() * 4}}}, {{got.data()}},
                    error)) {
        std::fprintf(stderr, "rank %d: %s\n", rank, error.c_str());
        return 3;
      }
      if (got != want[rank])
        return 4;
      std::vector<float> all(rank == 0 ? outCount * 4 : 0);
      if (!gpu->gatherAtRoot(got.data(), outCount * 4, all.data(), error)) {
        std::fprintf(stderr, "rank %d: %s\n", rank, error.c_str());
        return 5;
      }
      for (int64_t r = 0; rank == 0 && r < 4; ++r)
        if (!std::equal(want[r].begin(), want[r].end(),
                        all.begin() + r * outCount))
          return 6;
      return 0;
    });
    EXPECT_EQ(statuses, (std::vector<int>{0, 0, 0, 0}))
        << collectiveName(params.kind)
        << " (2: create, 3: run, 4: wrong result, 5: gather, 6: wrong "
           "gathered parts)";
  }
  std::string text = readFile(trace);
  // Each process: one world of 4 on its own device, split per axis (the
  // color is the group, the key the coordinate on the axis) and once over
  // all.
  EXPECT_EQ(count(text, "ncclCommInitRank rank=3/4 device=3 nonblocking"), 2u)
      << text;
  EXPECT_EQ(count(text, "ncclCommSplit rank=3/4 color=1 key=1 -> rank=1/2"),
            4u);
  EXPECT_EQ(count(text, "ncclCommSplit rank=2/4 color=0 key=1 -> rank=1/2"),
            2u); // dp's groups are the tp columns: rank 2 is (1, 0)
  EXPECT_EQ(count(text, "ncclCommSplit rank=2/4 color=0 key=2 -> rank=2/4"),
            2u);
  EXPECT_EQ(count(text, "MISMATCH"), 0u);
}

// A process whose peers never start: the first run waits for them at
// most the timeout, then fails in one line, and the mesh stays unusable.
TEST(CudaMesh, ProcessesThatNeverComeTimeOut) {
  if (std::string why = prepare(2); !why.empty())
    GTEST_SKIP() << why;
  freshTrace("mesh-processes-absent");
  freshBootstrap("absent");
  MeshShape tp2{{"tp"}, {2}};
  CollectiveParams params = make(CollectiveKind::AllReduce, 0, 0);
  params.groupSize = 2;
  CudaProgram program = collectiveProgram(params, DType::F32, {4}, {4});
  ProcessLaunch launch{2, 1, 1, "torchrun"};
  std::string error;
  auto gpu = CudaMesh::create(program, tp2, {{}, {}}, error, &launch);
  ASSERT_TRUE(gpu) << error;
  gpu->setTimeout(0.3);
  std::vector<float> a(4, 1.0f), y(4);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(gpu->run({{{a.data(), 16}}}, {{y.data()}}, error));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                          start)
                .count(),
            5.0);
  EXPECT_EQ(error, "process 1: the 2 processes of the mesh did not all join "
                   "NCCL within 0.3 s (--collective-timeout): a process "
                   "failed, was not started, or cannot reach rank 0");
  EXPECT_FALSE(gpu->run({{{a.data(), 16}}}, {{y.data()}}, error));
  EXPECT_EQ(error.rfind("an earlier failure left this mesh", 0), 0u) << error;

  // torchrun's environment without MASTER_ADDR / MASTER_PORT or
  // NCCL_COMM_ID cannot bootstrap; a job of the wrong size, or a local
  // rank past --devices, is refused when the mesh is made.
  unsetenv("NCCL_COMM_ID");
  unsetenv("MASTER_ADDR");
  unsetenv("MASTER_PORT");
  gpu = CudaMesh::create(program, tp2, {{}, {}}, error, &launch);
  ASSERT_TRUE(gpu) << error;
  EXPECT_FALSE(gpu->run({{{a.data(), 16}}}, {{y.data()}}, error));
  EXPECT_EQ(error, "torchrun's environment lacks MASTER_ADDR and MASTER_PORT "
                   "(or set NCCL_COMM_ID=HOST:PORT), which NCCL's bootstrap "
                   "needs");
  ProcessLaunch three{3, 1, 1, "torchrun"};
  EXPECT_FALSE(CudaMesh::create(program, tp2, {{}, {}}, error, &three));
  EXPECT_EQ(error, "the artifact's mesh tp=2 has 2 devices; torchrun started "
                   "3 processes");
  setenv("LLMC_CUDA_DEVICES", "1", 1);
  EXPECT_FALSE(CudaMesh::create(program, tp2, {{}, {}}, error, &launch));
  EXPECT_EQ(error, "--devices (LLMC_CUDA_DEVICES) '1' names 1 devices; this "
                   "process is local rank 1 on its host");
  setenv("LLMC_CUDA_DEVICES", "0,5", 1);
  EXPECT_FALSE(CudaMesh::create(program, tp2, {{}, {}}, error, &launch));
  EXPECT_EQ(error, "process 1 (local rank 1) of the mesh tp=2 needs CUDA "
                   "device 5; there are 2");
  unsetenv("LLMC_CUDA_DEVICES");
}
