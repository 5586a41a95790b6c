// N-API entry points for the 3-D convolutions: the hand-made oneDNN path of conv_onednn.cc where
// compat.h provides it (libtorch 1.13), else ATen's convolution (conv_aten.cc); in bf16, oneDNN's
// own API (conv_dnnl.cc) where compat.h provides it (CPU, one group), else ATen's on bf16 casts.
// JS sees one API.
#include "addon.h"
#include "conv_dnnl.h"
#include "conv_onednn.h"
#include "guard.h"

namespace comboseg {

namespace {

ConvGeometry ReadGeometry(const Napi::CallbackInfo& info, size_t first, bool transposed) {
  auto triple = [&](size_t i, int64_t dflt) {
    std::vector<int64_t> out(3, dflt);
    if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return out;
    if (info[i].IsNumber()) return std::vector<int64_t>(3, info[i].As<Napi::Number>().Int64Value());
    Napi::Array a = info[i].As<Napi::Array>();
    if (a.Length() != 3) throw Napi::RangeError::New(info.Env(), "conv3d: expected 3 values per spatial option");
    for (uint32_t k = 0; k < 3; ++k) out[k] = a.Get(k).As<Napi::Number>().Int64Value();
    return out;
  };
  ConvGeometry g;
  g.stride = triple(first, 1);
  g.padding = triple(first + 1, 0);
  g.dilation = triple(first + 2, 1);
  g.groups = first + 3 < info.Length() && info[first + 3].IsNumber() ? info[first + 3].As<Napi::Number>().Int64Value() : 1;
  if (transposed) g.outputPadding = triple(first + 4, 0);
  return g;
}

at::Tensor Conv3d(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& b, const ConvGeometry& g) {
  if constexpr (kOneDnnConv) return Conv3dOneDnn(x, w, b, g);
  else return Conv3dAten(x, w, b, g);
}

at::Tensor ConvTranspose3d(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& b,
                           const ConvGeometry& g) {
  if constexpr (kOneDnnConv) return ConvTranspose3dOneDnn(x, w, b, g);
  else return ConvTranspose3dAten(x, w, b, g);
}

at::Tensor Conv3dBf16(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& b,
                      const ConvGeometry& g) {
  if constexpr (kDnnlConv) {
    if (x.device().is_cpu() && g.groups == 1) return Conv3dBf16Dnnl(x, w, b, g);
  }
  return Conv3dBf16Aten(x, w, b, g);
}

at::Tensor ConvTranspose3dBf16(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& b,
                               const ConvGeometry& g) {
  if constexpr (kDnnlConv) {
    if (x.device().is_cpu() && g.groups == 1) return ConvTranspose3dBf16Dnnl(x, w, b, g);
  }
  return ConvTranspose3dBf16Aten(x, w, b, g);
}

}  // namespace

using ConvFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, const Optional<at::Tensor>&, const ConvGeometry&);

// (x, w, bias|null, stride, padding, dilation, groups[, outputPadding])
static Napi::Value CallConv(const Napi::CallbackInfo& info, ConvFn fn, const char* name, bool transposed) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  std::string n(name);
  at::Tensor x = TensorHandle::From(info[0], (n + " input").c_str());
  at::Tensor w = TensorHandle::From(info[1], (n + " weight").c_str());
  Optional<at::Tensor> b;
  if (info[2].IsObject()) b = TensorHandle::From(info[2], (n + " bias").c_str());
  return TensorHandle::Wrap(env, fn(x, w, b, ReadGeometry(info, 3, transposed)));
  GUARD_END(env)
}

Napi::Value JsConv3d(const Napi::CallbackInfo& info) { return CallConv(info, Conv3d, "conv3d", false); }

Napi::Value JsConvTranspose3d(const Napi::CallbackInfo& info) {
  return CallConv(info, ConvTranspose3d, "convTranspose3d", true);
}

Napi::Value JsConv3dBf16(const Napi::CallbackInfo& info) { return CallConv(info, Conv3dBf16, "conv3d", false); }

Napi::Value JsConvTranspose3dBf16(const Napi::CallbackInfo& info) {
  return CallConv(info, ConvTranspose3dBf16, "convTranspose3d", true);
}

}  // namespace comboseg
