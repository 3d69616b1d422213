//===- LlmcModule.cpp - The llmc._llmc pybind11 extension -----------------===//
//
// The only translation unit built with C++ exceptions and RTTI: it talks to
// llmc through llmc/Api.h and the runtime's headers (plain C++ types, no
// MLIR), and turns their errors into the Python exceptions of llmc.errors.
// The GIL is released while compiling and running.
//
//===----------------------------------------------------------------------===//

#include "llmc/Api.h"
#include "llmc/Runtime/Artifact.h"
#include "llmc/Runtime/Cuda.h"
#include "llmc/Runtime/Tensor.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <dlfcn.h>

namespace py = pybind11;
using llmc::runtime::DType;
using llmc::runtime::HostTensor;

namespace {

/// Raises llmc.errors.<kind>(message, node).
[[noreturn]] void raise(const char *kind, const std::string &message,
                        const std::string &node = "") {
  py::object cls = py::module_::import("llmc.errors").attr(kind);
  py::object node_obj = node.empty() ? py::none() : py::object(py::str(node));
  PyErr_SetObject(cls.ptr(), py::make_tuple(message, node_obj).ptr());
  throw py::error_already_set();
}

/// numpy dtype name <-> runtime dtype. bfloat16 travels as its bits (uint16
/// arrays are read as bf16 only where the model says so).
struct DTypeName {
  DType dtype;
  const char *numpy;
};
constexpr DTypeName kDTypes[] = {
    {DType::F32, "float32"}, {DType::F64, "float64"}, {DType::F16, "float16"},
    {DType::I8, "int8"},     {DType::I16, "int16"},   {DType::I32, "int32"},
    {DType::I64, "int64"},   {DType::U8, "uint8"},    {DType::U16, "uint16"},
    {DType::U32, "uint32"},  {DType::U64, "uint64"},  {DType::Bool, "bool"},
};

const char *numpyName(DType d) {
  for (const DTypeName &e : kDTypes)
    if (e.dtype == d)
      return e.numpy;
  if (llmc::runtime::holdsBitsOf(DType::U16, d))
    return "uint16";
  if (llmc::runtime::holdsBitsOf(DType::U8, d))
    return "uint8";
  return nullptr;
}

/// The name a signature shows for `d`: numpy's, or ml_dtypes' for the
/// types numpy lacks (whose arrays travel as their bits).
std::string typeName(DType d) {
  switch (d) {
  case DType::BF16: return "bfloat16";
  case DType::F8E4M3FN: return "float8_e4m3fn";
  case DType::F8E4M3FNUZ: return "float8_e4m3fnuz";
  case DType::F8E5M2: return "float8_e5m2";
  case DType::F8E5M2FNUZ: return "float8_e5m2fnuz";
  case DType::U4: return "uint4";
  case DType::I4: return "int4";
  case DType::F4E2M1: return "float4_e2m1fn";
  default: {
    const char *n = numpyName(d);
    return n ? n : "unknown";
  }
  }
}

DType dtypeFromName(const std::string &name) {
  for (const DTypeName &e : kDTypes)
    if (name == e.numpy)
      return e.dtype;
  if (name == "bfloat16")
    return DType::BF16;
  raise("UnsupportedError", "llmc has no dtype '" + name + "'");
}

/// A C-contiguous copy of `array` as a runtime tensor named `name`.
HostTensor toHost(const std::string &name, const py::array &array) {
  py::array c = py::array::ensure(array, py::array::c_style);
  if (!c)
    raise("InputError", "input '" + name + "' is not an array");
  std::string dt = py::str(c.dtype().attr("name"));
  HostTensor t;
  t.name = name;
  t.dtype = dtypeFromName(dt);
  for (py::ssize_t i = 0; i < c.ndim(); ++i)
    t.shape.push_back(c.shape(i));
  t.data.resize(c.nbytes());
  if (c.nbytes())
    std::memcpy(t.data.data(), c.data(), c.nbytes());
  return t;
}

py::list specs(const std::vector<llmc::runtime::TensorSpec> &list) {
  py::list out;
  for (const auto &s : list) {
    out.append(py::make_tuple(s.name, typeName(s.dtype),
                              py::tuple(py::cast(s.shape))));
  }
  return out;
}

/// Artifacts' code calls the runtime's kernels by name. Python loads
/// extensions RTLD_LOCAL, so this module's copy is not visible to them:
/// load libllmc_kernels.so (beside this module) into the global scope.
void exportKernelSymbols() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&exportKernelSymbols), &info) ||
      !info.dli_fname)
    return;
  std::string path = info.dli_fname;
  path = path.substr(0, path.rfind('/') + 1) + "libllmc_kernels.so";
  if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL))
    throw std::runtime_error("cannot load " + path + ": " + dlerror());
}

