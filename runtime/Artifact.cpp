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
#include "llmc/Runtime/Collectives.h"
#include "llmc/Runtime/CpuKernels.h"
#include "llmc/Runtime/Shards.h"
#include "llmc/Runtime/Cuda.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "Artifact_generated.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llmc::runtime;
namespace fb = llmc::artifact;

static std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

static uint64_t fnv1a(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

static flatbuffers::Offset<fb::CudaProgram>
writeCudaProgram(flatbuffers::FlatBufferBuilder &b, const CudaProgram &p) {
  std::vector<flatbuffers::Offset<fb::CudaBuffer>> buffers;
  for (const CudaBuffer &x : p.buffers)
    buffers.push_back(fb::CreateCudaBuffer(
        b, static_cast<fb::BufferKind>(x.kind), x.index, x.offset, x.bytes));
  std::vector<flatbuffers::Offset<fb::Weight>> constants;
  for (const CudaConstant &x : p.constants)
    constants.push_back(fb::CreateWeight(
        b, static_cast<int32_t>(x.dtype), b.CreateVector(x.shape),
        b.CreateVector(reinterpret_cast<const uint8_t *>(x.data.data()),
                       x.data.size())));
  auto operand = [](const GemmOperand &o) {
    return fb::GemmOperand(o.buffer, o.offset, o.ld, o.batchStride);
  };
  auto convOperand = [](const ConvOperand &o) {
    return fb::ConvOperand(o.buffer, o.offset, o.strides[0], o.strides[1],
                           o.strides[2], o.strides[3]);
  };
  std::vector<flatbuffers::Offset<fb::CudaStep>> steps;
  for (const CudaStep &x : p.steps) {
    flatbuffers::Offset<fb::CudaConv> conv = 0;
    if (x.kind == CudaStep::Conv) {
      const CudaConv &c = x.conv;
      fb::ConvOperand cx = convOperand(c.x), cw = convOperand(c.w),
                      cy = convOperand(c.y), cz = convOperand(c.z);
      conv = fb::CreateCudaConv(
          b, static_cast<int32_t>(c.dtype), b.CreateVector(c.input, 4),
          b.CreateVector(c.filter, 4), b.CreateVector(c.output, 4),
          b.CreateVector(c.pad, 2), b.CreateVector(c.stride, 2),
          b.CreateVector(c.dilation, 2), c.group, c.accumulate, &cx, &cw, &cy,
          c.tf32, static_cast<uint8_t>(c.epilogue), c.biasBuffer,
          c.biasOffset, c.residual, c.residual ? &cz : nullptr);
    }
    flatbuffers::Offset<fb::CudaGemm> gemm = 0;
    if (x.kind == CudaStep::Gemm) {
      const CudaGemm &g = x.gemm;
      fb::GemmOperand a = operand(g.a), bb = operand(g.b), cc = operand(g.c);
      gemm = fb::CreateCudaGemm(b, static_cast<int32_t>(g.dtype), g.batch, g.m,
                                g.n, g.k, g.transA, g.transB, &a, &bb, &cc,
                                g.accumulate, g.tf32,
                                g.cDtype == g.dtype
                                    ? 0
                                    : static_cast<int32_t>(g.cDtype),
                                static_cast<uint8_t>(g.epilogue),
                                g.biasBuffer, g.biasOffset);
    }
    flatbuffers::Offset<fb::CudaCollective> collective = 0;
    if (x.kind == CudaStep::Collective) {
      const CudaCollective &c = x.collective;
      const CollectiveParams &q = c.params;
      collective = fb::CreateCudaCollective(
          b, static_cast<int64_t>(q.kind), q.axis, q.dim,
          static_cast<int64_t>(q.reduce), q.groupSize, q.stepId, q.dim2,
          static_cast<int32_t>(c.dtype), b.CreateVector(c.inShape),
          b.CreateVector(c.outShape), c.in, c.inOffset, c.out, c.outOffset,
          c.hasScratch, c.scratch);
    }
    steps.push_back(fb::CreateCudaStep(
        b, static_cast<fb::StepKind>(x.kind), b.CreateString(x.kernel),
        b.CreateVector(x.grid, 3), b.CreateVector(x.block, 3), x.sharedBytes,
        b.CreateVector(x.args), gemm, b.CreateString(x.node), x.offset,
        x.bytes, conv, collective));
  }
  auto chip = b.CreateString(p.chip), ptx = b.CreateString(p.ptx);
  std::vector<flatbuffers::Offset<flatbuffers::String>> sites;
  for (const std::string &site : p.indexSites)
    sites.push_back(b.CreateString(site));
  auto sitesVec = p.indexSites.empty() ? 0 : b.CreateVector(sites);
  b.ForceVectorAlignment(p.cubin.size(), 1, 64);
  auto cubin = b.CreateVector(
      reinterpret_cast<const uint8_t *>(p.cubin.data()), p.cubin.size());
  return fb::CreateCudaProgram(b, chip, ptx, cubin, p.arenaBytes,
                               b.CreateVector(buffers),
                               b.CreateVector(constants),
                               b.CreateVector(steps), sitesVec);
}

/// Reads and checks a CUDA program: every buffer reference in range, every
/// size consistent. False on anything malformed.
static bool readCudaProgram(const fb::CudaProgram *f, CudaProgram &p) {
  if (!f || !f->chip() || !f->ptx() || !f->buffers() || !f->steps())
    return false;
  p.chip = f->chip()->str();
  p.ptx = f->ptx()->str();
  if (f->index_sites())
    for (const flatbuffers::String *site : *f->index_sites())
      p.indexSites.push_back(site ? site->str() : std::string());
  if (f->cubin())
    p.cubin.assign(reinterpret_cast<const char *>(f->cubin()->data()),
                   f->cubin()->size());
  p.arenaBytes = f->arena_bytes();
  for (const fb::CudaBuffer *x : *f->buffers()) {
    CudaBuffer b;
    if (x->kind() > fb::BufferKind_MAX)
      return false;
    b.kind = static_cast<BufferKind>(x->kind());
    b.index = x->index();
    b.offset = x->offset();
    b.bytes = x->bytes();
    if (b.kind == BufferKind::Arena &&
        (b.offset > p.arenaBytes || b.bytes > p.arenaBytes - b.offset))
      return false;
    p.buffers.push_back(b);
  }
  if (f->constants())
    for (const fb::Weight *x : *f->constants()) {
      CudaConstant c;
      if (!dtypeFromOnnx(x->dtype(), c.dtype) || !x->data())
        return false;
      if (x->shape())
        c.shape.assign(x->shape()->begin(), x->shape()->end());
      c.data.assign(reinterpret_cast<const char *>(x->data()->data()),
                    x->data()->size());
      p.constants.push_back(std::move(c));
    }
  for (const CudaBuffer &b : p.buffers)
    if (b.kind == BufferKind::Constant && b.index >= p.constants.size())
      return false;
  size_t nBuffers = p.buffers.size();
  for (const fb::CudaStep *x : *f->steps()) {
    CudaStep s;
    if (x->kind() > fb::StepKind_MAX)
      return false;
    s.kind = static_cast<CudaStep::Kind>(x->kind());
    s.node = x->node() ? x->node()->str() : "";
    if (s.kind == CudaStep::Memset) {
      s.offset = x->offset();
      s.bytes = x->bytes();
      if (!x->args() || x->args()->size() != 1 || x->args()->Get(0) >= nBuffers)
        return false;
      s.args.push_back(x->args()->Get(0));
      const CudaBuffer &b = p.buffers[s.args[0]];
      if (s.offset > b.bytes || s.bytes > b.bytes - s.offset)
        return false;
    } else if (s.kind == CudaStep::Launch) {
      if (!x->kernel() || !x->grid() || !x->block() || x->grid()->size() != 3 ||
          x->block()->size() != 3)
        return false;
      s.kernel = x->kernel()->str();
      for (int i = 0; i < 3; ++i) {
        s.grid[i] = x->grid()->Get(i);
        s.block[i] = x->block()->Get(i);
        if (s.grid[i] == 0 || s.block[i] == 0)
          return false;
      }
      s.sharedBytes = x->shared_bytes();
      if (x->args())
        for (uint32_t a : *x->args()) {
          if (a >= nBuffers)
            return false;
          s.args.push_back(a);
        }
    } else if (s.kind == CudaStep::Conv) {
      const fb::CudaConv *c = x->conv();
      CudaConv &m = s.conv;
      auto read = [](const flatbuffers::Vector<int64_t> *v, int64_t *out,
                     size_t n) {
        if (!v || v->size() != n)
          return false;
        for (size_t i = 0; i < n; ++i)
          out[i] = v->Get(i);
        return true;
      };
      if (!c || !c->x() || !c->w() || !c->y() ||
          !dtypeFromOnnx(c->dtype(), m.dtype) ||
          !read(c->input(), m.input, 4) || !read(c->filter(), m.filter, 4) ||
          !read(c->output(), m.output, 4) || !read(c->pad(), m.pad, 2) ||
          !read(c->stride(), m.stride, 2) ||
          !read(c->dilation(), m.dilation, 2))
        return false;
      m.group = c->group();
      m.accumulate = c->accumulate();
      m.tf32 = c->tf32();
      auto operand = [](const fb::ConvOperand *o, ConvOperand &out) {
        out.buffer = o->buffer();
        out.offset = o->offset();
        out.strides[0] = o->stride_n();
        out.strides[1] = o->stride_c();
        out.strides[2] = o->stride_h();
        out.strides[3] = o->stride_w();
      };
      operand(c->x(), m.x);
      operand(c->w(), m.w);
      operand(c->y(), m.y);
      m.epilogue = static_cast<ConvEpilogue>(c->epilogue());
      m.biasBuffer = c->bias_buffer();
      m.biasOffset = c->bias_offset();
      m.residual = c->residual();
      if (m.residual) {
        if (!c->z())
          return false;
        operand(c->z(), m.z);
      }
      if (!validConv(m, p.buffers))
        return false;
    } else if (s.kind == CudaStep::Collective) {
      const fb::CudaCollective *c = x->collective();
      if (!c || !c->in_shape() || !c->out_shape() ||
          !dtypeFromOnnx(c->dtype(), s.collective.dtype))
        return false;
      CudaCollective &m = s.collective;
      // Out-of-range enums are refused by validCollective.
      m.params.kind = static_cast<CollectiveKind>(c->kind());
      m.params.axis = c->axis();
      m.params.dim = c->dim();
      m.params.reduce = static_cast<ReduceKind>(c->reduce());
      m.params.groupSize = c->group_size();
      m.params.stepId = c->step_id();
      m.params.dim2 = c->dim2();
      m.inShape.assign(c->in_shape()->begin(), c->in_shape()->end());
      m.outShape.assign(c->out_shape()->begin(), c->out_shape()->end());
      m.in = c->in_buffer();
      m.inOffset = c->in_offset();
      m.out = c->out_buffer();
      m.outOffset = c->out_offset();
      m.hasScratch = c->has_scratch();
      m.scratch = c->scratch_buffer();
      if (!validCollective(m, p.buffers))
        return false;
    } else if (s.kind == CudaStep::Gemm) {
      const fb::CudaGemm *g = x->gemm();
      if (!g || !g->a() || !g->b() || !g->c() ||
          !dtypeFromOnnx(g->dtype(), s.gemm.dtype))
        return false;
      s.gemm.cDtype = s.gemm.dtype;
      if (g->c_dtype() != 0 && !dtypeFromOnnx(g->c_dtype(), s.gemm.cDtype))
        return false;
      CudaGemm &m = s.gemm;
      m.batch = g->batch();
      m.m = g->m();
      m.n = g->n();
      m.k = g->k();
      m.transA = g->trans_a();
      m.transB = g->trans_b();
      m.accumulate = g->accumulate();
      m.tf32 = g->tf32() && m.dtype == DType::F32;
      m.epilogue = static_cast<GemmEpilogue>(g->epilogue());
      m.biasBuffer = g->bias_buffer();
      m.biasOffset = g->bias_offset();
      auto operand = [&](const fb::GemmOperand *o, GemmOperand &out) {
        out = {o->buffer(), o->offset(), o->ld(), o->batch_stride()};
        return out.buffer < nBuffers && out.offset >= 0 && out.ld > 0 &&
               out.batchStride >= 0;
      };
      if (!operand(g->a(), m.a) || !operand(g->b(), m.b) ||
          !operand(g->c(), m.c) || !validGemm(m, p.buffers))
        return false;
    } else {
      return false;
    }
    p.steps.push_back(std::move(s));
  }
  return true;
}

/// True when every collective of `p` runs over an axis of the mesh of
/// `axisSizes` with that axis's size as its group (a program without a
/// mesh has none).
static bool collectivesFitMesh(const CudaProgram &p,
                               const std::vector<int64_t> &axisSizes) {
  for (const CudaStep &s : p.steps) {
    if (s.kind != CudaStep::Collective)
      continue;
    const CollectiveParams &q = s.collective.params;
    if (q.axis >= static_cast<int64_t>(axisSizes.size()) ||
        axisSizes[q.axis] != q.groupSize)
      return false;
  }
  return true;
}

/// Writes header and payload `b` to `path` (through a temporary file, so
/// that a failed write leaves no partial artifact).
static bool writePayload(const std::string &path,
                         flatbuffers::FlatBufferBuilder &b,
                         std::string &error) {
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

bool llmc::runtime::writeArtifact(const std::string &path,
                                  const ArtifactContents &c,
                                  std::string &error) {
  flatbuffers::FlatBufferBuilder b(1 << 20);
  auto specs = [&](const std::vector<TensorSpec> &list) {
    std::vector<flatbuffers::Offset<fb::TensorInfo>> out;
    for (const TensorSpec &t : list)
      out.push_back(fb::CreateTensorInfo(
          b, b.CreateString(t.name), static_cast<int32_t>(t.dtype),
          b.CreateVector(t.shape),
          t.shardAxes.empty() ? 0 : b.CreateVector(t.shardAxes), t.aliasOf, 0,
          t.indexMin, t.indexMax,
          t.indexNode.empty() ? 0 : b.CreateString(t.indexNode)));
    return b.CreateVector(out);
  };
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  for (const ArtifactContents::Weight &w : c.weights) {
    // 64-byte alignment within the buffer, whose start is 64-byte aligned
    // in the file: weights are usable in place from the mapping.
    b.ForceVectorAlignment(w.size, 1, 64);
    auto data = b.CreateVector(reinterpret_cast<const uint8_t *>(w.data),
                               w.size);
    weights.push_back(fb::CreateWeight(
        b, static_cast<int32_t>(w.dtype), b.CreateVector(w.shape), data,
        w.shardAxes.empty() ? 0 : b.CreateVector(w.shardAxes)));
  }
  auto weightsVec = b.CreateVector(weights);
  auto inputs = specs(c.inputs), outputs = specs(c.outputs);
  b.ForceVectorAlignment(c.sharedObject.size(), 1, 64);
  auto so = b.CreateVector(
      reinterpret_cast<const uint8_t *>(c.sharedObject.data()),
      c.sharedObject.size());
  flatbuffers::Offset<fb::CudaProgram> cuda = 0;
  if (c.cuda)
    cuda = writeCudaProgram(b, *c.cuda);
  flatbuffers::Offset<fb::Mesh> mesh = 0;
  if (!c.meshAxisSizes.empty()) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> names;
    for (const std::string &n : c.meshAxisNames)
      names.push_back(b.CreateString(n));
    mesh = fb::CreateMesh(b, b.CreateVector(names),
                          b.CreateVector(c.meshAxisSizes));
  }
  auto root = fb::CreateExecutable(b, b.CreateString(c.target),
                                   b.CreateString(c.entry), inputs, outputs,
                                   weightsVec, so, b.CreateString(c.report),
                                   cuda, mesh);
  b.Finish(root, fb::ExecutableIdentifier());

  return writePayload(path, b, error);
}

bool llmc::runtime::looksLikeArtifact(const std::string &path) {
  std::string notRegular;
  if (!isRegularFile(path, notRegular))
    return false; // opening a FIFO would block
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in && std::memcmp(magic, kArtifactMagic, 8) == 0;
}

static bool isSplitAxes(const std::vector<int> &axes) {
  return std::any_of(axes.begin(), axes.end(), [](int a) { return a >= 0; });
}

static std::vector<TensorSpec>
readSpecs(const flatbuffers::Vector<flatbuffers::Offset<fb::TensorInfo>> *v,
          bool &ok, bool dynamic = false) {
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
      ok &= d >= 0 || (dynamic && d == -1);
    if (t->shard_axes())
      s.shardAxes.assign(t->shard_axes()->begin(), t->shard_axes()->end());
    s.aliasOf = t->aliases_input();
    s.indexMin = t->index_min();
    s.indexMax = t->index_max();
    if (t->index_node())
      s.indexNode = t->index_node()->str();
    if (t->dim_offsets()) {
      s.dimOffsets.assign(t->dim_offsets()->begin(), t->dim_offsets()->end());
      ok &= dynamic && s.dimOffsets.size() == s.shape.size();
    }
    out.push_back(std::move(s));
  }
  return out;
}

