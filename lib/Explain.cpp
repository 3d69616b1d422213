//===- Explain.cpp - Kernel-by-kernel report with roofline estimates ------===//

#include "llmc/Explain.h"
#include "llmc/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace mlir::llmc;
using namespace mlir::llmc::graph;

// Every target's figures, in one table. GPUs: the datasheet DRAM bandwidth
// and fp32 (non-tensor-core) peak of the reference part of each
// architecture, and a typical launch cost. CPU: two cores of this class of
// server (AVX2 FMA at ~3 GHz) and a function call.
static const RooflineTarget kTargets[] = {
    {"cpu", 20e9, 2 * 2 * 16 * 3.0e9, 0.2e-6},
    {"sm_80", 1555e9, 19.5e12, 3e-6},  // A100 40 GB SXM
    {"sm_86", 936e9, 35.6e12, 3e-6},   // RTX 3090
    {"sm_89", 1008e9, 82.6e12, 3e-6},  // RTX 4090
    {"sm_90", 3350e9, 66.9e12, 3e-6},  // H100 SXM
};

const RooflineTarget *mlir::llmc::lookupRooflineTarget(StringRef target) {
  StringRef chip = target;
  if (target == "cuda")
    chip = "sm_90";
  else if (target.consume_front("cuda:"))
    chip = target;
  for (const RooflineTarget &t : kTargets)
    if (chip == t.name)
      return &t;
  return nullptr;
}

static int64_t bytesOf(Type type) {
  return std::max<int64_t>(getStaticTensorBytes(type), 0);
}

static int64_t elementsOf(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && t.hasStaticShape() ? t.getNumElements() : 0;
}

/// FLOPs of one op: 2 per multiply-add of a contraction, one per element of
/// the larger of input and result otherwise.
static int64_t flopsOf(Operation *op) {
  if (auto mm = dyn_cast<MatMulOp>(op)) {
    auto a = cast<RankedTensorType>(mm->getOperand(0).getType());
    return 2 * elementsOf(mm->getResult(0).getType()) * a.getShape().back();
  }
  if (auto gemm = dyn_cast<GemmOp>(op)) {
    auto a = cast<RankedTensorType>(gemm->getOperand(0).getType());
    int64_t k = gemm.getTransA() ? a.getDimSize(0) : a.getDimSize(1);
    return 2 * elementsOf(gemm->getResult(0).getType()) * k;
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    // Two contractions over the scores [B, KVH, G, L, S]: q . k (D) and
    // p . v (E), plus the softmax's few flops per score.
    auto q = attention.getQuery().getType();
    auto v = attention.getValue().getType();
    int64_t scores = elementsOf(q) / q.getDimSize(4) *
                     attention.getKey().getType().getDimSize(2);
    return scores * (2 * q.getDimSize(4) + 2 * v.getDimSize(3) + 5);
  }
  if (auto conv = dyn_cast<ConvOp>(op)) {
    auto w = cast<RankedTensorType>(conv->getOperand(1).getType());
    int64_t perOutput = 1;
    for (int64_t d : w.getShape().drop_front())
      perOutput *= d;
    return 2 * elementsOf(conv->getResult(0).getType()) * perOutput;
  }
  int64_t n = 0;
  for (Type t : op->getOperandTypes())
    n = std::max(n, elementsOf(t));
  for (Type t : op->getResultTypes())
    n = std::max(n, elementsOf(t));
  return n;
}

static void collectNames(Location loc, std::vector<std::string> &names) {
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location l : fused.getLocations())
      collectNames(l, names);
    return;
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return collectNames(callSite.getCallee(), names);
  if (auto name = dyn_cast<NameLoc>(loc)) {
    std::string n = name.getName().str();
    if (!llvm::is_contained(names, n))
      names.push_back(n);
  }
}

std::vector<std::string> mlir::llmc::onnxNodeNames(Location loc) {
  std::vector<std::string> names;
  collectNames(loc, names);
  return names;
}

