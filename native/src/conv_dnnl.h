// bf16 3-D convolutions straight on oneDNN's own API (see conv_dnnl.cc). Plain libtorch +
// dnnl.hpp, no N-API. Defined only where compat.h sets COMBOSEG_DNNL_CONV: Debian's libtorch 1.13,
// which links the shared libdnnl whose headers libdnnl-dev installs.
#pragma once
#include "conv.h"

namespace comboseg {

/**
 * x [N, Cin, D, H, W] float32 or bfloat16, w [Cout, Cin, k, k, k] float32 (the master weights),
 * bias float32 or none. Computes in bfloat16, returns bfloat16; the input's gradient comes back in
 * the input's dtype, the weight's and bias's in float32.
 */
at::Tensor Conv3dBf16Dnnl(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                          const ConvGeometry& g);

/** The transposed convolution likewise: x [N, Cin, D, H, W], w [Cin, Cout, k, k, k]. */
at::Tensor ConvTranspose3dBf16Dnnl(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                                   const ConvGeometry& g);

}  // namespace comboseg