/// An output aliasing an input names an input of its own dtype and shape,
/// each input at most once, in an artifact of one device on the CPU.
static bool checkAliases(const std::string &path,
                         const std::vector<TensorSpec> &inputs,
                         const std::vector<TensorSpec> &outputs,
                         std::string &error) {
  std::vector<bool> taken(inputs.size(), false);
  for (const TensorSpec &o : outputs) {
    if (o.aliasOf == -1)
      continue;
    if (o.aliasOf < 0 || static_cast<size_t>(o.aliasOf) >= inputs.size() ||
        taken[o.aliasOf] || inputs[o.aliasOf].dtype != o.dtype ||
        inputs[o.aliasOf].shape != o.shape || !o.shardAxes.empty()) {
      error = path + ": malformed artifact: output '" + o.name +
              "' aliases no input of its type";
      return false;
    }
    taken[o.aliasOf] = true;
  }
  return true;
}

namespace {
/// A read-only mapping of a whole file.
struct Mapping {
  void *data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data)
      munmap(data, size);
  }
};
} // namespace

/// The signed flag of the header's flags word.
constexpr uint32_t kSignedFlag = 1;
constexpr size_t kSignatureOffset = 32, kSignatureBytes = 32;

/// HMAC-SHA256 under `key` of `header` (its first 32 bytes) and `payload`.
static bool artifactMac(const std::string &key, const uint8_t *header,
                        const uint8_t *payload, size_t size,
                        uint8_t mac[kSignatureBytes]) {
  EVP_MAC *hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", digest, 0),
      OSSL_PARAM_construct_end()};
  size_t written = 0;
  bool ok = ctx &&
            EVP_MAC_init(ctx, reinterpret_cast<const unsigned char *>(key.data()),
                         key.size(), params) == 1 &&
            EVP_MAC_update(ctx, header, kSignatureOffset) == 1 &&
            EVP_MAC_update(ctx, payload, size) == 1 &&
            EVP_MAC_final(ctx, mac, &written, kSignatureBytes) == 1 &&
            written == kSignatureBytes;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  return ok;
}

bool llmc::runtime::readSigningKey(const std::string &path, std::string &key,
                                   std::string &error) {
  if (!isRegularFile(path, error))
    return false;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (!in.eof() && !in) {
    error = path + ": cannot read the key";
    return false;
  }
  if (bytes.size() < kMinSigningKeyBytes || bytes.size() > (1u << 20)) {
    error = path + ": a signing key must hold " +
            std::to_string(kMinSigningKeyBytes) +
            " bytes to 1 MiB (e.g. head -c 32 /dev/urandom > KEY), this has " +
            std::to_string(bytes.size());
    return false;
  }
  key = std::move(bytes);
  return true;
}

bool llmc::runtime::signArtifact(const std::string &path,
                                 const std::string &key, std::string &error) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 ||
      st.st_size < static_cast<off_t>(kArtifactHeaderSize)) {
    if (fd >= 0)
      ::close(fd);
    error = path + ": cannot sign it (not a complete artifact)";
    return false;
  }
  size_t size = static_cast<size_t>(st.st_size);
  void *map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    error = path + ": cannot map it to sign it";
    return false;
  }
  auto *bytes = static_cast<uint8_t *>(map);
  uint32_t flags;
  std::memcpy(&flags, bytes + 12, 4);
  flags |= kSignedFlag;
  std::memcpy(bytes + 12, &flags, 4);
  uint8_t mac[kSignatureBytes];
  bool ok = artifactMac(key, bytes, bytes + kArtifactHeaderSize,
                        size - kArtifactHeaderSize, mac);
  if (ok)
    std::memcpy(bytes + kSignatureOffset, mac, kSignatureBytes);
  ok = ok && msync(map, kArtifactHeaderSize, MS_SYNC) == 0;
  munmap(map, size);
  if (!ok)
    error = path + ": signing failed (OpenSSL's HMAC-SHA256)";
  return ok;
}

/// Maps `path` and checks size, magic, version, signature (with
/// `verifyKey`), checksum and the FlatBuffer's structure; the payload's
/// root, or null with `error`.
static const fb::Executable *mapVerified(const std::string &path, Mapping &m,
                                         std::string &error,
                                         const std::string &verifyKey = "") {
  std::string why;
  if (!isRegularFile(path, why)) {
    // `why` is "PATH: reason".
    error = path + ": not an llmc artifact (" +
            why.substr(why.rfind(path + ": ", 0) == 0 ? path.size() + 2 : 0) +
            ")";
    return nullptr;
  }
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
  m.size = static_cast<size_t>(st.st_size);
  m.data = mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m.data == MAP_FAILED) {
    m.data = nullptr;
    error = path + ": cannot map the artifact";
    return nullptr;
  }
  const auto *bytes = static_cast<const uint8_t *>(m.data);
  if (std::memcmp(bytes, kArtifactMagic, 8) != 0) {
    error = path + ": not an llmc artifact (bad magic number)";
    return nullptr;
  }
  uint32_t version;
  uint64_t size, checksum;
  std::memcpy(&version, bytes + 8, 4);
  std::memcpy(&size, bytes + 16, 8);
  std::memcpy(&checksum, bytes + 24, 8);
  // Versions 1 and 2 lack only fields whose defaults mean what they meant
  // (no GEMM epilogue, no convolution epilogue); an older runtime refuses
  // a newer version, whose epilogues it would skip.
  if (version < kOldestArtifactVersion || version > kArtifactVersion) {
    error = path + ": unsupported artifact format version " +
            std::to_string(version) + " (this llmc reads versions " +
            std::to_string(kOldestArtifactVersion) + " to " +
            std::to_string(kArtifactVersion) + ")";
    return nullptr;
  }
  if (size != m.size - kArtifactHeaderSize) {
    error = path + ": truncated or padded artifact (payload of " +
            std::to_string(m.size - kArtifactHeaderSize) +
            " bytes, header says " + std::to_string(size) + ")";
    return nullptr;
  }
  const uint8_t *payload = bytes + kArtifactHeaderSize;
  if (!verifyKey.empty()) {
    // Before anything in the payload is read, the checksum included.
    uint32_t flags;
    std::memcpy(&flags, bytes + 12, 4);
    if (!(flags & kSignedFlag)) {
      error = path + ": the artifact is not signed (--verify takes artifacts "
                     "compiled with --sign)";
      return nullptr;
    }
    uint8_t mac[kSignatureBytes];
    if (!artifactMac(verifyKey, bytes, payload, size, mac)) {
      error = path + ": cannot check the signature (OpenSSL's HMAC-SHA256)";
      return nullptr;
    }
    if (CRYPTO_memcmp(mac, bytes + kSignatureOffset, kSignatureBytes) != 0) {
      error = path + ": the signature does not match the key: the artifact "
                     "was signed with another key, or altered since";
      return nullptr;
    }
  }
  if (fnv1a(payload, size) != checksum) {
    error = path + ": artifact checksum mismatch: the file is corrupted";
    return nullptr;
  }
  flatbuffers::Verifier verifier(payload, size);
  if (!fb::VerifyExecutableBuffer(verifier)) {
    error = path + ": malformed artifact payload";
    return nullptr;
  }
  return fb::GetExecutable(payload);
}

static bool isCudaTarget(const std::string &target) {
  return target.rfind("cuda-sm_", 0) == 0;
}

/// False with `error` for a target this runtime does not run.
static bool knownTarget(const std::string &path, const std::string &target,
                        std::string &error) {
  if (target == kCpuTarget || isCudaTarget(target))
    return true;
  error = path + ": the artifact is for target '" +
          (target.size() > 64 ? target.substr(0, 64) + "..." : target) +
          "'; this runtime runs '" + kCpuTarget + "' and 'cuda-sm_XX'";
  return false;
}

/// A split that the mesh does not allow: a dim split by an axis the mesh
/// lacks, or by one that does not divide it, or one axis on two dims.
static bool validShardAxes(const std::vector<int> &axes,
                           const std::vector<int64_t> &shape,
                           const std::vector<int64_t> &meshSizes) {
  if (axes.empty())
    return true;
  if (axes.size() != shape.size())
    return false;
  std::vector<bool> used(meshSizes.size(), false);
  for (size_t d = 0; d < axes.size(); ++d) {
    int a = axes[d];
    if (a == -1)
      continue;
    if (a < 0 || a >= static_cast<int>(meshSizes.size()) || used[a] ||
        shape[d] % meshSizes[a] != 0)
      return false;
    used[a] = true;
  }
  return true;
}

