//===- OnnxImporter.cpp - ONNX protobuf to the graph dialect --------------===//
//
// Reads the model with libonnx (binary protobuf or text format), validates
// it (structure first, so that a cycle or an edge from nothing gets a clear
// message, then onnx::checker), and imports node by node through the table
// of op importers. Ops without an importer whose ONNX schema defines a
// function body (LayerNormalization's expansion, SoftmaxCrossEntropyLoss...)
// are expanded with libonnx's function builder and imported op by op.
//
// Initializers become graph.constant ops: large ones as dense_resource
// blobs (copied once out of the protobuf, whose copy is then released),
// small ones as dense literals that folders and importers can read.
//
//===----------------------------------------------------------------------===//

#include "OnnxImportContext.h"

#include "llmc/Import/OnnxImporter.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/Path.h"

#include "onnx/checker.h"
#include "llvm/Support/FormatVariadic.h"
#include "onnx/defs/function.h"
#include "onnx/defs/parser.h"
#include "onnx/defs/schema.h"
#include "onnx/shape_inference/implementation.h"

#include <fstream>
#include <unistd.h>
#include <functional>
#include <stdexcept>

namespace onnx::checker {
// libonnx 1.12 exports the checker with a context (whose model folder is
// where external data is looked up) but does not declare it.
void check_model(const ModelProto &model, CheckerContext &ctx);
} // namespace onnx::checker

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::onnximport;

/// Tensors larger than this are refused as exceeding memory.
static constexpr uint64_t kMaxTensorBytes = 1ull << 36; // 64 GiB

/// The most bytes one tensor may take: the machine's physical memory, or
/// LLMC_MEMORY_LIMIT gibibytes. A tensor beyond it could never be
/// allocated: refused at import, before the compiler tries.
static uint64_t memoryLimit() {
  if (const char *env = std::getenv("LLMC_MEMORY_LIMIT")) {
    char *end = nullptr;
    double gib = std::strtod(env, &end);
    if (end != env && *end == '\0' && gib > 0)
      return static_cast<uint64_t>(gib * double(1ull << 30));
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0)
    return kMaxTensorBytes;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

void OpImporterRegistry::add(StringRef opType, int64_t minOpset,
                             int64_t maxOpset, OpImporter importer) {
  table[opType].push_back({minOpset, maxOpset, std::move(importer)});
}

const OpImporter *OpImporterRegistry::lookup(StringRef opType,
                                             int64_t opset) const {
  auto it = table.find(opType);
  if (it == table.end())
    return nullptr;
  for (const Entry &e : it->second)
    if (opset >= e.minOpset && opset <= e.maxOpset)
      return &e.importer;
  return nullptr;
}

static const OpImporterRegistry &getRegistry() {
  static const OpImporterRegistry registry = [] {
    OpImporterRegistry r;
    registerMathOps(r);
    registerNNOps(r);
    registerTensorOps(r);
    registerReductionOps(r);
    registerLlmOps(r);
    registerQuantOps(r);
    registerRnnOps(r);
    registerSignalOps(r);
    registerGridSample(r);
    return r;
  }();
  return registry;
}

//===----------------------------------------------------------------------===//
// ModelImporter
//===----------------------------------------------------------------------===//

namespace mlir::llmc::onnximport {
class ModelImporter {
public:
  ModelImporter(MLIRContext &context, StringRef path,
                const ImportOptions &options)
      : context(context), path(path.str()), options(options),
        builder(&context) {}

  FailureOr<OwningOpRef<ModuleOp>> run(onnx::ModelProto &model);

  /// Error at file level (no node).
  InFlightDiagnostic fileError(const Twine &message) {
    return mlir::emitError(FileLineColLoc::get(&context, path, 0, 0), message);
  }

  Value lookup(const std::string &name) const {
    auto it = values.find(name);
    return it == values.end() ? Value() : it->second;
  }
  /// Data given at run time for a graph input, if any.
  DenseElementsAttr runtimeData(Value v) const {
    auto it = inputData.find(v);
    return it == inputData.end() ? DenseElementsAttr() : it->second;
  }
  Type elementType(int32_t onnxType) const;
  FailureOr<ElementsAttr> tensorToAttr(onnx::TensorProto &tensor,
                                       StringRef what);
  const std::string &getPath() const { return path; }
  MLIRContext &getContext() { return context; }
  FailureOr<SmallVector<Value>> expandBody(const onnx::NodeProto &node,
                                           const std::string &body,
                                           Location loc);

private:
  LogicalResult checkStructure(const onnx::GraphProto &graph);
  /// Refuses model-local functions that call themselves (directly or
  /// through others) or that expand to more than kMaxExpandedNodes nodes,
  /// before anything (libonnx included) walks them.
  LogicalResult checkLocalFunctions(const onnx::ModelProto &model);
  /// The model-local function `domain`.`name`, or null.
  const onnx::FunctionProto *localFunction(StringRef domain,
                                           StringRef name) const;
  /// Imports a call of model-local function `f`, expanded in place.
  LogicalResult expandLocalFunction(const onnx::NodeProto &node,
                                    const onnx::FunctionProto &f, Location loc,
                                    StringRef nodeName);
  LogicalResult importNodes(const google::protobuf::RepeatedPtrField<
                                onnx::NodeProto> &nodes,
                            StringRef scope);
  LogicalResult importNode(const onnx::NodeProto &node, StringRef scope);
  LogicalResult expandFunction(const onnx::NodeProto &node, Location loc,
                               StringRef nodeName);
  /// Control flow, its subgraphs imported inline ("Control flow" below).
  LogicalResult importIf(const onnx::NodeProto &node, Location loc,
                         StringRef nodeName);
  LogicalResult importLoop(const onnx::NodeProto &node, Location loc,
                           StringRef nodeName);
  LogicalResult importScan(const onnx::NodeProto &node, Location loc,
                           StringRef nodeName);
  LogicalResult inlineGraph(const onnx::GraphProto &g, ArrayRef<Value> actuals,
                            StringRef scope, Location loc,
                            SmallVector<Value> &results);
  /// The value of one-element integer (or boolean) `v` when known at
  /// compile time.
  std::optional<APInt> knownScalarInt(Value v);
  std::optional<bool> knownBool(Value v);
  /// A rank-0 i64 constant.
  Value i64Scalar(Location loc, int64_t v);
  /// `parts` (of one type) stacked along a new dim `axis`.
  Value stackAlong(ArrayRef<Value> parts, int64_t axis, Location loc);
  LogicalResult checkType(Value v, const onnx::TypeProto &declared,
                          Location loc, StringRef what);
  LogicalResult checkSize(RankedTensorType type, Location loc, StringRef what);
  FailureOr<std::string> readExternalData(const onnx::TensorProto &tensor,
                                          StringRef what,
                                          bool checkOnly = false);

  MLIRContext &context;
  /// Nodes imported so far: an unnamed node is named by its op type and
  /// this index (the same in every import of one model).
  int nodesSeen = 0;
  std::string path;
  const ImportOptions &options;
  OpBuilder builder;
  int64_t opset = 0;
  llvm::StringMap<int64_t> domainOpsets;
  std::unordered_map<std::string, Value> values;
  llvm::DenseMap<Value, DenseElementsAttr> inputData;
  unsigned expansionCounter = 0;
  /// The model being imported (its local functions).
  const onnx::ModelProto *modelProto = nullptr;
};
} // namespace mlir::llmc::onnximport

Type ModelImporter::elementType(int32_t t) const {
  MLIRContext *ctx = const_cast<MLIRContext *>(&context);
  switch (t) {
  case onnx::TensorProto::FLOAT:
    return Float32Type::get(ctx);
  case onnx::TensorProto::DOUBLE:
    return Float64Type::get(ctx);
  case onnx::TensorProto::FLOAT16:
    return Float16Type::get(ctx);
  case onnx::TensorProto::BFLOAT16:
    return BFloat16Type::get(ctx);
  case onnx::TensorProto::BOOL:
    return IntegerType::get(ctx, 1);
  case onnx::TensorProto::INT8:
    return IntegerType::get(ctx, 8);
  case onnx::TensorProto::INT16:
    return IntegerType::get(ctx, 16);
  case onnx::TensorProto::INT32:
    return IntegerType::get(ctx, 32);
  case onnx::TensorProto::INT64:
    return IntegerType::get(ctx, 64);
  case onnx::TensorProto::UINT8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case onnx::TensorProto::UINT16:
    return IntegerType::get(ctx, 16, IntegerType::Unsigned);
  case onnx::TensorProto::UINT32:
    return IntegerType::get(ctx, 32, IntegerType::Unsigned);
  case onnx::TensorProto::UINT64:
    return IntegerType::get(ctx, 64, IntegerType::Unsigned);
  case kOnnxFloat8E4M3FN:
    return Float8E4M3FNType::get(ctx);
  case kOnnxFloat8E4M3FNUZ:
    return Float8E4M3FNUZType::get(ctx);
  case kOnnxFloat8E5M2:
    return Float8E5M2Type::get(ctx);
  case kOnnxFloat8E5M2FNUZ:
    return Float8E5M2FNUZType::get(ctx);
  case kOnnxUInt4:
    return IntegerType::get(ctx, 4, IntegerType::Unsigned);
  case kOnnxInt4:
    return IntegerType::get(ctx, 4);
  case kOnnxFloat4E2M1:
    return Float4E2M1FNType::get(ctx);
  default:
    return nullptr;
  }
}

std::string mlir::llmc::onnximport::onnxTypeName(int32_t t) {
  // Names libonnx 1.12 does not know (onnx.proto's, in order from 17).
  static const char *const kNewer[] = {
      "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
      "UINT4",        "INT4",           "FLOAT4E2M1", "FLOAT8E8M0"};
  if (t >= 17 && t < 17 + static_cast<int32_t>(std::size(kNewer)))
    return kNewer[t - 17];
  if (onnx::TensorProto_DataType_IsValid(t))
    return onnx::TensorProto_DataType_Name(
        static_cast<onnx::TensorProto_DataType>(t));
  return "type " + std::to_string(t);
}

/// `name` as one line of printable text: control characters (a newline
/// in a node's name made a two-line error) become escapes.
static std::string printable(const std::string &name) {
  std::string out;
  for (unsigned char ch : name) {
    if (ch == '\n')
      out += "\\n";
    else if (ch == '\r')
      out += "\\r";
    else if (ch == '\t')
      out += "\\t";
    else if (ch < 0x20 || ch == 0x7f)
      out += llvm::formatv("\\x{0:x-2}", ch).str();
    else
      out += static_cast<char>(ch);
  }
  return out;
}

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "," : "") + (d < 0 ? std::string("?") : std::to_string(d));
  return s + "]";
}

