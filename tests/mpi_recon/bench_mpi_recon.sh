#!/bin/bash
# `make bench-mpi-recon` (sw/quant/quant.mk; docs/mpi_recon.md): wall time of a fres20 BRECQ+QDrop
# W2A4 reconstruction (MSE loss, 256 calibration images, batch 32 in dp_shards 2 shards,
# ITERS iterations per unit) three ways, side by side: one process with one engine thread
# (serial), one process with two threads (threads2), and mpirun -np 2 with one thread per rank
# (np2). The modes alternate within each repeat, so a change of the machine's load hits them
# alike; every output is compared with cmp against the first serial one (the same bytes).
# Table on stdout (median wall seconds, speed-up over serial, and the CPU seconds (user + sys) of
# all the mode's processes: on a loaded machine the wall time says how the scheduler treated the
# job, the CPU time what the work cost); JSON in build/bench/mpi_recon.json with the load average
# before and after.
# Another network: MPI_RECON_MODEL (a .bqm or .onnx), MPI_RECON_DATA (its dataset YAML, else the
# embedded Fashion-MNIST), MPI_RECON_CALIB (calibration images, 256), MPI_RECON_TAG (the name of the
# work folder and JSON, mpi_recon); docs/mpi_recon.md runs the 224x224 ResNet-18 this way.
# usage: tests/mpi_recon/bench_mpi_recon.sh BRECQ [REPEAT] [ITERS]
set -eu
B=${1:-build/brecq} REPEAT=${2:-1} ITERS=${3:-200}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
MODEL=${MPI_RECON_MODEL:-configs/models/fres20.bqm}
CALIB=${MPI_RECON_CALIB:-256}
TAG=${MPI_RECON_TAG:-mpi_recon}
DATA=(); [ -n "${MPI_RECON_DATA:-}" ] && DATA=(--data "$MPI_RECON_DATA")
W=build/bench/$TAG; rm -rf $W; mkdir -p $W
cat > $W/r.yaml << YAML
method: brecq_qdrop
loss: mse
wbits: 2
abits: 4
calib: $CALIB
act_init_batch: $(( CALIB < 64 ? CALIB : 64 ))
batch: 32
qdrop_iters: $ITERS
seed: 7
dp_shards: 2
YAML
load0=$(cut -d' ' -f1-3 /proc/loadavg)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
run() {   # run MODE I -> "wall_s cpu_s"; output $W/MODE.I.bqq
  local mode=$1 out=$W/$1.$2 rc=0
  ( TIMEFORMAT='%R %U %S'; { time run1 $mode $out > /dev/null; } 2> $out.time ) || exit 1
  awk '{printf "%.2f %.2f", $1, $2 + $3}' $out.time
}
run1() {   # run1 MODE OUT: one quantize (the timed part)
  local mode=$1 out=$2 rc=0
  case $mode in
    serial)   BQ_NUM_THREADS=1 "$B" quantize --model "$MODEL" "${DATA[@]}" --recipe $W/r.yaml --out $out.bqq 2> $out.err || rc=$? ;;
    threads2) BQ_NUM_THREADS=2 "$B" quantize --model "$MODEL" "${DATA[@]}" --recipe $W/r.yaml --out $out.bqq 2> $out.err || rc=$? ;;
    np2)      BQ_NUM_THREADS=1 $MPIRUN -np 2 "$B" quantize --model "$MODEL" "${DATA[@]}" --recipe $W/r.yaml --out $out.bqq 2> $out.err || rc=$? ;;
  esac
  [ $rc = 0 ] || { echo "bench-mpi-recon: $mode: exit $rc: $(grep 'brecq quantize' $out.err | head -1)" >&2; exit 1; }
}
declare -A TS CS
for i in $(seq 1 "$REPEAT"); do
  for mode in serial threads2 np2; do
    read -r t c <<< "$(run $mode $i)"
    [ -n "$c" ] || exit 1
    TS[$mode]="${TS[$mode]:-} $t"
    CS[$mode]="${CS[$mode]:-} $c"
    cmp -s $W/serial.1.bqq $W/$mode.$i.bqq || { echo "bench-mpi-recon: $mode run $i: .bqq differs from the serial run's"; exit 1; }
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
printf '%-9s %10s %8s %10s  %s\n' mode median_s speedup cpu_s runs
json="{\"bench\": \"mpi_recon\", \"model\": \"$MODEL\", \"recipe\": \"brecq_qdrop W2A4 mse, calib $CALIB, batch 32, dp_shards 2, $ITERS it/unit\", \"load_before\": \"$load0\", \"load_after\": \"$load1\", \"modes\": ["
sep=""
for mode in serial threads2 np2; do
  med=$(echo ${TS[$mode]} | tr ' ' '\n' | median)
  [ $mode = serial ] && base=$med
  sp=$(awk -v a="$base" -v b="$med" 'BEGIN {printf "%.2f", a / b}')
  cpu=$(echo ${CS[$mode]} | tr ' ' '\n' | median)
  printf '%-9s %10.2f %8s %10.2f  %s\n' $mode "$med" "$sp" "$cpu" "${TS[$mode]}"
  json=$(printf '%s%s {"mode": "%s", "median_s": %s, "speedup": %s, "cpu_s": %s, "runs": [%s], "cpu_runs": [%s]}' "$json" "$sep" $mode $med $sp $cpu "$(echo ${TS[$mode]} | tr ' ' ',')" "$(echo ${CS[$mode]} | tr ' ' ',')")
  sep=","
done
echo "$json]}" > build/bench/$TAG.json
echo "bench-mpi-recon: load before $load0, after $load1; all outputs the same bytes; JSON build/bench/$TAG.json"
