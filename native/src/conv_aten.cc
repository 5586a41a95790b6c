// 3-D convolutions through ATen's at::convolution: libtorch picks the kernel (oneDNN, or its
// native one for small batch-1 problems) and its autograd formula gives the backward.
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

}  // namespace comboseg