LogicalResult ModelImporter::checkSize(RankedTensorType type, Location loc,
                                       StringRef what) {
  uint64_t count = 1;
  for (int64_t d : type.getShape()) {
    if (d < 0)
      return mlir::emitError(loc) << what << " has a negative dimension";
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count))
      return mlir::emitError(loc) << what << " has a shape whose size overflows";
  }
  unsigned bits = std::max(8u, type.getElementType().getIntOrFloatBitWidth());
  uint64_t bytes;
  if (__builtin_mul_overflow(count, bits / 8, &bytes) || bytes > kMaxTensorBytes)
    return mlir::emitError(loc) << what << " of shape "
                                << shapeString(type.getShape())
                                << " exceeds memory (over 64 GiB)";
  uint64_t limit = memoryLimit();
  if (bytes > limit) {
    char need[32], have[32];
    std::snprintf(need, sizeof(need), "%.1f", bytes / double(1ull << 30));
    std::snprintf(have, sizeof(have), "%.1f", limit / double(1ull << 30));
    return mlir::emitError(loc)
           << what << " of shape " << shapeString(type.getShape()) << " needs "
           << need << " GiB, more than this machine's memory (" << have
           << " GiB; LLMC_MEMORY_LIMIT=GIB sets another limit)";
  }
  return success();
}

FailureOr<std::string>
ModelImporter::readExternalData(const onnx::TensorProto &tensor,
                                StringRef what, bool checkOnly) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &entry : tensor.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset" || entry.key() == "length") {
      char *end = nullptr;
      long long v = std::strtoll(entry.value().c_str(), &end, 10);
      if (!end || *end || v < 0)
        return fileError(Twine(what) + ": external data " + entry.key() +
                         " is not a non-negative integer"),
               failure();
      (entry.key() == "offset" ? offset : length) = v;
    }
  }
  // External data must stay inside the model's folder: no absolute paths,
  // no '..', no links that leave it.
  if (location.empty() || llvm::sys::path::is_absolute(location))
    return fileError(Twine(what) + ": external data location '" + location +
                     "' must be a relative path inside the model's folder"),
           failure();
  for (auto it = llvm::sys::path::begin(location),
            e = llvm::sys::path::end(location);
       it != e; ++it)
    if (*it == "..")
      return fileError(Twine(what) + ": external data location '" + location +
                       "' must not contain '..'"),
             failure();
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  SmallString<256> realDir, realFile, file(dir);
  llvm::sys::path::append(file, location);
  // A missing file and one a link leads out of the folder to get the same
  // message: which one it is would tell whether a path outside exists.
  if (llvm::sys::fs::real_path(dir, realDir) ||
      llvm::sys::fs::real_path(file, realFile) ||
      !StringRef(realFile).starts_with(Twine(realDir + "/").str()))
    return fileError(Twine(what) + ": external data file '" + location +
                     "' is not a file inside the model's folder"),
           failure();
  // Only a regular file: a FIFO would block the read, a device never end.
  llvm::sys::fs::file_status status;
  if (llvm::sys::fs::status(realFile, status) ||
      status.type() != llvm::sys::fs::file_type::regular_file)
    return fileError(Twine(what) + ": external data file '" + location +
                     "' is not a regular file"),
           failure();
  uint64_t fileSize = 0;
  if (llvm::sys::fs::file_size(realFile, fileSize))
    return fileError(Twine(what) + ": cannot read external data file '" +
                     location + "'"),
           failure();
  // The bytes the tensor's dims and type call for: only those are read (a
  // 100 GiB file behind a [2,3] tensor was read whole, out of memory).
  int64_t bits = 0;
  switch (tensor.data_type()) {
  case onnx::TensorProto::UINT8: case onnx::TensorProto::INT8:
  case onnx::TensorProto::BOOL: case 17: case 18: case 19: case 20:
    bits = 8;
    break;
  case onnx::TensorProto::UINT16: case onnx::TensorProto::INT16:
  case onnx::TensorProto::FLOAT16: case onnx::TensorProto::BFLOAT16:
    bits = 16;
    break;
  case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    bits = 32;
    break;
  case onnx::TensorProto::INT64: case onnx::TensorProto::UINT64:
  case onnx::TensorProto::DOUBLE: case onnx::TensorProto::COMPLEX64:
    bits = 64;
    break;
  case onnx::TensorProto::COMPLEX128:
    bits = 128;
    break;
  case 21: case 22: case 23: // 4-bit types, two to a byte
    bits = 4;
    break;
  default:
    break;
  }
  if (bits) {
    uint64_t count = 1;
    bool overflow = false;
    for (int64_t d : tensor.dims()) {
      if (d < 0 || (d && count > (uint64_t(1) << 62) / uint64_t(d))) {
        overflow = true;
        break;
      }
      count *= static_cast<uint64_t>(d);
    }
    if (overflow || count > (uint64_t(1) << 60) / uint64_t(bits))
      return fileError(Twine(what) + ": a shape whose size overflows"),
             failure();
    int64_t expected = static_cast<int64_t>((count * bits + 7) / 8);
    if (length >= 0 && length != expected)
      return fileError(Twine(what) + ": external data length " + Twine(length) +
                       " does not match the tensor's " + Twine(expected) +
                       " bytes"),
             failure();
    length = expected;
  }
  if (length < 0)
    length = static_cast<int64_t>(fileSize) - offset;
  if (offset < 0 || length < 0 ||
      static_cast<uint64_t>(offset) + static_cast<uint64_t>(length) > fileSize)
    return fileError(Twine(what) + ": external data offset " + Twine(offset) +
                     " and length " + Twine(length) +
                     " lie outside the file (" + Twine(fileSize) + " bytes)"),
           failure();
  if (checkOnly)
    return std::string();
  std::ifstream in(realFile.str().str(), std::ios::binary);
  std::string data(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(data.data(), length);
  if (!in)
    return fileError(Twine(what) + ": short read of external data"), failure();
  return data;
}

/// Copies the typed fields of a TensorProto into little-endian raw bytes.
template <typename T, typename Field>
static std::string packField(const Field &field) {
  std::string raw(field.size() * sizeof(T), '\0');
  for (int i = 0; i < field.size(); ++i) {
    T v = static_cast<T>(field.Get(i));
    std::memcpy(raw.data() + i * sizeof(T), &v, sizeof(T));
  }
  return raw;
}

FailureOr<ElementsAttr> ModelImporter::tensorToAttr(onnx::TensorProto &tensor,
                                                    StringRef what) {
  Type element = elementType(tensor.data_type());
  if (!element)
    return fileError(Twine(what) + " has unsupported element type " +
                     onnxTypeName(tensor.data_type())),
           failure();
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  auto type = RankedTensorType::get(shape, element);
  Location loc = FileLineColLoc::get(&context, path, 0, 0);
  if (failed(checkSize(type, loc, what)))
    return failure();
  int64_t count = type.getNumElements();
  unsigned bits = element.getIntOrFloatBitWidth();
  size_t elementBytes = bits == 1 ? 1 : bits / 8;

  std::string raw;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    FailureOr<std::string> data = readExternalData(tensor, what);
    if (failed(data))
      return failure();
    raw = std::move(*data);
  } else if (tensor.has_raw_data()) {
    raw = std::move(*tensor.mutable_raw_data());
    tensor.clear_raw_data();
  } else {
    switch (tensor.data_type()) {
    case onnx::TensorProto::FLOAT:
      raw = packField<float>(tensor.float_data());
      break;
    case onnx::TensorProto::DOUBLE:
      raw = packField<double>(tensor.double_data());
      break;
    case onnx::TensorProto::INT64:
      raw = packField<int64_t>(tensor.int64_data());
      break;
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
      raw = bits == 32 ? packField<uint32_t>(tensor.uint64_data())
                       : packField<uint64_t>(tensor.uint64_data());
      break;
    case onnx::TensorProto::INT32:
      raw = packField<int32_t>(tensor.int32_data());
      break;
    case onnx::TensorProto::INT16:
      raw = packField<int16_t>(tensor.int32_data());
      break;
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      raw = packField<uint16_t>(tensor.int32_data());
      break;
    case onnx::TensorProto::INT8:
      raw = packField<int8_t>(tensor.int32_data());
      break;
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
    case kOnnxFloat8E4M3FN:
    case kOnnxFloat8E4M3FNUZ:
    case kOnnxFloat8E5M2:
    case kOnnxFloat8E5M2FNUZ:
    case kOnnxUInt4: case kOnnxInt4: case kOnnxFloat4E2M1: // packed pairs
      raw = packField<uint8_t>(tensor.int32_data());
      break;
    default:
      break;
    }
  }
  // 4-bit types are packed two to a byte, the first in the low nibble.
  size_t needed = bits == 4 ? (static_cast<size_t>(count) + 1) / 2
                            : static_cast<size_t>(count) * elementBytes;
  if (raw.size() != needed)
    return fileError(Twine(what) + " holds " + Twine(raw.size()) +
                     " bytes of data but its shape " + shapeString(shape) +
                     " needs " + Twine(needed)),
           failure();
  if (bits == 4) {
    SmallVector<APInt> nibbles;
    for (int64_t i = 0; i < count; ++i)
      nibbles.push_back(APInt(4, (static_cast<uint8_t>(raw[i / 2]) >> (4 * (i % 2))) & 0xF));
    if (auto f = dyn_cast<FloatType>(element)) {
      SmallVector<APFloat> values;
      for (const APInt &n : nibbles)
        values.push_back(APFloat(f.getFloatSemantics(), n));
      return ElementsAttr(DenseElementsAttr::get(type, values));
    }
    return ElementsAttr(DenseElementsAttr::get(type, nibbles));
  }
  if (bits == 1) {
    SmallVector<bool> bools;
    for (char c : raw)
      bools.push_back(c != 0);
    return ElementsAttr(DenseElementsAttr::get(type, ArrayRef<bool>(bools)));
  }
  if (count <= graph::kInlineConstantLimit) {
    bool detectedSplat = false;
    if (!DenseElementsAttr::isValidRawBuffer(type, ArrayRef<char>(raw),
                                             detectedSplat))
      return fileError(Twine(what) + " has malformed data"), failure();
    return ElementsAttr(
        DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>(raw)));
  }
  // Large tensors: one copy into an aligned resource blob.
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(raw), alignof(uint64_t));
  raw.clear();
  raw.shrink_to_fit();
  std::string key = tensor.name().empty() ? std::string("constant")
                                          : tensor.name();
  return ElementsAttr(
      DenseResourceElementsAttr::get(type, key, std::move(blob)));
}

/// Reads the declared type of a value: element type and shape (-1 for a
/// symbolic or unknown dim). Returns false when it is not a tensor type.
static bool declaredTensor(const onnx::TypeProto &type, int32_t &elementType,
                           SmallVectorImpl<int64_t> &shape,
                           SmallVectorImpl<std::string> *symbols = nullptr) {
  if (!type.has_tensor_type())
    return false;
  elementType = type.tensor_type().elem_type();
  if (!type.tensor_type().has_shape())
    return true;
  for (const auto &dim : type.tensor_type().shape().dim()) {
    shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    if (symbols)
      symbols->push_back(dim.has_dim_param() ? dim.dim_param() : "");
  }
  return true;
}

