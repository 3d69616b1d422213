//===- Dynamic.cpp - One artifact for a range of sizes (--dynamic) --------===//

#include "llmc/Dynamic.h"

#include "llmc/Compiler.h"
#include "llmc/Import/OnnxImporter.h"
#include "llmc/Passes/Padding.h"
#include "llmc/Runtime/Artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <map>

using namespace mlir;
using namespace mlir::llmc;
namespace rt = ::llmc::runtime;

bool mlir::llmc::parseDynamic(const std::string &text,
                              std::vector<DynamicRange> &ranges,
                              std::string &error) {
  ranges.clear();
  SmallVector<StringRef> items;
  StringRef(text).split(items, ',');
  for (StringRef item : items) {
    item = item.trim();
    size_t eq = item.rfind('=');
    StringRef name = eq == StringRef::npos ? "" : item.take_front(eq).trim();
    StringRef range = eq == StringRef::npos ? "" : item.drop_front(eq + 1);
    auto [lo, hi] = range.split("..");
    DynamicRange r;
    r.name = name.str();
    if (name.empty() || !range.contains("..") || lo.trim().getAsInteger(10, r.min) ||
        hi.trim().getAsInteger(10, r.max)) {
      error = "--dynamic: expected NAME=MIN..MAX (e.g. batch=1..64), got '" +
              item.str() + "'";
      return false;
    }
    if (r.min < 1 || r.max < r.min || r.max > (int64_t(1) << 31)) {
      error = "--dynamic: the range of '" + r.name + "' must satisfy 1 <= " +
              "MIN <= MAX <= 2^31, got " + std::to_string(r.min) + ".." +
              std::to_string(r.max);
      return false;
    }
    for (const DynamicRange &other : ranges)
      if (other.name == r.name) {
        error = "--dynamic: '" + r.name + "' is given twice";
        return false;
      }
    ranges.push_back(r);
  }
  return true;
}

/// The graph phase's simplifications, attention lifted into one op as the
/// compile will (its causal mask lets padding through, see
/// llmc/Sharding/Padding.h); no fusion, weights still constants.
static LogicalResult simplify(ModuleOp module) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  if (failed(parsePassPipeline("canonicalize,cse,func.func(llmc-decompose-"
                               "composite-ops),canonicalize,cse,func.func("
                               "llmc-lift-attention{target=cpu}),"
                               "canonicalize,cse",
                               pm, llvm::errs())))
    return failure();
  return pm.run(module);
}

FailureOr<bool> mlir::llmc::provePadding(
    ModuleOp big, ModuleOp small,
    const std::vector<std::pair<unsigned, unsigned>> &inputDims,
    int64_t bigSize, int64_t smallSize, std::string &why,
    std::vector<std::vector<int64_t>> *outputScales) {
  if (failed(simplify(big)) || failed(simplify(small)))
    return failure();
  auto bigMain = big.lookupSymbol<func::FuncOp>("main");
  auto smallMain = small.lookupSymbol<func::FuncOp>("main");
  if (!bigMain || !smallMain || bigMain.isExternal() || smallMain.isExternal()) {
    why = "the model has no @main";
    return false;
  }
  // Match the two (which constants follow the dim), analyse, then check
  // every shape against what the analysis found.
  std::vector<std::pair<Value, unsigned>> constantDims;
  if (!sameUpToPadding(bigMain, smallMain, nullptr, bigSize, smallSize, why,
                       &constantDims))
    return false;
  PaddingCheck check =
      analysePadding(bigMain, inputDims, bigSize, constantDims);
  if (!check.safe) {
    why = check.why;
    return false;
  }
  if (!sameUpToPadding(bigMain, smallMain, &check, bigSize, smallSize, why))
    return false;
  if (outputScales)
    *outputScales = check.outputScales;
  return true;
}

