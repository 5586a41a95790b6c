#pragma once
#include <napi.h>
#include <c10/core/ScalarType.h>
#include <string>

namespace comboseg {

inline const char* DTypeName(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return "float32";
    case c10::kDouble: return "float64";
    case c10::kBFloat16: return "bfloat16";
    case c10::kInt: return "int32";
    case c10::kLong: return "int64";
    case c10::kShort: return "int16";
    case c10::kChar: return "int8";
    case c10::kByte: return "uint8";
    case c10::kBool: return "bool";
    default: return c10::toString(t);
  }
}

inline c10::ScalarType DTypeFromName(Napi::Env env, const std::string& s) {
  if (s == "float32") return c10::kFloat;
  if (s == "float64") return c10::kDouble;
  if (s == "bfloat16") return c10::kBFloat16;
  if (s == "int32") return c10::kInt;
  if (s == "int64") return c10::kLong;
  if (s == "int16") return c10::kShort;
  if (s == "int8") return c10::kChar;
  if (s == "uint8") return c10::kByte;
  if (s == "bool") return c10::kBool;
  throw Napi::TypeError::New(env, "unknown dtype '" + s + "'");
}

// The typed array kind whose element layout matches a dtype.
inline napi_typedarray_type ArrayTypeFor(Napi::Env env, c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return napi_float32_array;
    case c10::kDouble: return napi_float64_array;
    case c10::kInt: return napi_int32_array;
    case c10::kLong: return napi_bigint64_array;
    case c10::kShort: return napi_int16_array;
    case c10::kChar: return napi_int8_array;
    case c10::kByte: return napi_uint8_array;
    case c10::kBool: return napi_uint8_array;
    default:
      throw Napi::TypeError::New(env, std::string("no typed array for dtype ") + c10::toString(t));
  }
}

}  // namespace comboseg
