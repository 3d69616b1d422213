//===- FakeCuda.cpp - A fake CUDA driver that records what it is asked ----===//
//
// Built as libcuda.so.1, for testing llmc's CUDA runtime (runtime/Cuda.cpp)
// on machines without a GPU: put its folder first on LD_LIBRARY_PATH and
// the runtime's dlopen("libcuda.so.1") finds it. One device by default
// ($FAKE_CUDA_DEVICES for more), each an sm_90 with an H100's limits and a
// primary context of its own; device memory is host memory (256-byte
// aligned, as cuMemAlloc's is), so copies and memsets are memcpy and
// memset (new memory is a pattern of its device with $FAKE_CUDA_FILL);
// kernels do nothing. Every entry point appends one line to
// $FAKE_CUDA_TRACE.
//
// It is strict where the real driver is: calls that need a current
// context fail without one (the context is per thread), copies must stay
// inside live allocations, a capturing stream cannot be synchronized, a
// kernel must be in the loaded module, and the JIT's error-log size is
// written back (it is an in/out option).
//
// The entry points are defined under cuda.h's names, which it maps to the
// versioned symbols the runtime resolves (cuMemAlloc is cuMemAlloc_v2).
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

struct CUctx_st {
  int retained = 0;
  int device = 0;
  std::atomic<int> inFlight{0};
};
struct CUmod_st {
  bool cubin = false;
  std::string image; // the PTX text, or the ELF file's bytes
  /// The module's global variables asked for (cuModuleGetGlobal), in fake
  /// device memory.
  std::map<std::string, std::pair<void *, size_t>> globals;
};
struct CUfunc_st {
  std::string name;
  CUmod_st *module = nullptr;
  /// The kernel's parameters, counted in its PTX (-1 from a cubin).
  int params = -1;
};
struct CUstream_st {
  std::atomic<bool> capturing{false}, invalidated{false};
  std::atomic<size_t> nodes{0};
  CUctx_st *context = nullptr;
  /// Work that never completes is queued (fakeCudaStallStream).
  std::atomic<bool> stalled{false};
};
struct CUevent_st {
  bool recorded = false;
  /// Recorded behind work that never completes.
  CUstream_st *behind = nullptr;
};
struct CUgraph_st {
  size_t nodes = 0;
};
struct CUgraphExec_st {
  size_t nodes = 0;
};

namespace {
std::mutex traceMutex;
std::mutex memoryMutex;
std::map<uintptr_t, size_t> allocations; // base -> bytes
std::map<uintptr_t, int> allocationDevices; // base -> device
std::atomic<bool> initialized{false};
constexpr int kMaxDevices = 16;
CUctx_st primaryContexts[kMaxDevices];
// The driver's current context is per thread.
thread_local CUcontext current = nullptr;

/// The integer in environment variable `name`, or `otherwise`.
long envNumber(const char *name, long otherwise) {
  const char *v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 0) : otherwise;
}

/// The number of fake devices: $FAKE_CUDA_DEVICES (1 to 16), default 1.
int deviceCount() {
  return static_cast<int>(std::clamp<long>(envNumber("FAKE_CUDA_DEVICES", 1),
                                           1, kMaxDevices));
}

bool validDevice(CUdevice device) {
  return device >= 0 && device < deviceCount();
}

/// CUDA_ERROR_NOT_INITIALIZED before cuInit, CUDA_ERROR_INVALID_CONTEXT
/// with no current context on this thread; CUDA_SUCCESS otherwise.
CUresult needContext(const char *fn) {
  if (!initialized) {
    fakeCudaTrace("%s -> 3 (before cuInit)", fn);
    return CUDA_ERROR_NOT_INITIALIZED;
  }
  if (!current) {
    fakeCudaTrace("%s -> 201 (no current context)", fn);
    return CUDA_ERROR_INVALID_CONTEXT;
  }
  return CUDA_SUCCESS;
}

