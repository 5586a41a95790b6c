// Reference for `npm run bench`: the small 3-D U-Net of bench/unet.ts written
// directly in C++ on libtorch, with the same oneDNN convolutions, so the ratio
// of the two step times measures what driving libtorch from TypeScript costs.
//   in 1 → 16 → 32 → 32 channels at 64³, two concatenation skips, batch norm,
//   BCE with logits, batch 1, SGD (lr 0.01). Prints the median step in ms.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <c10/core/GradMode.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../../native/src/conv_onednn.h"

using comboseg::ConvGeometry;

static ConvGeometry Geo(int64_t stride, int64_t pad) {
  ConvGeometry g;
  g.stride = {stride, stride, stride};
  g.padding = {pad, pad, pad};
  g.dilation = {1, 1, 1};
  g.outputPadding = {0, 0, 0};
  return g;
}

struct Block {  // conv 3×3×3 → batch norm → ReLU
  at::Tensor w, g, b, rm, rv;
  Block(int64_t cin, int64_t cout) {
    w = (at::rand({cout, cin, 3, 3, 3}) - 0.5) * 0.2;
    g = at::ones({cout});
    b = at::zeros({cout});
    rm = at::zeros({cout});
    rv = at::ones({cout});
    for (auto* p : {&w, &g, &b}) p->set_requires_grad(true);
  }
  at::Tensor operator()(const at::Tensor& x) const {
    at::Tensor h = comboseg::Conv3dOneDnn(x, w, c10::nullopt, Geo(1, 1));
    return at::relu(at::batch_norm(h, g, b, rm, rv, true, 0.1, 1e-5, false));
  }
};

int main(int argc, char** argv) {
  int steps = argc > 1 ? std::atoi(argv[1]) : 10;
  int size = argc > 2 ? std::atoi(argv[2]) : 64;
  // The same thread count as the TypeScript side (libtorch's default here is 1).
  at::set_num_threads(argc > 3 ? std::atoi(argv[3]) : static_cast<int>(std::thread::hardware_concurrency()));
  at::manual_seed(0);
  Block e1(1, 16), e2(16, 32), bott(32, 32), d2(64, 32), d1(32, 16);
  at::Tensor up2 = ((at::rand({32, 32, 2, 2, 2}) - 0.5) * 0.2).set_requires_grad(true);
  at::Tensor up1 = ((at::rand({32, 16, 2, 2, 2}) - 0.5) * 0.2).set_requires_grad(true);
  at::Tensor head = ((at::rand({1, 16, 1, 1, 1}) - 0.5) * 0.2).set_requires_grad(true);
  std::vector<at::Tensor> params{up2, up1, head};
  for (const Block* b : {&e1, &e2, &bott, &d2, &d1}) params.insert(params.end(), {b->w, b->g, b->b});
  at::Tensor x = at::rand({1, 1, size, size, size});
  at::Tensor y = (x > 0.5).to(at::kFloat);

  std::vector<double> times;
  for (int step = 0; step < steps + 2; ++step) {
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor s1 = e1(x);
    at::Tensor s2 = e2(at::max_pool3d(s1, {2, 2, 2}));
    at::Tensor h = bott(at::max_pool3d(s2, {2, 2, 2}));
    h = d2(at::cat({comboseg::ConvTranspose3dOneDnn(h, up2, c10::nullopt, Geo(2, 0)), s2}, 1));
    h = d1(at::cat({comboseg::ConvTranspose3dOneDnn(h, up1, c10::nullopt, Geo(2, 0)), s1}, 1));
    at::Tensor logits = comboseg::Conv3dOneDnn(h, head, c10::nullopt, Geo(1, 0));
    at::Tensor loss = at::binary_cross_entropy_with_logits(logits, y);
    loss.backward();
    {
      c10::NoGradGuard noGrad;
      for (auto& p : params) {
        p.add_(p.grad(), -0.01);
        p.mutable_grad().reset();
      }
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (step >= 2) times.push_back(ms);  // two warm-up steps
  }
  std::sort(times.begin(), times.end());
  std::printf("%.3f\n", times[times.size() / 2]);
  return 0;
}
