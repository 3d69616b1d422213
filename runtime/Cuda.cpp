//===- Cuda.cpp - Running a CUDA program through the driver API ----------===//
//
// The driver, cuBLASLt and cuDNN are resolved with dlopen/dlsym; their
// headers give only the types. Nothing here links against CUDA.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Cuda.h"

#include <cstdlib>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <dlfcn.h>

#ifdef LLMC_HAVE_CUDA_HEADERS
#include <cublasLt.h>
#include <cuda.h>
// cuDNN 9 marks its convolution API (the one for a fixed list of
// convolutions, as here) deprecated in favour of the graph API.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <cudnn.h>
#include <nccl.h>
#endif

using namespace llmc::runtime;

#ifndef LLMC_HAVE_CUDA_HEADERS

bool llmc::runtime::cudaSupportBuilt() { return false; }

struct CudaExecutable::State {
  CudaProgram program;
  std::string device;
};

std::unique_ptr<CudaExecutable>
CudaExecutable::create(CudaProgram, const std::vector<HostBytes> &,
                       std::string &error, std::map<const void *, uint64_t> *) {
  error = "no CUDA device: this llmc was built without the CUDA toolkit's "
          "headers";
  return nullptr;
}
CudaExecutable::~CudaExecutable() = default;
bool CudaExecutable::run(const std::vector<HostBytes> &,
                         const std::vector<void *> &, std::string &error) {
  error = "no CUDA device";
  return false;
}
bool CudaExecutable::profile(const std::vector<HostBytes> &,
                             const std::vector<void *> &, std::vector<double> &,
                             std::string &error) {
  error = "no CUDA device";
  return false;
}
bool CudaExecutable::run(const std::vector<CudaArg> &,
                         const std::vector<CudaArg> &, std::string &error,
                         uint64_t) {
  error = "no CUDA device";
  return false;
}
bool CudaExecutable::allocate(size_t, uint64_t &, std::string &error) {
  error = "no CUDA device";
  return false;
}
void CudaExecutable::release(uint64_t) {}
bool CudaExecutable::copyToDevice(uint64_t, const void *, size_t,
                                  std::string &error) {
  error = "no CUDA device";
  return false;
}
bool CudaExecutable::copyToHost(void *, uint64_t, size_t, std::string &error) {
  error = "no CUDA device";
  return false;
}
bool CudaExecutable::checkDevicePointer(uint64_t, size_t, std::string &error) {
  error = "no CUDA device";
  return false;
}
const CudaProgram &CudaExecutable::program() const { return state_->program; }
const std::string &CudaExecutable::deviceName() const {
  return state_->device;
}

struct CudaMesh::Impl {};
std::unique_ptr<CudaMesh>
CudaMesh::create(const CudaProgram &, const MeshShape &,
                 const std::vector<std::vector<HostBytes>> &,
                 std::string &error, const ProcessLaunch *) {
  error = "no CUDA device: this llmc was built without the CUDA toolkit's "
          "headers";
  return nullptr;
}
CudaMesh::~CudaMesh() = default;
void CudaMesh::useGraph(bool) {}
bool CudaMesh::run(const std::vector<std::vector<HostBytes>> &,
                   const std::vector<std::vector<void *>> &, std::string &error) {
  error = "no CUDA device";
  return false;
}
int64_t CudaMesh::numDevices() const { return 0; }
CudaExecutable &CudaMesh::device(int64_t) { std::abort(); }
int64_t CudaMesh::rankOf(int64_t i) const { return i; }
bool CudaMesh::gatherAtRoot(const void *, size_t, void *, std::string &error) {
  error = "no CUDA device";
  return false;
}

#else

bool llmc::runtime::cudaSupportBuilt() { return true; }

namespace {
#define LLMC_STR2(x) #x
#define LLMC_STR(x) LLMC_STR2(x)

/// The driver entry points llmc uses, resolved by their versioned symbol
/// names (cuda.h maps cuMemAlloc to cuMemAlloc_v2 and so on).
struct Driver {
  void *library = nullptr;
#define LLMC_DRIVER_FNS(X)                                                     \
  X(cuInit) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetAttribute)         \
  X(cuDeviceGetName) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)  \
  X(cuCtxSetCurrent) X(cuModuleLoadDataEx) X(cuModuleGetFunction)              \
  X(cuModuleGetGlobal)                                                         \
  X(cuModuleUnload) X(cuMemAlloc) X(cuMemFree) X(cuMemcpyHtoDAsync)            \
  X(cuMemcpyDtoHAsync) X(cuStreamCreate) X(cuStreamDestroy)                    \
  X(cuStreamSynchronize) X(cuLaunchKernel) X(cuGetErrorName)                   \
  X(cuGetErrorString) X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord)      \
  X(cuEventSynchronize) X(cuStreamBeginCapture) X(cuStreamEndCapture)          \
  X(cuGraphInstantiateWithFlags) X(cuGraphLaunch) X(cuGraphExecDestroy)        \
  X(cuGraphDestroy) X(cuMemsetD8Async) X(cuMemcpy2DAsync) X(cuStreamQuery)   \
  X(cuEventQuery) X(cuEventRecordWithFlags) X(cuStreamWaitEvent)              \
  X(cuPointerGetAttribute) X(cuMemGetAddressRange)
#define LLMC_DECLARE(name) decltype(&::name) name = nullptr;
  LLMC_DRIVER_FNS(LLMC_DECLARE)
  decltype(&::cuEventElapsedTime) cuEventElapsedTime = nullptr;

  /// Opens libcuda.so.1; false with `error` when it or a symbol is missing.
  bool open(std::string &error) {
    library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      error = "no CUDA device (the CUDA driver, libcuda.so.1, is not "
              "installed)";
      return false;
    }
#define LLMC_RESOLVE(name)                                                     \
  name = reinterpret_cast<decltype(name)>(dlsym(library, LLMC_STR(name)));    \
  if (!name) {                                                                 \
    error = std::string("the CUDA driver lacks ") + LLMC_STR(name) +           \
            ": it is older than this llmc needs";                              \
    return false;                                                              \
  }
    LLMC_DRIVER_FNS(LLMC_RESOLVE)
    // cuEventElapsedTime_v2 is CUDA 12.8's; older drivers have the first.
    cuEventElapsedTime = reinterpret_cast<decltype(cuEventElapsedTime)>(
        dlsym(library, LLMC_STR(cuEventElapsedTime)));
    if (!cuEventElapsedTime)
      cuEventElapsedTime = reinterpret_cast<decltype(cuEventElapsedTime)>(
          dlsym(library, "cuEventElapsedTime"));
    if (!cuEventElapsedTime) {
      error = "the CUDA driver lacks cuEventElapsedTime";
      return false;
    }
    return true;
  }
};

/// dlopen of the path in the environment variable `env` when it is set
/// (only that), else of the first of `names` that opens; null with `error`
/// naming `what` otherwise.
void *openLibrary(const char *env, std::initializer_list<const char *> names,
                  const std::string &what, std::string &error) {
  if (const char *path = std::getenv(env)) {
    if (void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL))
      return library;
    const char *why = dlerror();
    error = std::string("cannot open ") + what + " at " + env + "=" + path +
            (why ? std::string(" (") + why + ")" : std::string());
    return nullptr;
  }
  for (const char *n : names)
    if (void *library = dlopen(n, RTLD_NOW | RTLD_LOCAL))
      return library;
  error = "cannot open " + what + "; set " + env + " to its path";
  return nullptr;
}

struct BlasLt {
  void *library = nullptr;
#define LLMC_BLASLT_FNS(X)                                                     \
  X(cublasLtCreate) X(cublasLtDestroy) X(cublasLtMatmulDescCreate)             \
  X(cublasLtMatmulDescDestroy) X(cublasLtMatmulDescSetAttribute)               \
  X(cublasLtMatrixLayoutCreate) X(cublasLtMatrixLayoutDestroy)                 \
  X(cublasLtMatrixLayoutSetAttribute) X(cublasLtMatmulPreferenceCreate)        \
  X(cublasLtMatmulPreferenceDestroy) X(cublasLtMatmulPreferenceSetAttribute)   \
  X(cublasLtMatmulAlgoGetHeuristic) X(cublasLtMatmul)
  LLMC_BLASLT_FNS(LLMC_DECLARE)

  /// Opens cuBLASLt: LLMC_CUBLASLT if set, else the toolkit's soname (13,
  /// then 12) from the library path or /usr/local/cuda.
  bool open(std::string &error) {
    library = openLibrary("LLMC_CUBLASLT",
                          {"libcublasLt.so.13", "libcublasLt.so.12",
                           "/usr/local/cuda/lib64/libcublasLt.so.13",
                           "/usr/local/cuda/lib64/libcublasLt.so.12"},
                          "cuBLASLt (libcublasLt.so.13 or .12)", error);
    if (!library)
      return false;
    LLMC_BLASLT_FNS(LLMC_RESOLVE)
    return true;
  }
};
struct Dnn {
  void *library = nullptr;
#define LLMC_DNN_FNS(X)                                                        \
  X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream) X(cudnnGetErrorString)      \
  X(cudnnCreateTensorDescriptor) X(cudnnSetTensor4dDescriptorEx)               \
  X(cudnnDestroyTensorDescriptor) X(cudnnCreateFilterDescriptor)               \
  X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor)                \
  X(cudnnCreateConvolutionDescriptor) X(cudnnSetConvolution2dDescriptor)       \
  X(cudnnSetConvolutionGroupCount) X(cudnnSetConvolutionMathType)              \
  X(cudnnDestroyConvolutionDescriptor)                                         \
  X(cudnnGetConvolutionForwardAlgorithmMaxCount)                               \
  X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnConvolutionForward)       \
  X(cudnnCreateActivationDescriptor) X(cudnnSetActivationDescriptor)           \
  X(cudnnDestroyActivationDescriptor)                                          \
  X(cudnnConvolutionBiasActivationForward) X(cudnnAddTensor)                   \
  X(cudnnActivationForward)
  LLMC_DNN_FNS(LLMC_DECLARE)

  /// Opens cuDNN 9: LLMC_CUDNN if set, else libcudnn.so.9 from the library
  /// path or /usr/local/cuda.
  bool open(std::string &error) {
    library = openLibrary("LLMC_CUDNN",
                          {"libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9"},
                          "cuDNN (libcudnn.so.9)", error);
    if (!library)
      return false;
    LLMC_DNN_FNS(LLMC_RESOLVE)
    return true;
  }
};
/// NCCL, for the collectives of a mesh's devices.
struct Nccl {
  void *library = nullptr;
#define LLMC_NCCL_FNS(X)                                                       \
  X(ncclGetVersion) X(ncclCommInitAll) X(ncclCommDestroy) X(ncclCommAbort)     \
  X(ncclGetErrorString) X(ncclAllReduce) X(ncclAllGather)                      \
  X(ncclReduceScatter) X(ncclSend) X(ncclRecv) X(ncclGroupStart)               \
  X(ncclGroupEnd)
  LLMC_NCCL_FNS(LLMC_DECLARE)
  // For a mesh of several processes (NCCL 2.18 and newer): resolved when
  // present, required only there.
#define LLMC_NCCL_PROCESS_FNS(X)                                               \
  X(ncclGetUniqueId) X(ncclCommInitRankConfig) X(ncclCommSplit)                \
  X(ncclCommGetAsyncError)
  LLMC_NCCL_PROCESS_FNS(LLMC_DECLARE)
  int version = 0;

  /// Opens NCCL 2: LLMC_NCCL if set, else libnccl.so.2 from the library
  /// path or /usr/local/cuda.
  bool open(std::string &error) {
    library = openLibrary("LLMC_NCCL",
                          {"libnccl.so.2", "/usr/local/cuda/lib64/libnccl.so.2"},
                          "NCCL (libnccl.so.2)", error);
    if (!library)
      return false;
    LLMC_NCCL_FNS(LLMC_RESOLVE)
#define LLMC_RESOLVE_OPTIONAL(name)                                            \
  name = reinterpret_cast<decltype(name)>(dlsym(library, LLMC_STR(name)));
    LLMC_NCCL_PROCESS_FNS(LLMC_RESOLVE_OPTIONAL)
#undef LLMC_RESOLVE_OPTIONAL
    if (ncclGetVersion(&version) != ncclSuccess || version < 20700) {
      error = "NCCL " + std::to_string(version) +
              " is older than 2.7, which llmc needs (grouped send/receive)";
      return false;
    }
    return true;
  }
  std::string describe(ncclResult_t r) const {
    const char *text = ncclGetErrorString ? ncclGetErrorString(r) : nullptr;
    return "NCCL error " + std::to_string(static_cast<int>(r)) +
           (text ? std::string(": ") + text : std::string());
  }
};
#undef LLMC_RESOLVE
#undef LLMC_DECLARE

