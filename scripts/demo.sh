#!/usr/bin/env bash
# `npm run demo`: the main job on the built-in emulator. Installs what is missing (system packages when
# root, else prints the sudo line), builds, generates sample files, starts `pan123fs emulator` with them,
# mounts it, says what to try, and unmounts on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=${PAN123_DEMO_DIR:-$ROOT/.demo}
MNT=${PAN123_DEMO_MOUNT:-$DEMO/mnt}

bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm ci
npm run build --silent

mkdir -p "$DEMO"
VIDEO_MB=${PAN123_DEMO_VIDEO_MB:-300}
MANY=${PAN123_DEMO_MANY:-10000}
if [ ! -f "$DEMO/samples/.done" ]; then
  echo "pan123fs demo: generating sample files (${VIDEO_MB} MB video, ${MANY}-entry folder)…"
  node scripts/make-samples.mjs "$DEMO/samples" --video-mb "$VIDEO_MB" --many "$MANY"
  touch "$DEMO/samples/.done"
fi

SEED=()
[ -f "$DEMO/emulator/.seeded" ] || SEED=(--seed "$DEMO/samples")
mkdir -p "$DEMO/emulator"
node bin/pan123fs.js emulator --listen 127.0.0.1:0 --data-dir "$DEMO/emulator" "${SEED[@]}" >"$DEMO/emulator.log" 2>&1 &
EMU=$!
MOUNT_PID=
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$MOUNT_PID" ] && kill -0 "$MOUNT_PID" 2>/dev/null; then
    kill -INT "$MOUNT_PID"; wait "$MOUNT_PID" 2>/dev/null || true
  fi
  fusermount -uz "$MNT" 2>/dev/null || true
  kill "$EMU" 2>/dev/null || true; wait "$EMU" 2>/dev/null || true
  echo "pan123fs demo: unmounted and stopped the emulator."
}
trap cleanup EXIT
trap "cleanup; exit 0" INT TERM

for _ in $(seq 1 600); do
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$DEMO/emulator.log" | head -1 || true)
  [ -n "$URL" ] && break
  kill -0 "$EMU" 2>/dev/null || { cat "$DEMO/emulator.log"; exit 1; }
  sleep 0.2
done
[ -n "$URL" ] || { echo "emulator did not start"; cat "$DEMO/emulator.log"; exit 1; }
touch "$DEMO/emulator/.seeded"

fusermount -uz "$MNT" 2>/dev/null || true
mkdir -p "$MNT"
( umask 077; printf 'pan123fs-demo-secret\n' > "$DEMO/client-secret" )
node bin/pan123fs.js mount "$MNT" --api-base "$URL" --client-id pan123fs-demo \
  --client-secret-file "$DEMO/client-secret" \
  --cache-dir "$DEMO/cache" --state-dir "$DEMO/state" --log-level "${PAN123_LOG_LEVEL:-warn}" &
MOUNT_PID=$!
for _ in $(seq 1 300); do
  mountpoint -q "$MNT" 2>/dev/null && break
  kill -0 "$MOUNT_PID" 2>/dev/null || exit 1
  sleep 0.2
done

cat <<MSG

  pan123fs demo is running: the emulator at $URL is mounted at
      $MNT

  Try, in another terminal:
      ls -l $MNT
      cat $MNT/README.txt
      ls $MNT/many-files | wc -l            # ${MANY} entries (listings are paced like the real free tier, \
5 pages/s: ~20 s cold for 10,000, instant after)
      sha256sum $MNT/videos/*.bin           # streamed with ranged reads and read-ahead
      cp /etc/services $MNT/documents/ && ls -l $MNT/documents   # written locally, uploaded on close
      node $ROOT/bin/pan123fs.js status --state-dir $DEMO/state
      df -h $MNT

  Press Ctrl-C here to unmount and stop.
MSG
wait "$MOUNT_PID"
