// The native boundary: no C++ exception escapes into V8. Errors from libtorch —
// c10::Error, and the std::runtime_error some of its checks throw — become a JS
// Error named "TorchError" carrying libtorch's message (without its C++
// backtrace). Napi::Errors raised by the addon itself pass through unchanged.
#pragma once
#include <napi.h>
#include <c10/util/Exception.h>

namespace comboseg {
inline Napi::Error TorchError(Napi::Env env, const char* message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("name", Napi::String::New(env, "TorchError"));
  return err;
}
}  // namespace comboseg

#define GUARD_BEGIN try {
#define GUARD_END(env)                                        \
  }                                                           \
  catch (const Napi::Error&) {                                \
    throw;                                                    \
  }                                                           \
  catch (const c10::Error& e) {                               \
    throw ::comboseg::TorchError(env, e.what_without_backtrace()); \
  }                                                           \
  catch (const std::exception& e) {                           \
    throw ::comboseg::TorchError(env, e.what());              \
  }
