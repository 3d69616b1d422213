//===- FakeNccl.cpp - A fake NCCL that really moves the bytes -------------===//
//
// The runtime opens it from LLMC_NCCL. Communicators are made two ways:
//  * ncclCommInitAll within one process (CudaMesh driving every GPU): the
//    ranks are the runtime's device threads, and they meet in memory;
//  * ncclCommInitRank(Config) and ncclCommSplit across processes (one
//    process per GPU, under mpirun or torchrun): the ranks meet through
//    files in a folder named by the unique id ($FAKE_NCCL_DIR, else /tmp).
//    ncclGetUniqueId honours NCCL_COMM_ID as NCCL does: every process that
//    sets the same address gets the same id. A non-blocking init
//    (config.blocking = 0) returns ncclInProgress and joins in the
//    background; ncclCommGetAsyncError says when it is done.
// Device memory is host memory (the fake driver's), so an eager collective
// really runs: every rank posts a copy of what it sends, waits for the
// others, computes its own output from the peers' posts, and writes it.
// Captured into a CUDA graph, a collective only counts as a node (as the
// fake's kernels do). Every call appends one line to $FAKE_CUDA_TRACE,
// with its rank.
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
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {
/// What one rank contributes to a collective: a copy of what it sends
/// (one chunk; for grouped sends, one chunk per peer).
struct Post {
  std::string op;
  size_t count = 0;
  ncclDataType_t type = ncclFloat32;
  ncclRedOp_t reduce = ncclSum;
  std::vector<std::string> chunks;
  /// This rank's own, never posted: where a grouped receive lands, per
  /// peer (elements).
  std::vector<std::pair<void *, size_t>> recvs;
  const char *data(size_t chunk = 0) const { return chunks[chunk].data(); }
};

/// The ranks of one communicator: in memory (ncclCommInitAll), or in a
/// folder (`dir`: ncclCommInitRank and its splits, across processes).
struct Group {
  int size = 0;
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0;
  long generation = 0;
  bool aborted = false;
  std::vector<Post> posts;
  std::string dir;
};
} // namespace

