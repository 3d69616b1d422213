//===- Tensor.cpp - Host tensors and .npy files ---------------------------===//
//
// The .npy format: magic "\x93NUMPY", version, header length, then a Python
// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded to 64 bytes, then the data. Anything malformed is refused with a
// message, never read past its end.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tensor.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace llmc::runtime;

size_t llmc::runtime::dtypeSize(DType t) {
  switch (t) {
  case DType::Bool: case DType::U8: case DType::I8: return 1;
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::U4: case DType::I4: case DType::F4E2M1:
    return 1;
  case DType::U16: case DType::I16: case DType::F16: case DType::BF16: return 2;
  case DType::F32: case DType::I32: case DType::U32: return 4;
  case DType::F64: case DType::I64: case DType::U64: return 8;
  }
  return 1;
}

const char *llmc::runtime::dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "FLOAT";
  case DType::U8: return "UINT8";
  case DType::I8: return "INT8";
  case DType::U16: return "UINT16";
  case DType::I16: return "INT16";
  case DType::I32: return "INT32";
  case DType::I64: return "INT64";
  case DType::Bool: return "BOOL";
  case DType::F16: return "FLOAT16";
  case DType::F64: return "DOUBLE";
  case DType::U32: return "UINT32";
  case DType::U64: return "UINT64";
  case DType::BF16: return "BFLOAT16";
  case DType::F8E4M3FN: return "FLOAT8E4M3FN";
  case DType::F8E4M3FNUZ: return "FLOAT8E4M3FNUZ";
  case DType::F8E5M2: return "FLOAT8E5M2";
  case DType::F8E5M2FNUZ: return "FLOAT8E5M2FNUZ";
  case DType::U4: return "UINT4";
  case DType::I4: return "INT4";
  case DType::F4E2M1: return "FLOAT4E2M1";
  }
  return "?";
}

bool llmc::runtime::holdsBitsOf(DType given, DType want) {
  if (want == DType::BF16)
    return given == DType::U16 || given == DType::I16;
  if (want == DType::F8E4M3FN || want == DType::F8E4M3FNUZ ||
      want == DType::F8E5M2 || want == DType::F8E5M2FNUZ ||
      want == DType::U4 || want == DType::I4 || want == DType::F4E2M1)
    return given == DType::U8 || given == DType::I8;
  return false;
}

bool llmc::runtime::dtypeFromOnnx(int32_t onnx, DType &out) {
  switch (onnx) {
  case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 10:
  case 11: case 12: case 13: case 16: case 17: case 18: case 19: case 20:
  case 21: case 22: case 23:
    out = static_cast<DType>(onnx);
    return true;
  default:
    return false;
  }
}

int64_t llmc::runtime::numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t HostTensor::numElements() const {
  return llmc::runtime::numElements(shape);
}

namespace {
struct Descr {
  const char *npy;
  DType dtype;
};
// numpy has no bfloat16: llmc writes its bits as uint16 ('<u2', the ONNX
// test data's convention) and also reads raw 2-byte void ('|V2'). Likewise
// the 8-bit floats are written as uint8 bits, and one-byte arrays that
// ml_dtypes saves ('|V1', and '<f1' for float8_e5m2) are read as uint8.
const Descr kDescrs[] = {
    {"<f4", DType::F32}, {"<f8", DType::F64}, {"<f2", DType::F16},
    {"|b1", DType::Bool}, {"|i1", DType::I8}, {"|u1", DType::U8},
    {"<i2", DType::I16}, {"<u2", DType::U16}, {"<i4", DType::I32},
    {"<u4", DType::U32}, {"<i8", DType::I64}, {"<u8", DType::U64},
    {"|V2", DType::BF16}, {"|V1", DType::U8}, {"<f1", DType::U8},
};

/// Value of `key` in the header dict, as the raw text after "'key':".
bool headerField(const std::string &header, const std::string &key,
                 std::string &value) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos)
    return false;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos)
    return false;
  value = header.substr(colon + 1);
  return true;
}
} // namespace

