#!/bin/bash
# Allocation failures (docs/reliability.md "Allocation failures"): for each short command, count
# the allocations K the project's own code makes (BQ_ALLOC_COUNT_FILE), then fail the N-th one
# (BQ_FAIL_ALLOC=N) for every N in 1..K, or a seeded sample, and require a clean end:
#   - exit 1 or 2 with the last stderr line "brecq CMD: ..." (one line, the error), no signal, no
#     timeout, no sanitizer or assert report, no "top-1 -1";
#   - no output file (nothing half-written) and no *.tmp.* left in the output folder;
#   - nothing written into the working folder (an empty one), whatever the exit;
#   - or exit 0, no "brecq CMD: ..." error line, stdout and every output byte-identical to the run
#     without a failure (a failed allocation the code can do without, e.g. an optional cache);
#   - train, quantize with reconstruction and search keep their run folder OUT.run after a failure
#     (as after a kill): a rerun without a failure must resume from it to the same output bytes
#     (ALLOC_RESUME=0 skips that rerun).
#
# Commands: info, eval, eval --quant, quantize (RTN), export, latency, export --check (fres20 on a
# 128/100-image IDX subset); train (fres20, 2 epochs of 2 steps on 8/4 images); a whole `run`
# flow, a 4-config `dse` sweep, search, quantize with BRECQ (Fisher loss) and BRECQ+QDrop (2
# iterations per unit) and eval --int (the 6 KB tiny model on a 64/32-image NumPy set).
# ALLOC_ONLY="run dse" restricts the run to some of them (the case names below), ALLOC_RANGE=A-B
# the N tried to A..B, ALLOC_STEP=S to every S-th of those. ALLOC_TIMEOUT=S (default 300) is the
# per-run limit in seconds: a hang is still a failure, but a loaded machine may need a longer one.
#
# usage: tests/cli/alloc_fail.sh BRECQ_ALLOCFAIL SAMPLE SEED
#   SAMPLE: N values tried per command (a seeded sample of 1..K, the first and last included);
#           0 = every N (make test-alloc-full)
set -u
B=$(realpath "${1:?usage: alloc_fail.sh BRECQ_ALLOCFAIL SAMPLE SEED}")
SAMPLE=${2:-60}
SEED=${3:-1}
ROOT=$(pwd)
TMO=${ALLOC_TIMEOUT:-300}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
RANDOM=$SEED
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0}

# ---- inputs: 128 training and 100 test images, a small RTN recipe, a quantized model ----
SRC=${BQ_DATA_DIR:-/usr/share/datasets/fashion-mnist}
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
subset() {   # split n [folder]
  local d=${3:-$T/data}
  { be32 0x803; be32 "$2"; be32 28; be32 28; zcat "$SRC/$1-images-idx3-ubyte.gz" | tail -c +17 | head -c $(($2 * 784)); } |
    gzip -1 > "$d/$1-images-idx3-ubyte.gz"
  { be32 0x801; be32 "$2"; zcat "$SRC/$1-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$2"; } |
    gzip -1 > "$d/$1-labels-idx1-ubyte.gz"
}
# train: fres20 (the only built-in architectures are fres20 and mbv2t) on 8/4 images
mkdir -p "$T/data" "$T/data8"
{ subset train 128 && subset t10k 100 && subset train 8 "$T/data8" && subset t10k 4 "$T/data8"; } ||
  { echo "FAIL alloc_fail: cannot read $SRC"; exit 1; }
D=$T/data
M=$ROOT/configs/models/fres20.bqm
printf 'method: rtn\nwbits: 4\nabits: 4\ncalib: 64\nact_init_batch: 64\n' > "$T/rtn.yaml"
ONLY=${ALLOC_ONLY:-}   # a space-separated subset of the case names (default: all)
only() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
{ only eval-quant || only export || only export-check; } && { "$B" quantize --model "$M" --recipe "$T/rtn.yaml" --data "$D" --out "$T/q.bqq" > /dev/null 2>&1 ||
  { echo "FAIL alloc_fail: cannot make the quantized model"; exit 1; }; }