LogicalResult ModelImporter::checkType(Value v, const onnx::TypeProto &declared,
                                       Location loc, StringRef what) {
  int32_t elem = 0;
  SmallVector<int64_t> shape;
  if (!declaredTensor(declared, elem, shape))
    return success();
  auto type = cast<RankedTensorType>(v.getType());
  if (elem != 0 && elementType(elem) && elementType(elem) != type.getElementType())
    return mlir::emitError(loc)
           << "inconsistent types: " << what << " is declared "
           << onnxTypeName(elem) << " but computes to " << type.getElementType();
  if (!declared.tensor_type().has_shape())
    return success();
  bool mismatch = static_cast<int64_t>(shape.size()) != type.getRank();
  for (size_t i = 0; !mismatch && i < shape.size(); ++i)
    mismatch = shape[i] >= 0 && shape[i] != type.getDimSize(i);
  if (mismatch)
    return mlir::emitError(loc)
           << "inconsistent shapes: " << what << " is declared "
           << shapeString(shape) << " but computes to "
           << shapeString(type.getShape());
  return success();
}

LogicalResult ModelImporter::checkStructure(const onnx::GraphProto &graph) {
  if (graph.node_size() == 0 && graph.output_size() == 0)
    return fileError("empty graph: the model has no nodes and no outputs");
  if (graph.output_size() == 0)
    return fileError("the graph has no outputs");
  // A dim is a size or a name: a negative size is malformed (libonnx's
  // checker lets it through, and -1 would read as "unknown" here).
  auto checkDims = [&](const onnx::ValueInfoProto &v,
                       const char *what) -> LogicalResult {
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape())
      return success();
    for (auto [d, dim] : llvm::enumerate(v.type().tensor_type().shape().dim()))
      if (dim.has_dim_value() && dim.dim_value() < 0)
        return fileError(Twine(what) + " '" + printable(v.name()) +
                         "' declares dim " + Twine(d) + " as " +
                         Twine(dim.dim_value()) +
                         ": a dim is a size (0 or more) or a name"),
               failure();
    return success();
  };
  for (const auto &in : graph.input())
    if (failed(checkDims(in, "input")))
      return failure();
  for (const auto &out : graph.output())
    if (failed(checkDims(out, "output")))
      return failure();
  for (const auto &info : graph.value_info())
    if (failed(checkDims(info, "value")))
      return failure();
  llvm::StringSet<> defined, producedLater;
  // What defines each name, for a node output that defines it again (ONNX
  // graphs are SSA; libonnx's checker, which says so, does not run above
  // opset 17). An initializer may share its name with an input (its
  // default value).
  llvm::StringMap<std::string> definedBy;
  for (const auto &in : graph.input()) {
    defined.insert(in.name());
    definedBy[in.name()] = "graph input '" + printable(in.name()) + "'";
  }
  for (const auto &init : graph.initializer()) {
    defined.insert(init.name());
    definedBy.try_emplace(init.name(),
                          "initializer '" + printable(init.name()) + "'");
  }
  llvm::StringMap<std::string> producer;
  for (const auto &node : graph.node())
    for (const auto &out : node.output())
      if (!out.empty())
        producer[out] =
            printable(node.name().empty() ? node.op_type() : node.name());
  // Walk in order: an input produced by a later node means a cycle (or an
  // unsorted graph, which ONNX forbids); one produced by no node is an edge
  // from nothing.
  for (const auto &node : graph.node()) {
    std::string name =
        printable(node.name().empty() ? node.op_type() : node.name());
    // An op that neither an importer nor a schema knows: name the node
    // (libonnx's checker would not, and warns on stderr for removed
    // experimental ops such as Crop).
    StringRef domain = node.domain();
    if ((domain.empty() || domain == "ai.onnx") &&
        !getRegistry().lookup(node.op_type(), opset) &&
        !onnx::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(opset),
                                        ""))
      return mlir::emitError(
                 NameLoc::get(StringAttr::get(&context, name),
                              FileLineColLoc::get(&context, path, 0, 0)))
             << "unsupported operator " << node.op_type() << " (opset "
             << opset << ")";
    // Window sizes, strides and dilations must be positive: libonnx's
    // shape inference divides by them (a zero stride was a SIGFPE).
    for (const auto &attr : node.attribute())
      if (attr.name() == "strides" || attr.name() == "dilations" ||
          attr.name() == "kernel_shape")
        for (int64_t v : attr.ints())
          if (v <= 0)
            return mlir::emitError(
                       NameLoc::get(StringAttr::get(&context, name),
                                    FileLineColLoc::get(&context, path, 0, 0)))
                   << node.op_type() << " " << attr.name()
                   << " must be positive, got " << v;
    for (const auto &in : node.input()) {
      if (in.empty() || defined.contains(in))
        continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return fileError("node '" + name + "' (" + node.op_type() +
                         "): input '" + in +
                         "' is an edge from nothing: no node, input or "
                         "initializer produces it");
      return fileError("node '" + name + "' (" + node.op_type() +
                       "): input '" + in + "' comes from node '" + it->second +
                       "' later in the graph: the graph has a cycle or is not "
                       "topologically sorted");
    }
    for (const auto &out : node.output()) {
      if (out.empty())
        continue;
      auto [it, added] =
          definedBy.try_emplace(out, "node '" + name + "'");
      if (!added)
        return fileError("node '" + name + "' (" + node.op_type() +
                         "): output '" + printable(out) +
                         "' is already defined by " + it->second +
                         ": every value has one definition"),
               failure();
      defined.insert(out);
    }
  }
  for (const auto &out : graph.output())
    if (!defined.contains(out.name()))
      return fileError("graph output '" + out.name() +
                       "' is an edge from nothing: no node produces it");
  return success();
}

static std::string nodeDisplayName(const onnx::NodeProto &node, int index) {
  if (!node.name().empty())
    return printable(node.name());
  return printable(node.op_type()) + "_" + std::to_string(index);
}

LogicalResult ModelImporter::importNodes(
    const google::protobuf::RepeatedPtrField<onnx::NodeProto> &nodes,
    StringRef scope) {
  for (const onnx::NodeProto &node : nodes)
    if (failed(importNode(node, scope)))
      return failure();
  return success();
}

LogicalResult ModelImporter::importNode(const onnx::NodeProto &node,
                                        StringRef scope) {
  std::string name = nodeDisplayName(node, nodesSeen++);
  if (!scope.empty() && node.name().empty())
    name = (scope + "/" + node.op_type()).str();
  Location loc = NameLoc::get(StringAttr::get(&context, name),
                              FileLineColLoc::get(&context, path, 0, 0));
  StringRef domain = node.domain();
  // ONNX Runtime's contrib ops (its transformer optimizer and GenAI's model
  // builder emit them) are registered as "com.microsoft.<op>".
  if (domain == "com.microsoft") {
    for (const auto &in : node.input())
      if (!in.empty() && !lookup(in))
        return mlir::emitError(loc) << "input '" << in << "' is not defined";
    int64_t version = domainOpsets.lookup(domain);
    const OpImporter *importer =
        getRegistry().lookup(("com.microsoft." + node.op_type()), version);
    if (!importer)
      return mlir::emitError(loc)
             << "unsupported operator " << node.op_type()
             << " of domain 'com.microsoft' (version " << version << ")";
    NodeContext ctx(*this, node, builder, loc, opset);
    FailureOr<SmallVector<Value>> results = (*importer)(ctx);
    if (failed(results))
      return failure();
    for (int i = 0; i < node.output_size(); ++i) {
      if (node.output(i).empty())
        continue;
      Value v = i < static_cast<int>(results->size()) ? (*results)[i] : Value();
      if (!v)
        return mlir::emitError(loc) << "output " << i << " ('"
                                    << node.output(i)
                                    << "') is not supported";
      if (failed(checkSize(cast<RankedTensorType>(v.getType()), loc,
                           "output '" + node.output(i) + "'")))
        return failure();
      values[node.output(i)] = v;
    }
    return success();
  }
  if (const onnx::FunctionProto *f = localFunction(domain, node.op_type()))
    return expandLocalFunction(node, *f, loc, name);
  if (!domain.empty() && domain != "ai.onnx")
    return mlir::emitError(loc) << "unsupported operator domain '" << domain
                                << "' of op " << node.op_type();
  for (const auto &in : node.input())
    if (!in.empty() && !lookup(in))
      return mlir::emitError(loc) << "input '" << in << "' is not defined";

  // Arity against the schema: libonnx's checker does this only up to
  // opset 17, and no op importer may index a missing required input.
  if (const onnx::OpSchema *schema = onnx::OpSchemaRegistry::Schema(
          node.op_type(), static_cast<int>(std::min<int64_t>(opset, 17)), "")) {
    // Newer opsets add optional inputs (ReduceMean's axes in 18): above 17
    // only the minimum is checked here, the importer checks the rest.
    if (node.input_size() < schema->min_input() ||
        (opset <= 17 && node.input_size() > schema->max_input()))
      return mlir::emitError(loc)
             << node.op_type() << " takes " << schema->min_input() << " to "
             << schema->max_input() << " inputs, got " << node.input_size();
    const auto &formals = schema->inputs();
    for (int i = 0; i < node.input_size() && i < static_cast<int>(formals.size());
         ++i)
      if (node.input(i).empty() &&
          formals[i].GetOption() == onnx::OpSchema::Single)
        return mlir::emitError(loc) << "required input " << i << " ("
                                    << formals[i].GetName() << ") is missing";
  }

  if (node.op_type() == "If")
    return importIf(node, loc, name);
  if (node.op_type() == "Loop")
    return importLoop(node, loc, name);
  if (node.op_type() == "Scan")
    return importScan(node, loc, name);
  if (const OpImporter *importer =
          getRegistry().lookup(node.op_type(), opset)) {
    NodeContext ctx(*this, node, builder, loc, opset);
    FailureOr<SmallVector<Value>> results = (*importer)(ctx);
    if (failed(results))
      return failure();
    // An importer may leave out optional outputs (LayerNormalization's mean,
    // say); when the model asks for one, import the op's function body.
    for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty() &&
          (i >= static_cast<int>(results->size()) || !(*results)[i]))
        return expandFunction(node, loc, name);
    for (int i = 0; i < node.output_size(); ++i) {
      if (node.output(i).empty())
        continue;
      Value v = (*results)[i];
      if (failed(checkSize(cast<RankedTensorType>(v.getType()), loc,
                           "output '" + node.output(i) + "'")))
        return failure();
      values[node.output(i)] = v;
    }
    return success();
  }
  return expandFunction(node, loc, name);
}

/// The most nodes a model's local functions may expand to: a model of
/// this size takes minutes to compile; one that expands exponentially
/// (each function calling the next twice) would never finish.
static constexpr int64_t kMaxExpandedNodes = 1000000;