namespace {
/// `text` from a file, fit for a one-line message: control characters and
/// bytes above 0x7e as \xNN, at most 64 characters.
std::string shown(const std::string &text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return text.size() > 64 ? out + "..." : out;
}
} // namespace

std::string llmc::runtime::oneLine(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

bool llmc::runtime::isRegularFile(const std::string &path,
                                  std::string &error) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": cannot open it (no such file, or no permission)";
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = path + ": is a directory, not a file";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = path + ": is not a regular file (a FIFO or a device)";
    return false;
  }
  return true;
}

bool llmc::runtime::readNpy(const std::string &path, HostTensor &out,
                            std::string &error) {
  // Checked before opening: a FIFO blocks open(), a directory makes the
  // stream throw, /dev/zero never ends.
  if (!isRegularFile(path, error))
    return false;
  struct stat st;
  ::stat(path.c_str(), &st);
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open it (no such file, or no permission)";
    return false;
  }
  // The header first (at most 1 MiB): the data is read only once the shape
  // says how much there must be, so a huge file is refused unread.
  std::string bytes(std::min<uint64_t>(fileSize, 1u << 20), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    error = path + ": not a .npy file";
    return false;
  }
  unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) |
                (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      error = path + ": truncated .npy header";
      return false;
    }
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    headerLen = len;
    offset = 12;
  } else {
    error = path + ": unsupported .npy version " +
            std::to_string(major);
    return false;
  }
  if (offset + headerLen > bytes.size()) {
    error = path + ": truncated .npy header";
    return false;
  }
  std::string header = bytes.substr(offset, headerLen);
  std::string descr, fortran, shape;
  if (!headerField(header, "descr", descr) ||
      !headerField(header, "fortran_order", fortran) ||
      !headerField(header, "shape", shape)) {
    error = path + ": malformed .npy header";
    return false;
  }
  size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
  if (q1 == std::string::npos || q2 == std::string::npos) {
    error = path + ": malformed dtype";
    return false;
  }
  std::string d = descr.substr(q1 + 1, q2 - q1 - 1);
  // numpy writes '|b1', '|i1', '|u1' for 1-byte types, '<' elsewhere.
  bool found = false;
  for (const Descr &entry : kDescrs) {
    std::string e = entry.npy;
    if (d == e || (d.size() == 3 && e.size() == 3 && d.substr(1) == e.substr(1) &&
                   (d[0] == '=' || d[0] == '<' || d[0] == '|'))) {
      out.dtype = entry.dtype;
      found = true;
      break;
    }
  }
  if (!found) {
    error = path + ": unsupported dtype '" + shown(d) + "'";
    return false;
  }
  if (fortran.find("True") < fortran.find(',')) {
    error = path + ": in Fortran order; save it in C order";
    return false;
  }
  size_t open = shape.find('('), close = shape.find(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    error = path + ": malformed shape";
    return false;
  }
  out.shape.clear();
  std::stringstream dims(shape.substr(open + 1, close - open - 1));
  std::string item;
  uint64_t count = 1;
  while (std::getline(dims, item, ',')) {
    size_t first = item.find_first_not_of(" ");
    if (first == std::string::npos)
      continue;
    // Integers only: numpy writes (2, 3); (2.0, 3.0) is not a shape.
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str() + first, &end, 10);
    bool digits = end != item.c_str() + first;
    while (end && *end == ' ')
      ++end;
    if (v < 0 || !digits || errno == ERANGE || (end && *end)) {
      error = path + ": malformed shape '" +
              shown(shape.substr(open, close - open + 1)) +
              "' (dims are non-negative integers)";
      return false;
    }
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(v), &count)) {
      error = path + ": a shape whose size overflows";
      return false;
    }
    out.shape.push_back(v);
  }
  size_t dataOffset = offset + headerLen;
  uint64_t need;
  if (__builtin_mul_overflow(count, dtypeSize(out.dtype), &need) ||
      need != fileSize - dataOffset) {
    error = path + ": holds " + std::to_string(fileSize - dataOffset) +
            " bytes of data, its shape needs " + std::to_string(need);
    return false;
  }
  out.data.resize(need);
  in.clear();
  in.seekg(static_cast<std::streamoff>(dataOffset));
  in.read(out.data.data(), static_cast<std::streamsize>(need));
  if (static_cast<uint64_t>(in.gcount()) != need) {
    error = path + ": could not be read whole";
    return false;
  }
  return true;
}