/// The bytes of the ELF file at `image` (up to its section headers, which
/// ptxas writes last).
size_t elfBytes(const void *image) {
  Elf64_Ehdr header;
  std::memcpy(&header, image, sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64)
    return sizeof(header);
  return std::max<size_t>(header.e_shoff + header.e_shnum * header.e_shentsize,
                          sizeof(header));
}

/// Whether `m` defines a kernel named `name`: a `.entry` in PTX, a symbol
/// name in the cubin's string table.
bool definesKernel(const CUmod_st &m, const std::string &name) {
  if (!m.cubin) {
    for (size_t at = m.image.find(".entry " + name); at != std::string::npos;
         at = m.image.find(".entry " + name, at + 1)) {
      char next = m.image[at + 7 + name.size()];
      if (next == '(' || next == ' ' || next == '\n' || next == '\t')
        return true;
    }
    return false;
  }
  std::string symbol = '\0' + name + '\0';
  return m.image.find(symbol) != std::string::npos;
}
} // namespace

//===----------------------------------------------------------------------===//
// Shared with the fake libraries (FakeCuda.h)
//===----------------------------------------------------------------------===//

FAKE_CUDA_EXPORT void fakeCudaTrace(const char *format, ...) {
  const char *path = std::getenv("FAKE_CUDA_TRACE");
  if (!path || !*path)
    return;
  char line[1024];
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(line, sizeof(line) - 1, format, args);
  va_end(args);
  if (n < 0)
    return;
  size_t length = std::min<size_t>(n, sizeof(line) - 2);
  line[length++] = '\n';
  std::lock_guard<std::mutex> lock(traceMutex);
  int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  [[maybe_unused]] ssize_t written = ::write(fd, line, length);
  ::close(fd);
}

FAKE_CUDA_EXPORT bool fakeCudaIsDeviceRange(const void *p, size_t bytes) {
  uintptr_t at = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(memoryMutex);
  auto it = allocations.upper_bound(at);
  if (it == allocations.begin())
    return false;
  --it;
  return at + bytes <= it->first + it->second;
}

FAKE_CUDA_EXPORT const char *fakeCudaDeviceWork(CUstream stream,
                                                const char *what) {
  if (stream && stream->capturing) {
    ++stream->nodes;
    return "captured";
  }
  // Two runs of one executable must never interleave (the runtime holds a
  // mutex per executable): a second call in flight on one device is an
  // overlap. Devices of a mesh run at once, each on its own.
  CUctx_st *ctx = stream && stream->context ? stream->context : current;
  std::atomic<int> &inFlight =
      ctx ? ctx->inFlight : primaryContexts[0].inFlight;
  if (inFlight.fetch_add(1) != 0)
    fakeCudaTrace("OVERLAP %s", what);
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  inFlight.fetch_sub(1);
  return "eager";
}

FAKE_CUDA_EXPORT int fakeCudaStreamDevice(CUstream stream) {
  CUctx_st *ctx = stream && stream->context ? stream->context : current;
  return ctx ? ctx->device : -1;
}

FAKE_CUDA_EXPORT void fakeCudaStallStream(CUstream stream) {
  if (stream)
    stream->stalled = true;
}

//===----------------------------------------------------------------------===//
// Initialization, device, context
//===----------------------------------------------------------------------===//