const onnx::FunctionProto *
ModelImporter::localFunction(StringRef domain, StringRef name) const {
  if (!modelProto)
    return nullptr;
  for (const onnx::FunctionProto &f : modelProto->functions())
    if (f.domain() == domain && f.name() == name)
      return &f;
  return nullptr;
}

LogicalResult
ModelImporter::checkLocalFunctions(const onnx::ModelProto &model) {
  if (model.functions_size() == 0)
    return success();
  // Nodes each function expands to (its calls of local functions
  // expanded), by depth-first search over the calls; a function met again
  // while it is being expanded is a recursion.
  llvm::StringMap<int64_t> size;
  SmallVector<std::string> stack;
  auto key = [](const std::string &domain, const std::string &name) {
    return domain + "." + name;
  };
  std::function<FailureOr<int64_t>(const onnx::FunctionProto &)> visit =
      [&](const onnx::FunctionProto &f) -> FailureOr<int64_t> {
    std::string k = key(f.domain(), f.name());
    if (auto it = size.find(k); it != size.end())
      return it->second;
    if (llvm::is_contained(stack, k)) {
      std::string chain;
      for (const std::string &s : stack)
        chain += printable(s) + " -> ";
      return fileError("model-local function '" + printable(k) +
                       "' calls itself (" + chain + printable(k) +
                       "): a recursive function cannot be expanded"),
             failure();
    }
    if (stack.size() >= 64)
      return fileError("model-local functions call each other more than 64 "
                       "deep"),
             failure();
    stack.push_back(k);
    int64_t n = 0;
    for (const onnx::NodeProto &node : f.node()) {
      const onnx::FunctionProto *callee =
          localFunction(node.domain(), node.op_type());
      FailureOr<int64_t> m = callee ? visit(*callee) : FailureOr<int64_t>(1);
      if (failed(m))
        return failure();
      n = std::min(n + *m, kMaxExpandedNodes + 1);
    }
    stack.pop_back();
    size[k] = n;
    return n;
  };
  int64_t total = 0;
  for (const onnx::NodeProto &node : model.graph().node()) {
    const onnx::FunctionProto *callee =
        localFunction(node.domain(), node.op_type());
    FailureOr<int64_t> m = callee ? visit(*callee) : FailureOr<int64_t>(1);
    if (failed(m))
      return failure();
    total = std::min(total + *m, kMaxExpandedNodes + 1);
  }
  // Functions no node calls are checked too (libonnx walks them all).
  for (const onnx::FunctionProto &f : model.functions())
    if (failed(visit(f)))
      return failure();
  if (total > kMaxExpandedNodes)
    return fileError("the model's local functions expand to more than " +
                     Twine(kMaxExpandedNodes) +
                     " nodes: refused (a function calls others that many "
                     "times)"),
           failure();
  return success();
}

namespace {
/// Names a function's expansion, or an inlined subgraph, renames.
using Rename = std::unordered_map<std::string, std::string>;

void renameGraph(onnx::GraphProto &g, const Rename &rename);

/// `n`'s references to renamed names, in its subgraphs too.
void renameNode(onnx::NodeProto &n, const Rename &rename) {
  for (std::string &in : *n.mutable_input())
    if (auto it = rename.find(in); it != rename.end())
      in = it->second;
  for (std::string &out : *n.mutable_output())
    if (auto it = rename.find(out); it != rename.end())
      out = it->second;
  for (onnx::AttributeProto &a : *n.mutable_attribute()) {
    if (a.has_g())
      renameGraph(*a.mutable_g(), rename);
    for (onnx::GraphProto &g : *a.mutable_graphs())
      renameGraph(g, rename);
  }
}

/// A nested subgraph's references to the enclosing graph's renamed names
/// (ONNX forbids shadowing them).
void renameGraph(onnx::GraphProto &g, const Rename &rename) {
  for (onnx::NodeProto &n : *g.mutable_node())
    renameNode(n, rename);
  for (onnx::ValueInfoProto &out : *g.mutable_output())
    if (auto it = rename.find(out.name()); it != rename.end())
      out.set_name(it->second);
}
} // namespace

LogicalResult
ModelImporter::expandLocalFunction(const onnx::NodeProto &node,
                                   const onnx::FunctionProto &f, Location loc,
                                   StringRef nodeName) {
  for (const auto &in : node.input())
    if (!in.empty() && !lookup(in))
      return mlir::emitError(loc) << "input '" << in << "' is not defined";
  // The body with the call's names: formal inputs and outputs become the
  // actual ones, every other name gets a prefix of this call's own, and
  // attribute references take the call's attributes (absent: dropped, so
  // that the op's own default applies). libonnx 1.12's
  // FunctionExpandHelper is not used: it crashed on a reference to an
  // attribute the function declares. ONNX forbids a subgraph to redefine
  // an outer name, so renaming every occurrence in subgraphs is exact.
  std::string prefix = "llmc_fn" + std::to_string(expansionCounter++) + "_";
  if (node.input_size() > f.input_size() ||
      node.output_size() > f.output_size())
    return mlir::emitError(loc)
           << "calls model-local function " << f.domain() << "." << f.name()
           << " with " << node.input_size() << " inputs and "
           << node.output_size() << " outputs; it takes " << f.input_size()
           << " and gives " << f.output_size();
  std::unordered_map<std::string, std::string> rename;
  for (int i = 0; i < f.input_size(); ++i)
    rename[f.input(i)] = i < node.input_size() ? node.input(i) : "";
  for (int i = 0; i < f.output_size(); ++i)
    rename[f.output(i)] = i < node.output_size() ? node.output(i) : "";
  for (const onnx::NodeProto &n : f.node())
    for (const std::string &out : n.output())
      if (!out.empty() && !rename.count(out))
        rename[out] = prefix + out;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> body;
  for (const onnx::NodeProto &n : f.node()) {
    onnx::NodeProto *copy = body.Add();
    *copy = n;
    auto *attrs = copy->mutable_attribute();
    for (int i = attrs->size() - 1; i >= 0; --i) {
      const onnx::AttributeProto &a = attrs->Get(i);
      if (a.ref_attr_name().empty())
        continue;
      const onnx::AttributeProto *given = nullptr;
      for (const onnx::AttributeProto &c : node.attribute())
        if (c.name() == a.ref_attr_name())
          given = &c;
      if (!given) {
        attrs->DeleteSubrange(i, 1);
        continue;
      }
      std::string attrName = a.name();
      *attrs->Mutable(i) = *given;
      attrs->Mutable(i)->set_name(attrName);
    }
    renameNode(*copy, rename);
  }
  // checkLocalFunctions bounded the nesting (no recursion) and the size.
  return importNodes(body, nodeName);
}

LogicalResult ModelImporter::expandFunction(const onnx::NodeProto &node,
                                            Location loc, StringRef nodeName) {
  const onnx::OpSchema *schema =
      onnx::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(opset), "");
  onnx::FunctionProto function;
  bool haveFunction = false;
  if (schema && schema->HasFunction()) {
    function = *schema->GetFunction();
    haveFunction = true;
  } else if (schema && schema->HasContextDependentFunction()) {
    std::vector<onnx::TypeProto> inputTypes;
    for (const auto &in : node.input()) {
      onnx::TypeProto t;
      if (Value v = in.empty() ? Value() : lookup(in)) {
        auto type = cast<RankedTensorType>(v.getType());
        auto *tensor = t.mutable_tensor_type();
        int32_t onnxType = 0;
        for (int32_t c = 1; c <= 16; ++c)
          if (elementType(c) == type.getElementType()) {
            onnxType = c;
            break;
          }
        tensor->set_elem_type(onnxType);
        for (int64_t d : type.getShape())
          tensor->mutable_shape()->add_dim()->set_dim_value(d);
      }
      inputTypes.push_back(t);
    }
    onnx::FunctionBodyBuildContextImpl ctx(node, inputTypes);
    try {
      haveFunction = schema->BuildContextDependentFunction(ctx, function);
    } catch (const std::exception &) {
      haveFunction = false;
    }
  }
  if (!haveFunction)
    return mlir::emitError(loc)
           << "unsupported operator " << node.op_type() << " (opset " << opset
           << ")";
  // Attributes the node leaves out take the schema's default (MVN's axes);
  // a reference to one with no default must then be absent from the body
  // (libonnx 1.12's expansion would invent a value, turning
  // NegativeLogLikelihoodLoss's ignore_index into 0).
  onnx::NodeProto withDefaults = node;
  llvm::StringSet<> setAttrs;
  for (const auto &a : node.attribute())
    setAttrs.insert(a.name());
  for (const auto &[attrName, attr] : schema->attributes())
    if (!setAttrs.contains(attrName) && attr.default_value.has_type()) {
      onnx::AttributeProto *added = withDefaults.add_attribute();
      *added = attr.default_value;
      added->set_name(attrName);
      setAttrs.insert(attrName);
    }
  for (onnx::NodeProto &n : *function.mutable_node()) {
    auto *attrs = n.mutable_attribute();
    for (int i = attrs->size() - 1; i >= 0; --i)
      if (!attrs->Get(i).ref_attr_name().empty() &&
          !setAttrs.contains(attrs->Get(i).ref_attr_name()))
        attrs->DeleteSubrange(i, 1);
  }
  onnx::GraphProto expanded;
  std::string prefix = "llmc_fn" + std::to_string(expansionCounter++) + "_";
  try {
    onnx::FunctionExpandHelper(withDefaults, function, expanded, prefix);
  } catch (const std::exception &e) {
    return mlir::emitError(loc) << "cannot expand " << node.op_type() << ": "
                                << e.what();
  }
  return importNodes(expanded.node(), nodeName);
}