/// Reads and checks an executable's mesh and every tensor's split against
/// it (a split with no mesh is malformed too): false with `error` naming
/// `path` otherwise. `names` and `sizes` get the mesh (empty: none).
static bool checkMesh(const std::string &path, const fb::Executable *exe,
                      const std::vector<TensorSpec> &inputs,
                      const std::vector<TensorSpec> &outputs,
                      std::vector<std::string> &names,
                      std::vector<int64_t> &sizes, std::string &error) {
  names.clear();
  sizes.clear();
  bool ok = true;
  if (const fb::Mesh *mesh = exe->mesh()) {
    ok = mesh->axis_names() && mesh->axis_sizes() &&
         mesh->axis_names()->size() == mesh->axis_sizes()->size() &&
         mesh->axis_sizes()->size() > 0;
    int64_t devices = 1;
    if (ok)
      for (size_t i = 0; i < mesh->axis_sizes()->size(); ++i) {
        int64_t n = mesh->axis_sizes()->Get(i);
        ok &= n >= 1 && n <= 4096 && mesh->axis_names()->Get(i) != nullptr;
        devices *= ok ? n : 1;
        ok &= devices <= 4096;
        if (ok) {
          names.push_back(mesh->axis_names()->Get(i)->str());
          sizes.push_back(n);
        }
      }
  }
  for (const TensorSpec &t : inputs)
    ok &= validShardAxes(t.shardAxes, t.shape, sizes);
  for (const TensorSpec &t : outputs)
    ok &= validShardAxes(t.shardAxes, t.shape, sizes);
  if (exe->weights())
    for (const fb::Weight *w : *exe->weights()) {
      std::vector<int> axes;
      std::vector<int64_t> shape;
      if (w->shard_axes())
        axes.assign(w->shard_axes()->begin(), w->shard_axes()->end());
      if (w->shape())
        shape.assign(w->shape()->begin(), w->shape()->end());
      ok &= validShardAxes(axes, shape, sizes);
    }
  if (!ok) {
    error = path + ": malformed device mesh in the artifact";
    return false;
  }
  return true;
}

/// "tp=2" or "dp=2,tp=2".
static std::string meshString(const std::vector<std::string> &names,
                              const std::vector<int64_t> &sizes) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < sizes.size(); ++i)
    s += (i ? "," : "") + names[i] + "=" + std::to_string(sizes[i]);
  return s;
}

static std::string processCount(int64_t n) {
  return std::to_string(n) + (n == 1 ? " process" : " processes");
}

bool Artifact::readMesh(const std::string &path, const void *executable,
                        const ProcessLaunch &processes, Artifact &a,
                        std::string &error) {
  const auto *exe = static_cast<const fb::Executable *>(executable);
  if (!checkMesh(path, exe, a.inputs_, a.outputs_, a.meshNames_, a.meshSizes_,
                 error))
    return false;
  if (a.meshSizes_.empty()) {
    if (processes.size <= 1)
      return true;
    error = path + ": this artifact is for one device; " + processes.launcher +
            " started " + processCount(processes.size);
    return false;
  }
  int64_t devices = MeshShape{a.meshNames_, a.meshSizes_}.numDevices();
  if (processes.size > 0 && processes.size != devices) {
    error = path + ": the artifact's mesh " +
            meshString(a.meshNames_, a.meshSizes_) + " has " +
            std::to_string(devices) + " devices; " + processes.launcher +
            " started " + processCount(processes.size);
    return false;
  }
  if (processes.size > 1 && processes.launcher != "mpirun" &&
      !isCudaTarget(a.target_)) {
    error = path + ": a CPU mesh of several processes runs under mpirun "
                   "(Open MPI); " +
            processes.launcher +
            "'s environment is for CUDA meshes (NCCL), or run the CPU mesh "
            "in one process";
    return false;
  }
  if (processes.size > 1) {
    a.processDevice_ = processes.rank;
    a.launch_ = processes;
  }
  // Each device holds its own parts of the split weights, cut once here
  // (in a job of several processes, only this process's device).
  MeshShape shape{a.meshNames_, a.meshSizes_};
  a.deviceWeights_.assign(devices, {});
  for (int64_t rank = 0; rank < devices; ++rank) {
    static const WeightPart none = std::make_shared<std::vector<char>>();
    if (a.processDevice_ >= 0 && rank != a.processDevice_) {
      a.deviceWeights_[rank].assign(a.weights_.size(), none);
      continue;
    }
    std::vector<int64_t> coords = shape.coordinates(rank);
    for (const WeightView &w : a.weights_) {
      if (!std::any_of(w.shardAxes.begin(), w.shardAxes.end(),
                       [](int x) { return x >= 0; })) {
        a.deviceWeights_[rank].push_back(none);
        continue;
      }
      PartKey key{w.data, w.shardAxes, a.meshSizes_, rank};
      if (a.partCache_)
        if (auto it = a.partCache_->find(key); it != a.partCache_->end()) {
          a.deviceWeights_[rank].push_back(it->second);
          continue;
        }
      auto part = std::make_shared<std::vector<char>>(
          numElements(shardShape(w.shape, w.shardAxes, a.meshSizes_)) *
          dtypeSize(w.dtype));
      copyShard(w.data, w.shape, dtypeSize(w.dtype), w.shardAxes,
                a.meshSizes_, coords, part->data());
      if (a.partCache_)
        (*a.partCache_)[key] = part;
      a.deviceWeights_[rank].push_back(std::move(part));
    }
  }
  return true;
}

std::unique_ptr<Artifact> Artifact::load(const std::string &file,
                                         std::string &error,
                                         const std::string &displayName,
                                         const ProcessLaunch &processes,
                                         const std::string &verifyKey) {
  // An artifact's strings (its target, names) may hold anything: the
  // message stays one line.
  std::unique_ptr<Artifact> a =
      loadRaw(file, error, displayName, processes, verifyKey);
  if (!a)
    error = oneLine(error);
  return a;
}

std::unique_ptr<Artifact> Artifact::loadRaw(const std::string &file,
                                         std::string &error,
                                         const std::string &displayName,
                                         const ProcessLaunch &processes,
                                         const std::string &verifyKey) {
  std::unique_ptr<Artifact> a(new Artifact());
  const std::string &path = displayName.empty() ? file : displayName;
  a->path_ = path;
  Mapping m;
  const fb::Executable *exe = mapVerified(file, m, error, verifyKey);
  if (!exe && !displayName.empty() && error.rfind(file, 0) == 0)
    error = displayName + error.substr(file.size());
  if (!exe)
    return nullptr;
  a->mapping_ = m.data;
  a->mappingSize_ = m.size;
  m.data = nullptr;
  std::vector<const void *> weights;
  if (exe->weights())
    for (const fb::Weight *w : *exe->weights())
      weights.push_back(w);
  if (!exe->variants()) {
    if (!loadExecutable(path, exe, weights, processes, *a, error))
      return nullptr;
    return a;
  }
  return loadDynamic(path, exe, weights, processes, std::move(a), error);
}

/// Reads and checks the dynamic dims of `exe` against its signature: every
/// -1 dim of an input or output is one dim's, each dim appears in an input.
static bool readDynamicDims(const fb::Executable *exe,
                            const std::vector<TensorSpec> &inputs,
                            const std::vector<TensorSpec> &outputs,
                            std::vector<DynamicDim> &dims) {
  if (!exe->dynamic() || exe->dynamic()->size() == 0 ||
      exe->dynamic()->size() > 64)
    return false;
  std::vector<std::vector<int>> inputOwner, outputOwner;
  for (const TensorSpec &t : inputs)
    inputOwner.emplace_back(t.shape.size(), -1);
  for (const TensorSpec &t : outputs)
    outputOwner.emplace_back(t.shape.size(), -1);
  for (const fb::DynamicDim *f : *exe->dynamic()) {
    DynamicDim d;
    if (!f->name() || !f->inputs() || f->inputs()->size() == 0)
      return false;
    d.name = f->name()->str();
    d.min = f->min();
    d.max = f->max();
    d.padded = f->padded();
    d.why = f->why() ? f->why()->str() : "";
    if (d.min < 1 || d.max < d.min || d.max > (int64_t(1) << 40))
      return false;
    auto refs = [&](const flatbuffers::Vector<const fb::DimRef *> *v,
                    const std::vector<TensorSpec> &specs,
                    std::vector<std::vector<int>> &owner,
                    std::vector<DynamicDim::Ref> &out, bool shared) {
      if (!v)
        return true;
      for (const fb::DimRef *r : *v) {
        // An output's dim may be a sum of dims' (past + new tokens), each
        // at most once; an input's is one dim's.
        if (r->tensor() >= specs.size() ||
            r->axis() >= specs[r->tensor()].shape.size() || r->scale() < 1 ||
            r->scale() > (int64_t(1) << 40) ||
            specs[r->tensor()].shape[r->axis()] != -1 ||
            (owner[r->tensor()][r->axis()] != -1 &&
             (!shared || owner[r->tensor()][r->axis()] ==
                             static_cast<int>(dims.size()))))
          return false;
        owner[r->tensor()][r->axis()] = static_cast<int>(dims.size());
        out.push_back({static_cast<int>(r->tensor()),
                       static_cast<int>(r->axis()), r->scale()});
      }
      return true;
    };
    if (!refs(f->inputs(), inputs, inputOwner, d.inputs, false) ||
        !refs(f->outputs(), outputs, outputOwner, d.outputs, true))
      return false;
    dims.push_back(std::move(d));
  }
  for (size_t t = 0; t < inputs.size(); ++t)
    for (size_t a = 0; a < inputs[t].shape.size(); ++a)
      if (inputs[t].shape[a] == -1 && inputOwner[t][a] < 0)
        return false;
  for (size_t t = 0; t < outputs.size(); ++t)
    for (size_t a = 0; a < outputs[t].shape.size(); ++a)
      if (outputs[t].shape[a] == -1 && outputOwner[t][a] < 0)
        return false;
  return true;
}

/// The output shapes of a dynamic signature at dims' `sizes`.
static std::vector<std::vector<int64_t>>
outputShapes(const std::vector<TensorSpec> &outputs,
             const std::vector<DynamicDim> &dims,
             const std::vector<int64_t> &sizes) {
  std::vector<std::vector<int64_t>> shapes;
  for (const TensorSpec &t : outputs) {
    shapes.push_back(t.shape);
    for (size_t d = 0; d < t.shape.size(); ++d)
      if (t.shape[d] == -1)
        shapes.back()[d] = d < t.dimOffsets.size() ? t.dimOffsets[d] : 0;
  }
  for (size_t k = 0; k < dims.size(); ++k)
    for (const DynamicDim::Ref &r : dims[k].outputs)
      shapes[r.tensor][r.axis] += sizes[k] * r.scale;
  return shapes;
}

/// The sizes of `dims` in a signature of static `shapes` (a variant's, or
/// a caller's inputs), or false when a dim's refs disagree or a scale does
/// not divide. `which` picks the refs: inputs or outputs.
static bool dimSizes(const std::vector<DynamicDim> &dims,
                     const std::vector<std::vector<int64_t>> &shapes,
                     bool outputs, std::vector<int64_t> &sizes) {
  sizes.assign(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i)
    for (const DynamicDim::Ref &r : outputs ? dims[i].outputs : dims[i].inputs) {
      int64_t n = shapes[r.tensor][r.axis];
      if (n % r.scale != 0 || (sizes[i] >= 0 && sizes[i] != n / r.scale))
        return false;
      sizes[i] = n / r.scale;
    }
  return true;
}