constexpr size_t kWorkspaceBytes = 32u << 20;
/// The most device memory one convolution algorithm may use as workspace.
constexpr size_t kConvWorkspaceLimit = 256u << 20;

/// The largest power of two (at most 256) dividing `bytes`.
uint32_t alignmentOf(uint64_t bytes) {
  uint32_t a = 256;
  while (a > 1 && bytes % a != 0)
    a /= 2;
  return a;
}

/// One convolution's cuDNN descriptors and algorithm, made once.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnActivationDescriptor_t relu = nullptr; // with an epilogue
  // cuDNN does not fuse this convolution's epilogue (its fused call said
  // CUDNN_STATUS_NOT_SUPPORTED once): it runs as separate cuDNN calls.
  bool unfused = false;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo{};
  size_t workspace = 0;
};

/// One GEMM's cuBLASLt descriptors and algorithm, made once.
struct GemmPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};
} // namespace

struct CudaExecutable::State {
  CudaProgram program;
  std::string device;
  /// One run at a time: the stream, the arena and the library descriptors
  /// are the executable's (Python calls it from several threads with the
  /// GIL released).
  std::mutex mutex;
  /// With a CUDA graph: the first run went eagerly, the next one captures.
  bool ranEagerly = false;
  Driver cu;
  BlasLt lt;
  Dnn dnn;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUmodule module = nullptr;
  CUstream stream = nullptr;
  std::vector<CUfunction> functions; // per step (null for GEMMs)
  std::vector<CUdeviceptr> allocations;
  CUdeviceptr arena = 0, workspace = 0, convWorkspace = 0;
  /// The module's `llmc_index_status` (i64 x 3) when the program checks
  /// computed indices (program.indexSites): zeroed before each run, read
  /// after it.
  CUdeviceptr indexStatus = 0;
  std::vector<CUdeviceptr> inputs, weights, outputs, constants;
  std::vector<CUdeviceptr> buffers; // per program buffer, as this run binds
  /// Per program buffer, the executable's own memory (`buffers` without
  /// the device arguments a run binds), and the addresses the CUDA graph
  /// was captured with.
  std::vector<CUdeviceptr> own, captured;
  /// Marks the work on the stream that produced a run's device inputs.
  CUevent inputsReady = nullptr;
  cublasLtHandle_t ltHandle = nullptr;
  std::vector<GemmPlan> gemms; // per step
  cudnnHandle_t dnnHandle = nullptr;
  std::vector<ConvPlan> convs; // per step
  size_t convWorkspaceBytes = 0;
  CUgraph graph = nullptr;
  CUgraphExec graphExec = nullptr;
  std::string poisoned;
  /// A device of a CudaMesh: NCCL, this device's communicator over each
  /// mesh axis and its coordinate there, the axes' names (for messages),
  /// and per step an event recorded after each collective (null for other
  /// steps): how far the device got when a collective does not complete.
  const Nccl *nccl = nullptr;
  std::vector<ncclComm_t> comms;
  std::vector<int64_t> coords;
  std::vector<std::string> axisNames;
  std::vector<CUevent> collectiveEvents;
  /// Set while the stream is captured (events are then recorded as
  /// external graph nodes), and once a run was abandoned with the stream
  /// still busy.
  bool capturing = false;
  std::atomic<bool> stuck{false};
  /// The collectives this run has put on the stream so far (a replayed
  /// graph puts them all): an event never recorded also reads as done.
  std::atomic<int64_t> collectivesIssued{0};

  std::string describe(CUresult r) {
    const char *name = nullptr, *text = nullptr;
    if (cu.cuGetErrorName)
      cu.cuGetErrorName(r, &name);
    if (cu.cuGetErrorString)
      cu.cuGetErrorString(r, &text);
    return std::string(name ? name : "CUDA error " + std::to_string(r)) +
           (text ? std::string(": ") + text : "");
  }
  /// Records `what` failing with `r`; false.
  bool fail(CUresult r, const std::string &what, std::string &error) {
    error = what + ": " + describe(r);
    return false;
  }
  std::string stepName(size_t i) const {
    const CudaStep &s = program.steps[i];
    std::string what =
        s.kind == CudaStep::Gemm     ? "cuBLASLt GEMM"
        : s.kind == CudaStep::Conv   ? "cuDNN convolution"
        : s.kind == CudaStep::Memset ? "memset"
        : s.kind == CudaStep::Collective
            ? collectiveLabel(s.collective.params)
            : "kernel '" + s.kernel + "'";
    if (!s.node.empty())
      what += " (ONNX node '" + s.node + "')";
    return what;
  }
  CUdeviceptr alloc(size_t bytes, CUresult &r) {
    CUdeviceptr p = 0;
    r = CUDA_SUCCESS;
    if (bytes == 0)
      return 0;
    r = cu.cuMemAlloc(&p, bytes);
    if (r == CUDA_SUCCESS)
      allocations.push_back(p);
    return p;
  }
  /// "collective all_reduce (step 3) over mesh axis 'tp'".
  std::string collectiveLabel(const CollectiveParams &q) const {
    std::string axis = q.axis >= 0 && q.axis < static_cast<int64_t>(axisNames.size())
                           ? axisNames[q.axis]
                           : std::to_string(q.axis);
    return std::string("collective ") + collectiveName(q.kind) + " (step " +
           std::to_string(q.stepId) + ") over mesh axis '" + axis + "'";
  }
  /// True when [p, p + bytes) lies in one allocation on this device;
  /// otherwise false with why (after "input 3: ").
  bool checkDevicePointer(CUdeviceptr p, size_t bytes, std::string &error);
  bool enqueueCollective(size_t i, std::string &error);
  bool planGemm(size_t i, std::string &error);
  bool planConv(size_t i, std::string &error);
  bool enqueue(size_t i, std::string &error);
  bool enqueueAll(std::string &error);
};

bool CudaExecutable::State::planGemm(size_t i, std::string &error) {
  const CudaGemm &g = program.steps[i].gemm;
  GemmPlan &p = gemms[i];
  bool f64 = g.dtype == DType::F64;
  auto cudaType = [](DType t) {
    switch (t) {
    case DType::F64:
      return CUDA_R_64F;
    case DType::F16:
      return CUDA_R_16F;
    case DType::BF16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
    }
  };
  // A and B in `dtype`, C in `cDtype`; scalars in the compute precision.
  cudaDataType_t type = cudaType(g.dtype), cType = cudaType(g.cDtype);
  cudaDataType_t scale = f64 ? CUDA_R_64F : CUDA_R_32F;
  // fp32 stays fp32: no TF32 unless the artifact was compiled with --tf32.
  cublasComputeType_t compute = f64      ? CUBLAS_COMPUTE_64F
                                : g.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                         : CUBLAS_COMPUTE_32F;
  auto check = [&](cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS)
      return true;
    error = stepName(i) + ": " + what + " failed with cuBLAS status " +
            std::to_string(static_cast<int>(s));
    return false;
  };
  // Row-major C (M x N) += op(A) op(B) is column-major
  // C^T (N x M) += op(B)^T op(A)^T: cuBLASLt's A is our B, its B our A.
  cublasOperation_t opA = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opB = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (!check(lt.cublasLtMatmulDescCreate(&p.desc, compute, scale),
             "cublasLtMatmulDescCreate") ||
      !check(lt.cublasLtMatmulDescSetAttribute(
                 p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)),
             "setting TRANSA") ||
      !check(lt.cublasLtMatmulDescSetAttribute(
                 p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)),
             "setting TRANSB"))
    return false;
  if (g.epilogue != GemmEpilogue::None) {
    // The bias is one value per row of cuBLASLt's column-major C^T (per
    // column of ours), in C's type, shared by every matrix of the batch.
    cublasLtEpilogue_t epilogue =
        g.epilogue == GemmEpilogue::ReluBias   ? CUBLASLT_EPILOGUE_RELU_BIAS
        : g.epilogue == GemmEpilogue::GeluBias ? CUBLASLT_EPILOGUE_GELU_BIAS
                                               : CUBLASLT_EPILOGUE_BIAS;
    int64_t biasStride = 0;
    if (!check(lt.cublasLtMatmulDescSetAttribute(
                   p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                   sizeof(epilogue)),
               "setting the epilogue") ||
        !check(lt.cublasLtMatmulDescSetAttribute(
                   p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &cType,
                   sizeof(cType)),
               "setting the bias type") ||
        !check(lt.cublasLtMatmulDescSetAttribute(
                   p.desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, &biasStride,
                   sizeof(biasStride)),
               "setting the bias batch stride"))
      return false;
  }
  auto layout = [&](cublasLtMatrixLayout_t &l, uint64_t rows, uint64_t cols,
                    const GemmOperand &o, cudaDataType_t type) {
    int32_t count = static_cast<int32_t>(g.batch);
    int64_t stride = o.batchStride;
    return check(lt.cublasLtMatrixLayoutCreate(&l, type, rows, cols, o.ld),
                 "cublasLtMatrixLayoutCreate") &&
           check(lt.cublasLtMatrixLayoutSetAttribute(
                     l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                     sizeof(count)),
                 "setting the batch count") &&
           check(lt.cublasLtMatrixLayoutSetAttribute(
                     l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                     sizeof(stride)),
                 "setting the batch stride");
  };
  // Column-major views of the row-major operands.
  if (!layout(p.a, g.transB ? g.k : g.n, g.transB ? g.n : g.k, g.b, type) ||
      !layout(p.b, g.transA ? g.m : g.k, g.transA ? g.k : g.m, g.a, type) ||
      !layout(p.c, g.n, g.m, g.c, cType))
    return false;
  cublasLtMatmulPreference_t pref = nullptr;
  if (!check(lt.cublasLtMatmulPreferenceCreate(&pref),
             "cublasLtMatmulPreferenceCreate"))
    return false;
  uint64_t workspaceBytes = kWorkspaceBytes;
  size_t element = dtypeSize(g.dtype), cElement = dtypeSize(g.cDtype);
  uint32_t alignA = alignmentOf(g.b.offset * element),
           alignB = alignmentOf(g.a.offset * element),
           alignC = alignmentOf(g.c.offset * cElement);
  bool ok =
      check(lt.cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceBytes,
                sizeof(workspaceBytes)),
            "setting the workspace") &&
      check(lt.cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alignA,
                sizeof(alignA)),
            "setting A's alignment") &&
      check(lt.cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alignB,
                sizeof(alignB)),
            "setting B's alignment") &&
      check(lt.cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alignC,
                sizeof(alignC)),
            "setting C's alignment") &&
      check(lt.cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alignC,
                sizeof(alignC)),
            "setting D's alignment");
  if (ok && g.epilogue != GemmEpilogue::None) {
    // cuBLASLt picks the algorithm for the bias pointer's alignment, and
    // the real one is set per run (buffers move): give the query an address
    // of the same alignment (never read).
    uintptr_t sameAlignment =
        (uintptr_t(1) << 20) + alignmentOf(g.biasOffset * cElement);
    const void *bias = reinterpret_cast<const void *>(sameAlignment);
    ok = check(lt.cublasLtMatmulDescSetAttribute(
                   p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                   sizeof(bias)),
               "setting the bias for the heuristic");
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  ok = ok && check(lt.cublasLtMatmulAlgoGetHeuristic(
                       ltHandle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result,
                       &found),
                   "cublasLtMatmulAlgoGetHeuristic");
  lt.cublasLtMatmulPreferenceDestroy(pref);
  if (!ok)
    return false;
  if (found == 0) {
    error = stepName(i) + ": cuBLASLt has no algorithm for it";
    return false;
  }
  p.algo = result.algo;
  return true;
}

