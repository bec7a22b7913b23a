#!/usr/bin/env bash
# npm run bench: builds dist/ and the C helpers in bench/, then runs bench/run.mjs (see docs/BENCHMARKS.md).
#   BENCH_QUICK=1 npm run bench     smaller variant (256 MiB files, 2,000-entry dir): ~2 min
#   BENCH_ONLY=read,fuse|write      a subset;  BENCH_KEEP=1 keep the work dir;  BENCH_SAVE=0 don't touch docs/
# Needs: FUSE (/dev/fuse, fusermount), cc, curl, openssl, md5sum; root for the mount's read-ahead tweak.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then npm run -s build; fi
export BENCH_BIN="${BENCH_BIN:-${TMPDIR:-/tmp}/pan123fs-bench-bin}"
mkdir -p "$BENCH_BIN"
for p in statloop parread mkfiles; do
  if [ ! -x "$BENCH_BIN/$p" ] || [ "bench/$p.c" -nt "$BENCH_BIN/$p" ]; then cc -O2 -Wall -o "$BENCH_BIN/$p" "bench/$p.c"; fi
done
for t in curl openssl md5sum fusermount; do command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 1; }; done
[ -e /dev/fuse ] || { echo "bench: /dev/fuse is required" >&2; exit 1; }
exec node bench/run.mjs
