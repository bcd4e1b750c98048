#!/usr/bin/env bash
# make test: every test, Go with the race detector, then the TypeScript SDK and
# the board's browser tests. Private Redis/NATS/gateway processes are started
# by the tests themselves on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-services.sh
echo "test: go vet"
go vet ./...
echo "test: go test -race ./..."
go test -race -count=1 -timeout 25m ./...
# An outside fuzzer against docs/openapi.yaml and a live node: bounded,
# fixed seed, under 2 minutes (installs its pinned schemathesis when missing).
echo "test: scripts/schemathesis.sh quick"
./scripts/schemathesis.sh quick
if [ "${PGW_SKIP_BROWSER:-}" = "" ]; then
  # test-docs.sh: the README's set-up and tour and the SDK README's quick
  # start, run as written against fresh nodes on free ports.
  for s in sdk/typescript/scripts/test.sh board/e2e/test.sh scripts/test-docs.sh; do
    if [ -x "$s" ]; then
      echo "test: $s"
      "$s"
    fi
  done
fi
# The Java SDK (installs a JDK and Maven with apt-get when missing).
echo "test: sdk/java/scripts/test.sh"
sdk/java/scripts/test.sh
echo "test: all passed"
