"""Device-resident donated caches through llmc's Python API, on the fake
CUDA driver (test/fake-cuda, which records every call in $FAKE_CUDA_TRACE
and whose kernels compute nothing): what crosses between host and device,
and which addresses the kernels get, read from the trace.

    device_caches.py MODEL DIR    (kv_update.onnxtxt and its inputs in DIR)

Prints one line per fact for FileCheck; exits 1 on an unexpected result.
"""

import os
import sys

import numpy as np

import llmc


def trace():
    with open(os.environ["FAKE_CUDA_TRACE"]) as f:
        return f.read()


def check(ok, what):
    if not ok:
        sys.exit("FAILED: " + what)
    print(what)


def error_of(call):
    try:
        call()
    except llmc.LlmcError as e:
        return f"{type(e).__name__}: {e}"
    sys.exit("FAILED: no error")


def main():
    model, d = sys.argv[1], sys.argv[2]
    cache, idx, k, w = (np.load(os.path.join(d, n + ".npy"))
                        for n in ("cache", "idx", "k", "w"))
    exe = llmc.compile(model, target="cuda", donate=["cache"])
    print("target", exe.target, "donated", exe.donated)
    dc = exe.to_device(cache)
    print(repr(dc), dc.shape, dc.dtype, dc.nbytes)
    check(dc.__cuda_array_interface__["data"] == (dc.ptr, False)
          and dc.__cuda_array_interface__["typestr"] == "<f4",
          "cuda array interface ok")
    before = len(trace())
    for _ in range(3):
        y, present = exe(dc, idx, k, w)
        check(present is dc, "the donated cache is returned as given")
        check(isinstance(y, np.ndarray) and y.shape == (2, 8, 3),
              "y comes back to the host")
    steps = trace()[before:]
    # The cache is 256 bytes: never copied, never given a buffer of its own.
    print("cache copies:", sum(1 for line in steps.splitlines()
                               if "Memcpy" in line and " 256 " in line + " "))
    print("cache allocations:", steps.count("cuMemAlloc 256"))
    print("uploads per step:", steps.count("cuMemcpyHtoDAsync") // 3)
    launches = [line for line in steps.splitlines() if "cuLaunchKernel" in line]
    check(len(launches) == 3 and all(hex(dc.ptr) in line for line in launches),
          "every step's scatter kernel writes the device cache")
    check(np.array_equal(dc.numpy(), cache), "numpy() reads the device back")

    # The same executable on host arrays: the cache goes up and comes back.
    before = len(trace())
    y, present = exe(cache.copy(), idx, k, w)
    host = trace()[before:]
    print("host run:", host.count("cuMemcpyHtoDAsync 256"), "up,",
          host.count("cuMemcpyDtoHAsync 256"), "down")

    # Refusals: one line each, the executable still usable after.
    cpu = llmc.compile(model, donate=["cache"])
    print(error_of(lambda: cpu(dc, idx, k, w)))
    print(error_of(lambda: cpu.to_device(cache)))
    class HostMemory:  # claims to be CUDA memory, is not
        def __init__(self, a):
            self.a = a
            self.__cuda_array_interface__ = {
                "shape": a.shape, "typestr": a.dtype.str, "version": 3,
                "data": (a.ctypes.data, False), "strides": None}
    print(error_of(lambda: exe(HostMemory(cache), idx, k, w)))
    print(error_of(lambda: exe(exe.to_device(cache[:, :4]), idx, k, w)))
    strided = HostMemory(cache)
    strided.__cuda_array_interface__ = dict(
        strided.__cuda_array_interface__, data=(dc.ptr, False),
        strides=(4, 8 * 4 * 2, 2 * 4))
    print(error_of(lambda: exe(strided, idx, k, w)))
    # Indices on the device are read back and checked like host ones.
    bad = idx.copy()
    bad[0, 0, 0] = 9
    print(error_of(lambda: exe(dc, exe.to_device(bad), k, w)))
    y, present = exe(dc, exe.to_device(idx), k, w)
    check(present is dc, "still usable")


if __name__ == "__main__":
    main()
