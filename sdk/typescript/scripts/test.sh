#!/usr/bin/env bash
# test.sh: the one entry point of the TypeScript SDK's tests (called by the
# repository's `make test`). It installs what is missing (npm ci; the Debian
# chromium package when /usr/bin/chromium is absent), type-checks, builds, and
# runs the unit, integration (real gateway), browser (headless Chromium) and
# pack tests. Exits non-zero on the first failure.
#
# Environment: CHROMIUM_PATH (default /usr/bin/chromium); PGW_GATEWAY_BIN to
# use an already built gateway instead of `go build ./cmd/gateway`.
set -euo pipefail
cd "$(dirname "$0")/.."
sdk_dir=$(pwd)
repo_root=$(cd ../.. && pwd)
started=$(date +%s)
step_started=$started

step() {
  local now
  now=$(date +%s)
  if [ -n "${last_step:-}" ]; then echo "== sdk/typescript: $last_step: $((now - step_started))s"; fi
  step_started=$now
  last_step=$1
  echo "== sdk/typescript: $1"
}

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "sdk/typescript: $1 is required ($2)" >&2; exit 1; }
}
need node "Node.js 20 or later"
need npm "comes with Node.js"
need go "to build the gateway the integration tests run"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "sdk/typescript: Node.js >= 20 required (playwright-core, vite), found $(node -v)" >&2; exit 1; }

step "install npm dev dependencies"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is current with package-lock.json"
fi

step "chromium"
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "$chromium is missing: installing the Debian chromium package with apt-get (no browser download)"
  if [ "$(id -u)" != 0 ]; then
    echo "sdk/typescript: not root, cannot apt-get install chromium; install it or set CHROMIUM_PATH" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x "$chromium" ] || { echo "sdk/typescript: chromium still missing at $chromium" >&2; exit 1; }
fi
echo "using $("$chromium" --version 2>/dev/null || echo "$chromium")"
export CHROMIUM_PATH=$chromium

step "gateway binary"
tmp=$(mktemp -d -t pgw-sdk-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${PGW_GATEWAY_BIN:-}" ]; then
  (cd "$repo_root" && go build -o "$tmp/gateway" ./cmd/gateway)
  export PGW_GATEWAY_BIN="$tmp/gateway"
fi
echo "gateway: $PGW_GATEWAY_BIN"

step "type-check"
npx --no-install tsc --noEmit -p .

step "build (tsup: ESM + CJS + d.ts)"
npx --no-install tsup

step "unit tests"
npx --no-install vitest run

step "integration + browser tests (real gateway, headless Chromium)"
npx --no-install vitest run -c vitest.gateway.config.ts

step "pack test (npm pack → import and require in a clean project)"
bash scripts/pack-test.sh

step "done"
echo "== sdk/typescript: all tests passed in $(($(date +%s) - started))s"
