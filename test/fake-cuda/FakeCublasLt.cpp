//===- FakeCublasLt.cpp - A fake cuBLASLt that records what it is asked ---===//
//
// The runtime opens it from LLMC_CUBLASLT. A matmul computes nothing; it
// checks what cuBLASLt itself would: the shapes agree, every operand lies
// in device memory, and the pointers are as aligned as the algorithm was
// chosen for. That last one is why the bias pointer matters before the
// heuristic: cuBLASLt reads the alignment off CUBLASLT_MATMUL_DESC_BIAS_POINTER
// there, and a null pointer counts as perfectly aligned.
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <cublasLt.h>

#include <cinttypes>
#include <cstring>
#include <string>

struct cublasLtContext {
  int unused = 0;
};

namespace {
/// What the fake keeps behind cuBLASLt's opaque handles.
struct MatmulDesc {
  cublasOperation_t transA = CUBLAS_OP_N, transB = CUBLAS_OP_N;
  uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void *bias = nullptr;
  bool biasTypeSet = false;
  cudaDataType_t biasType = CUDA_R_32F;
};
struct Layout {
  cudaDataType_t type = CUDA_R_32F;
  uint64_t rows = 0, cols = 0;
  int64_t ld = 0, batchStride = 0;
  int32_t batch = 1;
};
struct Preference {
  uint64_t workspace = 0;
  uint32_t align[4] = {256, 256, 256, 256}; // A, B, C, D
};

MatmulDesc *desc(cublasLtMatmulDesc_t d) {
  return reinterpret_cast<MatmulDesc *>(d);
}
Layout *layout(cublasLtMatrixLayout_t l) {
  return reinterpret_cast<Layout *>(l);
}
Preference *preference(cublasLtMatmulPreference_t p) {
  return reinterpret_cast<Preference *>(p);
}

/// Tags what the fake's heuristic put in an algorithm.
constexpr uint64_t kAlgoMagic = 0xfa4ec0b1a5;

/// The largest power of two, at most 256, dividing `p` (null: 256).
uint32_t alignmentOf(const void *p) {
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a != 0)
    a /= 2;
  return a;
}

size_t elementBytes(cudaDataType_t t) {
  switch (t) {
  case CUDA_R_64F:
    return 8;
  case CUDA_R_16F:
  case CUDA_R_16BF:
    return 2;
  default:
    return 4;
  }
}

/// The bytes a column-major batched matrix spans from its first element.
size_t spanBytes(const Layout &l) {
  if (l.rows == 0 || l.cols == 0)
    return 0;
  uint64_t elements = (l.batch - 1) * static_cast<uint64_t>(l.batchStride) +
                      (l.cols - 1) * static_cast<uint64_t>(l.ld) + l.rows;
  return elements * elementBytes(l.type);
}

std::string epilogueName(uint32_t e) {
  switch (e) {
  case CUBLASLT_EPILOGUE_DEFAULT:
    return "DEFAULT";
  case CUBLASLT_EPILOGUE_RELU:
    return "RELU";
  case CUBLASLT_EPILOGUE_BIAS:
    return "BIAS";
  case CUBLASLT_EPILOGUE_RELU_BIAS:
    return "RELU_BIAS";
  case CUBLASLT_EPILOGUE_GELU:
    return "GELU";
  case CUBLASLT_EPILOGUE_GELU_BIAS:
    return "GELU_BIAS";
  default:
    return std::to_string(e);
  }
}

bool hasBias(uint32_t epilogue) {
  return (epilogue & CUBLASLT_EPILOGUE_BIAS) != 0;
}

/// Copies the attribute's value, refusing a size that does not match.
template <typename T> bool read(T &to, const void *buf, size_t bytes) {
  if (bytes != sizeof(T) || !buf)
    return false;
  std::memcpy(&to, buf, sizeof(T));
  return true;
}
} // namespace

