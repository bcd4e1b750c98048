#!/usr/bin/env bash
# make demo: a gateway on its embedded default, a simulated population
# (agents whose statuses change, desk users whose windows open and close,
# apps that restart, logouts) and a simulated PBX bridge driving phone states;
# prints the board URL with a supervisor token. Ctrl-C stops everything it
# started, by PID. Logs stay in out/demo/ (replaced by the next run).
#
# Settings (environment): PGW_ADDR (default 127.0.0.1:8080; `make demo
# ADDR=…` sets it), PGW_JWT_SECRET (default: a random one), DEMO_AGENTS (12).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ADDR=${PGW_ADDR:-127.0.0.1:8080}
SECRET=${PGW_JWT_SECRET:-demo-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
TENANT=demo
AGENTS=${DEMO_AGENTS:-12}
logs=out/demo

die() { echo "demo: $*" >&2; exit 1; }
for b in bin/gateway bin/loadtest bin/ipt-bridge; do
  [ -x "$b" ] || die "$b not found: run \`make build\` (or \`make demo\`, which builds)"
done
# The address first: with another server there, the checks below would
# talk to it and the demo would look up while its own gateway had failed.
port_taken "$ADDR" && die "$(port_in_use_hint "$ADDR" PGW_ADDR) make demo"

rm -rf "$logs"
mkdir -p "$logs"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "demo: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "demo: stopped; logs in $logs/"
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

bin/gateway --addr "$ADDR" --jwt-secret "$SECRET" --grace 5s --log-level warn 2>"$logs/gateway.log" &
gw=$!
pids+=("$gw")
if ! wait_listen "$ADDR" "$gw" || ! curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 || ! kill -0 "$gw" 2>/dev/null; then
  echo "demo: the gateway did not start; its log ($logs/gateway.log):" >&2
  cat "$logs/gateway.log" >&2
  exit 1
fi

# Agents 0..N-1 own extensions 1000..; the PBX simulator drives their phones.
for i in $(seq 0 $((AGENTS - 1))); do echo "$((1000 + i)) agent$i"; done >"$logs/users.txt"

common=(--targets "http://$ADDR" --secret "$SECRET" --tenant "$TENANT" --progress=false --text "" --duration 24h --verify-users 0)
bin/loadtest --scenario fanout "${common[@]}" --user-prefix agent --users "$AGENTS" --subs 3 --rate 0.7 --human-notes >"$logs/agents.log" 2>&1 &
pids+=($!)
bin/loadtest --scenario churn "${common[@]}" --user-prefix desk --users 10 --rate 1 --logout 0.1 >"$logs/desks.log" 2>&1 &
pids+=($!)
bin/ipt-bridge --gateway "ws://$ADDR/v1/ws" --jwt-secret "$SECRET" --tenant "$TENANT" --bridge-id pbx1 \
  --simulate "$AGENTS" --rate 1 --users-file "$logs/users.txt" --log-level warn >"$logs/bridge.log" 2>&1 &
pids+=($!)

TOKEN=$(bin/gateway token --sub supervisor --tenant "$TENANT" --roles user,admin --ttl 24h --jwt-secret "$SECRET")
cat <<MSG

  pgw demo is running (tenant "$TENANT": $AGENTS agents with phones, 10 desk users).

  Board:   http://$ADDR/board/#token=$TOKEN

  JWT secret (for gateway token / curl): $SECRET
  Logs:    $logs/ (gateway.log, agents.log, desks.log, bridge.log)
  Ctrl-C stops everything.

MSG
set +e
wait -n "${pids[@]}"
code=$?
set -e
echo "demo: a process exited (status $code); the end of the logs in $logs/:" >&2
tail -n 5 "$logs"/*.log >&2 || true
exit 1
