#!/usr/bin/env bash
# Installs what the test suite needs when it is missing, saying what it does.
# Safe to run again: it only acts on what is missing. Needs root for apt-get
# (as on CI and the developer machines); otherwise it says what to install.
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
# The Spring Session compatibility test (gateway/spring_login_test.go) builds
# and runs a Spring Boot app: Maven and a JDK 17.
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
if [ "${PGW_SKIP_BROWSER:-}" = "" ]; then
  command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ensure-services: installing missing packages: ${need_apt[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-services: not root; run: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  echo "ensure-services: installed ${need_apt[*]}"
  # Installing nginx (or redis-server) starts the packaged service (nginx
  # on port 80); the tests start their own on free ports. Stop only the
  # service this install started, through its service manager (which
  # stops it by its pid file), never other nginx or Redis processes.
  for pkg in "${need_apt[@]}"; do
    case $pkg in nginx-light) svc=nginx ;; redis-server) svc=redis-server ;; *) continue ;; esac
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      systemctl stop "$svc" >/dev/null 2>&1 && systemctl disable "$svc" >/dev/null 2>&1 &&
        echo "ensure-services: stopped and disabled the $svc service the package started"
    elif [ -x "/etc/init.d/$svc" ]; then
      "/etc/init.d/$svc" stop >/dev/null 2>&1 && echo "ensure-services: stopped the $svc service the package started"
    fi
  done
fi
# The browser tests need Node.js 20.10 or newer; Debian's own package is
# older. The npm registry's "node" package carries a Node 20 binary.
if [ "${PGW_SKIP_BROWSER:-}" = "" ] && command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  minor=$(node -p 'process.versions.node.split(".")[1]')
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 10 ]; }; then
    echo "ensure-services: Node.js $(node --version) is older than 20.10; installing node@20 from the npm registry"
    npm install -g --silent node@20 >/dev/null
    hash -r
    echo "ensure-services: now Node.js $(node --version)"
  fi
fi
echo "ensure-services: redis-server $(redis-server --version | awk '{print $3}'), nginx present, go $(go env GOVERSION)"