std::unique_ptr<Artifact>
Artifact::loadDynamic(const std::string &path, const void *executable,
                      const std::vector<const void *> &weights,
                      const ProcessLaunch &processes,
                      std::unique_ptr<Artifact> a, std::string &error) {
  const auto *exe = static_cast<const fb::Executable *>(executable);
  std::string target = exe->target() ? exe->target()->str() : "";
  a->target_ = target;
  if (!knownTarget(path, target, error))
    return nullptr;
  if (processes.size > 1) {
    error = path + ": this artifact is for one device; " + processes.launcher +
            " started " + processCount(processes.size);
    return nullptr;
  }
  bool ok = !exe->mesh() && !exe->shared_object() && !exe->cuda() &&
            !exe->weight_refs() && exe->variants()->size() > 0 &&
            exe->variants()->size() <= 4096;
  a->inputs_ = readSpecs(exe->inputs(), ok, true);
  a->outputs_ = readSpecs(exe->outputs(), ok, true);
  for (const TensorSpec &t : a->inputs_)
    ok &= t.shardAxes.empty();
  for (const TensorSpec &t : a->outputs_)
    ok &= t.shardAxes.empty() && t.aliasOf == -1;
  ok = ok && readDynamicDims(exe, a->inputs_, a->outputs_, a->dynamic_);
  if (!ok) {
    error = path + ": malformed dynamic artifact";
    return nullptr;
  }
  if (exe->report())
    a->report_ = exe->report()->str();
  // Each variant: static shapes that agree with the signature, its weights
  // taken from the shared table.
  auto matches = [](const std::vector<TensorSpec> &sig,
                    const std::vector<TensorSpec> &v) {
    if (sig.size() != v.size())
      return false;
    for (size_t i = 0; i < sig.size(); ++i) {
      if (sig[i].name != v[i].name || sig[i].dtype != v[i].dtype ||
          sig[i].shape.size() != v[i].shape.size() || v[i].aliasOf != -1)
        return false;
      for (size_t d = 0; d < sig[i].shape.size(); ++d)
        if (sig[i].shape[d] != -1 && sig[i].shape[d] != v[i].shape[d])
          return false;
    }
    return true;
  };
  for (const fb::Executable *v : *exe->variants()) {
    std::vector<const void *> own;
    bool good = !v->variants() && !v->weights() && !v->dynamic() &&
                (!v->mesh() || !isCudaTarget(target)) && v->target() &&
                v->target()->str() == target;
    if (good && v->weight_refs())
      for (uint32_t r : *v->weight_refs()) {
        good &= r < weights.size();
        if (good)
          own.push_back(weights[r]);
      }
    if (!good) {
      error = path + ": malformed dynamic artifact (variant " +
              std::to_string(a->variants_.size()) + ")";
      return nullptr;
    }
    std::unique_ptr<Artifact> variant(new Artifact());
    variant->path_ = path;
    // On a mesh, variants that split a weight alike share its parts.
    if (!a->partCache_)
      a->partCache_ = std::make_shared<std::map<PartKey, WeightPart>>();
    variant->partCache_ = a->partCache_;
    // The variants' CUDA executables share the device copies of the
    // weights (each is uploaded once); the last variants die first.
    if (!loadExecutable(path, v, own, processes, *variant, error,
                        &a->deviceWeightCopies_))
      return nullptr;
    std::vector<std::vector<int64_t>> in, out;
    for (const TensorSpec &t : variant->inputs_)
      in.push_back(t.shape);
    for (const TensorSpec &t : variant->outputs_)
      out.push_back(t.shape);
    std::vector<int64_t> sizes;
    good = matches(a->inputs_, variant->inputs_) &&
           matches(a->outputs_, variant->outputs_) &&
           dimSizes(a->dynamic_, in, false, sizes);
    for (size_t i = 0; good && i < sizes.size(); ++i)
      good = sizes[i] >= a->dynamic_[i].min && sizes[i] <= a->dynamic_[i].max;
    good = good && outputShapes(a->outputs_, a->dynamic_, sizes) == out;
    if (!good) {
      error = path + ": malformed dynamic artifact (variant " +
              std::to_string(a->variants_.size()) +
              " does not match the signature)";
      return nullptr;
    }
    a->variants_.push_back(std::move(variant));
    a->variantSizes_.push_back(std::move(sizes));
  }
  // Every size a range promises has a variant: the variants are every
  // combination of each dim's sizes, which are every size of an exact
  // dim's range, and reach a padded dim's largest.
  std::vector<std::set<int64_t>> perDim(a->dynamic_.size());
  for (const std::vector<int64_t> &sizes : a->variantSizes_)
    for (size_t k = 0; k < sizes.size(); ++k)
      perDim[k].insert(sizes[k]);
  size_t combinations = 1;
  for (size_t k = 0; k < perDim.size(); ++k) {
    const DynamicDim &d = a->dynamic_[k];
    bool covered = d.padded ? *perDim[k].rbegin() >= d.max
                            : perDim[k].size() ==
                                  static_cast<size_t>(d.max - d.min + 1);
    if (!covered) {
      error = path + ": malformed dynamic artifact: the variants do not cover '" +
              d.name + "'=" + std::to_string(d.min) + ".." +
              std::to_string(d.max);
      return nullptr;
    }
    combinations *= perDim[k].size();
  }
  std::set<std::vector<int64_t>> distinct(a->variantSizes_.begin(),
                                          a->variantSizes_.end());
  if (distinct.size() != a->variantSizes_.size() ||
      combinations != distinct.size()) {
    error = path + ": malformed dynamic artifact: the variants are not every "
                   "combination of the dims' sizes";
    return nullptr;
  }
  return a;
}

bool Artifact::pickVariant(const std::vector<std::vector<int64_t>> &shapes,
                           std::vector<int64_t> &sizes, size_t &variant,
                           std::string &error) const {
  if (shapes.size() != inputs_.size()) {
    error = path_ + ": the artifact takes " + std::to_string(inputs_.size()) +
            " inputs, got " + std::to_string(shapes.size());
    return false;
  }
  sizes.assign(dynamic_.size(), -1);
  std::vector<std::string> seenAt(dynamic_.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const TensorSpec &s = inputs_[i];
    bool fits = shapes[i].size() == s.shape.size();
    for (size_t d = 0; fits && d < s.shape.size(); ++d)
      fits = s.shape[d] == -1 || s.shape[d] == shapes[i][d];
    if (!fits) {
      // The signature with the dims' names: [batch, seq, 4].
      std::string shape = "[";
      for (size_t d = 0; d < s.shape.size(); ++d) {
        std::string dim = std::to_string(s.shape[d]);
        for (const DynamicDim &k : dynamic_)
          for (const DynamicDim::Ref &r : k.inputs)
            if (r.tensor == static_cast<int>(i) && r.axis == static_cast<int>(d))
              dim = k.name;
        shape += (d ? ", " : "") + dim;
      }
      error = path_ + ": input '" + s.name + "' must be " +
              dtypeName(s.dtype) + " " + shape + "], got " +
              shapeString(shapes[i]);
      return false;
    }
  }
  for (size_t k = 0; k < dynamic_.size(); ++k) {
    const DynamicDim &dim = dynamic_[k];
    for (const DynamicDim::Ref &r : dim.inputs) {
      const std::string &name = inputs_[r.tensor].name;
      int64_t n = shapes[r.tensor][r.axis];
      std::string where = "input '" + name + "' dim " + std::to_string(r.axis);
      if (n % r.scale != 0 || n / r.scale < dim.min || n / r.scale > dim.max) {
        error = path_ + ": " + where + " ('" + dim.name + "') is " +
                std::to_string(n) + ", outside the artifact's range " +
                std::to_string(dim.min * r.scale) + ".." +
                std::to_string(dim.max * r.scale) +
                (r.scale > 1 ? " in steps of " + std::to_string(r.scale) : "");
        return false;
      }
      if (sizes[k] >= 0 && sizes[k] != n / r.scale) {
        error = path_ + ": " + where + " ('" + dim.name + "') is " +
                std::to_string(n) + " but " + seenAt[k] + " is " +
                std::to_string(sizes[k]) + ": both are '" + dim.name + "'";
        return false;
      }
      sizes[k] = n / r.scale;
      seenAt[k] = where;
    }
  }
  // The smallest variant that holds the sizes: equal on exact dims, at
  // least as large on padded ones.
  bool found = false;
  double best = 0;
  for (size_t v = 0; v < variants_.size(); ++v) {
    const std::vector<int64_t> &vs = variantSizes_[v];
    bool holds = true;
    double cost = 1;
    for (size_t k = 0; holds && k < dynamic_.size(); ++k) {
      holds = dynamic_[k].padded ? vs[k] >= sizes[k] : vs[k] == sizes[k];
      cost *= static_cast<double>(vs[k]);
    }
    if (holds && (!found || cost < best)) {
      found = true;
      best = cost;
      variant = v;
    }
  }
  if (!found) {
    error = path_ + ": malformed dynamic artifact: no variant for the sizes";
    return false;
  }
  return true;
}

bool Artifact::outputSpecs(const std::vector<std::vector<int64_t>> &shapes,
                           std::vector<TensorSpec> &outputs,
                           std::string &error) const {
  outputs = outputs_;
  if (variants_.empty())
    return true;
  std::vector<int64_t> sizes;
  size_t variant = 0;
  if (!pickVariant(shapes, sizes, variant, error))
    return false;
  std::vector<std::vector<int64_t>> out =
      outputShapes(outputs_, dynamic_, sizes);
  for (size_t i = 0; i < outputs.size(); ++i) {
    outputs[i].shape = out[i];
    outputs[i].dimOffsets.clear();
  }
  return true;
}

namespace {
/// Copies the box at the origin that both C-order tensors hold, from
/// `src` (of shape `from`) into `dst` (of shape `to`).
void copyBox(const char *src, const std::vector<int64_t> &from, char *dst,
             const std::vector<int64_t> &to, size_t elementBytes) {
  size_t rank = from.size();
  if (rank == 0) {
    std::memcpy(dst, src, elementBytes);
    return;
  }
  std::vector<int64_t> box(rank), srcStride(rank, 1), dstStride(rank, 1);
  for (size_t d = 0; d < rank; ++d)
    box[d] = std::min(from[d], to[d]);
  for (size_t d = rank - 1; d > 0; --d) {
    srcStride[d - 1] = srcStride[d] * from[d];
    dstStride[d - 1] = dstStride[d] * to[d];
  }
  for (int64_t n : box)
    if (n == 0)
      return;
  // Rows of the innermost dim, over every index of the outer ones.
  std::vector<int64_t> index(rank, 0);
  size_t rowBytes = static_cast<size_t>(box[rank - 1]) * elementBytes;
  while (true) {
    int64_t s = 0, t = 0;
    for (size_t d = 0; d + 1 < rank; ++d) {
      s += index[d] * srcStride[d];
      t += index[d] * dstStride[d];
    }
    std::memcpy(dst + t * elementBytes, src + s * elementBytes, rowBytes);
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++index[d] < box[d])
        break;
      index[d] = 0;
      if (d == 0)
        return;
    }
    if (rank == 1)
      return;
  }
}
} // namespace

bool Artifact::runDynamic(const std::vector<TensorView> &inputs,
                          const std::vector<TensorView> &outputs,
                          std::string &error) const {
  std::vector<std::vector<int64_t>> shapes;
  for (const TensorView &t : inputs)
    shapes.push_back(t.shape);
  std::vector<int64_t> sizes;
  size_t v = 0;
  if (!pickVariant(shapes, sizes, v, error))
    return false;
  const Artifact &variant = *variants_[v];
  if (sizes == variantSizes_[v])
    return variant.run(inputs, outputs, error);
  // Padded: the inputs in zeroed buffers of the variant's shapes, the
  // outputs cut back from the variant's.
  std::vector<TensorSpec> want;
  if (!outputSpecs(shapes, want, error))
    return false;
  std::vector<TensorView> given(inputs.begin(), inputs.end());
  for (size_t i = 0; i < inputs.size(); ++i)
    given[i].shape = variant.inputs_[i].shape; // checked below, data aside
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].dtype != inputs_[i].dtype ||
        inputs[i].bytes != static_cast<size_t>(numElements(inputs[i].shape)) *
                               dtypeSize(inputs_[i].dtype) ||
        (inputs[i].bytes && !inputs[i].data)) {
      error = path_ + ": input '" + inputs_[i].name + "' must be " +
              dtypeName(inputs_[i].dtype) + " " +
              shapeString(inputs[i].shape) + " (" +
              std::to_string(numElements(inputs[i].shape) *
                             dtypeSize(inputs_[i].dtype)) +
              " bytes), got " + dtypeName(inputs[i].dtype) + " of " +
              std::to_string(inputs[i].bytes) + " bytes";
      return false;
    }
  std::vector<TensorView> wantViews;
  for (const TensorSpec &s : want)
    wantViews.push_back({s.dtype, s.shape, nullptr, 0});
  if (outputs.size() != want.size()) {
    error = path_ + ": the artifact gives " + std::to_string(want.size()) +
            " outputs, got " + std::to_string(outputs.size());
    return false;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    size_t bytes =
        static_cast<size_t>(numElements(want[i].shape)) * dtypeSize(want[i].dtype);
    if (outputs[i].dtype != want[i].dtype || outputs[i].shape != want[i].shape ||
        outputs[i].bytes != bytes || (bytes && !outputs[i].data)) {
      error = path_ + ": output '" + want[i].name + "' must be " +
              dtypeName(want[i].dtype) + " " + shapeString(want[i].shape) +
              " (" + std::to_string(bytes) + " bytes), got " +
              dtypeName(outputs[i].dtype) + " " +
              shapeString(outputs[i].shape);
      return false;
    }
  }
  std::vector<std::vector<char>> inBuf(inputs.size()), outBuf(outputs.size());
  std::vector<TensorView> in, out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &s = variant.inputs_[i];
    inBuf[i].assign(numElements(s.shape) * dtypeSize(s.dtype), 0);
    copyBox(static_cast<const char *>(inputs[i].data), inputs[i].shape,
            inBuf[i].data(), s.shape, dtypeSize(s.dtype));
    in.push_back({s.dtype, s.shape, inBuf[i].data(), inBuf[i].size()});
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorSpec &s = variant.outputs_[i];
    outBuf[i].assign(numElements(s.shape) * dtypeSize(s.dtype), 0);
    out.push_back({s.dtype, s.shape, outBuf[i].data(), outBuf[i].size()});
  }
  if (!variant.run(in, out, error))
    return false;
  for (size_t i = 0; i < outputs.size(); ++i)
    copyBox(outBuf[i].data(), variant.outputs_[i].shape,
            static_cast<char *>(outputs[i].data), outputs[i].shape,
            dtypeSize(want[i].dtype));
  return true;
}

