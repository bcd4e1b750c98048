#!/usr/bin/env bash
# scripts/bench.sh: `make bench`, every speed target of docs/benchmarks.md
# measured in one run with its same-run baseline, sized for a 2-core machine
# (about 12 minutes on a quiet one). It builds the gateway, the harness,
# membench, the bare gorilla server and nats-server (the module's pinned
# one), starts a private redis-server and nats-server on free ports (or uses
# BENCH_REDIS_URL / BENCH_NATS_URL), and runs:
#   1. the load-test harness (a separate process from the nodes; several
#      worker processes where one would be the bottleneck or run out of file
#      descriptors): hold, connect rate to one node, fan-out at 10 000 and
#      50 000 deliveries/s on 3 nodes, churn, a 50 000-connection storm on 6
#      nodes, telephony;
#   2. membench: RSS per idle connection and server CPU per connect, pgw
#      against a bare gorilla server in the same run;
#   3. the Go benchmarks (connect against bare, fan-out, store, JWT, logins).
# The record (command, machine, date, load, every table) is written to
# $BENCH_DOC (docs/benchmarks-harness.md); raw reports go to $BENCH_OUT
# (out/bench/<time>/). It stops only what it started, by pid, and deletes
# only this run's Redis keys (never a flush).
#
# Knobs (environment): BENCH_REDIS_URL, BENCH_NATS_URL (default: private
# ones), BENCH_OUT, BENCH_SCALE (multiplies users and rates; 1 = the
# standard size), BENCH_DURATION (20s, each driven phase), BENCH_DOC,
# BENCH_STORM_CONNS (50000), BENCH_SKIP (space-separated steps to skip:
# harness membench gobench), BENCH_ONLY (space-separated harness runs to
# do, the others skipped: e.g. "fanout-10k fanout-50k" with
# BENCH_SKIP="membench gobench" and a BENCH_DOC of your own measures only
# the fan-out), BENCH_FANOUT_PROCS (GOMAXPROCS of each fan-out node; 0,
# the default, leaves Go's).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$ROOT/out/bench/$STAMP}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks-harness.md}
SCALE=${BENCH_SCALE:-1}
DUR=${BENCH_DURATION:-20s}         # length of each driven phase (fanout, churn, ipt)
STORM=${BENCH_STORM_CONNS:-50000}
SKIP=" ${BENCH_SKIP:-} "
ONLY=" ${BENCH_ONLY:-} "
FANOUT_PROCS=${BENCH_FANOUT_PROCS:-0} # GOMAXPROCS of the fan-out runs' nodes (0: Go's default)
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
PREFIX="ltb$(date +%s)$$"          # unique per run: never collides with other keys
TENANT="$PREFIX"
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
GRACE=5s
mkdir -p "$OUT/bin"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
scale() { awk -v v="$1" -v s="$SCALE" 'BEGIN { printf "%d", v * s }'; }

# A fresh machine: redis-server (unless BENCH_REDIS_URL) and curl from the
# distribution when missing (as scripts/ensure-services.sh does);
# nats-server is built from go.mod.
need=()
[ -n "${BENCH_REDIS_URL:-}" ] || command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${need[*]} (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    log "missing: ${need[*]}: run \`sudo apt-get install -y ${need[*]}\`"; exit 2
  fi
fi

log "building gateway, loadtest, membench, bare, barefanout and nats-server into $OUT/bin"
go build -o "$OUT/bin/" ./cmd/gateway ./cmd/loadtest ./cmd/membench ./internal/membench/bare ./internal/barefanout
LT="$OUT/bin/loadtest"

PIDS=()    # gateway nodes
SVCPIDS=() # the private redis-server and nats-server
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${REDIS_URL:-}" ] && { "$LT" cleanup --redis-url "$REDIS_URL" --prefix "$PREFIX" >&2 || true; }
  for pid in "${SVCPIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SVCPIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit "$rc"
}
trap cleanup EXIT INT TERM

# wait_port PORT PID: until 127.0.0.1:PORT accepts, or PID died (bash's
# /dev/tcp: no client tools needed).
wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
if [ -n "${BENCH_REDIS_URL:-}" ]; then
  REDIS_URL=$BENCH_REDIS_URL
