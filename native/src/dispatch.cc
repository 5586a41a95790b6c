// Generic op calls through the c10 dispatcher, by schema name. JS values are
// converted according to the schema's argument types; missing trailing
// arguments take the schema's defaults. Autograd is recorded as for any call.
#include "addon.h"
#include "compat.h"
#include "device.h"
#include "guard.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <mutex>

namespace comboseg {

namespace {

std::mutex opsMutex;
std::vector<c10::OperatorHandle> ops;  // process-wide; shared by worker threads

// A copy, taken under the lock: a reference into `ops` would dangle once another worker thread's
// push_back reallocates it. A handle is a pointer-sized value, so the copy costs nothing.
c10::OperatorHandle OpAt(Napi::Env env, uint32_t id) {
  std::lock_guard<std::mutex> lock(opsMutex);
  if (id >= ops.size()) throw Napi::RangeError::New(env, "unknown op id " + std::to_string(id));
  return ops[id];
}

std::string Describe(const Napi::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsArray()) return "an array";
  if (v.IsObject()) return "an object";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBoolean()) return "a boolean";
  return "a value of another type";
}

[[noreturn]] void BadArg(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const std::string& want,
                         const Napi::Value& got) {
  throw Napi::TypeError::New(env, s.name() + ": argument '" + a.name() + "' expects " + want + ", got " +
                                      Describe(got) + " (schema: " + c10::toString(s) + ")");
}

int64_t ToInt(Napi::Env env, const Napi::Value& v, const c10::FunctionSchema& s, const c10::Argument& a) {
  if (v.IsNumber()) return v.As<Napi::Number>().Int64Value();
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  BadArg(env, s, a, "an integer", v);
}

c10::IValue ToIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type,
                     const c10::FunctionSchema& s, const c10::Argument& a) {
  using c10::TypeKind;
  switch (type->kind()) {
    case TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return ToIValue(env, v, type->containedType(0), s, a);
    case TypeKind::TensorType:
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(instance(env).tensorCtor.Value())) BadArg(env, s, a, "a Tensor", v);
      return TensorHandle::From(v, (s.name() + " argument '" + a.name() + "'").c_str());
    case TypeKind::IntType:
    case TypeKind::SymIntType:
      return ToInt(env, v, s, a);
    case TypeKind::FloatType:
      if (!v.IsNumber()) BadArg(env, s, a, "a number", v);
      return v.As<Napi::Number>().DoubleValue();
    case TypeKind::BoolType:
      if (!v.IsBoolean()) BadArg(env, s, a, "a boolean", v);
      return v.As<Napi::Boolean>().Value();
    case TypeKind::NumberType: {  // Scalar: integers stay integral, as in Python
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (!v.IsNumber()) BadArg(env, s, a, "a number", v);
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.0e15) return c10::Scalar(static_cast<int64_t>(d));
      return c10::Scalar(d);
    }
    case TypeKind::StringType:
      if (!v.IsString()) BadArg(env, s, a, "a string", v);
      return v.As<Napi::String>().Utf8Value();
    case TypeKind::ListType: {
      const c10::TypePtr& elem = type->containedType(0);
      TypeKind ek = elem->kind();
      // A single number for a fixed-size int list (e.g. int[3] stride=2) is repeated.
      if (v.IsNumber() && (ek == TypeKind::IntType || ek == TypeKind::SymIntType)) {
        int64_t n = a.N() ? *a.N() : 1;
        return c10::List<int64_t>(std::vector<int64_t>(n, v.As<Napi::Number>().Int64Value()));
      }
      if (!v.IsArray()) BadArg(env, s, a, "an array", v);
      Napi::Array arr = v.As<Napi::Array>();
      uint32_t n = arr.Length();
      if (ek == TypeKind::IntType || ek == TypeKind::SymIntType) {
        c10::List<int64_t> l; l.reserve(n);
        for (uint32_t i = 0; i < n; ++i) l.push_back(ToInt(env, arr.Get(i), s, a));
        return l;
      }
      if (ek == TypeKind::FloatType) {
        c10::List<double> l; l.reserve(n);
        for (uint32_t i = 0; i < n; ++i) l.push_back(arr.Get(i).ToNumber().DoubleValue());
        return l;
      }
      if (ek == TypeKind::BoolType) {
        c10::List<bool> l; l.reserve(n);
        for (uint32_t i = 0; i < n; ++i) l.push_back(arr.Get(i).ToBoolean().Value());
        return l;
      }
      if (ek == TypeKind::TensorType) {
        c10::List<at::Tensor> l; l.reserve(n);
        for (uint32_t i = 0; i < n; ++i) l.push_back(TensorHandle::From(arr.Get(i), a.name().c_str()));
        return l;
      }
      if (ek == TypeKind::OptionalType && elem->containedType(0)->kind() == TypeKind::TensorType) {
        c10::List<Optional<at::Tensor>> l; l.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
          Napi::Value e = arr.Get(i);
          if (e.IsNull() || e.IsUndefined()) l.push_back(kNullopt);
          else l.push_back(TensorHandle::From(e, a.name().c_str()));
        }
        return l;
      }
      BadArg(env, s, a, "a list of " + elem->str() + " (not supported from JS)", v);
    }
    case TypeKind::DeviceObjType:  // 'cpu', 'cuda', 'cuda:1' (aten::to.device, factory ops' device=)
      if (!v.IsString()) BadArg(env, s, a, "a device string ('cpu', 'cuda', 'cuda:N')", v);
      return ParseDevice(env, v.As<Napi::String>().Utf8Value());
    default:
      // Layout, MemoryFormat, Generator...: only their defaults (null) are supported.
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      BadArg(env, s, a, type->str() + " (only null is supported from JS)", v);
  }
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return TensorHandle::Wrap(env, t);
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isSymInt()) return Napi::Number::New(env, static_cast<double>(v.toSymInt().expect_int()));
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(i, FromIValue(env, elems[i]));
    return out;
  }
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, TensorHandle::Wrap(env, list.get(i)));
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(list.get(i))));
    return out;
  }
  if (v.isList()) {  // SymInt[], and other lists of values the cases above return
    auto list = v.toList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, FromIValue(env, list.get(i)));
    return out;
  }
  throw Napi::TypeError::New(env, "cannot return a value of type " + v.tagKind() + " to JS");
}

}  // namespace

