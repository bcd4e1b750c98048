#!/usr/bin/env bash
# bench-compare.sh OLD NEW [ROUNDS]: BenchmarkConnect (memory, redis) and
# BenchmarkFanout of the gateway at two commits, compared with benchstat.
#
# Each commit's gateway test binary is built from `git archive` (the working
# tree is not touched). Every round runs each benchmark once per binary, one
# process per run, the two binaries in alternating order (ABBA), so load from
# other work on the machine falls on both alike. Each run's process CPU time
# (user + sys of it and what it reaped, redis-server included) divided by the
# iterations is appended to its line as cpu-us/op: on a shared machine CPU per
# op is much steadier than wall time. It includes the node's start and the
# N=1 probe run, the same for both binaries. Results, the log with the load
# average of every run, and benchstat's table go to OUT (default: a new
# temporary directory). See docs/benchmarks.md ("The one-place refactor").
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD NEW [ROUNDS]" >&2; exit 2; }
old=$1 new=$2 rounds=${3:-10}
n=${BENCH_N:-5000}
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20251208221838-04cf7a2dca90
command -v redis-server >/dev/null || { echo "bench-compare: needs redis-server (scripts/ensure-services.sh, or apt-get install redis-server)" >&2; exit 1; }
root=$(git rev-parse --show-toplevel)
out=${OUT:-$(mktemp -d -t pgw-bench-compare.XXXXXX)}
mkdir -p "$out"
echo "bench-compare: results in $out"

for side in old new; do
  rev=${!side}
  rm -rf "$out/src-$side" && mkdir -p "$out/src-$side"
  git -C "$root" archive "$rev" | tar -x -C "$out/src-$side"
  echo "bench-compare: building $side ($(git -C "$root" rev-parse --short "$rev"))"
  (cd "$out/src-$side" && go test -c -o "$out/$side.test" ./gateway/)
  : > "$out/$side.txt"
done

# childcpu sets CPU to the CPU seconds (user + sys) of every child this shell
# has reaped so far. `times` must run in this shell, not in a $(…) subshell,
# which has reaped nothing: it writes to a file that a subshell then reads.
childcpu() {
  times > "$out/times.tmp"
  CPU=$(tail -1 "$out/times.tmp" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] }; printf "%.3f", s }')
}

benches=('BenchmarkConnect/memory$' 'BenchmarkConnect/redis$' 'BenchmarkFanout$')
for r in $(seq 1 "$rounds"); do
  order=(old new); (( r % 2 == 0 )) && order=(new old)
  for b in "${benches[@]}"; do
    for side in "${order[@]}"; do
      echo "# round $r $side $b $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/log"
      childcpu; before=$CPU
      nice -n 10 "$out/$side.test" -test.run '^$' -test.bench "$b" -test.benchtime "${n}x" > "$out/one.tmp" 2>&1 || true
      childcpu; after=$CPU
      cpu=$(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
      if grep -q '^ok\|^PASS' "$out/one.tmp"; then
        grep '^Benchmark' "$out/one.tmp" | sed "s/\$/ $cpu cpu-us\/op/" | tee -a "$out/$side.txt" >> "$out/log"
      else
        { echo "FAILED $side $b"; cat "$out/one.tmp"; } >> "$out/log"
      fi
    done
  done
  echo "bench-compare: round $r of $rounds done, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
(cd "$root" && go run "$benchstat" "old=$out/old.txt" "new=$out/new.txt") | tee "$out/benchstat.txt"
