// bf16 batch norm, max pooling and nearest up-sampling on oneDNN's own API (layers_dnnl.cc), on
// channels-last activations. Plain libtorch + dnnl.hpp, no N-API. Defined only where compat.h sets
// COMBOSEG_DNNL_CONV (Debian's libtorch 1.13 with libdnnl-dev).
#pragma once
#include "compat.h"

#include <vector>

namespace comboseg {

/** x [N, C, D, H, W] bf16 (or float32); weight, bias, running statistics float32 [C]. Returns bf16 channels-last. */
at::Tensor BatchNormBf16Dnnl(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const at::Tensor& runningMean, const at::Tensor& runningVar, bool training,
                             double momentum, double eps);

/** Max pooling without padding (floor mode); returns bf16 channels-last. */
at::Tensor MaxPool3dBf16Dnnl(const at::Tensor& x, const std::vector<int64_t>& kernel,
                             const std::vector<int64_t>& stride);

/** Nearest up-sampling to `size` [D, H, W]; returns bf16 channels-last. */
at::Tensor UpsampleNearest3dBf16Dnnl(const at::Tensor& x, const std::vector<int64_t>& size);

}  // namespace comboseg
