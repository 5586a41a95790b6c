// Devices from JS strings ('cpu', 'cuda', 'cuda:1'), and what this libtorch can reach.
#pragma once
#include <napi.h>
#include <c10/core/Device.h>

#include <string>

namespace comboseg {

/** Whether CUDA kernels are registered (the addon was linked against libtorch_cuda). */
bool CudaBuilt();

/** CUDA devices libtorch sees (0 on a CPU-only build or a machine without a GPU). */
int64_t CudaDeviceCount();

/**
 * A device from its JS spelling. Throws a TypeError for a malformed string and a TorchError
 * naming the remedy for a CUDA device this libtorch cannot reach (no CUDA in the build, no GPU,
 * an index past the last GPU).
 */
c10::Device ParseDevice(Napi::Env env, const std::string& spelling);

}  // namespace comboseg
