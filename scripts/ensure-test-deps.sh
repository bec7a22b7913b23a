#!/usr/bin/env bash
# Test-only tools (not needed to run pan123fs): the WebDAV conformance suite and real WebDAV clients the
# e2e tier drives — litmus, rclone, cadaver, davfs2 (Debian packages) — and libfuse2, which only the
# leak-control e2e test needs (it mounts upstream's prebuilt fuse-native, linked against libfuse.so.2, to
# prove the thread-state leak test can fail; libfuse2 coexists with fuse3). Called by scripts/test.sh only.
# As root it installs what is missing with apt-get; otherwise it prints the command and returns 0 (the
# tests that need a missing tool skip, and say so).
set -euo pipefail

missing=()
command -v litmus >/dev/null 2>&1 || missing+=(litmus)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v cadaver >/dev/null 2>&1 || missing+=(cadaver)
command -v mount.davfs >/dev/null 2>&1 || missing+=(davfs2)
ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2' || missing+=(libfuse2)

[ ${#missing[@]} -eq 0 ] && exit 0
pkgs="${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "pan123fs: installing test tools: $pkgs" >&2
  export DEBIAN_FRONTEND=noninteractive
  # davfs2 asks whether unprivileged users may mount; answer no without a prompt
  echo 'davfs2 davfs2/suid_file boolean false' | debconf-set-selections 2>/dev/null || true
  apt-get install -y --no-install-recommends $pkgs >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends $pkgs >/dev/null; } ||
    echo "pan123fs: could not install $pkgs; the WebDAV client tests that need them will skip" >&2
else
  echo "pan123fs: WebDAV client tests need: $pkgs (sudo apt-get install -y $pkgs); they skip without them" >&2
fi
exit 0
