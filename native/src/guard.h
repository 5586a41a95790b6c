// The native boundary: no C++ exception escapes into V8. libtorch's c10::Error
// becomes a JS Error named "TorchError" carrying libtorch's message (without its
// C++ backtrace); anything else becomes a plain Error.
#pragma once
#include <napi.h>
#include <c10/util/Exception.h>

#define GUARD_BEGIN try {
#define GUARD_END(env)                                                              \
  }                                                                                 \
  catch (const Napi::Error&) {                                                      \
    throw;                                                                          \
  }                                                                                 \
  catch (const c10::Error& e) {                                                     \
    Napi::Error err = Napi::Error::New(env, e.what_without_backtrace());            \
    err.Set("name", Napi::String::New(env, "TorchError"));                          \
    throw err;                                                                      \
  }                                                                                 \
  catch (const std::exception& e) {                                                 \
    throw Napi::Error::New(env, e.what());                                          \
  }
