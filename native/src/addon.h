#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <thread>

namespace comboseg {

// Per-environment state: the main thread and every worker thread that loads the
// addon get their own copy (N-API instance data).
struct InstanceData {
  Napi::FunctionReference tensorCtor;
  // Releases JS references held by zero-copy tensors whose storage is freed on
  // a thread other than the JS thread.
  Napi::ThreadSafeFunction releaser;
  std::thread::id jsThread;
};

InstanceData& instance(Napi::Env env);

// Tensor handle exposed to JS. It owns one at::Tensor reference; dispose()
// drops it at once, the GC finalizer is only a backstop.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  static at::Tensor& From(const Napi::Value& v, const char* what);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  at::Tensor tensor;

 private:
  void Set(Napi::Env env, at::Tensor t);
  void Release(Napi::Env env);
  int64_t accounted_ = 0;

  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);
  Napi::Value DataPtr(const Napi::CallbackInfo& info);
};

// Creation from typed arrays (copying or aliasing).
Napi::Value FromTypedArray(const Napi::CallbackInfo& info);

// Generic op call through the c10 dispatcher.
Napi::Value LookupOp(const Napi::CallbackInfo& info);
Napi::Value CallOp(const Napi::CallbackInfo& info);

// 3-D convolutions (conv_binding.cc: oneDNN on libtorch 1.13, else ATen).
Napi::Value JsConv3d(const Napi::CallbackInfo& info);
Napi::Value JsConvTranspose3d(const Napi::CallbackInfo& info);
Napi::Value JsConv3dBf16(const Napi::CallbackInfo& info);
Napi::Value JsConvTranspose3dBf16(const Napi::CallbackInfo& info);
Napi::Value JsBatchNormBf16(const Napi::CallbackInfo& info);
Napi::Value JsDistInit(const Napi::CallbackInfo& info);
Napi::Value JsDistDestroy(const Napi::CallbackInfo& info);
Napi::Value JsDistAllReduce(const Napi::CallbackInfo& info);
Napi::Value JsDistBroadcast(const Napi::CallbackInfo& info);
Napi::Value JsDistBarrier(const Napi::CallbackInfo& info);
Napi::Value JsDistAllReduceSum(const Napi::CallbackInfo& info);
Napi::Value JsDistInfo(const Napi::CallbackInfo& info);
Napi::Value JsMaxPool3dBf16(const Napi::CallbackInfo& info);
Napi::Value JsUpsampleNearest3dBf16(const Napi::CallbackInfo& info);

// What the addon was built against and what it can reach (engine_info.cc).
Napi::Value BuildInfo(const Napi::CallbackInfo& info);

}  // namespace comboseg