/// The roofline time of `k` on `target`.
static void estimate(KernelReport &k, const RooflineTarget &target) {
  double memory = double(k.bytesIn + k.bytesOut) / target.bytesPerSecond;
  double compute = double(k.flops) / target.flopsPerSecond;
  k.memoryBound = memory >= compute;
  k.seconds = std::max(memory, compute) + target.launchSeconds;
}

ModelReport mlir::llmc::explainModule(ModuleOp module,
                                      const RooflineTarget &target) {
  ModelReport report;
  report.target = target.name;
  if (auto plan = module->getAttrOfType<StringAttr>("llmc.sharding_plan"))
    report.shardingJson = plan.str();
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || main.getBody().empty())
    return report;
  Block &block = main.getBody().front();

  // Peak memory by liveness over the kernel order: a value is live from its
  // definition to its last use; arguments (inputs, weights) all along.
  DenseMap<Value, Operation *> lastUse;
  for (Operation &op : block)
    for (Value v : op.getOperands())
      lastUse[v] = &op;
  int64_t live = 0;
  for (BlockArgument arg : block.getArguments())
    live += bytesOf(arg.getType());
  report.peakBytes = live;

  for (Operation &op : block) {
    auto transpose = dyn_cast<TransposeOp>(op);
    bool isKernel = !isa<ConstantOp, ReshapeOp>(op) &&
                    !(transpose && isReadTransposedByMatMul(transpose)) &&
                    !op.hasTrait<OpTrait::IsTerminator>() &&
                    op.getNumResults() > 0;
    if (isKernel) {
      KernelReport k;
      k.name = "kernel" + std::to_string(report.kernels.size());
      for (Value v : op.getOperands())
        k.bytesIn += bytesOf(v.getType());
      for (Type t : op.getResultTypes())
        k.bytesOut += bytesOf(t);
      if (auto group = dyn_cast<FusionGroupOp>(op)) {
        k.kind = group.getKind().str();
        k.bytesIn = group.getBytesRead();
        k.bytesOut = group.getBytesWritten();
        for (Operation &inner : group.getBody().front().without_terminator())
          if (!isa<ConstantOp, ReshapeOp>(inner))
            k.flops += flopsOf(&inner);
      } else {
        bool library = isa<MatMulOp, GemmOp, ConvOp, AttentionOp>(op);
        k.kind = library ? "library" : "op";
        k.op = op.getName().getStringRef().str();
        k.flops = flopsOf(&op);
      }
      k.nodes = onnxNodeNames(op.getLoc());
      estimate(k, target);
      report.bytes += k.bytesIn + k.bytesOut;
      report.flops += k.flops;
      report.seconds += k.seconds;
      report.kernels.push_back(std::move(k));
    }
    for (Value r : op.getResults())
      live += bytesOf(r.getType());
    report.peakBytes = std::max(report.peakBytes, live);
    for (Value v : op.getOperands()) {
      auto it = lastUse.find(v);
      if (it != lastUse.end() && it->second == &op && !isa<BlockArgument>(v)) {
        live -= bytesOf(v.getType());
        lastUse.erase(it);
      }
    }
  }
  return report;
}