bool CudaExecutable::State::planConv(size_t i, std::string &error) {
  const CudaConv &c = program.steps[i].conv;
  ConvPlan &p = convs[i];
  auto check = [&](cudnnStatus_t st, const char *what) {
    if (st == CUDNN_STATUS_SUCCESS)
      return true;
    error = stepName(i) + ": " + what + " failed: " +
            dnn.cudnnGetErrorString(st);
    return false;
  };
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  auto tensor = [&](cudnnTensorDescriptor_t &d, const int64_t *dims,
                    const ConvOperand &o) {
    return check(dnn.cudnnCreateTensorDescriptor(&d),
                 "cudnnCreateTensorDescriptor") &&
           check(dnn.cudnnSetTensor4dDescriptorEx(
                     d, CUDNN_DATA_FLOAT, i32(dims[0]), i32(dims[1]),
                     i32(dims[2]), i32(dims[3]), i32(o.strides[0]),
                     i32(o.strides[1]), i32(o.strides[2]), i32(o.strides[3])),
                 "describing a tensor");
  };
  // fp32 stays fp32: FMA kernels only, no TF32 tensor-core math, unless
  // the artifact was compiled with --tf32.
  if (!tensor(p.x, c.input, c.x) || !tensor(p.y, c.output, c.y) ||
      !check(dnn.cudnnCreateFilterDescriptor(&p.w),
             "cudnnCreateFilterDescriptor") ||
      !check(dnn.cudnnSetFilter4dDescriptor(
                 p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i32(c.filter[0]),
                 i32(c.filter[1]), i32(c.filter[2]), i32(c.filter[3])),
             "describing the filter") ||
      !check(dnn.cudnnCreateConvolutionDescriptor(&p.conv),
             "cudnnCreateConvolutionDescriptor") ||
      !check(dnn.cudnnSetConvolution2dDescriptor(
                 p.conv, i32(c.pad[0]), i32(c.pad[1]), i32(c.stride[0]),
                 i32(c.stride[1]), i32(c.dilation[0]), i32(c.dilation[1]),
                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
             "describing the convolution") ||
      !check(dnn.cudnnSetConvolutionGroupCount(p.conv, i32(c.group)),
             "setting the group count") ||
      !check(dnn.cudnnSetConvolutionMathType(
                 p.conv, c.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
             "setting the math type"))
    return false;
  // The epilogue: a 1 x K x 1 x 1 bias and a NaN-propagating ReLU (ONNX's);
  // z, when added, is described as y is.
  if (c.epilogue != ConvEpilogue::None) {
    int64_t dims[4] = {1, c.output[1], 1, 1};
    ConvOperand bias;
    bias.strides[0] = c.output[1];
    bias.strides[1] = bias.strides[2] = bias.strides[3] = 1;
    if (!tensor(p.bias, dims, bias) ||
        !check(dnn.cudnnCreateActivationDescriptor(&p.relu),
               "cudnnCreateActivationDescriptor") ||
        // coef is the ReLU's upper bound for cuDNN's fused forms (as for a
        // clipped ReLU): the largest double leaves it unbounded, as PyTorch
        // sets it. NaN propagates (ONNX Relu(NaN) is NaN); a fused call
        // that refuses it is NOT_SUPPORTED and takes the separate calls.
        !check(dnn.cudnnSetActivationDescriptor(
                   p.relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN,
                   std::numeric_limits<double>::max()),
               "describing the ReLU"))
      return false;
  }
  // cuDNN's heuristic ranks the algorithms; the first that runs in fp32
  // FMA math within the workspace limit wins.
  int most = 0, found = 0;
  if (!check(dnn.cudnnGetConvolutionForwardAlgorithmMaxCount(dnnHandle, &most),
             "cudnnGetConvolutionForwardAlgorithmMaxCount"))
    return false;
  std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked(std::max(most, 1));
  if (!check(dnn.cudnnGetConvolutionForwardAlgorithm_v7(
                 dnnHandle, p.x, p.w, p.conv, p.y, static_cast<int>(ranked.size()),
                 &found, ranked.data()),
             "cudnnGetConvolutionForwardAlgorithm_v7"))
    return false;
  for (int j = 0; j < found; ++j) {
    const cudnnConvolutionFwdAlgoPerf_t &r = ranked[j];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kConvWorkspaceLimit ||
        (!c.tf32 && (r.mathType == CUDNN_TENSOR_OP_MATH ||
                     r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)))
      continue;
    p.algo = r.algo;
    p.workspace = r.memory;
    convWorkspaceBytes = std::max(convWorkspaceBytes, p.workspace);
    return true;
  }
  error = stepName(i) + ": cuDNN has no fp32 algorithm for it";
  return false;
}

bool CudaExecutable::State::enqueueCollective(size_t i, std::string &error) {
  const CudaCollective &c = program.steps[i].collective;
  const CollectiveParams &q = c.params;
  if (!nccl || q.axis < 0 || q.axis >= static_cast<int64_t>(comms.size())) {
    error = stepName(i) + ": the program runs on a mesh of devices, not on one";
    return false;
  }
  ncclComm_t comm = comms[q.axis];
  int64_t groups = q.groupSize, me = coords[q.axis];
  size_t element = dtypeSize(c.dtype);
  ncclDataType_t type = ncclFloat32;
  switch (c.dtype) {
  case DType::F64: type = ncclFloat64; break;
  case DType::F16: type = ncclFloat16; break;
  case DType::BF16: type = ncclBfloat16; break;
  case DType::I64: type = ncclInt64; break;
  case DType::I32: type = ncclInt32; break;
  case DType::I8: type = ncclInt8; break;
  case DType::U8: case DType::Bool: type = ncclUint8; break;
  default: type = ncclFloat32; break;
  }
  ncclRedOp_t op = q.reduce == ReduceKind::Max   ? ncclMax
                   : q.reduce == ReduceKind::Min ? ncclMin
                                                 : ncclSum;
  CUdeviceptr in = buffers[c.in] + c.inOffset * element,
              out = buffers[c.out] + c.outOffset * element,
              scratch = c.hasScratch ? buffers[c.scratch] : 0;
  size_t inCount = static_cast<size_t>(numElements(c.inShape)),
         outCount = static_cast<size_t>(numElements(c.outShape));
  auto product = [](const std::vector<int64_t> &shape, int64_t from,
                    int64_t to) {
    int64_t n = 1;
    for (int64_t d = from; d < to; ++d)
      n *= shape[d];
    return n;
  };
  int64_t rank = static_cast<int64_t>(c.inShape.size());
  // `rows` rows of `width` elements from `src` (rows `srcPitch` elements
  // apart) to `dst` (rows `dstPitch` apart).
  auto copy2D = [&](CUdeviceptr src, int64_t srcPitch, CUdeviceptr dst,
                    int64_t dstPitch, int64_t width, int64_t rows) {
    if (width == 0 || rows == 0)
      return true;
    CUDA_MEMCPY2D m{};
    m.srcMemoryType = m.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    m.srcDevice = src;
    m.dstDevice = dst;
    m.srcPitch = static_cast<size_t>(srcPitch) * element;
    m.dstPitch = static_cast<size_t>(dstPitch) * element;
    m.WidthInBytes = static_cast<size_t>(width) * element;
    m.Height = static_cast<size_t>(rows);
    CUresult r = cu.cuMemcpy2DAsync(&m, stream);
    if (r != CUDA_SUCCESS)
      return fail(r, "moving chunks for " + stepName(i), error);
    return true;
  };
  auto check = [&](ncclResult_t r, const char *call) {
    if (r == ncclSuccess)
      return true;
    error = stepName(i) + ": " + call + " failed: " + nccl->describe(r);
    return false;
  };
  bool ok = true;
  switch (q.kind) {
  case CollectiveKind::AllReduce:
    ok = inCount == 0 ||
         check(nccl->ncclAllReduce(reinterpret_cast<void *>(in),
                                   reinterpret_cast<void *>(out), inCount, type,
                                   op, comm, stream),
               "ncclAllReduce");
    break;
  case CollectiveKind::AllGather: {
    // NCCL concatenates the members' buffers: along an inner dim, through
    // the scratch, each member's part then moved into its columns.
    int64_t rows = product(c.outShape, 0, q.dim),
            width = product(c.inShape, q.dim, rank);
    CUdeviceptr to = rows > 1 ? scratch : out;
    ok = inCount == 0 ||
         check(nccl->ncclAllGather(reinterpret_cast<void *>(in),
                                   reinterpret_cast<void *>(to), inCount, type,
                                   comm, stream),
               "ncclAllGather");
    for (int64_t g = 0; ok && rows > 1 && g < groups; ++g)
      ok = copy2D(scratch + g * inCount * element, width,
                  out + g * width * element, groups * width, width, rows);
    break;
  }
  case CollectiveKind::ReduceScatter: {
    // NCCL scatters contiguous chunks: along an inner dim the input's
    // columns are packed member by member first.
    int64_t rows = product(c.inShape, 0, q.dim),
            width = product(c.outShape, q.dim, rank);
    CUdeviceptr from = rows > 1 ? scratch : in;
    for (int64_t g = 0; ok && rows > 1 && g < groups; ++g)
      ok = copy2D(in + g * width * element, groups * width,
                  scratch + g * outCount * element, width, width, rows);
    ok = ok && (outCount == 0 ||
                check(nccl->ncclReduceScatter(reinterpret_cast<void *>(from),
                                              reinterpret_cast<void *>(out),
                                              outCount, type, op, comm, stream),
                      "ncclReduceScatter"));
    break;
  }
  case CollectiveKind::Split: {
    // This device's chunk, copied: no peer takes part.
    int64_t rows = product(c.inShape, 0, q.dim),
            width = product(c.outShape, q.dim, rank);
    ok = copy2D(in + me * width * element, groups * width, out, width, width,
                rows);
    break;
  }
  case CollectiveKind::AllToAll: {
    // Chunk g along dim goes to member g; member g's chunk lands at block
    // g along dim2. Packed into the scratch's first half, exchanged by
    // grouped sends and receives into its second half, then unpacked.
    std::vector<int64_t> chunk = c.inShape;
    chunk[q.dim] /= groups;
    size_t chunkCount = inCount / static_cast<size_t>(groups);
    CUdeviceptr sent = scratch, received = scratch + inCount * element;
    int64_t rows = product(c.inShape, 0, q.dim),
            width = product(chunk, q.dim, rank);
    for (int64_t g = 0; ok && g < groups; ++g)
      ok = copy2D(in + g * width * element, groups * width,
                  sent + g * chunkCount * element, width, width, rows);
    if (ok && chunkCount) {
      ok = check(nccl->ncclGroupStart(), "ncclGroupStart");
      for (int64_t g = 0; ok && g < groups; ++g)
        ok = check(nccl->ncclSend(reinterpret_cast<void *>(
                                      sent + g * chunkCount * element),
                                  chunkCount, type, static_cast<int>(g), comm,
                                  stream),
                   "ncclSend") &&
             check(nccl->ncclRecv(reinterpret_cast<void *>(
                                      received + g * chunkCount * element),
                                  chunkCount, type, static_cast<int>(g), comm,
                                  stream),
                   "ncclRecv");
      // A group opened is closed, whatever failed inside it.
      ncclResult_t end = nccl->ncclGroupEnd();
      ok = ok && check(end, "ncclGroupEnd");
    }
    int64_t outRows = product(chunk, 0, q.dim2),
            outWidth = product(chunk, q.dim2, rank);
    for (int64_t g = 0; ok && g < groups; ++g)
      ok = copy2D(received + g * chunkCount * element, outWidth,
                  out + g * outWidth * element, groups * outWidth, outWidth,
                  outRows);
    break;
  }
  }
  if (!ok)
    return false;
  if (CUevent done = collectiveEvents.empty() ? nullptr : collectiveEvents[i]) {
    CUresult r = cu.cuEventRecordWithFlags(
        done, stream,
        capturing ? CU_EVENT_RECORD_EXTERNAL : CU_EVENT_RECORD_DEFAULT);
    if (r != CUDA_SUCCESS)
      return fail(r, "recording the end of " + stepName(i), error);
  }
  if (!capturing)
    ++collectivesIssued;
  return true;
}

bool CudaExecutable::State::enqueue(size_t i, std::string &error) {
  const CudaStep &s = program.steps[i];
  if (s.kind == CudaStep::Collective)
    return enqueueCollective(i, error);
  if (s.kind == CudaStep::Memset) {
    CUresult r = cu.cuMemsetD8Async(buffers[s.args[0]] + s.offset, 0, s.bytes,
                                    stream);
    if (r != CUDA_SUCCESS)
      return fail(r, "zeroing a buffer for " + stepName(i), error);
    return true;
  }
  if (s.kind == CudaStep::Gemm) {
    const CudaGemm &g = s.gemm;
    const GemmPlan &p = gemms[i];
    auto at = [&](const GemmOperand &o) {
      size_t element = dtypeSize(&o == &g.c ? g.cDtype : g.dtype);
      return reinterpret_cast<void *>(buffers[o.buffer] + o.offset * element);
    };
    double one64 = 1.0, beta64 = g.accumulate ? 1.0 : 0.0;
    float one32 = 1.0f, beta32 = g.accumulate ? 1.0f : 0.0f;
    bool f64 = g.dtype == DType::F64;
    const void *one = f64 ? static_cast<const void *>(&one64)
                          : static_cast<const void *>(&one32);
    const void *beta = f64 ? static_cast<const void *>(&beta64)
                           : static_cast<const void *>(&beta32);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (g.epilogue != GemmEpilogue::None) {
      // Buffers may move between runs (inputs, outputs): the bias's address
      // is set for this call.
      const void *bias = reinterpret_cast<const void *>(
          buffers[g.biasBuffer] + g.biasOffset * dtypeSize(g.cDtype));
      st = lt.cublasLtMatmulDescSetAttribute(
          p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
      if (st != CUBLAS_STATUS_SUCCESS) {
        error = stepName(i) + ": setting the bias failed with cuBLAS status " +
                std::to_string(static_cast<int>(st));
        return false;
      }
    }
    st = lt.cublasLtMatmul(
        ltHandle, p.desc, one, at(g.b), p.a, at(g.a), p.b, beta, at(g.c), p.c,
        at(g.c), p.c, &p.algo, reinterpret_cast<void *>(workspace),
        kWorkspaceBytes, stream);
    if (st != CUBLAS_STATUS_SUCCESS) {
      error = stepName(i) + ": cublasLtMatmul failed with cuBLAS status " +
              std::to_string(static_cast<int>(st));
      return false;
    }
    return true;
  }
  if (s.kind == CudaStep::Conv) {
    const CudaConv &c = s.conv;
    const ConvPlan &p = convs[i];
    auto at = [&](const ConvOperand &o) {
      return reinterpret_cast<void *>(buffers[o.buffer] + o.offset * 4);
    };
    float one = 1.0f, beta = c.accumulate ? 1.0f : 0.0f;
    void *workspace = reinterpret_cast<void *>(convWorkspace);
    if (c.epilogue != ConvEpilogue::None) {
      // y = relu(conv + alpha2 z + bias); without a residual z is y itself,
      // weighted 0 (cuDNN's documented in-place use).
      float alpha2 = c.residual ? 1.0f : 0.0f, zero = 0.0f;
      void *z = at(c.residual ? c.z : c.y);
      const void *bias = reinterpret_cast<const void *>(
          buffers[c.biasBuffer] + c.biasOffset * 4);
      cudnnStatus_t st = CUDNN_STATUS_NOT_SUPPORTED;
      if (!p.unfused)
        st = dnn.cudnnConvolutionBiasActivationForward(
            dnnHandle, &one, p.x, at(c.x), p.w, at(c.w), p.conv, p.algo,
            workspace, p.workspace, &alpha2, p.y, z, p.bias, bias, p.relu,
            p.y, at(c.y));
      // cuDNN 9 refines NOT_SUPPORTED into sub-codes (3001...): its category.
      if (CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED) {
        // Not every algorithm and shape has the fused form (PyTorch falls
        // back likewise): the convolution, the residual, the bias, the
        // ReLU, in the fused form's order, each a cuDNN call.
        convs[i].unfused = true;
        const char *what = "cudnnConvolutionForward";
        st = dnn.cudnnConvolutionForward(dnnHandle, &one, p.x, at(c.x), p.w,
                                         at(c.w), p.conv, p.algo, workspace,
                                         p.workspace, &zero, p.y, at(c.y));
        if (st == CUDNN_STATUS_SUCCESS && c.residual) {
          what = "cudnnAddTensor (the residual)";
          st = dnn.cudnnAddTensor(dnnHandle, &one, p.y, at(c.z), &one, p.y,
                                  at(c.y));
        }
        if (st == CUDNN_STATUS_SUCCESS) {
          what = "cudnnAddTensor (the bias)";
          st = dnn.cudnnAddTensor(dnnHandle, &one, p.bias, bias, &one, p.y,
                                  at(c.y));
        }
        if (st == CUDNN_STATUS_SUCCESS) {
          what = "cudnnActivationForward (the ReLU)";
          st = dnn.cudnnActivationForward(dnnHandle, p.relu, &one, p.y,
                                          at(c.y), &zero, p.y, at(c.y));
        }
        if (st != CUDNN_STATUS_SUCCESS) {
          error = stepName(i) + ": " + what + " failed: " +
                  dnn.cudnnGetErrorString(st);
          return false;
        }
        return true;
      }
      if (st != CUDNN_STATUS_SUCCESS) {
        error = stepName(i) +
                ": cudnnConvolutionBiasActivationForward failed: " +
                dnn.cudnnGetErrorString(st);
        return false;
      }
      return true;
    }
    cudnnStatus_t st = dnn.cudnnConvolutionForward(
        dnnHandle, &one, p.x, at(c.x), p.w, at(c.w), p.conv, p.algo,
        workspace, p.workspace, &beta, p.y, at(c.y));
    if (st != CUDNN_STATUS_SUCCESS) {
      error = stepName(i) + ": cudnnConvolutionForward failed: " +
              dnn.cudnnGetErrorString(st);
      return false;
    }
    return true;
  }
  std::vector<CUdeviceptr> pointers;
  pointers.reserve(s.args.size());
  for (uint32_t b : s.args)
    pointers.push_back(buffers[b]);
  std::vector<void *> params;
  for (CUdeviceptr &p : pointers)
    params.push_back(&p);
  CUresult r = cu.cuLaunchKernel(functions[i], s.grid[0], s.grid[1], s.grid[2],
                                 s.block[0], s.block[1], s.block[2],
                                 s.sharedBytes, stream, params.data(), nullptr);
  if (r != CUDA_SUCCESS)
    return fail(r, "launching " + stepName(i), error);
  return true;
}

bool CudaExecutable::State::enqueueAll(std::string &error) {
  if (indexStatus) {
    CUresult r = cu.cuMemsetD8Async(indexStatus, 0, 3 * sizeof(int64_t), stream);
    if (r != CUDA_SUCCESS)
      return fail(r, "clearing the index checks' status", error);
  }
  for (size_t i = 0; i < program.steps.size(); ++i)
    if (!enqueue(i, error))
      return false;
  return true;
}

std::unique_ptr<CudaExecutable>
CudaExecutable::create(CudaProgram program,
                       const std::vector<HostBytes> &weights,
                       std::string &error,
                       std::map<const void *, uint64_t> *shared,
                       int requested) {
  std::unique_ptr<CudaExecutable> exe(new CudaExecutable());
  exe->state_ = std::make_unique<State>();
  State &s = *exe->state_;
  s.program = std::move(program);
  const CudaProgram &p = s.program;
  if (!s.cu.open(error))
    return nullptr;
  CUresult r = s.cu.cuInit(0);
  if (r == CUDA_ERROR_NO_DEVICE) {
    error = "no CUDA device (the driver finds none)";
    return nullptr;
  }
  if (r != CUDA_SUCCESS) {
    error = "no CUDA device (cuInit: " + s.describe(r) + ")";
    return nullptr;
  }
  int count = 0;
  if ((r = s.cu.cuDeviceGetCount(&count)) != CUDA_SUCCESS || count == 0) {
    error = "no CUDA device";
    return nullptr;
  }
  int ordinal = requested;
  if (ordinal < 0) {
    ordinal = 0;
    if (const char *env = std::getenv("LLMC_CUDA_DEVICE"))
      ordinal = std::atoi(env);
  }
  if (ordinal < 0 || ordinal >= count) {
    error = "no CUDA device " + std::to_string(ordinal) + " (there are " +
            std::to_string(count) + ")";
    return nullptr;
  }
  int major = 0, minor = 0;
  char name[256] = {};
  if ((r = s.cu.cuDeviceGet(&s.dev, ordinal)) != CUDA_SUCCESS ||
      (r = s.cu.cuDeviceGetAttribute(
           &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, s.dev)) !=
          CUDA_SUCCESS ||
      (r = s.cu.cuDeviceGetAttribute(
           &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, s.dev)) !=
          CUDA_SUCCESS ||
      (r = s.cu.cuDeviceGetName(name, sizeof(name) - 1, s.dev)) !=
          CUDA_SUCCESS) {
    s.fail(r, "querying CUDA device " + std::to_string(ordinal), error);
    return nullptr;
  }
  std::string arch = "sm_" + std::to_string(major * 10 + minor);
  s.device = std::string(name) + " (" + arch + ")";
  int built = std::atoi(p.chip.c_str() + (p.chip.size() > 3 ? 3 : 0));
  if (major * 10 + minor < built) {
    error = "the artifact is for " + p.chip + " but CUDA device " +
            std::to_string(ordinal) + " is " + s.device +
            ": compile it with --target cuda:" + arch;
    return nullptr;
  }
  if ((r = s.cu.cuDevicePrimaryCtxRetain(&s.ctx, s.dev)) != CUDA_SUCCESS ||
      (r = s.cu.cuCtxSetCurrent(s.ctx)) != CUDA_SUCCESS) {
    s.fail(r, "creating a context on " + s.device, error);
    s.ctx = nullptr;
    return nullptr;
  }
  // The cubin when it was built for this device; the PTX, JIT-compiled by
  // the driver, otherwise.
  bool cubin = !p.cubin.empty() && p.chip == arch;
  char log[4096] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log) - 1)};
  r = s.cu.cuModuleLoadDataEx(&s.module, cubin ? p.cubin.data() : p.ptx.c_str(),
                              2, options, values);
  if (r != CUDA_SUCCESS && cubin && !p.ptx.empty()) {
    // A cubin the driver cannot load (a driver older than the toolkit's
    // ptxas): its PTX, which the driver compiles itself.
    cubin = false;
    std::memset(log, 0, sizeof(log));
    // The log's size is in/out: the failed load wrote back the bytes it used.
    values[1] = reinterpret_cast<void *>(sizeof(log) - 1);
    r = s.cu.cuModuleLoadDataEx(&s.module, p.ptx.c_str(), 2, options, values);
  }
  if (r != CUDA_SUCCESS) {
    std::string first(log, strnlen(log, sizeof(log)));
    if (size_t nl = first.find('\n'); nl != std::string::npos)
      first.resize(nl);
    s.fail(r, std::string("loading the kernels' ") + (cubin ? "cubin" : "PTX") +
                  (first.empty() ? "" : " (" + first + ")"),
           error);
    return nullptr;
  }
  s.functions.assign(p.steps.size(), nullptr);
  bool anyGemm = false, anyConv = false;
  for (size_t i = 0; i < p.steps.size(); ++i) {
    if (p.steps[i].kind != CudaStep::Launch) {
      anyGemm |= p.steps[i].kind == CudaStep::Gemm;
      anyConv |= p.steps[i].kind == CudaStep::Conv;
      continue;
    }
    if ((r = s.cu.cuModuleGetFunction(&s.functions[i], s.module,
                                      p.steps[i].kernel.c_str())) !=
        CUDA_SUCCESS) {
      s.fail(r, "finding " + s.stepName(i) + " in the module", error);
      return nullptr;
    }
  }
  if (!p.indexSites.empty()) {
    size_t bytes = 0;
    if ((r = s.cu.cuModuleGetGlobal(&s.indexStatus, &bytes, s.module,
                                    "llmc_index_status")) != CUDA_SUCCESS ||
        bytes < 3 * sizeof(int64_t)) {
      error = "the module lacks its index checks' status (llmc_index_status)";
      return nullptr;
    }
  }
  if ((r = s.cu.cuStreamCreate(&s.stream, CU_STREAM_NON_BLOCKING)) !=
      CUDA_SUCCESS) {
    s.fail(r, "creating a stream", error);
    return nullptr;
  }
  // Device memory: the arena, then every input, output, weight and
  // constant buffer; weights and constants are uploaded now, once.
  s.arena = s.alloc(p.arenaBytes, r);
  if (r != CUDA_SUCCESS)
    return s.fail(r, "allocating the " + std::to_string(p.arenaBytes) +
                         "-byte arena",
                  error),
           nullptr;
  size_t inputs = 0, outputs = 0;
  for (const CudaBuffer &b : p.buffers) {
    if (b.kind == BufferKind::Input)
      inputs = std::max<size_t>(inputs, b.index + 1);
    if (b.kind == BufferKind::Output)
      outputs = std::max<size_t>(outputs, b.index + 1);
  }
  s.inputs.assign(inputs, 0);
  s.outputs.assign(outputs, 0);
  s.weights.assign(weights.size(), 0);
  s.constants.assign(p.constants.size(), 0);
  for (const CudaBuffer &b : p.buffers) {
    std::vector<CUdeviceptr> *list = nullptr;
    switch (b.kind) {
    case BufferKind::Arena:
      s.buffers.push_back(s.arena + b.offset);
      continue;
    case BufferKind::Input:
      list = &s.inputs;
      break;
    case BufferKind::Output:
      list = &s.outputs;
      break;
    case BufferKind::Weight:
      list = &s.weights;
      break;
    case BufferKind::Constant:
      list = &s.constants;
      break;
    }
    if (b.index >= list->size()) {
      error = "malformed CUDA program: buffer index out of range";
      return nullptr;
    }
    // Inputs and outputs get memory of their own when a run first gives
    // them in host memory: one given on the device (a KV cache) never
    // takes room twice.
    if (b.kind == BufferKind::Input || b.kind == BufferKind::Output) {
      s.buffers.push_back(0);
      continue;
    }
    CUdeviceptr &slot = (*list)[b.index];
    if (!slot) {
      const void *host = nullptr;
      if (b.kind == BufferKind::Weight) {
        host = weights[b.index].data;
        if (weights[b.index].bytes != b.bytes) {
          error = "malformed CUDA program: weight " + std::to_string(b.index) +
                  " has the wrong size";
          return nullptr;
        }
      } else if (b.kind == BufferKind::Constant) {
        host = p.constants[b.index].data.data();
        if (p.constants[b.index].data.size() != b.bytes) {
          error = "malformed CUDA program: constant " +
                  std::to_string(b.index) + " has the wrong size";
          return nullptr;
        }
      }
      // A weight another variant of the artifact uploaded is used where
      // it is (it lives as long as this executable).
      if (shared && b.kind == BufferKind::Weight && host && b.bytes) {
        auto it = shared->find(host);
        if (it != shared->end()) {
          slot = static_cast<CUdeviceptr>(it->second);
          s.buffers.push_back(slot);
          continue;
        }
      }
      slot = s.alloc(b.bytes, r);
      if (r != CUDA_SUCCESS)
        return s.fail(r, "allocating " + std::to_string(b.bytes) + " bytes",
                      error),
               nullptr;
      if (shared && b.kind == BufferKind::Weight && host && b.bytes)
        (*shared)[host] = static_cast<uint64_t>(slot);
      if (host && b.bytes &&
          (r = s.cu.cuMemcpyHtoDAsync(slot, host, b.bytes, s.stream)) !=
              CUDA_SUCCESS)
        return s.fail(r, "uploading the weights", error), nullptr;
    }
    s.buffers.push_back(slot);
  }
  if (anyGemm) {
    if (!s.lt.open(error))
      return nullptr;
    cublasStatus_t st = s.lt.cublasLtCreate(&s.ltHandle);
    if (st != CUBLAS_STATUS_SUCCESS) {
      error = "cublasLtCreate failed with cuBLAS status " +
              std::to_string(static_cast<int>(st));
      return nullptr;
    }
    s.workspace = s.alloc(kWorkspaceBytes, r);
    if (r != CUDA_SUCCESS)
      return s.fail(r, "allocating the cuBLASLt workspace", error), nullptr;
    s.gemms.resize(p.steps.size());
    for (size_t i = 0; i < p.steps.size(); ++i)
      if (p.steps[i].kind == CudaStep::Gemm && !s.planGemm(i, error))
        return nullptr;
  }
  if (anyConv) {
    if (!s.dnn.open(error))
      return nullptr;
    cudnnStatus_t st = s.dnn.cudnnCreate(&s.dnnHandle);
    if (st != CUDNN_STATUS_SUCCESS) {
      error = std::string("cudnnCreate failed: ") +
              s.dnn.cudnnGetErrorString(st);
      return nullptr;
    }
    if ((st = s.dnn.cudnnSetStream(s.dnnHandle, s.stream)) !=
        CUDNN_STATUS_SUCCESS) {
      error = std::string("cudnnSetStream failed: ") +
              s.dnn.cudnnGetErrorString(st);
      return nullptr;
    }
    s.convs.resize(p.steps.size());
    for (size_t i = 0; i < p.steps.size(); ++i)
      if (p.steps[i].kind == CudaStep::Conv && !s.planConv(i, error))
        return nullptr;
    // One workspace for all: the steps run one after another on the stream.
    s.convWorkspace = s.alloc(s.convWorkspaceBytes, r);
    if (r != CUDA_SUCCESS)
      return s.fail(r, "allocating the cuDNN workspace", error), nullptr;
  }
  // Events marking each collective's end: how far a device got.
  for (size_t i = 0; i < p.steps.size(); ++i)
    if (p.steps[i].kind == CudaStep::Collective) {
      s.collectiveEvents.resize(p.steps.size(), nullptr);
      if ((r = s.cu.cuEventCreate(&s.collectiveEvents[i],
                                  CU_EVENT_DISABLE_TIMING)) != CUDA_SUCCESS)
        return s.fail(r, "creating CUDA events", error), nullptr;
    }
  if ((r = s.cu.cuStreamSynchronize(s.stream)) != CUDA_SUCCESS)
    return s.fail(r, "uploading the weights", error), nullptr;
  s.own = s.buffers;
  return exe;
}

