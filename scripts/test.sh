#!/usr/bin/env bash
# Lints (scripts/lint.sh: prettier, tsc, eslint), then runs every test file under test/ with node's
# test runner (TypeScript through tsx), against the default addon (Debian's libtorch 1.13).
# Then a second engine: the addon built against PyTorch 2.13's libtorch (the CPU wheel, fetched with
# this machine's pip configuration into .cache/torch-2.13) runs the engine, network, loss, optimiser
# and end-to-end training tests, loaded through COMBOSEG_ADDON. COMBOSEG_TORCH2=0 skips that part;
# no wheel for this machine skips it with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lint.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
bash scripts/with-runtime.sh node --import tsx --test --test-concurrency=1 "${files[@]}" "$@"

torch2=2.13.0
if [ "${COMBOSEG_TORCH2:-1}" = 0 ]; then
  echo "[test] PyTorch $torch2 engine: skipped (COMBOSEG_TORCH2=0)"
  exit 0
fi
start=$SECONDS
if ! libtorch=$(bash scripts/fetch-torch.sh "$torch2" ".cache/torch-${torch2%.*}"); then
  echo "[test] PyTorch $torch2 engine: SKIPPED, pip has no torch==$torch2 wheel for this machine" \
    "(the Debian 1.13 engine above was tested)"
  exit 0
fi
COMBOSEG_LIBTORCH="$libtorch" node scripts/build-native.mjs
addon=$(COMBOSEG_LIBTORCH="$libtorch" node scripts/build-native.mjs --print-addon)
mapfile -t files2 < <(
  find test/engine test/networks test/losses -name '*.test.ts'
  echo test/training/optimizers.test.ts
  echo test/training/e2e.test.ts
)
echo "[test] PyTorch $torch2 engine ($addon)"
COMBOSEG_ADDON="$addon" bash scripts/with-runtime.sh node --import tsx --test --test-concurrency=1 \
  "${files2[@]}" "$@"
echo "[test] PyTorch $torch2 engine: fetch, build and tests took $((SECONDS - start)) s"
