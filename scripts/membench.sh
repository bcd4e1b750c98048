#!/usr/bin/env bash
# scripts/membench.sh: memory per idle connection of a gateway node against a
# bare gorilla echo server, measured the same way in one run (issue 2, item 8;
# docs/benchmarks-memory.md). It builds ./cmd/gateway, ./internal/membench/bare
# and ./cmd/membench, then membench starts each server as its own process on
# a free 127.0.0.1 port (the gateway with the embedded store and NATS, then
# on a PRIVATE redis-server on a free port, never the machine's 6379), opens
# N idle connections from its own process (pgw: bearer token, hello in a
# session of 2 windows, subscribe to 10 users), and reads the server's
# /metrics and /proc/<pid>/status VmRSS before and after, each time after 2
# GC cycles. Prints a Markdown table.
#
# Knobs (environment): MEMBENCH_CONNS (10000), MEMBENCH_REDIS (1: also the
# Redis run; 0: skip), MEMBENCH_SERVER_ENV (e.g. GOGC=50, added to every
# server), MEMBENCH_OUT (out/membench/<time>/). Extra arguments go to membench.
set -euo pipefail

cd "$(dirname "$0")/.."
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${MEMBENCH_OUT:-out/membench/$STAMP}
CONNS=${MEMBENCH_CONNS:-10000}
mkdir -p "$OUT/bin"

go build -o "$OUT/bin/gateway" ./cmd/gateway
go build -o "$OUT/bin/bare" ./internal/membench/bare
go build -o "$OUT/bin/membench" ./cmd/membench

args=(--gateway "$OUT/bin/gateway" --bare "$OUT/bin/bare" --conns "$CONNS" --server-log "$OUT/servers.log")
if [[ ${MEMBENCH_REDIS:-1} == 1 ]]; then
	if redis=$(command -v redis-server); then
		args+=(--redis-server "$redis")
	else
		echo "membench: no redis-server in PATH: the Redis run is skipped" >&2
	fi
fi
if [[ -n ${MEMBENCH_SERVER_ENV:-} ]]; then
	args+=(--server-env "$MEMBENCH_SERVER_ENV")
fi

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3)"
	echo "command: scripts/membench.sh (MEMBENCH_CONNS=$CONNS MEMBENCH_SERVER_ENV=${MEMBENCH_SERVER_ENV:-}) $*"
	echo
} | tee "$OUT/result.md"
"$OUT/bin/membench" "${args[@]}" "$@" | tee -a "$OUT/result.md"
echo "membench: results in $OUT/result.md" >&2
