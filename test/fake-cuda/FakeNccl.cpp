//===- FakeNccl.cpp - A fake NCCL that really moves the bytes -------------===//
//
// The runtime opens it from LLMC_NCCL. Communicators are made by
// ncclCommInitAll within one process (what llmc's CudaMesh uses); their
// ranks are the runtime's device threads. Device memory is host memory
// (the fake driver's), so an eager collective really runs: every rank
// posts its buffers, waits for the others, computes its own output from
// the peers' inputs, waits again (no rank overwrites what a peer still
// reads), then writes it. Captured into a CUDA graph, a collective only
// counts as a node (as the fake's kernels do). Every call appends one line
// to $FAKE_CUDA_TRACE, with its rank.
//
// It checks what NCCL would: the members agree on the operation, the
// count and the type; buffers lie in device memory; the stream belongs to
// the communicator's device. A rank that waits longer than
// $FAKE_NCCL_WAIT seconds (default 20) for its peers gives up with
// ncclSystemError; ncclCommAbort makes waiting ranks return at once.
//
// Environment, for the runtime's failure paths:
//   FAKE_NCCL_STALL=N        each rank's Nth collective (from 1) is queued
//                            but never completes (its stream never drains)
//   FAKE_NCCL_ABSENT_RANK=R  rank R of every communicator skips its
//                            collectives: its peers wait for it
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {
/// What one rank contributes to a collective.
struct Post {
  std::string op;
  const void *send = nullptr;
  void *recv = nullptr;
  size_t count = 0;
  ncclDataType_t type = ncclFloat32;
  ncclRedOp_t reduce = ncclSum;
  /// ncclSend/ncclRecv in a group: per peer, what goes there and where
  /// its data lands.
  std::vector<std::pair<const void *, size_t>> sends;
  std::vector<std::pair<void *, size_t>> recvs;
};

/// The ranks of one ncclCommInitAll.
struct Group {
  int size = 0;
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0;
  long generation = 0;
  bool aborted = false;
  std::vector<Post> posts;
};
} // namespace

struct ncclComm {
  std::shared_ptr<Group> group;
  int rank = 0;
  int device = 0;
  long collectives = 0;
};

namespace {
long envNumber(const char *name, long otherwise) {
  const char *v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 0) : otherwise;
}

size_t typeSize(ncclDataType_t t) {
  switch (t) {
  case ncclInt8: case ncclUint8: return 1;
  case ncclFloat16: case ncclBfloat16: return 2;
  case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
  default: return 8;
  }
}

