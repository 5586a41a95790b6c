// 3-D convolutions on oneDNN in both directions.
//
// libtorch 1.13 picks its slow native conv3d (~15 GFLOP/s) for batch 1 when
// N*C*D*H <= 20480, and at::mkldnn_convolution's autograd formula calls
// convolution_backward, which re-runs that heuristic. These autograd functions
// call oneDNN directly: forward through at::mkldnn_convolution, backward
// through the mkldnn_convolution_backward dispatch stub. The stub's dispatcher
// (get_call_ptr) is not exported, so we read its DEFAULT pointer, which
// REGISTER_ALL_CPU_DISPATCH sets for every CPU capability. This ties the addon
// to libtorch 1.13's internals (1.13.1 is Debian 12's libtorch-dev).
//
// A transposed convolution is the adjoint of a convolution: its forward is the
// convolution's input-gradient, its input-gradient is the convolution's
// forward, and its weight-gradient is the convolution's weight-gradient with
// the roles of input and output swapped. libtorch 1.13 has no oneDNN
// transposed convolution, so this is how it gets onto oneDNN.
//
// On other libtorch versions compat.h sets COMBOSEG_ONEDNN_CONV to 0, this file
// compiles to nothing and the addon's convolutions go through ATen (conv_aten.cc).
#include "conv_onednn.h"

#if COMBOSEG_ONEDNN_CONV

#include <ATen/native/ConvUtils.h>
#include "conv_autograd.h"

namespace comboseg {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using at::native::mkldnn_convolution_backward_fn;

mkldnn_convolution_backward_fn BackwardKernel() {
  using Stub = at::native::DispatchStub<mkldnn_convolution_backward_fn, struct at::native::mkldnn_convolution_backward_stub>;
  mkldnn_convolution_backward_fn fn = Stub::DEFAULT;
  TORCH_CHECK(fn != nullptr, "oneDNN convolution backward is not registered in this libtorch build");
  return fn;
}

// The stub is a raw CPU kernel: it must run below the autograd dispatch keys.
std::tuple<at::Tensor, at::Tensor, at::Tensor> OneDnnBackward(const at::Tensor& input, const at::Tensor& gradOutput,
                                                              const at::Tensor& weight, const ConvGeometry& g,
                                                              std::array<bool, 3> mask) {
  at::AutoDispatchBelowAutograd below;
  return BackwardKernel()(input.contiguous(), gradOutput.contiguous(), weight.contiguous(), g.padding, g.stride,
                          g.dilation, g.groups, mask);
}

struct Conv3d : public torch::autograd::Function<Conv3d> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const Optional<at::Tensor>& bias, ConvGeometry g) {
    ctx->save_for_backward({x, w});
    SaveGeometry(ctx, g, bias.has_value());
    return at::mkldnn_convolution(x.contiguous(), w.contiguous(), bias, g.padding, g.stride, g.dilation, g.groups);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    ConvGeometry g = LoadGeometry(ctx);
    bool hasBias = ctx->saved_data["bias"].toBool();
    std::array<bool, 3> mask{ctx->needs_input_grad(0), ctx->needs_input_grad(1), hasBias && ctx->needs_input_grad(2)};
    auto [gx, gw, gb] = OneDnnBackward(saved[0], grads[0], saved[1], g, mask);
    return {mask[0] ? gx : at::Tensor(), mask[1] ? gw : at::Tensor(), mask[2] ? gb : at::Tensor(), at::Tensor()};
  }
};

struct ConvTranspose3d : public torch::autograd::Function<ConvTranspose3d> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& y, const at::Tensor& w,
                            const Optional<at::Tensor>& b, ConvGeometry g) {
    ctx->save_for_backward({y, w});
    SaveGeometry(ctx, g, b.has_value());
    // Output size of the transposed convolution = input size of the convolution it is the adjoint of.
    std::vector<int64_t> outShape{y.size(0), w.size(1) * g.groups};
    for (int i = 0; i < 3; ++i) {
      outShape.push_back((y.size(2 + i) - 1) * g.stride[i] - 2 * g.padding[i] + g.dilation[i] * (w.size(2 + i) - 1) +
                         g.outputPadding[i] + 1);
    }
    at::Tensor shapeOnly = at::empty(outShape, y.options());
    auto res = OneDnnBackward(shapeOnly, y, w, g, {true, false, false});
    at::Tensor z = std::get<0>(res);
    if (b.has_value()) z.add_(b->view({1, -1, 1, 1, 1}));
    return z;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& y = saved[0];
    const at::Tensor& w = saved[1];
    ConvGeometry g = LoadGeometry(ctx);
    bool hasBias = ctx->saved_data["bias"].toBool();
    at::Tensor go = grads[0].contiguous();
    at::Tensor gy, gw, gb;
    if (ctx->needs_input_grad(0)) {
      gy = at::mkldnn_convolution(go, w.contiguous(), kNullopt, g.padding, g.stride, g.dilation, g.groups);
    }
    if (ctx->needs_input_grad(1)) {
      gw = std::get<1>(OneDnnBackward(go, y, w, g, {false, true, false}));
    }
    if (hasBias && ctx->needs_input_grad(2)) gb = go.sum({0, 2, 3, 4});
    return {gy, gw, gb, at::Tensor()};
  }
};

}  // namespace

at::Tensor Conv3dOneDnn(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                        const ConvGeometry& g) {
  CheckConv3d(x, w, g);
  return Conv3d::apply(x, w, bias, g);
}

at::Tensor ConvTranspose3dOneDnn(const at::Tensor& y, const at::Tensor& w, const Optional<at::Tensor>& bias,
                                 const ConvGeometry& g) {
  CheckConvTranspose3d(y, w);
  return ConvTranspose3d::apply(y, w, bias, g);
}

}  // namespace comboseg

#endif  // COMBOSEG_ONEDNN_CONV
