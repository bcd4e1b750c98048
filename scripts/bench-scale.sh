#!/usr/bin/env bash
# scripts/bench-scale.sh: idle connections at scale on one box (the speed
# targets of docs/benchmarks.md): NODES gateway nodes on the machine's Redis and NATS (a unique
# prefix, deleted afterwards), then `loadtest --scenario hold` with PROCS
# worker processes (each ≤ ~19 000 sockets: the per-process open-file limit
# here is 20 000), source addresses 127.0.0.x. Reports to out/scale/<time>/.
#
#   scripts/bench-scale.sh                                         # 100 000 connections on 6 nodes
# (RATE, the offered connects/s, defaults to 1500: at 3000 the client
# processes on 2 cores fell 10-20 s behind and the gateway closed 4 of
# 100 000 whose hello came after the hello wait.)
#   NODES=1 PROCS=1 USERS=19000 WINDOWS=0 scripts/bench-scale.sh   # 19 000 on one node
#   SCENARIO=storm USERS=50000 scripts/bench-scale.sh              # drop 50 000 at once, time to all back
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${NODES:-6}; PROCS=${PROCS:-6}; USERS=${USERS:-100000}; WINDOWS=${WINDOWS:-0}
RATE=${RATE:-1500}; HOLD=${HOLD:-15s}; SCENARIO=${SCENARIO:-hold}; JITTER=${JITTER:-5s}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}
NATS_URL=${BENCH_NATS_URL:-nats://127.0.0.1:4222}
OUT=out/scale/$(date -u +%Y%m%dT%H%M%SZ); mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/gateway ./cmd/loadtest
SECRET=scale-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
PREFIX=scale$(date +%s)$$
pids=(); urls=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  "$OUT/bin/loadtest" cleanup --redis-url "$REDIS_URL" --prefix "$PREFIX" || true
}
trap cleanup EXIT
for i in $(seq "$NODES"); do
  port=$("$OUT/bin/loadtest" freeport)
  "$OUT/bin/gateway" --addr "127.0.0.1:$port" --jwt-secret "$SECRET" --redis-url "$REDIS_URL" --nats-url "$NATS_URL" \
    --prefix "$PREFIX" --node-id "s$i" --log-level warn 2>"$OUT/gateway-$i.log" &
  pids+=($!); urls+=("http://127.0.0.1:$port")
done
for u in "${urls[@]}"; do
  for _ in $(seq 100); do curl -fs "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
targets=$(IFS=,; echo "${urls[*]}")
echo "scale: $NODES nodes, $PROCS client processes, $USERS users × $((WINDOWS + 1)) windows at $RATE connects/s"
"$OUT/bin/loadtest" --scenario "$SCENARIO" --label "scale-$SCENARIO-${NODES}n" --jitter "$JITTER" --targets "$targets" --secret "$SECRET" \
  --tenant scale --user-prefix s --users "$USERS" --windows "$WINDOWS" --connect-rate "$RATE" --hold "$HOLD" \
  --procs "$PROCS" --source-ips 8 --redis-url "$REDIS_URL" --prefix "$PREFIX" --verify-users 500 \
  --progress=false --json "$OUT/result.json" --html "$OUT/report.html" --text - | tee "$OUT/result.txt"
