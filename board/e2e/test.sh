#!/usr/bin/env bash
# The board's browser tests: one entry point (make test calls it).
# Installs what is missing (saying so), builds the real gateway, runs
# page.test.mjs (page logic against a scripted server), gateway.test.mjs
# (the board against the real gateway) and cluster.test.mjs (the board behind
# `make cluster`: scripts/cluster.sh, needs redis-server and nginx) in
# headless Debian Chromium.
# Exits non-zero on any failure. Screenshots and the gateway log go to
# $PGW_BOARD_OUT (default out/board-e2e/); UPDATE_DOCS_SCREENSHOT=1 also
# rewrites docs/board.png; PGW_GATEWAY_BIN=path uses a gateway already built.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${PGW_BOARD_OUT:-$repo/out/board-e2e}"
chromium="${PGW_CHROMIUM:-/usr/bin/chromium}"
export PGW_BOARD_OUT="$out" PGW_CHROMIUM="$chromium"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x "$chromium" ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "board e2e: installing missing Debian packages: ${missing[*]} (apt-get; no browser is downloaded any other way)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "board e2e: go is not installed; it is needed to build cmd/gateway" >&2; exit 1; }

if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)'; then
  echo "board e2e: node $(node --version) is too old; 20.10 or newer is needed (node --test --test-concurrency)" >&2
  exit 1
fi

cd "$here"
echo "board e2e: npm ci (playwright-core, ws, axe-core)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

mkdir -p "$out"
if [ -z "${PGW_GATEWAY_BIN:-}" ]; then
  echo "board e2e: building the gateway into $out/gateway"
  (cd "$repo" && go build -o "$out/gateway" ./cmd/gateway)
  export PGW_GATEWAY_BIN="$out/gateway"
fi

files=("$@")
[ "${#files[@]}" -gt 0 ] || files=(page.test.mjs gateway.test.mjs cluster.test.mjs tenant.test.mjs)
echo "board e2e: running ${files[*]} with $("$chromium" --version 2>/dev/null || echo "$chromium")"
exec node --test --test-concurrency=1 --test-timeout=180000 "${files[@]}"