struct ncclComm {
  std::shared_ptr<Group> group;
  int rank = 0;
  int device = 0;
  long collectives = 0;
  /// Across processes: exchanges so far (every rank makes the same ones,
  /// so the counts agree), splits made, and the state of a non-blocking
  /// init, joined in the background.
  long exchanges = 0;
  int splits = 0;
  std::atomic<bool> aborted{false};
  std::atomic<int> state{ncclSuccess};
  std::thread joiner;
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
  T acc = load<T>(posts[0].data(), at);
  for (size_t p = 1; p < posts.size(); ++p) {
    T v = load<T>(posts[p].data(), at);
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
      float acc = load<float>(posts[0].data(), at);
      for (size_t p = 1; p < posts.size(); ++p)
        acc = static_cast<float>(combine(acc, load<float>(posts[p].data(), at)));
      std::memcpy(out + i * 4, &acc, 4);
      break;
    }
    case ncclFloat64: {
      double acc = load<double>(posts[0].data(), at);
      for (size_t p = 1; p < posts.size(); ++p)
        acc = combine(acc, load<double>(posts[p].data(), at));
      std::memcpy(out + i * 8, &acc, 8);
      break;
    }
    case ncclFloat16:
    case ncclBfloat16: {
      bool bf = type == ncclBfloat16;
      float acc = halfToFloat(load<uint16_t>(posts[0].data(), at), bf);
      for (size_t p = 1; p < posts.size(); ++p)
        acc = static_cast<float>(
            combine(acc, halfToFloat(load<uint16_t>(posts[p].data(), at), bf)));
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

/// A post as bytes, for a file.
std::string serialize(const Post &p) {
  std::ostringstream out;
  out << p.op << '\n'
      << p.count << ' ' << int(p.type) << ' ' << int(p.reduce) << ' '
      << p.chunks.size() << '\n';
  for (const std::string &c : p.chunks)
    out << c.size() << '\n' << c;
  return out.str();
}

bool deserialize(const std::string &text, Post &p) {
  std::istringstream in(text);
  int type = 0, reduce = 0;
  size_t chunks = 0;
  if (!std::getline(in, p.op) || !(in >> p.count >> type >> reduce >> chunks))
    return false;
  p.type = static_cast<ncclDataType_t>(type);
  p.reduce = static_cast<ncclRedOp_t>(reduce);
  p.chunks.assign(chunks, {});
  for (std::string &c : p.chunks) {
    size_t n = 0;
    if (!(in >> n) || in.get() != '\n')
      return false;
    c.resize(n);
    if (n && !in.read(c.data(), static_cast<std::streamsize>(n)))
      return false;
  }
  return true;
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

/// Posts `mine` and collects every rank's post in `all` (rank order).
/// In memory: the ranks meet at a barrier. In a folder: each rank writes
/// exchange k's post to file "k.RANK" (renamed into place whole) and polls
/// for its peers'; after exchange k every peer has read k-1's files, so a
/// rank then removes its own of k-1. ncclSystemError when the group was
/// aborted or a peer did not come within $FAKE_NCCL_WAIT seconds.
ncclResult_t exchange(ncclComm &comm, const Post &mine, std::vector<Post> &all) {
  Group &g = *comm.group;
  if (g.dir.empty()) {
    {
      std::lock_guard<std::mutex> lock(g.mutex);
      if (g.posts.size() != static_cast<size_t>(g.size))
        g.posts.resize(g.size);
      g.posts[comm.rank] = mine;
    }
    if (!barrier(g))
      return ncclSystemError;
    std::lock_guard<std::mutex> lock(g.mutex);
    all = g.posts;
    return ncclSuccess;
  }
  long k = ++comm.exchanges;
  auto file = [&](long exchange, int rank) {
    return g.dir + "/" + std::to_string(exchange) + "." + std::to_string(rank);
  };
  {
    std::string path = file(k, comm.rank), text = serialize(mine);
    std::ofstream out(path + ".part", std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out || std::rename((path + ".part").c_str(), path.c_str()) != 0) {
      fakeCudaTrace("ncclWait -> cannot write %s", path.c_str());
      return ncclSystemError;
    }
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(envNumber("FAKE_NCCL_WAIT", 20));
  all.assign(g.size, Post{});
  for (int p = 0; p < g.size; ++p) {
    while (!exists(file(k, p))) {
      if (comm.aborted || exists(g.dir + "/aborted"))
        return ncclSystemError;
      if (std::chrono::steady_clock::now() > deadline) {
        fakeCudaTrace("ncclWait -> timed out waiting for peers");
        return ncclSystemError;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::ifstream in(file(k, p), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    if (!deserialize(text, all[p])) {
      fakeCudaTrace("ncclWait -> unreadable post %s", file(k, p).c_str());
      return ncclSystemError;
    }
  }
  if (k > 1)
    std::remove(file(k - 1, comm.rank).c_str());
  return ncclSuccess;
}

/// Runs `post` as this rank's part of a collective: posted, the peers
/// awaited, `compute` (this rank's output, from every post), awaited again
/// in memory (no rank posts its next collective while a peer still reads
/// this one), then `commit` (the output written). In a capture it only
/// counts a node; a stalled or absent rank does nothing.
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
  std::vector<Post> posts;
  if (ncclResult_t r = exchange(*comm, post, posts))
    return r;
  bool inMemory = g.dir.empty();
  for (const Post &p : posts)
    if (p.op != post.op || p.count != post.count || p.type != post.type ||
        p.reduce != post.reduce || p.chunks.size() != post.chunks.size()) {
      fakeCudaTrace("MISMATCH %s rank=%d: the members disagree on the "
                    "operation, count or type",
                    post.op.c_str(), comm->rank);
      if (inMemory)
        barrier(g);
      return ncclInvalidUsage;
    }
  std::vector<char> result = compute(posts);
  if (inMemory && !barrier(g))
    return ncclSystemError;
  commit(result);
  return ncclSuccess;
}

/// A post of one chunk: the `bytes` at `send`.
Post postOf(std::string op, const void *send, size_t bytes, size_t count,
            ncclDataType_t type, ncclRedOp_t reduce) {
  Post p;
  p.op = std::move(op);
  p.count = count;
  p.type = type;
  p.reduce = reduce;
  p.chunks = {std::string(static_cast<const char *>(send), bytes)};
  return p;
}

/// The folder of the communicators made from `id`.
std::string folderOf(const ncclUniqueId &id) {
  const char *base = std::getenv("FAKE_NCCL_DIR");
  std::string dir = std::string(base && *base ? base : "/tmp") + "/fake-nccl-" +
                    std::string(id.internal, strnlen(id.internal,
                                                     sizeof(id.internal)));
  ::mkdir(dir.c_str(), 0777);
  return dir;
}

/// The sends and receives of the open group, this thread's.
thread_local int groupDepth = 0;
thread_local ncclComm_t groupComm = nullptr;
thread_local cudaStream_t groupStream = nullptr;
thread_local Post groupPost;
thread_local std::vector<std::pair<const void *, size_t>> groupSends;
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
  case ncclInProgress: return "operation in progress";
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
  for (int i = 0; i < ndev; ++i) {
    comms[i] = new ncclComm;
    comms[i]->group = group;
    comms[i]->rank = i;
    comms[i]->device = devlist ? devlist[i] : i;
  }
  return ncclSuccess;
}

/// The same id in every process that sets NCCL_COMM_ID alike (as NCCL:
/// the address of rank 0's bootstrap root); a fresh one otherwise.
FAKE_CUDA_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  if (!id)
    return ncclInvalidArgument;
  static std::atomic<int> made{0};
  std::string token;
  if (const char *env = std::getenv("NCCL_COMM_ID"); env && *env) {
    token = std::string("at-") + env;
    for (char &c : token)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
        c = '_';
  } else {
    token = "id-" + std::to_string(::getpid()) + "-" + std::to_string(++made) +
            "-" +
            std::to_string(
                std::chrono::steady_clock::now().time_since_epoch().count());
  }
  std::memset(id->internal, 0, sizeof(id->internal));
  std::snprintf(id->internal, sizeof(id->internal), "%s", token.c_str());
  fakeCudaTrace("ncclGetUniqueId%s", std::getenv("NCCL_COMM_ID")
                                         ? " (from NCCL_COMM_ID)"
                                         : "");
  return ncclSuccess;
}

/// One rank of a communicator across processes, on the current device.
/// Every rank must come (with the same nranks) before the communicator is
/// ready: blocking, before returning; with config->blocking == 0, in the
/// background (ncclInProgress now, ncclCommGetAsyncError later).
FAKE_CUDA_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t *out,
                                                     int nranks,
                                                     ncclUniqueId id, int rank,
                                                     ncclConfig_t *config) {
  if (!out || nranks < 1 || rank < 0 || rank >= nranks)
    return ncclInvalidArgument;
  int device = std::max(0, fakeCudaStreamDevice(nullptr));
  bool blocking = !config || config->blocking != 0;
  fakeCudaTrace("ncclCommInitRank rank=%d/%d device=%d%s", rank, nranks,
                device, blocking ? "" : " nonblocking");
  auto group = std::make_shared<Group>();
  group->size = nranks;
  group->dir = folderOf(id);
  ncclComm_t comm = new ncclComm;
  comm->group = group;
  comm->rank = rank;
  comm->device = device;
  *out = comm;
  auto join = [comm, nranks] {
    Post hello;
    hello.op = "ncclCommInitRank";
    hello.count = nranks;
    std::vector<Post> all;
    ncclResult_t r = exchange(*comm, hello, all);
    for (const Post &p : all)
      if (r == ncclSuccess && p.count != hello.count)
        r = ncclInvalidUsage;
    fakeCudaTrace("ncclCommInitRank rank=%d/%d -> %d", comm->rank, nranks,
                  int(r));
    comm->state = r;
    return r;
  };
  if (!blocking) {
    comm->state = ncclInProgress;
    comm->joiner = std::thread(join);
    return ncclInProgress;
  }
  ncclResult_t r = join();
  if (r != ncclSuccess) {
    delete comm;
    *out = nullptr;
  }
  return r;
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks,
                                               ncclUniqueId id, int rank) {
  return ncclCommInitRankConfig(comm, nranks, id, rank, nullptr);
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t comm,
                                                    ncclResult_t *error) {
  if (!comm || !error)
    return ncclInvalidArgument;
  *error = static_cast<ncclResult_t>(comm->state.load());
  return ncclSuccess;
}

/// The ranks of `comm` with the same color, ordered by key (then rank),
/// form a new communicator; NCCL_SPLIT_NOCOLOR gets none. Across
/// processes only (the communicators of ncclCommInitRank).
FAKE_CUDA_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key,
                                            ncclComm_t *out,
                                            ncclConfig_t *config) {
  if (!comm || !out)
    return ncclInvalidArgument;
  if (comm->group->dir.empty() || comm->state != ncclSuccess) {
    fakeCudaTrace("ncclCommSplit rank=%d -> 5 (the fake splits only a ready "
                  "communicator of ncclCommInitRank)",
                  comm->rank);
    return ncclInvalidUsage;
  }
  (void)config;
  Post ask;
  ask.op = "ncclCommSplit";
  ask.chunks = {std::to_string(color) + " " + std::to_string(key)};
  std::vector<Post> all;
  if (ncclResult_t r = exchange(*comm, ask, all))
    return r;
  int split = ++comm->splits;
  std::vector<std::pair<int, int>> members; // (key, parent rank)
  for (int p = 0; p < static_cast<int>(all.size()); ++p) {
    int c = 0, k = 0;
    if (all[p].chunks.size() != 1 ||
        std::sscanf(all[p].chunks[0].c_str(), "%d %d", &c, &k) != 2)
      return ncclInvalidUsage;
    if (c == color && color != NCCL_SPLIT_NOCOLOR)
      members.push_back({k, p});
  }
  if (color == NCCL_SPLIT_NOCOLOR) {
    *out = nullptr;
    return ncclSuccess;
  }
  std::sort(members.begin(), members.end());
  auto group = std::make_shared<Group>();
  group->size = static_cast<int>(members.size());
  group->dir = comm->group->dir + "/split" + std::to_string(split) + "-" +
               std::to_string(color);
  ::mkdir(group->dir.c_str(), 0777);
  ncclComm_t made = new ncclComm;
  made->group = group;
  made->device = comm->device;
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].second == comm->rank)
      made->rank = static_cast<int>(i);
  fakeCudaTrace("ncclCommSplit rank=%d/%d color=%d key=%d -> rank=%d/%d",
                comm->rank, comm->group->size, color, key, made->rank,
                group->size);
  *out = made;
  return ncclSuccess;
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  fakeCudaTrace("ncclCommDestroy rank=%d", comm ? comm->rank : -1);
  if (comm && comm->joiner.joinable())
    comm->joiner.join();
  delete comm;
  return ncclSuccess;
}