CudaExecutable::~CudaExecutable() {
  if (!state_ || !state_->cu.library)
    return;
  State &s = *state_;
  if (s.ctx)
    s.cu.cuCtxSetCurrent(s.ctx);
  // A stream left stuck in a collective that was aborted would never
  // drain: its memory stays (the process is about to report and exit).
  if (s.stuck)
    return;
  if (s.stream)
    s.cu.cuStreamSynchronize(s.stream);
  for (CUevent e : s.collectiveEvents)
    if (e)
      s.cu.cuEventDestroy(e);
  if (s.inputsReady)
    s.cu.cuEventDestroy(s.inputsReady);
  if (s.graphExec)
    s.cu.cuGraphExecDestroy(s.graphExec);
  if (s.graph)
    s.cu.cuGraphDestroy(s.graph);
  for (GemmPlan &g : s.gemms) {
    if (g.a)
      s.lt.cublasLtMatrixLayoutDestroy(g.a);
    if (g.b)
      s.lt.cublasLtMatrixLayoutDestroy(g.b);
    if (g.c)
      s.lt.cublasLtMatrixLayoutDestroy(g.c);
    if (g.desc)
      s.lt.cublasLtMatmulDescDestroy(g.desc);
  }
  if (s.ltHandle)
    s.lt.cublasLtDestroy(s.ltHandle);
  for (ConvPlan &c : s.convs) {
    if (c.x)
      s.dnn.cudnnDestroyTensorDescriptor(c.x);
    if (c.y)
      s.dnn.cudnnDestroyTensorDescriptor(c.y);
    if (c.bias)
      s.dnn.cudnnDestroyTensorDescriptor(c.bias);
    if (c.relu)
      s.dnn.cudnnDestroyActivationDescriptor(c.relu);
    if (c.w)
      s.dnn.cudnnDestroyFilterDescriptor(c.w);
    if (c.conv)
      s.dnn.cudnnDestroyConvolutionDescriptor(c.conv);
  }
  if (s.dnnHandle)
    s.dnn.cudnnDestroy(s.dnnHandle);
  for (CUdeviceptr p : s.allocations)
    s.cu.cuMemFree(p);
  if (s.stream)
    s.cu.cuStreamDestroy(s.stream);
  if (s.module)
    s.cu.cuModuleUnload(s.module);
  if (s.ctx)
    s.cu.cuDevicePrimaryCtxRelease(s.dev);
  // The libraries stay loaded: other executables may share them.
}