/// An array in the memory of the CUDA device an artifact runs on, made by
/// Executable.to_device: a run's device input (a donated one is updated in
/// place and returned), read back with numpy(), and seen by torch and CuPy
/// through __cuda_array_interface__. It keeps its artifact (whose
/// executable owns the device context) alive, and frees its memory when it
/// goes.
class DeviceArray {
public:
  DeviceArray(py::object owner, llmc::runtime::CudaExecutable *exe,
              const py::array &host)
      : owner_(std::move(owner)), exe_(exe) {
    py::array c = py::array::ensure(host, py::array::c_style);
    if (!c)
      raise("InputError", "to_device needs an array");
    dtype_ = py::str(c.dtype().attr("name"));
    dtypeFromName(dtype_); // a dtype llmc knows
    shape_.assign(c.shape(), c.shape() + c.ndim());
    bytes_ = static_cast<size_t>(c.nbytes());
    std::string error;
    if (!exe_->allocate(bytes_, pointer_, error))
      raise("InputError", error);
    if (!exe_->copyToDevice(pointer_, c.data(), bytes_, error)) {
      exe_->release(pointer_);
      pointer_ = 0;
      raise("InputError", error);
    }
  }
  ~DeviceArray() {
    if (pointer_)
      exe_->release(pointer_);
  }
  DeviceArray(const DeviceArray &) = delete;
  DeviceArray &operator=(const DeviceArray &) = delete;

  py::array numpy() const {
    py::array out(py::dtype(dtype_),
                  std::vector<py::ssize_t>(shape_.begin(), shape_.end()));
    std::string error;
    bool ok;
    {
      py::gil_scoped_release release;
      ok = exe_->copyToHost(out.mutable_data(), pointer_, bytes_, error);
    }
    if (!ok)
      raise("InputError", error);
    return out;
  }
  py::dict interface() const {
    py::dict d;
    d["shape"] = py::tuple(py::cast(shape_));
    d["typestr"] = py::str(py::dtype(dtype_).attr("str"));
    d["data"] = py::make_tuple(pointer_, false);
    d["strides"] = py::none();
    d["version"] = 3;
    d["stream"] = py::none(); // every copy and run is synchronous
    return d;
  }
  py::tuple shape() const { return py::tuple(py::cast(shape_)); }
  const std::string &dtype() const { return dtype_; }
  size_t nbytes() const { return bytes_; }
  uint64_t pointer() const { return pointer_; }

private:
  py::object owner_;
  llmc::runtime::CudaExecutable *exe_;
  std::string dtype_;
  std::vector<int64_t> shape_;
  size_t bytes_ = 0;
  uint64_t pointer_ = 0;
};