FAKE_CUDA_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm)
    return ncclInvalidArgument;
  fakeCudaTrace("ncclCommAbort rank=%d", comm->rank);
  comm->aborted = true;
  Group &g = *comm->group;
  if (!g.dir.empty())
    std::ofstream(g.dir + "/aborted").put('\n');
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.aborted = true;
  }
  g.changed.notify_all();
  if (comm->joiner.joinable())
    comm->joiner.join();
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
  return collective(
      comm, stream,
      postOf(std::string("ncclAllReduce ") + opName(op), send, bytes, count,
             type, op),
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
  return collective(
      comm, stream,
      postOf("ncclAllGather", send, bytes, count, type, ncclSum),
      [&](const std::vector<Post> &posts) {
        std::vector<char> out(bytes * n);
        for (size_t p = 0; p < n; ++p)
          std::memcpy(out.data() + p * bytes, posts[p].data(), bytes);
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
  int rank = comm->rank;
  return collective(
      comm, stream,
      postOf(std::string("ncclReduceScatter ") + opName(op), send, bytes * n,
             count, type, op),
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
    groupSends.clear();
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
  groupSends.resize(n, {nullptr, 0});
  p.recvs.resize(n, {nullptr, 0});
  p.type = type;
  if (isSend)
    groupSends[peer] = {buffer, count};
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
  // Each peer's chunk: what goes there.
  for (auto [from, count] : groupSends) {
    post.count += count;
    post.chunks.emplace_back(static_cast<const char *>(from),
                             from ? count * element : 0);
  }
  int rank = comm->rank;
  return collective(
      comm, groupStream, post,
      [&](const std::vector<Post> &posts) {
        // What each peer sent this rank, packed in peer order.
        std::vector<char> out;
        for (size_t p = 0; p < posts.size(); ++p) {
          const std::string &from = posts[p].chunks[rank];
          size_t count = from.size() / element;
          if (count != post.recvs[p].second)
            fakeCudaTrace("MISMATCH ncclSendRecv rank=%d: peer %zu sends %zu "
                          "elements, %zu are received",
                          rank, p, count, post.recvs[p].second);
          out.insert(out.end(), from.begin(), from.end());
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
