// What the convolutions' own autograd functions (conv_onednn.cc, conv_dnnl.cc) keep between
// forward and backward: the geometry and whether there is a bias.
#pragma once
#include "conv.h"

#include <torch/csrc/autograd/custom_function.h>

namespace comboseg {

inline void SaveGeometry(torch::autograd::AutogradContext* ctx, const ConvGeometry& g, bool hasBias) {
  ctx->saved_data["stride"] = g.stride;
  ctx->saved_data["padding"] = g.padding;
  ctx->saved_data["dilation"] = g.dilation;
  ctx->saved_data["groups"] = g.groups;
  ctx->saved_data["outputPadding"] = g.outputPadding.empty() ? std::vector<int64_t>(3, 0) : g.outputPadding;
  ctx->saved_data["bias"] = hasBias;
}

inline ConvGeometry LoadGeometry(torch::autograd::AutogradContext* ctx) {
  ConvGeometry g;
  g.stride = ctx->saved_data["stride"].toIntVector();
  g.padding = ctx->saved_data["padding"].toIntVector();
  g.dilation = ctx->saved_data["dilation"].toIntVector();
  g.groups = ctx->saved_data["groups"].toInt();
  g.outputPadding = ctx->saved_data["outputPadding"].toIntVector();
  return g;
}

}  // namespace comboseg
