#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU host that has Python with a PyTorch 2.x CUDA build and a
# compiler, but no Node and no network: a Node binary (xz), Node-API and node-addon-api headers, the addon's
# sources, the checks compiled to one JavaScript file (engine, networks, losses, optimisers, sampler and
# inference; no itk-wasm, no web assets) and the PyTorch reference benchmark. Output: .gpu/ (git-ignored),
# kept under 60 MiB. Usage: bash scripts/gpu-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu
rm -rf "$out" && mkdir -p "$out/include" "$out/native" .cache
node_bin="$(readlink -f "$(command -v node)")"
cached=".cache/node-$(node --version).xz"
if [ ! -f "$cached" ]; then
  echo "[gpu-bundle] node $(node --version) ($node_bin), xz (about a minute)"
  xz -T2 -6 -c "$node_bin" > "$cached.tmp" && mv "$cached.tmp" "$cached"
fi
cp "$cached" "$out/node.xz"
node_inc="$(dirname "$node_bin")/../include/node"
[ -f "$node_inc/node_api.h" ] || node_inc=/usr/include/node
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do cp "$node_inc/$h" "$out/include/"; done
cp node_modules/node-addon-api/napi.h node_modules/node-addon-api/napi-inl.h node_modules/node-addon-api/napi-inl.deprecated.h "$out/include/"
cp -r native/src native/binding.gyp "$out/native/"
npx --no-install esbuild scripts/gpu-check.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$out/gpu-check.mjs" --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
cp ../shared/bench/torch_proposed.py "$out/"
cp scripts/gpu-check.sh "$out/"
du -sh "$out"
