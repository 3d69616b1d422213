//===- FuzzArtifact.cpp - libFuzzer target: artifact bytes -> describe ----===//
//
// The bytes become an artifact file, with the header's payload size and
// checksum recomputed (so that mutations reach the FlatBuffer checks and
// the CUDA program's validation instead of stopping at the checksum), and
// describeArtifact reads it: every offset, size and shape is validated
// before use. Code in the artifact is never loaded here (a signature, not
// validation, is what keeps crafted native code out: llmc-run --verify).
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Artifact.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path =
      "/tmp/llmc-fuzz-artifact-" + std::to_string(getpid()) + ".llmcx";
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() >= llmc::runtime::kArtifactHeaderSize) {
    uint64_t payload = bytes.size() - llmc::runtime::kArtifactHeaderSize;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = llmc::runtime::kArtifactHeaderSize; i < bytes.size(); ++i) {
      h ^= bytes[i];
      h *= 1099511628211ull;
    }
    std::memcpy(bytes.data() + 16, &payload, 8);
    std::memcpy(bytes.data() + 24, &h, 8);
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  std::string text, error;
  if (!llmc::runtime::describeArtifact(path, text, error) &&
      (error.empty() || error.find('\n') != std::string::npos))
    __builtin_trap(); // every refusal is one line
  return 0;
}