const CudaProgram &CudaExecutable::program() const { return state_->program; }
const std::string &CudaExecutable::deviceName() const {
  return state_->device;
}

namespace {
/// Uploads inputs, runs `body`, downloads outputs, then waits; a failure
/// anywhere poisons the executable.
/// Waits for the stream to drain: kernel faults surface here, at the
/// latest.
bool synchronize(CudaExecutable::State &s, std::string &error) {
  CUresult r = s.cu.cuStreamSynchronize(s.stream);
  if (r != CUDA_SUCCESS)
    return s.fail(r, "running the model", error);
  return true;
}

/// `bytes` host bytes at each of `data`, as run arguments.
std::vector<CudaArg> hostArgs(const std::vector<HostBytes> &data) {
  std::vector<CudaArg> out;
  for (const HostBytes &h : data)
    out.push_back({const_cast<void *>(h.data), h.bytes, false});
  return out;
}
std::vector<CudaArg> hostArgs(const std::vector<void *> &data) {
  std::vector<CudaArg> out;
  for (void *p : data)
    out.push_back({p, 0, false});
  return out;
}

/// Binds this run's arguments: a device argument replaces the executable's
/// own buffer for it (a donated input's output is that input's memory).
/// False with `error` when an argument is too small, or its output and
/// donated input are not one device buffer. The host arguments are only
/// checked here (uploaded and downloaded by runWith).
bool bindArguments(CudaExecutable::State &s, const std::vector<CudaArg> &in,
                   const std::vector<CudaArg> &out, std::string &error) {
  const std::vector<int> &aliases = s.program.outputAliases;
  for (size_t j = 0; j < out.size(); ++j) {
    int a = j < aliases.size() ? aliases[j] : -1;
    if (a < 0 || static_cast<size_t>(a) >= in.size())
      continue;
    if (out[j].device != in[a].device ||
        (out[j].device && out[j].data != in[a].data)) {
      error = "output " + std::to_string(j) + " is input " +
              std::to_string(a) +
              " updated in place (donated): give both the same " +
              (in[a].device ? "device buffer" : "memory side");
      return false;
    }
  }
  s.buffers = s.own;
  for (size_t k = 0; k < s.program.buffers.size(); ++k) {
    const CudaBuffer &b = s.program.buffers[k];
    const std::vector<CudaArg> *args =
        b.kind == BufferKind::Input    ? &in
        : b.kind == BufferKind::Output ? &out
                                       : nullptr;
    if (!args || b.index >= args->size())
      continue;
    const CudaArg &arg = (*args)[b.index];
    // Output host pointers come without a size (the program's is used).
    if ((arg.device || args == &in) && arg.bytes < b.bytes) {
      error = std::string(args == &in ? "input " : "output ") +
              std::to_string(b.index) + " holds " + std::to_string(arg.bytes) +
              " bytes; the program's buffer has " + std::to_string(b.bytes);
      return false;
    }
    if (arg.device)
      s.buffers[k] = reinterpret_cast<CUdeviceptr>(arg.data);
  }
  return true;
}

/// Uploads the host inputs, runs `body`, downloads the host outputs, then
/// waits (`wait`); a failure anywhere poisons the executable. Device
/// arguments are bound where they are (after the stream that produced
/// them, `producer`, reaches this point).
template <typename Body, typename Wait>
bool runWith(CudaExecutable::State &s, const std::vector<CudaArg> &inputs,
             const std::vector<CudaArg> &outputs, std::string &error,
             Body body, Wait wait, uint64_t producer = 0) {
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.poisoned.empty()) {
    error = "an earlier CUDA error left this executable unusable: " +
            s.poisoned;
    return false;
  }
  auto poison = [&]() {
    s.poisoned = error;
    return false;
  };
  size_t nOut = std::max(s.outputs.size(), s.program.outputAliases.size());
  if (inputs.size() != s.inputs.size() || outputs.size() != nOut) {
    error = "the CUDA program takes " + std::to_string(s.inputs.size()) +
            " inputs and " + std::to_string(nOut) + " outputs";
    return false;
  }
  s.cu.cuCtxSetCurrent(s.ctx);
  bool anyDevice = false;
  for (const std::vector<CudaArg> *args : {&inputs, &outputs})
    for (size_t i = 0; i < args->size(); ++i) {
      const CudaArg &a = (*args)[i];
      if (!a.device)
        continue;
      anyDevice = true;
      std::string why;
      if (!s.checkDevicePointer(reinterpret_cast<CUdeviceptr>(a.data), a.bytes,
                                why)) {
        const std::vector<std::string> &names =
            args == &inputs ? s.program.inputNames : s.program.outputNames;
        error = std::string(args == &inputs ? "input " : "output ") +
                (i < names.size() ? "'" + names[i] + "' "
                                  : std::to_string(i) + ": ") +
                why;
        return false;
      }
    }
  CUresult r;
  // The inputs and outputs given in host memory go through the
  // executable's own buffers, made when first needed.
  for (size_t k = 0; k < s.program.buffers.size(); ++k) {
    const CudaBuffer &b = s.program.buffers[k];
    bool input = b.kind == BufferKind::Input;
    if ((!input && b.kind != BufferKind::Output) || s.own[k] || !b.bytes ||
        (input ? inputs : outputs)[b.index].device)
      continue;
    CUdeviceptr &slot = (input ? s.inputs : s.outputs)[b.index];
    if (!slot && !(slot = s.alloc(b.bytes, r)))
      return s.fail(r, "allocating " + std::to_string(b.bytes) + " bytes for " +
                           (input ? "input " : "output ") +
                           std::to_string(b.index),
                    error);
    s.own[k] = slot;
  }
  if (!bindArguments(s, inputs, outputs, error))
    return false;
  if (anyDevice && producer) {
    if (!s.inputsReady &&
        (r = s.cu.cuEventCreate(&s.inputsReady, CU_EVENT_DISABLE_TIMING)) !=
            CUDA_SUCCESS)
      return s.fail(r, "creating a CUDA event", error);
    if ((r = s.cu.cuEventRecord(s.inputsReady,
                                reinterpret_cast<CUstream>(producer))) !=
            CUDA_SUCCESS ||
        (r = s.cu.cuStreamWaitEvent(s.stream, s.inputsReady, 0)) !=
            CUDA_SUCCESS)
      return s.fail(r, "waiting for the stream that wrote the inputs", error);
  }
  std::vector<bool> uploaded(inputs.size(), false);
  for (size_t k = 0; k < s.program.buffers.size(); ++k) {
    const CudaBuffer &b = s.program.buffers[k];
    if (b.kind != BufferKind::Input || !b.bytes || inputs[b.index].device ||
        uploaded[b.index])
      continue;
    uploaded[b.index] = true;
    if ((r = s.cu.cuMemcpyHtoDAsync(s.buffers[k], inputs[b.index].data,
                                    b.bytes, s.stream)) != CUDA_SUCCESS)
      return s.fail(r, "uploading input " + std::to_string(b.index), error),
             poison();
  }
  if (!body())
    return poison();
  // Host outputs come down: from their buffers, a donated input's from
  // that input's (where this run bound it).
  std::vector<bool> done(nOut, false);
  for (size_t k = 0; k < s.program.buffers.size(); ++k) {
    const CudaBuffer &b = s.program.buffers[k];
    std::vector<size_t> targets;
    if (b.kind == BufferKind::Output)
      targets.push_back(b.index);
    if (b.kind == BufferKind::Input)
      for (size_t j = 0; j < s.program.outputAliases.size(); ++j)
        if (s.program.outputAliases[j] == static_cast<int>(b.index))
          targets.push_back(j);
    for (size_t j : targets) {
      if (!b.bytes || done[j] || outputs[j].device)
        continue;
      done[j] = true;
      if ((r = s.cu.cuMemcpyDtoHAsync(outputs[j].data, s.buffers[k], b.bytes,
                                      s.stream)) != CUDA_SUCCESS)
        return s.fail(r, "downloading output " + std::to_string(j), error),
               poison();
    }
  }
  if (!wait())
    return poison();
  // A gather's or scatter's computed index outside its dim (ONNX makes it
  // an error; the kernel clamped it): the run fails, naming the node. The
  // executable stays usable.
  if (s.indexStatus) {
    int64_t status[3] = {0, 0, 0};
    if ((r = s.cu.cuMemcpyDtoHAsync(status, s.indexStatus, sizeof(status),
                                    s.stream)) != CUDA_SUCCESS ||
        (r = s.cu.cuStreamSynchronize(s.stream)) != CUDA_SUCCESS)
      return s.fail(r, "reading the index checks' status", error), poison();
    if (status[0] != 0) {
      size_t site = static_cast<size_t>(status[0] - 1);
      std::string where = site < s.program.indexSites.size()
                              ? s.program.indexSites[site]
                              : "a gather or scatter";
      error = where + " computed index " + std::to_string(status[1]) +
              " for a dim of " + std::to_string(status[2]) + " (valid: " +
              std::to_string(-status[2]) + " to " +
              std::to_string(status[2] - 1) + ")";
      return false;
    }
  }
  return true;
}

