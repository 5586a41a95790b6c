// bf16 3-D convolutions (plain and transposed) on oneDNN's own API, forward and backward.
//
// Why not at::mkldnn_convolution on bf16 tensors: libtorch 1.13 hands oneDNN plain layouts and
// gets its slower kernels (150-180 GFLOP/s measured on a Zen 4 with AVX512-BF16), where oneDNN on
// channels-last (NDHWC) activations runs 420-435 GFLOP/s on the same machine, as fast as with its
// own blocked layouts. So bf16 activations are channels-last libtorch tensors from one layer to
// the next (batch norm, pooling and up-sampling in layers_dnnl.cc keep them so) and nothing is
// reordered between layers; a plain input (the network's image) is reordered once.
//
// The precision policy is PyTorch's autocast: the master weights stay float32 and are reordered
// into bf16 on the way in; the input may be float32 (the first layer) or bf16; the output is bf16;
// the weight's gradient comes out of oneDNN in float32, the bias's is summed in float32, the
// input's is returned in the input's dtype and layout.
#include "conv_dnnl.h"

#if COMBOSEG_DNNL_CONV

#include "dnnl_util.h"

#include "conv_autograd.h"

namespace comboseg {

namespace {

using namespace dnnl_util;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A weight as libtorch lays it out: [out, in, k] for a convolution; [in, out, k] for a transposed
// one, which oneDNN describes as dims {out, in, k} in the iodhw order.
memory::desc WeightDesc(const at::Tensor& w, bool transposed) {
  auto d = Dims(w.sizes());
  if (transposed) std::swap(d[0], d[1]);
  return {d, DnnlType(w), transposed ? Tag::iodhw : Tag::oidhw};
}

memory::desc Any(const memory::dims& dims, DT type) { return {dims, type, Tag::any}; }

/** The problem in oneDNN's terms: dims of the (small-side) input, weight, output; strides, pads. */
struct Shape {
  memory::dims src, wei, dst, stride, dilate, padL, padR;
};

Shape ShapeOf(const at::Tensor& x, const at::Tensor& w, const ConvGeometry& g, bool transposed) {
  TORCH_CHECK(g.groups == 1, "bf16 convolution: groups > 1 is not supported (got ", g.groups, ")");
  for (int i = 0; i < 3; ++i) {
    TORCH_CHECK(g.stride[i] > 0 && g.dilation[i] > 0 && g.padding[i] >= 0, "bf16 convolution: strides and ",
                "dilations must be positive and padding non-negative, got stride ", g.stride, ", dilation ",
                g.dilation, ", padding ", g.padding);
  }
  TORCH_CHECK(w.device().is_cpu(), "bf16 convolution: the weight is on ", w.device(), ", the input on the CPU");
  Shape s;
  s.src = Dims(x.sizes());
  s.wei = Dims(w.sizes());
  if (transposed) std::swap(s.wei[0], s.wei[1]);
  s.dst = {x.size(0), s.wei[0]};
  for (int i = 0; i < 3; ++i) {
    int64_t range = g.dilation[i] * (w.size(2 + i) - 1) + 1;
    int64_t out = transposed ? (x.size(2 + i) - 1) * g.stride[i] - 2 * g.padding[i] + range + g.outputPadding[i]
                             : (x.size(2 + i) + 2 * g.padding[i] - range) / g.stride[i] + 1;
    TORCH_CHECK(out > 0, "bf16 convolution: the output would be empty along spatial axis ", i);
    s.dst.push_back(out);
    s.stride.push_back(g.stride[i]);
    s.dilate.push_back(g.dilation[i] - 1);
    s.padL.push_back(g.padding[i]);
    // oneDNN wants the right-hand pad that makes the sizes agree exactly.
    int64_t big = transposed ? out : x.size(2 + i), small = transposed ? x.size(2 + i) : out;
    s.padR.push_back((small - 1) * g.stride[i] + range - big - g.padding[i]);
  }
  return s;
}

/** The primitives of one convolution: activations channels-last, oneDNN choosing the weights' layout. */
template <bool Transposed>
struct Primitives;

template <>
struct Primitives<false> {
  using Fwd = dnnl::convolution_forward;
  using BwdData = dnnl::convolution_backward_data;
  using BwdWeights = dnnl::convolution_backward_weights;
  static constexpr dnnl::algorithm kAlgorithm = dnnl::algorithm::convolution_direct;
};

template <>
struct Primitives<true> {
  using Fwd = dnnl::deconvolution_forward;
  using BwdData = dnnl::deconvolution_backward_data;
  using BwdWeights = dnnl::deconvolution_backward_weights;
  static constexpr dnnl::algorithm kAlgorithm = dnnl::algorithm::deconvolution_direct;
};

template <bool Transposed>
typename Primitives<Transposed>::Fwd::primitive_desc ForwardPd(const Shape& s, bool bias, dnnl::prop_kind kind) {
  using P = Primitives<Transposed>;
  memory::desc biasDesc = bias ? memory::desc({s.dst[1]}, DT::f32, Tag::x) : memory::desc();
  typename P::Fwd::desc d(kind, P::kAlgorithm, ChannelsLastBf16(s.src), Any(s.wei, DT::bf16), biasDesc,
                          ChannelsLastBf16(s.dst), s.stride, s.dilate, s.padL, s.padR);
  return {d, Cpu()};
}

template <bool Transposed>
at::Tensor Forward(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias, const Shape& s,
                   bool training) {
  auto pd = ForwardPd<Transposed>(s, bias.has_value(), training ? dnnl::prop_kind::forward_training
                                                                  : dnnl::prop_kind::forward_inference);
  memory src = Into(x, ActivationDesc(x), pd.src_desc());
  memory wei = Into(w, WeightDesc(w, Transposed), pd.weights_desc());
  at::Tensor y = EmptyChannelsLast(s.dst, x);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}};
  if (bias.has_value()) args[DNNL_ARG_BIAS] = memory(pd.bias_desc(), Cpu(), bias->data_ptr());
  WriteTo(y, ActivationDesc(y), pd.dst_desc(), [&](memory& dst) {
    args[DNNL_ARG_DST] = dst;
    typename Primitives<Transposed>::Fwd(pd).execute(Stream(), args);
  });
  Stream().wait();
  return y;
}

