//===- Collectives.h - Collectives between CPU devices ----------*- C++ -*-===//
//
// Part of the runtime: a mesh of N CPU "devices" is N threads of one process,
// and a collective is a rendezvous of a group of them over shared memory.
// Compiled code calls the C kernels below; a runner starts the device threads
// with runOnCpuMesh. A collective never hangs and never aborts: a peer that
// does not arrive within the timeout, or disagrees on what it publishes,
// fails the whole mesh run with a one-line error and zeros in every output.
// A mesh can also span processes, one device each (runOnProcessDevice; over
// MPI, runOnMpiMesh): the groups then exchange bytes instead of slots and
// compute the same outputs.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_COLLECTIVES_H
#define LLMC_RUNTIME_COLLECTIVES_H

#include "llmc/Runtime/CpuKernels.h"
#include "llmc/Runtime/Tensor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace llmc::runtime {

/// A device mesh: named axes with sizes, devices numbered row-major (on
/// dp=2,tp=4, rank = dp * 4 + tp).
struct MeshShape {
  std::vector<std::string> axisNames;
  std::vector<int64_t> axisSizes;

  /// The product of the axis sizes.
  int64_t numDevices() const;
  /// The coordinate of device `rank` on each axis.
  std::vector<int64_t> coordinates(int64_t rank) const;
};

/// What a collective does; the numbers are those compiled code passes.
enum class CollectiveKind : int64_t {
  AllReduce = 0,     ///< out = reduction of every member's in
  AllGather = 1,     ///< out = members' in concatenated along dim
  ReduceScatter = 2, ///< out = this member's chunk along dim of the reduction
  AllToAll = 3,      ///< out = chunk g along dim of each member, along dim2
  Split = 4,         ///< out = this member's chunk along dim of in (local)
};

/// The elementwise reduction of AllReduce and ReduceScatter.
enum class ReduceKind : int64_t { Sum = 0, Max = 1, Min = 2 };

/// One collective, as the i64 params memref of the kernels spells it:
/// [kind, axis, dim, reduce, groupSize, stepId, dim2].
struct CollectiveParams {
  CollectiveKind kind = CollectiveKind::AllReduce;
  /// The mesh axis the group spans: the devices whose coordinates agree on
  /// every other axis, each at its coordinate on this one.
  int64_t axis = 0;
  /// The gathered, scattered or split dimension (AllToAll: the split one).
  int64_t dim = 0;
  ReduceKind reduce = ReduceKind::Sum;
  /// The size of the mesh axis the program was compiled for.
  int64_t groupSize = 1;
  /// The collective's ordinal in the program, for messages only.
  int64_t stepId = 0;
  /// AllToAll: the dimension the chunks are concatenated along.
  int64_t dim2 = 0;
};

/// The name messages use: all_reduce, all_gather, reduce_scatter,
/// all_to_all or split.
const char *collectiveName(CollectiveKind kind);

/// Runs perDevice(rank) on mesh.numDevices() threads, each the device `rank`
/// for the collectives it calls, and joins them. Returns "" or the first
/// error in one line: a collective's (a peer missing for `timeoutSeconds`,
/// a mismatch) or that of a perDevice that threw. After the first error
/// every waiting collective of the run returns at once and later ones do not
/// wait, so a failed run ends promptly.
std::string runOnCpuMesh(const MeshShape &mesh, double timeoutSeconds,
                         const std::function<void(int64_t rank)> &perDevice);

/// runOnCpuMesh of the copy of the runtime that compiled code resolves its
/// collective kernels to: a process may hold two (the Python package loads
/// the kernels into the global namespace beside its extension's own copy),
/// and the devices' contexts must be set where the kernels look for them.
/// Found through the exported C function llmc_run_on_cpu_mesh; this copy's
/// when none is global.
std::string
runOnCpuMeshShared(const MeshShape &mesh, double timeoutSeconds,
                   const std::function<void(int64_t rank)> &perDevice);

/// How the devices of a mesh that spans several processes (one device
/// each) move bytes; runOnMpiMesh implements it over MPI. A plain C struct:
/// it crosses between the copies of the runtime a process may hold.
struct ProcessExchange {
  /// Every member of the calling device's group over mesh axis `axis`
  /// passes `bytes` bytes at `data`; `all` receives the group's, member j's
  /// at j * bytes. Returns 0, or 1 with a one-line reason in `error`.
  int (*allGather)(void *context, int64_t axis, const void *data, int64_t bytes,
                   void *all, char *error, int64_t errorSize);
  void *context;
};

/// What runOnProcessDevice reports: this device's first error ("" if none),
/// and whether it only followed another device's failure.
struct ProcessDeviceResult {
  std::string error;
  bool abandoned = false;
};