/// A device view of `object` when it has __cuda_array_interface__ (torch
/// and CuPy CUDA arrays, DeviceArray): C-contiguous, of a dtype llmc knows.
/// `stream` is set to the stream it names (0: none).
bool deviceView(const py::handle &object, const std::string &name,
                llmc::runtime::TensorView &view, uint64_t &stream) {
  if (!py::hasattr(object, "__cuda_array_interface__"))
    return false;
  py::dict d = object.attr("__cuda_array_interface__");
  py::tuple shape = d["shape"];
  std::string dtype = py::str(py::dtype(py::str(d["typestr"])).attr("name"));
  view.dtype = dtypeFromName(dtype);
  view.shape.clear();
  for (py::handle n : shape)
    view.shape.push_back(n.cast<int64_t>());
  size_t element = llmc::runtime::dtypeSize(view.dtype);
  if (d.contains("strides") && !d["strides"].is_none()) {
    // C order, or refused (a transposed view).
    int64_t expect = static_cast<int64_t>(element);
    py::tuple strides = d["strides"];
    for (size_t i = view.shape.size(); i-- > 0;) {
      if (view.shape[i] != 1 && strides[i].cast<int64_t>() != expect)
        raise("InputError", "input '" + name +
                                "' is a strided CUDA array: give a contiguous "
                                "one (.contiguous())");
      expect *= view.shape[i];
    }
  }
  py::tuple data = d["data"];
  view.data = reinterpret_cast<void *>(data[0].cast<uintptr_t>());
  view.bytes = static_cast<size_t>(llmc::runtime::numElements(view.shape)) *
               element;
  view.device = true;
  if (d.contains("stream") && !d["stream"].is_none() && !stream)
    stream = d["stream"].cast<uint64_t>();
  return true;
}

