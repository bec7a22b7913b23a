#!/usr/bin/env bash
# Runs the whole test suite (npm ci + npm test) on other Node.js majors, e.g.
#   npm run test:node -- 22 24        (default: 22 24)
# For each major it takes the newest `node-linux-<arch>@MAJOR` package from the npm registry (the
# official Linux binary and headers, no nodejs.org download), keeps it under
# ${PAN123FS_NODE_CACHE:-~/.cache/pan123fs/node}, clones this repository's HEAD into a temp dir and runs
# `npm ci && npm test` there with that node first on PATH and npm_config_nodedir pointing at its headers,
# so better-sqlite3 and fuse-native are built for it from source. The npm in use stays the caller's.
# Linux x64/arm64 only. Exit status: the first failing major's, after all ran.
set -uo pipefail
cd "$(dirname "$0")/.."
majors=("$@"); [ ${#majors[@]} -gt 0 ] || majors=(22 24)
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "test-node: unsupported arch $(uname -m)" >&2; exit 2 ;;
esac
cache="${PAN123FS_NODE_CACHE:-$HOME/.cache/pan123fs/node}"
mkdir -p "$cache"
rc=0
# stdin: `npm view --json` output; prints the newest version
newest='let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{
try{const v=JSON.parse(s);process.stdout.write(String(Array.isArray(v)?v.at(-1):v))}catch{}})'
for major in "${majors[@]}"; do
  # --json: one version is a string, several are an array (newest last)
  ver=$(npm view "node-linux-$arch@$major" version --json 2>/dev/null | node -e "$newest")
  [ -n "$ver" ] || { echo "test-node: no node-linux-$arch@$major on the registry" >&2; [ $rc = 0 ] && rc=1; continue; }
  dir="$cache/node-$ver-$arch"
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack -s "node-linux-$arch@$ver" >/dev/null) ||
      { echo "test-node: cannot fetch node $ver" >&2; [ $rc = 0 ] && rc=1; continue; }
    mkdir -p "$dir" && tar xzf "$tmp"/*.tgz -C "$dir" --strip-components=1 && rm -rf "$tmp"
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/pan123fs-node$major-XXXXXX")
  git clone -q . "$work/repo"
  echo "=== Node $ver: npm ci && npm test in $work/repo"
  (cd "$work/repo" && export PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" && node --version &&
    npm ci --no-audit --no-fund && npm test)
  r=$?
  echo "=== Node $ver: exit $r"
  if [ $r = 0 ]; then rm -rf "$work"; elif [ $rc = 0 ]; then rc=$r; fi
done
exit $rc
