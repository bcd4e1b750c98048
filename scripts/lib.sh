# Helpers shared by the make scripts (cluster.sh, demo.sh): sourced, not run.
# Ports are probed with bash's /dev/tcp, so no client tool is needed.

# port_taken HOST:PORT: something listens there.
port_taken() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# free_port: a port nobody listens on (checked, not reserved: good enough
# for a dev run), below the kernel's ephemeral range (32768+) where
# outgoing connections take their ports.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    if ! port_taken "127.0.0.1:$p"; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2
  return 1
}

# wait_listen HOST:PORT PID [SECONDS]: waits until HOST:PORT answers while
# PID (the process meant to listen there) is alive; fails when PID exits
# or the time (default 20 s) is up.
wait_listen() {
  local addr=$1 pid=$2 deadline=$((SECONDS + ${3:-20}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    port_taken "$addr" && return 0
    sleep 0.1
  done
  return 1
}

# port_in_use_hint ADDR VAR: the message for an address already taken.
port_in_use_hint() {
  echo "$1 is already in use (another gateway? \`make run\`, \`make demo\` or \`make cluster\` still running?): stop it, or choose another address: $2=127.0.0.1:$(free_port)"
}
