#!/usr/bin/env bash
# Installs what comboseg needs on Debian 12; a second run skips what is done.
#   system packages (apt-get as root, else prints the command) → npm ci → native addon.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libtorch-dev libdnnl-dev libgloo-dev libopenblas0-pthread libtcmalloc-minimal4 g++ make python3 chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] installing system packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  else
    echo "[setup] comboseg needs these Debian packages. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  # onnxruntime-node ships its CPU library; its install script would otherwise try to fetch GPU extras.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi

# The default addon, against Debian's libtorch (native/build/Release/comboseg.node); with
# COMBOSEG_LIBTORCH=<libtorch folder> also one against that libtorch, in its own folder (load it with
# COMBOSEG_ADDON=<the path build-native.mjs prints>).
env -u COMBOSEG_LIBTORCH node scripts/build-native.mjs
if [ -n "${COMBOSEG_LIBTORCH:-}" ]; then
  node scripts/build-native.mjs
fi

# ESM JavaScript + type declarations in dist/ (what `main`, `exports` and the launcher use).
npx --no-install tsc -p tsconfig.build.json

# The viewer page (web/ → web/dist), served by `comboseg serve`; rebuilt when its sources change.
if [ ! -f web/dist/index.html ] || [ -n "$(find web/index.html web/src web/vite.config.ts src/data src/inference src/export src/util package-lock.json -newer web/dist/index.html 2>/dev/null | head -1)" ]; then
  echo "[setup] building the viewer page (vite)"
  npx --no-install vite build web
fi
