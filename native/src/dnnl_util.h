// What the bf16 oneDNN functions share (conv_dnnl.cc, layers_dnnl.cc): the engine and a stream
// per thread, descriptors of libtorch tensors, and reorders into and out of oneDNN's layouts.
// Activations between bf16 layers are channels-last (NDHWC) libtorch tensors, a layout oneDNN's
// convolution, batch norm, pooling and resampling all run at full speed on, so no layer reorders
// what the previous one wrote; a plain (NCDHW) tensor is described as such and reordered once.
// Only for builds where compat.h sets COMBOSEG_DNNL_CONV.
#pragma once
#include "compat.h"

#if COMBOSEG_DNNL_CONV

#include <oneapi/dnnl/dnnl.hpp>

#include <utility>

namespace comboseg::dnnl_util {

using dnnl::memory;
using Tag = memory::format_tag;
using DT = memory::data_type;

inline dnnl::engine& Cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

inline dnnl::stream& Stream() {
  thread_local dnnl::stream stream(Cpu());
  return stream;
}

inline memory::dims Dims(at::IntArrayRef s) { return memory::dims(s.begin(), s.end()); }

inline DT DnnlType(const at::Tensor& t) {
  if (t.scalar_type() == at::kBFloat16) return DT::bf16;
  TORCH_CHECK(t.scalar_type() == at::kFloat, "bf16 oneDNN op: tensors must be float32 or bfloat16, got ",
              t.scalar_type());
  return DT::f32;
}

constexpr auto kChannelsLast = at::MemoryFormat::ChannelsLast3d;

/** `t` dense in channels-last or plain layout: itself when it already is, else a channels-last copy. */
inline at::Tensor Dense(const at::Tensor& t) {
  if (t.is_contiguous(kChannelsLast) || t.is_contiguous()) return t;
  return t.contiguous(kChannelsLast);
}

/** A dense 5-D activation as it lies in memory: NDHWC when channels-last, else NCDHW. */
inline memory::desc ActivationDesc(const at::Tensor& t) {
  return {Dims(t.sizes()), DnnlType(t), t.is_contiguous(kChannelsLast) ? Tag::ndhwc : Tag::ncdhw};
}

/** The same shape in channels-last bf16: what the bf16 layers read and write. */
inline memory::desc ChannelsLastBf16(const memory::dims& dims) { return {dims, DT::bf16, Tag::ndhwc}; }

/** A new channels-last bf16 activation. */
inline at::Tensor EmptyChannelsLast(const memory::dims& dims, const at::Tensor& like) {
  return at::empty(dims, like.options().dtype(at::kBFloat16).memory_format(kChannelsLast));
}

/** A [C] float32 vector (batch-norm parameters and statistics). */
inline memory Vector(const at::Tensor& t) { return memory({{t.size(0)}, DT::f32, Tag::x}, Cpu(), t.data_ptr()); }

/** `t`'s data as a memory of layout `want`: t's own buffer when it already is, else a reordered copy. */
inline memory Into(const at::Tensor& t, const memory::desc& user, const memory::desc& want) {
  memory own(user, Cpu(), t.data_ptr());
  if (user == want) return own;
  memory copy(want, Cpu());
  dnnl::reorder(own, copy).execute(Stream(), own, copy);
  return copy;
}

/** Runs `run` writing into `out` (layout `user`), through a scratch memory of layout `got` if they differ. */
template <class Run>
void WriteTo(const at::Tensor& out, const memory::desc& user, const memory::desc& got, Run run) {
  memory own(user, Cpu(), out.data_ptr());
  if (user == got) {
    run(own);
    return;
  }
  memory scratch(got, Cpu());
  run(scratch);
  dnnl::reorder(scratch, own).execute(Stream(), scratch, own);
}

// oneDNN reports its failures as dnnl::error; say which op failed, in libtorch's terms.
template <class F>
auto Reported(const char* what, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    TORCH_CHECK(false, what, ": oneDNN could not run it in bf16 (", e.what(), ", status ", e.status, ")");
  }
}

}  // namespace comboseg::dnnl_util

#endif  // COMBOSEG_DNNL_CONV
