//===- MpiCollectives.cpp - A mesh of processes over MPI ------------------===//
//
// Under `mpirun -np N` each process is one device of the mesh, and the
// groups of runOnProcessDevice exchange their bytes through MPI: one
// communicator per mesh axis, split from the world so that a group is the
// devices that agree on every other axis, ranked by their coordinate on
// this one. Every collective is an allgather of bytes (the members'
// announcements, then their packed inputs) followed by the local
// computation the threads do, so results are bit-identical to theirs.
//
// The runtime links no MPI. It opens Open MPI 4's libmpi.so.40 (or
// $LLMC_MPI) the way CpuKernels.cpp opens OpenBLAS, and takes Open MPI's
// predefined handles as the exported objects they are: in its mpi.h,
// MPI_COMM_WORLD is &ompi_mpi_comm_world and MPI_BYTE &ompi_mpi_byte, and
// every handle is a pointer to an opaque struct.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Collectives.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#include <tuple>
#include <utility>

using namespace llmc::runtime;

namespace {
/// Open MPI's handle types (mpi.h: `typedef struct ompi_communicator_t
/// *MPI_Comm;` and so on), as opaque pointers.
using Comm = void *;
using Datatype = void *;
using Errhandler = void *;

constexpr int kSuccess = 0;          // MPI_SUCCESS
constexpr int kThreadSerialized = 2; // MPI_THREAD_SERIALIZED
constexpr int kMaxErrorString = 256; // MPI_MAX_ERROR_STRING
/// The most bytes one MPI call moves: counts are ints.
constexpr int64_t kChunk = int64_t(1) << 30;

/// The MPI library, opened and initialized once per process.
struct Mpi {
  std::string path;
  int (*initialized)(int *) = nullptr;
  int (*finalized)(int *) = nullptr;
  int (*initThread)(int *, char ***, int, int *) = nullptr;
  int (*finalize)() = nullptr;
  int (*commRank)(Comm, int *) = nullptr;
  int (*commSize)(Comm, int *) = nullptr;
  int (*commSplit)(Comm, int, int, Comm *) = nullptr;
  int (*commSetErrhandler)(Comm, Errhandler) = nullptr;
  int (*allgather)(const void *, int, Datatype, void *, int, Datatype,
                   Comm) = nullptr;
  int (*gather)(const void *, int, Datatype, void *, int, Datatype, int,
                Comm) = nullptr;
  int (*errorString)(int, char *, int *) = nullptr;
  Comm world = nullptr;
  Datatype byte = nullptr;
  Errhandler errorsReturn = nullptr;
  int size = 0, rank = 0;
  /// Per mesh (by its axis sizes), one communicator per axis.
  std::map<std::vector<int64_t>, std::vector<Comm>> axisComms;

  /// "" or why `rc` is not MPI_SUCCESS, with what was being done.
  std::string check(int rc, const char *what) const {
    if (rc == kSuccess)
      return "";
    char text[kMaxErrorString + 1] = {};
    int length = 0;
    if (errorString(rc, text, &length) != kSuccess)
      std::snprintf(text, sizeof text, "error %d", rc);
    return std::string(what) + " failed: " + text;
  }

