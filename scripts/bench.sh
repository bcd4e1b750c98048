#!/usr/bin/env bash
# scripts/bench.sh: the standard load-test suite (`make bench`), sized for a
# 2-core machine (about 5 minutes). It builds the gateway and the harness,
# starts 3 gateway nodes on the machine's Redis and NATS under a prefix and
# tenant unique to this run, runs every scenario, writes the reports to
# $BENCH_OUT (default out/bench/<time>/) and the summary page to
# docs/benchmarks-harness.md, then stops the nodes and deletes only this
# run's Redis keys. It never flushes Redis.
#
# Knobs (environment): BENCH_REDIS_URL (redis://127.0.0.1:6379/0),
# BENCH_NATS_URL (nats://127.0.0.1:4222), BENCH_OUT, BENCH_SCALE (multiplies
# users and rates; 1 = the standard size), BENCH_DURATION (30s), BENCH_DOC
# (docs/benchmarks-harness.md).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}
NATS_URL=${BENCH_NATS_URL:-nats://127.0.0.1:4222}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$ROOT/out/bench/$STAMP}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks-harness.md}
SCALE=${BENCH_SCALE:-1}
DUR=${BENCH_DURATION:-30s}         # length of each driven phase (fanout, churn, ipt)
PREFIX="ltb$(date +%s)$$"          # unique per run: never collides with other keys
TENANT="$PREFIX"
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
GRACE=5s
mkdir -p "$OUT/bin"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
scale() { awk -v v="$1" -v s="$SCALE" 'BEGIN { printf "%d", v * s }'; }

log "building gateway and loadtest into $OUT/bin"
go build -o "$OUT/bin/gateway" ./cmd/gateway
go build -o "$OUT/bin/loadtest" ./cmd/loadtest
LT="$OUT/bin/loadtest"

# Redis and NATS must answer (bash's /dev/tcp: no client tools needed).
hostport() { local u=${1#*://}; u=${u%%/*}; echo "${u/:/ }"; }
for url in "$REDIS_URL" "$NATS_URL"; do
  read -r host port <<<"$(hostport "$url")"
  if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    log "cannot reach $url: start it or set BENCH_REDIS_URL / BENCH_NATS_URL"
    exit 2
  fi
done

PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$LT" cleanup --redis-url "$REDIS_URL" --prefix "$PREFIX" >&2 || true
  exit "$rc"
}
trap cleanup EXIT INT TERM

NODES=()
start_nodes() { # start_nodes N: (re)starts N fresh nodes, so RSS baselines are clean
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=(); NODES=()
  for i in $(seq 1 "$1"); do
    local port; port=$("$LT" freeport)
    "$OUT/bin/gateway" --addr "127.0.0.1:$port" --jwt-secret "$SECRET" --redis-url "$REDIS_URL" \
      --nats-url "$NATS_URL" --prefix "$PREFIX" --node-id "$PREFIX-n$i" --grace "$GRACE" \
      --drain 1s --heartbeat 5s --pong-wait 12s --log-level warn >>"$OUT/gateway-n$i.log" 2>&1 &
    PIDS+=($!)
    NODES+=("http://127.0.0.1:$port")
  done
  for n in "${NODES[@]}"; do
    for _ in $(seq 1 100); do
      if curl -fsS "$n/readyz" >/dev/null 2>&1; then break; fi
      sleep 0.2
    done
    curl -fsS "$n/readyz" >/dev/null || { log "node $n not ready; see $OUT/gateway-*.log"; exit 2; }
  done
}
targets() { local IFS=,; echo "${NODES[*]:0:$1}"; }

RESULTS=()
run() { # run NAME NODES ARGS...: one scenario; a missed check is recorded, not fatal
  local name=$1 nodes=$2; shift 2
  log "scenario $name on $nodes node(s): $*"
  local rc=0
  "$LT" --label "$name" --targets "$(targets "$nodes")" --secret "$SECRET" --tenant "$TENANT" --redis-url "$REDIS_URL" \
    --prefix "$PREFIX" --grace "$GRACE" --progress=false --text "$OUT/$name.txt" --json "$OUT/$name.json" \
    --html "$OUT/$name.html" "$@" || rc=$?
  if [ "$rc" -ge 2 ]; then log "scenario $name could not run (exit $rc)"; return 0; fi
  [ "$rc" -eq 0 ] || log "scenario $name: some checks missed (see $OUT/$name.txt)"
  tail -n 3 "$OUT/$name.txt" >&2
  RESULTS+=("$OUT/$name.json")
}

# Runs share the tenant but not the users (a distinct --user-prefix each), so
# one run's sessions in their grace never meet the next run's.
# The nodes ping every 5 s and drop a connection silent for 12 s, so the
# 20 s hold proves the clients answer pings.
# 1. hold on fresh nodes: memory per connection and idle stability.
start_nodes 3
run hold 3 --scenario hold --users "$(scale 3000)" --windows 2 --connect-rate "$(scale 1000)" --hold 20s --user-prefix h
# 2. connect rate to one node with the Redis store (offered at the 5 000/s target).
start_nodes 3
run connect-rate 1 --scenario hold --users "$(scale 5000)" --windows 0 --connect-rate 5000 --hold 3s --user-prefix c
# 3. fan-out across 3 nodes, open-loop.
run fanout 3 --scenario fanout --users "$(scale 2000)" --subs 20 --rate "$(scale 1000)" --duration "$DUR" --connect-rate 1000 --user-prefix f
# 4. churn: windows, restarts, logouts.
run churn 3 --scenario churn --users "$(scale 600)" --windows 2 --rate "$(scale 40)" --duration "$DUR" --logout 0.1 --connect-rate 1000 --user-prefix k
# 5. storm, with 2 worker processes.
run storm 3 --scenario storm --users "$(scale 2500)" --windows 1 --jitter 3s --connect-rate 1000 --procs 2 --user-prefix s
# 6. telephony.
run ipt 3 --scenario ipt --users "$(scale 1000)" --bridges 10 --rate "$(scale 200)" --duration "$DUR" --connect-rate 1000 --user-prefix i

log "writing $DOC"
"$LT" summarize --out "$DOC" \
  --setup "3 gateway nodes (go build ./cmd/gateway), Redis store at $REDIS_URL and NATS at $NATS_URL shared with other users of the machine, grace $GRACE; BENCH_SCALE=$SCALE, BENCH_DURATION=$DUR; reports in ${OUT#"$ROOT"/}. In the commands, \$SECRET, \$TENANT and \$PREFIX stand for the run's own random values." \
  "${RESULTS[@]}"
log "done: $DOC, reports in $OUT"
