#!/usr/bin/env bash
# test-docs.sh: runs the README's set-up and tour and the TypeScript SDK
# README's install and quick start, as written, against fresh gateways on
# free ports, and checks the output the docs show (scripts/test-docs.mjs
# says how). make test runs it; `scripts/test-docs.sh tour` (or run, sdk)
# runs one part; PGW_DOCS_VERBOSE=1 echoes every output line.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in go node npm curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test-docs: $tool is required (scripts/ensure-services.sh installs node and npm)" >&2; exit 1; }
done
exec node scripts/test-docs.mjs "$@"
