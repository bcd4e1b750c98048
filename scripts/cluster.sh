#!/usr/bin/env bash
# make cluster: three gateway nodes behind nginx (round robin, WebSocket
# upgrade, no stickiness: the shipped deploy/nginx.conf) on a private Redis
# and a private NATS that this script starts on free ports and stops again,
# like the tests do; it never touches a Redis or NATS already running on the
# machine unless told to use it. Prints the board URL and a dev token;
# Ctrl-C stops everything it started, by PID (the nodes drain first). Logs
# stay in out/cluster/ (replaced by the next run).
#
# Settings (environment):
#   PGW_REDIS_URL   use this Redis instead of a private one (keys go under a
#                   fresh prefix, so nothing else on it is touched)
#   PGW_NATS_URL    use this NATS instead of a private one
#   PGW_JWT_SECRET  default: a random one for this run
#   CLUSTER_ADDR    nginx's address, default 127.0.0.1:8080 (a free port,
#                   said so, when 8080 is taken)
#   CLUSTER_NODES   how many nodes, default 3
#   GATEWAY         the gateway binary, default bin/gateway (make build)
#   CLUSTER_LOGS    where logs, nginx's config and temp files go, default
#                   out/cluster (emptied at start, kept after the end)
#   NATS_SERVER     the nats-server binary, default bin/nats-server (built
#                   from the module's pinned nats-server when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

nodes=${CLUSTER_NODES:-3}
gateway=${GATEWAY:-bin/gateway}
nats_server=${NATS_SERVER:-bin/nats-server}
prefix="cluster-$(date +%s)-$$"
dir=${CLUSTER_LOGS:-out/cluster}

die() { echo "cluster: $*" >&2; exit 1; }

[ -x "$gateway" ] || die "$gateway not found: run \`make build\` (or \`make cluster\`, which builds)"
command -v nginx >/dev/null 2>&1 || die "nginx is not installed: run \`sudo apt-get install -y nginx-light\` (or scripts/ensure-services.sh as root), then \`make cluster\` again"
if [ -z "${PGW_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  die "redis-server is not installed: run \`sudo apt-get install -y redis-server\` (the cluster starts its own on a free port), or set PGW_REDIS_URL=redis://host:port/0 to use a Redis you run"
fi

# host:port of a redis:// or nats:// URL (first of a comma-separated list).
hostport() { local u=${1%%,*}; u=${u#*://}; u=${u#*@}; echo "${u%%/*}"; }

listen=${CLUSTER_ADDR:-127.0.0.1:8080}
if port_taken "$listen"; then
  [ -z "${CLUSTER_ADDR:-}" ] || die "$(port_in_use_hint "$listen" CLUSTER_ADDR)"
  listen="127.0.0.1:$(free_port)"
  echo "cluster: 127.0.0.1:8080 is in use; nginx listens on $listen instead (set CLUSTER_ADDR to choose)"
fi

secret=${PGW_JWT_SECRET:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd) # nginx -p wants an absolute path
# Redis and NATS in their own session: a Ctrl-C in the terminal reaches
# nginx and the nodes (which drain), while the services they drain into
# stay up until stop() ends them.
setsid=""
command -v setsid >/dev/null 2>&1 && setsid=setsid
nodepids=() # nginx and the nodes: stopped first
svcpids=()  # the private Redis and NATS: stopped last (the nodes drain into them)

stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster: stopping (nodes drain and remove their keys under prefix $prefix)"
  for pid in "${nodepids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${nodepids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${svcpids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${svcpids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "cluster: stopped; logs in $dir"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

if [ -n "${PGW_REDIS_URL:-}" ]; then
  redis_url=$PGW_REDIS_URL
  port_taken "$(hostport "$redis_url")" || die "Redis $(hostport "$redis_url") (PGW_REDIS_URL) does not answer: start it, or unset PGW_REDIS_URL for a private one"
else
  port=$(free_port)
  $setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
  svcpids+=($!)
  wait_listen "127.0.0.1:$port" "${svcpids[-1]}" || { tail -n 5 "$dir/redis.log" >&2; die "the private redis-server did not start (log $dir/redis.log)"; }
  redis_url="redis://127.0.0.1:$port/0"
  echo "cluster: private Redis on 127.0.0.1:$port (log $dir/redis.log)"
fi

if [ -n "${PGW_NATS_URL:-}" ]; then
  nats_url=$PGW_NATS_URL
  port_taken "$(hostport "$nats_url")" || die "NATS $(hostport "$nats_url") (PGW_NATS_URL) does not answer: start it, or unset PGW_NATS_URL for a private one"
else
  if [ ! -x "$nats_server" ]; then
    echo "cluster: building $nats_server from the pinned github.com/nats-io/nats-server/v2 (go.mod)"
    go build -o "$nats_server" github.com/nats-io/nats-server/v2 || die "could not build nats-server: install one (https://nats.io) and set NATS_SERVER, or set PGW_NATS_URL"
  fi
  port=$(free_port)
  $setsid "$nats_server" -a 127.0.0.1 -p "$port" -l "$dir/nats.log" &
  svcpids+=($!)
  wait_listen "127.0.0.1:$port" "${svcpids[-1]}" || { tail -n 5 "$dir/nats.log" >&2; die "the private nats-server did not start (log $dir/nats.log)"; }
  nats_url="nats://127.0.0.1:$port"
  echo "cluster: private NATS on 127.0.0.1:$port (log $dir/nats.log)"
fi

# start_node i: starts node i on a free port (another try on a port taken
# meanwhile) and waits until it answers; sets $port.
start_node() {
  local i=$1 try
  for try in 1 2 3; do
    port=$(free_port)
    PGW_JWT_SECRET=$secret "$gateway" --addr "127.0.0.1:$port" --redis-url "$redis_url" --nats-url "$nats_url" \
      --prefix "$prefix" --node-id "$prefix-n$i" --drain 2s --public-url "http://$listen" >"$dir/node-$i.log" 2>&1 &
    local pid=$!
    if wait_listen "127.0.0.1:$port" "$pid"; then nodepids+=("$pid"); return; fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "cluster: node $i did not start on port $port (try $try):" >&2
    tail -n 3 "$dir/node-$i.log" >&2
  done
  die "node $i did not start (log $dir/node-$i.log)"
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
nodepids+=($!)
wait_listen "$listen" "${nodepids[-1]}" || { cat "$dir/error.log" >&2; die "nginx did not start (log $dir/error.log)"; }

tok=$(PGW_JWT_SECRET=$secret "$gateway" token --sub dev --tenant dev --roles user,admin --ttl 24h)
cat <<MSG

  pgw cluster: $nodes nodes behind nginx (round robin, no stickiness)
  board:     http://$listen/board/#token=$tok
  URL:       http://$listen          WebSocket: ws://$listen/v1/ws
  prefix:    $prefix (Redis $(hostport "$redis_url"), NATS $(hostport "$nats_url"))
  secret:    PGW_JWT_SECRET=$secret
  dev token: $tok
  more tokens: PGW_JWT_SECRET=$secret $gateway token --sub u1 --tenant dev
  logs:      $dir/

  Ctrl-C stops everything.

MSG
wait -n "${nodepids[@]}" "${svcpids[@]}" || true
echo "cluster: a process exited; the end of the logs:" >&2
tail -n 20 "$dir"/*.log >&2 || true
exit 1
