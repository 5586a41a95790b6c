#include "addon.h"
#include "dtype.h"
#include "guard.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <cstring>

namespace comboseg {

Napi::Function TensorHandle::Init(Napi::Env env) {
  return DefineClass(env, "TensorHandle", {
      InstanceMethod<&TensorHandle::Shape>("shape"),
      InstanceMethod<&TensorHandle::DType>("dtype"),
      InstanceMethod<&TensorHandle::Device>("device"),
      InstanceMethod<&TensorHandle::Disposed>("disposed"),
      InstanceMethod<&TensorHandle::Dispose>("dispose"),
      InstanceMethod<&TensorHandle::Item>("item"),
      InstanceMethod<&TensorHandle::ToArray>("toArray"),
      InstanceMethod<&TensorHandle::RequiresGrad>("requiresGrad"),
      InstanceMethod<&TensorHandle::SetRequiresGrad>("setRequiresGrad"),
      InstanceMethod<&TensorHandle::Grad>("grad"),
      InstanceMethod<&TensorHandle::ZeroGrad>("zeroGrad"),
      InstanceMethod<&TensorHandle::Backward>("backward"),
      InstanceMethod<&TensorHandle::IsLeaf>("isLeaf"),
      InstanceMethod<&TensorHandle::DataPtr>("dataPtr"),
  });
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

TensorHandle::~TensorHandle() { Release(Env()); }

void TensorHandle::Set(Napi::Env env, at::Tensor t) {
  tensor = std::move(t);
  // Tell V8 about the native memory so that GC (the backstop) sees the pressure.
  accounted_ = tensor.defined() ? static_cast<int64_t>(tensor.nbytes()) : 0;
  int64_t ignored;
  if (accounted_ > 0) napi_adjust_external_memory(env, accounted_, &ignored);
}

// Runs from dispose() and from the GC finalizer, including during environment
// teardown (a worker exiting), so it must not throw: the status is ignored.
void TensorHandle::Release(Napi::Env env) {
  tensor.reset();
  if (accounted_ > 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, -accounted_, &ignored);
    accounted_ = 0;
  }
}

Napi::Object TensorHandle::Wrap(Napi::Env env, at::Tensor t) {
  Napi::Object obj = instance(env).tensorCtor.New({});
  Napi::ObjectWrap<TensorHandle>::Unwrap(obj)->Set(env, std::move(t));
  return obj;
}

at::Tensor& TensorHandle::From(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(instance(env).tensorCtor.Value())) {
    throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor handle");
  }
  TensorHandle* h = Napi::ObjectWrap<TensorHandle>::Unwrap(v.As<Napi::Object>());
  if (!h->tensor.defined()) {
    throw Napi::Error::New(env, std::string(what) + ": tensor was disposed");
  }
  return h->tensor;
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!tensor.defined()) throw Napi::Error::New(env, "tensor was disposed");
  auto sizes = tensor.sizes();
  Napi::Array out = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(sizes[i])));
  return out;
}

Napi::Value TensorHandle::DType(const Napi::CallbackInfo& info) {
  if (!tensor.defined()) throw Napi::Error::New(info.Env(), "tensor was disposed");
  return Napi::String::New(info.Env(), DTypeName(tensor.scalar_type()));
}

Napi::Value TensorHandle::Device(const Napi::CallbackInfo& info) {
  if (!tensor.defined()) throw Napi::Error::New(info.Env(), "tensor was disposed");
  return Napi::String::New(info.Env(), tensor.device().str());
}

Napi::Value TensorHandle::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor.defined());
}

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorHandle::Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!tensor.defined()) throw Napi::Error::New(env, "tensor was disposed");
  if (tensor.scalar_type() == c10::kBool) return Napi::Boolean::New(env, tensor.item<bool>());
  return Napi::Number::New(env, tensor.item<double>());
  GUARD_END(env)
}

Napi::Value TensorHandle::ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!tensor.defined()) throw Napi::Error::New(env, "tensor was disposed");
  // Data leaves for JavaScript from the CPU: a CUDA tensor is copied over first (a no-op on the CPU).
  at::Tensor c = tensor.detach().to(at::kCPU).contiguous();
  napi_typedarray_type kind = ArrayTypeFor(env, c.scalar_type());
  size_t bytes = c.nbytes();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), c.data_ptr(), bytes);
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, kind, static_cast<size_t>(c.numel()), buf, 0, &out), Napi::Value());
  return Napi::Value(env, out);
  GUARD_END(env)
}

