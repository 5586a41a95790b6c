#!/usr/bin/env bash
# Fetches a PyTorch wheel with this machine's own pip configuration (its index, find-links,
# constraints: no index address here) and unpacks only what building the addon against it needs:
# torch/include, torch/lib, torch/share/cmake and torch/version.py.
#   scripts/fetch-torch.sh VERSION DIR    -> DIR/torch (skipped when that version is already there)
# Prints the torch/ folder (for COMBOSEG_LIBTORCH) on stdout; exits 2 with a message on stderr
# when pip has no such wheel for this machine.
set -euo pipefail
version=${1:?usage: scripts/fetch-torch.sh VERSION DIR}
dir=${2:?usage: scripts/fetch-torch.sh VERSION DIR}
torch="$dir/torch"

if [ -f "$torch/lib/libtorch_cpu.so" ] && grep -q "^__version__ = '$version[+']" "$torch/version.py" 2>/dev/null; then
  echo "$torch"
  exit 0
fi

mkdir -p "$dir/wheel"
if ! python3 -m pip download --no-deps --only-binary=:all: "torch==$version" -d "$dir/wheel" >"$dir/pip.log" 2>&1; then
  echo "[fetch-torch] pip found no torch==$version wheel for this machine (see $dir/pip.log)" >&2
  exit 2
fi
wheel=$(find "$dir/wheel" -name "torch-$version*.whl" | head -1)
if [ -z "$wheel" ]; then
  echo "[fetch-torch] pip downloaded no torch-$version wheel into $dir/wheel (see $dir/pip.log)" >&2
  exit 2
fi

# Unpack into a temporary folder and move it into place, so that an interrupted run leaves nothing half-done.
rm -rf "$dir/unpack"
python3 - "$wheel" "$dir/unpack" <<'EOF'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
keep = ('torch/include/', 'torch/lib/', 'torch/share/cmake/', 'torch/version.py')
with zipfile.ZipFile(wheel) as z:
    z.extractall(out, [m for m in z.namelist() if m.startswith(keep)])
EOF
rm -rf "$torch"
mv "$dir/unpack/torch" "$torch"
rm -rf "$dir/unpack" "$dir/wheel"
echo "$torch"
