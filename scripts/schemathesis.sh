#!/usr/bin/env bash
# scripts/schemathesis.sh [quick|long]: schemathesis (an outside fuzzer, from
# PyPI) against docs/openapi.yaml and a live gateway node.
#
#   quick (make test): a bounded run with a fixed seed, under 2 minutes: the
#         stateless checks — no 5xx, every response in the spec (status,
#         content type, headers, body schema).
#   long  (make fuzz): many more examples, a seed from SEED or random, with
#         and without a token.
#
# schemathesis is pinned and installed into a project-local venv
# (.cache/schemathesis, git-ignored) when missing; the script says so. The
# gateway it tests is built from this tree, started on a free port with the
# in-process store, and stopped by its PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

VERSION=4.32.5
MODE=${1:-quick}
VENV=${PGW_SCHEMATHESIS_VENV:-.cache/schemathesis}
ST="$VENV/bin/schemathesis"

if ! "$ST" --version 2>/dev/null | grep -q "version $VERSION\$"; then
  echo "schemathesis: installing schemathesis==$VERSION into $VENV (PyPI, once)"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      echo "schemathesis: installing python3-venv (apt-get)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    else
      echo "schemathesis: python3 -m venv is missing: run sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pgw-schemathesis.XXXXXX")
gw_pid=""
cleanup() {
  if [ -n "$gw_pid" ]; then kill -TERM "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/gateway" ./cmd/gateway
secret=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
port=$(free_port)
# The rate limits are lifted so the fuzzer tests the API, not the limiter
# (429 is in the spec, but a run made of 429s tests nothing).
"$dir/gateway" --addr "127.0.0.1:$port" --jwt-secret "$secret" --rate-limit 1000000 --rate-burst 1000000 \
  --log-level warn >"$dir/gateway.log" 2>&1 &
gw_pid=$!
if ! wait_listen "127.0.0.1:$port" "$gw_pid" 20; then
  echo "schemathesis: the gateway did not start:" >&2
  cat "$dir/gateway.log" >&2
  exit 1
fi
# One token that may call every route: a person (user, admin) and a bridge
# reporting for its own id.
token=$("$dir/gateway" token --sub pbx1 --tenant acme --roles user,admin,bridge --ttl 1h --jwt-secret "$secret")

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
# run: one schemathesis run within $budget seconds (timeout guards the
# promise; the example count is the real budget).
run() {
  timeout "$budget" "$ST" run docs/openapi.yaml --url "http://127.0.0.1:$port" --checks "$checks" \
    --exclude-path /v1/ws --phases examples,coverage,fuzzing --workers 1 "$@"
}
case $MODE in
quick)
  echo "schemathesis: quick run (seed 42, 25 examples per operation) against 127.0.0.1:$port"
  budget=120
  run -H "Authorization: Bearer $token" --max-examples 25 --seed 42
  ;;
long)
  seed=${SEED:-$RANDOM} budget=1800
  echo "schemathesis: long run (seed $seed) against 127.0.0.1:$port; replay with SEED=$seed make fuzz"
  run -H "Authorization: Bearer $token" --max-examples "${EXAMPLES:-500}" --seed "$seed"
  run --max-examples 100 --seed "$seed"
  ;;
*)
  echo "usage: scripts/schemathesis.sh [quick|long]" >&2
  exit 2
  ;;
esac
if grep -q "panic\|level=ERROR" "$dir/gateway.log"; then
  echo "schemathesis: the gateway logged errors:" >&2
  grep "panic\|level=ERROR" "$dir/gateway.log" | head -20 >&2
  exit 1
fi
echo "schemathesis: clean"