bool Artifact::loadExecutable(const std::string &path, const void *executable,
                              const std::vector<const void *> &weightList,
                              const ProcessLaunch &processes, Artifact &a,
                              std::string &error,
                              std::map<const void *, uint64_t> *sharedWeights) {
  const auto *exe = static_cast<const fb::Executable *>(executable);
  std::string target = exe->target() ? exe->target()->str() : "";
  a.target_ = target;
  if (!knownTarget(path, target, error))
    return false;
  bool ok = true;
  a.inputs_ = readSpecs(exe->inputs(), ok);
  a.outputs_ = readSpecs(exe->outputs(), ok);
  if (ok && !checkAliases(path, a.inputs_, a.outputs_, error))
    return false;
  for (const void *weight : weightList) {
    const auto *w = static_cast<const fb::Weight *>(weight);
    DType d = DType::F32;
    ok &= w->data() && dtypeFromOnnx(w->dtype(), d);
    WeightView view;
    if (w->shape())
      view.shape.assign(w->shape()->begin(), w->shape()->end());
    for (int64_t x : view.shape)
      ok &= x >= 0;
    ok &= w->data() &&
          static_cast<uint64_t>(numElements(view.shape)) * dtypeSize(d) ==
              w->data()->size();
    view.data = w->data() ? w->data()->data() : nullptr;
    view.dtype = d;
    if (w->shard_axes())
      view.shardAxes.assign(w->shard_axes()->begin(), w->shard_axes()->end());
    a.weights_.push_back(std::move(view));
  }
  if (ok && !readMesh(path, exe, processes, a, error))
    return false;
  bool aliases = std::any_of(a.outputs_.begin(), a.outputs_.end(),
                             [](const TensorSpec &o) { return o.aliasOf >= 0; });
  if (ok && aliases && !a.meshSizes_.empty()) {
    error = path + ": malformed artifact: donated inputs in a mesh program";
    return false;
  }
  if (exe->report())
    a.report_ = exe->report()->str();
  if (ok && isCudaTarget(target)) {
    CudaProgram program;
    if (!readCudaProgram(exe->cuda(), program) ||
        program.chip != target.substr(5)) {
      error = path + ": malformed CUDA program in the artifact";
      return false;
    }
    // The inputs' and outputs' buffers are the signature's tensors (a
    // device's parts of them on a mesh): runs copy exactly that many bytes.
    // A donated input's output has no buffer: it is read from the input's.
    auto bytesOf = [&](const TensorSpec &t) {
      return static_cast<uint64_t>(
                 numElements(shardShape(t.shape, t.shardAxes, a.meshSizes_))) *
             dtypeSize(t.dtype);
    };
    for (const CudaBuffer &b : program.buffers) {
      bool input = b.kind == BufferKind::Input,
           output = b.kind == BufferKind::Output;
      if (!input && !output)
        continue;
      const std::vector<TensorSpec> &specs = input ? a.inputs_ : a.outputs_;
      if (b.index >= specs.size() || bytesOf(specs[b.index]) != b.bytes ||
          (output && specs[b.index].aliasOf >= 0)) {
        error = path + ": malformed CUDA program in the artifact: " +
                (input ? "input " : "output ") + std::to_string(b.index) +
                "'s buffer does not match the signature";
        return false;
      }
    }
    for (const TensorSpec &o : a.outputs_) {
      program.outputAliases.push_back(o.aliasOf);
      program.outputNames.push_back(o.name);
    }
    for (const TensorSpec &i : a.inputs_)
      program.inputNames.push_back(i.name);
    if (!collectivesFitMesh(program, a.meshSizes_)) {
      error = path + ": malformed CUDA program in the artifact: a collective "
                     "over an axis the mesh does not have";
      return false;
    }
    std::vector<HostBytes> weights;
    for (const void *weight : weightList) {
      const auto *w = static_cast<const fb::Weight *>(weight);
      weights.push_back({w->data()->data(), w->data()->size()});
    }
    if (!a.meshSizes_.empty()) {
      // Each GPU gets its own parts of the split weights.
      MeshShape mesh{a.meshNames_, a.meshSizes_};
      std::vector<std::vector<HostBytes>> perDevice;
      for (int64_t rank = 0; rank < mesh.numDevices(); ++rank) {
        perDevice.push_back(weights);
        for (size_t i = 0; i < weights.size(); ++i) {
          const std::vector<char> &own = *a.deviceWeights_[rank][i];
          if (isSplitAxes(a.weights_[i].shardAxes))
            perDevice.back()[i] = {own.data(), own.size()};
        }
      }
      a.cudaMesh_ = CudaMesh::create(
          program, mesh, perDevice, error,
          a.processDevice_ >= 0 ? &a.launch_ : nullptr);
      if (!a.cudaMesh_) {
        error = path + ": " + error;
        return false;
      }
      return true;
    }
    a.cuda_ = CudaExecutable::create(std::move(program), weights, error,
                                     sharedWeights);
    if (!a.cuda_) {
      error = path + ": " + error;
      return false;
    }
    return true;
  }
  if (!ok || !exe->shared_object() || !exe->entry()) {
    error = path + ": malformed artifact contents";
    return false;
  }
  // Load the code from an anonymous file.
  int mem = memfd_create("llmc-artifact", MFD_CLOEXEC);
  if (mem < 0) {
    error = path + ": cannot create a memory file for the code";
    return false;
  }
  const uint8_t *so = exe->shared_object()->data();
  size_t left = exe->shared_object()->size();
  while (left > 0) {
    ssize_t n = ::write(mem, so, left);
    if (n <= 0) {
      ::close(mem);
      error = path + ": cannot stage the code";
      return false;
    }
    so += n;
    left -= static_cast<size_t>(n);
  }
  std::string fdPath = "/proc/self/fd/" + std::to_string(mem);
  if (!cpuBlasAvailable(error)) {
    ::close(mem);
    error = path + ": " + error;
    return false;
  }
  initializeCpuRuntime();
  // The memfd stays open while the code is loaded: dlopen knows a loaded
  // object by its path, and a closed fd's number (so its /proc path) would
  // be reused by the next artifact, which dlopen would then take for this
  // one.
  a.library_ = dlopen(fdPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  a.codeFd_ = mem;
  if (!a.library_) {
    const char *why = dlerror();
    error = path + ": cannot load the artifact's code: " +
            (why ? why : "unknown error");
    return false;
  }
  a.entry_ = reinterpret_cast<void (*)(void **)>(
      dlsym(a.library_, exe->entry()->c_str()));
  if (!a.entry_) {
    error = path + ": the artifact's code has no entry '" +
            exe->entry()->str() + "'";
    return false;
  }
  return true;
}

bool llmc::runtime::writeDynamicArtifact(
    const std::string &path, const std::vector<std::string> &variantPaths,
    const std::vector<TensorSpec> &inputs,
    const std::vector<TensorSpec> &outputs,
    const std::vector<DynamicDim> &dynamic, const std::string &report,
    std::string &error) {
  flatbuffers::FlatBufferBuilder b(1 << 20);
  std::vector<Mapping> maps(variantPaths.size());
  std::vector<const fb::Executable *> exes;
  for (size_t i = 0; i < variantPaths.size(); ++i) {
    const fb::Executable *exe = mapVerified(variantPaths[i], maps[i], error);
    if (!exe)
      return false;
    if (exe->variants() || !exe->target() ||
        (exe->mesh() && isCudaTarget(exe->target()->str()))) {
      error = variantPaths[i] + ": not a static artifact for one device or "
                                "a mesh of CPU devices";
      return false;
    }
    exes.push_back(exe);
  }
  // Every variant's weights, each distinct one stored once (a weight that
  // variants on a mesh split differently is stored per split).
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  std::map<std::tuple<int32_t, std::vector<int64_t>, uint64_t, size_t,
                      std::vector<int32_t>>,
           std::vector<uint32_t>>
      seen; // (dtype, shape, hash, size, split) -> stored weights
  std::vector<const fb::Weight *> stored;
  std::vector<std::vector<uint32_t>> refs(exes.size());
  for (size_t v = 0; v < exes.size(); ++v) {
    if (!exes[v]->weights())
      continue;
    for (const fb::Weight *w : *exes[v]->weights()) {
      std::vector<int64_t> shape;
      if (w->shape())
        shape.assign(w->shape()->begin(), w->shape()->end());
      const uint8_t *data = w->data() ? w->data()->data() : nullptr;
      size_t size = w->data() ? w->data()->size() : 0;
      std::vector<int32_t> split;
      if (w->shard_axes())
        split.assign(w->shard_axes()->begin(), w->shard_axes()->end());
      auto key =
          std::make_tuple(w->dtype(), shape, fnv1a(data, size), size, split);
      uint32_t index = UINT32_MAX;
      for (uint32_t candidate : seen[key])
        if (size == 0 ||
            std::memcmp(stored[candidate]->data()->data(), data, size) == 0)
          index = candidate;
      if (index == UINT32_MAX) {
        index = static_cast<uint32_t>(stored.size());
        seen[key].push_back(index);
        stored.push_back(w);
        b.ForceVectorAlignment(size, 1, 64);
        auto bytes = b.CreateVector(data, size);
        weights.push_back(fb::CreateWeight(
            b, w->dtype(), b.CreateVector(shape), bytes,
            split.empty() ? 0 : b.CreateVector(split)));
      }
      refs[v].push_back(index);
    }
  }
  auto specs = [&](const std::vector<TensorSpec> &list) {
    std::vector<flatbuffers::Offset<fb::TensorInfo>> out;
    for (const TensorSpec &t : list)
      out.push_back(fb::CreateTensorInfo(
          b, b.CreateString(t.name), static_cast<int32_t>(t.dtype),
          b.CreateVector(t.shape), 0, -1,
          t.dimOffsets.empty() ? 0 : b.CreateVector(t.dimOffsets)));
    return b.CreateVector(out);
  };
  auto copySpecs = [&](const flatbuffers::Vector<
                       flatbuffers::Offset<fb::TensorInfo>> *v) {
    std::vector<flatbuffers::Offset<fb::TensorInfo>> out;
    if (v)
      for (const fb::TensorInfo *t : *v) {
        std::vector<int64_t> shape;
        if (t->shape())
          shape.assign(t->shape()->begin(), t->shape()->end());
        std::vector<int32_t> split;
        if (t->shard_axes())
          split.assign(t->shard_axes()->begin(), t->shard_axes()->end());
        out.push_back(fb::CreateTensorInfo(
            b, b.CreateString(t->name() ? t->name()->str() : ""), t->dtype(),
            b.CreateVector(shape), split.empty() ? 0 : b.CreateVector(split),
            -1, 0, t->index_min(), t->index_max(),
            t->index_node() ? b.CreateString(t->index_node()->str()) : 0));
      }
    return b.CreateVector(out);
  };
  std::vector<flatbuffers::Offset<fb::Executable>> variants;
  for (size_t v = 0; v < exes.size(); ++v) {
    const fb::Executable *e = exes[v];
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> so = 0;
    if (e->shared_object()) {
      b.ForceVectorAlignment(e->shared_object()->size(), 1, 64);
      so = b.CreateVector(e->shared_object()->data(),
                          e->shared_object()->size());
    }
    flatbuffers::Offset<fb::CudaProgram> cuda = 0;
    if (e->cuda()) {
      CudaProgram p;
      if (!readCudaProgram(e->cuda(), p)) {
        error = variantPaths[v] + ": malformed CUDA program in the artifact";
        return false;
      }
      cuda = writeCudaProgram(b, p);
    }
    auto in = copySpecs(e->inputs()), out = copySpecs(e->outputs());
    auto refVec = b.CreateVector(refs[v]);
    flatbuffers::Offset<fb::Mesh> mesh = 0;
    if (const fb::Mesh *m = e->mesh()) {
      std::vector<flatbuffers::Offset<flatbuffers::String>> names;
      if (m->axis_names())
        for (const flatbuffers::String *n : *m->axis_names())
          names.push_back(b.CreateString(n->str()));
      std::vector<int64_t> sizes;
      if (m->axis_sizes())
        sizes.assign(m->axis_sizes()->begin(), m->axis_sizes()->end());
      mesh = fb::CreateMesh(b, b.CreateVector(names), b.CreateVector(sizes));
    }
    // Strings first: nothing may be created while a table is being built.
    auto target = b.CreateString(e->target()->str());
    auto entry = b.CreateString(e->entry() ? e->entry()->str() : "");
    fb::ExecutableBuilder eb(b);
    eb.add_target(target);
    eb.add_entry(entry);
    eb.add_inputs(in);
    eb.add_outputs(out);
    if (!so.IsNull())
      eb.add_shared_object(so);
    if (!cuda.IsNull())
      eb.add_cuda(cuda);
    eb.add_weight_refs(refVec);
    if (!mesh.IsNull())
      eb.add_mesh(mesh);
    variants.push_back(eb.Finish());
  }
  std::vector<flatbuffers::Offset<fb::DynamicDim>> dims;
  for (const DynamicDim &d : dynamic) {
    auto refsOf = [&](const std::vector<DynamicDim::Ref> &list) {
      std::vector<fb::DimRef> out;
      for (const DynamicDim::Ref &r : list)
        out.emplace_back(r.tensor, r.axis, r.scale);
      return b.CreateVectorOfStructs(out);
    };
    auto in = refsOf(d.inputs), out = refsOf(d.outputs);
    dims.push_back(fb::CreateDynamicDim(b, b.CreateString(d.name), d.min, d.max,
                                        d.padded, in, out,
                                        b.CreateString(d.why)));
  }
  auto weightsVec = b.CreateVector(weights);
  auto in = specs(inputs), out = specs(outputs);
  auto variantsVec = b.CreateVector(variants);
  auto dimsVec = b.CreateVector(dims);
  auto target = b.CreateString(exes.empty() ? "" : exes[0]->target()->str());
  auto reportText = b.CreateString(report);
  fb::ExecutableBuilder root(b);
  root.add_target(target);
  root.add_inputs(in);
  root.add_outputs(out);
  root.add_weights(weightsVec);
  root.add_report(reportText);
  root.add_variants(variantsVec);
  root.add_dynamic(dimsVec);
  b.Finish(root.Finish(), fb::ExecutableIdentifier());
  return writePayload(path, b, error);
}

/// "weights: N (B bytes<note>)" of `exe`, for describe.
static std::string weightsLine(const fb::Executable *exe, const char *note) {
  uint64_t bytes = 0;
  size_t count = exe->weights() ? exe->weights()->size() : 0;
  if (exe->weights())
    for (const fb::Weight *w : *exe->weights())
      bytes += w->data() ? w->data()->size() : 0;
  return "weights: " + std::to_string(count) + " (" + std::to_string(bytes) +
         " bytes" + note + ")\n";
}

/// describeArtifact of a dynamic artifact: the dims, the signature, the
/// shared weights and each variant's sizes and code.
static bool describeDynamic(const std::string &path, const fb::Executable *exe,
                            std::string &text, std::string &error) {
  bool ok = !exe->mesh();
  std::vector<TensorSpec> inputs = readSpecs(exe->inputs(), ok, true);
  std::vector<TensorSpec> outputs = readSpecs(exe->outputs(), ok, true);
  std::vector<DynamicDim> dims;
  std::string target = exe->target() ? exe->target()->str() : "";
  if (!knownTarget(path, target, error))
    return false;
  if (!ok || !readDynamicDims(exe, inputs, outputs, dims)) {
    error = path + ": malformed dynamic artifact";
    return false;
  }
  text = "target: " + target + "\n";
  for (const DynamicDim &d : dims)
    text += "dynamic: " + d.name + "=" + std::to_string(d.min) + ".." +
            std::to_string(d.max) +
            (d.padded ? " padded to the next variant"
                      : " exact" + (d.why.empty() ? "" : " (" + d.why + ")")) +
            "\n";
  for (size_t t = 0; t < inputs.size(); ++t) {
    std::vector<std::string> names(inputs[t].shape.size());
    for (const DynamicDim &d : dims)
      for (const DynamicDim::Ref &r : d.inputs)
        if (r.tensor == static_cast<int>(t))
          names[r.axis] = d.name;
    std::string shape = "[";
    for (size_t d = 0; d < names.size(); ++d)
      shape += (d ? ", " : "") + (names[d].empty()
                                      ? std::to_string(inputs[t].shape[d])
                                      : names[d]);
    text += "input: " + inputs[t].name + " " + dtypeName(inputs[t].dtype) +
            " " + shape + "]\n";
  }
  // An output's dynamic dim as its sum: "past+1", "2*seq".
  std::vector<std::vector<std::string>> terms(outputs.size());
  for (size_t t = 0; t < outputs.size(); ++t)
    terms[t].assign(outputs[t].shape.size(), "");
  for (const DynamicDim &d : dims)
    for (const DynamicDim::Ref &r : d.outputs) {
      std::string &s = terms[r.tensor][r.axis];
      s += (s.empty() ? "" : "+") +
           (r.scale > 1 ? std::to_string(r.scale) + "*" : std::string()) +
           d.name;
    }
  for (size_t t = 0; t < outputs.size(); ++t) {
    const TensorSpec &o = outputs[t];
    std::string shape = "[";
    for (size_t d = 0; d < o.shape.size(); ++d) {
      shape += d ? ", " : "";
      if (o.shape[d] >= 0) {
        shape += std::to_string(o.shape[d]);
        continue;
      }
      int64_t offset = d < o.dimOffsets.size() ? o.dimOffsets[d] : 0;
      shape += terms[t][d] + (offset > 0 ? "+" : "") +
               (offset ? std::to_string(offset) : "");
    }
    text += "output: " + o.name + " " + dtypeName(o.dtype) + " " + shape +
            "]\n";
  }
  text += weightsLine(exe, ", shared by the variants");
  text += "variants: " + std::to_string(exe->variants()->size()) + "\n";
  for (size_t v = 0; v < exe->variants()->size(); ++v) {
    const fb::Executable *e = exe->variants()->Get(v);
    bool good = true;
    std::vector<TensorSpec> in = readSpecs(e->inputs(), good);
    std::vector<std::vector<int64_t>> shapes;
    for (const TensorSpec &t : in)
      shapes.push_back(t.shape);
    std::vector<int64_t> sizes;
    if (!good || shapes.size() != inputs.size() ||
        !dimSizes(dims, shapes, false, sizes)) {
      error = path + ": malformed dynamic artifact (variant " +
              std::to_string(v) + ")";
      return false;
    }
    text += "  " + std::to_string(v) + ":";
    for (size_t k = 0; k < dims.size(); ++k)
      text += (k ? "," : " ") + dims[k].name + "=" + std::to_string(sizes[k]);
    if (const fb::Mesh *m = e->mesh();
        m && m->axis_names() && m->axis_sizes()) {
      // The mesh, and the inputs and outputs this size splits.
      std::vector<std::string> names;
      for (const flatbuffers::String *n : *m->axis_names())
        names.push_back(n->str());
      std::vector<int64_t> axisSizes(m->axis_sizes()->begin(),
                                     m->axis_sizes()->end());
      text += "  mesh " + meshString(names, axisSizes);
      std::vector<TensorSpec> out = readSpecs(e->outputs(), good);
      std::string split;
      for (const std::vector<TensorSpec> *list : {&in, &out})
        for (const TensorSpec &t : *list)
          if (std::any_of(t.shardAxes.begin(), t.shardAxes.end(),
                          [](int x) { return x >= 0; })) {
            split += (split.empty() ? "" : ",") + t.name + "[";
            for (size_t d = 0; d < t.shardAxes.size(); ++d)
              split += (d ? "," : "") +
                       (t.shardAxes[d] >= 0 &&
                                static_cast<size_t>(t.shardAxes[d]) <
                                    names.size()
                            ? names[t.shardAxes[d]]
                            : std::string("-"));
            split += "]";
          }
      text += split.empty() ? " (inputs and outputs whole)" : " split " + split;
    }
    if (e->shared_object() && e->shared_object()->size())
      text += "  code " + std::to_string(e->shared_object()->size()) + " bytes";
    CudaProgram p;
    if (e->cuda() && readCudaProgram(e->cuda(), p))
      text += "  " + std::to_string(p.steps.size()) + " steps, arena " +
              std::to_string(p.arenaBytes) + " bytes";
    text += "\n";
  }
  return true;
}

static bool describeRaw(const std::string &path, std::string &text,
                        std::string &error);

bool llmc::runtime::describeArtifact(const std::string &path,
                                     std::string &text, std::string &error) {
  bool ok = describeRaw(path, text, error);
  if (!ok)
    error = oneLine(error);
  return ok;
}

static bool describeRaw(const std::string &path,
                                     std::string &text, std::string &error) {
  Mapping m;
  const fb::Executable *exe = mapVerified(path, m, error);
  if (!exe)
    return false;
  if (exe->variants())
    return describeDynamic(path, exe, text, error);
  bool ok = true;
  std::vector<TensorSpec> inputs = readSpecs(exe->inputs(), ok);
  std::vector<TensorSpec> outputs = readSpecs(exe->outputs(), ok);
  std::string target = exe->target() ? exe->target()->str() : "";
  if (!knownTarget(path, target, error))
    return false;
  CudaProgram p;
  if (!ok) {
    error = path + ": malformed artifact contents";
    return false;
  }
  if (!checkAliases(path, inputs, outputs, error))
    return false;
  if (isCudaTarget(target) &&
      (!readCudaProgram(exe->cuda(), p) || p.chip != target.substr(5))) {
    error = path + ": malformed CUDA program in the artifact";
    return false;
  }
  std::vector<std::string> axisNames;
  std::vector<int64_t> axisSizes;
  if (!checkMesh(path, exe, inputs, outputs, axisNames, axisSizes, error))
    return false;
  if (isCudaTarget(target) && !collectivesFitMesh(p, axisSizes)) {
    error = path + ": malformed CUDA program in the artifact: a collective "
                   "over an axis the mesh does not have";
    return false;
  }
  axisNames.clear();
  text = "target: " + target + "\n";
  if (const fb::Mesh *mesh = exe->mesh()) {
    text += "mesh:";
    if (mesh->axis_names() && mesh->axis_sizes())
      for (size_t i = 0; i < mesh->axis_names()->size() &&
                         i < mesh->axis_sizes()->size();
           ++i) {
        axisNames.push_back(mesh->axis_names()->Get(i)->str());
        text += std::string(i ? "," : " ") + axisNames.back() + "=" +
                std::to_string(mesh->axis_sizes()->Get(i));
      }
    text += "\n";
  }
  // "[tp, -]" for a split tensor, "" for a whole one.
  auto sharding = [&](const std::vector<int> &axes) -> std::string {
    if (!isSplitAxes(axes))
      return "";
    std::string s = " [";
    for (size_t d = 0; d < axes.size(); ++d)
      s += (d ? ", " : "") +
           (axes[d] < 0 || axes[d] >= static_cast<int>(axisNames.size())
                ? std::string("-")
                : axisNames[axes[d]]);
    return s + "]";
  };
  for (const TensorSpec &t : inputs)
    text += "input: " + t.name + " " + dtypeName(t.dtype) + " " +
            shapeString(t.shape) + sharding(t.shardAxes) + "\n";
  for (const TensorSpec &t : outputs)
    text += "output: " + t.name + " " + dtypeName(t.dtype) + " " +
            shapeString(t.shape) + sharding(t.shardAxes) +
            (t.aliasOf >= 0 && static_cast<size_t>(t.aliasOf) < inputs.size()
                 ? " (input " + inputs[t.aliasOf].name + " updated in place)"
                 : "") +
            "\n";
  text += weightsLine(exe, "");
  if (exe->mesh() && exe->weights()) {
    size_t split = 0;
    for (const fb::Weight *w : *exe->weights())
      split += w->shard_axes() &&
               std::any_of(w->shard_axes()->begin(), w->shard_axes()->end(),
                           [](int a) { return a >= 0; });
    text += "split weights: " + std::to_string(split) + "\n";
  }
  if (!isCudaTarget(target)) {
    text += "code: " +
            std::to_string(exe->shared_object() ? exe->shared_object()->size()
                                                : 0) +
            " bytes of x86-64 shared object\n";
    return true;
  }
  size_t temporaries = 0, launches = 0, gemms = 0, convs = 0, collectives = 0;
  uint64_t temporaryBytes = 0;
  for (const CudaBuffer &b : p.buffers)
    if (b.kind == BufferKind::Arena) {
      ++temporaries;
      temporaryBytes += b.bytes;
    }
  for (const CudaStep &s : p.steps) {
    launches += s.kind == CudaStep::Launch;
    gemms += s.kind == CudaStep::Gemm;
    convs += s.kind == CudaStep::Conv;
    collectives += s.kind == CudaStep::Collective;
  }
  text += "ptx: " + std::to_string(p.ptx.size()) + " bytes\n";
  text += "cubin: " +
          (p.cubin.empty() ? std::string("none (ptxas was not found)")
                           : std::to_string(p.cubin.size()) + " bytes for " +
                                 p.chip) +
          "\n";
  text += "arena: " + std::to_string(p.arenaBytes) + " bytes for " +
          std::to_string(temporaries) + " temporaries of " +
          std::to_string(temporaryBytes) + " bytes\n";
  if (!p.indexSites.empty()) {
    text += "index checks: " + std::to_string(p.indexSites.size()) + " (";
    for (size_t i = 0; i < p.indexSites.size(); ++i)
      text += (i ? ", " : "") + p.indexSites[i];
    text += ")\n";
  }
  text += "steps: " + std::to_string(p.steps.size()) + " (" +
          std::to_string(launches) + " kernel launches, " +
          std::to_string(gemms) + " cuBLASLt GEMMs, " +
          std::to_string(convs) + " cuDNN convolutions, " +
          (collectives ? std::to_string(collectives) + " collectives, "
                       : std::string()) +
          std::to_string(p.steps.size() - launches - gemms - convs -
                         collectives) +
          " memsets)\n";
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const CudaStep &s = p.steps[i];
    text += "  " + std::to_string(i) + " ";
    if (s.kind == CudaStep::Memset) {
      text += "memset b" + std::to_string(s.args[0]) + " bytes " +
              std::to_string(s.bytes) + " at " + std::to_string(s.offset);
    } else if (s.kind == CudaStep::Launch) {
      text += "launch " + s.kernel + " grid " + std::to_string(s.grid[0]) +
              " block " + std::to_string(s.block[0]) + " args";
      for (uint32_t a : s.args)
        text += " b" + std::to_string(a);
    } else if (s.kind == CudaStep::Conv) {
      const CudaConv &c = s.conv;
      auto dims = [](const int64_t *d, int n) {
        std::string out;
        for (int i = 0; i < n; ++i)
          out += (i ? "x" : "") + std::to_string(d[i]);
        return out;
      };
      text += std::string("conv ") + dtypeName(c.dtype) + " x " +
              dims(c.input, 4) + " w " + dims(c.filter, 4) + " y " +
              dims(c.output, 4) + " pad " + dims(c.pad, 2) + " stride " +
              dims(c.stride, 2) + " dilation " + dims(c.dilation, 2) +
              " group " + std::to_string(c.group) + (c.tf32 ? " tf32" : "") +
              (c.accumulate ? " y+=" : " y=") + " x b" +
              std::to_string(c.x.buffer) + " w b" +
              std::to_string(c.w.buffer) + " y b" + std::to_string(c.y.buffer);
      if (c.epilogue != ConvEpilogue::None)
        text += std::string(" epilogue ") + epilogueName(c.epilogue) +
                " bias b" + std::to_string(c.biasBuffer) +
                (c.residual ? " z b" + std::to_string(c.z.buffer) : "");
    } else if (s.kind == CudaStep::Collective) {
      const CudaCollective &c = s.collective;
      auto shape = [](const std::vector<int64_t> &d) {
        std::string out;
        for (size_t i = 0; i < d.size(); ++i)
          out += (i ? "x" : "") + std::to_string(d[i]);
        return out.empty() ? std::string("scalar") : out;
      };
      const CollectiveParams &q = c.params;
      std::string axis = q.axis < static_cast<int64_t>(axisNames.size())
                             ? axisNames[q.axis]
                             : "axis " + std::to_string(q.axis);
      bool local = q.kind == CollectiveKind::Split;
      text += std::string(local ? "" : "nccl ") + collectiveName(q.kind) +
              " " + dtypeName(c.dtype) + " " + shape(c.inShape) + " -> " +
              shape(c.outShape) + " over " + axis;
      if (q.kind != CollectiveKind::AllReduce)
        text += " dim " + std::to_string(q.dim);
      if (q.kind == CollectiveKind::AllToAll)
        text += " to " + std::to_string(q.dim2);
      if (local)
        text += " (a local copy)";
      text += " in b" + std::to_string(c.in) + " out b" + std::to_string(c.out) +
              (c.hasScratch ? " scratch b" + std::to_string(c.scratch) : "");
    } else {
      const CudaGemm &g = s.gemm;
      text += std::string("gemm ") + dtypeName(g.dtype) +
              (g.cDtype != g.dtype ? std::string("->") + dtypeName(g.cDtype)
                                   : std::string()) +
              " batch " +
              std::to_string(g.batch) + " m " + std::to_string(g.m) + " n " +
              std::to_string(g.n) + " k " + std::to_string(g.k) +
              (g.transA ? " A^T" : "") + (g.transB ? " B^T" : "") +
              (g.tf32 ? " tf32" : "") +
              (g.accumulate ? " C+=" : " C=") + " a b" +
              std::to_string(g.a.buffer) + " b b" + std::to_string(g.b.buffer) +
              " c b" + std::to_string(g.c.buffer);
      if (g.epilogue != GemmEpilogue::None)
        text += std::string(" epilogue ") + epilogueName(g.epilogue) +
                " bias b" + std::to_string(g.biasBuffer);
    }
    if (!s.node.empty())
      text += "  (" + s.node + ")";
    text += "\n";
  }
  return true;
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

} // namespace

