#!/bin/bash
# Kill anywhere, lose little (docs/reliability.md "Kill and resume"): each long command runs once
# uninterrupted, then again under SIGKILL at seeded random moments, rerun after every kill until it
# finishes; the result must be byte-identical to the uninterrupted run and nothing may be left
# behind (no *.tmp.*, no run folder). Prints the kills per command and per stage they hit.
#
# usage: tests/cli/kill_resume.sh BRECQ KILLS SEED [train] [quantize] [search] [run] [dse]
#   KILLS: kills per command (at least; a finished run before that starts a new round afresh)
set -u
B=${1:?usage: kill_resume.sh BRECQ KILLS SEED [commands]}
KILLS=${2:-20}
SEED=${3:-1}
shift 3
CMDS=("$@")
[ ${#CMDS[@]} -eq 0 ] && CMDS=(train quantize search run dse)
B=$(realpath "$B")
ROOT=$(pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
RANDOM=$SEED
fail=0

# ---- a small IDX data set: the first 512 training and 256 test images of Fashion-MNIST ----
SRC=${BQ_DATA_DIR:-/usr/share/datasets/fashion-mnist}
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
subset() {   # split n
  { be32 0x803; be32 "$2"; be32 28; be32 28; zcat "$SRC/$1-images-idx3-ubyte.gz" | tail -c +17 | head -c $(($2 * 784)); } |
    gzip -1 > "$T/data/$1-images-idx3-ubyte.gz"
  { be32 0x801; be32 "$2"; zcat "$SRC/$1-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$2"; } |
    gzip -1 > "$T/data/$1-labels-idx1-ubyte.gz"
}
mkdir -p "$T/data"
subset train 512 && subset t10k 256 || { echo "FAIL kill_resume: cannot read $SRC"; exit 1; }
D=$T/data
M=$ROOT/configs/models/fres20.bqm
cat > "$T/recipe.yaml" << 'EOF'
method: brecq
loss: fisher
wbits: 2
abits: 4
iters: 12
act_iters: 4
calib: 32
batch: 32
act_init_batch: 32
EOF

# ---- the commands: argv with @W@ for the work folder; the files that make up the result ----
cmd_args() {   # cmd W
  case $1 in
    train) echo train --arch fres20 --epochs 2 --batch 32 --data "$D" --no-val --checkpoint-steps 3 --out "$2/m.bqm" ;;
    quantize) echo quantize --model "$M" --recipe "$T/recipe.yaml" --data "$D" --out "$2/q.bqq" ;;
    search) echo search --model "$M" --hw "$ROOT/configs/hw/edge.yaml" --budget 0.6x --wbits 2,4 --abits 2,4 --images 8 --data "$D" --out "$2/bits.yaml" ;;
    run) flow_yaml "$2"; echo run "$2/flow.yaml" ;;
    dse) dse_yaml "$2"; echo dse "$2/dse.yaml" ;;
  esac
}
# configs/dse/small.yaml (12 configs, 2 invalid, x fres20 x 2 budgets) on the subset: its run
# folder is the resume store (sens/: the sensitivity groups, points/: one file per unit)
dse_yaml() {
  sed -e "s|^out: .*|out: $1/dse|" -e "s|^base: |base: $ROOT/|" -e "s|configs/models/|$ROOT/configs/models/|" \
    "$ROOT/configs/dse/small.yaml" > "$1/dse.yaml"
  echo "data: $D" >> "$1/dse.yaml"
}
flow_yaml() {
  cat > "$1/flow.yaml" << EOF
name: kill-flow
model: $M
hw: $ROOT/configs/hw/edge.yaml
out: $1/flow
data: $D
recipe: $T/recipe.yaml
budgets: [W2A3]
wbits: [2, 4]
abits: [2, 4]
iters: 6
act_iters: 2
calib: 32
sens_images: 8
rtn_images: 100
rtn_pareto: false
export_tests: 1
cosim_images: 0
EOF
}
# the result's files, relative to W: report.md and the JSON files carry wall times, the plots
# are drawn from them; everything else must be the same bytes
result_files() {   # cmd W
  case $1 in
    train) echo m.bqm ;;
    quantize) echo q.bqq ;;
    search) echo bits.yaml ;;
    run) (cd "$2" && find flow -type f ! -name '*.json' ! -name '*.md' ! -name '*.svg' | sort) ;;
    dse) (cd "$2" && find dse -maxdepth 1 -type f ! -name timing.json | sort) ;;   # dse.json, report.md, the plots
  esac
}
# the stage an attempt was in when killed: the last progress line of its stderr
stage_of() {   # cmd errfile
  local last; last=$(tr '\r' '\n' < "$2" | grep -v '^ *$' | tail -1)
  case $1 in
    train) sed -n 's/.*epoch \([0-9]*\)\/.*/epoch \1/p' <<< "$last" | head -1 ;;
    quantize) case $last in
                *"stage A"*|*" A "*) echo "stage A" ;; *"stage B"*|*" B "*) echo "stage B" ;;
                *reconstruct*) echo "reconstruct" ;; *) echo "load" ;; esac ;;
    search) case $last in *Fisher*|*"RTN weights"*|*"activation ranges"*) echo "Fisher" ;;
              *group*) echo "sensitivity groups" ;; *GA*|*exact*) echo "solvers" ;; *) echo "load" ;; esac ;;
    run) case $last in *sensitivity*|*Fisher*) echo "sensitivity" ;; *search*) echo "search" ;;
           *reconstruct*|*BRECQ*|*stage*) echo "reconstruction" ;; *evaluation*|*budget*) echo "eval" ;;
           *export*) echo "export" ;; *RTN*) echo "rtn" ;; *) echo "other" ;; esac ;;
    dse) case $last in *group*) echo "sensitivity groups" ;; *measured*|*unit*) echo "units" ;;
           *Fisher*|*"RTN weights"*|*"activation ranges"*) echo "Fisher" ;; *) echo "load" ;; esac ;;
  esac
}
# the kill window: a fraction 1/window of the uninterrupted wall time
window() { [ "$1" = dse ] && echo 1 || echo 3; }
# dse: did a kill leave a checkpoint (a sensitivity group or a point file) a rerun must resume from?
# (the other commands keep the older rule: some rerun of a round with kills said it resumed)
ckpt() {   # cmd W
  [ "$1" = dse ] && [ -n "$(find "$2/dse/sens" "$2/dse/points" -name '*.cache' -o -name '*.pt' 2> /dev/null)" ] && echo yes
}
# litter: temporaries anywhere, run folders (the flow's own runs/ included)
litter() { find "$1" \( -name '*.tmp.*' -o -name '*.run' -o -path '*/flow/runs' \) -print; }

