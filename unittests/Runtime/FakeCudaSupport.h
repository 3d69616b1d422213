//===- FakeCudaSupport.h - Loading the fake CUDA driver in gtests -*- C++ -*-===//
//
// The fake driver (test/fake-cuda) is loaded by path before the runtime
// asks for libcuda.so.1: the loader hands an already loaded library back
// for its soname, so no LD_LIBRARY_PATH is needed (which a running process
// could not change anyway). Tests skip where the fake is not built (no
// CUDA headers).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_UNITTESTS_FAKECUDASUPPORT_H
#define LLMC_UNITTESTS_FAKECUDASUPPORT_H

#include "llmc/Runtime/Cuda.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <string>

namespace llmc::testing {

/// Loads the fake driver once; "" or why the tests cannot run.
inline std::string openFakeDriver() {
#ifndef LLMC_FAKE_CUDA_DIR
  return "the fake CUDA driver is not built (no CUDA headers)";
#else
  if (!::llmc::runtime::cudaSupportBuilt())
    return "the runtime is built without CUDA support";
  static std::string why = [] {
    if (dlopen(LLMC_FAKE_CUDA_DIR "/libcuda.so.1", RTLD_NOW | RTLD_GLOBAL))
      return std::string();
    const char *error = dlerror();
    return std::string("cannot open the fake CUDA driver: ") +
           (error ? error : LLMC_FAKE_CUDA_DIR "/libcuda.so.1");
  }();
  return why;
#endif
}

/// The fake library `name` in the fake driver's folder ("" when not built).
inline std::string fakeLibrary(const char *name) {
#ifdef LLMC_FAKE_CUDA_DIR
  return std::string(LLMC_FAKE_CUDA_DIR) + "/" + name;
#else
  return "";
#endif
}

/// Points the fake's trace at a fresh file named after the test.
inline std::string freshTrace(const char *name) {
  std::string path =
      ::testing::TempDir() + "llmc-fake-cuda-" + name + ".trace";
  std::remove(path.c_str());
  setenv("FAKE_CUDA_TRACE", path.c_str(), 1);
  return path;
}

inline std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// How often `what` occurs in `text`.
inline size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace llmc::testing

#endif // LLMC_UNITTESTS_FAKECUDASUPPORT_H
