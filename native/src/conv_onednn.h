// oneDNN 3-D convolutions with their own autograd functions (see conv_onednn.cc).
// Plain libtorch, no N-API: the addon and the C++ reference benchmark share it.
#pragma once
#include <ATen/ATen.h>
#include <vector>

namespace comboseg {

struct ConvGeometry {
  std::vector<int64_t> stride, padding, dilation, outputPadding;
  int64_t groups = 1;
};

/** x [N, Cin, D, H, W] float32, w [Cout, Cin/groups, k, k, k]; oneDNN forward and backward. */
at::Tensor Conv3dOneDnn(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias,
                        const ConvGeometry& g);

/** x [N, Cin, D, H, W] float32, w [Cin, Cout/groups, k, k, k]; oneDNN forward and backward. */
at::Tensor ConvTranspose3dOneDnn(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias,
                                 const ConvGeometry& g);

}  // namespace comboseg