  /// MPI_Allgather of `bytes` bytes per member, in pieces that fit an int.
  std::string allGather(Comm comm, int members, const void *data, int64_t bytes,
                        void *all) const {
    if (bytes <= kChunk)
      return check(
          allgather(data, int(bytes), byte, all, int(bytes), byte, comm),
          "MPI_Allgather");
    std::vector<char> piece(kChunk * members);
    for (int64_t at = 0; at < bytes; at += kChunk) {
      int64_t n = std::min(kChunk, bytes - at);
      std::string why =
          check(allgather(static_cast<const char *>(data) + at, int(n), byte,
                          piece.data(), int(n), byte, comm),
                "MPI_Allgather");
      if (!why.empty())
        return why;
      for (int j = 0; j < members; ++j)
        std::memcpy(static_cast<char *>(all) + j * bytes + at,
                    piece.data() + j * n, n);
    }
    return "";
  }
};

Mpi *theMpi = nullptr;
/// MPI_Finalized and MPI_Finalize, for the exit of a process that
/// initialized MPI (even where opening failed afterwards).
int (*finalizedAtExit)(int *) = nullptr;
int (*finalizeAtExit)() = nullptr;

/// MPI_Finalize at exit, once, unless someone else already called it.
void finalizeMpi() {
  int done = 1;
  if (finalizedAtExit(&done) == kSuccess && !done)
    finalizeAtExit();
}

/// Opens the library and initializes MPI; null with `error`.
Mpi *openMpi(std::string &error) {
  auto mpi = std::make_unique<Mpi>();
  const char *env = std::getenv("LLMC_MPI");
  mpi->path = env && *env ? env : "libmpi.so.40";
  // Global: Open MPI's plugins, which it opens itself, resolve against it.
  void *lib = dlopen(mpi->path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!lib) {
    const char *why = dlerror();
    error = "cannot open the MPI library '" + mpi->path + "' (" +
            (why ? why : "unknown error") +
            "): several processes need Open MPI 4 (Debian's libopenmpi3), "
            "or LLMC_MPI naming its libmpi.so";
    return nullptr;
  }
  std::string missing;
  auto symbol = [&](auto &slot, const char *name) {
    void *p = dlsym(lib, name);
    if (!p && missing.empty())
      missing = name;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(p);
  };
  symbol(mpi->initialized, "MPI_Initialized");
  symbol(mpi->finalized, "MPI_Finalized");
  symbol(mpi->initThread, "MPI_Init_thread");
  symbol(mpi->finalize, "MPI_Finalize");
  symbol(mpi->commRank, "MPI_Comm_rank");
  symbol(mpi->commSize, "MPI_Comm_size");
  symbol(mpi->commSplit, "MPI_Comm_split");
  symbol(mpi->commSetErrhandler, "MPI_Comm_set_errhandler");
  symbol(mpi->allgather, "MPI_Allgather");
  symbol(mpi->gather, "MPI_Gather");
  symbol(mpi->errorString, "MPI_Error_string");
  symbol(mpi->world, "ompi_mpi_comm_world");
  symbol(mpi->byte, "ompi_mpi_byte");
  symbol(mpi->errorsReturn, "ompi_mpi_errors_return");
  if (!missing.empty()) {
    error = "the MPI library '" + mpi->path + "' lacks '" + missing +
            "': llmc needs Open MPI 4 (libmpi.so.40)";
    return nullptr;
  }
  int done = 0, provided = 0;
  if (mpi->initialized(&done) != kSuccess) {
    error = "MPI_Initialized failed";
    return nullptr;
  }
  if (!done) {
    // Serialized: the caller's thread may not be the one that started MPI
    // (a Python thread), but only one calls at a time.
    std::string why = mpi->check(
        mpi->initThread(nullptr, nullptr, kThreadSerialized, &provided),
        "MPI_Init_thread");
    if (!why.empty()) {
      error = why;
      return nullptr;
    }
    finalizedAtExit = mpi->finalized;
    finalizeAtExit = mpi->finalize;
    std::atexit(finalizeMpi);
  }
  // Errors come back as codes, to become one line, rather than aborting
  // the job with a page of text. Split communicators inherit this.
  std::string why =
      mpi->check(mpi->commSetErrhandler(mpi->world, mpi->errorsReturn),
                 "MPI_Comm_set_errhandler");
  if (why.empty())
    why = mpi->check(mpi->commSize(mpi->world, &mpi->size), "MPI_Comm_size");
  if (why.empty())
    why = mpi->check(mpi->commRank(mpi->world, &mpi->rank), "MPI_Comm_rank");
  if (!why.empty()) {
    error = why;
    return nullptr;
  }
  // Another implementation's mpirun starts processes that each see a
  // world of their own.
  ProcessLaunch launch = processLaunch();
  if (launch.size > 0 &&
      (launch.size != mpi->size || launch.rank != mpi->rank)) {
    error = "MPI ('" + mpi->path + "') sees process " +
            std::to_string(mpi->rank) + " of " + std::to_string(mpi->size) +
            ", but the launcher started process " +
            std::to_string(launch.rank) + " of " + std::to_string(launch.size) +
            ": start it with Open MPI 4's mpirun (Debian: mpirun.openmpi)";
    return nullptr;
  }
  return mpi.release();
}

/// The communicators of `mesh`'s axes for this process; null with `error`.
const std::vector<Comm> *axisCommunicators(Mpi &mpi, const MeshShape &mesh,
                                           std::string &error) {
  auto found = mpi.axisComms.find(mesh.axisSizes);
  if (found != mpi.axisComms.end())
    return &found->second;
  std::vector<int64_t> coords = mesh.coordinates(mpi.rank);
  std::vector<Comm> comms;
  for (size_t a = 0; a < mesh.axisSizes.size(); ++a) {
    // The group: the devices at this one's coordinates on every other
    // axis (the colour, their row-major index), ordered along this axis.
    int64_t colour = 0;
    for (size_t b = 0; b < mesh.axisSizes.size(); ++b)
      if (b != a)
        colour = colour * mesh.axisSizes[b] + coords[b];
    Comm comm = nullptr;
    int size = 0, rank = 0;
    std::string why =
        mpi.check(mpi.commSplit(mpi.world, int(colour), int(coords[a]), &comm),
                  "MPI_Comm_split");
    if (why.empty())
      why = mpi.check(mpi.commSize(comm, &size), "MPI_Comm_size");
    if (why.empty())
      why = mpi.check(mpi.commRank(comm, &rank), "MPI_Comm_rank");
    if (why.empty() && (size != mesh.axisSizes[a] || rank != coords[a]))
      why = "MPI_Comm_split gave device " + std::to_string(mpi.rank) +
            " member " + std::to_string(rank) + " of " + std::to_string(size) +
            " over mesh axis '" + mesh.axisNames[a] + "', expected " +
            std::to_string(coords[a]) + " of " +
            std::to_string(mesh.axisSizes[a]);
    if (!why.empty()) {
      error = why;
      return nullptr;
    }
    comms.push_back(comm);
  }
  return &(mpi.axisComms[mesh.axisSizes] = std::move(comms));
}

/// The context of the exchange runOnMpiMesh hands the devices.
struct AxisExchange {
  const Mpi *mpi;
  const std::vector<Comm> *comms;
  const MeshShape *mesh;
};

int allGatherOverAxis(void *context, int64_t axis, const void *data,
                      int64_t bytes, void *all, char *error,
                      int64_t errorSize) {
  const auto &x = *static_cast<const AxisExchange *>(context);
  std::string why = x.mpi->allGather(
      (*x.comms)[axis], int(x.mesh->axisSizes[axis]), data, bytes, all);
  return reportToBuffer(why, error, errorSize);
}

/// Every process passes a severity (0: none) and a message; all get the
/// message of the lowest rank with the highest severity ("" when all are
/// 0), or an MPI failure.
std::string agree(Mpi &mpi, int severity, const std::string &message) {
  constexpr int64_t kEntry = 1024;
  std::vector<char> mine(kEntry, 0), all(kEntry * mpi.size);
  mine[0] = char(severity);
  std::memcpy(mine.data() + 1, message.data(),
              std::min<size_t>(message.size(), kEntry - 2));
  std::string why =
      mpi.allGather(mpi.world, mpi.size, mine.data(), kEntry, all.data());
  if (!why.empty())
    return why;
  int best = -1;
  for (int r = 0; r < mpi.size; ++r)
    if (all[r * kEntry] > 0 &&
        (best < 0 || all[r * kEntry] > all[best * kEntry]))
      best = r;
  if (best < 0)
    return "";
  const char *text = all.data() + best * kEntry + 1;
  return std::string(text, strnlen(text, kEntry - 1));
}

std::string pluralProcesses(int64_t n) {
  return std::to_string(n) + (n == 1 ? " process" : " processes");
}
} // namespace