now_ms() { date +%s%3N; }
for c in "${CMDS[@]}"; do
  R=$T/ref-$c; mkdir -p "$R"
  t0=$(now_ms)
  # shellcheck disable=SC2046
  if ! "$B" $(cmd_args "$c" "$R") > "$R/log" 2>&1; then echo "FAIL $c: uninterrupted run failed:"; tail -3 "$R/log"; fail=1; continue; fi
  dur=$(( $(now_ms) - t0 ))
  declare -A stages=()
  kills=0 rounds=0 attempts=0 bad=0
  while [ $kills -lt "$KILLS" ] && [ $bad -eq 0 ]; do
    rounds=$((rounds + 1))
    W=$T/kill-$c-$rounds; mkdir -p "$W"
    args=$(cmd_args "$c" "$W")
    tries=0 ckpt_seen=0
    while :; do
      tries=$((tries + 1)); attempts=$((attempts + 1))
      # a kill moment uniform in [0, dur/3): a few kills per round, spread over the whole run
      # (each rerun resumes further on); after 40 tries a round finishes uninterrupted
      # (dse: uniform in [0, dur): its first checkpoint comes after the Fisher pass, a third of
      # the run, which a kill in [0, dur/3) would never let a rerun get past)
      ms=$(( (RANDOM * 32768 + RANDOM) % (dur / $(window "$c") + 1) ))
      # shellcheck disable=SC2086
      "$B" $args > "$W/out.$tries" 2> "$W/err.$tries" &
      pid=$!
      if [ $tries -le 40 ] && [ $kills -lt "$KILLS" ]; then
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        if kill -0 $pid 2> /dev/null && kill -KILL $pid 2> /dev/null; then
          wait $pid 2> /dev/null
          kills=$((kills + 1))
          s=$(stage_of "$c" "$W/err.$tries"); s=${s:-load}
          stages[$s]=$(( ${stages[$s]:-0} + 1 ))
          [ "$(ckpt "$c" "$W")" = yes ] && ckpt_seen=1
          continue
        fi
      fi
      wait $pid; rc=$?
      if [ $rc -ne 0 ]; then echo "FAIL $c round $rounds: rerun exited $rc:"; tail -3 "$W/err.$tries"; bad=1; fi
      break
    done
    [ $bad -ne 0 ] && break
    for f in $(result_files "$c" "$R"); do
      cmp -s "$R/$f" "$W/$f" || { echo "FAIL $c round $rounds: $f differs from the uninterrupted run"; bad=1; }
    done
    n_ref=$(result_files "$c" "$R" | wc -l); n_got=$(result_files "$c" "$W" | wc -l)
    [ "$n_ref" -eq "$n_got" ] || { echo "FAIL $c round $rounds: $n_got result files, expected $n_ref"; bad=1; }
    left=$(litter "$W")
    [ -z "$left" ] || { echo "FAIL $c round $rounds: left behind: $left"; bad=1; }
    # (run: before its first step marker the resume is the reconstruction's or the sensitivity
    # cache's own line)
    grep -qE "resuming|candidates from the cache|[1-9][0-9]* finished earlier" "$W"/err.* || [ $tries -eq 1 ] ||
      { [ "$c" = dse ] && [ $ckpt_seen -eq 0 ]; } ||
      { echo "FAIL $c round $rounds: no rerun said it resumed"; bad=1; }
  done
  hits=""; for s in "${!stages[@]}"; do hits="$hits, $s ${stages[$s]}"; done
  printf 'kill_resume: %-8s %3d kills in %d rounds (%d runs), uninterrupted %d ms; kills per stage: %s: %s\n' \
    "$c" $kills $rounds $attempts "$dur" "${hits#, }" "$([ $bad -eq 0 ] && echo same bytes, nothing left || echo FAILED)"
  [ $bad -ne 0 ] && fail=1
  unset stages
done
[ $fail -eq 0 ] && echo "kill_resume: all passed (seed $SEED, load $(cut -d' ' -f1-3 /proc/loadavg))"
exit $fail
