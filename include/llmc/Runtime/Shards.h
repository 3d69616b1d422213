//===- Shards.h - A device's part of a sharded tensor ------------*- C++
//-*-===//
//
// Part of the runtime (no MLIR): cutting a whole row-major tensor into the
// part one device of a mesh holds, and putting parts back into the whole.
// A tensor's sharding is, per dim, the mesh axis that splits it (-1: whole);
// the device at coordinate c on that axis holds the c-th of its equal parts.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SHARDS_H
#define LLMC_RUNTIME_SHARDS_H

#include <cstdint>
#include <vector>

namespace llmc::runtime {

/// The shape of a device's part of a tensor of `shape` split by `dimAxes`
/// over a mesh of `axisSizes`.
std::vector<int64_t> shardShape(const std::vector<int64_t> &shape,
                                const std::vector<int> &dimAxes,
                                const std::vector<int64_t> &axisSizes);

/// Copies the part that the device at `coordinates` holds of the whole
/// tensor `whole` (row-major, `shape`, `elementSize` bytes per element)
/// into `part` (row-major, shardShape(...)).
void copyShard(const void *whole, const std::vector<int64_t> &shape,
               int64_t elementSize, const std::vector<int> &dimAxes,
               const std::vector<int64_t> &axisSizes,
               const std::vector<int64_t> &coordinates, void *part);

/// The inverse: writes `part` into its place in `whole`.
void placeShard(const void *part, const std::vector<int64_t> &shape,
                int64_t elementSize, const std::vector<int> &dimAxes,
                const std::vector<int64_t> &axisSizes,
                const std::vector<int64_t> &coordinates, void *whole);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SHARDS_H