bool Artifact::profile(const std::vector<HostTensor> &inputs,
                       std::vector<double> &stepMs, std::string &error) const {
  if (!variants_.empty() && isCudaTarget(target_)) {
    std::vector<std::vector<int64_t>> shapes;
    for (const HostTensor &t : inputs)
      shapes.push_back(t.shape);
    std::vector<int64_t> sizes;
    size_t v = 0;
    if (!pickVariant(shapes, sizes, v, error))
      return false;
    if (sizes != variantSizes_[v]) {
      error = path_ + ": --profile runs a variant's own sizes; these inputs "
                      "would be padded (give sizes a variant was compiled for)";
      return false;
    }
    return variants_[v]->profile(inputs, stepMs, error);
  }
  if (cudaMesh_) {
    error = path_ + ": a per-step profile runs on one GPU; this artifact's "
                    "program is partitioned over a mesh (not supported yet)";
    return false;
  }
  if (!cuda_) {
    error = path_ + ": a per-step profile needs a CUDA artifact (this one "
                    "is for " + target_ + ")";
    return false;
  }
  std::vector<TensorView> views;
  std::vector<HostTensor> outputs;
  std::vector<TensorView> outViews;
  viewsOf(inputs, views, outputs, outViews);
  if (!checkViews(views, inputs_, "input", error))
    return false;
  for (size_t i = 0; i < views.size(); ++i)
    if (!checkIndexValues(path_, inputs_[i], views[i].data, views[i].bytes,
                          error))
      return false;
  std::vector<HostBytes> in;
  std::vector<void *> out;
  for (const HostTensor &t : inputs)
    in.push_back({t.data.data(), t.data.size()});
  for (HostTensor &t : outputs)
    out.push_back(t.data.data());
  if (!cuda_->profile(in, out, stepMs, error)) {
    error = path_ + ": " + error;
    return false;
  }
  return true;
}

