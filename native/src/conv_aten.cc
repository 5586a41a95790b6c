// 3-D convolutions through ATen's at::convolution: libtorch picks the kernel (oneDNN, or its
// native one for small batch-1 problems) and its autograd formula gives the backward. The bf16
// variants cast input, weight and bias to bfloat16 first, as autocast does; the casts' own
// backward returns the gradients in float32. Grouped ones compute in float32 and round the output:
// libtorch 1.13's bf16 transposed convolution checks grouped channels as if it were not transposed.
#include "conv.h"

namespace comboseg {

at::Tensor Conv3dAten(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                      const ConvGeometry& g) {
  CheckConv3d(x, w, g);
  return at::convolution(x, w, bias, g.stride, g.padding, g.dilation, false, {0, 0, 0}, g.groups);
}

at::Tensor ConvTranspose3dAten(const at::Tensor& y, const at::Tensor& w, const Optional<at::Tensor>& bias,
                               const ConvGeometry& g) {
  CheckConvTranspose3d(y, w);
  return at::convolution(y, w, bias, g.stride, g.padding, g.dilation, true, g.outputPadding, g.groups);
}

namespace {
Optional<at::Tensor> Bf16(const Optional<at::Tensor>& b) {
  if (!b.has_value()) return kNullopt;
  return b->to(at::kBFloat16);
}
}  // namespace

at::Tensor Conv3dBf16Aten(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                          const ConvGeometry& g) {
  CheckConv3d(x, w, g, true);
  if (g.groups > 1) {
    return at::convolution(x.to(at::kFloat), w, bias, g.stride, g.padding, g.dilation, false, {0, 0, 0}, g.groups)
        .to(at::kBFloat16);
  }
  return at::convolution(x.to(at::kBFloat16), w.to(at::kBFloat16), Bf16(bias), g.stride, g.padding, g.dilation,
                         false, {0, 0, 0}, g.groups);
}

at::Tensor ConvTranspose3dBf16Aten(const at::Tensor& y, const at::Tensor& w, const Optional<at::Tensor>& bias,
                                   const ConvGeometry& g) {
  CheckConvTranspose3d(y, w, true);
  if (g.groups > 1) {
    return at::convolution(y.to(at::kFloat), w, bias, g.stride, g.padding, g.dilation, true, g.outputPadding, g.groups)
        .to(at::kBFloat16);
  }
  return at::convolution(y.to(at::kBFloat16), w.to(at::kBFloat16), Bf16(bias), g.stride, g.padding, g.dilation,
                         true, g.outputPadding, g.groups);
}

}  // namespace comboseg