/** Input and weight gradients (either may be skipped); the bias's is summed by ATen. */
template <bool Transposed>
std::pair<at::Tensor, at::Tensor> Backward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& gy,
                                           const Shape& s, bool wantInput, bool wantWeight) {
  using P = Primitives<Transposed>;
  auto fwd = ForwardPd<Transposed>(s, false, dnnl::prop_kind::forward_training);
  at::Tensor gx, gw;
  // The upstream gradient is reordered once when both passes want the same layout of it.
  Optional<memory> diffDstShared;
  auto diffDst = [&](const memory::desc& want) {
    if (diffDstShared.has_value() && diffDstShared->get_desc() == want) return *diffDstShared;
    diffDstShared = Into(gy, ActivationDesc(gy), want);
    return *diffDstShared;
  };
  if (wantWeight) {
    typename P::BwdWeights::desc d(P::kAlgorithm, ChannelsLastBf16(s.src), Any(s.wei, DT::f32), memory::desc(),
                                   ChannelsLastBf16(s.dst), s.stride, s.dilate, s.padL, s.padR);
    typename P::BwdWeights::primitive_desc pd(d, Cpu(), fwd);
    memory src = Into(x, ActivationDesc(x), pd.src_desc());
    memory dy = diffDst(pd.diff_dst_desc());
    gw = at::empty(w.sizes(), w.options().dtype(at::kFloat));
    WriteTo(gw, WeightDesc(gw, Transposed), pd.diff_weights_desc(), [&](memory& diffWei) {
      typename P::BwdWeights(pd).execute(
          Stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, diffWei}});
    });
  }
  if (wantInput) {
    typename P::BwdData::desc d(P::kAlgorithm, ChannelsLastBf16(s.src), Any(s.wei, DT::bf16), ChannelsLastBf16(s.dst),
                                s.stride, s.dilate, s.padL, s.padR);
    typename P::BwdData::primitive_desc pd(d, Cpu(), fwd);
    memory dy = diffDst(pd.diff_dst_desc());
    memory wei = Into(w, WeightDesc(w, Transposed), pd.weights_desc());
    gx = at::empty_like(x);  // x's dtype and layout
    WriteTo(gx, ActivationDesc(gx), pd.diff_src_desc(), [&](memory& diffSrc) {
      typename P::BwdData(pd).execute(Stream(),
                                      {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diffSrc}});
    });
  }
  Stream().wait();
  return {gx, gw};
}

template <bool Transposed>
struct Bf16Conv : public torch::autograd::Function<Bf16Conv<Transposed>> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const Optional<at::Tensor>& bias, ConvGeometry g) {
    at::Tensor xc = Dense(x), wc = w.contiguous();
    Optional<at::Tensor> b;
    if (bias.has_value()) b = bias->to(at::kFloat).contiguous();
    Shape s = ShapeOf(xc, wc, g, Transposed);
    bool training = x.requires_grad() || w.requires_grad() || (bias.has_value() && bias->requires_grad());
    ctx->save_for_backward({xc, wc});
    SaveGeometry(ctx, g, bias.has_value());
    return Reported(Transposed ? "convTranspose3d" : "conv3d",
                    [&] { return Forward<Transposed>(xc, wc, b, s, training); });
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    ConvGeometry g = LoadGeometry(ctx);
    at::Tensor gy = Dense(grads[0].to(at::kBFloat16));
    Shape s = ShapeOf(saved[0], saved[1], g, Transposed);
    bool wantX = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1);
    auto [gx, gw] = Reported(Transposed ? "convTranspose3d backward" : "conv3d backward",
                             [&] { return Backward<Transposed>(saved[0], saved[1], gy, s, wantX, wantW); });
    at::Tensor gb;
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) {
      gb = at::sum(gy, {0, 2, 3, 4}, false, at::kFloat);
    }
    return {gx, gw, gb, at::Tensor()};
  }
};

}  // namespace

at::Tensor Conv3dBf16Dnnl(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                          const ConvGeometry& g) {
  CheckConv3d(x, w, g, true);
  return Bf16Conv<false>::apply(x, w, bias, g);
}

at::Tensor ConvTranspose3dBf16Dnnl(const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& bias,
                                   const ConvGeometry& g) {
  CheckConvTranspose3d(x, w, true);
  return Bf16Conv<true>::apply(x, w, bias, g);
}

}  // namespace comboseg

#endif  // COMBOSEG_DNNL_CONV