FailureOr<SmallVector<Value>>
ModelImporter::expandBody(const onnx::NodeProto &node, const std::string &body,
                          Location loc) {
  onnx::FunctionProto function;
  onnx::OnnxParser parser(body.c_str());
  auto status = parser.Parse(function);
  if (!status.IsOK()) {
    std::string msg = status.ErrorMessage();
    return mlir::emitError(loc) << "internal error: the body of "
                                << node.op_type() << " does not parse: "
                                << msg.substr(0, msg.find('\n')),
           failure();
  }
  std::string prefix = "llmc_fn" + std::to_string(expansionCounter++) + "_";
  // The body's formals are the node's present inputs, its results the
  // node's outputs (those it does not ask for named apart); every other
  // name gets the prefix. (libonnx 1.12's FunctionExpandHelper looks up the
  // op's schema, which these ops do not have.)
  std::unordered_map<std::string, std::string> rename;
  int formal = 0;
  for (const auto &in : node.input())
    if (!in.empty() && formal < function.input_size())
      rename[function.input(formal++)] = in;
  if (formal != function.input_size())
    return mlir::emitError(loc) << "internal error: the body of "
                                << node.op_type() << " takes "
                                << function.input_size() << " inputs, not "
                                << formal,
           failure();
  for (int i = 0; i < function.output_size(); ++i)
    rename[function.output(i)] =
        i < node.output_size() && !node.output(i).empty()
            ? node.output(i)
            : prefix + "unused" + std::to_string(i);
  auto renamed = [&](const std::string &name) {
    if (name.empty())
      return name;
    auto it = rename.find(name);
    return it != rename.end() ? it->second : prefix + name;
  };
  onnx::GraphProto expanded;
  for (const onnx::NodeProto &n : function.node()) {
    onnx::NodeProto *copy = expanded.add_node();
    *copy = n;
    for (std::string &in : *copy->mutable_input())
      in = renamed(in);
    for (std::string &out : *copy->mutable_output())
      out = renamed(out);
  }
  StringRef scope;
  if (auto named = dyn_cast<NameLoc>(loc))
    scope = named.getName().getValue();
  // The body's nodes are of the opset it declares (Clip takes its bounds as
  // inputs in a body of opset 18 inside a model of opset 10).
  int64_t modelOpset = opset;
  for (const auto &entry : function.opset_import())
    if (entry.domain().empty() || entry.domain() == "ai.onnx")
      opset = entry.version();
  LogicalResult imported = importNodes(expanded.node(), scope);
  opset = modelOpset;
  if (failed(imported))
    return failure();
  SmallVector<Value> results;
  for (const auto &out : node.output())
    results.push_back(out.empty() ? Value() : lookup(out));
  return results;
}

FailureOr<SmallVector<Value>>
NodeContext::expandBody(const std::string &body) {
  return importer.expandBody(node, body, loc);
}

FailureOr<OwningOpRef<ModuleOp>>
ModelImporter::run(onnx::ModelProto &model) {
  for (const auto &entry : model.opset_import()) {
    std::string domain = entry.domain();
    if (domain.empty() || domain == "ai.onnx")
      opset = entry.version();
    domainOpsets[domain] = entry.version();
  }
  if (opset == 0 && model.opset_import_size() == 0)
    opset = 1;
  if (opset < 1 || opset > OpImporterRegistry::kMaxOpset)
    return fileError("unsupported opset " + Twine(opset) +
                     " of the default ONNX domain (llmc supports 1 to " +
                     Twine(OpImporterRegistry::kMaxOpset) + ")"),
           failure();
  onnx::GraphProto &graph = *model.mutable_graph();
  modelProto = &model;
  if (failed(checkLocalFunctions(model)) || failed(checkStructure(graph)))
    return failure();
  // External data must lie inside the model's folder before the checker
  // looks for its files there.
  for (const onnx::TensorProto &init : graph.initializer())
    if (init.data_location() == onnx::TensorProto::EXTERNAL &&
        failed(readExternalData(init, "initializer '" + init.name() + "'",
                                /*checkOnly=*/true)))
      return failure();
  // libonnx 1.12 knows opsets up to 17; newer models get our own checks, as
  // do models with default-domain ops it has no schema for that llmc
  // imports (ONNX Runtime's SimplifiedLayerNormalization): its checker
  // would refuse them.
  bool ownOps = false;
  for (const onnx::NodeProto &node : graph.node())
    if ((node.domain().empty() || node.domain() == "ai.onnx") &&
        getRegistry().lookup(node.op_type(), opset) &&
        !onnx::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(opset),
                                        ""))
      ownOps = true;
  bool libonnxKnowsIt = opset <= 17 && !ownOps;
  if (libonnxKnowsIt) {
    try {
      onnx::checker::CheckerContext checkerContext;
      SmallString<256> dir(path);
      llvm::sys::path::remove_filename(dir);
      if (!dir.empty())
        dir += llvm::sys::path::get_separator();
      checkerContext.set_model_dir(dir.str().str());
      // libonnx 1.12's checker knows IR versions up to 8 and refuses later
      // ones outright, yet exporters write IR 9 and 10 at any opset (torch
      // 2.11 writes 10 at opset 17). What those versions add (float8 and
      // 4-bit types, function overloads) needs opsets above 17 or
      // model-local functions, which llmc's own import checks: the checker
      // reads the model as IR 8.
      // libonnx 1.12's checker wants a shape on every graph output; ONNX
      // leaves it optional (onnx 1.19 and ONNX Runtime accept outputs
      // without one), and the import computes them: the checker sees the
      // graph without those outputs (restored at once, whatever happens).
      google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> allOutputs;
      bool unshaped = llvm::any_of(graph.output(), [](const auto &o) {
        return o.type().has_tensor_type() &&
               !o.type().tensor_type().has_shape();
      });
      if (unshaped) {
        allOutputs = graph.output();
        auto *outs = graph.mutable_output();
        for (int i = outs->size() - 1; i >= 0; --i)
          if (outs->Get(i).type().has_tensor_type() &&
              !outs->Get(i).type().tensor_type().has_shape())
            outs->DeleteSubrange(i, 1);
      }
      auto restoreOutputs = llvm::make_scope_exit([&] {
        if (unshaped)
          *graph.mutable_output() = std::move(allOutputs);
      });
      if (model.ir_version() > onnx::IR_VERSION) {
        // The graph is checked in place (no copy of its weights): the
        // version is restored at once.
        int64_t irVersion = model.ir_version();
        model.set_ir_version(onnx::IR_VERSION);
        try {
          onnx::checker::check_model(model, checkerContext);
        } catch (...) {
          model.set_ir_version(irVersion);
          throw;
        }
        model.set_ir_version(irVersion);
      } else {
        onnx::checker::check_model(model, checkerContext);
      }
    } catch (const std::exception &e) {
      std::string msg = e.what();
      msg = msg.substr(0, msg.find('\n'));
      return fileError("invalid model: " + msg), failure();
    }
  }

  auto module = ModuleOp::create(FileLineColLoc::get(&context, path, 0, 0));
  // Owned from here: a failure anywhere below frees it (it leaked on every
  // refused model; the ONNX fuzzer's LeakSanitizer found it).
  OwningOpRef<ModuleOp> owned(module);
  llvm::StringSet<> initializerNames;
  for (const auto &init : graph.initializer())
    initializerNames.insert(init.name());

  // Function signature: graph inputs that are not initializers.
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  SmallVector<const ImportInput *> argData;
  size_t positional = 0;
  for (const auto &in : graph.input()) {
    if (initializerNames.contains(in.name()))
      continue;
    int32_t elem = 0;
    SmallVector<int64_t> shape;
    SmallVector<std::string> symbols;
    if (!declaredTensor(in.type(), elem, shape, &symbols))
      return fileError("input '" + in.name() +
                       "' is not a tensor (sequences, maps and optionals are "
                       "not supported)"),
             failure();
    Type element = elementType(elem);
    if (!element)
      return fileError("input '" + in.name() + "' has unsupported element type " +
                       onnxTypeName(elem)),
             failure();
    const ImportInput *given = nullptr;
    for (const ImportInput &i : options.inputs)
      if (i.name == in.name())
        given = &i;
    if (!given && positional < options.inputs.size() &&
        options.inputs[positional].name.empty())
      given = &options.inputs[positional];
    ++positional;
    if (given) {
      // numpy has no bfloat16: its bits come as uint16.
      bool bitsOfBF16 = element.isBF16() && given->elementType &&
                        given->elementType.isUnsignedInteger(16);
      // Nor 8- and 4-bit floats, or 4-bit integers: their bits come one to
      // a byte, as uint8 (or int8).
      bool bitsOfF8 = (isa<FloatType>(element) ||
                       element.getIntOrFloatBitWidth() == 4) &&
                      element.getIntOrFloatBitWidth() <= 8 &&
                      given->elementType && given->elementType.isInteger(8);
      if (given->elementType && given->elementType != element && !bitsOfBF16 &&
          !bitsOfF8)
        return fileError("input '" + in.name() + "' must be " +
                         onnxTypeName(elem) + " but was given other data"),
               failure();
      if (in.type().tensor_type().has_shape()) {
        bool bad = given->shape.size() != shape.size();
        for (size_t d = 0; !bad && d < shape.size(); ++d)
          bad = shape[d] >= 0 && shape[d] != given->shape[d];
        if (bad)
          return fileError("input '" + in.name() + "' must have shape " +
                           shapeString(shape) + " but was given shape " +
                           shapeString(given->shape)),
                 failure();
      }
      shape.assign(given->shape.begin(), given->shape.end());
    } else {
      for (auto [d, s] : llvm::enumerate(shape))
        if (s < 0)
          return fileError("input '" + in.name() + "' has symbolic dim '" +
                           (symbols[d].empty() ? std::string("?")
                                               : symbols[d]) +
                           "': give an input of that shape to specialise it"),
                 failure();
      if (!in.type().tensor_type().has_shape())
        return fileError("input '" + in.name() +
                         "' has no shape: give an input to specialise it"),
               failure();
    }
    auto type = RankedTensorType::get(shape, element);
    if (failed(checkSize(type, FileLineColLoc::get(&context, path, 0, 0),
                         "input '" + in.name() + "'")))
      return failure();
    argTypes.push_back(type);
    argNames.push_back(in.name());
    argData.push_back(given);
  }
  for (const ImportInput &i : options.inputs)
    if (!i.name.empty() &&
        llvm::none_of(argNames, [&](const std::string &n) { return n == i.name; }))
      return fileError("the model has no input named '" + i.name + "'"),
             failure();
  if (positional < options.inputs.size())
    return fileError("too many inputs: the model takes " + Twine(positional)),
           failure();

  builder.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(builder, module.getLoc(), "main",
                                   builder.getFunctionType(argTypes, {}));
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  for (auto [i, arg] : llvm::enumerate(entry->getArguments())) {
    values[argNames[i]] = arg;
    func.setArgAttr(i, kNameAttr, builder.getStringAttr(argNames[i]));
    const ImportInput *given = argData[i];
    if (given && !given->data.empty()) {
      auto type = cast<RankedTensorType>(arg.getType());
      Type storage = type.getElementType();
      bool isSplat = false;
      if (type.getNumElements() > 4096) {
        // Only small inputs can set shapes; large ones stay run-time data.
      } else if (storage.isInteger(1)) {
        SmallVector<bool> bools;
        for (char c : given->data)
          bools.push_back(c != 0);
        if (static_cast<int64_t>(bools.size()) == type.getNumElements())
          inputData[arg] = DenseElementsAttr::get(type, ArrayRef<bool>(bools));
      } else if (DenseElementsAttr::isValidRawBuffer(type, given->data,
                                                     isSplat)) {
        inputData[arg] = DenseElementsAttr::getFromRawBuffer(type, given->data);
      }
    }
  }

  for (onnx::TensorProto &init : *graph.mutable_initializer()) {
    FailureOr<ElementsAttr> attr =
        tensorToAttr(init, "initializer '" + init.name() + "'");
    if (failed(attr))
      return failure();
    Location loc = NameLoc::get(builder.getStringAttr(init.name()),
                                FileLineColLoc::get(&context, path, 0, 0));
    values[init.name()] = graph::ConstantOp::create(builder, loc, attr->getType(),
                                                    *attr);
  }

  if (failed(importNodes(graph.node(), "")))
    return failure();

  // ONNX's shape inference records the type of every value it can infer in
  // value_info, which is checked below against what the import computed
  // (the dialect's own inference, which also covers what ONNX leaves
  // unknown, newer opsets and symbolic dims specialised from the inputs).
  // It runs only on a model the import accepted: libonnx's inference
  // assumes what the importers check first (a Conv over a rank-2 input was
  // a segfault in it). When ONNX finds a declared shape it disagrees with,
  // it throws: the model is then checked as declared, and the check names
  // the value (a better message than ONNX's).
  if (libonnxKnowsIt) {
    try {
      onnx::shape_inference::InferShapes(
          model, onnx::OpSchemaRegistry::Instance(),
          onnx::ShapeInferenceOptions(/*check_type_val=*/false,
                                      /*strict_mode_val=*/0,
                                      /*data_prop_val=*/false));
    } catch (const std::exception &) {
    }
  }

  // Declared types of intermediate values must agree with what was computed.
  for (const auto &info : graph.value_info()) {
    Value v = lookup(info.name());
    if (v && failed(checkType(v, info.type(), func.getLoc(),
                              "value '" + info.name() + "'")))
      return failure();
  }
  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (const auto &out : graph.output()) {
    Value v = lookup(out.name());
    if (!v)
      return fileError("graph output '" + out.name() + "' is not produced"),
             failure();
    if (failed(checkType(v, out.type(), FileLineColLoc::get(&context, path, 0, 0),
                         "output '" + out.name() + "'")))
      return failure();
    results.push_back(v);
    resultTypes.push_back(v.getType());
  }
  func::ReturnOp::create(builder, func.getLoc(), results);
  func.setType(builder.getFunctionType(argTypes, resultTypes));
  for (auto [i, out] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, kNameAttr, builder.getStringAttr(out.name()));
  if (failed(mlir::verify(module)))
    return failure();
  return std::move(owned);
}

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

