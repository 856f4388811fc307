#!/usr/bin/env bash
# Installs Deno 2 from the npm registry when it is missing. Sourced by test.sh and demo.sh.
if ! command -v deno >/dev/null 2>&1; then
  echo "ensure_deno: installing deno@2 from npm" >&2
  command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm; } >&2
  npm install -g deno@2 >&2
  hash -r
fi
deno --version | head -1 >&2
