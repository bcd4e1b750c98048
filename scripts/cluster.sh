#!/usr/bin/env bash
# make cluster: three gateway nodes behind nginx (round robin, WebSocket
# upgrade, no stickiness: deploy/nginx.conf) on the machine's Redis and NATS,
# under a fresh key/subject prefix so nothing else on them is touched. Prints
# the URL and a dev token; Ctrl-C stops everything it started (the nodes
# drain and remove their keys).
#
# Settings (environment):
#   PGW_REDIS_URL   default redis://127.0.0.1:6379/0
#   PGW_NATS_URL    default nats://127.0.0.1:4222
#   PGW_JWT_SECRET  default: a random one for this run
#   CLUSTER_ADDR    nginx's address, default 127.0.0.1:8080 (a free port
#                   when 8080 is taken)
#   CLUSTER_NODES   how many nodes, default 3
#   GATEWAY         the gateway binary, default bin/gateway (make build)
set -euo pipefail
cd "$(dirname "$0")/.."

redis_url=${PGW_REDIS_URL:-redis://127.0.0.1:6379/0}
nats_url=${PGW_NATS_URL:-nats://127.0.0.1:4222}
nodes=${CLUSTER_NODES:-3}
gateway=${GATEWAY:-bin/gateway}
prefix="cluster-$(date +%s)-$$"

die() { echo "cluster: $*" >&2; exit 1; }

[ -x "$gateway" ] || die "$gateway not found: run \`make build\` (or \`make cluster\`, which builds)"
command -v nginx >/dev/null 2>&1 || die "nginx not found: run scripts/ensure-services.sh (apt-get install -y nginx-light)"

# host:port of a redis:// or nats:// URL (first of a comma-separated list).
hostport() { local u=${1%%,*}; u=${u#*://}; u=${u#*@}; echo "${u%%/*}"; }
reachable() { local hp; hp=$(hostport "$1"); (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null; }
reachable "$redis_url" || die "Redis $(hostport "$redis_url") does not answer: start redis-server, or set PGW_REDIS_URL"
reachable "$nats_url" || die "NATS $(hostport "$nats_url") does not answer: start nats-server, or set PGW_NATS_URL"

# A port nobody listens on (checked, not reserved: good enough for a dev run).
free_port() {
  local p
  for _ in $(seq 1 100); do
    # Below the kernel's ephemeral range (32768+), where outgoing
    # connections take their ports.
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

listen=${CLUSTER_ADDR:-127.0.0.1:8080}
if [ -z "${CLUSTER_ADDR:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
  listen="127.0.0.1:$(free_port)"
fi

secret=${PGW_JWT_SECRET:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}
dir=$(mktemp -d "${TMPDIR:-/tmp}/pgw-cluster.XXXXXX")
pids=()

stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster: stopping (nodes drain and remove their keys under prefix $prefix)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
  echo "cluster: stopped"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# start_node i: starts node i on a free port (another try on a port taken
# meanwhile) and waits until it answers; sets $port.
start_node() {
  local i=$1 try
  for try in 1 2 3; do
    port=$(free_port)
    PGW_JWT_SECRET=$secret "$gateway" --addr "127.0.0.1:$port" --redis-url "$redis_url" --nats-url "$nats_url" \
      --prefix "$prefix" --node-id "$prefix-n$i" --drain 2s --public-url "http://$listen" >"$dir/node-$i.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && kill -0 "$pid" 2>/dev/null; then pids+=("$pid"); return; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "cluster: node $i did not start on port $port (try $try):" >&2
    tail -n 3 "$dir/node-$i.log" >&2
  done
  die "node $i did not start"
}

servers=""
for i in $(seq 1 "$nodes"); do
  start_node "$i"
  servers+="server 127.0.0.1:$port max_fails=1 fail_timeout=5s; "
  echo "cluster: node $prefix-n$i on 127.0.0.1:$port (log $dir/node-$i.log)"
done

sed -e "s|@WORKERS@|1|g" -e "s|@DIR@|$dir|g" -e "s|@LISTEN@|$listen|g" -e "s|@SERVERS@|$servers|g" \
  deploy/nginx.conf >"$dir/nginx.conf"
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/${listen%:*}/${listen##*:}") 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$dir/error.log" >&2; die "nginx exited"; }
  sleep 0.1
done

tok=$(PGW_JWT_SECRET=$secret "$gateway" token --sub dev --tenant dev --roles user,admin --ttl 24h)
cat <<EOF

  pgw cluster: $nodes nodes behind nginx (round robin, no stickiness)
  URL:       http://$listen          WebSocket: ws://$listen/v1/ws
  board:     http://$listen/board/#token=$tok
  prefix:    $prefix (Redis $(hostport "$redis_url"), NATS $(hostport "$nats_url"))
  secret:    PGW_JWT_SECRET=$secret
  dev token: $tok
  more tokens: PGW_JWT_SECRET=$secret $gateway token --sub u1 --tenant dev

  Ctrl-C stops everything.

EOF
wait -n "${pids[@]}" || true
echo "cluster: a process exited; the end of the logs:" >&2
tail -n 20 "$dir"/*.log >&2 || true
exit 1
