//===- Artifact.cpp - llmc artifacts: writing, loading, running -----------===//
//
// The compiled code is an ELF shared object inside the artifact. It is
// loaded the way IREE loads its embedded system libraries: copied into an
// anonymous memory file (memfd) and dlopen'ed from there, so nothing is
// written to disk. Its calls into the runtime's kernels resolve against the
// loading executable, which exports them.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Artifact.h"
#include "llmc/Runtime/CpuKernels.h"

#include "Artifact_generated.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llmc::runtime;
namespace fb = llmc::artifact;

static uint64_t fnv1a(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

bool llmc::runtime::writeArtifact(const std::string &path,
                                  const ArtifactContents &c,
                                  std::string &error) {
  flatbuffers::FlatBufferBuilder b(1 << 20);
  auto specs = [&](const std::vector<TensorSpec> &list) {
    std::vector<flatbuffers::Offset<fb::TensorInfo>> out;
    for (const TensorSpec &t : list)
      out.push_back(fb::CreateTensorInfo(b, b.CreateString(t.name),
                                         static_cast<int32_t>(t.dtype),
                                         b.CreateVector(t.shape)));
    return b.CreateVector(out);
  };
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  for (const ArtifactContents::Weight &w : c.weights) {
    // 64-byte alignment within the buffer, whose start is 64-byte aligned
    // in the file: weights are usable in place from the mapping.
    b.ForceVectorAlignment(w.size, 1, 64);
    auto data = b.CreateVector(reinterpret_cast<const uint8_t *>(w.data),
                               w.size);
    weights.push_back(fb::CreateWeight(b, static_cast<int32_t>(w.dtype),
                                       b.CreateVector(w.shape), data));
  }
  auto weightsVec = b.CreateVector(weights);
  auto inputs = specs(c.inputs), outputs = specs(c.outputs);
  b.ForceVectorAlignment(c.sharedObject.size(), 1, 64);
  auto so = b.CreateVector(
      reinterpret_cast<const uint8_t *>(c.sharedObject.data()),
      c.sharedObject.size());
  auto root = fb::CreateExecutable(b, b.CreateString(c.target),
                                   b.CreateString(c.entry), inputs, outputs,
                                   weightsVec, so, b.CreateString(c.report));
  b.Finish(root, fb::ExecutableIdentifier());

  char header[kArtifactHeaderSize] = {};
  std::memcpy(header, kArtifactMagic, 8);
  uint32_t version = kArtifactVersion;
  uint64_t size = b.GetSize();
  uint64_t checksum = fnv1a(b.GetBufferPointer(), b.GetSize());
  std::memcpy(header + 8, &version, 4);
  std::memcpy(header + 16, &size, 8);
  std::memcpy(header + 24, &checksum, 8);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(header, sizeof(header));
    out.write(reinterpret_cast<const char *>(b.GetBufferPointer()),
              static_cast<std::streamsize>(b.GetSize()));
    if (!out) {
      error = "cannot write '" + path + "'";
      std::remove(tmp.c_str());
      return false;
    }
  }
  // Replace the output only once it is complete.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "'";
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

bool llmc::runtime::looksLikeArtifact(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in && std::memcmp(magic, kArtifactMagic, 8) == 0;
}

static std::vector<TensorSpec>
readSpecs(const flatbuffers::Vector<flatbuffers::Offset<fb::TensorInfo>> *v,
          bool &ok) {
  std::vector<TensorSpec> out;
  if (!v)
    return out;
  for (const fb::TensorInfo *t : *v) {
    TensorSpec s;
    s.name = t->name() ? t->name()->str() : "";
    ok &= dtypeFromOnnx(t->dtype(), s.dtype);
    if (t->shape())
      s.shape.assign(t->shape()->begin(), t->shape()->end());
    for (int64_t d : s.shape)
      ok &= d >= 0;
    out.push_back(std::move(s));
  }
  return out;
}

std::unique_ptr<Artifact> Artifact::load(const std::string &path,
                                         std::string &error) {
  std::unique_ptr<Artifact> a(new Artifact());
  a->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open the artifact";
    return nullptr;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)kArtifactHeaderSize) {
    ::close(fd);
    error = path + ": not an llmc artifact (too short)";
    return nullptr;
  }
  a->mappingSize_ = static_cast<size_t>(st.st_size);
  a->mapping_ = mmap(nullptr, a->mappingSize_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (a->mapping_ == MAP_FAILED) {
    a->mapping_ = nullptr;
    error = path + ": cannot map the artifact";
    return nullptr;
  }
  const auto *bytes = static_cast<const uint8_t *>(a->mapping_);
  if (std::memcmp(bytes, kArtifactMagic, 8) != 0) {
    error = path + ": not an llmc artifact (bad magic number)";
    return nullptr;
  }
  uint32_t version;
  uint64_t size, checksum;
  std::memcpy(&version, bytes + 8, 4);
  std::memcpy(&size, bytes + 16, 8);
  std::memcpy(&checksum, bytes + 24, 8);
  if (version != kArtifactVersion) {
    error = path + ": unsupported artifact format version " +
            std::to_string(version) + " (this llmc reads version " +
            std::to_string(kArtifactVersion) + ")";
    return nullptr;
  }
  if (size != a->mappingSize_ - kArtifactHeaderSize) {
    error = path + ": truncated or padded artifact (payload of " +
            std::to_string(a->mappingSize_ - kArtifactHeaderSize) +
            " bytes, header says " + std::to_string(size) + ")";
    return nullptr;
  }
  const uint8_t *payload = bytes + kArtifactHeaderSize;
  if (fnv1a(payload, size) != checksum) {
    error = path + ": artifact checksum mismatch: the file is corrupted";
    return nullptr;
  }
  flatbuffers::Verifier verifier(payload, size);
  if (!fb::VerifyExecutableBuffer(verifier)) {
    error = path + ": malformed artifact payload";
    return nullptr;
  }
  const fb::Executable *exe = fb::GetExecutable(payload);
  std::string target = exe->target() ? exe->target()->str() : "";
  if (target != kCpuTarget) {
    error = path + ": the artifact is for target '" + target +
            "'; this runtime runs '" + kCpuTarget + "'";
    return nullptr;
  }
  bool ok = true;
  a->inputs_ = readSpecs(exe->inputs(), ok);
  a->outputs_ = readSpecs(exe->outputs(), ok);
  if (exe->weights())
    for (const fb::Weight *w : *exe->weights()) {
      DType d = DType::F32;
      ok &= w->data() && dtypeFromOnnx(w->dtype(), d);
      WeightView view;
      if (w->shape())
        view.shape.assign(w->shape()->begin(), w->shape()->end());
      ok &= w->data() &&
            static_cast<uint64_t>(numElements(view.shape)) * dtypeSize(d) ==
                w->data()->size();
      view.data = w->data() ? w->data()->data() : nullptr;
      a->weights_.push_back(std::move(view));
    }
  if (exe->report())
    a->report_ = exe->report()->str();
  if (!ok || !exe->shared_object() || !exe->entry()) {
    error = path + ": malformed artifact contents";
    return nullptr;
  }
  // Load the code from an anonymous file.
  int mem = memfd_create("llmc-artifact", MFD_CLOEXEC);
  if (mem < 0) {
    error = path + ": cannot create a memory file for the code";
    return nullptr;
  }
  const uint8_t *so = exe->shared_object()->data();
  size_t left = exe->shared_object()->size();
  while (left > 0) {
    ssize_t n = ::write(mem, so, left);
    if (n <= 0) {
      ::close(mem);
      error = path + ": cannot stage the code";
      return nullptr;
    }
    so += n;
    left -= static_cast<size_t>(n);
  }
  std::string fdPath = "/proc/self/fd/" + std::to_string(mem);
  initializeCpuRuntime();
  // The memfd stays open while the code is loaded: dlopen knows a loaded
  // object by its path, and a closed fd's number (so its /proc path) would
  // be reused by the next artifact, which dlopen would then take for this
  // one.
  a->library_ = dlopen(fdPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  a->codeFd_ = mem;
  if (!a->library_) {
    const char *why = dlerror();
    error = path + ": cannot load the artifact's code: " +
            (why ? why : "unknown error");
    return nullptr;
  }
  a->entry_ = reinterpret_cast<void (*)(void **)>(
      dlsym(a->library_, exe->entry()->c_str()));
  if (!a->entry_) {
    error = path + ": the artifact's code has no entry '" +
            exe->entry()->str() + "'";
    return nullptr;
  }
  return a;
}

Artifact::~Artifact() {
  if (library_)
    dlclose(library_);
  if (codeFd_ >= 0)
    ::close(codeFd_);
  if (mapping_)
    munmap(mapping_, mappingSize_);
}

namespace {
/// {allocated, aligned, offset, sizes, strides} of a dense buffer.
std::vector<int64_t> descriptor(const void *data,
                                const std::vector<int64_t> &shape) {
  std::vector<int64_t> words{reinterpret_cast<int64_t>(data),
                             reinterpret_cast<int64_t>(data), 0};
  words.insert(words.end(), shape.begin(), shape.end());
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  words.insert(words.end(), strides.begin(), strides.end());
  return words;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}
} // namespace

bool Artifact::run(const std::vector<TensorView> &inputs,
                   const std::vector<TensorView> &outputs,
                   std::string &error) const {
  auto check = [&](const std::vector<TensorView> &given,
                   const std::vector<TensorSpec> &specs, const char *what) {
    if (given.size() != specs.size()) {
      error = path_ + ": the artifact takes " + std::to_string(specs.size()) +
              " " + what + "s, got " + std::to_string(given.size());
      return false;
    }
    for (size_t i = 0; i < given.size(); ++i) {
      const TensorSpec &s = specs[i];
      if (given[i].dtype != s.dtype || given[i].shape != s.shape) {
        error = path_ + ": " + what + " '" + s.name + "' must be " +
                dtypeName(s.dtype) + " " + shapeString(s.shape) + ", got " +
                dtypeName(given[i].dtype) + " " +
                shapeString(given[i].shape);
        return false;
      }
      size_t bytes = static_cast<size_t>(numElements(s.shape)) * dtypeSize(s.dtype);
      if (given[i].bytes != bytes || (bytes && !given[i].data)) {
        error = path_ + ": " + what + " '" + s.name + "' has " +
                std::to_string(given[i].bytes) + " bytes of data, expected " +
                std::to_string(bytes);
        return false;
      }
    }
    return true;
  };
  if (!check(inputs, inputs_, "input") || !check(outputs, outputs_, "output"))
    return false;
  std::vector<std::vector<int64_t>> descriptors;
  for (const TensorView &t : inputs)
    descriptors.push_back(descriptor(t.data, t.shape));
  for (const WeightView &w : weights_)
    descriptors.push_back(descriptor(w.data, w.shape));
  for (const TensorView &t : outputs)
    descriptors.push_back(descriptor(t.data, t.shape));
  std::vector<void *> args;
  for (auto &d : descriptors)
    args.push_back(d.data());
  entry_(args.data());
  return true;
}

bool Artifact::run(const std::vector<HostTensor> &inputs,
                   std::vector<HostTensor> &outputs, std::string &error) const {
  std::vector<TensorView> in, out;
  for (const HostTensor &t : inputs)
    in.push_back({t.dtype, t.shape, const_cast<char *>(t.data.data()),
                  t.data.size()});
  outputs.clear();
  for (const TensorSpec &s : outputs_) {
    HostTensor t;
    t.name = s.name;
    t.dtype = s.dtype;
    t.shape = s.shape;
    t.data.assign(t.numElements() * dtypeSize(t.dtype), 0);
    outputs.push_back(std::move(t));
  }
  for (HostTensor &t : outputs)
    out.push_back({t.dtype, t.shape, t.data.data(), t.data.size()});
  return run(in, out, error);
}