/// Runs perDevice(rank) on the calling thread as device `rank` of `mesh`,
/// the other devices being other processes that do the same: each
/// collective first exchanges what every member is about to do (kind, step,
/// parameters, element type, shape, and whether it has failed), fails on a
/// disagreement with the threads' messages, then gathers the members' packed
/// inputs and computes its output as runOnCpuMesh's devices do, so that
/// results are bit-identical. After an error a device still takes part in
/// every exchange (it never leaves a peer waiting) and outputs zeros.
ProcessDeviceResult
runOnProcessDevice(const MeshShape &mesh, int64_t rank,
                   const ProcessExchange &exchange,
                   const std::function<void(int64_t rank)> &perDevice);

/// runOnProcessDevice of the copy of the runtime that compiled code
/// resolves its kernels to (see runOnCpuMeshShared); found through the
/// exported C function llmc_run_on_process_device.
ProcessDeviceResult
runOnProcessDeviceShared(const MeshShape &mesh, int64_t rank,
                         const ProcessExchange &exchange,
                         const std::function<void(int64_t rank)> &perDevice);

/// Performs one collective for the calling thread's device on dense
/// row-major buffers: `in` of shape inShape, `out` of shape outShape. Every
/// member must pass the same kind, step, parameters, element type and input
/// shape (messages number members by their index in the group). Integer
/// sums wrap; Bool reduces as I8. Outside runOnCpuMesh a group of 1 is a
/// world of one device. False with `out` zeroed on an error, which is
/// recorded for runOnCpuMesh (or for takeCollectiveError outside it).
bool collective(const CollectiveParams &params, DType dtype, const void *in,
                const std::vector<int64_t> &inShape, void *out,
                const std::vector<int64_t> &outShape);

/// The first error of a collective the calling thread ran outside
/// runOnCpuMesh (the kernels cannot return one), and clears it; "" if none.
std::string takeCollectiveError();

/// Returns 0 for an empty `why`; otherwise copies it (cut to fit, NUL
/// terminated) into the C buffer `error` of `errorSize` bytes and returns 1:
/// how the C interfaces between copies of the runtime report an error.
int reportToBuffer(const std::string &why, char *error, int64_t errorSize);

/// The collective kernels compiled code calls, ending with {nullptr,
/// nullptr}; getCpuKernelSymbols includes them. For T in f32, f64, f16, bf16,
/// i64, i32, i8 (also i1) and u8 and R in 0..8:
///   void _mlir_ciface_llmc_collective_<T>_r<R>(void *in, void *params,
///                                              void *out)
/// with `in` and `out` ranked memref descriptors of rank R (any strides) and
/// `params` a rank-1 i64 memref holding the 7 fields of CollectiveParams.
const KernelSymbol *getCollectiveKernelSymbols();

//===----------------------------------------------------------------------===//
// Several processes through MPI (MpiCollectives.cpp)
//===----------------------------------------------------------------------===//
//
// Under `mpirun -np N`, each process is one device of the mesh (device rank
// = MPI rank). The runtime links no MPI: it opens Open MPI 4's libmpi.so.40
// (or $LLMC_MPI) at run time and uses its predefined handles as symbols.
// MPI has no timeouts: a peer that dies makes mpirun abort the job.

/// This process's place in a job a launcher started: from Open MPI's
/// OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_RANK and
/// OMPI_COMM_WORLD_LOCAL_RANK, else PMI_SIZE and PMI_RANK (launcher
/// "mpirun"); else torchrun's WORLD_SIZE, RANK and LOCAL_RANK (launcher
/// "torchrun", for CUDA meshes: NCCL's bootstrap, no MPI). size 0 when the
/// process was not started by a launcher.
struct ProcessLaunch {
  int64_t size = 0;
  int64_t rank = 0;
  /// The rank among the job's processes on this host: which GPU it takes.
  int64_t localRank = 0;
  std::string launcher = "mpirun";
};
ProcessLaunch processLaunch();

/// Opens the MPI library, initializes MPI (once per process; MPI_Finalize
/// then runs at exit) and checks that MPI's world is the launcher's. False
/// with a one-line `error`.
bool startMpi(std::string &error);

/// Every process of the job calls this with its own error ("" if none) at
/// the same point; all get the lowest rank's non-empty error, or "".
std::string agreeAcrossProcesses(const std::string &error);

/// runOnProcessDevice for this process as device `MPI rank` of `mesh`
/// (whose device count must be the job's size), collectives over one MPI
/// communicator per mesh axis. Every process gets the same result: "" or
/// the lowest-ranked device's own error (one that did not merely follow
/// another's failure).
std::string runOnMpiMesh(const MeshShape &mesh,
                         const std::function<void(int64_t rank)> &perDevice);

/// Copies rank 0's `bytes` at `data` to every process's `data` (through
/// MPI, which must be started). False with a one-line `error`.
bool shareFromRoot(void *data, int64_t bytes, std::string &error);

/// Gathers `bytes` bytes from every process into `all` on rank 0 (rank r's
/// at r * bytes; `all` is not touched elsewhere). False with a one-line
/// `error`.
bool gatherAtRoot(const void *data, int64_t bytes, void *all,
                  std::string &error);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_COLLECTIVES_H
