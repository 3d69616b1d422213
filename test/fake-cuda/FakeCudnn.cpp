//===- FakeCudnn.cpp - A fake cuDNN 9 that records what it is asked -------===//
//
// The runtime opens it from LLMC_CUDNN. Convolutions compute nothing; they
// check what cuDNN itself would: the output shape follows from the input,
// filter and convolution descriptors, every tensor lies in device memory,
// the workspace is as large as the algorithm needs, the fused form gets a
// ReLU or identity activation and a 1 x K x 1 x 1 bias.
// FAKE_CUDNN_FUSED_STATUS=N makes the fused form answer N (cuDNN 9 refines
// NOT_SUPPORTED into sub-codes 3001...3014).
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

// cuDNN 9 marks the convolution API deprecated in favour of the graph API.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <cudnn.h>

#include <algorithm>
#include <cstdlib>
#include <string>

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  bool set = false;
  int dims[4] = {0, 0, 0, 0}, strides[4] = {0, 0, 0, 0};
};
struct cudnnFilterStruct {
  bool set = false;
  int dims[4] = {0, 0, 0, 0}; // K, C / group, R, S
};
struct cudnnConvolutionStruct {
  bool set = false;
  int pad[2] = {0, 0}, stride[2] = {1, 1}, dilation[2] = {1, 1};
  int group = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
struct cudnnActivationStruct {
  bool set = false;
  cudnnActivationMode_t mode = CUDNN_ACTIVATION_RELU;
};

namespace {
/// The workspace the fake's algorithms need (IMPLICIT_PRECOMP_GEMM some,
/// the rest none), so that a missing workspace shows.
constexpr size_t kPrecompWorkspace = 2048;

size_t workspaceFor(cudnnConvolutionFwdAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM
             ? kPrecompWorkspace
             : 0;
}

std::string shape(const cudnnTensorStruct *t) {
  if (!t || !t->set)
    return "unset";
  return std::to_string(t->dims[0]) + "x" + std::to_string(t->dims[1]) + "x" +
         std::to_string(t->dims[2]) + "x" + std::to_string(t->dims[3]);
}

/// The bytes an fp32 tensor spans from its first element.
size_t spanBytes(const cudnnTensorStruct &t) {
  size_t last = 0;
  for (int i = 0; i < 4; ++i) {
    if (t.dims[i] == 0)
      return 0;
    last += size_t(t.dims[i] - 1) * t.strides[i];
  }
  return (last + 1) * 4;
}

const char *activationName(cudnnActivationMode_t mode) {
  switch (mode) {
  case CUDNN_ACTIVATION_SIGMOID:
    return "SIGMOID";
  case CUDNN_ACTIVATION_RELU:
    return "RELU";
  case CUDNN_ACTIVATION_TANH:
    return "TANH";
  case CUDNN_ACTIVATION_CLIPPED_RELU:
    return "CLIPPED_RELU";
  case CUDNN_ACTIVATION_ELU:
    return "ELU";
  case CUDNN_ACTIVATION_IDENTITY:
    return "IDENTITY";
  default:
    return "OTHER";
  }
}

cudnnStatus_t refuse(const char *fn, const char *why, cudnnStatus_t status) {
  fakeCudaTrace("%s -> %d (%s)", fn, static_cast<int>(status), why);
  return status;
}

/// Checks a convolution's descriptors and memory as cuDNN does; the
/// status, and a reason traced under `fn` when it is not SUCCESS.
cudnnStatus_t checkConvolution(const char *fn, cudnnHandle_t handle,
                               const cudnnTensorStruct *x, const void *xData,
                               const cudnnFilterStruct *w, const void *wData,
                               const cudnnConvolutionStruct *conv,
                               cudnnConvolutionFwdAlgo_t algo, void *workspace,
                               size_t workspaceBytes,
                               const cudnnTensorStruct *y, const void *yData) {
  if (!handle || !x || !w || !conv || !y || !x->set || !w->set || !conv->set ||
      !y->set)
    return refuse(fn, "a descriptor is null or unset", CUDNN_STATUS_BAD_PARAM);
  bool agree = x->dims[1] == w->dims[1] * conv->group &&
               y->dims[0] == x->dims[0] && y->dims[1] == w->dims[0] &&
               w->dims[0] % conv->group == 0;
  for (int i = 0; i < 2; ++i) {
    int extent = conv->dilation[i] * (w->dims[2 + i] - 1) + 1;
    int out =
        (x->dims[2 + i] + 2 * conv->pad[i] - extent) / conv->stride[i] + 1;
    agree = agree && y->dims[2 + i] == out;
  }
  if (!agree)
    return refuse(fn, "shapes do not agree",
                  CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH);
  size_t filterBytes =
      size_t(w->dims[0]) * w->dims[1] * w->dims[2] * w->dims[3] * 4;
  if (!fakeCudaIsDeviceRange(xData, spanBytes(*x)) ||
      !fakeCudaIsDeviceRange(wData, filterBytes) ||
      !fakeCudaIsDeviceRange(yData, spanBytes(*y)))
    return refuse(fn, "a tensor outside device memory",
                  CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND);
  if (workspaceBytes < workspaceFor(algo) ||
      (workspaceBytes && !fakeCudaIsDeviceRange(workspace, workspaceBytes)))
    return refuse(fn, "workspace too small",
                  CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT);
  return CUDNN_STATUS_SUCCESS;
}
} // namespace

extern "C" {

cudnnStatus_t CUDNNWINAPI cudnnCreate(cudnnHandle_t *handle) {
  fakeCudaTrace("cudnnCreate");
  *handle = new cudnnContext;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroy(cudnnHandle_t handle) {
  fakeCudaTrace("cudnnDestroy");
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetStream(cudnnHandle_t handle,
                                         cudaStream_t streamId) {
  fakeCudaTrace("cudnnSetStream");
  handle->stream = streamId;
  return CUDNN_STATUS_SUCCESS;
}

const char *CUDNNWINAPI cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
#define FAKE_CUDNN_NAME(code)                                                  \
  case code:                                                                   \
    return #code;
    FAKE_CUDNN_NAME(CUDNN_STATUS_SUCCESS)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_INITIALIZED)
    FAKE_CUDNN_NAME(CUDNN_STATUS_BAD_PARAM)
    FAKE_CUDNN_NAME(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
    FAKE_CUDNN_NAME(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
    FAKE_CUDNN_NAME(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
    FAKE_CUDNN_NAME(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
    FAKE_CUDNN_NAME(CUDNN_STATUS_INTERNAL_ERROR)
    FAKE_CUDNN_NAME(CUDNN_STATUS_EXECUTION_FAILED)
#undef FAKE_CUDNN_NAME
  default:
    return "CUDNN_STATUS_UNKNOWN (fake cuDNN)";
  }
}

cudnnStatus_t CUDNNWINAPI
cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc) {
  *tensorDesc = new cudnnTensorStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetTensor4dDescriptorEx(
    cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType, int n, int c,
    int h, int w, int nStride, int cStride, int hStride, int wStride) {
  fakeCudaTrace("cudnnSetTensor4dDescriptorEx %dx%dx%dx%d strides "
                "%d,%d,%d,%d",
                n, c, h, w, nStride, cStride, hStride, wStride);
  if (dataType != CUDNN_DATA_FLOAT || n <= 0 || c <= 0 || h <= 0 || w <= 0 ||
      nStride <= 0 || cStride <= 0 || hStride <= 0 || wStride <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *tensorDesc = cudnnTensorStruct{
      true, {n, c, h, w}, {nStride, cStride, hStride, wStride}};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
  delete tensorDesc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *filterDesc) {
  *filterDesc = new cudnnFilterStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetFilter4dDescriptor(
    cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
    cudnnTensorFormat_t format, int k, int c, int h, int w) {
  fakeCudaTrace("cudnnSetFilter4dDescriptor %dx%dx%dx%d", k, c, h, w);
  if (dataType != CUDNN_DATA_FLOAT || format != CUDNN_TENSOR_NCHW || k <= 0 ||
      c <= 0 || h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *filterDesc = cudnnFilterStruct{true, {k, c, h, w}};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
  delete filterDesc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *convDesc) {
  *convDesc = new cudnnConvolutionStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetConvolution2dDescriptor(
    cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v,
    int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
    cudnnDataType_t computeType) {
  fakeCudaTrace("cudnnSetConvolution2dDescriptor pad=%d,%d stride=%d,%d "
                "dilation=%d,%d",
                pad_h, pad_w, u, v, dilation_h, dilation_w);
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 ||
      dilation_w <= 0 || computeType != CUDNN_DATA_FLOAT)
    return CUDNN_STATUS_BAD_PARAM;
  convDesc->set = true;
  convDesc->pad[0] = pad_h;
  convDesc->pad[1] = pad_w;
  convDesc->stride[0] = u;
  convDesc->stride[1] = v;
  convDesc->dilation[0] = dilation_h;
  convDesc->dilation[1] = dilation_w;
  (void)mode;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetConvolutionGroupCount(
    cudnnConvolutionDescriptor_t convDesc, int groupCount) {
  if (groupCount < 1)
    return CUDNN_STATUS_BAD_PARAM;
  convDesc->group = groupCount;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetConvolutionMathType(
    cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType) {
  convDesc->math = mathType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
  delete convDesc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int *count) {
  *count = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc,
    const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount,
    int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults) {
  fakeCudaTrace("cudnnGetConvolutionForwardAlgorithm_v7");
  // Ranked as cuDNN might: a tensor-core form first (fp32 runs must skip
  // it), then the FMA one, then one over any workspace limit, then one
  // that does not apply.
  auto perf = [](cudnnConvolutionFwdAlgo_t algo, cudnnStatus_t status,
                 size_t memory, cudnnMathType_t math) {
    cudnnConvolutionFwdAlgoPerf_t p{};
    p.algo = algo;
    p.status = status;
    p.time = 0.1f;
    p.memory = memory;
    p.determinism = CUDNN_DETERMINISTIC;
    p.mathType = math;
    return p;
  };
  const cudnnConvolutionFwdAlgoPerf_t ranked[] = {
      perf(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
           CUDNN_STATUS_SUCCESS, kPrecompWorkspace, CUDNN_TENSOR_OP_MATH),
      perf(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
           CUDNN_STATUS_SUCCESS, kPrecompWorkspace, CUDNN_FMA_MATH),
      perf(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, CUDNN_STATUS_SUCCESS,
           size_t(1) << 40, CUDNN_FMA_MATH),
      perf(CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_STATUS_NOT_SUPPORTED, 0,
           CUDNN_DEFAULT_MATH),
  };
  if (!handle || !srcDesc || !filterDesc || !convDesc || !destDesc ||
      requestedAlgoCount < 1)
    return CUDNN_STATUS_BAD_PARAM;
  int n = std::min<int>(requestedAlgoCount, sizeof(ranked) / sizeof(*ranked));
  for (int i = 0; i < n; ++i)
    perfResults[i] = ranked[i];
  *returnedAlgoCount = n;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionForward(
    cudnnHandle_t handle, const void *alpha,
    const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
    void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnTensorDescriptor_t yDesc, void *y) {
  const char *fn = "cudnnConvolutionForward";
  if (cudnnStatus_t st =
          checkConvolution(fn, handle, xDesc, x, wDesc, w, convDesc, algo,
                           workSpace, workSpaceSizeInBytes, yDesc, y))
    return st;
  if (!alpha || !beta)
    return refuse(fn, "null scale", CUDNN_STATUS_BAD_PARAM);
  const char *how = fakeCudaDeviceWork(handle->stream, fn);
  fakeCudaTrace("%s algo=%d workspace=%zu beta=%g %s", fn,
                static_cast<int>(algo), workSpaceSizeInBytes,
                *static_cast<const float *>(beta), how);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *activationDesc) {
  *activationDesc = new cudnnActivationStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetActivationDescriptor(
    cudnnActivationDescriptor_t activationDesc, cudnnActivationMode_t mode,
    cudnnNanPropagation_t reluNanOpt, double coef) {
  fakeCudaTrace(
      "cudnnSetActivationDescriptor mode=%s nan=%s coef=%.17g",
      activationName(mode),
      reluNanOpt == CUDNN_PROPAGATE_NAN ? "PROPAGATE" : "NOT_PROPAGATE", coef);
  activationDesc->set = true;
  activationDesc->mode = mode;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI
cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t activationDesc) {
  delete activationDesc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionBiasActivationForward(
    cudnnHandle_t handle, const void *alpha1,
    const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
    void *workSpace, size_t workSpaceSizeInBytes, const void *alpha2,
    const cudnnTensorDescriptor_t zDesc, const void *z,
    const cudnnTensorDescriptor_t biasDesc, const void *bias,
    const cudnnActivationDescriptor_t activationDesc,
    const cudnnTensorDescriptor_t yDesc, void *y) {
  const char *fn = "cudnnConvolutionBiasActivationForward";
  if (cudnnStatus_t st =
          checkConvolution(fn, handle, xDesc, x, wDesc, w, convDesc, algo,
                           workSpace, workSpaceSizeInBytes, yDesc, y))
    return st;
  if (!alpha1 || !alpha2 || !zDesc || !zDesc->set || !biasDesc ||
      !biasDesc->set || !activationDesc || !activationDesc->set)
    return refuse(fn, "a descriptor is null or unset", CUDNN_STATUS_BAD_PARAM);
  // cuDNN's documented limits of the fused form.
  bool biasShape = biasDesc->dims[0] == 1 &&
                   biasDesc->dims[1] == yDesc->dims[1] &&
                   biasDesc->dims[2] == 1 && biasDesc->dims[3] == 1;
  bool zShape = true;
  for (int i = 0; i < 4; ++i)
    zShape = zShape && zDesc->dims[i] == yDesc->dims[i];
  if (!biasShape || !zShape)
    return refuse(fn, "bias or z shape", CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH);
  if (!fakeCudaIsDeviceRange(z, spanBytes(*zDesc)) ||
      !fakeCudaIsDeviceRange(bias, spanBytes(*biasDesc)))
    return refuse(fn, "z or bias outside device memory",
                  CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND);
  if (activationDesc->mode != CUDNN_ACTIVATION_RELU &&
      !(activationDesc->mode == CUDNN_ACTIVATION_IDENTITY &&
        algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM))
    return refuse(fn, "activation", CUDNN_STATUS_NOT_SUPPORTED);
  auto status = static_cast<cudnnStatus_t>(
      std::strtol(std::getenv("FAKE_CUDNN_FUSED_STATUS")
                      ? std::getenv("FAKE_CUDNN_FUSED_STATUS")
                      : "0",
                  nullptr, 10));
  const char *how = status == CUDNN_STATUS_SUCCESS
                        ? fakeCudaDeviceWork(handle->stream, fn)
                        : "refused";
  fakeCudaTrace("%s algo=%d z=%s alpha2=%g bias=%s activation=%s %s -> %d", fn,
                static_cast<int>(algo), shape(zDesc).c_str(),
                *static_cast<const float *>(alpha2), shape(biasDesc).c_str(),
                activationName(activationDesc->mode), how,
                static_cast<int>(status));
  return status;
}

cudnnStatus_t CUDNNWINAPI cudnnAddTensor(cudnnHandle_t handle,
                                         const void *alpha,
                                         const cudnnTensorDescriptor_t aDesc,
                                         const void *A, const void *beta,
                                         const cudnnTensorDescriptor_t cDesc,
                                         void *C) {
  const char *fn = "cudnnAddTensor";
  if (!handle || !alpha || !beta || !aDesc || !cDesc || !aDesc->set ||
      !cDesc->set)
    return refuse(fn, "a descriptor is null or unset", CUDNN_STATUS_BAD_PARAM);
  // A broadcasts into C: each of its dimensions is C's or 1.
  for (int i = 0; i < 4; ++i)
    if (aDesc->dims[i] != cDesc->dims[i] && aDesc->dims[i] != 1)
      return refuse(fn, "A does not broadcast to C",
                    CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH);
  if (!fakeCudaIsDeviceRange(A, spanBytes(*aDesc)) ||
      !fakeCudaIsDeviceRange(C, spanBytes(*cDesc)))
    return refuse(fn, "a tensor outside device memory",
                  CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND);
  const char *how = fakeCudaDeviceWork(handle->stream, fn);
  fakeCudaTrace("%s %s + %s %s", fn, shape(aDesc).c_str(), shape(cDesc).c_str(),
                how);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnActivationForward(
    cudnnHandle_t handle, cudnnActivationDescriptor_t activationDesc,
    const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x,
    const void *beta, const cudnnTensorDescriptor_t yDesc, void *y) {
  const char *fn = "cudnnActivationForward";
  if (!handle || !activationDesc || !activationDesc->set || !alpha || !beta ||
      !xDesc || !yDesc || !xDesc->set || !yDesc->set)
    return refuse(fn, "a descriptor is null or unset", CUDNN_STATUS_BAD_PARAM);
  if (!fakeCudaIsDeviceRange(x, spanBytes(*xDesc)) ||
      !fakeCudaIsDeviceRange(y, spanBytes(*yDesc)))
    return refuse(fn, "a tensor outside device memory",
                  CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND);
  const char *how = fakeCudaDeviceWork(handle->stream, fn);
  fakeCudaTrace("%s mode=%s %s %s", fn, activationName(activationDesc->mode),
                shape(yDesc).c_str(), how);
  return CUDNN_STATUS_SUCCESS;
}

} // extern "C"

#pragma GCC diagnostic pop