class PyArtifact {
public:
  /// `displayName` replaces the path in messages (a compiled model's
  /// artifact lives in a temporary file the user never named).
  explicit PyArtifact(const std::string &path, const std::string &displayName,
                      const py::bytes &verifyKey) {
    std::string error, key = verifyKey;
    if (!key.empty() && key.size() < llmc::runtime::kMinSigningKeyBytes)
      raise("LoadError", "verify_key must hold at least " +
                             std::to_string(llmc::runtime::kMinSigningKeyBytes) +
                             " bytes");
    artifact = llmc::runtime::Artifact::load(path, error, displayName, {}, key);
    if (!artifact)
      raise("LoadError", error);
  }
  py::list inputs() const { return specs(artifact->inputs()); }
  py::list outputs() const { return specs(artifact->outputs()); }
  /// Per output, the index of the donated input it is (updated in place),
  /// or -1.
  std::vector<int> aliases() const {
    std::vector<int> out;
    for (const llmc::runtime::TensorSpec &s : artifact->outputs())
      out.push_back(s.aliasOf);
    return out;
  }
  std::string report() const { return artifact->report(); }
  /// A dynamic artifact's dims: (name, min, max, padded, why, [(input,
  /// axis)]).
  py::list dynamic() const {
    py::list out;
    for (const llmc::runtime::DynamicDim &d : artifact->dynamicDims()) {
      py::list refs;
      for (const auto &r : d.inputs)
        refs.append(py::make_tuple(r.tensor, r.axis));
      out.append(py::make_tuple(d.name, d.min, d.max, d.padded, d.why, refs));
    }
    return out;
  }
  /// Runs on the arrays in place: C-contiguous inputs are read where they
  /// are (others are made contiguous once), outputs are written straight
  /// into new numpy arrays. bfloat16 travels as its bits (uint16 or int16).
  py::list run(const py::list &arrays) {
    const auto &in = artifact->inputs();
    if (arrays.size() != in.size())
      raise("InputError", "the model takes " + std::to_string(in.size()) +
                              " inputs, " + std::to_string(arrays.size()) +
                              " given");
    std::vector<py::array> keep;
    std::vector<py::object> devices(in.size());
    std::vector<llmc::runtime::TensorView> inputs, outputs;
    uint64_t producer = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      llmc::runtime::TensorView view;
      if (deviceView(arrays[i], in[i].name, view, producer)) {
        if (llmc::runtime::holdsBitsOf(view.dtype, in[i].dtype))
          view.dtype = in[i].dtype;
        inputs.push_back(std::move(view));
        devices[i] = arrays[i].cast<py::object>();
        keep.emplace_back();
        continue;
      }
      py::array c =
          py::array::ensure(arrays[i].cast<py::object>(), py::array::c_style);
      if (!c)
        raise("InputError", "input '" + in[i].name + "' is not an array");
      DType d = dtypeFromName(py::str(c.dtype().attr("name")));
      if (llmc::runtime::holdsBitsOf(d, in[i].dtype))
        d = in[i].dtype;
      std::vector<int64_t> shape(c.shape(), c.shape() + c.ndim());
      inputs.push_back({d, std::move(shape), const_cast<void *>(c.data()),
                        static_cast<size_t>(c.nbytes())});
      keep.push_back(std::move(c));
    }
    // The outputs' shapes for these inputs (a dynamic artifact's follow
    // the inputs' sizes; a size out of range is refused here).
    std::vector<std::vector<int64_t>> shapes;
    for (const llmc::runtime::TensorView &v : inputs)
      shapes.push_back(v.shape);
    std::vector<llmc::runtime::TensorSpec> specs;
    std::string why;
    if (!artifact->outputSpecs(shapes, specs, why))
      raise("InputError", why);
    py::list result;
    for (const llmc::runtime::TensorSpec &s : specs) {
      // A donated input is updated in place and is this output: the
      // caller's array when it is writable and C-contiguous, else a copy.
      if (s.aliasOf >= 0 && static_cast<size_t>(s.aliasOf) < keep.size() &&
          devices[s.aliasOf]) {
        // On the device: updated where it is, and returned.
        outputs.push_back(inputs[s.aliasOf]);
        result.append(devices[s.aliasOf]);
        continue;
      }
      if (s.aliasOf >= 0 && static_cast<size_t>(s.aliasOf) < keep.size()) {
        py::array &donated = keep[s.aliasOf];
        // Another input sharing its memory (the same array given twice,
        // `[np.zeros(...)] * 4`) would see the in-place writes: a copy.
        const char *lo = static_cast<const char *>(inputs[s.aliasOf].data);
        bool shared = false;
        for (size_t j = 0; j < inputs.size(); ++j) {
          const char *other = static_cast<const char *>(inputs[j].data);
          shared |= j != static_cast<size_t>(s.aliasOf) && !inputs[j].device &&
                    inputs[j].bytes &&
                    other < lo + inputs[s.aliasOf].bytes &&
                    lo < other + inputs[j].bytes;
        }
        if (!donated.writeable() || shared) {
          donated = py::array::ensure(
              py::module_::import("numpy").attr("array")(donated),
              py::array::c_style);
          inputs[s.aliasOf].data = donated.mutable_data();
        }
        outputs.push_back(inputs[s.aliasOf]);
        result.append(donated);
        continue;
      }
      const char *name = numpyName(s.dtype);
      if (!name)
        raise("UnsupportedError",
              "output '" + s.name + "' has a dtype numpy lacks");
      py::array out(py::dtype(name),
                    std::vector<py::ssize_t>(s.shape.begin(), s.shape.end()));
      outputs.push_back({s.dtype, s.shape, out.mutable_data(),
                         static_cast<size_t>(out.nbytes())});
      result.append(out);
    }
    std::string error;
    bool ok;
    {
      py::gil_scoped_release release;
      ok = artifact->run(inputs, outputs, error, producer);
    }
    if (!ok)
      raise("InputError", error);
    return result;
  }
  /// The CUDA executable device arrays live on: a CUDA artifact's for one
  /// device and static shapes.
  llmc::runtime::CudaExecutable *cudaExecutable() const {
    if (!artifact->cuda())
      raise("InputError",
            "to_device needs a CUDA executable for one device and static "
            "shapes; this one " +
                std::string(!artifact->dynamicDims().empty() ? "has dynamic dims"
                            : artifact->cudaMesh() ? "runs on a mesh of GPUs"
                                                   : "runs on the CPU"));
    return artifact->cuda();
  }
  const std::string &target() const { return artifact->target(); }

private:
  std::unique_ptr<llmc::runtime::Artifact> artifact;
};

llmc::api::CompileOptions options(const std::string &target,
                                  const py::list &examples) {
  llmc::api::CompileOptions o;
  o.target = target;
  for (const py::handle &item : examples) {
    auto pair = item.cast<py::tuple>();
    o.exampleInputs.push_back(
        toHost(pair[0].cast<std::string>(), pair[1].cast<py::array>()));
  }
  return o;
}

} // namespace