/// Waits until every rank of the group arrived at this point. False when
/// the group was aborted or a peer did not come within $FAKE_NCCL_WAIT s.
bool barrier(Group &g) {
  std::unique_lock<std::mutex> lock(g.mutex);
  long generation = g.generation;
  if (++g.arrived == g.size) {
    g.arrived = 0;
    ++g.generation;
    g.changed.notify_all();
    return !g.aborted;
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(envNumber("FAKE_NCCL_WAIT", 20));
  bool done = g.changed.wait_until(lock, deadline, [&] {
    return g.generation != generation || g.aborted;
  });
  if (!done || g.aborted) {
    if (!done)
      fakeCudaTrace("ncclWait -> timed out waiting for peers");
    return false;
  }
  return true;
}

template <typename T> T load(const void *p, size_t i) {
  T v;
  std::memcpy(&v, static_cast<const char *>(p) + i * sizeof(T), sizeof(T));
  return v;
}

float halfToFloat(uint16_t h, bool bf16) {
  uint32_t bits;
  if (bf16) {
    bits = uint32_t(h) << 16;
  } else {
    uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f,
             mant = h & 0x3ff;
    if (exp == 0) {
      float v = std::ldexp(float(mant), -24);
      return sign ? -v : v;
    }
    bits = sign | (exp == 0x1f ? 0x7f800000 | mant << 13
                               : (exp + 112) << 23 | mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f, bool bf16) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (bf16)
    return (x + 0x7fff + ((x >> 16) & 1)) >> 16;
  uint32_t sign = (x >> 16) & 0x8000;
  x &= 0x7fffffff;
  if (x >= 0x47800000)
    return sign | (x > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (x < 0x38800000) {
    float v;
    std::memcpy(&v, &x, 4);
    v += 0.5f;
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return sign | (b - 0x3f000000);
  }
  x += (uint32_t(15 - 127) << 23) + 0xfff + ((x >> 13) & 1);
  return sign | (x >> 13);
}

/// Element `at` of the posts' sends reduced into `out`: integer sums wrap
/// (computed in the unsigned type U), as NCCL's do.
template <typename T, typename U>
void reduceInt(const std::vector<Post> &posts, size_t at, ncclRedOp_t op,
               char *out) {
  T acc = load<T>(posts[0].send, at);
  for (size_t p = 1; p < posts.size(); ++p) {
    T v = load<T>(posts[p].send, at);
    acc = op == ncclMax   ? std::max(acc, v)
          : op == ncclMin ? std::min(acc, v)
                          : static_cast<T>(static_cast<U>(static_cast<U>(acc) +
                                                          static_cast<U>(v)));
  }
  std::memcpy(out, &acc, sizeof(T));
}

/// out[i] = reduce over the posts' sends, elements [first, first + n).
void reduceInto(const std::vector<Post> &posts, size_t first, size_t n,
                ncclDataType_t type, ncclRedOp_t op, char *out) {
  auto combine = [&](double a, double b) {
    return op == ncclMax ? std::max(a, b) : op == ncclMin ? std::min(a, b) : a + b;
  };
  for (size_t i = 0; i < n; ++i) {
    size_t at = first + i;
    switch (type) {
    case ncclFloat32: {
      float acc = load<float>(posts[0].send, at);
      for (size_t p = 1; p < posts.size(); ++p)
        acc = static_cast<float>(combine(acc, load<float>(posts[p].send, at)));
      std::memcpy(out + i * 4, &acc, 4);
      break;
    }
    case ncclFloat64: {
      double acc = load<double>(posts[0].send, at);
      for (size_t p = 1; p < posts.size(); ++p)
        acc = combine(acc, load<double>(posts[p].send, at));
      std::memcpy(out + i * 8, &acc, 8);
      break;
    }
    case ncclFloat16:
    case ncclBfloat16: {
      bool bf = type == ncclBfloat16;
      float acc = halfToFloat(load<uint16_t>(posts[0].send, at), bf);
      for (size_t p = 1; p < posts.size(); ++p)
        acc = static_cast<float>(
            combine(acc, halfToFloat(load<uint16_t>(posts[p].send, at), bf)));
      uint16_t h = floatToHalf(acc, bf);
      std::memcpy(out + i * 2, &h, 2);
      break;
    }
    case ncclInt64:
      reduceInt<int64_t, uint64_t>(posts, at, op, out + i * 8);
      break;
    case ncclInt32:
      reduceInt<int32_t, uint32_t>(posts, at, op, out + i * 4);
      break;
    case ncclInt8:
      reduceInt<int8_t, uint8_t>(posts, at, op, out + i);
      break;
    default: // ncclUint8
      reduceInt<uint8_t, uint8_t>(posts, at, op, out + i);
      break;
    }
  }
}

const char *opName(ncclRedOp_t op) {
  return op == ncclMax ? "max" : op == ncclMin ? "min" : "sum";
}

/// The checks every call makes; ncclSuccess or the error to return.
ncclResult_t checkCall(ncclComm_t comm, cudaStream_t stream, const char *what) {
  if (!comm || !comm->group)
    return ncclInvalidArgument;
  int device = fakeCudaStreamDevice(reinterpret_cast<CUstream>(stream));
  if (device != comm->device) {
    fakeCudaTrace("%s rank=%d -> 4 (the stream is on device %d, the "
                  "communicator on device %d)",
                  what, comm->rank, device, comm->device);
    return ncclInvalidArgument;
  }
  return ncclSuccess;
}

/// Runs `post` as this rank's part of a collective: posted, the peers
/// awaited, `compute` (this rank's output, from every post), awaited again,
/// then `commit` (the output written). In a capture it only counts a node;
/// a stalled or absent rank does nothing.
template <typename Compute, typename Commit>
ncclResult_t collective(ncclComm_t comm, cudaStream_t stream, Post post,
                        Compute compute, Commit commit) {
  CUstream s = reinterpret_cast<CUstream>(stream);
  const char *how = fakeCudaDeviceWork(s, post.op.c_str());
  long n = ++comm->collectives;
  fakeCudaTrace("%s rank=%d/%d device=%d count=%zu %s", post.op.c_str(),
                comm->rank, comm->group->size, comm->device, post.count, how);
  if (std::strcmp(how, "eager") != 0)
    return ncclSuccess;
  if (envNumber("FAKE_NCCL_ABSENT_RANK", -1) == comm->rank)
    return ncclSuccess;
  if (envNumber("FAKE_NCCL_STALL", 0) == n) {
    fakeCudaStallStream(s);
    return ncclSuccess;
  }
  Group &g = *comm->group;
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    if (g.posts.size() != static_cast<size_t>(g.size))
      g.posts.resize(g.size);
    g.posts[comm->rank] = post;
  }
  if (!barrier(g))
    return ncclSystemError;
  std::vector<Post> posts;
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    posts = g.posts;
  }
  for (const Post &p : posts)
    if (p.op != post.op || p.count != post.count || p.type != post.type ||
        p.reduce != post.reduce || p.sends.size() != post.sends.size()) {
      fakeCudaTrace("MISMATCH %s rank=%d: the members disagree on the "
                    "operation, count or type",
                    post.op.c_str(), comm->rank);
      barrier(g);
      return ncclInvalidUsage;
    }
  std::vector<char> result = compute(posts);
  if (!barrier(g))
    return ncclSystemError;
  commit(result);
  return ncclSuccess;
}

/// The sends and receives of the open group, this thread's.
thread_local int groupDepth = 0;
thread_local ncclComm_t groupComm = nullptr;
thread_local cudaStream_t groupStream = nullptr;
thread_local Post groupPost;
} // namespace