Value NodeContext::input(unsigned i) const {
  return hasInput(i) ? importer.lookup(node.input(i)) : Value();
}

InFlightDiagnostic NodeContext::emitError(const Twine &message) const {
  return mlir::emitError(loc, message);
}

FailureOr<int64_t> NodeContext::normalizeAxis(int64_t axis, int64_t rank) const {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<int64_t>(rank, 1)) {
    emitError("axis ") << axis << " is out of range for rank " << rank;
    return failure();
  }
  return a;
}

Type NodeContext::elementType(int32_t onnxType) const {
  return importer.elementType(onnxType);
}

/// The constant value of `v`, folding its producers (shape subgraphs such
/// as Shape -> Size -> Sub) on demand; graph inputs whose data was given
/// count as constants (`data`), as they do when an op reads them directly.
static Attribute
foldToConstant(Value v,
               const std::function<DenseElementsAttr(Value)> &data,
               unsigned depth = 0) {
  Attribute attr;
  if (matchPattern(v, m_Constant(&attr)))
    return attr;
  if (isa<BlockArgument>(v))
    return data(v);
  Operation *op = v.getDefiningOp();
  if (!op || depth > 64 || op->getNumRegions())
    return {};
  SmallVector<Attribute> operands;
  for (Value operand : op->getOperands())
    operands.push_back(foldToConstant(operand, data, depth + 1));
  SmallVector<OpFoldResult> results;
  if (failed(op->fold(operands, results)) ||
      results.size() != op->getNumResults())
    return {};
  OpFoldResult r = results[cast<OpResult>(v).getResultNumber()];
  if (auto folded = dyn_cast<Attribute>(r))
    return folded;
  return foldToConstant(cast<Value>(r), data, depth + 1);
}

FailureOr<DenseElementsAttr> NodeContext::constantInput(unsigned i,
                                                        StringRef what) {
  Value v = input(i);
  if (!v) {
    emitError("missing ") << what;
    return failure();
  }
  if (Attribute attr = foldToConstant(
          v, [&](Value a) { return importer.runtimeData(a); })) {
    if (auto dense = dyn_cast<DenseElementsAttr>(attr))
      return dense;
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
      // Small shape-like values can come as blobs; read them out.
      AsmResourceBlob *blob = resource.getRawHandle().getBlob();
      bool isSplat = false;
      if (blob &&
          DenseElementsAttr::isValidRawBuffer(resource.getType(),
                                              blob->getData(), isSplat))
        return DenseElementsAttr::getFromRawBuffer(resource.getType(),
                                                   blob->getData());
    }
  }
  if (DenseElementsAttr data = importer.runtimeData(v))
    return data;
  emitError(Twine(what) + " (input '" + node.input(i) +
            "') must be known at compile time: make it an initializer or a "
            "constant, or give its data as an input");
  return failure();
}

std::optional<SmallVector<int64_t>> NodeContext::knownInts(unsigned i) const {
  Value v = input(i);
  if (!v)
    return std::nullopt;
  auto dense = dyn_cast_or_null<DenseElementsAttr>(foldToConstant(
      v, [&](Value a) { return importer.runtimeData(a); }));
  if (!dense)
    dense = importer.runtimeData(v);
  if (!dense || !isa<IntegerType>(dense.getElementType()))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &x : dense.getValues<APInt>())
    out.push_back(x.getSExtValue());
  return out;
}

FailureOr<SmallVector<int64_t>> NodeContext::constantInts(unsigned i,
                                                          StringRef what) {
  FailureOr<DenseElementsAttr> attr = constantInput(i, what);
  if (failed(attr))
    return failure();
  if (!isa<IntegerType>(attr->getElementType())) {
    emitError(what) << " must be an integer tensor";
    return failure();
  }
  SmallVector<int64_t> out;
  for (APInt v : attr->getValues<APInt>())
    out.push_back(v.getSExtValue());
  return out;
}

FailureOr<SmallVector<double>> NodeContext::constantFloats(unsigned i,
                                                           StringRef what) {
  FailureOr<DenseElementsAttr> attr = constantInput(i, what);
  if (failed(attr))
    return failure();
  SmallVector<double> out;
  if (isa<FloatType>(attr->getElementType())) {
    for (APFloat v : attr->getValues<APFloat>()) {
      bool lost = false;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(v.convertToDouble());
    }
  } else {
    for (APInt v : attr->getValues<APInt>())
      out.push_back(static_cast<double>(v.getSExtValue()));
  }
  return out;
}

const onnx::AttributeProto *NodeContext::findAttr(StringRef name) const {
  for (const auto &attr : node.attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

int64_t NodeContext::getInt(StringRef name, int64_t defaultValue) const {
  const onnx::AttributeProto *a = findAttr(name);
  return a ? a->i() : defaultValue;
}

double NodeContext::getFloat(StringRef name, double defaultValue) const {
  const onnx::AttributeProto *a = findAttr(name);
  return a ? a->f() : defaultValue;
}

std::string NodeContext::getString(StringRef name,
                                   StringRef defaultValue) const {
  const onnx::AttributeProto *a = findAttr(name);
  return a ? a->s() : defaultValue.str();
}

SmallVector<int64_t> NodeContext::getInts(StringRef name,
                                          ArrayRef<int64_t> defaultValue) const {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a)
    return SmallVector<int64_t>(defaultValue);
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

SmallVector<double> NodeContext::getFloats(StringRef name,
                                           ArrayRef<double> defaultValue) const {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a)
    return SmallVector<double>(defaultValue);
  return SmallVector<double>(a->floats().begin(), a->floats().end());
}

FailureOr<ElementsAttr> NodeContext::getTensorAttr(StringRef name) {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a || !a->has_t()) {
    emitError("missing tensor attribute '") << name << "'";
    return failure();
  }
  onnx::TensorProto copy = a->t();
  return importer.tensorToAttr(copy, "attribute '" + name.str() + "'");
}

Value NodeContext::scalarConstant(Type elementType, double value) const {
  auto type = RankedTensorType::get({}, elementType);
  Attribute attr = isa<FloatType>(elementType)
                       ? (Attribute)b.getFloatAttr(elementType, value)
                       : (Attribute)b.getIntegerAttr(elementType,
                                                     static_cast<int64_t>(value));
  return graph::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, attr));
}

Value NodeContext::intsConstant(ArrayRef<int64_t> values) const {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    b.getI64Type());
  return graph::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, values));
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

static bool isTextFormat(StringRef path) {
  return path.ends_with(".onnxtxt") || path.ends_with(".onnx.txt");
}