extern "C" {

cublasStatus_t CUBLASWINAPI cublasLtCreate(cublasLtHandle_t *handle) {
  fakeCudaTrace("cublasLtCreate");
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtDestroy(cublasLtHandle_t handle) {
  fakeCudaTrace("cublasLtDestroy");
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescCreate(
    cublasLtMatmulDesc_t *matmulDesc, cublasComputeType_t computeType,
    cudaDataType_t scaleType) {
  fakeCudaTrace("cublasLtMatmulDescCreate compute=%d scale=%d",
                static_cast<int>(computeType), static_cast<int>(scaleType));
  *matmulDesc = reinterpret_cast<cublasLtMatmulDesc_t>(new MatmulDesc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI
cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc) {
  delete desc(matmulDesc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescSetAttribute(
    cublasLtMatmulDesc_t matmulDesc, cublasLtMatmulDescAttributes_t attr,
    const void *buf, size_t sizeInBytes) {
  MatmulDesc &d = *desc(matmulDesc);
  bool ok = true;
  switch (attr) {
  case CUBLASLT_MATMUL_DESC_TRANSA:
    ok = read(d.transA, buf, sizeInBytes);
    fakeCudaTrace("cublasLtMatmulDescSetAttribute TRANSA %d", d.transA);
    break;
  case CUBLASLT_MATMUL_DESC_TRANSB:
    ok = read(d.transB, buf, sizeInBytes);
    fakeCudaTrace("cublasLtMatmulDescSetAttribute TRANSB %d", d.transB);
    break;
  case CUBLASLT_MATMUL_DESC_EPILOGUE:
    ok = read(d.epilogue, buf, sizeInBytes);
    fakeCudaTrace("cublasLtMatmulDescSetAttribute EPILOGUE %s",
                  epilogueName(d.epilogue).c_str());
    break;
  case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
    ok = read(d.bias, buf, sizeInBytes);
    fakeCudaTrace("cublasLtMatmulDescSetAttribute BIAS_POINTER align=%u",
                  alignmentOf(d.bias));
    break;
  case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE:
    ok = read(d.biasType, buf, sizeInBytes);
    d.biasTypeSet = true;
    fakeCudaTrace("cublasLtMatmulDescSetAttribute BIAS_DATA_TYPE %d",
                  static_cast<int>(d.biasType));
    break;
  case CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE:
    fakeCudaTrace("cublasLtMatmulDescSetAttribute BIAS_BATCH_STRIDE");
    break;
  default:
    fakeCudaTrace("cublasLtMatmulDescSetAttribute %d", static_cast<int>(attr));
    break;
  }
  return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t CUBLASWINAPI
cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *matLayout, cudaDataType type,
                           uint64_t rows, uint64_t cols, int64_t ld) {
  fakeCudaTrace("cublasLtMatrixLayoutCreate %" PRIu64 "x%" PRIu64
                " ld=%" PRId64,
                rows, cols, ld);
  // Column-major: the leading dimension covers a column.
  if (rows > 0 && ld < static_cast<int64_t>(rows))
    return CUBLAS_STATUS_INVALID_VALUE;
  auto *l = new Layout;
  l->type = type;
  l->rows = rows;
  l->cols = cols;
  l->ld = ld;
  *matLayout = reinterpret_cast<cublasLtMatrixLayout_t>(l);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI
cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout) {
  delete layout(matLayout);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutSetAttribute(
    cublasLtMatrixLayout_t matLayout, cublasLtMatrixLayoutAttribute_t attr,
    const void *buf, size_t sizeInBytes) {
  Layout &l = *layout(matLayout);
  bool ok = true;
  if (attr == CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT)
    ok = read(l.batch, buf, sizeInBytes) && l.batch >= 1;
  else if (attr == CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET)
    ok = read(l.batchStride, buf, sizeInBytes);
  return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t CUBLASWINAPI
cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
  *pref = reinterpret_cast<cublasLtMatmulPreference_t>(new Preference);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI
cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  delete preference(pref);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceSetAttribute(
    cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr,
    const void *buf, size_t sizeInBytes) {
  Preference &p = *preference(pref);
  switch (attr) {
  case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
    return read(p.workspace, buf, sizeInBytes) ? CUBLAS_STATUS_SUCCESS
                                               : CUBLAS_STATUS_INVALID_VALUE;
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
    return read(p.align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf,
                sizeInBytes)
               ? CUBLAS_STATUS_SUCCESS
               : CUBLAS_STATUS_INVALID_VALUE;
  default:
    return CUBLAS_STATUS_SUCCESS;
  }
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc,
    cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
    cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t pref, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
    int *returnAlgoCount) {
  const MatmulDesc &d = *desc(operationDesc);
  // The algorithm is picked for the bias pointer's alignment as it is now.
  std::string bias;
  if (hasBias(d.epilogue))
    bias = d.bias ? " bias=align" + std::to_string(alignmentOf(d.bias))
                  : std::string(" bias=unset");
  fakeCudaTrace("cublasLtMatmulAlgoGetHeuristic epilogue=%s%s",
                epilogueName(d.epilogue).c_str(), bias.c_str());
  if (!lightHandle || !Adesc || !Bdesc || !Cdesc || !Ddesc || !pref ||
      requestedAlgoCount < 1)
    return CUBLAS_STATUS_INVALID_VALUE;
  const Preference &p = *preference(pref);
  cublasLtMatmulHeuristicResult_t &r = heuristicResultsArray[0];
  std::memset(&r, 0, sizeof(r));
  // The alignments this algorithm counts on, checked by cublasLtMatmul.
  r.algo.data[0] = kAlgoMagic;
  for (int i = 0; i < 4; ++i)
    r.algo.data[1 + i] = p.align[i];
  r.algo.data[5] = alignmentOf(d.bias);
  r.workspaceSize = 0;
  r.state = CUBLAS_STATUS_SUCCESS;
  r.wavesCount = 1.0f;
  *returnAlgoCount = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmul(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc,
    const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
    const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
    const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
    cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
    void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream) {
  const MatmulDesc &d = *desc(computeDesc);
  auto refuse = [&](const char *why, cublasStatus_t status) {
    fakeCudaTrace("cublasLtMatmul -> %d (%s)", static_cast<int>(status), why);
    return status;
  };
  if (!lightHandle || !alpha || !beta || !algo)
    return refuse("null argument", CUBLAS_STATUS_INVALID_VALUE);
  if (algo->data[0] != kAlgoMagic)
    return refuse("not an algorithm from the heuristic",
                  CUBLAS_STATUS_INVALID_VALUE);
  const Layout &a = *layout(Adesc), &b = *layout(Bdesc), &c = *layout(Cdesc),
               &dl = *layout(Ddesc);
  // D (m x n) = op(A) (m x k) op(B) (k x n) + C.
  uint64_t m = dl.rows, n = dl.cols;
  uint64_t aRows = d.transA == CUBLAS_OP_N ? a.rows : a.cols;
  uint64_t k = d.transA == CUBLAS_OP_N ? a.cols : a.rows;
  uint64_t bRows = d.transB == CUBLAS_OP_N ? b.rows : b.cols;
  uint64_t bCols = d.transB == CUBLAS_OP_N ? b.cols : b.rows;
  if (aRows != m || bRows != k || bCols != n || c.rows != m || c.cols != n)
    return refuse("shapes do not agree", CUBLAS_STATUS_INVALID_VALUE);
  if (a.batch != dl.batch || b.batch != dl.batch || c.batch != dl.batch)
    return refuse("batch counts differ", CUBLAS_STATUS_INVALID_VALUE);
  if (!fakeCudaIsDeviceRange(A, spanBytes(a)) ||
      !fakeCudaIsDeviceRange(B, spanBytes(b)) ||
      !fakeCudaIsDeviceRange(C, spanBytes(c)) ||
      !fakeCudaIsDeviceRange(D, spanBytes(dl)))
    return refuse("an operand outside device memory",
                  CUBLAS_STATUS_INVALID_VALUE);
  if (workspaceSizeInBytes &&
      !fakeCudaIsDeviceRange(workspace, workspaceSizeInBytes))
    return refuse("the workspace outside device memory",
                  CUBLAS_STATUS_INVALID_VALUE);
  const void *pointers[4] = {A, B, C, D};
  for (int i = 0; i < 4; ++i)
    if (alignmentOf(pointers[i]) < algo->data[1 + i])
      return refuse("MISALIGNED operand", CUBLAS_STATUS_NOT_SUPPORTED);
  if (hasBias(d.epilogue)) {
    cudaDataType_t type = d.biasTypeSet ? d.biasType : c.type;
    if (!d.bias || !fakeCudaIsDeviceRange(d.bias, m * elementBytes(type)))
      return refuse("the bias outside device memory",
                    CUBLAS_STATUS_INVALID_VALUE);
    if (alignmentOf(d.bias) < algo->data[5])
      return refuse("MISALIGNED bias", CUBLAS_STATUS_NOT_SUPPORTED);
  }
  const char *how = fakeCudaDeviceWork(stream, "cublasLtMatmul");
  fakeCudaTrace("cublasLtMatmul %" PRIu64 "x%" PRIu64 "x%" PRIu64
                " batch=%d epilogue=%s %s",
                m, n, k, dl.batch, epilogueName(d.epilogue).c_str(), how);
  return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