/// Enqueues the steps, or with `graph` replays them as a CUDA graph: the
/// first run eager (cuBLASLt's and cuDNN's first-call set-up must not
/// happen inside a stream capture), the second captured, the rest
/// replayed.
bool enqueueRun(CudaExecutable::State &s, bool graph, std::string &error) {
  if (!graph)
    return s.enqueueAll(error);
  CUresult r;
  if (!s.graphExec && !s.ranEagerly) {
    s.ranEagerly = true;
    return s.enqueueAll(error);
  }
  // The graph holds the addresses it was captured with: a run that binds
  // other device arguments captures it again (a decode loop's donated
  // caches keep theirs, and replay).
  if (s.graphExec && s.captured != s.buffers) {
    s.cu.cuGraphExecDestroy(s.graphExec);
    s.cu.cuGraphDestroy(s.graph);
    s.graphExec = nullptr;
    s.graph = nullptr;
  }
  if (!s.graphExec) {
    s.captured = s.buffers;
    // Capture once: every buffer is at a fixed address, so the graph
    // replays as is.
    if ((r = s.cu.cuStreamBeginCapture(
             s.stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)) != CUDA_SUCCESS)
      return s.fail(r, "starting a CUDA graph capture", error);
    s.capturing = true;
    bool ok = s.enqueueAll(error);
    s.capturing = false;
    r = s.cu.cuStreamEndCapture(s.stream, &s.graph);
    if (!ok)
      return false;
    if (r != CUDA_SUCCESS)
      return s.fail(r, "capturing the CUDA graph", error);
    if ((r = s.cu.cuGraphInstantiateWithFlags(&s.graphExec, s.graph, 0)) !=
        CUDA_SUCCESS)
      return s.fail(r, "instantiating the CUDA graph", error);
  }
  if ((r = s.cu.cuGraphLaunch(s.graphExec, s.stream)) != CUDA_SUCCESS)
    return s.fail(r, "launching the CUDA graph", error);
  s.collectivesIssued = std::count_if(
      s.collectiveEvents.begin(), s.collectiveEvents.end(),
      [](CUevent e) { return e != nullptr; });
  return true;
}
} // namespace

bool CudaExecutable::run(const std::vector<HostBytes> &inputs,
                         const std::vector<void *> &outputs,
                         std::string &error) {
  return run(hostArgs(inputs), hostArgs(outputs), error);
}

bool CudaExecutable::run(const std::vector<CudaArg> &inputs,
                         const std::vector<CudaArg> &outputs,
                         std::string &error, uint64_t producer) {
  State &s = *state_;
  return runWith(
      s, inputs, outputs, error,
      [&]() { return enqueueRun(s, graph_, error); },
      [&]() { return synchronize(s, error); }, producer);
}

bool CudaExecutable::allocate(size_t bytes, uint64_t &pointer,
                              std::string &error) {
  State &s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.cu.cuCtxSetCurrent(s.ctx);
  CUdeviceptr p = 0;
  CUresult r = s.cu.cuMemAlloc(&p, std::max<size_t>(bytes, 1));
  if (r != CUDA_SUCCESS)
    return s.fail(r, "allocating " + std::to_string(bytes) + " bytes on " +
                         s.device,
                  error);
  pointer = static_cast<uint64_t>(p);
  return true;
}

void CudaExecutable::release(uint64_t pointer) {
  State &s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.cu.cuCtxSetCurrent(s.ctx);
  s.cu.cuMemFree(static_cast<CUdeviceptr>(pointer));
}

bool CudaExecutable::copyToDevice(uint64_t to, const void *from, size_t bytes,
                                  std::string &error) {
  State &s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.cu.cuCtxSetCurrent(s.ctx);
  CUresult r;
  if (bytes && ((r = s.cu.cuMemcpyHtoDAsync(static_cast<CUdeviceptr>(to), from,
                                            bytes, s.stream)) != CUDA_SUCCESS ||
                (r = s.cu.cuStreamSynchronize(s.stream)) != CUDA_SUCCESS))
    return s.fail(r, "copying " + std::to_string(bytes) + " bytes to " +
                         s.device,
                  error);
  return true;
}

bool CudaExecutable::copyToHost(void *to, uint64_t from, size_t bytes,
                                std::string &error) {
  State &s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.cu.cuCtxSetCurrent(s.ctx);
  CUresult r;
  if (bytes && ((r = s.cu.cuMemcpyDtoHAsync(to, static_cast<CUdeviceptr>(from),
                                            bytes, s.stream)) != CUDA_SUCCESS ||
                (r = s.cu.cuStreamSynchronize(s.stream)) != CUDA_SUCCESS))
    return s.fail(r, "copying " + std::to_string(bytes) + " bytes from " +
                         s.device,
                  error);
  return true;
}

bool CudaExecutable::State::checkDevicePointer(CUdeviceptr p, size_t bytes,
                                               std::string &error) {
  int ordinal = -1;
  CUdeviceptr base = 0;
  size_t size = 0;
  if (cu.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                               p) != CUDA_SUCCESS ||
      cu.cuMemGetAddressRange(&base, &size, p) != CUDA_SUCCESS) {
    error = "is not CUDA device memory";
    return false;
  }
  if (ordinal != static_cast<int>(dev)) {
    error = "is on CUDA device " + std::to_string(ordinal) +
            "; this executable runs on " + device;
    return false;
  }
  if (p + bytes > base + size) {
    error = "runs past the end of its device allocation (" +
            std::to_string(bytes) + " bytes from offset " +
            std::to_string(p - base) + " of " + std::to_string(size) + ")";
    return false;
  }
  return true;
}

bool CudaExecutable::checkDevicePointer(uint64_t pointer, size_t bytes,
                                        std::string &error) {
  State &s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.cu.cuCtxSetCurrent(s.ctx);
  return s.checkDevicePointer(static_cast<CUdeviceptr>(pointer), bytes, error);
}

