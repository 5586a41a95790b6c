#include "addon.h"
#include "guard.h"

#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

namespace comboseg {

InstanceData& instance(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

namespace {

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  bool lossless;
  uint64_t seed = info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless)
                                     : static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  at::manual_seed(seed);
  return info.Env().Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::set_num_threads(static_cast<int>(info[0].As<Napi::Number>().Int32Value()));
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  data->jsThread = std::this_thread::get_id();
  env.SetInstanceData<InstanceData>(data);
  Napi::Function ctor = TensorHandle::Init(env);
  data->tensorCtor = Napi::Persistent(ctor);
  data->releaser = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                                 "comboseg-release", 0, 1);
  data->releaser.Unref(env);  // never keeps the event loop alive
  exports.Set("TensorHandle", ctor);
  exports.Set("fromTypedArray", Napi::Function::New(env, FromTypedArray));
  exports.Set("lookupOp", Napi::Function::New(env, LookupOp));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
  exports.Set("conv3d", Napi::Function::New(env, JsConv3d));
  exports.Set("convTranspose3d", Napi::Function::New(env, JsConvTranspose3d));
  exports.Set("conv3dBf16", Napi::Function::New(env, JsConv3dBf16));
  exports.Set("convTranspose3dBf16", Napi::Function::New(env, JsConvTranspose3dBf16));
  exports.Set("distInit", Napi::Function::New(env, JsDistInit));
  exports.Set("distDestroy", Napi::Function::New(env, JsDistDestroy));
  exports.Set("distAllReduce", Napi::Function::New(env, JsDistAllReduce));
  exports.Set("distBroadcast", Napi::Function::New(env, JsDistBroadcast));
  exports.Set("distBarrier", Napi::Function::New(env, JsDistBarrier));
  exports.Set("distAllReduceSum", Napi::Function::New(env, JsDistAllReduceSum));
  exports.Set("distInfo", Napi::Function::New(env, JsDistInfo));
  exports.Set("batchNormBf16", Napi::Function::New(env, JsBatchNormBf16));
  exports.Set("maxPool3dBf16", Napi::Function::New(env, JsMaxPool3dBf16));
  exports.Set("upsampleNearest3dBf16", Napi::Function::New(env, JsUpsampleNearest3dBf16));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  return exports;
}

NODE_API_MODULE(comboseg, Init)

}  // namespace comboseg