// lookupOp(name, overload) -> { id, schema }
Napi::Value LookupOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto handle = c10::Dispatcher::singleton().findSchema({name.c_str(), overload.c_str()});
  if (!handle) {
    throw Napi::Error::New(env, "no libtorch op '" + name + (overload.empty() ? "" : "." + overload) + "'");
  }
  uint32_t id;
  {
    std::lock_guard<std::mutex> lock(opsMutex);
    ops.push_back(*handle);
    id = static_cast<uint32_t>(ops.size() - 1);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", id);
  out.Set("schema", c10::toString(handle->schema()));
  return out;
  GUARD_END(env)
}

// callOp(id, args[]) -> value | value[] (several returns) | undefined (none)
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  const c10::OperatorHandle op = OpAt(env, info[0].As<Napi::Number>().Uint32Value());
  const c10::FunctionSchema& schema = op.schema();
  const auto& params = schema.arguments();
  Napi::Array js = info[1].As<Napi::Array>();
  uint32_t n = js.Length();
  if (n > params.size()) {
    throw Napi::TypeError::New(env, schema.name() + ": " + std::to_string(n) + " arguments given, schema takes " +
                                        std::to_string(params.size()) + " (" + c10::toString(schema) + ")");
  }
  torch::jit::Stack stack;
  stack.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const c10::Argument& a = params[i];
    Napi::Value v = i < n ? js.Get(static_cast<uint32_t>(i)) : env.Undefined();
    if (!v.IsUndefined()) {
      stack.push_back(ToIValue(env, v, a.type(), schema, a));
    } else if (a.default_value()) {
      stack.push_back(*a.default_value());
    } else if (a.type()->kind() == c10::TypeKind::OptionalType) {
      stack.emplace_back();
    } else {
      throw Napi::TypeError::New(env, schema.name() + ": missing argument '" + a.name() + "' (" + c10::toString(schema) + ")");
    }
  }
  op.callBoxed(&stack);
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return FromIValue(env, stack[0]);
  Napi::Array out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) out.Set(i, FromIValue(env, stack[i]));
  return out;
  GUARD_END(env)
}

}  // namespace comboseg