bool CudaExecutable::profile(const std::vector<HostBytes> &inputs,
                             const std::vector<void *> &outputs,
                             std::vector<double> &stepMs, std::string &error) {
  State &s = *state_;
  size_t n = s.program.steps.size();
  std::vector<CUevent> events(n + 1, nullptr);
  auto destroy = [&]() {
    for (CUevent e : events)
      if (e)
        s.cu.cuEventDestroy(e);
  };
  CUresult r;
  // Events belong to the current context: make it this executable's first.
  s.cu.cuCtxSetCurrent(s.ctx);
  for (CUevent &e : events)
    if ((r = s.cu.cuEventCreate(&e, CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
      destroy();
      return s.fail(r, "creating CUDA events", error);
    }
  bool ok = runWith(s, hostArgs(inputs), hostArgs(outputs), error, [&]() {
    for (size_t i = 0; i < n; ++i) {
      if ((r = s.cu.cuEventRecord(events[i], s.stream)) != CUDA_SUCCESS)
        return s.fail(r, "recording a CUDA event", error);
      if (!s.enqueue(i, error))
        return false;
    }
    if ((r = s.cu.cuEventRecord(events[n], s.stream)) != CUDA_SUCCESS)
      return s.fail(r, "recording a CUDA event", error);
    return true;
  }, [&]() { return synchronize(s, error); });
  stepMs.assign(n, 0.0);
  for (size_t i = 0; ok && i < n; ++i) {
    float ms = 0;
    if ((r = s.cu.cuEventElapsedTime(&ms, events[i], events[i + 1])) !=
        CUDA_SUCCESS)
      ok = s.fail(r, "reading CUDA event times", error);
    stepMs[i] = ms;
  }
  destroy();
  return ok;
}

//===----------------------------------------------------------------------===//
// A mesh of GPUs in one process
//===----------------------------------------------------------------------===//

struct CudaMesh::Impl {
  MeshShape mesh;
  Nccl nccl;
  std::vector<int> ordinals; // per device of this process
  std::vector<int64_t> ranks; // per device of this process: its mesh rank
  std::vector<std::unique_ptr<CudaExecutable>> devices;
  std::vector<ncclComm_t> comms; // every communicator, for teardown
  /// A job of several processes: how it was launched, whether the
  /// communicators are made yet, and the one over every process (for
  /// gathering outputs).
  bool processes = false;
  ProcessLaunch launch;
  bool connected = false;
  ncclComm_t everyone = nullptr;
  std::atomic<bool> aborted{false};
  bool poisoned = false;
  std::string poison;
  bool graph = false;
  std::mutex mutex; // one run at a time

  /// Aborts every communicator once: NCCL's kernels and any host call
  /// blocked in NCCL return.
  void abortAll() {
    std::lock_guard<std::mutex> lock(abortMutex);
    if (commsAborted)
      return;
    commsAborted = true;
    for (ncclComm_t c : comms)
      nccl.ncclCommAbort(c);
  }
  std::mutex abortMutex;
  bool commsAborted = false;
};

/// The CUDA devices the ranks run on: LLMC_CUDA_DEVICES ("2,3"), else
/// 0..n-1. False with `error` when there are too few or one repeats. In a
/// job of several processes (`process`), this process's one: the
/// LOCAL_RANK-th of the list, else LOCAL_RANK.
static bool meshOrdinals(int64_t n, std::vector<int> &ordinals,
                         std::string &error,
                         const ProcessLaunch *process = nullptr) {
  ordinals.clear();
  const char *env = std::getenv("LLMC_CUDA_DEVICES");
  if (!env || !*env) {
    if (process)
      ordinals.push_back(static_cast<int>(process->localRank));
    else
      for (int64_t i = 0; i < n; ++i)
        ordinals.push_back(static_cast<int>(i));
    return true;
  }
  std::string list = env;
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = list.find(',', at);
    std::string item = list.substr(
        at, comma == std::string::npos ? std::string::npos : comma - at);
    char *end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 0 || v > 4096) {
      error = "--devices (LLMC_CUDA_DEVICES) '" + list +
              "' is not a list of CUDA device numbers, e.g. 0,1";
      return false;
    }
    ordinals.push_back(static_cast<int>(v));
    if (comma == std::string::npos)
      break;
    at = comma + 1;
  }
  std::set<int> seen(ordinals.begin(), ordinals.end());
  if (seen.size() != ordinals.size()) {
    error = "--devices (LLMC_CUDA_DEVICES) '" + list +
            "' names a device twice: NCCL needs a device per rank";
    return false;
  }
  int64_t need = process ? process->localRank + 1 : n;
  if (static_cast<int64_t>(ordinals.size()) < need) {
    error = "--devices (LLMC_CUDA_DEVICES) '" + list + "' names " +
            std::to_string(ordinals.size()) + " devices; " +
            (process ? "this process is local rank " +
                           std::to_string(process->localRank) + " on its host"
                     : "the mesh needs " + std::to_string(n));
    return false;
  }
  if (process)
    ordinals = {ordinals[process->localRank]};
  else
    ordinals.resize(n);
  return true;
}

/// The groups of mesh axis `a`: the ranks whose other coordinates agree,
/// in order of their coordinate on the axis (a group's index is its color
/// in ncclCommSplit).
static std::vector<std::vector<int64_t>> axisGroups(const MeshShape &mesh,
                                                    size_t a) {
  std::vector<std::vector<int64_t>> groups;
  std::map<std::vector<int64_t>, size_t> groupOf;
  for (int64_t rank = 0; rank < mesh.numDevices(); ++rank) {
    std::vector<int64_t> key = mesh.coordinates(rank);
    key[a] = 0;
    auto it = groupOf.emplace(key, groups.size()).first;
    if (it->second == groups.size())
      groups.emplace_back();
    groups[it->second].push_back(rank);
  }
  return groups;
}

std::unique_ptr<CudaMesh>
CudaMesh::create(const CudaProgram &program, const MeshShape &mesh,
                 const std::vector<std::vector<HostBytes>> &weights,
                 std::string &error, const ProcessLaunch *process) {
  std::unique_ptr<CudaMesh> m(new CudaMesh());
  m->impl_ = std::make_unique<Impl>();
  Impl &x = *m->impl_;
  x.mesh = mesh;
  int64_t n = mesh.numDevices();
  std::string meshText;
  for (size_t a = 0; a < mesh.axisNames.size(); ++a)
    meshText += (a ? "," : "") + mesh.axisNames[a] + "=" +
                std::to_string(mesh.axisSizes[a]);
  if (static_cast<int64_t>(weights.size()) != n) {
    error = "malformed CUDA mesh: weights for " +
            std::to_string(weights.size()) + " devices, the mesh has " +
            std::to_string(n);
    return nullptr;
  }
  if (process) {
    if (process->size != n || process->rank < 0 || process->rank >= n) {
      error = "the artifact's mesh " + meshText + " has " + std::to_string(n) +
              " devices; " + process->launcher + " started " +
              std::to_string(process->size) + " processes";
      return nullptr;
    }
    x.processes = true;
    x.launch = *process;
    x.ranks = {process->rank};
  } else {
    for (int64_t rank = 0; rank < n; ++rank)
      x.ranks.push_back(rank);
  }
  if (!meshOrdinals(n, x.ordinals, error, process))
    return nullptr;
  // How many devices there are, before anything is set up on them.
  {
    Driver cu;
    if (!cu.open(error))
      return nullptr;
    int count = 0;
    CUresult r = cu.cuInit(0);
    if (r != CUDA_SUCCESS || cu.cuDeviceGetCount(&count) != CUDA_SUCCESS ||
        count == 0) {
      error = "no CUDA device";
      return nullptr;
    }
    int highest = *std::max_element(x.ordinals.begin(), x.ordinals.end());
    if (highest >= count) {
      std::string there =
          "; there " + (count == 1 ? std::string("is 1")
                                   : "are " + std::to_string(count));
      if (process)
        error = "process " + std::to_string(process->rank) + " (local rank " +
                std::to_string(process->localRank) + ") of the mesh " +
                meshText + " needs CUDA device " + std::to_string(highest) +
                there;
      else
        error = "the artifact's mesh " + meshText + " needs " +
                std::to_string(n) + " CUDA devices" +
                (std::getenv("LLMC_CUDA_DEVICES")
                     ? " (CUDA device " + std::to_string(highest) +
                           " among them)"
                     : std::string()) +
                there;
      return nullptr;
    }
  }
  if (!x.nccl.open(error))
    return nullptr;
  if (process && (!x.nccl.ncclGetUniqueId || !x.nccl.ncclCommInitRankConfig ||
                  !x.nccl.ncclCommSplit || !x.nccl.ncclCommGetAsyncError)) {
    error = "NCCL " + std::to_string(x.nccl.version) +
            " lacks ncclCommSplit: a mesh of several processes needs NCCL "
            "2.18 or newer";
    return nullptr;
  }
  for (size_t i = 0; i < x.ranks.size(); ++i) {
    int64_t rank = x.ranks[i];
    std::string why;
    auto exe = CudaExecutable::create(program, weights[rank], why, nullptr,
                                      x.ordinals[i]);
    if (!exe) {
      error = "device " + std::to_string(rank) + " (CUDA device " +
              std::to_string(x.ordinals[i]) + "): " + why;
      return nullptr;
    }
    CudaExecutable::State &s = *exe->state_;
    s.nccl = &x.nccl;
    s.coords = mesh.coordinates(rank);
    s.axisNames = mesh.axisNames;
    s.comms.assign(mesh.axisSizes.size(), nullptr);
    x.devices.push_back(std::move(exe));
  }
  if (process)
    return m; // the communicators are made by the first run (connect)
  // One communicator per group of each axis.
  for (size_t a = 0; a < mesh.axisSizes.size(); ++a) {
    for (const std::vector<int64_t> &members : axisGroups(mesh, a)) {
      std::vector<int> devs;
      for (int64_t rank : members)
        devs.push_back(x.ordinals[rank]);
      std::vector<ncclComm_t> comms(members.size(), nullptr);
      ncclResult_t r = x.nccl.ncclCommInitAll(
          comms.data(), static_cast<int>(devs.size()), devs.data());
      if (r != ncclSuccess) {
        error = "creating the NCCL communicators of mesh axis '" +
                mesh.axisNames[a] + "': " + x.nccl.describe(r);
        return nullptr;
      }
      for (size_t j = 0; j < members.size(); ++j) {
        x.devices[members[j]]->state_->comms[a] = comms[j];
        x.comms.push_back(comms[j]);
      }
    }
  }
  return m;
}