void mlir::llmc::foldLibraryEpilogues(ModelReport &report,
                                      ArrayRef<LibraryEpilogue> epilogues,
                                      const RooflineTarget &target) {
  auto within = [](const KernelReport &k, const LibraryEpilogue &e) {
    return !k.nodes.empty() &&
           llvm::all_of(k.nodes, [&](const std::string &n) {
             return llvm::is_contained(e.nodes, n);
           });
  };
  std::vector<bool> gone(report.kernels.size(), false);
  for (const LibraryEpilogue &e : epilogues) {
    // The library call: the first library kernel within the fold's nodes
    // that has no epilogue yet; the kernel: the one other kernel after it
    // within them that names a node the call does not.
    std::optional<size_t> call, kernel;
    bool ambiguous = false;
    for (size_t i = 0; i < report.kernels.size(); ++i) {
      const KernelReport &k = report.kernels[i];
      if (gone[i] || !within(k, e))
        continue;
      if (!call) {
        if (k.kind == "library" && k.epilogue.empty())
          call = i;
        continue;
      }
      bool more = llvm::any_of(k.nodes, [&](const std::string &n) {
        return !llvm::is_contained(report.kernels[*call].nodes, n);
      });
      if (k.kind == "library" || !more)
        continue;
      ambiguous |= kernel.has_value();
      kernel = i;
    }
    if (!call || !kernel || ambiguous)
      continue;
    KernelReport &c = report.kernels[*call];
    const KernelReport &k = report.kernels[*kernel];
    c.bytesIn += std::max<int64_t>(k.bytesIn - c.bytesOut, 0);
    c.bytesOut = k.bytesOut;
    c.flops += k.flops;
    for (const std::string &n : k.nodes)
      if (!llvm::is_contained(c.nodes, n))
        c.nodes.push_back(n);
    c.epilogue = e.kind;
    gone[*kernel] = true;
  }
  std::vector<KernelReport> kept;
  report.bytes = report.flops = 0;
  report.seconds = 0;
  for (size_t i = 0; i < report.kernels.size(); ++i) {
    if (gone[i])
      continue;
    KernelReport k = std::move(report.kernels[i]);
    k.name = "kernel" + std::to_string(kept.size());
    estimate(k, target);
    report.bytes += k.bytesIn + k.bytesOut;
    report.flops += k.flops;
    report.seconds += k.seconds;
    kept.push_back(std::move(k));
  }
  report.kernels = std::move(kept);
}

namespace {
/// A unit at or above which a value is printed in it: its size and format.
struct Scale {
  double size;
  const char *format;
};
} // namespace

/// `v` in the largest of `scales` (largest first) it reaches, else as an
/// integer in `plain`.
static std::string human(int64_t v, std::initializer_list<Scale> scales,
                         const char *plain) {
  char buf[32];
  for (const Scale &s : scales)
    if (v >= s.size) {
      snprintf(buf, sizeof buf, s.format, v / s.size);
      return buf;
    }
  snprintf(buf, sizeof buf, plain, (long long)v);
  return buf;
}

static std::string humanBytes(int64_t b) {
  return human(b, {{1048576.0, "%.2f MB"}, {1024.0, "%.1f KB"}}, "%lld B");
}

static std::string humanFlops(int64_t f) {
  return human(f, {{1e9, "%.2f GFLOP"}, {1e6, "%.2f MFLOP"}}, "%lld FLOP");
}

/// The sharding section of `llmc explain`: the mesh and strategy, every
/// split (or boundary) tensor with its reason, every collective with its
/// bytes and time on the link, and the memory of one device.
static void printShardingText(const ModelReport &report, raw_ostream &os) {
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse(report.shardingJson);
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return;
  }
  const llvm::json::Object *plan = parsed->getAsObject();
  if (!plan)
    return;
  auto str = [](const llvm::json::Object *o, llvm::StringRef key) {
    return o->getString(key).value_or("").str();
  };
  auto num = [](const llvm::json::Object *o, llvm::StringRef key) {
    return o->getNumber(key).value_or(0);
  };
  os << "mesh " << str(plan, "mesh") << " ("
     << static_cast<int64_t>(num(plan, "devices")) << " devices)  strategy "
     << str(plan, "strategy") << "  link "
     << llvm::format("%.0f", num(plan, "link_bandwidth") / 1e9) << " GB/s\n";
  if (const llvm::json::Array *tensors = plan->getArray("tensors"))
    for (const llvm::json::Value &v : *tensors) {
      const llvm::json::Object *t = v.getAsObject();
      os << "  tensor " << str(t, "name") << " (" << str(t, "kind") << ", "
         << humanBytes(static_cast<int64_t>(num(t, "bytes")))
         << ")  " << str(t, "sharding") << "  " << str(t, "reason") << "\n";
    }
  int64_t count = 0;
  if (const llvm::json::Array *collectives = plan->getArray("collectives"))
    for (const llvm::json::Value &v : *collectives) {
      const llvm::json::Object *c = v.getAsObject();
      ++count;
      os << "  collective " << str(c, "kind") << " of " << str(c, "tensor")
         << " over " << str(c, "axis") << " before " << str(c, "user") << "  "
         << humanBytes(static_cast<int64_t>(num(c, "bytes"))) << "  "
         << llvm::format("%.2f", num(c, "seconds") * 1e6) << " us\n";
    }
  if (const llvm::json::Array *remarks = plan->getArray("remarks"))
    for (const llvm::json::Value &v : *remarks)
      os << "  remark: " << v.getAsString().value_or("") << "\n";
  int64_t weights = static_cast<int64_t>(num(plan, "weight_bytes_per_device"));
  os << "collectives: " << count << "  communication: "
     << llvm::format("%.2f", num(plan, "comm_seconds") * 1e6)
     << " us  per device: weights " << humanBytes(weights) << " of "
     << humanBytes(static_cast<int64_t>(num(plan, "weight_bytes_total")))
     << ", peak memory (weights, inputs, live activations) "
     << humanBytes(report.peakBytes) << "\n";
}