bool Artifact::checkViews(const std::vector<TensorView> &given,
                          const std::vector<TensorSpec> &specs,
                          const char *what, std::string &error) const {
  if (given.size() != specs.size()) {
    error = path_ + ": the artifact takes " + std::to_string(specs.size()) +
            " " + what + "s, got " + std::to_string(given.size());
    return false;
  }
  for (size_t i = 0; i < given.size(); ++i) {
    const TensorSpec &s = specs[i];
    if ((given[i].dtype != s.dtype && !holdsBitsOf(given[i].dtype, s.dtype)) ||
        given[i].shape != s.shape) {
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
}

void Artifact::viewsOf(const std::vector<HostTensor> &inputs,
                       std::vector<TensorView> &in,
                       std::vector<HostTensor> &outputs,
                       std::vector<TensorView> &out,
                       const std::vector<TensorSpec> *specs) const {
  for (const HostTensor &t : inputs)
    in.push_back({t.dtype, t.shape, const_cast<char *>(t.data.data()),
                  t.data.size()});
  outputs.clear();
  for (const TensorSpec &s : specs ? *specs : outputs_)
    outputs.push_back(zeroTensor(s));
  for (HostTensor &t : outputs)
    out.push_back({t.dtype, t.shape, t.data.data(), t.data.size()});
  // A donated input is updated in place: in a copy, which is the output
  // (the caller's inputs stay as they are).
  for (size_t i = 0; i < outputs_.size(); ++i) {
    int a = outputs_[i].aliasOf;
    if (a < 0 || static_cast<size_t>(a) >= inputs.size() ||
        inputs[a].data.size() != outputs[i].data.size())
      continue;
    std::memcpy(outputs[i].data.data(), inputs[a].data.data(),
                outputs[i].data.size());
    in[a].data = outputs[i].data.data();
  }
}

HostTensor llmc::runtime::zeroTensor(const TensorSpec &s) {
  HostTensor t;
  t.name = s.name;
  t.dtype = s.dtype;
  t.shape = s.shape;
  t.data.assign(t.numElements() * dtypeSize(t.dtype), 0);
  return t;
}

bool llmc::runtime::checkIndexValues(const std::string &path,
                                     const TensorSpec &s, const void *data,
                                     size_t bytes, std::string &error) {
  if (s.indexMax < s.indexMin || !data)
    return true;
  auto scan = [&](auto *values, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      int64_t v = static_cast<int64_t>(values[i]);
      if (v >= s.indexMin && v <= s.indexMax)
        continue;
      error = path + ": input '" + s.name + "' holds " + std::to_string(v) +
              " (element " + std::to_string(i) + "), outside [" +
              std::to_string(s.indexMin) + ", " + std::to_string(s.indexMax) +
              "]: " +
              (s.indexNode.empty() ? std::string("a node")
                                   : "node '" + s.indexNode + "'") +
              " indexes a dim of " + std::to_string(s.indexMax + 1) +
              " with it";
      return false;
    }
    return true;
  };
  switch (s.dtype) {
  case DType::I64:
    return scan(static_cast<const int64_t *>(data), bytes / 8);
  case DType::I32:
    return scan(static_cast<const int32_t *>(data), bytes / 4);
  case DType::I16:
    return scan(static_cast<const int16_t *>(data), bytes / 2);
  case DType::I8:
    return scan(static_cast<const int8_t *>(data), bytes);
  case DType::U8:
    return scan(static_cast<const uint8_t *>(data), bytes);
  case DType::U16:
    return scan(static_cast<const uint16_t *>(data), bytes / 2);
  case DType::U32:
    return scan(static_cast<const uint32_t *>(data), bytes / 4);
  default:
    return true;
  }
}

bool Artifact::run(const std::vector<TensorView> &inputs,
                   const std::vector<TensorView> &outputs, std::string &error,
                   uint64_t producer) const {
  bool ok = runRaw(inputs, outputs, error, producer);
  if (!ok)
    error = oneLine(error);
  return ok;
}

bool Artifact::runRaw(const std::vector<TensorView> &inputs,
                      const std::vector<TensorView> &outputs,
                      std::string &error, uint64_t producer) const {
  // Device memory: for a CUDA artifact of one device, static shapes.
  for (const std::vector<TensorView> *views : {&inputs, &outputs})
    for (size_t i = 0; i < views->size(); ++i) {
      if (!(*views)[i].device || (cuda_ && variants_.empty()))
        continue;
      const std::vector<TensorSpec> &specs =
          views == &inputs ? inputs_ : outputs_;
      error = path_ + ": " + (views == &inputs ? "input '" : "output '") +
              (i < specs.size() ? specs[i].name : std::to_string(i)) +
              "' is CUDA device memory, which only a CUDA artifact for one "
              "device and static shapes takes; this one " +
              (!variants_.empty()     ? "has dynamic dims"
               : cudaMesh_            ? "runs on a mesh of GPUs"
                                      : "runs on the CPU");
      return false;
    }
  if (!variants_.empty())
    return runDynamic(inputs, outputs, error);
  if (!checkViews(inputs, inputs_, "input", error) ||
      !checkViews(outputs, outputs_, "output", error))
    return false;
  // Indices out of their dim: refused here, before the code would clamp
  // (device inputs are read back for it: token ids are small).
  for (size_t i = 0; i < inputs.size(); ++i) {
    const void *data = inputs[i].data;
    std::vector<char> host;
    if (inputs[i].device && inputs_[i].indexMax >= inputs_[i].indexMin) {
      host.resize(inputs[i].bytes);
      if (!cuda_->checkDevicePointer(reinterpret_cast<uint64_t>(data),
                                     inputs[i].bytes, error) ||
          !cuda_->copyToHost(host.data(), reinterpret_cast<uint64_t>(data),
                             host.size(), error)) {
        error = path_ + ": input '" + inputs_[i].name + "' " + error;
        return false;
      }
      data = host.data();
    } else if (inputs[i].device) {
      continue;
    }
    if (!checkIndexValues(path_, inputs_[i], data, inputs[i].bytes, error))
      return false;
  }
  if (cudaMesh_)
    return runCudaMesh(inputs, outputs, error);
  if (cuda_) {
    // (The executable checks each device argument, naming it.)
    if (!checkDonated(inputs, outputs, error))
      return false;
    std::vector<CudaArg> in, out;
    for (const TensorView &t : inputs)
      in.push_back({t.data, t.bytes, t.device});
    for (const TensorView &t : outputs)
      out.push_back({t.data, t.bytes, t.device});
    if (!cuda_->run(in, out, error, producer)) {
      error = path_ + ": " + error;
      return false;
    }
    return true;
  }
  if (!meshSizes_.empty())
    return runMesh(inputs, outputs, error);
  std::vector<std::vector<int64_t>> descriptors;
  for (const TensorView &t : inputs)
    descriptors.push_back(descriptor(t.data, t.shape));
  for (const WeightView &w : weights_)
    descriptors.push_back(descriptor(w.data, w.shape));
  if (!checkDonated(inputs, outputs, error))
    return false;
  // A donated input's output is that input's buffer, updated in place: it
  // has no parameter of its own.
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs_[i].aliasOf < 0)
      descriptors.push_back(descriptor(outputs[i].data, outputs[i].shape));
  std::vector<void *> args;
  for (auto &d : descriptors)
    args.push_back(d.data());
  entry_(args.data());
  // A collective in a program run without a mesh fails (it cannot return
  // an error to the code that called it), and so does an index the code
  // computed out of its dim: report them here.
  std::string why = takeCollectiveError();
  if (why.empty())
    why = takeIndexError();
  if (!why.empty()) {
    error = path_ + ": " + why;
    return false;
  }
  return true;
}

