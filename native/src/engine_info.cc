// buildInfo(): what this addon was built against and what it can reach — libtorch's version
// and folder, oneDNN's version and the instruction set it dispatches to, the convolution path,
// the parallel back-end and the CUDA devices.
#include "addon.h"
#include "compat.h"
#include "device.h"
#include "guard.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/csrc/api/include/torch/cuda.h>

#include <dlfcn.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace comboseg {

namespace {

// oneDNN's C API, declared here: Debian's libtorch 1.13 links the shared libdnnl (whose
// headers libtorch-dev does not install), and PyTorch 2.x links oneDNN statically with its
// symbols hidden. So the addon asks a shared libdnnl already in the process, if there is one.
struct DnnlVersion {
  int major, minor, patch;
  const char* hash;
  unsigned cpuRuntime, gpuRuntime;
};

struct DnnlApi {
  const DnnlVersion* (*version)() = nullptr;
  int (*effectiveCpuIsa)() = nullptr;
};

DnnlApi LoadedDnnl() {
  DnnlApi api;
  for (const char* name : {"libdnnl.so.3", "libdnnl.so.2"}) {
    void* lib = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);  // only one libtorch has already loaded
    if (lib == nullptr) continue;
    api.version = reinterpret_cast<const DnnlVersion* (*)()>(dlsym(lib, "dnnl_version"));
    api.effectiveCpuIsa = reinterpret_cast<int (*)()>(dlsym(lib, "dnnl_get_effective_cpu_isa"));
    if (api.version != nullptr && api.effectiveCpuIsa != nullptr) return api;
  }
  return DnnlApi{};
}

// dnnl_cpu_isa_t values (dnnl_types.h); v2 and v3 reuse some values for different ISAs.
std::string DnnlIsaName(int major, int isa) {
  switch (isa) {
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    default: break;
  }
  if (major <= 2) {
    switch (isa) {
      case 0xf: return "avx512_mic";
      case 0x1f: return "avx512_mic_4ops";
      case 0x3e7: return "avx512_core_amx";
      default: break;
    }
  } else {
    switch (isa) {
      case 0xf: return "avx2_vnni";
      case 0x1f: return "avx2_vnni_2";
      case 0x1ef: return "avx512_core_fp16";
      case 0xfef: return "avx512_core_amx";
      case 0x1fef: return "avx512_core_amx_fp16";
      case 0x201ff: return "avx10_2";
      case 0x22fff: return "avx10_2_amx_2";
      default: break;
    }
  }
  std::ostringstream hex;
  hex << "0x" << std::hex << isa;
  return hex.str();
}

// The highest oneDNN ISA the CPU's flags allow (what oneDNN picks unless ONEDNN_MAX_CPU_ISA caps it).
std::string IsaFromCpuFlags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::string> f;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) f.insert(w);
    break;
  }
  auto has = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (!f.count(n)) return false;
    }
    return true;
  };
  if (has({"avx512f", "avx512bw", "avx512vl", "avx512dq"})) {
    if (has({"amx_tile", "amx_bf16", "amx_fp16"})) return "avx512_core_amx_fp16";
    if (has({"amx_tile", "amx_bf16"})) return "avx512_core_amx";
    if (has({"avx512_fp16"})) return "avx512_core_fp16";
    if (has({"avx512_bf16"})) return "avx512_core_bf16";
    if (has({"avx512_vnni"})) return "avx512_core_vnni";
    return "avx512_core";
  }
  if (has({"avx2", "avx_vnni"})) return "avx2_vnni";
  if (has({"avx2"})) return "avx2";
  if (has({"avx"})) return "avx";
  if (has({"sse4_1"})) return "sse41";
  return "unknown";
}

// "Intel(R) MKL-DNN v2.6.3 (Git Hash N/A)" / "Intel(R) oneDNN v3.12.0 (...)" -> "2.6.3"
std::string OneDnnVersionFromTorch() {
  std::smatch m;
  std::string s = at::get_mkldnn_version();
  if (std::regex_search(s, m, std::regex("v(\\d+\\.\\d+(\\.\\d+)?)"))) return m[1];
  return s;
}

}  // namespace

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", kTorchVersion);
  out.Set("libtorch", kLibtorchDir);
  out.Set("mkldnn", at::hasMKLDNN());
  out.Set("convPath", kOneDnnConv ? "onednn" : "aten");
  out.Set("bf16ConvPath", kDnnlConv ? "onednn-api" : "aten");
  out.Set("parallel", at::get_parallel_info());

  Napi::Object onednn = Napi::Object::New(env);
  DnnlApi dnnl = LoadedDnnl();
  if (dnnl.version != nullptr) {
    const DnnlVersion* v = dnnl.version();
    onednn.Set("version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
    onednn.Set("isa", DnnlIsaName(v->major, dnnl.effectiveCpuIsa()));
    onednn.Set("isaFrom", "onednn");
  } else {
    onednn.Set("version", at::hasMKLDNN() ? OneDnnVersionFromTorch() : "");
    onednn.Set("isa", IsaFromCpuFlags());
    onednn.Set("isaFrom", "cpu-flags");
  }
  out.Set("onednn", onednn);

  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("built", CudaBuilt());
  cuda.Set("available", CudaBuilt() && torch::cuda::is_available());
  cuda.Set("deviceCount", Napi::Number::New(env, static_cast<double>(CudaDeviceCount())));
  out.Set("cuda", cuda);
  return out;
  GUARD_END(env)
}

}  // namespace comboseg