void mlir::llmc::printReportText(const ModelReport &report, raw_ostream &os) {
  if (!report.shardingJson.empty())
    printShardingText(report, os);
  os << "target " << report.target << "\n";
  for (const KernelReport &k : report.kernels) {
    os << k.name << "  " << k.kind;
    if (!k.op.empty())
      os << " " << k.op;
    if (!k.epilogue.empty())
      os << " epilogue " << k.epilogue;
    os << "  in " << humanBytes(k.bytesIn) << "  out " << humanBytes(k.bytesOut)
       << "  " << humanFlops(k.flops) << "  "
       << llvm::format("%.2f", k.seconds * 1e6) << " us ("
       << (k.memoryBound ? "memory" : "compute") << ")  nodes:";
    for (const std::string &n : k.nodes)
      os << " " << n;
    os << "\n";
  }
  os << "kernels: " << report.kernels.size() << "  bytes: "
     << humanBytes(report.bytes) << "  flops: " << humanFlops(report.flops)
     << "  estimated: " << llvm::format("%.2f", report.seconds * 1e6)
     << " us  peak memory: " << llvm::format("%.2f", report.peakBytes / 1048576.0)
     << " MB\n";
}

void mlir::llmc::printReportJson(const ModelReport &report, raw_ostream &os) {
  llvm::json::Array kernels;
  for (const KernelReport &k : report.kernels) {
    llvm::json::Array nodes;
    for (const std::string &n : k.nodes)
      nodes.push_back(n);
    llvm::json::Object o{{"name", k.name},
                         {"kind", k.kind},
                         {"nodes", std::move(nodes)},
                         {"bytes_in", k.bytesIn},
                         {"bytes_out", k.bytesOut},
                         {"flops", k.flops},
                         {"estimated_us", k.seconds * 1e6},
                         {"bound", k.memoryBound ? "memory" : "compute"}};
    if (!k.op.empty())
      o["op"] = k.op;
    if (!k.epilogue.empty())
      o["epilogue"] = k.epilogue;
    kernels.push_back(std::move(o));
  }
  llvm::json::Object root{{"target", report.target},
                          {"kernels", std::move(kernels)},
                          {"summary",
                           llvm::json::Object{
                               {"kernels", int64_t(report.kernels.size())},
                               {"bytes", report.bytes},
                               {"flops", report.flops},
                               {"estimated_us", report.seconds * 1e6},
                               {"peak_memory_bytes", report.peakBytes}}}};
  if (!report.shardingJson.empty()) {
    llvm::Expected<llvm::json::Value> plan =
        llvm::json::parse(report.shardingJson);
    if (plan) {
      if (llvm::json::Object *o = plan->getAsObject()) {
        int64_t weights =
            static_cast<int64_t>(o->getNumber("weight_bytes_per_device").value_or(0));
        (*o)["memory_per_device"] = llvm::json::Object{
            {"weights_bytes", weights},
            {"peak_bytes", report.peakBytes}};
      }
      root["sharding"] = std::move(*plan);
    } else {
      llvm::consumeError(plan.takeError());
    }
  }
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}