/// Parses a model held in memory (ONNX text format when `path` ends in
/// .onnxtxt): failure after an error naming the file.
static LogicalResult parseModel(ModelImporter &importer, StringRef buffer,
                                StringRef path, onnx::ModelProto &model) {
  if (isTextFormat(path)) {
    // libonnx's parser recurses once per nested graph, type and list, with
    // no bound (50,000 nested Ifs overflowed the stack): nesting beyond
    // what protobuf allows a binary model (100) is refused first. Quoted
    // strings and comments do not count.
    int64_t depth = 0, deepest = 0;
    for (size_t i = 0; i < buffer.size(); ++i) {
      char c = buffer[i];
      if (c == '"') {
        for (++i; i < buffer.size() && buffer[i] != '"'; ++i)
          if (buffer[i] == '\\')
            ++i;
      } else if (c == '#') {
        while (i < buffer.size() && buffer[i] != '\n')
          ++i;
      } else if (c == '{' || c == '(' || c == '[') {
        deepest = std::max(deepest, ++depth);
      } else if (c == '}' || c == ')' || c == ']') {
        --depth;
      }
    }
    if (deepest > 300)
      return importer.fileError("cannot parse ONNX text format: graphs, "
                                "types and lists nest " +
                                Twine(deepest) +
                                " deep (at most 300: protobuf allows a "
                                "binary model 100 nested messages)"),
             failure();
    std::string text = buffer.str();
    onnx::OnnxParser parser(text.c_str());
    onnx::Common::Status status;
    try {
      status = parser.Parse(model);
    } catch (const std::out_of_range &) {
      // The parser's stoll/stod throw on a number out of their type's range.
      return importer.fileError("cannot parse ONNX text format: a number is "
                                "out of range (integers and dims must fit in "
                                "64 bits)"),
             failure();
    } catch (const std::exception &e) {
      return importer.fileError(std::string("cannot parse ONNX text format: ") +
                                e.what()),
             failure();
    }
    if (!status.IsOK()) {
      std::string msg = status.ErrorMessage();
      return importer.fileError("cannot parse ONNX text format: " +
                                msg.substr(0, msg.find('\n'))),
             failure();
    }
  } else {
    if (buffer.empty())
      return importer.fileError("empty file: not an ONNX model"), failure();
    if (buffer.size() > static_cast<size_t>(INT32_MAX) ||
        !model.ParseFromArray(buffer.data(), static_cast<int>(buffer.size())))
      return importer.fileError(
                 "not an ONNX model, or a truncated one (protobuf parse "
                 "failed)"),
             failure();
    if (!model.has_graph())
      return importer.fileError("not an ONNX model: it holds no graph"),
             failure();
  }
  return success();
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::llmc::importOnnxModelFromBuffer(MLIRContext &context, StringRef buffer,
                                      StringRef path,
                                      const ImportOptions &options) {
  context.loadDialect<graph::GraphDialect, func::FuncDialect>();
  ModelImporter importer(context, path, options);
  onnx::ModelProto model;
  if (failed(parseModel(importer, buffer, path, model)))
    return failure();
  return importer.run(model);
}

FailureOr<OnnxInterface>
mlir::llmc::readOnnxInterface(MLIRContext &context, StringRef buffer,
                              StringRef path) {
  context.loadDialect<graph::GraphDialect, func::FuncDialect>();
  ImportOptions none;
  ModelImporter importer(context, path, none);
  onnx::ModelProto model;
  if (failed(parseModel(importer, buffer, path, model)))
    return failure();
  OnnxInterface result;
  llvm::StringSet<> initializers;
  for (const auto &init : model.graph().initializer())
    initializers.insert(init.name());
  auto read = [](const onnx::ValueInfoProto &v) {
    OnnxInterface::Value out;
    out.name = v.name();
    SmallVector<int64_t> shape;
    SmallVector<std::string> symbols;
    out.ranked = declaredTensor(v.type(), out.onnxType, shape, &symbols) &&
                 v.type().tensor_type().has_shape();
    out.shape.assign(shape.begin(), shape.end());
    out.symbols.assign(symbols.begin(), symbols.end());
    return out;
  };
  for (const auto &in : model.graph().input())
    if (!initializers.contains(in.name()))
      result.inputs.push_back(read(in));
  for (const auto &out : model.graph().output())
    result.outputs.push_back(read(out));
  return result;
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::llmc::importOnnxModel(MLIRContext &context, StringRef path,
                            const ImportOptions &options) {
  // Only a regular file: a FIFO would block the read, /dev/zero never end.
  llvm::sys::fs::file_status status;
  if (!llvm::sys::fs::status(path, status) &&
      status.type() != llvm::sys::fs::file_type::regular_file) {
    mlir::emitError(FileLineColLoc::get(&context, path, 0, 0))
        << (status.type() == llvm::sys::fs::file_type::directory_file
                ? "is a directory, not an ONNX model"
                : "is not a regular file (a FIFO or a device): not an ONNX "
                  "model");
    return failure();
  }
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file) {
    mlir::emitError(FileLineColLoc::get(&context, path, 0, 0))
        << "cannot read file: " << file.getError().message();
    return failure();
  }
  return importOnnxModelFromBuffer(context, (*file)->getBuffer(), path,
                                   options);
}

//===----------------------------------------------------------------------===//
// Control flow: If and Loop, their subgraphs imported inline
//===----------------------------------------------------------------------===//
//
// An If whose condition is known at compile time imports the branch it
// takes; otherwise both branches are imported and each output is
// where(cond, then, else), which needs the branches' outputs to agree in
// type. A Loop is unrolled: its trip count (and its condition, each
// iteration) must be known at compile time; each iteration imports the body
// with the iteration number, the condition and the carried values bound,
// and the scan outputs are stacked along a new first axis.

namespace {
/// The most iterations of a Loop that are unrolled.
constexpr int64_t kMaxUnrolledIterations = 4096;
} // namespace

std::optional<APInt> ModelImporter::knownScalarInt(Value v) {
  auto dense = dyn_cast_or_null<DenseElementsAttr>(
      foldToConstant(v, [&](Value a) { return runtimeData(a); }));
  if (!dense)
    dense = runtimeData(v);
  if (!dense || dense.getNumElements() != 1 ||
      !isa<IntegerType>(dense.getElementType()))
    return std::nullopt;
  return *dense.getValues<APInt>().begin();
}

std::optional<bool> ModelImporter::knownBool(Value v) {
  std::optional<APInt> x = knownScalarInt(v);
  return x ? std::optional<bool>(!x->isZero()) : std::nullopt;
}

Value ModelImporter::i64Scalar(Location loc, int64_t v) {
  auto type = RankedTensorType::get({}, builder.getI64Type());
  return graph::ConstantOp::create(
      builder, loc, type,
      DenseElementsAttr::get(type, builder.getI64IntegerAttr(v).getValue()));
}

Value ModelImporter::stackAlong(ArrayRef<Value> parts, int64_t axis,
                                Location loc) {
  SmallVector<Value> rows;
  for (Value v : parts) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape(t.getShape());
    shape.insert(shape.begin() + axis, 1);
    rows.push_back(graph::ReshapeOp::create(
        builder, loc, RankedTensorType::get(shape, t.getElementType()), v));
  }
  if (rows.size() == 1)
    return rows[0];
  return graph::ConcatOp::create(builder, loc, rows,
                                 builder.getI64IntegerAttr(axis));
}

LogicalResult ModelImporter::inlineGraph(const onnx::GraphProto &g,
                                         ArrayRef<Value> actuals,
                                         StringRef scope, Location loc,
                                         SmallVector<Value> &results) {
  if (g.input_size() != static_cast<int>(actuals.size()))
    return mlir::emitError(loc) << "its subgraph '" << printable(g.name())
                                << "' takes " << g.input_size()
                                << " inputs, not " << actuals.size(),
           failure();
  std::string prefix = "llmc_sub" + std::to_string(expansionCounter++) + "_";
  Rename rename;
  for (const onnx::ValueInfoProto &in : g.input())
    rename[in.name()] = prefix + in.name();
  for (const onnx::TensorProto &init : g.initializer())
    rename[init.name()] = prefix + init.name();
  for (const onnx::NodeProto &n : g.node())
    for (const std::string &out : n.output())
      if (!out.empty())
        rename[out] = prefix + out;
  for (int i = 0; i < g.input_size(); ++i)
    values[prefix + g.input(i).name()] = actuals[i];
  for (const onnx::TensorProto &init : g.initializer()) {
    onnx::TensorProto copy = init;
    FailureOr<ElementsAttr> attr =
        tensorToAttr(copy, "initializer '" + init.name() + "'");
    if (failed(attr))
      return failure();
    values[prefix + init.name()] =
        graph::ConstantOp::create(builder, loc, attr->getType(), *attr);
  }
  onnx::GraphProto body;
  for (const onnx::NodeProto &n : g.node()) {
    onnx::NodeProto *copy = body.add_node();
    *copy = n;
    renameNode(*copy, rename);
  }
  if (failed(importNodes(body.node(), scope)))
    return failure();
  results.clear();
  for (const onnx::ValueInfoProto &out : g.output()) {
    auto it = rename.find(out.name());
    Value v = lookup(it != rename.end() ? it->second : out.name());
    if (!v)
      return mlir::emitError(loc) << "its subgraph's output '"
                                  << printable(out.name())
                                  << "' is not defined",
             failure();
    results.push_back(v);
  }
  return success();
}

LogicalResult ModelImporter::importIf(const onnx::NodeProto &node,
                                      Location loc, StringRef nodeName) {
  const onnx::GraphProto *thenG = nullptr, *elseG = nullptr;
  for (const onnx::AttributeProto &a : node.attribute()) {
    if (a.name() == "then_branch" && a.has_g())
      thenG = &a.g();
    if (a.name() == "else_branch" && a.has_g())
      elseG = &a.g();
  }
  if (!thenG || !elseG || node.input_size() != 1)
    return mlir::emitError(loc) << "If needs a condition, then_branch and "
                                   "else_branch",
           failure();
  Value cond = lookup(node.input(0));
  auto condType = cast<RankedTensorType>(cond.getType());
  if (!condType.getElementType().isInteger(1) ||
      condType.getNumElements() != 1)
    return mlir::emitError(loc) << "If's condition must be one boolean",
           failure();
  SmallVector<Value> taken, other;
  if (std::optional<bool> known = knownBool(cond)) {
    if (failed(inlineGraph(*known ? *thenG : *elseG, {}, nodeName, loc, taken)))
      return failure();
  } else {
    // Both branches, then a select per output.
    if (failed(inlineGraph(*thenG, {}, nodeName, loc, taken)) ||
        failed(inlineGraph(*elseG, {}, nodeName, loc, other)))
      return failure();
    if (taken.size() != other.size())
      return mlir::emitError(loc) << "If's branches give " << taken.size()
                                  << " and " << other.size() << " outputs",
             failure();
    Value scalar = cond;
    if (condType.getRank() != 0)
      scalar = graph::ReshapeOp::create(
          builder, loc, RankedTensorType::get({}, builder.getI1Type()), cond);
    for (size_t i = 0; i < taken.size(); ++i) {
      if (taken[i].getType() != other[i].getType())
        return mlir::emitError(loc)
                   << "If's branches give output " << i << " as "
                   << taken[i].getType() << " and " << other[i].getType()
                   << ": only a condition known at compile time may choose "
                      "between different types or shapes",
               failure();
      taken[i] = graph::WhereOp::create(builder, loc, taken[i].getType(),
                                        scalar, taken[i], other[i]);
    }
  }
  if (static_cast<int>(taken.size()) < node.output_size())
    return mlir::emitError(loc) << "If has " << node.output_size()
                                << " outputs; its branch gives "
                                << taken.size(),
           failure();
  for (int i = 0; i < node.output_size(); ++i)
    if (!node.output(i).empty())
      values[node.output(i)] = taken[i];
  return success();
}