ProcessLaunch llmc::runtime::processLaunch() {
  auto number = [](const char *name, int64_t &value) {
    const char *text = std::getenv(name);
    if (!text || !*text)
      return false;
    char *end = nullptr;
    long long v = std::strtoll(text, &end, 10);
    if (*end != '\0' || v < 0)
      return false;
    value = v;
    return true;
  };
  ProcessLaunch launch;
  for (auto [size, rank, local] :
       {std::tuple{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                   "OMPI_COMM_WORLD_LOCAL_RANK"},
        std::tuple{"PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"},
        std::tuple{"WORLD_SIZE", "RANK", "LOCAL_RANK"}})
    if (number(size, launch.size) && launch.size > 0 &&
        number(rank, launch.rank) && launch.rank < launch.size) {
      if (!number(local, launch.localRank) || launch.localRank > launch.rank)
        launch.localRank = launch.rank;
      launch.launcher =
          std::string(size) == "WORLD_SIZE" ? "torchrun" : "mpirun";
      return launch;
    }
  return {};
}

bool llmc::runtime::startMpi(std::string &error) {
  static std::mutex mutex;
  static std::string failure;
  std::lock_guard<std::mutex> lock(mutex);
  if (!theMpi && failure.empty() && !(theMpi = openMpi(failure)) &&
      failure.empty())
    failure = "cannot start MPI";
  error = theMpi ? "" : failure;
  return theMpi != nullptr;
}

