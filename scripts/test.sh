#!/usr/bin/env bash
# `npm test`: system packages (installed when root, else the exact command is printed), dependencies,
# build, lint (biome check + lines <= 120 characters: a failure stops the run), then the three test tiers:
# unit + integration (emulator over loopback HTTP) in parallel, then the end-to-end tier through real FUSE
# mounts (one file at a time). With PAN123_REQUIRE_FUSE=1 (CI) a missing FUSE makes the e2e tier fail
# instead of skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! bash scripts/ensure-system-deps.sh; then
  if [ "${PAN123_REQUIRE_FUSE:-0}" = 1 ]; then
    echo "FUSE is required (PAN123_REQUIRE_FUSE=1) but missing" >&2; exit 1
  fi
  echo "pan123fs: continuing without FUSE: the e2e tests will be skipped" >&2
  export PAN123_NO_FUSE=1
fi
# test-only tools (litmus, rclone, cadaver, davfs2 for the WebDAV e2e tests); never fails the run
bash scripts/ensure-test-deps.sh || true
[ -d node_modules ] || npm ci
npm run build --silent
# biome check + scripts/check-line-length.mjs: formatting, lint rules, lines <= 120 characters
npm run lint --silent

npx vitest run --project unit --project integration "$@"
npx vitest run --project e2e "$@"
