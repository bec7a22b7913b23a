#!/usr/bin/env bash
# macOS (UNTESTED on a real Mac): installs pan123fs as a launchd agent for one config, the counterpart of
# scripts/install-systemd.sh. Run as the user who mounts (macFUSE mounts belong to a login session):
#
#   scripts/install-launchd.sh NAME            # config: ~/Library/Application Support/pan123fs/NAME.json
#   DESTDIR=/tmp/stage scripts/install-launchd.sh NAME   # stage only: no launchctl (tests, packaging)
#
# Writes ~/Library/LaunchAgents/com.pan123fs.mount.NAME.plist from launchd/com.pan123fs.mount.plist and
# loads it with `launchctl bootstrap gui/$UID`. Idempotent: an existing agent is booted out first.
set -euo pipefail

name=${1:?usage: install-launchd.sh NAME}
case "$name" in *[!A-Za-z0-9._-]*) echo "install-launchd: NAME may hold only A-Z a-z 0-9 . _ -" >&2; exit 2;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${DESTDIR:-}
home=${HOME:?}
node_bin=${NODE:-$(command -v node || true)}
[ -n "$node_bin" ] || { echo "install-launchd: node not found in PATH (set NODE=/path/to/node)" >&2; exit 1; }
[ -f "$here/dist/main.js" ] || { echo "install-launchd: $here is not built (npm run build)" >&2; exit 1; }

support="$home/Library/Application Support/pan123fs"
config=${CONFIG:-$support/$name.json}
logdir="$home/Library/Logs/pan123fs"
agents="$home/Library/LaunchAgents"
plist="$agents/com.pan123fs.mount.$name.plist"

mkdir -p "$dest$agents" "$dest$logdir" "$dest$support"
chmod 0700 "$dest$support"
esc() { printf '%s' "$1" | sed -e 's/[&#\\]/\\&/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
sed -e "s#@NODE@#$(esc "$node_bin")#g" -e "s#@BIN@#$(esc "$here/bin/pan123fs.js")#g" \
  -e "s#@NAME@#$name#g" -e "s#@CONFIG@#$(esc "$config")#g" -e "s#@LOGDIR@#$(esc "$logdir")#g" \
  "$here/launchd/com.pan123fs.mount.plist" > "$dest$plist"
chmod 0644 "$dest$plist"
echo "  installed  $plist"
[ -f "$dest$config" ] || echo "  next: write $config (0600; see config/example.json), then run this again"

if [ -z "$dest" ] && command -v launchctl >/dev/null 2>&1; then
  launchctl bootout "gui/$(id -u)/com.pan123fs.mount.$name" 2>/dev/null || true
  launchctl bootstrap "gui/$(id -u)" "$plist"
  echo "  loaded     com.pan123fs.mount.$name (logs: $logdir/$name.log; stop: pan123fs unmount)"
else
  echo "  (staged only: launchctl not run)"
fi