extern "C" {

FAKE_CUDA_EXPORT ncclResult_t ncclGetVersion(int *version) {
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

FAKE_CUDA_EXPORT const char *ncclGetErrorString(ncclResult_t r) {
  switch (r) {
  case ncclSuccess: return "no error";
  case ncclSystemError: return "unhandled system error (the fake's peers did "
                               "not arrive, or the communicator was aborted)";
  case ncclInvalidArgument: return "invalid argument";
  case ncclInvalidUsage: return "invalid usage";
  default: return "fake NCCL error";
  }
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev,
                                              const int *devlist) {
  std::string devices;
  for (int i = 0; i < ndev; ++i)
    devices += (i ? "," : "") + std::to_string(devlist ? devlist[i] : i);
  fakeCudaTrace("ncclCommInitAll ndev=%d devices=%s", ndev, devices.c_str());
  if (ndev < 1 || !comms)
    return ncclInvalidArgument;
  auto group = std::make_shared<Group>();
  group->size = ndev;
  for (int i = 0; i < ndev; ++i)
    comms[i] = new ncclComm{group, i, devlist ? devlist[i] : i, 0};
  return ncclSuccess;
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  fakeCudaTrace("ncclCommDestroy rank=%d", comm ? comm->rank : -1);
  delete comm;
  return ncclSuccess;
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm)
    return ncclInvalidArgument;
  fakeCudaTrace("ncclCommAbort rank=%d", comm->rank);
  {
    std::lock_guard<std::mutex> lock(comm->group->mutex);
    comm->group->aborted = true;
  }
  comm->group->changed.notify_all();
  delete comm;
  return ncclSuccess;
}

FAKE_CUDA_EXPORT ncclResult_t ncclAllReduce(const void *send, void *recv,
                                            size_t count,
                                            ncclDataType_t type,
                                            ncclRedOp_t op, ncclComm_t comm,
                                            cudaStream_t stream) {
  if (ncclResult_t r = checkCall(comm, stream, "ncclAllReduce"))
    return r;
  size_t bytes = count * typeSize(type);
  if (!fakeCudaIsDeviceRange(send, bytes) || !fakeCudaIsDeviceRange(recv, bytes))
    return ncclInvalidArgument;
  Post post{std::string("ncclAllReduce ") + opName(op), send, recv, count, type,
            op, {}, {}};
  return collective(
      comm, stream, post,
      [&](const std::vector<Post> &posts) {
        std::vector<char> out(bytes);
        reduceInto(posts, 0, count, type, op, out.data());
        return out;
      },
      [&](const std::vector<char> &out) { std::memcpy(recv, out.data(), bytes); });
}

FAKE_CUDA_EXPORT ncclResult_t ncclAllGather(const void *send, void *recv,
                                            size_t count,
                                            ncclDataType_t type,
                                            ncclComm_t comm,
                                            cudaStream_t stream) {
  if (ncclResult_t r = checkCall(comm, stream, "ncclAllGather"))
    return r;
  size_t bytes = count * typeSize(type), n = comm->group->size;
  if (!fakeCudaIsDeviceRange(send, bytes) ||
      !fakeCudaIsDeviceRange(recv, bytes * n))
    return ncclInvalidArgument;
  Post post{"ncclAllGather", send, recv, count, type, ncclSum, {}, {}};
  return collective(
      comm, stream, post,
      [&](const std::vector<Post> &posts) {
        std::vector<char> out(bytes * n);
        for (size_t p = 0; p < n; ++p)
          std::memcpy(out.data() + p * bytes, posts[p].send, bytes);
        return out;
      },
      [&](const std::vector<char> &out) {
        std::memcpy(recv, out.data(), out.size());
      });
}

FAKE_CUDA_EXPORT ncclResult_t ncclReduceScatter(const void *send, void *recv,
                                                size_t count,
                                                ncclDataType_t type,
                                                ncclRedOp_t op,
                                                ncclComm_t comm,
                                                cudaStream_t stream) {
  if (ncclResult_t r = checkCall(comm, stream, "ncclReduceScatter"))
    return r;
  size_t bytes = count * typeSize(type), n = comm->group->size;
  if (!fakeCudaIsDeviceRange(send, bytes * n) ||
      !fakeCudaIsDeviceRange(recv, bytes))
    return ncclInvalidArgument;
  Post post{std::string("ncclReduceScatter ") + opName(op), send, recv, count,
            type, op, {}, {}};
  int rank = comm->rank;
  return collective(
      comm, stream, post,
      [&](const std::vector<Post> &posts) {
        std::vector<char> out(bytes);
        reduceInto(posts, rank * count, count, type, op, out.data());
        return out;
      },
      [&](const std::vector<char> &out) { std::memcpy(recv, out.data(), bytes); });
}

FAKE_CUDA_EXPORT ncclResult_t ncclGroupStart() {
  if (groupDepth++ == 0) {
    groupComm = nullptr;
    groupPost = Post{};
  }
  return ncclSuccess;
}

/// A send or receive: only inside a group, all on one communicator, one
/// of each per peer (what llmc's all-to-all makes).
static ncclResult_t queue(bool isSend, const void *buffer, size_t count,
                          ncclDataType_t type, int peer, ncclComm_t comm,
                          cudaStream_t stream) {
  const char *what = isSend ? "ncclSend" : "ncclRecv";
  if (ncclResult_t r = checkCall(comm, stream, what))
    return r;
  if (groupDepth == 0 || (groupComm && groupComm != comm) || peer < 0 ||
      peer >= comm->group->size ||
      !fakeCudaIsDeviceRange(buffer, count * typeSize(type))) {
    fakeCudaTrace("%s rank=%d -> 5 (outside a group, on another "
                  "communicator, to no such peer or outside device memory)",
                  what, comm->rank);
    return ncclInvalidUsage;
  }
  groupComm = comm;
  groupStream = stream;
  Post &p = groupPost;
  size_t n = comm->group->size;
  p.sends.resize(n, {nullptr, 0});
  p.recvs.resize(n, {nullptr, 0});
  p.type = type;
  if (isSend)
    p.sends[peer] = {buffer, count};
  else
    p.recvs[peer] = {const_cast<void *>(buffer), count};
  return ncclSuccess;
}

FAKE_CUDA_EXPORT ncclResult_t ncclSend(const void *send, size_t count,
                                       ncclDataType_t type, int peer,
                                       ncclComm_t comm, cudaStream_t stream) {
  return queue(true, send, count, type, peer, comm, stream);
}

FAKE_CUDA_EXPORT ncclResult_t ncclRecv(void *recv, size_t count,
                                       ncclDataType_t type, int peer,
                                       ncclComm_t comm, cudaStream_t stream) {
  return queue(false, recv, count, type, peer, comm, stream);
}

FAKE_CUDA_EXPORT ncclResult_t ncclGroupEnd() {
  if (groupDepth == 0)
    return ncclInvalidUsage;
  if (--groupDepth > 0 || !groupComm)
    return ncclSuccess;
  ncclComm_t comm = groupComm;
  Post post = groupPost;
  post.op = "ncclSendRecv";
  size_t element = typeSize(post.type);
  for (const auto &s : post.sends)
    post.count += s.second;
  int rank = comm->rank;
  return collective(
      comm, groupStream, post,
      [&](const std::vector<Post> &posts) {
        // What each peer sent this rank, packed in peer order.
        std::vector<char> out;
        for (size_t p = 0; p < posts.size(); ++p) {
          auto [from, count] = posts[p].sends[rank];
          if (count != post.recvs[p].second)
            fakeCudaTrace("MISMATCH ncclSendRecv rank=%d: peer %zu sends %zu "
                          "elements, %zu are received",
                          rank, p, count, post.recvs[p].second);
          size_t at = out.size();
          out.resize(at + count * element);
          if (count)
            std::memcpy(out.data() + at, from, count * element);
        }
        return out;
      },
      [&](const std::vector<char> &out) {
        size_t at = 0;
        for (auto [to, count] : post.recvs) {
          size_t bytes = count * element;
          if (at + bytes <= out.size() && bytes)
            std::memcpy(to, out.data() + at, bytes);
          at += bytes;
        }
      });
}

} // extern "C"
