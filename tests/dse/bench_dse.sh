#!/bin/bash
# `make bench-dse` (sw/dse/dse.mk): wall time of configs/dse/mpi_bench.yaml (72 units) serial and
# under mpirun -np 1, 2 and 4 (oversubscribed on 2 cores), REPEAT times each (median reported),
# every run from an empty points/ folder with the same sensitivity cache (the sensitivity pass is
# not what is measured); checks each run's dse.json against the serial one. Table on stdout,
# JSON in build/bench/dse.json with the load average before and after.
# usage: tests/dse/bench_dse.sh BRECQ [REPEAT]
set -eu
B=${1:-build/brecq} REPEAT=${2:-1}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
W=build/dse/bench; mkdir -p $W build/bench
SENS=${DSE_SENS:-build/dse/worked/sens}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
run() {   # run MODE -> seconds
  local mode=$1 out=$W/$1
  rm -rf "$out"; mkdir -p "$out"; [ -d "$SENS" ] && cp -r "$SENS" "$out/"
  sed "s|^out: .*|out: $out|" configs/dse/mpi_bench.yaml > "$out.yaml"
  local t0; t0=$(date +%s.%N)
  local rc=0
  case $mode in
    serial) "$B" dse "$out.yaml" > /dev/null 2> "$out.err" || rc=$? ;;
    np*) $MPIRUN -np "${mode#np}" "$B" dse "$out.yaml" > /dev/null 2> "$out.err" || rc=$? ;;
  esac
  [ $rc = 0 ] || { echo "bench-dse: $mode: exit $rc: $(grep 'brecq dse' "$out.err" | head -1)" >&2; exit 1; }
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'
}
# the first serial run also measures the sensitivities when no cache was copied
printf '%-8s %10s %10s %s\n' mode median_s speedup runs
json="{\"bench\": \"dse\", \"sweep\": \"configs/dse/mpi_bench.yaml\", \"load_before\": \"$load0\", \"modes\": ["
first=1
for mode in serial np1 np2 np4; do
  ts=""
  for _ in $(seq 1 "$REPEAT"); do
    t=$(run $mode) || exit 1
    ts="$ts $t"
    [ $mode = serial ] && cp $W/serial/dse.json $W/ref.json
    cmp -s $W/ref.json $W/$mode/dse.json || { echo "bench-dse: $mode: dse.json differs from the serial run's"; exit 1; }
  done
  med=$(echo $ts | tr ' ' '\n' | median)
  [ $mode = serial ] && base=$med
  sp=$(awk -v a="$base" -v b="$med" 'BEGIN {printf "%.2f", a / b}')
  printf '%-8s %10.2f %10s %s\n' $mode "$med" "$sp" "$ts"
  sep=","; [ $first = 1 ] && sep=""
  runs=$(echo $ts | tr ' ' ',')
  json=$(printf '%s%s {"mode": "%s", "median_s": %s, "speedup": %s, "runs": [%s]}' "$json" "$sep" $mode $med $sp "$runs")
  first=0
done
units=$(grep -c '"seconds"' $W/serial/timing.json)
sum=$(grep -o '"seconds": [0-9.]*' $W/serial/timing.json | awk '{s += $2} END {printf "%.3f", s}')
max=$(grep -o '"seconds": [0-9.]*' $W/serial/timing.json | awk '$2 > m {m = $2} END {printf "%.3f", m}')
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "units $units, sum of unit times $sum s (serial run), slowest unit $max s; load before $load0, after $load1"
echo "$json], \"units\": $units, \"unit_seconds_sum\": $sum, \"unit_seconds_max\": $max, \"load_after\": \"$load1\"}" > build/bench/dse.json
