//===- Shards.cpp - A device's part of a sharded tensor -------------------===//

#include "llmc/Runtime/Shards.h"

#include <cstring>

using namespace llmc::runtime;

std::vector<int64_t>
llmc::runtime::shardShape(const std::vector<int64_t> &shape,
                          const std::vector<int> &dimAxes,
                          const std::vector<int64_t> &axisSizes) {
  std::vector<int64_t> part = shape;
  for (size_t d = 0; d < part.size() && d < dimAxes.size(); ++d)
    if (dimAxes[d] >= 0)
      part[d] /= axisSizes[dimAxes[d]];
  return part;
}

/// Visits the part's rows (its last dim is contiguous in both layouts):
/// fn(byte offset in whole, byte offset in part, bytes).
template <typename Fn>
static void forEachRow(const std::vector<int64_t> &shape, int64_t elementSize,
                       const std::vector<int> &dimAxes,
                       const std::vector<int64_t> &axisSizes,
                       const std::vector<int64_t> &coordinates, Fn fn) {
  std::vector<int64_t> part = shardShape(shape, dimAxes, axisSizes);
  size_t rank = shape.size();
  std::vector<int64_t> start(rank, 0), wholeStride(rank, 1);
  for (size_t d = 0; d < rank; ++d)
    if (d < dimAxes.size() && dimAxes[d] >= 0)
      start[d] = coordinates[dimAxes[d]] * part[d];
  for (size_t d = rank; d-- > 1;)
    wholeStride[d - 1] = wholeStride[d] * shape[d];
  if (rank == 0) {
    fn(0, 0, elementSize);
    return;
  }
  int64_t rowBytes = part[rank - 1] * elementSize;
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d)
    rows *= part[d];
  std::vector<int64_t> index(rank, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offset = 0;
    for (size_t d = 0; d < rank; ++d)
      offset += (start[d] + index[d]) * wholeStride[d];
    fn(offset * elementSize, r * rowBytes, rowBytes);
    for (size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < part[d])
        break;
      index[d] = 0;
    }
  }
}

void llmc::runtime::copyShard(const void *whole,
                              const std::vector<int64_t> &shape,
                              int64_t elementSize,
                              const std::vector<int> &dimAxes,
                              const std::vector<int64_t> &axisSizes,
                              const std::vector<int64_t> &coordinates,
                              void *part) {
  forEachRow(shape, elementSize, dimAxes, axisSizes, coordinates,
             [&](int64_t w, int64_t p, int64_t n) {
               std::memcpy(static_cast<char *>(part) + p,
                           static_cast<const char *>(whole) + w, n);
             });
}

void llmc::runtime::placeShard(const void *part,
                               const std::vector<int64_t> &shape,
                               int64_t elementSize,
                               const std::vector<int> &dimAxes,
                               const std::vector<int64_t> &axisSizes,
                               const std::vector<int64_t> &coordinates,
                               void *whole) {
  forEachRow(shape, elementSize, dimAxes, axisSizes, coordinates,
             [&](int64_t w, int64_t p, int64_t n) {
               std::memcpy(static_cast<char *>(whole) + w,
                           static_cast<const char *>(part) + p, n);
             });
}