namespace {

/// A dim being made dynamic: where it is among the inputs, how it is run.
struct Dim {
  DynamicRange range;
  std::vector<std::pair<unsigned, unsigned>> refs; ///< (input, axis)
  bool padded = false;
  std::string why; ///< why exact
  std::vector<int64_t> sizes; ///< the variants' sizes
};

/// Sizes from `min` to `max`: both ends and the powers of `ratio` between.
std::vector<int64_t> buckets(int64_t min, int64_t max, int64_t ratio) {
  std::vector<int64_t> out{min};
  for (int64_t p = 1; p < max; p *= ratio)
    if (p > min)
      out.push_back(p);
  if (out.back() != max)
    out.push_back(max);
  return out;
}

/// The driver's state for one compile.
struct DynamicCompiler {
  MLIRContext &context;
  StringRef buffer, path;
  const PipelineOptions &options;
  OnnxInterface iface;
  std::vector<Dim> dims;

  InFlightDiagnostic error() {
    return mlir::emitError(FileLineColLoc::get(&context, path, 0, 0));
  }

  /// The model imported with the dims at `sizes`.
  FailureOr<OwningOpRef<ModuleOp>> importAt(const std::vector<int64_t> &sizes) {
    ImportOptions o;
    for (size_t i = 0; i < iface.inputs.size(); ++i) {
      const OnnxInterface::Value &v = iface.inputs[i];
      ImportInput in;
      in.name = v.name;
      in.shape = v.shape;
      rt::DType dtype;
      if (!rt::dtypeFromOnnx(v.onnxType, dtype))
        return error() << "--dynamic: input '" << v.name
                       << "' has an element type llmc does not run",
               failure();
      in.elementType = elementTypeOf(context, dtype);
      o.inputs.push_back(std::move(in));
    }
    for (size_t k = 0; k < dims.size(); ++k)
      for (auto [input, axis] : dims[k].refs)
        o.inputs[input].shape[axis] = sizes[k];
    return importOnnxModelFromBuffer(context, buffer, path, o);
  }

  /// The model imported at `sizes` (through provePadding's
  /// simplifications when the caller asks for them).
  FailureOr<OwningOpRef<ModuleOp>> simplifiedAt(const std::vector<int64_t> &sizes) {
    FailureOr<OwningOpRef<ModuleOp>> module = importAt(sizes);
    if (failed(module) || failed(simplify(**module)))
      return failure();
    return module;
  }

  static func::FuncOp mainOf(ModuleOp m) {
    return m.lookupSymbol<func::FuncOp>("main");
  }

  /// Whether dim `k` may be padded from `smaller` up to `sizes[k]` at the
  /// other dims' `sizes`; `why` otherwise.
  FailureOr<bool> paddable(size_t k, const std::vector<int64_t> &sizes,
                           int64_t smaller, std::string &why) {
    FailureOr<OwningOpRef<ModuleOp>> big = importAt(sizes);
    if (failed(big))
      return failure();
    std::vector<int64_t> less = sizes;
    less[k] = smaller;
    FailureOr<OwningOpRef<ModuleOp>> small = importAt(less);
    if (failed(small))
      return failure();
    return provePadding(**big, **small, dims[k].refs, sizes[k], smaller, why);
  }
};

std::string dimList(const OnnxInterface &iface) {
  std::vector<std::string> names;
  for (const OnnxInterface::Value &v : iface.inputs)
    for (const std::string &s : v.symbols)
      if (!s.empty() && std::find(names.begin(), names.end(), s) == names.end())
        names.push_back(s);
  return names.empty() ? "none" : llvm::join(names, ", ");
}

} // namespace

