#!/usr/bin/env bash
# Format, types and lint over the TypeScript the project owns; any violation fails (and so fails `npm test`).
#   prettier --check (120 columns, .prettierrc.json) → tsc --noEmit (node and web) → eslint (eslint.config.js).
# `npm run format` rewrites the files prettier would change.
set -euo pipefail
cd "$(dirname "$0")/.."
PATHS=(src test bench web/src scripts demo)
echo "[lint] prettier --check"
npx --no-install prettier --check --log-level warn "${PATHS[@]}"
echo "[lint] tsc --noEmit"
npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install tsc -p web/tsconfig.json
echo "[lint] eslint"
npx --no-install eslint --max-warnings 0 "${PATHS[@]}"