std::string llmc::runtime::agreeAcrossProcesses(const std::string &error) {
  if (!theMpi)
    return error;
  return agree(*theMpi, error.empty() ? 0 : 1, error);
}

std::string
llmc::runtime::runOnMpiMesh(const MeshShape &mesh,
                            const std::function<void(int64_t)> &perDevice) {
  if (!theMpi)
    return "a mesh over processes needs MPI, which is not started";
  Mpi &mpi = *theMpi;
  // Every process holds the same artifact: they all stop here alike.
  if (mesh.numDevices() != mpi.size)
    return "the device mesh has " + std::to_string(mesh.numDevices()) +
           " devices; mpirun started " + pluralProcesses(mpi.size);
  std::string error;
  const std::vector<Comm> *comms = axisCommunicators(mpi, mesh, error);
  // An error of this device's own outranks one that follows another's.
  int severity = 0;
  if (!comms) {
    severity = 2;
  } else {
    AxisExchange context{&mpi, comms, &mesh};
    ProcessExchange exchange{&allGatherOverAxis, &context};
    ProcessDeviceResult result =
        runOnProcessDeviceShared(mesh, mpi.rank, exchange, perDevice);
    error = result.error;
    severity = error.empty() ? 0 : result.abandoned ? 1 : 2;
  }
  return agree(mpi, severity, error);
}

bool llmc::runtime::shareFromRoot(void *data, int64_t bytes,
                                  std::string &error) {
  if (!theMpi) {
    error = "sharing across processes needs MPI, which is not started";
    return false;
  }
  Mpi &mpi = *theMpi;
  if (bytes <= 0 || bytes > kChunk)
    return bytes == 0;
  std::vector<char> all(static_cast<size_t>(bytes) * mpi.size);
  error = mpi.check(mpi.allgather(data, int(bytes), mpi.byte, all.data(),
                                  int(bytes), mpi.byte, mpi.world),
                    "MPI_Allgather");
  if (!error.empty())
    return false;
  std::memcpy(data, all.data(), static_cast<size_t>(bytes));
  return true;
}

bool llmc::runtime::gatherAtRoot(const void *data, int64_t bytes, void *all,
                                 std::string &error) {
  if (!theMpi) {
    error = "gathering across processes needs MPI, which is not started";
    return false;
  }
  Mpi &mpi = *theMpi;
  // Every process passes the same size (the parts of a tensor are equal).
  if (bytes == 0)
    return true;
  std::vector<char> piece(mpi.rank == 0 ? std::min(bytes, kChunk) * mpi.size
                                        : 1);
  for (int64_t at = 0; at < bytes; at += kChunk) {
    int64_t n = std::min(kChunk, bytes - at);
    error = mpi.check(mpi.gather(static_cast<const char *>(data) + at, int(n),
                                 mpi.byte, piece.data(), int(n), mpi.byte, 0,
                                 mpi.world),
                      "MPI_Gather");
    if (!error.empty())
      return false;
    if (mpi.rank == 0)
      for (int r = 0; r < mpi.size; ++r)
        std::memcpy(static_cast<char *>(all) + r * bytes + at,
                    piece.data() + r * n, n);
  }
  return true;
}
