// Collectives across processes on libtorch's own c10d: a TCPStore for the rendezvous (rank 0
// hosts it) and ProcessGroupGloo for the CPU collectives. One process group per process, made by
// distInit and freed by distDestroy. The native layer only marshals: bucketing, averaging and
// what is reduced when are decided in TypeScript (src/training/distributed*.ts).
//
// Every collective waits at most the group's timeout: a peer that died or never came makes
// the call fail with c10d's error (naming the timeout), never hang.
//
// Gloo's headers come from Debian's libgloo-dev (the commit of the libgloo0 that Debian's
// libtorch links); PyTorch 2.x wheels ship none, so builds against them (COMBOSEG_C10D_GLOO 0)
// answer every call with an error saying which build has it.
#include "addon.h"
#include "guard.h"

#if COMBOSEG_C10D_GLOO
#define USE_C10D_GLOO  // what libtorch's own build defines: ProcessGroupGloo.hpp is empty without it
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <memory>

namespace comboseg {

#if COMBOSEG_C10D_GLOO

namespace {

using torch::autograd::AutogradContext;

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank;
  int size;
  std::chrono::milliseconds timeout;
};

std::unique_ptr<Group>& Current() {
  static std::unique_ptr<Group> group;
  return group;
}

Group& Need(Napi::Env env, const char* what) {
  if (!Current()) throw Napi::Error::New(env, std::string(what) + ": no process group (call distInit first)");
  return *Current();
}

/** The tensors of a JS array, each contiguous: collectives read and write their memory in place. */
std::vector<at::Tensor> Tensors(const Napi::Value& v, const char* what) {
  std::vector<at::Tensor> out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    out.push_back(TensorHandle::From(a.Get(i), what));
    TORCH_CHECK(out.back().is_contiguous(), what, " must be contiguous");
  }
  return out;
}

void Wait(const c10::intrusive_ptr<c10d::Work>& work, const Group& g) { work->wait(g.timeout); }

/** A new tensor: `x` summed over ranks. */
at::Tensor SumOverRanks(const at::Tensor& x, const char* what) {
  TORCH_CHECK(Current(), what, ": no process group (it was destroyed)");
  std::vector<at::Tensor> t{x.clone().contiguous()};
  Wait(Current()->pg->allreduce(t), *Current());
  return t[0];
}

/** Sum over ranks whose gradient is the sum over ranks of the gradients (each rank's loss uses the total). */
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) { return SumOverRanks(x, "distAllReduceSum"); }
  static torch::autograd::variable_list backward(AutogradContext* ctx, torch::autograd::variable_list grads) {
    return {SumOverRanks(grads[0], "distAllReduceSum backward")};
  }
};

}  // namespace

