//===- Tensor.h - Host tensors and .npy files (no MLIR) --------*- C++ -*-===//
//
// Part of the runtime: depends on nothing but the C++ standard library.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_TENSOR_H
#define LLMC_RUNTIME_TENSOR_H

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::runtime {

/// Element types of llmc tensors, as ONNX numbers them.
enum class DType : int32_t {
  F32 = 1, U8 = 2, I8 = 3, U16 = 4, I16 = 5, I32 = 6, I64 = 7, Bool = 9,
  F16 = 10, F64 = 11, U32 = 12, U64 = 13, BF16 = 16,
  // The 8-bit floats, one byte each; numpy has none of them, so they travel
  // as their bits (uint8), as BF16 travels as uint16.
  F8E4M3FN = 17, F8E4M3FNUZ = 18, F8E5M2 = 19, F8E5M2FNUZ = 20,
  // The 4-bit types, one to a byte in the low nibble (ml_dtypes' layout;
  // ONNX packs two to a byte only inside its files).
  U4 = 21, I4 = 22, F4E2M1 = 23,
};

/// True when `given` holds `want`'s bits: uint16 (or int16) for BF16,
/// uint8 (or int8) for the 8-bit floats and the 4-bit types (numpy has
/// none of them).
bool holdsBitsOf(DType given, DType want);

/// Bytes per element (1 for bool).
size_t dtypeSize(DType t);
/// Name as ONNX spells it ("FLOAT", "INT64"...).
const char *dtypeName(DType t);
/// Parses an ONNX dtype number; false if llmc does not support it.
bool dtypeFromOnnx(int32_t onnx, DType &out);

/// A dense row-major host tensor.
/// The number of elements of a tensor of `shape`.
int64_t numElements(const std::vector<int64_t> &shape);

struct HostTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<char> data;

  int64_t numElements() const;
};

/// `text` on one line: control characters (a newline from a file, a name
/// or an artifact) as \xNN. What every error message goes through.
std::string oneLine(const std::string &text);

/// Reads a .npy file (format 1.0-3.0, little-endian, C order). On failure
/// returns false and sets `error` to one line.
bool readNpy(const std::string &path, HostTensor &out, std::string &error);
/// True when `path` is a regular file (not a directory, a FIFO or a
/// device, which would throw, block or never end when read); else false
/// with `error`.
bool isRegularFile(const std::string &path, std::string &error);
/// The file name (without .npy) an output named `name` is written to: its
/// '/', '\\' and NUL become '_', and "", "." and ".." get a leading '_'.
std::string outputFileName(std::string name);

/// Reads the input arguments of `llmc run` and `llmc-run` in order: each
/// is NAME=FILE.npy (a tensor named NAME) or FILE.npy (unnamed; also when
/// the whole argument names an existing file). False with a one-line
/// `error` on the first file that cannot be read.
bool readInputFiles(const std::vector<std::string> &args,
                    std::vector<HostTensor> &tensors, std::string &error);

/// Orders `given` as the signature's input `names`: named tensors by name,
/// unnamed ones into the remaining places in order. False with a one-line
/// `error` ("WHERE: the NOUN has no input named 'x'", "...: too many
/// inputs: the NOUN takes N", "...: input 'x' is given twice",
/// "...: missing input 'x'").
bool orderInputs(const std::vector<std::string> &names,
                 std::vector<HostTensor> &given, const std::string &where,
                 const std::string &noun, std::string &error);

/// Writes a .npy file (format 1.0).
bool writeNpy(const std::string &path, const HostTensor &tensor,
              std::string &error);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_TENSOR_H
