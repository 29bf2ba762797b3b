#!/usr/bin/env bash
# Regenerates src/gen from proto/ with buf + protoc-gen-es (both from node_modules).
# --check: regenerate into a temp dir and fail if src/gen differs (CI: generated code is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  buf generate --template buf.gen.yaml -o "$tmp"
  if ! diff -r "$tmp/src/gen" src/gen >/dev/null; then
    echo "src/gen is stale: run 'npm run gen' and commit the result" >&2
    diff -r "$tmp/src/gen" src/gen >&2 || true
    exit 1
  fi
  echo "src/gen is up to date"
else
  rm -rf src/gen
  buf generate --template buf.gen.yaml
  echo "generated src/gen from proto/"
fi