LogicalResult mlir::llmc::compileDynamic(MLIRContext &context,
                                         StringRef buffer, StringRef path,
                                         const std::vector<DynamicRange> &ranges,
                                         const PipelineOptions &options,
                                         StringRef artifactPath,
                                         std::string *summary) {
  FailureOr<OnnxInterface> iface = readOnnxInterface(context, buffer, path);
  if (failed(iface))
    return failure();
  DynamicCompiler c{context, buffer, path, options, *iface, {}};
  if (!options.mesh.empty() && !options.cudaChip.empty())
    return c.error() << "--dynamic with --mesh runs on CPU devices for now: "
                        "compile a sharded CUDA artifact per size",
           failure();
  if (!options.donate.empty())
    return c.error() << "--dynamic with --donate is not supported yet",
           failure();
  // Which input dims each range names: a symbolic dim, or INPUT:AXIS.
  for (const DynamicRange &r : ranges) {
    Dim d;
    d.range = r;
    for (size_t i = 0; i < c.iface.inputs.size(); ++i)
      for (size_t a = 0; a < c.iface.inputs[i].symbols.size(); ++a)
        if (c.iface.inputs[i].symbols[a] == r.name)
          d.refs.push_back({static_cast<unsigned>(i), static_cast<unsigned>(a)});
    size_t colon = r.name.rfind(':');
    if (d.refs.empty() && colon != std::string::npos) {
      std::string input = r.name.substr(0, colon);
      unsigned axis = 0;
      bool number = !StringRef(r.name).drop_front(colon + 1).getAsInteger(10, axis);
      for (size_t i = 0; number && i < c.iface.inputs.size(); ++i) {
        const OnnxInterface::Value &v = c.iface.inputs[i];
        if (v.name != input)
          continue;
        if (axis >= v.shape.size())
          return c.error() << "--dynamic " << r.name << ": input '" << input
                           << "' has " << v.shape.size() << " dims",
                 failure();
        if (v.shape[axis] >= 0)
          return c.error() << "--dynamic " << r.name << ": the model fixes dim "
                           << axis << " of input '" << input << "' at "
                           << v.shape[axis],
                 failure();
        d.refs.push_back({static_cast<unsigned>(i), axis});
      }
    }
    if (d.refs.empty())
      return c.error() << "--dynamic: '" << r.name
                       << "' names no dim of the model (its symbolic dims: "
                       << dimList(c.iface) << "; or name one as INPUT:AXIS)",
             failure();
    for (const Dim &other : c.dims)
      for (auto ref : other.refs)
        for (auto mine : d.refs)
          if (ref == mine)
            return c.error() << "--dynamic: '" << r.name << "' and '"
                             << other.range.name << "' name the same dim",
                   failure();
    c.dims.push_back(std::move(d));
  }
  // Every other dim of the inputs must be known.
  for (size_t i = 0; i < c.iface.inputs.size(); ++i) {
    const OnnxInterface::Value &v = c.iface.inputs[i];
    if (!v.ranked)
      return c.error() << "--dynamic: input '" << v.name
                       << "' has no declared shape",
             failure();
    for (size_t a = 0; a < v.shape.size(); ++a) {
      bool named = false;
      for (const Dim &d : c.dims)
        for (auto ref : d.refs)
          named |= ref.first == i && ref.second == a;
      if (v.shape[a] < 0 && !named)
        return c.error() << "--dynamic: dim " << a << " of input '" << v.name
                         << "'"
                         << (v.symbols[a].empty() ? ""
                                                  : " ('" + v.symbols[a] + "')")
                         << " is not fixed by the model: name it in --dynamic",
               failure();
    }
  }

  // Padded or exact: each dim at its largest size against a smaller one,
  // the others at their largest. The outputs' dims as functions of the
  // dims' sizes come from the same pair.
  std::vector<int64_t> probe;
  for (const Dim &d : c.dims)
    probe.push_back(d.range.max);
  FailureOr<OwningOpRef<ModuleOp>> atProbe = c.simplifiedAt(probe);
  if (failed(atProbe))
    return failure();
  func::FuncOp probeMain = DynamicCompiler::mainOf(**atProbe);
  auto resultShape = [](func::FuncOp f, unsigned i) {
    auto t = cast<RankedTensorType>(f.getFunctionType().getResult(i));
    return std::vector<int64_t>(t.getShape().begin(), t.getShape().end());
  };
  unsigned numOutputs = probeMain.getFunctionType().getNumResults();
  // coefficient[k][output][axis]
  std::vector<std::vector<std::vector<int64_t>>> coefficient(c.dims.size());
  for (size_t k = 0; k < c.dims.size(); ++k) {
    Dim &d = c.dims[k];
    for (unsigned o = 0; o < numOutputs; ++o)
      coefficient[k].emplace_back(resultShape(probeMain, o).size(), 0);
    if (d.range.min == d.range.max)
      continue;
    int64_t smaller = std::max<int64_t>(2, d.range.min);
    if (smaller >= d.range.max)
      smaller = d.range.min;
    std::vector<int64_t> less = probe;
    less[k] = smaller;
    FailureOr<OwningOpRef<ModuleOp>> atLess = c.simplifiedAt(less);
    if (failed(atLess))
      return failure();
    func::FuncOp lessMain = DynamicCompiler::mainOf(**atLess);
    for (unsigned o = 0; o < numOutputs; ++o) {
      std::vector<int64_t> a = resultShape(probeMain, o),
                           b = resultShape(lessMain, o);
      for (size_t x = 0; x < a.size() && x < b.size(); ++x) {
        int64_t delta = a[x] - b[x];
        if (delta % (d.range.max - smaller) != 0 || delta < 0)
          return c.error() << "--dynamic: dim " << x << " of output " << o
                           << " does not grow in proportion to '"
                           << d.range.name << "' (" << b[x] << " at "
                           << smaller << ", " << a[x] << " at "
                           << d.range.max << ")",
                 failure();
        coefficient[k][o][x] = delta / (d.range.max - smaller);
      }
    }
    if (smaller < 2 || d.range.max - d.range.min < 2) {
      d.why = "a range of two sizes";
      continue;
    }
    std::string why;
    FailureOr<bool> ok = c.paddable(k, probe, smaller, why);
    if (failed(ok))
      return failure();
    d.padded = *ok;
    d.why = why;
  }

  // The variants: every exact size, and buckets for the padded dims,
  // coarser while there would be too many.
  auto count = [&]() {
    int64_t n = 1;
    for (const Dim &d : c.dims)
      n = std::min<int64_t>(n * static_cast<int64_t>(d.sizes.size()),
                            int64_t(1) << 40);
    return n;
  };
  for (int64_t ratio = 2;; ratio *= 2) {
    bool coarser = false;
    for (Dim &d : c.dims) {
      if (!d.padded) {
        d.sizes.clear();
        if (d.range.max - d.range.min + 1 > kMaxVariants)
          return c.error() << "--dynamic " << d.range.name << "="
                           << d.range.min << ".." << d.range.max << " needs "
                           << d.range.max - d.range.min + 1
                           << " variants (at most " << kMaxVariants
                           << "): padding it could change the results ("
                           << d.why << "); narrow the range",
                 failure();
        for (int64_t n = d.range.min; n <= d.range.max; ++n)
          d.sizes.push_back(n);
        continue;
      }
      d.sizes = buckets(d.range.min, d.range.max, ratio);
      coarser |= d.sizes.size() > 2;
    }
    if (count() <= kMaxVariants)
      break;
    if (!coarser) {
      std::string list;
      for (const Dim &d : c.dims)
        list += (list.empty() ? "" : " x ") + std::to_string(d.sizes.size()) +
                " (" + d.range.name + (d.padded ? ", padded" : ", exact") + ")";
      return c.error() << "--dynamic needs " << count() << " variants, "
                       << list << " (at most " << kMaxVariants
                       << "): narrow the ranges",
             failure();
    }
  }

  // Compile each variant; check each padded bucket against the size after
  // the one below it (the smallest it will run padded).
  std::vector<std::string> paths;
  auto cleanup = [&]() {
    for (const std::string &p : paths)
      std::remove(p.c_str());
  };
  std::vector<rt::TensorSpec> inputs, outputs;
  std::string variantsJson, text, largestJson;
  std::vector<size_t> index(c.dims.size(), 0);
  auto sizeText = [&](const std::vector<int64_t> &sizes) {
    std::string text;
    for (size_t k = 0; k < c.dims.size(); ++k)
      text += (k ? "," : "") + c.dims[k].range.name + "=" +
              std::to_string(sizes[k]);
    return text;
  };
  for (int64_t v = 0;; ++v) {
    std::vector<int64_t> sizes;
    for (size_t k = 0; k < c.dims.size(); ++k)
      sizes.push_back(c.dims[k].sizes[index[k]]);
    for (size_t k = 0; k < c.dims.size(); ++k) {
      const Dim &d = c.dims[k];
      if (!d.padded || index[k] == 0 || d.sizes[index[k] - 1] + 1 == sizes[k])
        continue;
      std::string why;
      FailureOr<bool> ok =
          c.paddable(k, sizes, d.sizes[index[k] - 1] + 1, why);
      if (failed(ok) || !*ok) {
        cleanup();
        if (failed(ok))
          return failure();
        return c.error() << "--dynamic: '" << d.range.name
                         << "' cannot be padded to " << sizes[k] << ": " << why,
               failure();
      }
    }
    FailureOr<OwningOpRef<ModuleOp>> module = c.importAt(sizes);
    if (failed(module)) {
      cleanup();
      return failure();
    }
    FailureOr<ModelSignature> sig = getSignature(**module);
    if (succeeded(sig))
      recordIndexRanges(**module, *sig);
    if (failed(sig) || failed(lower(**module, Phase::Graph, Phase::Graph, options))) {
      cleanup();
      return failure();
    }
    ModelReport report = explainReport(**module, options);
    // The artifact's report is its largest variant's (the last), with the
    // dims and every variant's estimate.
    largestJson.clear();
    llvm::raw_string_ostream(largestJson) << [&] {
      std::string j;
      llvm::raw_string_ostream os(j);
      printReportJson(report, os);
      return j;
    }();
    std::string variantPath =
        artifactPath.str() + ".variant" + std::to_string(v) + ".tmp";
    paths.push_back(variantPath);
    LogicalResult written = failure();
    if (succeeded(takeWeights(**module, *sig)) &&
        succeeded(lower(**module, Phase::Linalg, Phase::LLVM, options))) {
      if (!options.cudaChip.empty()) {
        written = writeCudaArtifact(**module, *sig, options, report, variantPath);
      } else {
        std::string json;
        llvm::raw_string_ostream os(json);
        printReportJson(report, os);
        written = writeCpuArtifact(**module, *sig, json, variantPath);
      }
    }
    if (failed(written)) {
      cleanup();
      return failure();
    }
    // Each output's shape is what the dims' sizes say (sums of them plus
    // constants, found at the probe): a model whose shapes are not affine
    // in its dims is refused.
    for (unsigned o = 0; o < numOutputs && o < sig->outputs.size(); ++o) {
      std::vector<int64_t> at = resultShape(probeMain, o);
      ArrayRef<int64_t> got = sig->outputs[o].type.getShape();
      for (size_t x = 0; x < at.size() && x < got.size(); ++x) {
        int64_t want = at[x];
        for (size_t k = 0; k < c.dims.size(); ++k)
          want += coefficient[k][o][x] * (sizes[k] - c.dims[k].range.max);
        if (got[x] != want) {
          cleanup();
          return c.error() << "--dynamic: dim " << x << " of output '"
                           << sig->outputs[o].name << "' is " << got[x]
                           << " at " << sizeText(sizes)
                           << ", not a sum of the dims' sizes (" << want
                           << " expected)",
                 failure();
        }
      }
    }
    if (v == 0) {
      // The signature, as the variant's artifact has it.
      rt::ArtifactContents contents;
      if (failed(describeSignature(**module, *sig, contents))) {
        cleanup();
        return failure();
      }
      inputs = std::move(contents.inputs);
      outputs = std::move(contents.outputs);
      // On a mesh each variant splits its own tensors (a dim an axis does
      // not divide at one size stays whole there): the signature does not.
      for (rt::TensorSpec &t : inputs)
        t.shardAxes.clear();
      for (rt::TensorSpec &t : outputs)
        t.shardAxes.clear();
    }
    char line[256];
    std::snprintf(line, sizeof(line), "  %-24s %10.3f ms  peak %.2f MiB\n",
                  sizeText(sizes).c_str(), report.seconds * 1e3,
                  static_cast<double>(report.peakBytes) / (1 << 20));
    text += line;
    std::string sizesJson;
    for (size_t k = 0; k < c.dims.size(); ++k)
      sizesJson += (k ? ", " : "") + ("\"" + c.dims[k].range.name + "\": ") +
                   std::to_string(sizes[k]);
    variantsJson += (v ? ", " : "") + std::string("{\"sizes\": {") + sizesJson +
                    "}, \"seconds\": " + llvm::formatv("{0:e}", report.seconds).str() +
                    ", \"bytes\": " + std::to_string(report.bytes) +
                    ", \"flops\": " + std::to_string(report.flops) +
                    ", \"peak_bytes\": " + std::to_string(report.peakBytes) +
                    "}";
    // The next combination.
    bool done = true;
    for (size_t k = c.dims.size(); k-- > 0;) {
      if (++index[k] < c.dims[k].sizes.size()) {
        done = false;
        break;
      }
      index[k] = 0;
    }
    if (done)
      break;
  }

  // The signature: dynamic dims -1; outputs as sums of the dims' sizes.
  std::vector<rt::DynamicDim> dynamic;
  for (rt::TensorSpec &s : outputs)
    s.dimOffsets.assign(s.shape.size(), 0);
  for (size_t k = 0; k < c.dims.size(); ++k) {
    const Dim &d = c.dims[k];
    rt::DynamicDim out;
    out.name = d.range.name;
    out.min = d.range.min;
    out.max = d.range.max;
    out.padded = d.padded;
    out.why = d.padded ? "" : d.why;
    for (auto [input, axis] : d.refs) {
      // The importer's signature lists the model's inputs in order.
      inputs[input].shape[axis] = -1;
      out.inputs.push_back({static_cast<int>(input), static_cast<int>(axis), 1});
    }
    for (unsigned o = 0; o < numOutputs; ++o)
      for (size_t x = 0; x < coefficient[k][o].size(); ++x)
        if (coefficient[k][o][x] > 0)
          out.outputs.push_back(
              {static_cast<int>(o), static_cast<int>(x), coefficient[k][o][x]});
    dynamic.push_back(std::move(out));
  }
  for (unsigned o = 0; o < numOutputs; ++o) {
    std::vector<int64_t> at = resultShape(probeMain, o);
    for (size_t x = 0; x < at.size(); ++x) {
      int64_t offset = at[x];
      bool varies = false;
      for (size_t k = 0; k < c.dims.size(); ++k) {
        offset -= coefficient[k][o][x] * c.dims[k].range.max;
        varies |= coefficient[k][o][x] > 0;
      }
      if (varies) {
        outputs[o].shape[x] = -1;
        outputs[o].dimOffsets[x] = offset;
      }
    }
    bool any = false;
    for (int64_t n : outputs[o].shape)
      any |= n == -1;
    if (!any)
      outputs[o].dimOffsets.clear();
  }
  std::string dimsJson;
  for (size_t k = 0; k < c.dims.size(); ++k) {
    const Dim &d = c.dims[k];
    std::string why;
    llvm::raw_string_ostream os(why);
    os << '"';
    llvm::printEscapedString(d.why, os);
    os << '"';
    dimsJson += (k ? ", " : "") + ("{\"name\": \"" + d.range.name + "\"") +
                ", \"min\": " + std::to_string(d.range.min) +
                ", \"max\": " + std::to_string(d.range.max) +
                ", \"padded\": " + (d.padded ? "true" : "false") +
                ", \"why\": " + (d.padded ? "\"\"" : why) + "}";
  }
  std::string json = StringRef(largestJson).rtrim().str();
  if (json.empty() || json.back() != '}')
    json = "{}";
  json.pop_back();
  json = StringRef(json).rtrim().str();
  json += std::string(json.size() > 1 ? ", " : "") + "\"dynamic\": [" +
          dimsJson + "], \"variants\": [" + variantsJson + "]}";
  std::string error;
  bool ok = rt::writeDynamicArtifact(artifactPath.str(), paths, inputs, outputs,
                                     dynamic, json, error);
  cleanup();
  if (!ok)
    return c.error() << error, failure();
  if (summary) {
    std::string head;
    for (const Dim &d : c.dims)
      head += d.range.name + "=" + std::to_string(d.range.min) + ".." +
              std::to_string(d.range.max) +
              (d.padded ? ": padded to the next variant\n"
                        : ": exact, a variant per size" +
                              (d.why.empty() ? std::string()
                                             : " (" + d.why + ")") +
                              "\n");
    *summary = head + std::to_string(paths.size()) +
               " variants (estimated time, peak temporaries):\n" + text;
  }
  return success();
}
