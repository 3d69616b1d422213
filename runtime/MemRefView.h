//===- MemRefView.h - Strided views of memref descriptors ------*- C++ -*-===//
//
// Private to the runtime: how the C kernels read the ranked memref
// descriptors that lowered code passes them.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_MEMREFVIEW_H
#define LLMC_RUNTIME_MEMREFVIEW_H

#include <cstdint>
#include <vector>

namespace llmc::runtime {
/// A strided view of a ranked memref argument.
template <typename T>
struct View {
  T *data;
  int64_t rank;
  const int64_t *sizes;
  const int64_t *strides;

  /// From a ranked descriptor {allocated, aligned, offset, sizes, strides}.
  View(void *descriptor, int64_t rank) : rank(rank) {
    auto *words = static_cast<int64_t *>(descriptor);
    data = reinterpret_cast<T *>(words[1]) + words[2];
    sizes = words + 3;
    strides = words + 3 + rank;
  }
  int64_t count() const {
    int64_t n = 1;
    for (int64_t d = 0; d < rank; ++d)
      n *= sizes[d];
    return n;
  }
  bool contiguous() const {
    int64_t expected = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (sizes[d] != 1 && strides[d] != expected)
        return false;
      expected *= sizes[d];
    }
    return true;
  }
  /// Writes dense row-major `values` back through the strides.
  void scatter(const T *values) const {
    std::vector<int64_t> index(rank, 0);
    for (int64_t i = 0, n = count(); i < n; ++i) {
      int64_t offset = 0;
      for (int64_t d = 0; d < rank; ++d)
        offset += index[d] * strides[d];
      data[offset] = values[i];
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++index[d] < sizes[d])
          break;
        index[d] = 0;
      }
    }
  }
  /// A dense row-major copy (or the data itself when already dense).
  const T *dense(std::vector<T> &storage) const {
    if (contiguous())
      return data;
    storage.resize(count());
    std::vector<int64_t> index(rank, 0);
    for (int64_t i = 0, n = count(); i < n; ++i) {
      int64_t offset = 0;
      for (int64_t d = 0; d < rank; ++d)
        offset += index[d] * strides[d];
      storage[i] = data[offset];
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++index[d] < sizes[d])
          break;
        index[d] = 0;
      }
    }
    return storage.data();
  }
};
} // namespace llmc::runtime

#endif // LLMC_RUNTIME_MEMREFVIEW_H
