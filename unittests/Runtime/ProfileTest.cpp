//===- ProfileTest.cpp - Per-step profile figures of a CUDA program -------===//
//
// The bytes, FLOPs, rates and roofline estimates formatProfile prints,
// checked against figures worked out by hand.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/CudaProgram.h"

#include "gtest/gtest.h"

using namespace llmc::runtime;

namespace {
CudaProgram program() {
  CudaProgram p;
  p.buffers = {{BufferKind::Input, 0, 0, 4u << 20},
               {BufferKind::Weight, 0, 0, 4u << 20},
               {BufferKind::Output, 0, 0, 4u << 20}};
  CudaStep gemm;
  gemm.kind = CudaStep::Gemm;
  gemm.gemm.m = gemm.gemm.n = gemm.gemm.k = 1024;
  gemm.gemm.accumulate = false;
  gemm.gemm.a = {0, 0, 1024, 0};
  gemm.gemm.b = {1, 0, 1024, 0};
  gemm.gemm.c = {2, 0, 1024, 0};
  CudaStep launch;
  launch.kind = CudaStep::Launch;
  launch.kernel = "main_kernel0";
  launch.args = {0, 2};
  launch.node = "Relu_1";
  p.steps = {gemm, launch};
  return p;
}
} // namespace

TEST(Profile, BytesAndFlops) {
  CudaProgram p = program();
  // A and B read, C written once (beta = 0): 3 x 4 MiB.
  EXPECT_DOUBLE_EQ(stepBytes(p, p.steps[0]), 3.0 * (4u << 20));
  EXPECT_DOUBLE_EQ(stepFlops(p.steps[0]), 2.0 * 1024 * 1024 * 1024);
  p.steps[0].gemm.accumulate = true; // C read too
  EXPECT_DOUBLE_EQ(stepBytes(p, p.steps[0]), 4.0 * (4u << 20));
  // A kernel moves its buffers.
  EXPECT_DOUBLE_EQ(stepBytes(p, p.steps[1]), 2.0 * (4u << 20));
  EXPECT_DOUBLE_EQ(stepFlops(p.steps[1]), 0);
}

TEST(Profile, Table) {
  CudaProgram p = program();
  Roofline r{"test", 1e12, 1e13, 0};
  // The GEMM in 1 ms: 12.58 MB -> 12.6 GB/s, 2.147 GFLOP -> 2.15 TFLOP/s;
  // estimated max(12.58 MB / 1 TB/s, 2.147 GFLOP / 10 TFLOP/s) = 214.7 us.
  // The kernel in 0.01 ms: 8.39 MB -> 838.9 GB/s; estimated 8.4 us.
  std::string text = formatProfile(p, {1.0, 0.01}, &r);
  EXPECT_NE(text.find("roofline: test\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cuBLASLt GEMM"), std::string::npos) << text;
  EXPECT_NE(text.find("1000.0     214.7       12.6       2.15"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("main_kernel0"), std::string::npos) << text;
  EXPECT_NE(text.find("10.0       8.4      838.9"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Relu_1"), std::string::npos) << text;
  EXPECT_NE(text.find("steps: 2  sum of step times: 1010.0 us  roofline "
                      "estimate: 223.1 us"),
            std::string::npos)
      << text;
  // Without figures there is no estimate.
  EXPECT_NE(formatProfile(p, {1.0, 0.01}, nullptr).find("roofline: none"),
            std::string::npos);
}