else
  port=$("$LT" freeport)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --maxclients 10000 --dir "$OUT" --logfile "$OUT/redis.log" &
  SVCPIDS+=($!)
  wait_port "$port" "${SVCPIDS[-1]}" || { log "the private redis-server did not start (log $OUT/redis.log)"; exit 2; }
  REDIS_URL="redis://127.0.0.1:$port/0"
fi
if [ -n "${BENCH_NATS_URL:-}" ]; then
  NATS_URL=$BENCH_NATS_URL
else
  go build -o "$OUT/bin/nats-server" github.com/nats-io/nats-server/v2
  port=$("$LT" freeport)
  "$OUT/bin/nats-server" -a 127.0.0.1 -p "$port" -l "$OUT/nats.log" &
  SVCPIDS+=($!)
  wait_port "$port" "${SVCPIDS[-1]}" || { log "the private nats-server did not start (log $OUT/nats.log)"; exit 2; }
  NATS_URL="nats://127.0.0.1:$port"
fi
log "Redis $REDIS_URL, NATS $NATS_URL; load average $START_LOAD"

NODES=()
NODE_ENV=() # extra environment of the nodes start_nodes starts
start_nodes() { # start_nodes N: (re)starts N fresh nodes, so RSS baselines are clean
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=(); NODES=()
  for i in $(seq 1 "$1"); do
    local port; port=$("$LT" freeport)
    env ${NODE_ENV[@]+"${NODE_ENV[@]}"} "$OUT/bin/gateway" --addr "127.0.0.1:$port" --jwt-secret "$SECRET" --redis-url "$REDIS_URL" \
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
start_bare() { # start_bare N: replaces the nodes with N barefanout servers (the fan-out's floor)
  start_nodes 0
  for i in $(seq 1 "$1"); do
    local port; port=$("$LT" freeport)
    env ${NODE_ENV[@]+"${NODE_ENV[@]}"} "$OUT/bin/barefanout" --addr "127.0.0.1:$port" --jwt-secret "$SECRET" --redis-url "$REDIS_URL" \
      --nats-url "$NATS_URL" --prefix "$PREFIX" --node-id "$PREFIX-b$i" >>"$OUT/barefanout-$i.log" 2>&1 &
    PIDS+=($!)
    NODES+=("http://127.0.0.1:$port")
    wait_port "$port" "${PIDS[-1]}" || { log "barefanout did not start (log $OUT/barefanout-$i.log)"; exit 2; }
  done
}

RESULTS=()
run() { # run NAME NODES ARGS...: one scenario; a missed check is recorded, not fatal
  local name=$1 nodes=$2; shift 2
  if [ -n "${BENCH_ONLY:-}" ] && [[ $ONLY != *" $name "* ]]; then log "scenario $name skipped (BENCH_ONLY)"; return 0; fi
  log "scenario $name on $nodes node(s): $*"
  local rc=0
  "$LT" --label "$name" --targets "$(targets "$nodes")" --secret "$SECRET" --tenant "$TENANT" --redis-url "${LT_REDIS_URL-$REDIS_URL}" \
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
if [[ $SKIP != *" harness "* ]]; then
  # 1. hold on fresh nodes: memory per connection and idle stability.
  start_nodes 3
  run hold 3 --scenario hold --users "$(scale 3000)" --windows 2 --connect-rate "$(scale 1000)" --hold 20s --user-prefix h
  # 2. connect rate to one node with the Redis store, offered at the
  #    10 000/s goal (so the measured rate is the node's, not the pacing's);
  #    two client processes so the harness is not the limit.
  start_nodes 3
  run connect-rate 1 --scenario hold --users "$(scale 10000)" --windows 0 --connect-rate 10000 --hold 3s --procs 2 --user-prefix c
  # 3. fan-out on 3 nodes, open-loop, at the two rates the targets name:
  #    changes/s × subscribers per user = deliveries/s. With
  #    BENCH_FANOUT_PROCS=N the nodes are restarted with GOMAXPROCS=N first
  #    (three nodes share 2 cores with the harness, Redis and NATS here;
  #    with one P each their idle threads spin, park and wake less: about
  #    12-15% less node CPU per delivery, at the price of a node's headroom
  #    when the box is saturated; docs/benchmarks.md, "Fan-out, third pass").
  if [ "$FANOUT_PROCS" != 0 ]; then
    NODE_ENV=("GOMAXPROCS=$FANOUT_PROCS")
    start_nodes 3
    NODE_ENV=()
  fi
  run fanout-10k 3 --scenario fanout --users "$(scale 2000)" --subs 10 --rate "$(scale 1000)" --duration "$DUR" --connect-rate 2000 --user-prefix f
  run fanout-50k 3 --scenario fanout --users "$(scale 5000)" --subs 20 --rate "$(scale 2500)" --duration "$DUR" --connect-rate 2000 --procs 2 --user-prefix g
  #    The same two runs against 3 barefanout servers (internal/barefanout):
  #    only the input and output a fan-out cannot skip, none of pgw's
  #    rules. Their CPU per delivery and latency are the floor of this
  #    machine that pgw's are read against (no store or presence checks:
  #    it keeps no presence; so no --redis-url and --verify-users 0).
  if [ -n "${BENCH_ONLY:-}" ] && [[ $ONLY != *" fanout-10k-bare "* && $ONLY != *" fanout-50k-bare "* ]]; then
    log "barefanout runs skipped (BENCH_ONLY)"
  else
    [ "$FANOUT_PROCS" = 0 ] || NODE_ENV=("GOMAXPROCS=$FANOUT_PROCS")
    start_bare 3
    NODE_ENV=()
    LT_REDIS_URL="" run fanout-10k-bare 3 --scenario fanout --users "$(scale 2000)" --subs 10 --rate "$(scale 1000)" --duration "$DUR" --connect-rate 2000 --user-prefix fb --verify-users 0
    LT_REDIS_URL="" run fanout-50k-bare 3 --scenario fanout --users "$(scale 5000)" --subs 20 --rate "$(scale 2500)" --duration "$DUR" --connect-rate 2000 --procs 2 --user-prefix gb --verify-users 0
  fi
  # 4. churn: windows, restarts, logouts (nodes with Go's default again).
  start_nodes 3
  run churn 3 --scenario churn --users "$(scale 600)" --windows 2 --rate "$(scale 40)" --duration "$DUR" --logout 0.1 --connect-rate 1000 --user-prefix k
  # 5. telephony.
  run ipt 3 --scenario ipt --users "$(scale 1000)" --bridges 10 --rate "$(scale 200)" --duration "$DUR" --connect-rate 1000 --user-prefix i
  # 6. storm: STORM connections (one per user) on 6 fresh nodes dropped at
  #    once, back within a 5 s jitter (the ramp before it is paced at
  #    3 000/s, below what 2 cores connect, so no hello times out in the
  #    set-up); one worker process per 12 500
  #    connections (each process stays under its 20 000 open files).
  start_nodes 6
  run storm 6 --scenario storm --users "$(scale "$STORM")" --windows 0 --jitter 5s --connect-rate 3000 \
    --procs $(( ($(scale "$STORM") + 12499) / 12500 )) --source-ips 8 --user-prefix s
  start_nodes 0

  log "writing $DOC"
  "$LT" summarize --out "$DOC" \
    --setup "Nodes: go build ./cmd/gateway, Redis store at $REDIS_URL and NATS at $NATS_URL (private to the run unless BENCH_REDIS_URL / BENCH_NATS_URL were set), grace $GRACE; BENCH_SCALE=$SCALE, BENCH_DURATION=$DUR, BENCH_STORM_CONNS=$STORM; reports in ${OUT#"$ROOT"/}. In the commands, \$SECRET, \$TENANT and \$PREFIX stand for the run's own random values." \
    "${RESULTS[@]}"
else
  printf '# Benchmark record\n\n(harness skipped: BENCH_SKIP=%s)\n' "$SKIP" >"$DOC"
fi

# The record's other sections: appended to $DOC, each with its command.
section() { printf '\n## %s\n\n' "$1" >>"$DOC"; }

if [[ $SKIP != *" membench "* ]]; then
  # 7. membench: RSS per idle connection (10 000, hello + 10 subscriptions,
  #    2 windows per session), then server CPU per plain authenticated
  #    connect (one window, no subscription: upgrade, hello with a JWT,
  #    store write, welcome), pgw against bare gorilla in the same run.
  log "membench: memory per idle connection"
  section "Memory per idle connection and server CPU per connect (membench)"
  {
    echo "\`\`\`sh"
    echo "MEMBENCH_SERVER_ENV=GOGC=50 scripts/membench.sh                               # memory"
    echo "MEMBENCH_CONNS=5000 MEMBENCH_SERVER_ENV=GOGC=50 scripts/membench.sh --subscribe 0 --windows 1   # connect CPU"
    echo "\`\`\`"
    echo
    echo "Each server runs as its own process; the clients are membench's own process. CPU is the server process's (and its private redis-server's) user + system time while the connections opened (/proc/<pid>/stat), divided by the connections."
    echo
    echo "Idle memory (10 000 connections):"
    echo
  } >>"$DOC"
  MEMBENCH_OUT="$OUT/membench-memory" MEMBENCH_SERVER_ENV=GOGC=50 ./scripts/membench.sh | grep -v '^date:\|^machine:\|^command:' >>"$DOC"
  log "membench: CPU per connect"
  { echo; echo "Connect cost (5 000 connections, one window each, no subscription):"; echo; } >>"$DOC"
  MEMBENCH_OUT="$OUT/membench-connect" MEMBENCH_CONNS=5000 MEMBENCH_SERVER_ENV=GOGC=50 ./scripts/membench.sh --subscribe 0 --windows 1 |
    sed -n '/server CPU/,/^$/p' >>"$DOC"
fi

if [[ $SKIP != *" gobench "* ]]; then
  # 8. Go benchmarks: in-process, each against its same-run baseline where
  #    it has one (BenchmarkConnect/bare).
  log "Go benchmarks"
  section "Go benchmarks"
  cmds=(
    "go test -run ^\$ -bench BenchmarkConnect -benchtime 5000x ./gateway/"
    "go test -run ^\$ -bench BenchmarkFanout -benchtime 5000x ./gateway/"
    "go test -run ^\$ -bench BenchmarkDecodeFrame -benchmem ./gateway/"
    "go test -run ^\$ -bench BenchmarkRedisConnectDisconnect -benchtime 2s ./presence/"
    "go test -run ^\$ -bench BenchmarkVerifyHS256 -benchmem -benchtime 2s ./gateway/auth/"
    "go test -run ^\$ -bench BenchmarkTrackerCheck -benchtime 50x ./gateway/login/"
  )
  echo '```text' >>"$DOC"
  for c in "${cmds[@]}"; do
    echo "\$ $c" >>"$DOC"
    # shellcheck disable=SC2086 # the command's words
    $c 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' >>"$DOC" || true
  done
  echo '```' >>"$DOC"
fi

section "Run"
{
  echo "Command: \`make bench\` (scripts/bench.sh), BENCH_SCALE=$SCALE, BENCH_DURATION=$DUR, BENCH_STORM_CONNS=$STORM${BENCH_SKIP:+, BENCH_SKIP=$BENCH_SKIP}${BENCH_ONLY:+, BENCH_ONLY=$BENCH_ONLY}${BENCH_FANOUT_PROCS:+, BENCH_FANOUT_PROCS=$BENCH_FANOUT_PROCS}."
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr), $(go env GOVERSION), $(awk '/^MemTotal:/ {printf "%.0f", $2/1048576}' /proc/meminfo) GiB RAM; code $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo "Started $START_DATE (load average $START_LOAD), finished $(date -u '+%Y-%m-%d %H:%M UTC') (load average $(cut -d' ' -f1-3 /proc/loadavg))."
} >>"$DOC"
log "done: $DOC, reports in $OUT"