bool Artifact::checkDonated(const std::vector<TensorView> &inputs,
                            const std::vector<TensorView> &outputs,
                            std::string &error) const {
  for (size_t i = 0; i < outputs.size(); ++i) {
    int a = outputs_[i].aliasOf;
    if (a < 0)
      continue;
    if (outputs[i].data != inputs[a].data ||
        outputs[i].device != inputs[a].device) {
      error = path_ + ": output '" + outputs_[i].name + "' is input '" +
              inputs_[a].name +
              "' updated in place (donated): give both the same buffer";
      return false;
    }
    // The code writes that buffer while it reads the other inputs: none of
    // them may share its memory.
    const char *lo = static_cast<const char *>(inputs[a].data);
    for (size_t j = 0; j < inputs.size(); ++j) {
      const char *other = static_cast<const char *>(inputs[j].data);
      if (j != static_cast<size_t>(a) && inputs[j].bytes && inputs[a].bytes &&
          inputs[j].device == inputs[a].device &&
          other < lo + inputs[a].bytes && lo < other + inputs[j].bytes) {
        error = path_ + ": input '" + inputs_[a].name +
                "' is donated (updated in place) but shares its memory with "
                "input '" + inputs_[j].name + "': give it a buffer of its own";
        return false;
      }
    }
  }
  return true;
}

namespace {
/// Whether `axes` splits any dim.
bool isSplit(const std::vector<int> &axes) {
  return std::any_of(axes.begin(), axes.end(), [](int a) { return a >= 0; });
}
} // namespace

bool Artifact::runMesh(const std::vector<TensorView> &inputs,
                       const std::vector<TensorView> &outputs,
                       std::string &error) const {
  MeshShape mesh{meshNames_, meshSizes_};
  // In a job of several processes: this device's parts of the split
  // outputs, which rank 0 gathers afterwards.
  std::vector<std::vector<char>> ownOutputParts;
  // Per device: an index its code computed out of its dim.
  std::vector<std::string> indexErrors(mesh.numDevices());
  auto device = [&](int64_t rank) {
    std::vector<int64_t> coords = mesh.coordinates(rank);
    std::vector<std::vector<char>> parts;
    std::vector<std::vector<int64_t>> descriptors;
    // A device's part of a split tensor, in a buffer of its own.
    auto part = [&](const void *data, const std::vector<int64_t> &shape,
                    DType dtype, const std::vector<int> &axes, bool fill) {
      std::vector<int64_t> local = shardShape(shape, axes, meshSizes_);
      parts.emplace_back(numElements(local) * dtypeSize(dtype));
      if (fill)
        copyShard(data, shape, dtypeSize(dtype), axes, meshSizes_, coords,
                  parts.back().data());
      descriptors.push_back(descriptor(parts.back().data(), local));
    };
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorSpec &spec = inputs_[i];
      if (isSplit(spec.shardAxes))
        part(inputs[i].data, spec.shape, spec.dtype, spec.shardAxes, true);
      else
        descriptors.push_back(descriptor(inputs[i].data, spec.shape));
    }
    for (size_t i = 0; i < weights_.size(); ++i) {
      const WeightView &w = weights_[i];
      const std::vector<char> &own = *deviceWeights_[rank][i];
      if (isSplit(w.shardAxes))
        descriptors.push_back(descriptor(
            const_cast<char *>(own.data()),
            shardShape(w.shape, w.shardAxes, meshSizes_)));
      else
        descriptors.push_back(descriptor(w.data, w.shape));
    }
    // Outputs: split ones into a part of the device's own, whole ones
    // (identical on every device) from device 0 into the caller's buffer.
    size_t firstPart = parts.size();
    std::vector<std::vector<char>> scratch(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      const TensorSpec &spec = outputs_[i];
      if (isSplit(spec.shardAxes)) {
        part(nullptr, spec.shape, spec.dtype, spec.shardAxes, false);
      } else if (rank == 0) {
        descriptors.push_back(descriptor(outputs[i].data, spec.shape));
      } else {
        scratch[i].resize(outputs[i].bytes);
        descriptors.push_back(descriptor(scratch[i].data(), spec.shape));
      }
    }
    std::vector<void *> args;
    for (auto &d : descriptors)
      args.push_back(d.data());
    entry_(args.data());
    indexErrors[rank] = takeIndexError();
    size_t next = firstPart;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const TensorSpec &spec = outputs_[i];
      if (!isSplit(spec.shardAxes))
        continue;
      if (processDevice_ >= 0)
        ownOutputParts.push_back(std::move(parts[next++]));
      else
        placeShard(parts[next++].data(), spec.shape, dtypeSize(spec.dtype),
                   spec.shardAxes, meshSizes_, coords, outputs[i].data);
    }
  };
  // The first device's index error, in device order.
  auto indexError = [&]() {
    for (size_t r = 0; r < indexErrors.size(); ++r)
      if (!indexErrors[r].empty())
        return "device " + std::to_string(r) + ": " + indexErrors[r];
    return std::string();
  };
  if (processDevice_ < 0) {
    std::string why = runOnCpuMeshShared(mesh, collectiveTimeout_, device);
    if (why.empty())
      why = indexError();
    if (!why.empty()) {
      error = path_ + ": " + why;
      return false;
    }
    return true;
  }
  // One device of a job of several processes: every process gets the same
  // verdict, then rank 0 gathers the parts of the split outputs.
  std::string why = runOnMpiMesh(mesh, device);
  if (why.empty())
    why = agreeAcrossProcesses(indexError());
  if (!why.empty()) {
    error = path_ + ": " + why;
    return false;
  }
  size_t next = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorSpec &spec = outputs_[i];
    if (!isSplit(spec.shardAxes))
      continue;
    const std::vector<char> &own = ownOutputParts[next++];
    int64_t devices = mesh.numDevices();
    std::vector<char> all(processDevice_ == 0 ? own.size() * devices : 0);
    if (!gatherAtRoot(own.data(), own.size(), all.data(), why)) {
      error = path_ + ": output '" + spec.name + "': " + why;
      return false;
    }
    if (processDevice_ == 0)
      for (int64_t r = 0; r < devices; ++r)
        placeShard(all.data() + r * own.size(), spec.shape,
                   dtypeSize(spec.dtype), spec.shardAxes, meshSizes_,
                   mesh.coordinates(r), outputs[i].data);
  }
  return true;
}

bool Artifact::runCudaMesh(const std::vector<TensorView> &inputs,
                           const std::vector<TensorView> &outputs,
                           std::string &error) const {
  MeshShape mesh{meshNames_, meshSizes_};
  // The devices this process drives: every one of the mesh, or in a job of
  // several processes its own.
  int64_t devices = cudaMesh_->numDevices();
  // Per device: its parts of the split inputs and outputs, in buffers of
  // its own; whole tensors are the caller's (whole outputs, identical on
  // every device, land in the caller's buffer from the first device only).
  std::vector<std::vector<HostBytes>> in(devices);
  std::vector<std::vector<void *>> out(devices);
  std::vector<std::vector<std::vector<char>>> parts(devices);
  for (int64_t i = 0; i < devices; ++i) {
    std::vector<int64_t> coords = mesh.coordinates(cudaMesh_->rankOf(i));
    std::vector<std::vector<char>> &own = parts[i];
    own.reserve(inputs.size() + outputs.size());
    for (size_t k = 0; k < inputs.size(); ++k) {
      const TensorSpec &spec = inputs_[k];
      if (!isSplit(spec.shardAxes)) {
        in[i].push_back({inputs[k].data, inputs[k].bytes});
        continue;
      }
      own.emplace_back(numElements(shardShape(spec.shape, spec.shardAxes,
                                              meshSizes_)) *
                       dtypeSize(spec.dtype));
      copyShard(inputs[k].data, spec.shape, dtypeSize(spec.dtype),
                spec.shardAxes, meshSizes_, coords, own.back().data());
      in[i].push_back({own.back().data(), own.back().size()});
    }
    for (size_t k = 0; k < outputs.size(); ++k) {
      const TensorSpec &spec = outputs_[k];
      if (!isSplit(spec.shardAxes) && i == 0) {
        out[i].push_back(outputs[k].data);
        continue;
      }
      own.emplace_back(isSplit(spec.shardAxes)
                           ? numElements(shardShape(spec.shape, spec.shardAxes,
                                                    meshSizes_)) *
                                 dtypeSize(spec.dtype)
                           : outputs[k].bytes);
      out[i].push_back(own.back().data());
    }
  }
  cudaMesh_->setTimeout(collectiveTimeout_);
  if (!cudaMesh_->run(in, out, error)) {
    error = path_ + ": " + error;
    return false;
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const TensorSpec &spec = outputs_[k];
    if (!isSplit(spec.shardAxes))
      continue;
    if (processDevice_ < 0) {
      for (int64_t i = 0; i < devices; ++i)
        placeShard(out[i][k], spec.shape, dtypeSize(spec.dtype),
                   spec.shardAxes, meshSizes_,
                   mesh.coordinates(cudaMesh_->rankOf(i)), outputs[k].data);
      continue;
    }
    // A job of several processes: rank 0 gathers every device's part.
    size_t bytes = numElements(shardShape(spec.shape, spec.shardAxes,
                                          meshSizes_)) *
                   dtypeSize(spec.dtype);
    int64_t n = mesh.numDevices();
    std::vector<char> all(processDevice_ == 0 ? bytes * n : 0);
    if (!cudaMesh_->gatherAtRoot(out[0][k], bytes, all.data(), error)) {
      error = path_ + ": output '" + spec.name + "': " + error;
      return false;
    }
    if (processDevice_ == 0)
      for (int64_t r = 0; r < n; ++r)
        placeShard(all.data() + r * bytes, spec.shape, dtypeSize(spec.dtype),
                   spec.shardAxes, meshSizes_, mesh.coordinates(r),
                   outputs[k].data);
  }
  return true;
}

void Artifact::useCudaGraph(bool on) {
  if (cuda_)
    cuda_->useGraph(on);
  if (cudaMesh_)
    cudaMesh_->useGraph(on);
  for (const std::unique_ptr<Artifact> &v : variants_)
    v->useCudaGraph(on);
}

bool Artifact::run(const std::vector<HostTensor> &inputs,
                   std::vector<HostTensor> &outputs, std::string &error) const {
  std::vector<TensorView> in, out;
  if (!variants_.empty()) {
    std::vector<std::vector<int64_t>> shapes;
    for (const HostTensor &t : inputs)
      shapes.push_back(t.shape);
    std::vector<TensorSpec> specs;
    if (!outputSpecs(shapes, specs, error))
      return false;
    viewsOf(inputs, in, outputs, out, &specs);
    return run(in, out, error);
  }
  viewsOf(inputs, in, outputs, out);
  return run(in, out, error);
}
