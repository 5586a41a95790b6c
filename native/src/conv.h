// 3-D convolutions as the addon exposes them (conv3d / convTranspose3d): the geometry, the
// argument checks both paths share, and the ATen path. conv_binding.cc picks the path:
// the hand-made oneDNN one (conv_onednn.h) where compat.h says it exists, else ATen's.
#pragma once
#include "compat.h"

#include <vector>

namespace comboseg {

struct ConvGeometry {
  std::vector<int64_t> stride, padding, dilation, outputPadding;
  int64_t groups = 1;
};

inline bool IsFloating(const at::Tensor& t) { return t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16; }

/** Float32 tensors; a bf16 convolution (bf16 = true) also takes a bfloat16 input. */
inline void CheckConvInputs(const at::Tensor& x, const at::Tensor& w, const char* what, bool bf16 = false) {
  TORCH_CHECK(x.dim() == 5, what, ": input must be 5-D [N, C, D, H, W], got ", x.sizes());
  TORCH_CHECK(w.dim() == 5, what, ": weight must be 5-D, got ", w.sizes());
  bool ok = (bf16 ? IsFloating(x) : x.scalar_type() == at::kFloat) && w.scalar_type() == at::kFloat;
  TORCH_CHECK(ok, what, bf16 ? ": takes a float32 or bfloat16 input and float32 weights, got "
                             : ": takes float32 tensors (bfloat16 through the bf16 convolution), got ",
              x.scalar_type(), " input and ", w.scalar_type(), " weight");
}

/** x [N, Cin, D, H, W] float32, w [Cout, Cin/groups, k, k, k]. */
inline void CheckConv3d(const at::Tensor& x, const at::Tensor& w, const ConvGeometry& g, bool bf16 = false) {
  CheckConvInputs(x, w, "conv3d", bf16);
  TORCH_CHECK(x.size(1) == w.size(1) * g.groups, "conv3d: input has ", x.size(1), " channels but the weight ",
              w.sizes(), " expects ", w.size(1) * g.groups);
}

/** x [N, Cin, D, H, W] float32, w [Cin, Cout/groups, k, k, k]. */
inline void CheckConvTranspose3d(const at::Tensor& y, const at::Tensor& w, bool bf16 = false) {
  CheckConvInputs(y, w, "convTranspose3d", bf16);
  TORCH_CHECK(y.size(1) == w.size(0), "convTranspose3d: input has ", y.size(1), " channels but the weight ", w.sizes(),
              " expects ", w.size(0));
}

/** ATen's convolution (forward and backward through libtorch's autograd), any libtorch. */
at::Tensor Conv3dAten(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                      const ConvGeometry& g);

/** ATen's transposed convolution (forward and backward through libtorch's autograd), any libtorch. */
at::Tensor ConvTranspose3dAten(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                               const ConvGeometry& g);

/** ATen's convolution on bfloat16 casts of input, weight and bias; returns bfloat16. */
at::Tensor Conv3dBf16Aten(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                          const ConvGeometry& g);

/** ATen's transposed convolution on bfloat16 casts; returns bfloat16. */
at::Tensor ConvTranspose3dBf16Aten(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                                   const ConvGeometry& g);

}  // namespace comboseg
