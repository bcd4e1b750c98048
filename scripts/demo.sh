#!/usr/bin/env bash
# make demo: a gateway on its embedded default, a simulated population
# (agents whose statuses change, desk users whose windows open and close,
# apps that restart, logouts) and a simulated PBX bridge driving phone states;
# prints the board URL with a supervisor token. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
ADDR=${PGW_ADDR:-127.0.0.1:8080}
SECRET=${PGW_JWT_SECRET:-demo-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
TENANT=demo
AGENTS=${DEMO_AGENTS:-12}
tmp=$(mktemp -d)
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "demo: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup INT TERM EXIT

bin/gateway --addr "$ADDR" --jwt-secret "$SECRET" --grace 5s --log-level warn 2>"$tmp/gateway.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://$ADDR/readyz" >/dev/null || { echo "demo: gateway did not start:"; cat "$tmp/gateway.log"; exit 1; }

# Agents 0..N-1 own extensions 1000..; the PBX simulator drives their phones.
for i in $(seq 0 $((AGENTS - 1))); do echo "$((1000 + i)) agent$i"; done >"$tmp/users.txt"

common=(--targets "http://$ADDR" --secret "$SECRET" --tenant "$TENANT" --progress=false --text "" --duration 24h --verify-users 0)
bin/loadtest --scenario fanout "${common[@]}" --user-prefix agent --users "$AGENTS" --subs 3 --rate 0.7 >"$tmp/agents.log" 2>&1 &
pids+=($!)
bin/loadtest --scenario churn "${common[@]}" --user-prefix desk --users 10 --rate 1 --logout 0.1 >"$tmp/desks.log" 2>&1 &
pids+=($!)
bin/ipt-bridge --gateway "ws://$ADDR/v1/ws" --jwt-secret "$SECRET" --tenant "$TENANT" --bridge-id pbx1 \
  --simulate "$AGENTS" --rate 1 --users-file "$tmp/users.txt" --log-level warn >"$tmp/bridge.log" 2>&1 &
pids+=($!)

TOKEN=$(bin/gateway token --sub supervisor --tenant "$TENANT" --roles user,admin --ttl 24h --jwt-secret "$SECRET")
cat <<MSG

  pgw demo is running (tenant "$TENANT": $AGENTS agents with phones, 10 desk users).

  Board:   http://$ADDR/board/#token=$TOKEN

  JWT secret (for gateway token / curl): $SECRET
  Logs:    $tmp/*.log
  Ctrl-C stops everything.

MSG
wait "${pids[0]}"