bool llmc::runtime::writeNpy(const std::string &path, const HostTensor &t,
                             std::string &error) {
  const char *descr = holdsBitsOf(DType::U16, t.dtype)  ? "<u2"
                      : holdsBitsOf(DType::U8, t.dtype) ? "|u1"
                                                        : "<f4";
  // The first spelling of a dtype is the one written (the later ones are
  // read only).
  for (const Descr &entry : kDescrs)
    if (entry.dtype == t.dtype && t.dtype != DType::BF16) {
      descr = entry.npy;
      break;
    }
  std::string shape = "(";
  for (int64_t d : t.shape)
    shape += std::to_string(d) + ", ";
  if (t.shape.size() > 1)
    shape.resize(shape.size() - 2);
  else if (t.shape.size() == 1)
    shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = path + ": cannot write it";
    return false;
  }
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  char lenBytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(lenBytes, 2);
  out << header;
  out.write(t.data.data(), static_cast<std::streamsize>(t.data.size()));
  if (!out) {
    error = path + ": short write";
    return false;
  }
  return true;
}

std::string llmc::runtime::outputFileName(std::string name) {
  for (char &c : name)
    if (c == '/' || c == '\\' || c == '\0')
      c = '_';
  if (name.empty() || name == "." || name == "..")
    name = "_" + name;
  return name;
}

bool llmc::runtime::readInputFiles(const std::vector<std::string> &args,
                                   std::vector<HostTensor> &tensors,
                                   std::string &error) {
  for (const std::string &arg : args) {
    std::string name, file = arg;
    struct stat st;
    size_t eq = arg.find('=');
    if (eq != std::string::npos && ::stat(arg.c_str(), &st) != 0) {
      name = arg.substr(0, eq);
      file = arg.substr(eq + 1);
      if (name.empty()) { // not a positional input: a name left out
        error = "input '" + arg + "' has an empty name (NAME=FILE.npy, or "
                "FILE.npy for the next input)";
        return false;
      }
    }
    HostTensor t;
    if (!readNpy(file, t, error))
      return false;
    t.name = name;
    tensors.push_back(std::move(t));
  }
  return true;
}

bool llmc::runtime::orderInputs(const std::vector<std::string> &names,
                                std::vector<HostTensor> &given,
                                const std::string &where,
                                const std::string &noun, std::string &error) {
  std::vector<HostTensor> ordered(names.size());
  std::vector<bool> filled(names.size(), false);
  size_t next = 0;
  for (HostTensor &t : given) {
    size_t i = names.size();
    if (!t.name.empty()) {
      for (size_t k = 0; k < names.size(); ++k)
        if (names[k] == t.name)
          i = k;
      if (i == names.size()) {
        error = where + ": the " + noun + " has no input named '" + t.name +
                "'";
        return false;
      }
    } else {
      while (next < names.size() && filled[next])
        ++next;
      i = next;
      if (i == names.size()) {
        error = where + ": too many inputs: the " + noun + " takes " +
                std::to_string(names.size());
        return false;
      }
    }
    if (filled[i]) {
      error = where + ": input '" + names[i] + "' is given twice";
      return false;
    }
    filled[i] = true;
    ordered[i] = std::move(t);
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (!filled[i]) {
      error = where + ": missing input '" + names[i] + "'";
      return false;
    }
  given = std::move(ordered);
  return true;
}