# ---- run and dse: the 6 KB tiny model of the fuzz seeds (1x9x9, 3 classes) on a 64/32-image
# NumPy data set cut from the same Fashion-MNIST bytes (labels mod 3), so a whole flow or sweep
# takes seconds under ASan ----
TINY=$ROOT/tests/fuzz/corpus/bqm/tiny.bqm
npy_u8() {   # path shape(e.g. "64, 9, 9") -- the data on stdin
  local h="{'descr': '|u1', 'fortran_order': False, 'shape': ($2), }"
  local pad=$(( 63 - (10 + ${#h}) % 64 )) hl
  hl=$(( ${#h} + pad + 1 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
    printf '%s%*s\n' "$h" $pad ''; cat; } > "$1"
}
mkdir -p "$T/tdata"
for sp in calib:train:64 eval:t10k:32; do
  IFS=: read -r part split n <<< "$sp"
  zcat "$SRC/$split-images-idx3-ubyte.gz" | tail -c +17 | head -c $((n * 81)) | npy_u8 "$T/tdata/${part}_x.npy" "$n, 9, 9"
  zcat "$SRC/$split-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$n" | tr '\000-\011' '\000\001\002\000\001\002\000\001\002\000' |
    npy_u8 "$T/tdata/${part}_y.npy" "$n,"
done
printf 'kind: npy\ncalib: calib_x.npy\ncalib_labels: calib_y.npy\neval: eval_x.npy\neval_labels: eval_y.npy\nclasses: 3\nmean: [0.5]\nstd: [0.25]\n' > "$T/tdata/data.yaml"
printf 'method: rtn\nwbits: 4\nabits: 4\ncalib: 32\nact_init_batch: 32\n' > "$T/rtn32.yaml"
# reconstruction on tiny: BRECQ with the Fisher loss and BRECQ+QDrop, 2 iterations per unit
printf 'method: brecq\nloss: fisher\nwbits: 2\nabits: 4\niters: 2\nact_iters: 2\ncalib: 32\nbatch: 16\nact_init_batch: 32\n' > "$T/brecq.yaml"
printf 'method: brecq_qdrop\nloss: fisher\nqdrop_prob: 0.5\nwbits: 2\nabits: 4\nqdrop_iters: 2\ncalib: 32\nbatch: 16\nact_init_batch: 32\n' > "$T/qdrop.yaml"
# eval --int: tiny quantized with RTN W4A4; export --check: the package of fres20's q.bqq
only eval-int && { "$B" quantize --model "$TINY" --recipe "$T/rtn32.yaml" --data "$T/tdata/data.yaml" --out "$T/tq.bqq" > /dev/null 2>&1 ||
  { echo "FAIL alloc_fail: cannot make the quantized tiny model"; exit 1; }; }
only export-check && { "$B" export --quant "$T/q.bqq" --hw "$ROOT/configs/hw/edge.yaml" --data "$D" --tests 1 --out "$T/pkg" > /dev/null 2>&1 ||
  { echo "FAIL alloc_fail: cannot make the export package"; exit 1; }; }
# a flow (every step but cosim and the RTN front) and a 4-config sweep (one invalid); out: @O@
cat > "$T/run.yaml" << EOF
name: alloc-flow
model: $TINY
hw: $ROOT/configs/hw/edge.yaml
out: @O@/flow
data: $T/tdata/data.yaml
recipe: $T/rtn32.yaml
budgets: [W4A4]
wbits: [4, 8]
abits: [4, 8]
sens_images: 4
uniform_baseline: false
rtn_pareto: false
export_tests: 1
cosim_images: 0
EOF
cat > "$T/dse.yaml" << EOF
name: alloc
base: $ROOT/configs/hw/tiny.yaml
out: @O@/dse
data: $T/tdata/data.yaml
models: [$TINY]
budgets: [0.9x, 0.7x]
grid:
  dm: [2, 4]
  res_lanes: [1, 4]
wbits: [2, 4, 8]
abits: [4, 8]
sens_images: 4
EOF
# the YAML of run/dse names its output folder: one copy per output folder
spec_for() {   # YAML O -> a copy writing into O
  sed "s|@O@|$2|" "$1" > "$2.yaml"; echo "$2.yaml"
}
# the argv of a case for output folder O
argv() {   # args O
  local a=${1//@O@/$2}
  case $a in *@Y@*) a=${a//@Y@/$(spec_for "$T/${a%% *}.yaml" "$2")} ;; esac
  echo "$a"
}
# outputs that must be the same bytes after an exit 0: for run, everything but the files that
# carry wall times (report.md, the JSON files, the plots); for dse, dse.json and report.md
det_files() { (cd "$1" && find flow -type f ! -name '*.json' ! -name '*.md' ! -name '*.svg' | sort); }
same_outputs() {   # name out R O
  case $1 in
    run) [ "$(det_files "$3")" = "$(det_files "$4")" ] || return 1
         for f in $(det_files "$3"); do cmp -s "$3/$f" "$4/$f" || return 1; done ;;
    dse) cmp -s "$3/dse/dse.json" "$4/dse/dse.json" && cmp -s "$3/dse/report.md" "$4/dse/report.md" ;;
    search) cmp -s "$3/bits.yaml" "$4/bits.yaml" ;;   # its report carries the solvers' wall times
    quantize-brecq) cmp -s "$3/q.bqq" "$4/q.bqq" ;;   # its report carries wall seconds
    *) for f in $2; do diff -r "$3/$f" "$4/$f" > /dev/null 2>&1 || return 1; done ;;
  esac
}
# the outputs (a space-separated list) present in O
written() {   # out O
  local f w=""
  for f in $1; do [ -e "$2/$f" ] && w="$w $f"; done
  echo "$w"
}
# a run folder left by a failed train/quantize/search (OUT.run, kept as after a kill) must be
# resumable: rerun without a failure in the same folder, expect exit 0, the reference's outputs and
# no run folder left. Prints why not (and returns 1); ALLOC_RESUME=0 skips the rerun.
resumes() {   # name out args R O
  [ "${ALLOC_RESUME:-1}" = 0 ] && return 0
  [ -n "$(find "$5" -maxdepth 1 -name '*.run' -type d)" ] || return 0
  # shellcheck disable=SC2046
  timeout "$TMO" $B $(argv "$3" "$5") > "$T/stdout2" 2> "$T/stderr2" ||
    { echo "the rerun after it (resuming from the run folder) failed: $(tail -1 "$T/stderr2")"; return 1; }
  same_outputs "$1" "$2" "$4" "$5" || { echo "the rerun after it resumed to a different $2"; return 1; }
  [ -z "$(find "$5" -maxdepth 1 -name '*.run')" ] || { echo "the rerun after it left its run folder"; return 1; }
}
# stdout without wall times ("done in 2.4 s") and with the output folder as @O@
untimed() { sed -E -e "s|$2|@O@|g" -e 's/[0-9]+(\.[0-9]+)? s\b/T s/g' "$1"; }

# NAME OUTPUTS(relative to the output folder, space-separated, "" = none) ARGS... (@O@ = the output
# folder; @Y@ = the run/dse YAML, copied per output folder) [CAP: at most CAP sampled N in make
# test-alloc, to keep the slower cases' share of make test small; every N still in test-alloc-full]. For run and dse OUTPUT is the file written last: their
# report folder is also their resume store and stays after a failure, as after a kill.
CASES=(
  "info||info $M"
  "eval|preds|eval --model $M --data $D --preds @O@/preds"
  "eval-quant|r.json|eval --quant $T/q.bqq --data $D --report @O@/r.json"
  "quantize|q.bqq|quantize --model $M --recipe $T/rtn.yaml --data $D --out @O@/q.bqq"
  "export|pkg|export --quant $T/q.bqq --hw $ROOT/configs/hw/edge.yaml --data $D --tests 2 --out @O@/pkg"
  "run|flow/report.md|run @Y@"
  "dse|dse/dse.json|dse @Y@"
  "train|m.bqm|train --arch fres20 --epochs 2 --batch 4 --data $T/data8 --checkpoint-steps 1 --out @O@/m.bqm|3"
  "search|bits.yaml s.json|search --model $TINY --hw $ROOT/configs/hw/edge.yaml --budget 0.7x --wbits 2,4 --abits 4,8 --images 4 --data $T/tdata/data.yaml --out @O@/bits.yaml --report @O@/s.json|6"
  "quantize-brecq|q.bqq r.json|quantize --model $TINY --recipe $T/brecq.yaml --data $T/tdata/data.yaml --out @O@/q.bqq --report @O@/r.json|6"
  "quantize-qdrop|q.bqq|quantize --model $TINY --recipe $T/qdrop.yaml --data $T/tdata/data.yaml --out @O@/q.bqq|6"
  "eval-int|r.json|eval --quant $T/tq.bqq --int --data $T/tdata/data.yaml --report @O@/r.json|6"
  "latency|r.json|latency --model $M --hw $ROOT/configs/hw/edge.yaml --report @O@/r.json|6"
  "export-check||export --check $T/pkg|6"
)
fail=0 total_n=0 total_fail=0
mkdir -p "$T/cwd"   # the working folder of every run: must stay empty (no stray relative path)
for c in "${CASES[@]}"; do
  IFS='|' read -r name out args cap <<< "$c"
  only "$name" || continue
  cmd=${args%% *}
  R=$T/ref-$name; mkdir -p "$R"
  # shellcheck disable=SC2046
  BQ_ALLOC_COUNT_FILE=$T/count $B $(argv "$args" "$R") > "$R/stdout" 2> "$R/stderr" ||
    { echo "FAIL alloc_fail $name: the run without a failure failed:"; tail -2 "$R/stderr"; fail=1; continue; }
  K=$(cat "$T/count")
  # the N values: all, or the first, the last and a seeded sample between (at most the case's cap)
  SAMPLE_C=$SAMPLE
  [ -n "$cap" ] && [ "$SAMPLE" -gt "$cap" ] && SAMPLE_C=$cap
  if [ "$SAMPLE_C" -eq 0 ] || [ "$SAMPLE_C" -ge "$K" ]; then Ns=$(seq 1 "$K")
  else Ns=$( { echo 1; echo "$K"; for _ in $(seq 3 "$SAMPLE_C"); do echo $(( (RANDOM * 32768 + RANDOM) % K + 1 )); done; } | sort -nu)
  fi
  # ALLOC_RANGE=FROM-TO: only the N in that range; ALLOC_STEP=S: only every S-th of them (N = FROM,
  # FROM+S, ...), to split or thin a long every-N run
  if [ -n "${ALLOC_RANGE:-}" ] || [ "${ALLOC_STEP:-1}" -gt 1 ]; then
    lo=1 hi=$K step=${ALLOC_STEP:-1}
    [ -n "${ALLOC_RANGE:-}" ] && lo=${ALLOC_RANGE%-*} hi=${ALLOC_RANGE#*-}
    Ns=$(for N in $Ns; do [ "$N" -ge "$lo" ] && [ "$N" -le "$hi" ] && [ $(( (N - lo) % step )) -eq 0 ] && echo "$N"; done)
  fi
  tried=0 bad=0 clean_err=0 same=0 resumed=0 t0=$(date +%s)
  for N in $Ns; do
    tried=$((tried + 1))
    O=$T/o; rm -rf "$O"; mkdir -p "$O"
    # shellcheck disable=SC2086
    (cd "$T/cwd" && BQ_FAIL_ALLOC=$N exec timeout "$TMO" $B $(argv "$args" "$O")) > "$T/stdout" 2> "$T/stderr"
    rc=$?
    stray=$(ls -A "$T/cwd"); rm -rf "$T/cwd"; mkdir "$T/cwd"
    why="" had_run=$(find "$O" -maxdepth 1 -name '*.run' -type d)
    if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:|Assertion .* failed" "$T/stderr"; then why="sanitizer/assert report"
    elif [ $rc -ge 124 ]; then why="signal or timeout (exit $rc)"
    elif grep -q "top-1 -1" "$T/stdout" "$T/stderr"; then why="printed top-1 -1"
    elif [ -n "$stray" ]; then why="exit $rc and wrote '$stray' into its working folder"
    elif [ $rc -eq 0 ]; then
      if grep -q "^brecq $cmd: " "$T/stderr"; then why="exit 0 after an error line: $(grep -m1 "^brecq $cmd: " "$T/stderr")"
      elif [ "$(untimed "$T/stdout" "$O")" != "$(untimed "$R/stdout" "$R")" ]; then why="exit 0 with different stdout"
      elif ! same_outputs "$name" "$out" "$R" "$O"; then why="exit 0 with a different $out"
      elif [ -n "$(find "$O" -maxdepth 1 -name '*.run')" ]; then why="exit 0 but its run folder was left"
      else same=$((same + 1)); fi
    else
      last=$(tr '\r' '\n' < "$T/stderr" | grep -v '^ *$' | tail -1)
      if [ "${last#brecq $cmd: }" = "$last" ]; then why="exit $rc but the last stderr line is not 'brecq $cmd: ...'"
      elif written=$(written "$out" "$O") && [ -n "$written" ]; then why="exit $rc but$written was written"
      elif [ -n "$(find "$O" -name '*.tmp.*')" ]; then why="temporary left: $(find "$O" -name '*.tmp.*')"
      elif ! why=$(resumes "$name" "$out" "$args" "$R" "$O"); then :
      else clean_err=$((clean_err + 1)); [ -n "$had_run" ] && [ "${ALLOC_RESUME:-1}" != 0 ] && resumed=$((resumed + 1)); fi
    fi
    if [ -n "$why" ]; then
      bad=$((bad + 1))
      [ $bad -le 5 ] && { echo "FAIL alloc_fail $name BQ_FAIL_ALLOC=$N: $why"; grep -m3 -E "brecq|ERROR|runtime error|#[0-4] " "$T/stderr" | sed 's/^/    /'; }
    fi
  done
  printf 'alloc_fail: %-14s K %5d, N tried %4d: %4d clean errors (%d resumed), %3d same result, %3d bad (%d s)\n' \
    "$name" "$K" $tried $clean_err $resumed $same $bad $(( $(date +%s) - t0 ))
  total_n=$((total_n + tried)); total_fail=$((total_fail + bad))
  [ $bad -ne 0 ] && fail=1
done
echo "alloc_fail: $total_n runs, $total_fail bad (seed $SEED, load $(cut -d' ' -f1-3 /proc/loadavg))"
exit $fail