PYBIND11_MODULE(_llmc, m) {
  m.doc() = "llmc's compiler and runtime (use the `llmc` package instead)";
  exportKernelSymbols();

  m.def(
      "compile_onnx",
      [](const py::bytes &model, const std::string &modelPath,
         const std::string &target, const py::list &examples,
         const std::string &artifactPath, bool fusion, bool tf32,
         const std::string &mesh, const std::string &strategy,
         const std::vector<std::string> &shards, double linkBandwidth,
         const std::vector<std::string> &donate, const std::string &dynamic) {
        std::string bytes = model;
        llmc::api::CompileOptions o = options(target, examples);
        o.fusion = fusion;
        o.tf32 = tf32;
        o.mesh = mesh;
        o.strategy = strategy;
        o.shards = shards;
        o.linkBandwidth = linkBandwidth;
        o.donate = donate;
        o.dynamic = dynamic;
        llmc::api::Error error;
        bool ok;
        {
          py::gil_scoped_release release;
          ok = llmc::api::compileOnnx(bytes, modelPath, o, artifactPath, error);
        }
        if (!ok)
          raise("CompileError", error.message, error.node);
      },
      py::arg("model"), py::arg("model_path"), py::arg("target"),
      py::arg("example_inputs"), py::arg("artifact_path"),
      py::arg("fusion") = true, py::arg("tf32") = false,
      py::arg("mesh") = "", py::arg("strategy") = "auto",
      py::arg("shards") = std::vector<std::string>(),
      py::arg("link_bandwidth") = 450e9,
      py::arg("donate") = std::vector<std::string>(),
      py::arg("dynamic") = "",
      "Compiles serialized ONNX bytes into an artifact file.");

  py::class_<PyArtifact>(m, "Artifact")
      .def(py::init<const std::string &, const std::string &,
                    const py::bytes &>(),
           py::arg("path"), py::arg("display_name") = "",
           py::arg("verify_key") = py::bytes())
      .def_property_readonly("inputs", &PyArtifact::inputs)
      .def_property_readonly("outputs", &PyArtifact::outputs)
      .def_property_readonly("aliases", &PyArtifact::aliases)
      .def_property_readonly("report", &PyArtifact::report)
      .def_property_readonly("dynamic", &PyArtifact::dynamic)
      .def_property_readonly("target", &PyArtifact::target)
      .def("run", &PyArtifact::run, py::arg("arrays"))
      .def(
          "to_device",
          [](py::object self, const py::array &array) {
            auto *exe = self.cast<PyArtifact &>().cudaExecutable();
            return std::make_unique<DeviceArray>(self, exe, array);
          },
          py::arg("array"));

  py::class_<DeviceArray>(m, "DeviceArray")
      .def_property_readonly("shape", &DeviceArray::shape)
      .def_property_readonly("dtype", &DeviceArray::dtype)
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("ptr", &DeviceArray::pointer)
      .def_property_readonly("__cuda_array_interface__",
                             &DeviceArray::interface)
      .def("numpy", &DeviceArray::numpy)
      .def("__repr__", [](const DeviceArray &a) {
        std::string shape;
        for (py::handle n : a.shape())
          shape += (shape.empty() ? "" : ", ") + std::string(py::str(n));
        return "<llmc.DeviceArray " + a.dtype() + "[" + shape + "] on the GPU>";
      });

  py::class_<llmc::api::GraphBuilder>(m, "GraphBuilder")
      .def(py::init<const std::string &>(), py::arg("name"))
      .def(
          "input",
          [](llmc::api::GraphBuilder &b, const std::string &name,
             const std::string &dtype, const std::vector<int64_t> &shape) {
            llmc::api::Error error;
            int v = b.input(name, dtypeFromName(dtype), shape, error);
            if (v < 0)
              raise("CompileError", error.message, error.node);
            return v;
          },
          py::arg("name"), py::arg("dtype"), py::arg("shape"))
      .def(
          "constant",
          [](llmc::api::GraphBuilder &b, const std::string &name,
             const py::array &array) {
            HostTensor t = toHost(name, array);
            llmc::api::Error error;
            int v = b.constant(name, t.dtype, t.shape, t.data.data(),
                               t.data.size(), error);
            if (v < 0)
              raise("CompileError", error.message, error.node);
            return v;
          },
          py::arg("name"), py::arg("array"))
      .def(
          "op",
          [](llmc::api::GraphBuilder &b, const std::string &name,
             const std::vector<int> &operands,
             const std::vector<std::pair<std::string, std::string>> &attrs,
             const std::vector<std::string> &resultTypes,
             const std::string &location) {
            llmc::api::Error error;
            std::vector<int> r =
                b.op(name, operands, attrs, resultTypes, location, error);
            if (r.empty())
              raise("CompileError", error.message, error.node);
            return r;
          },
          py::arg("name"), py::arg("operands"), py::arg("attributes"),
          py::arg("result_types"), py::arg("location"))
      .def(
          "output",
          [](llmc::api::GraphBuilder &b, const std::string &name, int value) {
            llmc::api::Error error;
            if (!b.output(name, value, error))
              raise("CompileError", error.message, error.node);
          },
          py::arg("name"), py::arg("value"))
      .def("shape", &llmc::api::GraphBuilder::shape, py::arg("value"))
      .def(
          "dtype",
          [](const llmc::api::GraphBuilder &b, int value) {
            DType d;
            if (!b.dtype(value, d))
              raise("CompileError", "no value numbered " + std::to_string(value));
            return typeName(d);
          },
          py::arg("value"))
      .def("mlir", &llmc::api::GraphBuilder::mlir)
      .def(
          "prove_padding",
          [](llmc::api::GraphBuilder &b, llmc::api::GraphBuilder &smaller,
             const std::vector<std::pair<unsigned, unsigned>> &dims,
             int64_t size, int64_t smallerSize) {
            std::vector<std::vector<int64_t>> scales;
            std::string why;
            llmc::api::Error error;
            int ok;
            {
              py::gil_scoped_release release;
              ok = b.provePadding(smaller, dims, size, smallerSize, scales, why,
                                  error);
            }
            if (ok < 0)
              raise("CompileError", error.message, error.node);
            return py::make_tuple(ok == 1, why, scales);
          },
          py::arg("smaller"), py::arg("dims"), py::arg("size"),
          py::arg("smaller_size"),
          "(proven, why, per output per dim scale): whether this graph, its "
          "inputs zero-padded at the end of `dims` ((input, axis)) from "
          "`smaller_size` to `size`, gives `smaller`'s outputs in their "
          "kept part.")
      .def(
          "compile",
          [](llmc::api::GraphBuilder &b, const std::string &target,
             const std::string &artifactPath, bool fusion, bool tf32,
             const std::string &mesh, const std::string &strategy,
             const std::vector<std::string> &shards, double linkBandwidth,
             const std::vector<std::string> &donate) {
            llmc::api::CompileOptions o;
            o.target = target;
            o.fusion = fusion;
            o.tf32 = tf32;
            o.mesh = mesh;
            o.strategy = strategy;
            o.shards = shards;
            o.linkBandwidth = linkBandwidth;
            o.donate = donate;
            llmc::api::Error error;
            bool ok;
            {
              py::gil_scoped_release release;
              ok = b.compile(o, artifactPath, error);
            }
            if (!ok)
              raise("CompileError", error.message, error.node);
          },
          py::arg("target"), py::arg("artifact_path"), py::arg("fusion") = true,
          py::arg("tf32") = false, py::arg("mesh") = "",
          py::arg("strategy") = "auto",
          py::arg("shards") = std::vector<std::string>(),
          py::arg("link_bandwidth") = 450e9,
          py::arg("donate") = std::vector<std::string>());

  m.def(
      "run_pipeline",
      [](const std::string &text, const std::string &pipeline) {
        std::string result, diagnostics;
        bool ok;
        {
          py::gil_scoped_release release;
          ok = llmc::api::runPipeline(text, pipeline, result, diagnostics);
        }
        return py::make_tuple(ok, result, diagnostics);
      },
      py::arg("mlir"), py::arg("pipeline"));
  m.def("registered_passes", &llmc::api::registeredPasses);
}