// (rank, size, host, port, timeoutMs): rank 0 hosts the store on host:port; all ranks join it.
Napi::Value JsDistInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (Current()) throw Napi::Error::New(env, "distInit: this process already has a process group");
  int rank = info[0].As<Napi::Number>().Int32Value(), size = info[1].As<Napi::Number>().Int32Value();
  std::string host = info[2].As<Napi::String>().Utf8Value();
  uint32_t portValue = info[3].As<Napi::Number>().Uint32Value();
  TORCH_CHECK(size >= 1 && rank >= 0 && rank < size, "distInit: rank ", rank, " is not in a group of ", size);
  TORCH_CHECK(portValue <= 65535, "distInit: port ", portValue, " is not a TCP port");
  auto port = static_cast<std::uint16_t>(portValue);
  std::chrono::milliseconds timeout(info[4].As<Napi::Number>().Int64Value());
  c10d::TCPStoreOptions opts;
  opts.port = port;
  opts.isServer = rank == 0;
  opts.numWorkers = size;
  // Rank 0 does not wait for the others here: it first records the world size, which every other rank
  // then reads and checks (Gloo's own rendezvous below waits for all ranks, within the timeout).
  opts.waitWorkers = false;
  opts.timeout = timeout;
  auto tcp = c10::make_intrusive<c10d::TCPStore>(host, opts);
  auto store = c10::make_intrusive<c10d::PrefixStore>("comboseg", tcp);
  std::string mine = std::to_string(size);
  if (rank == 0) {
    store->set("world_size", std::vector<uint8_t>(mine.begin(), mine.end()));
  } else {
    auto agreedBytes = store->get("world_size");  // waits for rank 0, within the timeout
    std::string agreed(agreedBytes.begin(), agreedBytes.end());
    TORCH_CHECK(agreed == mine, "rank ", rank, " was started for a world of ", size,
                " process(es), but rank 0 at ", host, ":", port, " was started for ", agreed,
                " (every host needs the same --nnodes and --nproc)");
  }
  // A rank number taken twice (two hosts given the same node rank) fails here, not at a timeout.
  TORCH_CHECK(store->add("rank_" + std::to_string(rank), 1) == 1, "rank ", rank, " joined the group at ", host, ":",
              port, " twice (two hosts with the same --node-rank?)");
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // Each rank binds its own address: the loopback when the whole group is on this host; else the
  // interface GLOO_SOCKET_IFNAME names (as PyTorch reads it), else the address this machine's
  // hostname resolves to (Gloo's default device; on Debian /etc/hosts may map it to 127.0.1.1).
  bool loopback = host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
  const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
  if (loopback) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
  } else if (iface != nullptr && *iface != '\0') {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
  Current() = std::make_unique<Group>(Group{store, pg, rank, size, timeout});
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value JsDistDestroy(const Napi::CallbackInfo& info) {
  Current().reset();
  return info.Env().Undefined();
}

// (tensors[]): each summed over ranks, in place.
Napi::Value JsDistAllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  Group& g = Need(env, "distAllReduce");
  std::vector<at::Tensor> t = Tensors(info[0], "distAllReduce tensor");
  Wait(g.pg->allreduce(t), g);
  return env.Undefined();
  GUARD_END(env)
}

// (tensors[], root): rank root's values everywhere, in place.
Napi::Value JsDistBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  Group& g = Need(env, "distBroadcast");
  std::vector<at::Tensor> t = Tensors(info[0], "distBroadcast tensor");
  c10d::BroadcastOptions opts;
  opts.rootRank = info[1].As<Napi::Number>().Int64Value();
  for (at::Tensor& x : t) {
    std::vector<at::Tensor> one{x};
    Wait(g.pg->broadcast(one, opts), g);
  }
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value JsDistBarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  Group& g = Need(env, "distBarrier");
  Wait(g.pg->barrier(), g);
  return env.Undefined();
  GUARD_END(env)
}

// (tensor): a new tensor, the sum over ranks, differentiable (its gradient is summed over ranks too).
Napi::Value JsDistAllReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  Need(env, "distAllReduceSum");
  return TensorHandle::Wrap(env, AllReduceSum::apply(TensorHandle::From(info[0], "distAllReduceSum input")));
  GUARD_END(env)
}

Napi::Value JsDistInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", true);
  out.Set("backend", "gloo");
  if (Current()) {
    out.Set("rank", Current()->rank);
    out.Set("size", Current()->size);
  }
  return out;
}

#else  // no Gloo headers for this libtorch (PyTorch 2.x wheels ship none)

namespace {
Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw TorchError(info.Env(),
                   "distributed training needs c10d's Gloo process group, built only against Debian's libtorch "
                   "(libtorch-dev + libgloo-dev, the default build): rebuild without COMBOSEG_LIBTORCH");
}
}  // namespace

Napi::Value JsDistInit(const Napi::CallbackInfo& info) { return Unavailable(info); }
Napi::Value JsDistDestroy(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }
Napi::Value JsDistAllReduce(const Napi::CallbackInfo& info) { return Unavailable(info); }
Napi::Value JsDistBroadcast(const Napi::CallbackInfo& info) { return Unavailable(info); }
Napi::Value JsDistBarrier(const Napi::CallbackInfo& info) { return Unavailable(info); }
Napi::Value JsDistAllReduceSum(const Napi::CallbackInfo& info) { return Unavailable(info); }
Napi::Value JsDistInfo(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("available", false);
  out.Set("backend", "none");
  return out;
}

#endif  // COMBOSEG_C10D_GLOO

}  // namespace comboseg
