// oneDNN 3-D convolutions with their own autograd functions (see conv_onednn.cc).
// Plain libtorch, no N-API: the addon and the C++ reference benchmark share it.
// Defined only where compat.h sets COMBOSEG_ONEDNN_CONV (libtorch 1.13).
#pragma once
#include "conv.h"

namespace comboseg {

/** x [N, Cin, D, H, W] float32, w [Cout, Cin/groups, k, k, k]; oneDNN forward and backward. */
at::Tensor Conv3dOneDnn(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                        const ConvGeometry& g);

/** x [N, Cin, D, H, W] float32, w [Cin, Cout/groups, k, k, k]; oneDNN forward and backward. */
at::Tensor ConvTranspose3dOneDnn(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                                 const ConvGeometry& g);

}  // namespace comboseg
