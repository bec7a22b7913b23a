#!/usr/bin/env bash
# npm run bench: builds dist/ and the C helpers in bench/, then runs bench/run.mjs (see docs/BENCHMARKS.md).
#   BENCH_QUICK=1 npm run bench     smaller variant (256 MiB files, 2,000-entry dir): ~2 min
#   BENCH_ONLY=read,fuse|write|wan|webdav|load   a subset (load: 8 readers + 4 writers, faults on, peak RSS)
#   BENCH_KEEP=1 keep the work dir;  BENCH_SAVE=0 don't touch docs/;  BENCH_NO_COMPARE=1 no nginx/rclone
# Needs: FUSE (/dev/fuse, fusermount), cc, curl, openssl, md5sum; root for the mount's read-ahead tweak.
# Optional (installed as root): nginx-light and rclone, for the read comparison in section 1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then npm run -s build; fi
export BENCH_BIN="${BENCH_BIN:-${TMPDIR:-/tmp}/pan123fs-bench-bin}"
mkdir -p "$BENCH_BIN"
for p in statloop parread mkfiles seekread; do
  if [ ! -x "$BENCH_BIN/$p" ] || [ "bench/$p.c" -nt "$BENCH_BIN/$p" ]; then
    cc -O2 -Wall -o "$BENCH_BIN/$p" "bench/$p.c"
  fi
done
# Optional: bench/pipefs.c (the "read ceiling" step) needs libfuse's headers; the step is skipped without it.
if [ ! -x "$BENCH_BIN/pipefs" ] || [ bench/pipefs.c -nt "$BENCH_BIN/pipefs" ]; then
  # shellcheck disable=SC2046 # pkg-config prints several flags
  cc -O2 -Wall -o "$BENCH_BIN/pipefs" bench/pipefs.c \
    $(pkg-config --cflags --libs fuse3 2>/dev/null || echo -I/usr/include/fuse3 -lfuse3 -pthread) \
    2>"$BENCH_BIN/pipefs.err" \
    || { rm -f "$BENCH_BIN/pipefs"
      echo "bench: bench/pipefs.c did not build (needs libfuse3-dev); the read ceiling step is skipped" >&2; }
fi
for t in curl openssl md5sum fusermount; do
  command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 1; }
done
[ -e /dev/fuse ] || { echo "bench: /dev/fuse is required" >&2; exit 1; }
# Optional: the read comparison against a static server (nginx) and rclone mount. Installed as root;
# otherwise that step says it was skipped and prints the command.
if [ "${BENCH_NO_COMPARE:-0}" != 1 ] && { ! command -v nginx >/dev/null || ! command -v rclone >/dev/null; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing nginx-light and rclone for the read comparison" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light rclone >/dev/null 2>&1 \
      || echo "bench: could not install nginx-light rclone; the comparison is skipped" >&2
  fi
fi
exec node bench/run.mjs
