#include "device.h"

#include "compat.h"
#include "guard.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/api/include/torch/cuda.h>

namespace comboseg {

bool CudaBuilt() {
  static const bool built = [] {
    auto op = c10::Dispatcher::singleton().findSchema({"aten::empty", "memory_format"});
    return op.has_value() && op->hasKernelForDispatchKey(c10::DispatchKey::CUDA);
  }();
  return built;
}

int64_t CudaDeviceCount() { return CudaBuilt() ? static_cast<int64_t>(torch::cuda::device_count()) : 0; }

c10::Device ParseDevice(Napi::Env env, const std::string& spelling) {
  Optional<c10::Device> parsed;
  try {
    parsed = c10::Device(spelling);
  } catch (const c10::Error&) {
    throw Napi::TypeError::New(env, "device '" + spelling + "': expected 'cpu', 'cuda' or 'cuda:N'");
  }
  c10::Device d = *parsed;
  if (!d.is_cuda()) return d;
  std::string what = "device '" + spelling + "': ";
  if (!CudaBuilt()) {
    throw TorchError(env, (what + "this libtorch has no CUDA: build the addon against a CUDA build of PyTorch 2.x " +
                           "(COMBOSEG_LIBTORCH=.../site-packages/torch node scripts/build-native.mjs, then " +
                           "COMBOSEG_ADDON=<the addon it names>), or use 'cpu' (this addon: libtorch " + kTorchVersion +
                           " from " + kLibtorchDir + ")").c_str());
  }
  int64_t count = CudaDeviceCount();
  if (count == 0) {
    throw TorchError(env, (what + "libtorch has CUDA but sees no GPU (check the NVIDIA driver with nvidia-smi, " +
                           "and CUDA_VISIBLE_DEVICES), or use 'cpu'").c_str());
  }
  if (d.has_index() && d.index() >= count) {
    throw TorchError(env, (what + "this machine has " + std::to_string(count) + " CUDA device(s): cuda:0 to cuda:" +
                           std::to_string(count - 1)).c_str());
  }
  return d;
}

}  // namespace comboseg
