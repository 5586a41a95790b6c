// N-API entry points for the bf16 oneDNN layers (layers_dnnl.cc): batch norm, max pooling, nearest
// up-sampling on channels-last activations. Builds without them (PyTorch 2.x) answer with an error
// saying so; the TypeScript layer only calls them where engineInfo().bf16ConvPath is 'onednn-api'.
#include "addon.h"
#include "guard.h"
#include "layers_dnnl.h"

namespace comboseg {

#if COMBOSEG_DNNL_CONV

namespace {

std::vector<int64_t> Triple(const Napi::Value& v, const char* what) {
  if (v.IsNumber()) return std::vector<int64_t>(3, v.As<Napi::Number>().Int64Value());
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a number or 3 numbers");
  }
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t k = 0; k < 3; ++k) out.push_back(a.Get(k).As<Napi::Number>().Int64Value());
  return out;
}

}  // namespace

// (x, weight, bias, runningMean, runningVar, training, momentum, eps)
Napi::Value JsBatchNormBf16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor x = TensorHandle::From(info[0], "batchNorm input");
  at::Tensor w = TensorHandle::From(info[1], "batchNorm weight");
  at::Tensor b = TensorHandle::From(info[2], "batchNorm bias");
  at::Tensor rm = TensorHandle::From(info[3], "batchNorm running mean");
  at::Tensor rv = TensorHandle::From(info[4], "batchNorm running variance");
  bool training = info[5].As<Napi::Boolean>().Value();
  double momentum = info[6].As<Napi::Number>().DoubleValue(), eps = info[7].As<Napi::Number>().DoubleValue();
  return TensorHandle::Wrap(env, BatchNormBf16Dnnl(x, w, b, rm, rv, training, momentum, eps));
  GUARD_END(env)
}

// (x, kernel, stride)
Napi::Value JsMaxPool3dBf16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor x = TensorHandle::From(info[0], "maxPool3d input");
  auto kernel = Triple(info[1], "maxPool3d kernel"), stride = Triple(info[2], "maxPool3d stride");
  return TensorHandle::Wrap(env, MaxPool3dBf16Dnnl(x, kernel, stride));
  GUARD_END(env)
}

// (x, size [D, H, W])
Napi::Value JsUpsampleNearest3dBf16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor x = TensorHandle::From(info[0], "upsampleNearest3d input");
  auto size = Triple(info[1], "upsampleNearest3d size");
  return TensorHandle::Wrap(env, UpsampleNearest3dBf16Dnnl(x, size));
  GUARD_END(env)
}

#else  // builds without the bf16 oneDNN layers (PyTorch 2.x): each entry point says so

namespace {
Napi::Value Unavailable(const Napi::CallbackInfo& info, const char* what) {
  throw TorchError(info.Env(), (std::string(what) + ": the bf16 oneDNN layers exist only in the Debian libtorch "
                                                    "1.13 build with libdnnl-dev")
                                   .c_str());
}
}  // namespace

Napi::Value JsBatchNormBf16(const Napi::CallbackInfo& info) { return Unavailable(info, "batchNorm"); }
Napi::Value JsMaxPool3dBf16(const Napi::CallbackInfo& info) { return Unavailable(info, "maxPool3d"); }
Napi::Value JsUpsampleNearest3dBf16(const Napi::CallbackInfo& info) { return Unavailable(info, "upsampleNearest3d"); }

#endif  // COMBOSEG_DNNL_CONV

}  // namespace comboseg
