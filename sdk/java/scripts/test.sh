#!/usr/bin/env bash
# test.sh: the Java SDK's tests (called by the repository's `make test`).
# Installs a JDK (17, building Java 8 bytecode with --release 8) and Maven with
# apt-get when missing, then runs `mvn -B -q verify`: unit tests over the
# shared vectors of sdk/conformance, the jar / sources jar / javadoc jar, the
# class-file check of the jar and the integration tests against the real
# gateway (built from this repository), a private redis-server and a private
# nats-server (built from the module's pinned nats-server, as make cluster
# does) on free ports.
#
# Environment: PGW_GATEWAY_BIN to use an already built gateway, NATS_SERVER a
# nats-server binary; MAVEN_REPO
# for the local Maven repository (default ~/.m2/repository, kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

install() {
  if [ "$(id -u)" != 0 ]; then
    echo "sdk/java: $1 is missing and this is not root: install $2 (e.g. apt-get install $2)" >&2
    exit 1
  fi
  echo "sdk/java: $1 is missing: installing the Debian package(s) $2 with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $2 >/dev/null
}

java_major() { javac -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/'; }
if ! command -v javac >/dev/null 2>&1 || [ "$(java_major)" -lt 11 ]; then
  install "a JDK (11 or later)" openjdk-17-jdk-headless
fi
command -v mvn >/dev/null 2>&1 || install "Maven" maven
command -v redis-server >/dev/null 2>&1 || install "redis-server" redis-server
command -v go >/dev/null 2>&1 || { echo "sdk/java: go is required (the integration tests build ./cmd/gateway)" >&2; exit 1; }
echo "sdk/java: $(javac -version 2>&1), $(mvn -v 2>/dev/null | head -n1 | sed 's/\x1b\[[0-9;]*m//g')"

repo_opt=()
[ -n "${MAVEN_REPO:-}" ] && repo_opt=("-Dmaven.repo.local=$MAVEN_REPO")
rm -rf target/surefire-reports target/failsafe-reports
status=0
mvn -B -q -Dstyle.color=never "${repo_opt[@]}" verify || status=$?

# Maven is quiet (-q): count the test reports for the closing line.
count() { # $1: attribute, files...
  local attr=$1; shift
  [ $# -gt 0 ] || { echo 0; return; }
  grep -ho "<testsuite [^>]*" "$@" | grep -o " $attr=\"[0-9]*\"" | grep -o '[0-9]*' | awk '{s+=$1} END {print s+0}'
}
shopt -s nullglob
reports=(target/surefire-reports/TEST-*.xml target/failsafe-reports/TEST-*.xml)
tests=$(count tests "${reports[@]}")
failed=$(( $(count failures "${reports[@]}") + $(count errors "${reports[@]}") ))
skipped=$(count skipped "${reports[@]}")
for j in target/pgw-client-*.jar; do echo "sdk/java: built $j"; done
echo "sdk/java: $((tests - failed - skipped)) passed, $failed failed, $skipped skipped in $(($(date +%s) - started))s"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then echo "sdk/java: mvn verify failed (exit $status) outside the tests" >&2; fi
exit "$status"
