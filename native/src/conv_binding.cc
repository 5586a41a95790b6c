// N-API entry points for the oneDNN convolutions of conv_onednn.cc.
#include "addon.h"
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

}  // namespace

// conv3d(x, w, bias|null, stride, padding, dilation, groups)
Napi::Value JsConv3d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor x = TensorHandle::From(info[0], "conv3d input");
  at::Tensor w = TensorHandle::From(info[1], "conv3d weight");
  c10::optional<at::Tensor> b;
  if (info[2].IsObject()) b = TensorHandle::From(info[2], "conv3d bias");
  return TensorHandle::Wrap(env, Conv3dOneDnn(x, w, b, ReadGeometry(info, 3, false)));
  GUARD_END(env)
}

// convTranspose3d(x, w, bias|null, stride, padding, dilation, groups, outputPadding)
Napi::Value JsConvTranspose3d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor y = TensorHandle::From(info[0], "convTranspose3d input");
  at::Tensor w = TensorHandle::From(info[1], "convTranspose3d weight");
  c10::optional<at::Tensor> b;
  if (info[2].IsObject()) b = TensorHandle::From(info[2], "convTranspose3d bias");
  return TensorHandle::Wrap(env, ConvTranspose3dOneDnn(y, w, b, ReadGeometry(info, 3, true)));
  GUARD_END(env)
}

}  // namespace comboseg
