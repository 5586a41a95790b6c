#!/usr/bin/env bash
# Lints (scripts/lint.sh: prettier, tsc, eslint), then runs every test file under test/ with node's
# test runner (TypeScript through tsx).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lint.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec bash scripts/with-runtime.sh node --import tsx --test --test-concurrency=1 "${files[@]}" "$@"
