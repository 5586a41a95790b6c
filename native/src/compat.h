// The one place that knows which libtorch the addon is compiled against. Every
// difference between libtorch 1.13 (Debian 12's libtorch-dev) and PyTorch 2.x
// is decided here, from TORCH_VERSION_MAJOR / TORCH_VERSION_MINOR; the other
// files use the names below and carry no version checks of their own.
//
// What changed, and where it is handled:
// - c10::optional / c10::nullopt became aliases of std::optional / std::nullopt
//   (2.2, Nov 2023) and are on their way out: use comboseg::Optional / kNullopt.
// - Schemas take SymInt where they took int (2.x): dispatch.cc accepts both type
//   kinds, and the boxed kernels take a plain int list for SymInt[].
// - String arguments became std::string_view: the boxed calls (an IValue string)
//   are unaffected.
// - The C++ standard: 2.x headers want C++20 (TorchConfig.cmake says so, and
//   scripts/build-native.mjs reads it from there); 1.13's need C++14, the addon
//   itself needs C++17.
// - The hand-made oneDNN convolution (conv_onednn.cc) reads libtorch 1.13's
//   internal dispatch stubs, and the bf16 one (conv_dnnl.cc) calls the shared
//   libdnnl that Debian's 1.13 links; elsewhere convolutions go through ATen
//   (conv_aten.cc). PyTorch 2.x links oneDNN statically, its symbols hidden.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/api/include/torch/version.h>

#include <optional>

#if !defined(TORCH_VERSION_MAJOR) || !defined(TORCH_VERSION_MINOR)
#error "comboseg: torch/version.h did not define TORCH_VERSION_MAJOR / TORCH_VERSION_MINOR"
#endif

#if __cplusplus < 201703L
#error "comboseg: the addon needs C++17 or later (scripts/build-native.mjs sets -std)"
#endif

/** True when the libtorch headers are version major.minor or later. */
#define COMBOSEG_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

/** 1: conv3d / convTranspose3d run the hand-made oneDNN path (libtorch 1.13 internals); 0: ATen. */
#if TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR == 13
#define COMBOSEG_ONEDNN_CONV 1
#else
#define COMBOSEG_ONEDNN_CONV 0
#endif

/** 1: bf16 convolutions run on oneDNN's own API (conv_dnnl.cc): Debian's 1.13, which links the
 * shared libdnnl, built with libdnnl-dev's headers (scripts/build-native.mjs defines COMBOSEG_DNNL). */
#if COMBOSEG_ONEDNN_CONV && defined(COMBOSEG_DNNL) && COMBOSEG_DNNL
#define COMBOSEG_DNNL_CONV 1
#else
#define COMBOSEG_DNNL_CONV 0
#endif

/** Where libtorch came from: the folder the build was pointed at (set by scripts/build-native.mjs). */
#ifndef COMBOSEG_LIBTORCH_DIR
#define COMBOSEG_LIBTORCH_DIR "unknown (not built by scripts/build-native.mjs)"
#endif

namespace comboseg {

#if COMBOSEG_TORCH_AT_LEAST(2, 2)
template <class T>
using Optional = std::optional<T>;
inline constexpr std::nullopt_t kNullopt = std::nullopt;
#else
template <class T>
using Optional = c10::optional<T>;
inline constexpr c10::nullopt_t kNullopt = c10::nullopt;
#endif

/** Whether conv3d / convTranspose3d use the hand-made oneDNN path (else ATen's convolution). */
inline constexpr bool kOneDnnConv = COMBOSEG_ONEDNN_CONV == 1;

/** Whether bf16 convolutions run on oneDNN's own API (else ATen's convolution on bf16 casts). */
inline constexpr bool kDnnlConv = COMBOSEG_DNNL_CONV == 1;

/** libtorch's version as compiled against, e.g. "2.13.0". */
inline constexpr const char* kTorchVersion = TORCH_VERSION;

/** The libtorch folder the addon was built against (COMBOSEG_LIBTORCH, or /usr for Debian's). */
inline constexpr const char* kLibtorchDir = COMBOSEG_LIBTORCH_DIR;

}  // namespace comboseg