LogicalResult ModelImporter::importLoop(const onnx::NodeProto &node,
                                        Location loc, StringRef nodeName) {
  const onnx::GraphProto *body = nullptr;
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == "body" && a.has_g())
      body = &a.g();
  if (!body || node.input_size() < 2)
    return mlir::emitError(loc) << "Loop needs its trip count and condition "
                                   "inputs (either may be empty) and a body",
           failure();
  int64_t trips = -1;
  if (!node.input(0).empty()) {
    std::optional<APInt> m = knownScalarInt(lookup(node.input(0)));
    if (!m)
      return mlir::emitError(loc)
                 << "Loop's trip count must be known at compile time (it is "
                    "unrolled): give the input's data, or fix it in the model",
             failure();
    trips = std::max<int64_t>(0, m->getSExtValue());
  }
  bool condGiven = !node.input(1).empty();
  bool running = true;
  if (condGiven) {
    std::optional<bool> known = knownBool(lookup(node.input(1)));
    if (!known)
      return mlir::emitError(loc) << "Loop's condition must be known at "
                                     "compile time (it is unrolled)",
             failure();
    running = *known;
  }
  if (trips < 0 && !condGiven)
    return mlir::emitError(loc) << "Loop has neither a trip count nor a "
                                   "condition: it would never end",
           failure();
  if (trips > kMaxUnrolledIterations)
    return mlir::emitError(loc) << "Loop runs " << trips
                                << " iterations; at most "
                                << kMaxUnrolledIterations << " are unrolled",
           failure();
  size_t carried = node.input_size() - 2;
  if (body->input_size() != static_cast<int>(carried + 2) ||
      body->output_size() < static_cast<int>(carried + 1))
    return mlir::emitError(loc) << "Loop's body takes " << body->input_size()
                                << " inputs and gives " << body->output_size()
                                << " outputs; with " << carried
                                << " carried values it must take "
                                << carried + 2 << " and give at least "
                                << carried + 1,
           failure();
  size_t scans = body->output_size() - 1 - carried;
  SmallVector<Value> state;
  for (size_t i = 0; i < carried; ++i)
    state.push_back(lookup(node.input(2 + i)));
  std::vector<SmallVector<Value>> scanned(scans);
  auto i1 = RankedTensorType::get({}, builder.getI1Type());
  int64_t iteration = 0;
  for (; running && (trips < 0 || iteration < trips); ++iteration) {
    if (iteration >= kMaxUnrolledIterations)
      return mlir::emitError(loc) << "Loop runs more than "
                                  << kMaxUnrolledIterations
                                  << " iterations (at most that many are "
                                     "unrolled)",
             failure();
    SmallVector<Value> actuals;
    actuals.push_back(i64Scalar(loc, iteration));
    actuals.push_back(graph::ConstantOp::create(
        builder, loc, i1, DenseElementsAttr::get(i1, true)));
    actuals.append(state.begin(), state.end());
    SmallVector<Value> outs;
    if (failed(inlineGraph(*body, actuals,
                           (nodeName + "/" + Twine(iteration)).str(), loc,
                           outs)))
      return failure();
    for (size_t i = 0; i < carried; ++i) {
      if (outs[1 + i].getType() != state[i].getType())
        return mlir::emitError(loc)
                   << "Loop's carried value " << i << " changes type from "
                   << state[i].getType() << " to " << outs[1 + i].getType()
                   << " in iteration " << iteration,
               failure();
      state[i] = outs[1 + i];
    }
    for (size_t j = 0; j < scans; ++j)
      scanned[j].push_back(outs[1 + carried + j]);
    if (condGiven || trips < 0) {
      std::optional<bool> next = knownBool(outs[0]);
      if (!next)
        return mlir::emitError(loc)
                   << "Loop's condition depends on the data in iteration "
                   << iteration << ": only loops whose condition is known "
                                   "at compile time are unrolled",
               failure();
      running = *next;
    }
  }
  for (size_t i = 0; i < carried; ++i)
    if (static_cast<int>(i) < node.output_size() && !node.output(i).empty())
      values[node.output(i)] = state[i];
  for (size_t j = 0; j < scans; ++j) {
    int out = static_cast<int>(carried + j);
    if (out >= node.output_size() || node.output(out).empty())
      continue;
    if (scanned[j].empty())
      return mlir::emitError(loc) << "Loop runs no iteration: its scan "
                                     "output '"
                                  << printable(node.output(out))
                                  << "' would have no shape",
             failure();
    for (Value v : scanned[j])
      if (v.getType() != scanned[j][0].getType())
        return mlir::emitError(loc) << "Loop's scan output " << j
                                    << " changes shape between iterations",
               failure();
    values[node.output(out)] = stackAlong(scanned[j], 0, loc);
  }
  return success();
}

/// Scan (opset 9 and later; opset 8's batched form without sequence_lens),
/// unrolled over the scan length: each step binds the states and the step's
/// slice of every scan input (along its axis, forward or reversed), and each
/// scan output's slices are stacked along its axis (reversed if asked).
LogicalResult ModelImporter::importScan(const onnx::NodeProto &node,
                                        Location loc, StringRef nodeName) {
  const onnx::GraphProto *body = nullptr;
  int64_t numScan = -1;
  std::vector<int64_t> inAxes, inDirs, outAxes, outDirs;
  for (const onnx::AttributeProto &a : node.attribute()) {
    if (a.name() == "body" && a.has_g())
      body = &a.g();
    else if (a.name() == "num_scan_inputs")
      numScan = a.i();
    else if (a.name() == "scan_input_axes")
      inAxes.assign(a.ints().begin(), a.ints().end());
    else if (a.name() == "scan_input_directions" || a.name() == "directions")
      inDirs.assign(a.ints().begin(), a.ints().end());
    else if (a.name() == "scan_output_axes")
      outAxes.assign(a.ints().begin(), a.ints().end());
    else if (a.name() == "scan_output_directions")
      outDirs.assign(a.ints().begin(), a.ints().end());
  }
  // Opset 8: a first input (sequence_lens) and a batch axis in front of
  // every state and scan input.
  bool batched = opset < 9;
  int first = batched ? 1 : 0;
  if (!body || numScan < 1 || node.input_size() - first < numScan)
    return mlir::emitError(loc) << "Scan needs a body and num_scan_inputs "
                                   "of its inputs",
           failure();
  if (batched && !node.input(0).empty())
    return mlir::emitError(loc) << "Scan's sequence_lens (opset 8) is not "
                                   "supported",
           failure();
  int64_t numState = node.input_size() - first - numScan;
  int64_t numOut = body->output_size() - numState;
  if (body->input_size() != numState + numScan || numOut < 0)
    return mlir::emitError(loc) << "Scan's body takes " << body->input_size()
                                << " inputs and gives " << body->output_size()
                                << "; with " << numState << " states and "
                                << numScan << " scan inputs it must take "
                                << numState + numScan,
           failure();
  SmallVector<Value> inputs;
  for (int i = first; i < node.input_size(); ++i)
    inputs.push_back(lookup(node.input(i)));
  auto axisOf = [](const std::vector<int64_t> &list, int64_t i, int64_t rank,
                   int64_t &axis) {
    axis = i < static_cast<int64_t>(list.size()) ? list[i] : 0;
    if (axis < 0)
      axis += rank;
    return axis >= 0 && axis < rank;
  };
  auto take = [&](Value v, int64_t axis, int64_t at) -> Value {
    return graph::GatherOp::create(builder, loc, v, i64Scalar(loc, at),
                                   builder.getI64IntegerAttr(axis));
  };
  auto stack = [&](ArrayRef<Value> parts, int64_t axis) {
    return stackAlong(parts, axis, loc);
  };
  // One scan over `states` and `scans` (unbatched): the final states and
  // the scan outputs.
  auto scanOnce = [&](SmallVector<Value> states, ArrayRef<Value> scans,
                      SmallVector<Value> &finalStates,
                      SmallVector<Value> &outputs,
                      const std::string &scope) -> LogicalResult {
    int64_t length = -1;
    SmallVector<int64_t> axes;
    for (int64_t j = 0; j < numScan; ++j) {
      auto t = cast<RankedTensorType>(scans[j].getType());
      int64_t axis;
      if (!axisOf(inAxes, j, t.getRank(), axis))
        return mlir::emitError(loc) << "Scan's scan_input_axes[" << j
                                    << "] is outside its input's rank",
               failure();
      if (length >= 0 && t.getDimSize(axis) != length)
        return mlir::emitError(loc) << "Scan's inputs disagree on the scan "
                                       "length",
               failure();
      length = t.getDimSize(axis);
      axes.push_back(axis);
    }
    if (length < 1 || length > kMaxUnrolledIterations)
      return mlir::emitError(loc) << "Scan runs " << length
                                  << " steps; 1 to " << kMaxUnrolledIterations
                                  << " are unrolled",
             failure();
    std::vector<SmallVector<Value>> produced(numOut);
    for (int64_t t = 0; t < length; ++t) {
      SmallVector<Value> actuals(states);
      for (int64_t j = 0; j < numScan; ++j) {
        bool reverse = j < static_cast<int64_t>(inDirs.size()) && inDirs[j];
        actuals.push_back(take(scans[j], axes[j], reverse ? length - 1 - t : t));
      }
      SmallVector<Value> outs;
      if (failed(inlineGraph(*body, actuals,
                             (scope + "/" + Twine(t)).str(), loc, outs)))
        return failure();
      for (int64_t i = 0; i < numState; ++i) {
        if (outs[i].getType() != states[i].getType())
          return mlir::emitError(loc) << "Scan's state " << i
                                      << " changes type in step " << t,
                 failure();
        states[i] = outs[i];
      }
      for (int64_t k = 0; k < numOut; ++k)
        produced[k].push_back(outs[numState + k]);
    }
    finalStates = states;
    outputs.clear();
    for (int64_t k = 0; k < numOut; ++k) {
      if (k < static_cast<int64_t>(outDirs.size()) && outDirs[k])
        std::reverse(produced[k].begin(), produced[k].end());
      auto t = cast<RankedTensorType>(produced[k][0].getType());
      int64_t axis;
      if (!axisOf(outAxes, k, t.getRank() + 1, axis))
        return mlir::emitError(loc) << "Scan's scan_output_axes[" << k
                                    << "] is outside its output's rank",
               failure();
      outputs.push_back(stack(produced[k], axis));
    }
    return success();
  };
  SmallVector<Value> finalStates, outputs;
  if (!batched) {
    SmallVector<Value> states(inputs.begin(), inputs.begin() + numState);
    if (failed(scanOnce(states, ArrayRef<Value>(inputs).drop_front(numState),
                        finalStates, outputs, nodeName.str())))
      return failure();
  } else {
    // Opset 8: each batch entry scanned on its own along (its) axis 0,
    // the results stacked back along the batch axis.
    auto t0 = cast<RankedTensorType>(inputs[0].getType());
    int64_t batch = t0.getRank() ? t0.getDimSize(0) : -1;
    if (batch < 1 || batch > kMaxUnrolledIterations)
      return mlir::emitError(loc) << "Scan's batch must be known and at most "
                                  << kMaxUnrolledIterations,
             failure();
    std::vector<SmallVector<Value>> states(numState), outs(numOut);
    for (int64_t b = 0; b < batch; ++b) {
      SmallVector<Value> s, scans, fs, os;
      for (int64_t i = 0; i < numState; ++i)
        s.push_back(take(inputs[i], 0, b));
      for (int64_t j = 0; j < numScan; ++j)
        scans.push_back(take(inputs[numState + j], 0, b));
      if (failed(scanOnce(s, scans, fs, os,
                          (nodeName + "/batch" + Twine(b)).str())))
        return failure();
      for (int64_t i = 0; i < numState; ++i)
        states[i].push_back(fs[i]);
      for (int64_t k = 0; k < numOut; ++k)
        outs[k].push_back(os[k]);
    }
    for (int64_t i = 0; i < numState; ++i)
      finalStates.push_back(stack(states[i], 0));
    for (int64_t k = 0; k < numOut; ++k)
      outputs.push_back(stack(outs[k], 0));
  }
  for (int64_t i = 0; i < numState + numOut; ++i) {
    if (i >= node.output_size() || node.output(i).empty())
      continue;
    values[node.output(i)] = i < numState ? finalStates[i] : outputs[i - numState];
  }
  return success();
}