bool CudaMesh::connect(std::string &error) {
  Impl &x = *impl_;
  if (!x.processes || x.connected)
    return true;
  if (x.poisoned) {
    error = "an earlier failure left this mesh of devices unusable: " +
            x.poison;
    return false;
  }
  auto failed = [&](const std::string &why) {
    error = why;
    x.abortAll();
    x.poisoned = true;
    x.poison = why;
    return false;
  };
  CudaExecutable::State &s = *x.devices[0]->state_;
  int64_t n = x.mesh.numDevices(), rank = x.ranks[0];
  // The unique id: rank 0's, shared by MPI; or the same from NCCL_COMM_ID
  // in every process (NCCL's bootstrap root, started by rank 0).
  ncclUniqueId id{};
  if (x.launch.launcher == "mpirun") {
    if (rank == 0 && x.nccl.ncclGetUniqueId(&id) != ncclSuccess)
      error = "ncclGetUniqueId failed";
    std::string why;
    if (!shareFromRoot(&id, sizeof(id), why))
      error = why;
    if (!error.empty())
      return failed("starting NCCL over the processes: " + error);
  } else {
    if (!std::getenv("NCCL_COMM_ID")) {
      const char *host = std::getenv("MASTER_ADDR");
      const char *port = std::getenv("MASTER_PORT");
      char *end = nullptr;
      long p = port ? std::strtol(port, &end, 10) : 0;
      if (!host || !*host || !port || *end || p <= 0 || p >= 65535)
        return failed("torchrun's environment lacks MASTER_ADDR and "
                      "MASTER_PORT (or set NCCL_COMM_ID=HOST:PORT), which "
                      "NCCL's bootstrap needs");
      // torchrun's own store listens on MASTER_PORT: NCCL's root takes the
      // next port.
      std::string at = std::string(host) + ":" + std::to_string(p + 1);
      setenv("NCCL_COMM_ID", at.c_str(), 0);
    }
    if (ncclResult_t r = x.nccl.ncclGetUniqueId(&id))
      return failed("ncclGetUniqueId failed: " + x.nccl.describe(r));
  }
  s.cu.cuCtxSetCurrent(s.ctx);
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeout_));
  // Waits for a non-blocking call on `comm` to finish.
  auto settle = [&](ncclComm_t comm, ncclResult_t r) {
    while (r == ncclInProgress) {
      if (Clock::now() > deadline)
        return ncclInProgress;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ncclResult_t state = ncclSuccess;
      if (x.nccl.ncclCommGetAsyncError(comm, &state) != ncclSuccess)
        return ncclSystemError;
      r = state;
    }
    return r;
  };
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%g", timeout_);
  std::string late = std::string(" within ") + seconds +
                     " s (--collective-timeout): a process failed, was not "
                     "started, or cannot reach rank 0";
  // The world: non-blocking, so that a process that never comes is waited
  // for only the timeout.
  ncclConfig_t lazy = NCCL_CONFIG_INITIALIZER;
  lazy.blocking = 0;
  ncclComm_t world = nullptr;
  ncclResult_t r = x.nccl.ncclCommInitRankConfig(&world, static_cast<int>(n),
                                                 id, static_cast<int>(rank),
                                                 &lazy);
  if (world)
    x.comms.push_back(world);
  if (r == ncclInProgress && world)
    r = settle(world, r);
  if (r == ncclInProgress)
    return failed("process " + std::to_string(rank) + ": the " +
                  std::to_string(n) + " processes of the mesh did not all "
                  "join NCCL" + late);
  if (r != ncclSuccess)
    return failed("process " + std::to_string(rank) +
                  ": joining the mesh's NCCL communicator: " +
                  x.nccl.describe(r));
  // Split into one communicator per group of each axis (the group's index
  // is its color, the coordinate on the axis its rank), and one over all.
  ncclConfig_t blocking = NCCL_CONFIG_INITIALIZER;
  blocking.blocking = 1;
  auto split = [&](int color, int key, ncclComm_t &out,
                   const std::string &what) {
    ncclResult_t q = x.nccl.ncclCommSplit(world, color, key, &out, &blocking);
    if (out)
      x.comms.push_back(out);
    if (q == ncclInProgress && out)
      q = settle(out, q);
    if (q == ncclSuccess)
      return true;
    failed("process " + std::to_string(rank) + ": making the NCCL "
           "communicator " + what +
           (q == ncclInProgress ? " did not complete" + late
                                : ": " + x.nccl.describe(q)));
    return false;
  };
  std::vector<int64_t> coords = x.mesh.coordinates(rank);
  for (size_t a = 0; a < x.mesh.axisSizes.size(); ++a) {
    std::vector<std::vector<int64_t>> groups = axisGroups(x.mesh, a);
    int color = 0;
    for (size_t g = 0; g < groups.size(); ++g)
      if (std::find(groups[g].begin(), groups[g].end(), rank) !=
          groups[g].end())
        color = static_cast<int>(g);
    if (!split(color, static_cast<int>(coords[a]), s.comms[a],
               "of mesh axis '" + x.mesh.axisNames[a] + "'"))
      return false;
  }
  if (!split(0, static_cast<int>(rank), x.everyone, "over every process"))
    return false;
  x.connected = true;
  return true;
}

bool CudaMesh::gatherAtRoot(const void *part, size_t bytes, void *all,
                            std::string &error) {
  Impl &x = *impl_;
  std::lock_guard<std::mutex> lock(x.mutex);
  if (!x.processes) {
    error = "gathering across processes: this mesh runs in one process";
    return false;
  }
  if (!connect(error))
    return false;
  if (bytes == 0)
    return true;
  CudaExecutable::State &s = *x.devices[0]->state_;
  int64_t n = x.mesh.numDevices(), rank = x.ranks[0];
  s.cu.cuCtxSetCurrent(s.ctx);
  CUdeviceptr buffer = 0;
  CUresult r = s.cu.cuMemAlloc(&buffer, bytes * n);
  if (r != CUDA_SUCCESS)
    return s.fail(r, "allocating the gathered output", error);
  auto release = [&]() { s.cu.cuMemFree(buffer); };
  CUdeviceptr mine = buffer + bytes * rank;
  if ((r = s.cu.cuMemcpyHtoDAsync(mine, part, bytes, s.stream)) !=
      CUDA_SUCCESS) {
    release();
    return s.fail(r, "uploading an output part", error);
  }
  ncclResult_t q = x.nccl.ncclAllGather(
      reinterpret_cast<void *>(mine), reinterpret_cast<void *>(buffer), bytes,
      ncclUint8, x.everyone, s.stream);
  if (q != ncclSuccess) {
    release();
    error = "gathering the outputs at rank 0: ncclAllGather failed: " +
            x.nccl.describe(q);
    return false;
  }
  // Bounded by the timeout, as a run's collectives are.
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  for (;;) {
    r = s.cu.cuStreamQuery(s.stream);
    if (r == CUDA_SUCCESS)
      break;
    if (r != CUDA_ERROR_NOT_READY) {
      release();
      return s.fail(r, "gathering the outputs at rank 0", error);
    }
    if (std::chrono::duration<double>(Clock::now() - start).count() >
        timeout_) {
      char seconds[32];
      std::snprintf(seconds, sizeof(seconds), "%g", timeout_);
      error = "gathering the outputs at rank 0 did not complete within " +
              std::string(seconds) +
              " s (--collective-timeout): a peer did not take part";
      s.stuck = true;
      x.abortAll();
      x.poisoned = true;
      x.poison = error;
      return false; // the buffer stays: the stream may still write it
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (rank == 0 &&
      ((r = s.cu.cuMemcpyDtoHAsync(all, buffer, bytes * n, s.stream)) !=
           CUDA_SUCCESS ||
       (r = s.cu.cuStreamSynchronize(s.stream)) != CUDA_SUCCESS)) {
    release();
    return s.fail(r, "downloading the gathered output", error);
  }
  release();
  return true;
}

CudaMesh::~CudaMesh() {
  if (!impl_)
    return;
  Impl &x = *impl_;
  bool stuck = std::any_of(x.devices.begin(), x.devices.end(),
                           [](const std::unique_ptr<CudaExecutable> &d) {
                             return d->state_->stuck.load();
                           });
  // Communicators go first (their kernels may still run on the streams):
  // destroyed after a clean run, aborted otherwise.
  for (const std::unique_ptr<CudaExecutable> &d : x.devices) {
    CudaExecutable::State &s = *d->state_;
    if (!stuck && s.stream) {
      s.cu.cuCtxSetCurrent(s.ctx);
      s.cu.cuStreamSynchronize(s.stream);
    }
  }
  if (!x.commsAborted)
    for (ncclComm_t c : x.comms)
      stuck ? x.nccl.ncclCommAbort(c) : x.nccl.ncclCommDestroy(c);
  x.devices.clear();
}

void CudaMesh::useGraph(bool on) {
  impl_->graph = on;
  for (auto &d : impl_->devices)
    d->useGraph(on);
}

int64_t CudaMesh::numDevices() const {
  return static_cast<int64_t>(impl_->devices.size());
}

CudaExecutable &CudaMesh::device(int64_t i) { return *impl_->devices[i]; }

int64_t CudaMesh::rankOf(int64_t i) const { return impl_->ranks[i]; }

bool CudaMesh::run(const std::vector<std::vector<HostBytes>> &inputs,
                   const std::vector<std::vector<void *>> &outputs,
                   std::string &error) {
  Impl &x = *impl_;
  std::lock_guard<std::mutex> lock(x.mutex);
  if (x.poisoned) {
    error = "an earlier failure left this mesh of devices unusable: " +
            x.poison;
    return false;
  }
  size_t n = x.devices.size();
  if (inputs.size() != n || outputs.size() != n) {
    error = "the mesh runs " + std::to_string(n) + " devices";
    return false;
  }
  if (!connect(error))
    return false;
  // Progress: steps enqueued and collectives completed, per device.
  std::vector<std::atomic<int64_t>> progress(n);
  std::vector<std::atomic<bool>> finished(n);
  std::vector<std::string> errors(n);
  std::vector<char> abandoned(n, 0);
  for (size_t r = 0; r < n; ++r) {
    progress[r] = 0;
    finished[r] = false;
  }
  x.aborted = false;
  auto device = [&](size_t rank) {
    CudaExecutable::State &s = *x.devices[rank]->state_;
    std::string &why = errors[rank];
    // Drops out when another device failed.
    auto stopped = [&]() {
      if (!x.aborted)
        return false;
      why = "stopped: another device failed";
      abandoned[rank] = 1;
      s.stuck = true;
      return true;
    };
    bool ok = runWith(
        s, hostArgs(inputs[rank]), hostArgs(outputs[rank]), why,
        [&]() {
          s.collectivesIssued = 0;
          if (!enqueueRun(s, x.devices[rank]->graph_, why))
            return false;
          ++progress[rank];
          return true;
        },
        [&]() {
          // Polls instead of blocking, so that a collective that does not
          // complete can be abandoned; counts the collectives done.
          size_t next = 0;
          const std::vector<CUevent> &events = s.collectiveEvents;
          for (;;) {
            CUresult r = s.cu.cuStreamQuery(s.stream);
            if (r == CUDA_SUCCESS)
              return true;
            if (r != CUDA_ERROR_NOT_READY)
              return s.fail(r, "running the model", why);
            while (next < events.size() &&
                   (!events[next] ||
                    s.cu.cuEventQuery(events[next]) == CUDA_SUCCESS)) {
              if (events[next])
                ++progress[rank];
              ++next;
            }
            if (stopped())
              return false;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
          }
        });
    if (!ok && !abandoned[rank])
      x.aborted = true;
    finished[rank] = true;
  };
  std::vector<std::thread> threads;
  for (size_t r = 0; r < n; ++r)
    threads.emplace_back(device, r);
  // The watchdog: a run with no progress for the timeout is stopped.
  using Clock = std::chrono::steady_clock;
  Clock::time_point last = Clock::now();
  int64_t seen = -1;
  bool timedOut = false;
  for (;;) {
    bool all = true;
    int64_t sum = 0;
    for (size_t r = 0; r < n; ++r) {
      all &= finished[r].load();
      sum += progress[r].load();
    }
    if (all)
      break;
    if (sum != seen) {
      seen = sum;
      last = Clock::now();
    }
    if (x.aborted ||
        std::chrono::duration<double>(Clock::now() - last).count() > timeout_) {
      timedOut = !x.aborted;
      x.aborted = true;
      x.abortAll();
      // The threads return now; wait for them.
      for (std::thread &t : threads)
        t.join();
      threads.clear();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (std::thread &t : threads)
    t.join();
  if (!x.aborted)
    return true;
  // The collective that stalled (a device blocked in it fails with NCCL's
  // error once aborted: the stall is the cause), else the first device's
  // own error.
  for (size_t r = 0; r < n && !timedOut; ++r)
    if (!errors[r].empty() && !abandoned[r]) {
      error = "device " + std::to_string(x.ranks[r]) + " (CUDA device " +
              std::to_string(x.ordinals[r]) + "): " + errors[r];
      x.poisoned = true;
      x.poison = error;
      return false;
    }
  if (timedOut) {
    // The device that got least far names the collective it waits in.
    size_t slowest = 0;
    int64_t least = std::numeric_limits<int64_t>::max();
    std::vector<int64_t> done(n, 0);
    for (size_t r = 0; r < n; ++r) {
      CudaExecutable::State &s = *x.devices[r]->state_;
      s.cu.cuCtxSetCurrent(s.ctx);
      for (CUevent e : s.collectiveEvents) {
        if (!e)
          continue;
        if (done[r] >= s.collectivesIssued ||
            s.cu.cuEventQuery(e) != CUDA_SUCCESS)
          break;
        ++done[r];
      }
      if (done[r] < least) {
        least = done[r];
        slowest = r;
      }
    }
    CudaExecutable::State &s = *x.devices[slowest]->state_;
    std::string what = "a collective";
    int64_t k = 0;
    for (size_t i = 0; i < s.program.steps.size(); ++i)
      if (s.program.steps[i].kind == CudaStep::Collective && k++ == least) {
        what = s.stepName(i);
        break;
      }
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", timeout_);
    error = what + " did not complete within " + seconds +
            " s (--collective-timeout) on device " +
            std::to_string(x.ranks[slowest]) +
            " (CUDA device " + std::to_string(x.ordinals[slowest]) +
            "): a peer did not take part, or the device hung";
  } else {
    error = "the mesh run was stopped";
  }
  x.poisoned = true;
  x.poison = error;
  return false;
}

#pragma GCC diagnostic pop
#endif // LLMC_HAVE_CUDA_HEADERS