Napi::Value TensorHandle::RequiresGrad(const Napi::CallbackInfo& info) {
  if (!tensor.defined()) throw Napi::Error::New(info.Env(), "tensor was disposed");
  return Napi::Boolean::New(info.Env(), tensor.requires_grad());
}

Napi::Value TensorHandle::SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!tensor.defined()) throw Napi::Error::New(env, "tensor was disposed");
  tensor.set_requires_grad(info[0].ToBoolean().Value());
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value TensorHandle::Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!tensor.defined()) throw Napi::Error::New(env, "tensor was disposed");
  const at::Tensor& g = tensor.grad();
  if (!g.defined()) return env.Null();
  return Wrap(env, g);
}

Napi::Value TensorHandle::ZeroGrad(const Napi::CallbackInfo& info) {
  if (tensor.defined()) tensor.mutable_grad().reset();
  return info.Env().Undefined();
}

// backward(gradient?: TensorHandle | null, retainGraph?: boolean)
Napi::Value TensorHandle::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!tensor.defined()) throw Napi::Error::New(env, "tensor was disposed");
  at::Tensor grad;
  if (info.Length() > 0 && info[0].IsObject()) grad = From(info[0], "backward(gradient)");
  bool retain = info.Length() > 1 && info[1].ToBoolean().Value();
  torch::autograd::backward({tensor}, {grad}, retain, false);
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value TensorHandle::IsLeaf(const Napi::CallbackInfo& info) {
  if (!tensor.defined()) throw Napi::Error::New(info.Env(), "tensor was disposed");
  return Napi::Boolean::New(info.Env(), tensor.is_leaf());
}

// Address of the first element: lets tests check that a zero-copy tensor
// really aliases its source buffer.
Napi::Value TensorHandle::DataPtr(const Napi::CallbackInfo& info) {
  if (!tensor.defined()) throw Napi::Error::New(info.Env(), "tensor was disposed");
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(tensor.data_ptr())));
}

namespace {

struct HeldBuffer {
  Napi::Reference<Napi::Value> ref;
  Napi::ThreadSafeFunction releaser;
  std::thread::id jsThread;
};

void ReleaseOnJsThread(Napi::Env, Napi::Function, HeldBuffer* held) { delete held; }

}  // namespace

// fromTypedArray(array, shape: number[], dtype: string, copy: boolean)
Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "tensor data: expected a typed array");
  Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
  Napi::Array jsShape = info[1].As<Napi::Array>();
  std::vector<int64_t> shape(jsShape.Length());
  int64_t numel = 1;
  for (uint32_t i = 0; i < jsShape.Length(); ++i) {
    shape[i] = jsShape.Get(i).As<Napi::Number>().Int64Value();
    numel *= shape[i];
  }
  c10::ScalarType dtype = DTypeFromName(env, info[2].As<Napi::String>().Utf8Value());
  bool copy = info[3].ToBoolean().Value();
  size_t elem = c10::elementSize(dtype);
  if (arr.ByteLength() != static_cast<size_t>(numel) * elem) {
    throw Napi::RangeError::New(env, "tensor data: " + std::to_string(arr.ByteLength() / elem) +
                                         " elements do not fill shape of " + std::to_string(numel));
  }
  uint8_t* data = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  auto opts = at::TensorOptions().dtype(dtype);
  if (copy || numel == 0) {
    at::Tensor t = at::empty(shape, opts);
    if (numel) std::memcpy(t.data_ptr(), data, arr.ByteLength());
    return TensorHandle::Wrap(env, std::move(t));
  }
  // Alias the JS buffer. The storage may be freed on another thread (autograd
  // or a oneDNN worker); the JS reference must then be dropped on the JS thread.
  InstanceData& inst = instance(env);
  auto* held = new HeldBuffer{Napi::Persistent(static_cast<Napi::Value>(arr.ArrayBuffer())), inst.releaser, inst.jsThread};
  auto deleter = [held](void*) {
    if (std::this_thread::get_id() == held->jsThread) {
      delete held;
    } else if (held->releaser.NonBlockingCall(held, ReleaseOnJsThread) != napi_ok) {
      // The environment is shutting down: V8 frees the buffer with it.
      held->ref.SuppressDestruct();
    }
  };
  at::Tensor t = at::from_blob(data, shape, deleter, opts);
  return TensorHandle::Wrap(env, std::move(t));
  GUARD_END(env)
}

}  // namespace comboseg
