#!/usr/bin/env bash
# Makes sure this machine has what pan123fs needs from the OS: /dev/fuse, fusermount3 + the `fusermount`
# link (Debian `fuse3`, which replaces `fuse`), libfuse3.so.3 (`libfuse3-3`), and for building the FUSE
# addon from source against libfuse 3: libfuse3-dev, pkg-config and a C/C++ toolchain. libfuse 2 is not
# needed (only upstream's prebuilt fuse-native fallback uses it). As root it installs what is missing
# with apt-get; otherwise it prints the exact command to run and exits non-zero.
set -euo pipefail

missing=()
{ command -v fusermount3 >/dev/null 2>&1 && command -v fusermount >/dev/null 2>&1; } || missing+=(fuse3)
ldconfig -p 2>/dev/null | grep -q 'libfuse3\.so\.3' || missing+=(libfuse3-3)
pkg-config --exists 'fuse3 >= 3.9' 2>/dev/null || missing+=(libfuse3-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
{ command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } || missing+=(build-essential)
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if [ ${#missing[@]} -gt 0 ]; then
  # de-duplicate
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pan123fs: installing system packages: $pkgs" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends $pkgs >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends $pkgs >/dev/null; }
  else
    echo "pan123fs: this machine lacks: $pkgs" >&2
    echo "pan123fs: run:  sudo apt-get install -y $pkgs" >&2
    exit 1
  fi
fi

if [ ! -e /dev/fuse ]; then
  if [ "$(id -u)" = 0 ]; then modprobe fuse 2>/dev/null || true; fi
  if [ ! -e /dev/fuse ]; then
    echo "pan123fs: /dev/fuse is missing: load the module (sudo modprobe fuse) or, in a container," \
      "run it with --device /dev/fuse --cap-add SYS_ADMIN" >&2
    exit 1
  fi
fi
exit 0