extern "C" {

CUresult CUDAAPI cuInit(unsigned int flags) {
  fakeCudaTrace("cuInit flags=%u", flags);
  if (flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  initialized = true;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
#define FAKE_CUDA_NAME(code)                                                   \
  case code:                                                                   \
    *name = #code;                                                             \
    return CUDA_SUCCESS;
    FAKE_CUDA_NAME(CUDA_SUCCESS)
    FAKE_CUDA_NAME(CUDA_ERROR_INVALID_VALUE)
    FAKE_CUDA_NAME(CUDA_ERROR_OUT_OF_MEMORY)
    FAKE_CUDA_NAME(CUDA_ERROR_NOT_INITIALIZED)
    FAKE_CUDA_NAME(CUDA_ERROR_NO_DEVICE)
    FAKE_CUDA_NAME(CUDA_ERROR_INVALID_IMAGE)
    FAKE_CUDA_NAME(CUDA_ERROR_INVALID_CONTEXT)
    FAKE_CUDA_NAME(CUDA_ERROR_NO_BINARY_FOR_GPU)
    FAKE_CUDA_NAME(CUDA_ERROR_INVALID_PTX)
    FAKE_CUDA_NAME(CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
    FAKE_CUDA_NAME(CUDA_ERROR_INVALID_HANDLE)
    FAKE_CUDA_NAME(CUDA_ERROR_ILLEGAL_STATE)
    FAKE_CUDA_NAME(CUDA_ERROR_NOT_FOUND)
    FAKE_CUDA_NAME(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
    FAKE_CUDA_NAME(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED)
#undef FAKE_CUDA_NAME
  default:
    *name = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char **text) {
  const char *name = nullptr;
  CUresult r = cuGetErrorName(error, &name);
  *text = name ? "reported by the fake CUDA driver" : nullptr;
  return r;
}

CUresult CUDAAPI cuDeviceGetCount(int *count) {
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  *count = deviceCount();
  fakeCudaTrace("cuDeviceGetCount -> %d", *count);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal) {
  fakeCudaTrace("cuDeviceGet %d", ordinal);
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (!validDevice(ordinal))
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                                      CUdevice device) {
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (!validDevice(device))
    return CUDA_ERROR_INVALID_DEVICE;
  // What an H100 SXM (sm_90) reports.
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = 9;
    break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = 0;
    break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 132;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
    *value = 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
    *value = 64;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
    *value = 2147483647;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
    *value = 65535;
    break;
  case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
    *value = 32;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
    *value = 49152;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = 232448;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
    *value = 233472;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
    *value = 65536;
    break;
  case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE:
    *value = 50 << 20;
    break;
  case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
    *value = 1980000; // kHz
    break;
  case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
    *value = 2619000; // kHz
    break;
  case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
    *value = 5120;
    break;
  case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
  case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
    *value = 1;
    break;
  default:
    // Unknown here: a new query shows up in the trace instead of reading 0.
    fakeCudaTrace("cuDeviceGetAttribute %d -> 1 (not faked)",
                  static_cast<int>(attribute));
    return CUDA_ERROR_INVALID_VALUE;
  }
  fakeCudaTrace("cuDeviceGetAttribute %d -> %d", static_cast<int>(attribute),
                *value);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char *name, int length, CUdevice device) {
  fakeCudaTrace("cuDeviceGetName");
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (!validDevice(device) || length <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (device == 0)
    std::snprintf(name, length, "Fake GPU (llmc test driver)");
  else
    std::snprintf(name, length, "Fake GPU %d (llmc test driver)", device);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  fakeCudaTrace("cuDevicePrimaryCtxRetain");
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (!validDevice(device))
    return CUDA_ERROR_INVALID_DEVICE;
  CUctx_st &primary = primaryContexts[device];
  primary.device = device;
  ++primary.retained;
  *context = &primary;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice device) {
  fakeCudaTrace("cuDevicePrimaryCtxRelease");
  if (!validDevice(device) || primaryContexts[device].retained == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  --primaryContexts[device].retained;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext context) {
  fakeCudaTrace("cuCtxSetCurrent");
  if (context && (context < primaryContexts ||
                  context >= primaryContexts + kMaxDevices))
    return CUDA_ERROR_INVALID_CONTEXT;
  current = context;
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *module, const void *image,
                                    unsigned int numOptions,
                                    CUjit_option *options,
                                    void **optionValues) {
  if (CUresult r = needContext("cuModuleLoadDataEx"))
    return r;
  // The error log is an in/out pair: the buffer's size in, the bytes
  // written out (so a caller that loads twice must set the size again).
  char *log = nullptr;
  void **logSize = nullptr;
  for (unsigned i = 0; i < numOptions; ++i) {
    if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
      log = static_cast<char *>(optionValues[i]);
    else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
      logSize = &optionValues[i];
  }
  size_t logBytes = logSize ? reinterpret_cast<uintptr_t>(*logSize) : 0;
  bool cubin = std::memcmp(image, ELFMAG, SELFMAG) == 0;
  const char *kind = cubin ? "cubin" : "ptx";
  long reject =
      envNumber(cubin ? "FAKE_CUDA_REJECT_CUBIN" : "FAKE_CUDA_REJECT_PTX", 0);
  if (!cubin && !std::strstr(static_cast<const char *>(image), ".version"))
    reject = CUDA_ERROR_INVALID_IMAGE;
  size_t written = 0;
  if (reject && log && logBytes) {
    int n = std::snprintf(log, logBytes, "fake driver: %s rejected with %ld",
                          kind, reject);
    written = std::min<size_t>(n + 1, logBytes);
  }
  if (logSize)
    *logSize = reinterpret_cast<void *>(written);
  fakeCudaTrace("cuModuleLoadDataEx %s log=%zu -> %ld", kind, logBytes, reject);
  if (reject)
    return static_cast<CUresult>(reject);
  auto *m = new CUmod_st;
  m->cubin = cubin;
  if (cubin)
    m->image.assign(static_cast<const char *>(image), elfBytes(image));
  else
    m->image = static_cast<const char *>(image);
  *module = m;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction *function, CUmodule module,
                                     const char *name) {
  if (!module)
    return CUDA_ERROR_INVALID_HANDLE;
  bool found = definesKernel(*module, name);
  fakeCudaTrace("cuModuleGetFunction %s -> %d", name, found ? 0 : 500);
  if (!found)
    return CUDA_ERROR_NOT_FOUND;
  auto *f = new CUfunc_st{name, module};
  if (!module->cubin) {
    size_t at = module->image.find(".entry " + std::string(name));
    size_t open = module->image.find('(', at), close = module->image.find(')', open);
    if (open != std::string::npos && close != std::string::npos) {
      f->params = 0;
      for (size_t p = module->image.find(".param", open); p < close;
           p = module->image.find(".param", p + 1))
        ++f->params;
    }
  }
  *function = f;
  return CUDA_SUCCESS;
}

/// A global of the module: in PTX, `.global ... NAME[BYTES]`; in a cubin,
/// NAME among its strings (64 bytes). Zeroed device memory of its own.
CUresult CUDAAPI cuModuleGetGlobal(CUdeviceptr *pointer, size_t *bytes,
                                   CUmodule module, const char *name) {
  if (!module || !name)
    return CUDA_ERROR_INVALID_HANDLE;
  size_t size = 0;
  if (module->cubin) {
    if (module->image.find(name) != std::string::npos)
      size = 64;
  } else {
    // The declaring line: `.visible .global .align 8 .b8 NAME[24];`.
    const std::string &ptx = module->image;
    std::string key = std::string(" ") + name + "[";
    for (size_t at = ptx.find(key); at != std::string::npos && !size;
         at = ptx.find(key, at + 1)) {
      size_t begin = ptx.rfind('\n', at);
      begin = begin == std::string::npos ? 0 : begin + 1;
      if (ptx.substr(begin, at - begin).find(".global") != std::string::npos)
        size = std::strtoull(ptx.c_str() + at + key.size(), nullptr, 10);
    }
  }
  fakeCudaTrace("cuModuleGetGlobal %s -> %s", name, size ? "0" : "500");
  if (size == 0)
    return CUDA_ERROR_NOT_FOUND;
  auto &slot = module->globals[name];
  if (!slot.first) {
    void *p = std::aligned_alloc(256, (size + 255) / 256 * 256);
    std::memset(p, 0, size);
    std::lock_guard<std::mutex> lock(memoryMutex);
    allocations[reinterpret_cast<uintptr_t>(p)] = size;
    slot = {p, size};
  }
  if (pointer)
    *pointer = reinterpret_cast<CUdeviceptr>(slot.first);
  if (bytes)
    *bytes = slot.second;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule module) {
  fakeCudaTrace("cuModuleUnload");
  if (!module)
    return CUDA_ERROR_INVALID_HANDLE;
  for (auto &[name, slot] : module->globals) {
    std::lock_guard<std::mutex> lock(memoryMutex);
    allocations.erase(reinterpret_cast<uintptr_t>(slot.first));
    std::free(slot.first);
  }
  delete module;
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  if (CUresult r = needContext("cuMemAlloc"))
    return r;
  fakeCudaTrace("cuMemAlloc %zu", bytes);
  if (bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!p)
    return CUDA_ERROR_OUT_OF_MEMORY;
  // $FAKE_CUDA_FILL: new memory holds a pattern of its device (byte i of
  // device d is 64 d + 7 i + 1), so that what the kernels (which compute
  // nothing) leave in a device's outputs tells the devices apart.
  if (std::getenv("FAKE_CUDA_FILL"))
    for (size_t i = 0; i < bytes; ++i)
      static_cast<unsigned char *>(p)[i] =
          static_cast<unsigned char>(current->device * 64 + i * 7 + 1);
  std::lock_guard<std::mutex> lock(memoryMutex);
  allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
  allocationDevices[reinterpret_cast<uintptr_t>(p)] = current->device;
  *pointer = reinterpret_cast<CUdeviceptr>(p);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr pointer) {
  if (CUresult r = needContext("cuMemFree"))
    return r;
  std::lock_guard<std::mutex> lock(memoryMutex);
  if (!allocations.erase(pointer)) {
    fakeCudaTrace("cuMemFree -> 1 (not an allocation)");
    return CUDA_ERROR_INVALID_VALUE;
  }
  allocationDevices.erase(pointer);
  std::free(reinterpret_cast<void *>(pointer));
  fakeCudaTrace("cuMemFree");
  return CUDA_SUCCESS;
}

/// The device of the allocation holding `pointer` (CU_POINTER_ATTRIBUTE_
/// DEVICE_ORDINAL only); CUDA_ERROR_INVALID_VALUE for other memory.
CUresult CUDAAPI cuPointerGetAttribute(void *data,
                                       CUpointer_attribute attribute,
                                       CUdeviceptr pointer) {
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  if (attribute != CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL || !data)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(memoryMutex);
  auto it = allocations.upper_bound(pointer);
  if (it == allocations.begin() || pointer >= std::prev(it)->first +
                                                  std::prev(it)->second) {
    fakeCudaTrace("cuPointerGetAttribute -> 1 (not device memory)");
    return CUDA_ERROR_INVALID_VALUE;
  }
  *static_cast<int *>(data) = allocationDevices[std::prev(it)->first];
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAddressRange(CUdeviceptr *base, size_t *bytes,
                                      CUdeviceptr pointer) {
  if (CUresult r = needContext("cuMemGetAddressRange"))
    return r;
  std::lock_guard<std::mutex> lock(memoryMutex);
  auto it = allocations.upper_bound(pointer);
  if (it == allocations.begin() || pointer >= std::prev(it)->first +
                                                  std::prev(it)->second)
    return CUDA_ERROR_NOT_FOUND;
  --it;
  if (base)
    *base = it->first;
  if (bytes)
    *bytes = it->second;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr to, const void *from,
                                   size_t bytes, CUstream stream) {
  if (CUresult r = needContext("cuMemcpyHtoDAsync"))
    return r;
  void *device = reinterpret_cast<void *>(to);
  if (!fakeCudaIsDeviceRange(device, bytes)) {
    fakeCudaTrace("cuMemcpyHtoDAsync %zu -> 1 (outside device memory)", bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const char *how = fakeCudaDeviceWork(stream, "cuMemcpyHtoDAsync");
  fakeCudaTrace("cuMemcpyHtoDAsync %zu %s", bytes, how);
  if (std::strcmp(how, "eager") == 0)
    std::memcpy(device, from, bytes);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *to, CUdeviceptr from, size_t bytes,
                                   CUstream stream) {
  if (CUresult r = needContext("cuMemcpyDtoHAsync"))
    return r;
  const void *device = reinterpret_cast<const void *>(from);
  if (!fakeCudaIsDeviceRange(device, bytes)) {
    fakeCudaTrace("cuMemcpyDtoHAsync %zu -> 1 (outside device memory)", bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const char *how = fakeCudaDeviceWork(stream, "cuMemcpyDtoHAsync");
  fakeCudaTrace("cuMemcpyDtoHAsync %zu %s", bytes, how);
  if (std::strcmp(how, "eager") == 0)
    std::memcpy(to, device, bytes);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpy2DAsync(const CUDA_MEMCPY2D *copy, CUstream stream) {
  if (CUresult r = needContext("cuMemcpy2DAsync"))
    return r;
  if (!copy || copy->srcMemoryType != CU_MEMORYTYPE_DEVICE ||
      copy->dstMemoryType != CU_MEMORYTYPE_DEVICE || copy->srcXInBytes ||
      copy->srcY || copy->dstXInBytes || copy->dstY ||
      copy->srcPitch < copy->WidthInBytes ||
      copy->dstPitch < copy->WidthInBytes) {
    fakeCudaTrace("cuMemcpy2DAsync -> 1 (not a device-to-device copy the "
                  "fake knows)");
    return CUDA_ERROR_INVALID_VALUE;
  }
  size_t w = copy->WidthInBytes, h = copy->Height;
  const char *src = reinterpret_cast<const char *>(copy->srcDevice);
  char *dst = reinterpret_cast<char *>(copy->dstDevice);
  if (h && w &&
      (!fakeCudaIsDeviceRange(src, (h - 1) * copy->srcPitch + w) ||
       !fakeCudaIsDeviceRange(dst, (h - 1) * copy->dstPitch + w))) {
    fakeCudaTrace("cuMemcpy2DAsync %zux%zu -> 1 (outside device memory)", w,
                  h);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const char *how = fakeCudaDeviceWork(stream, "cuMemcpy2DAsync");
  fakeCudaTrace("cuMemcpy2DAsync %zux%zu %s", w, h, how);
  if (std::strcmp(how, "eager") == 0)
    for (size_t row = 0; row < h; ++row)
      std::memmove(dst + row * copy->dstPitch, src + row * copy->srcPitch, w);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr to, unsigned char value,
                                 size_t bytes, CUstream stream) {
  if (CUresult r = needContext("cuMemsetD8Async"))
    return r;
  void *device = reinterpret_cast<void *>(to);
  if (!fakeCudaIsDeviceRange(device, bytes)) {
    fakeCudaTrace("cuMemsetD8Async %zu -> 1 (outside device memory)", bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const char *how = fakeCudaDeviceWork(stream, "cuMemsetD8Async");
  fakeCudaTrace("cuMemsetD8Async %zu %s", bytes, how);
  if (std::strcmp(how, "eager") == 0)
    std::memset(device, value, bytes);
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Streams, launches, events, graphs
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuStreamCreate(CUstream *stream, unsigned int flags) {
  if (CUresult r = needContext("cuStreamCreate"))
    return r;
  fakeCudaTrace("cuStreamCreate flags=%u", flags);
  *stream = new CUstream_st;
  (*stream)->context = current;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamQuery(CUstream stream) {
  if (CUresult r = needContext("cuStreamQuery"))
    return r;
  if (stream && stream->stalled)
    return CUDA_ERROR_NOT_READY;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamDestroy(CUstream stream) {
  fakeCudaTrace("cuStreamDestroy");
  if (!stream)
    return CUDA_ERROR_INVALID_HANDLE;
  delete stream;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream stream) {
  if (CUresult r = needContext("cuStreamSynchronize"))
    return r;
  if (stream && stream->capturing) {
    // As the driver does: the capture is invalidated.
    stream->invalidated = true;
    fakeCudaTrace("cuStreamSynchronize -> 900 (the stream is capturing)");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (stream && stream->stalled) {
    // The real driver would wait forever.
    fakeCudaTrace("HANG cuStreamSynchronize on a stream that never drains");
    return CUDA_ERROR_ILLEGAL_STATE;
  }
  fakeCudaDeviceWork(stream, "cuStreamSynchronize");
  fakeCudaTrace("cuStreamSynchronize");
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridX,
                                unsigned int gridY, unsigned int gridZ,
                                unsigned int blockX, unsigned int blockY,
                                unsigned int blockZ, unsigned int sharedBytes,
                                CUstream stream, void **params, void **extra) {
  if (CUresult r = needContext("cuLaunchKernel"))
    return r;
  if (!f)
    return CUDA_ERROR_INVALID_HANDLE;
  // The launch limits an sm_90 checks (dynamic shared memory beyond 48 KiB
  // needs an opt-in the runtime never makes).
  uint64_t threads = uint64_t(blockX) * blockY * blockZ;
  bool valid = gridX >= 1 && gridY >= 1 && gridZ >= 1 && threads >= 1 &&
               threads <= 1024 && blockZ <= 64 && gridY <= 65535 &&
               gridZ <= 65535 && gridX <= 2147483647u && sharedBytes <= 49152 &&
               !(params && extra);
  if (!valid) {
    fakeCudaTrace("cuLaunchKernel %s grid=%ux%ux%u block=%ux%ux%u shared=%u "
                  "-> 1 (invalid launch)",
                  f->name.c_str(), gridX, gridY, gridZ, blockX, blockY, blockZ,
                  sharedBytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const char *how = fakeCudaDeviceWork(stream, "cuLaunchKernel");
  // $FAKE_CUDA_TRACE_ARGS: a kernel loaded from PTX also shows its
  // arguments (every llmc kernel takes 64-bit pointers).
  std::string args;
  if (std::getenv("FAKE_CUDA_TRACE_ARGS") && f->params >= 0 && params) {
    args = " args=";
    for (int i = 0; i < f->params; ++i) {
      char one[32];
      uint64_t v = 0;
      std::memcpy(&v, params[i], sizeof(v));
      std::snprintf(one, sizeof(one), "%s0x%lx", i ? "," : "",
                    static_cast<unsigned long>(v));
      args += one;
    }
  }
  fakeCudaTrace("cuLaunchKernel %s grid=%ux%ux%u block=%ux%ux%u shared=%u %s%s",
                f->name.c_str(), gridX, gridY, gridZ, blockX, blockY, blockZ,
                sharedBytes, how, args.c_str());
  // $FAKE_CUDA_INDEX_STATUS=SITE,INDEX,SIZE: every kernel run acts as one
  // that found an index out of its dim (the kernels compute nothing else).
  if (const char *status = std::getenv("FAKE_CUDA_INDEX_STATUS");
      status && f->module && std::strcmp(how, "eager") == 0) {
    auto it = f->module->globals.find("llmc_index_status");
    if (it != f->module->globals.end() && it->second.second >= 24) {
      int64_t v[3] = {0, 0, 0};
      std::sscanf(status, "%ld,%ld,%ld", &v[0], &v[1], &v[2]);
      std::memcpy(it->second.first, v, sizeof(v));
    }
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventCreate(CUevent *event, unsigned int flags) {
  if (CUresult r = needContext("cuEventCreate"))
    return r;
  fakeCudaTrace("cuEventCreate flags=%u", flags);
  *event = new CUevent_st;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy(CUevent event) {
  if (!event)
    return CUDA_ERROR_INVALID_HANDLE;
  delete event;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream) {
  if (CUresult r = needContext("cuEventRecord"))
    return r;
  if (!event)
    return CUDA_ERROR_INVALID_HANDLE;
  // CU_STREAM_LEGACY and CU_STREAM_PER_THREAD are handles, not streams.
  bool special = stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD;
  fakeCudaTrace("cuEventRecord%s", stream == CU_STREAM_LEGACY ? " legacy"
                                   : stream == CU_STREAM_PER_THREAD
                                       ? " per-thread"
                                       : "");
  event->recorded = true;
  event->behind = !special && stream && stream->stalled ? stream : nullptr;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecordWithFlags(CUevent event, CUstream stream,
                                        unsigned int flags) {
  if (CUresult r = needContext("cuEventRecordWithFlags"))
    return r;
  if (!event || flags > CU_EVENT_RECORD_EXTERNAL)
    return CUDA_ERROR_INVALID_VALUE;
  // Outside a capture an external record is the driver's error.
  bool capturing = stream && stream->capturing;
  if ((flags == CU_EVENT_RECORD_EXTERNAL) != capturing) {
    fakeCudaTrace("cuEventRecordWithFlags %u -> 1 (%s)", flags,
                  capturing ? "a captured record must be external to be "
                              "queried"
                            : "external outside a capture");
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (capturing)
    ++stream->nodes;
  event->recorded = true;
  event->behind = stream && stream->stalled ? stream : nullptr;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamWaitEvent(CUstream stream, CUevent event,
                                   unsigned int flags) {
  if (CUresult r = needContext("cuStreamWaitEvent"))
    return r;
  if (!event || flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (!event->recorded) {
    fakeCudaTrace("cuStreamWaitEvent -> 400 (an event never recorded)");
    return CUDA_ERROR_INVALID_HANDLE;
  }
  fakeCudaTrace("cuStreamWaitEvent");
  if (stream && stream->capturing)
    ++stream->nodes;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventQuery(CUevent event) {
  if (!event)
    return CUDA_ERROR_INVALID_HANDLE;
  if (event->behind && event->behind->stalled)
    return CUDA_ERROR_NOT_READY;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventSynchronize(CUevent event) {
  if (!event)
    return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  if (!start || !end)
    return CUDA_ERROR_INVALID_HANDLE;
  if (!start->recorded || !end->recorded)
    return CUDA_ERROR_INVALID_HANDLE;
  *ms = 0.01f;
  fakeCudaTrace("cuEventElapsedTime");
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamBeginCapture(CUstream stream,
                                      CUstreamCaptureMode mode) {
  if (CUresult r = needContext("cuStreamBeginCapture"))
    return r;
  fakeCudaTrace("cuStreamBeginCapture mode=%d", static_cast<int>(mode));
  // The legacy default stream cannot be captured.
  if (!stream || stream->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  stream->nodes = 0;
  stream->invalidated = false;
  stream->capturing = true;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  if (!stream || !stream->capturing) {
    fakeCudaTrace("cuStreamEndCapture -> 401 (not capturing)");
    return CUDA_ERROR_ILLEGAL_STATE;
  }
  stream->capturing = false;
  if (stream->invalidated) {
    fakeCudaTrace("cuStreamEndCapture -> 901 (invalidated)");
    *graph = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  fakeCudaTrace("cuStreamEndCapture nodes=%zu", stream->nodes.load());
  *graph = new CUgraph_st{stream->nodes};
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                             unsigned long long flags) {
  if (CUresult r = needContext("cuGraphInstantiateWithFlags"))
    return r;
  if (!graph)
    return CUDA_ERROR_INVALID_VALUE;
  fakeCudaTrace("cuGraphInstantiateWithFlags nodes=%zu", graph->nodes);
  *exec = new CUgraphExec_st{graph->nodes};
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (CUresult r = needContext("cuGraphLaunch"))
    return r;
  if (!exec)
    return CUDA_ERROR_INVALID_VALUE;
  const char *how = fakeCudaDeviceWork(stream, "cuGraphLaunch");
  fakeCudaTrace("cuGraphLaunch nodes=%zu %s", exec->nodes, how);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec exec) {
  fakeCudaTrace("cuGraphExecDestroy");
  delete exec;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphDestroy(CUgraph graph) {
  fakeCudaTrace("cuGraphDestroy");
  delete graph;
  return CUDA_SUCCESS;
}

} // extern "C"
