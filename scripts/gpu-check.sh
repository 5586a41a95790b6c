#!/usr/bin/env bash
# Checks comboseg's CUDA path on a GPU host: Python with a PyTorch 2.x CUDA build (its torch/include and
# torch/lib are the libtorch to build against) and a C++ compiler; no Node, no network. Takes the bundle
# made by scripts/gpu-bundle.sh (default: .gpu beside this script's repository root, or $1):
#   1. unpacks Node, builds the addon against python3's torch (CUDA libraries linked in, rpath set);
#   2. runs the checks: conv3d, every network and every loss on the GPU against the CPU, a short training
#      run (the loss falls) and a sliding-window predict on a synthetic volume;
#   3. times the proposed network's training step (80³, batch 2, default widths, Combo + Adadelta) beside
#      PyTorch's own step on the same GPU in the same run (../shared/bench/torch_proposed.py), in fp32 and bf16.
# Prints every result; exits non-zero if a check failed. Meant to finish in under 6 minutes.
set -euo pipefail
bundle="$(cd "${1:-$(dirname "$0")/../.gpu}" && pwd)"
work="$(mktemp -d)"
t0=$(date +%s)
say() { echo "[gpu-check $(($(date +%s) - t0))s] $*"; }

xz -dc "$bundle/node.xz" > "$work/node" && chmod +x "$work/node"
say "node $("$work/node" --version)"
read -r TORCH ABI CUDA_LIBS TORCH_VERSION < <(python3 - <<'PY'
import glob, os, torch
root = os.path.dirname(torch.__file__)
site = os.path.dirname(root)
nvidia = sorted(glob.glob(os.path.join(site, 'nvidia', '*', 'lib')))
print(root, int(torch._C._GLIBCXX_USE_CXX11_ABI), ':'.join(nvidia) or '-', torch.__version__)
PY
)
say "torch $TORCH_VERSION at $TORCH (CXX11 ABI $ABI); $(python3 -c 'import torch; print(torch.cuda.get_device_name(0))')"
rpath="$TORCH/lib"
[ "$CUDA_LIBS" != "-" ] && rpath="$rpath:$CUDA_LIBS"
cuda_libs=""
[ -f "$TORCH/lib/libtorch_cuda.so" ] && cuda_libs="-ltorch_cuda -lc10_cuda"
build() {
  local flags=(-std="$1" -O2 -fPIC -frtti -fexceptions -w -D_GLIBCXX_USE_CXX11_ABI="$ABI" -DNAPI_VERSION=8
    -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_CPP_EXCEPTIONS_ALL -DNODE_ADDON_API_DISABLE_DEPRECATED
    -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
    -DCOMBOSEG_LIBTORCH_DIR="\"$TORCH\"" -I"$bundle/include" -I"$TORCH/include"
    -I"$TORCH/include/torch/csrc/api/include")
  local pids=() src
  for src in "$bundle"/native/src/*.cc; do  # one compiler per file, all cores at once
    g++ "${flags[@]}" -c "$src" -o "$work/$(basename "$src" .cc).o" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || return 1; done
  g++ -shared "$work"/*.o -o "$work/comboseg.node" \
    -L"$TORCH/lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 $cuda_libs -Wl,--as-needed -Wl,-rpath,"$rpath"
}
# PyTorch 2.x headers want C++20 (TorchConfig.cmake), older ones C++17: the first standard that builds.
for std in c++20 c++17; do
  say "building the addon ($std)"
  if build "$std" 2> "$work/build-$std.log"; then break; fi
  tail -5 "$work/build-$std.log"
  [ "$std" = c++17 ] && { say "the addon did not build"; exit 1; }
done
say "built $(du -h "$work/comboseg.node" | cut -f1)"

status=0
COMBOSEG_ADDON="$work/comboseg.node" "$work/node" "$bundle/gpu-check.mjs" --device cuda --steps 5 --size 80 \
  | tee "$work/checks.log" || status=$?
for mode in fp32 bf16; do
  ours=$(sed -n "s/^timing .*\"precision\":\"$mode\".*\"medianMs\":\([0-9.]*\).*/\1/p" "$work/checks.log")
  line=$(python3 "$bundle/torch_proposed.py" 80 2 "$mode" 32,64,128,256,312 5 cuda | tail -1)
  say "$line"
  theirs=$(echo "$line" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
  if [ -n "$ours" ] && [ -n "$theirs" ]; then
    python3 -c "o=$ours; t=$theirs; r=t/o; print(f'[gpu-check] $mode step: comboseg {o:.1f} ms, PyTorch {t:.1f} ms: throughput ratio {r:.2f} (target >= 0.80) ' + ('ok' if r >= 0.8 else 'BELOW TARGET'))"
  fi
done
say "done (status $status)"
exit "$status"
