//===- FuzzNpy.cpp - libFuzzer target: .npy bytes -> the reader -----------===//
//
// The bytes become a file (the reader takes paths: it checks the file is
// regular and its size before reading) and readNpy parses it. Anything but
// a clean true/false with a one-line error is a finding.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tensor.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path =
      "/tmp/llmc-fuzz-npy-" + std::to_string(getpid()) + ".npy";
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  llmc::runtime::HostTensor t;
  std::string error;
  if (!llmc::runtime::readNpy(path, t, error) &&
      (error.empty() || error.find('\n') != std::string::npos))
    __builtin_trap(); // every refusal is one line
  return 0;
}
