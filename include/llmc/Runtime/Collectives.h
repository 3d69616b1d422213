//===- Collectives.h - Collectives between CPU devices ----------*- C++ -*-===//
//
// Part of the runtime: a mesh of N CPU "devices" is N threads of one process,
// and a collective is a rendezvous of a group of them over shared memory.
// Compiled code calls the C kernels below; a runner starts the device threads
// with runOnCpuMesh. A collective never hangs and never aborts: a peer that
// does not arrive within the timeout, or disagrees on what it publishes,
// fails the whole mesh run with a one-line error and zeros in every output.
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

/// The collective kernels compiled code calls, ending with {nullptr,
/// nullptr}; getCpuKernelSymbols includes them. For T in f32, f64, f16, bf16,
/// i64, i32, i8 (also i1) and u8 and R in 0..8:
///   void _mlir_ciface_llmc_collective_<T>_r<R>(void *in, void *params,
///                                              void *out)
/// with `in` and `out` ranked memref descriptors of rank R (any strides) and
/// `params` a rank-1 i64 memref holding the 7 fields of CollectiveParams.
const KernelSymbol *getCollectiveKernelSymbols();

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_COLLECTIVES_H
