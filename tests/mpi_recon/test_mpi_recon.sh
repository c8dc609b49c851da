#!/bin/bash
# `make test-mpi-recon` (sw/quant/quant.mk; docs/mpi_recon.md): the data-parallel reconstruction
# gives the same bytes on 1, 2 and 4 ranks. A short fres20 BRECQ+QDrop W2A4 (10 iterations per
# unit, 32 calibration images, batch 8 in dp_shards 4 shards of 2 images) run three ways:
#   a. serial (no mpirun), dp_shards 4;
#   b. mpirun -np 2, dp_shards 4 (2 shards per rank);
#   c. mpirun -np 4 --oversubscribe, dp_shards 4 (1 shard per rank);
# the three .bqq compared with cmp, and no run folder left behind. Then the refusals, one line
# each with a non-zero exit and no output: -np 3 (does not divide dp_shards 4), `brecq run` under
# mpirun. Every rank runs one engine thread (BQ_NUM_THREADS=1): the ranks share 2 cores.
# usage: tests/mpi_recon/test_mpi_recon.sh BRECQ   (MPIRUN: the mpirun command line, sw/dse/dse.mk)
set -u
B=${1:-build/brecq}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
M=configs/models/fres20.bqm
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export BQ_NUM_THREADS=1
fail() { echo "test-mpi-recon: FAILED ($1)"; [ -f "${2:-/dev/null}" ] && tail -5 "$2"; exit 1; }
cat > "$T/r.yaml" << 'YAML'
method: brecq_qdrop
loss: mse
wbits: 2
abits: 4
calib: 32
act_init_batch: 32
batch: 8
qdrop_iters: 10
seed: 7
dp_shards: 4
YAML
start=$(date +%s)
q() {   # q NAME [mpirun args...]: quantize into $T/NAME.bqq
  local name=$1; shift
  $@ "$B" quantize --model $M --recipe "$T/r.yaml" --out "$T/$name.bqq" > /dev/null 2> "$T/$name.err" ||
    fail "$name: exit $?" "$T/$name.err"
  [ -s "$T/$name.bqq" ] || fail "$name: no output" "$T/$name.err"
  [ ! -e "$T/$name.bqq.run" ] || fail "$name: run folder left behind"
}
q serial
q np2 $MPIRUN -np 2
cmp -s "$T/serial.bqq" "$T/np2.bqq" || fail "mpirun -np 2 differs from the serial run"
q np4 $MPIRUN -np 4
cmp -s "$T/serial.bqq" "$T/np4.bqq" || fail "mpirun -np 4 differs from the serial run"
# refusals
if $MPIRUN -np 3 "$B" quantize --model $M --recipe "$T/r.yaml" --out "$T/np3.bqq" > /dev/null 2> "$T/np3.err"; then
  fail "-np 3 with dp_shards 4 accepted"
fi
[ "$(grep -c "^brecq quantize: .*r.yaml: mpirun -np 3 needs 'dp_shards'" "$T/np3.err")" = 1 ] ||
  fail "-np 3: not one line naming the recipe" "$T/np3.err"
[ ! -e "$T/np3.bqq" ] || fail "-np 3 wrote an output"
if $MPIRUN -np 1 "$B" run configs/flows/smoke.yaml > /dev/null 2> "$T/run.err"; then
  fail "brecq run under mpirun accepted"
fi
[ "$(grep -c '^brecq run: does not run under mpirun' "$T/run.err")" = 1 ] || fail "brecq run: not one line" "$T/run.err"
echo "test-mpi-recon: passed (serial, mpirun -np 2 and -np 4 give the same .bqq; -np 3 and brecq run refused; $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
