#!/bin/bash
# tests/results/results.sh — the accuracy table of docs/results.md (make results; see tests/results/results.mk).
#
# Every cell = one `brecq quantize` (recipe generated from the method and the setting) + one
# `brecq eval --quant` on the 10k test set. A cell lives in build/results/<model>/<cell>/ and is
# finished when cell.json exists and its key (hash of the model file, the recipe text and
# ENGINE_VERSION below) matches: finished cells are never recomputed, a killed run resumes (unfinished
# reconstructions resume from their per-block checkpoints in run/). At the end docs/results.json
# and docs/results.md are (re)written from every finished cell. A cell made by an older
# ENGINE_VERSION is recomputed after all others; until its new result is recorded, the old one
# (moved to the cell's prev/) stays in the tables, marked.
#
#   tests/results/results.sh [--only-render] [--status] [--cells FILTER] [--stop]
#                            [--print-recipe METHOD WBITS ABITS SEED MODEL]
#   --stop:   ask a running `make results` to start no new cell (the running ones finish, are
#             evaluated and recorded; the run then renders the docs and exits). It writes
#             $RESULTS_DIR/stop, which the next `make results` removes. For freeing the machine
#             (a benchmark, a CI run) without losing a half-finished block.
#   --status: one line per cell of the list (done / running + its last progress line / stale /
#             waiting), the counts and an estimate of the hours of work left; reads only, safe while
#             a run is going.
#   env: BRECQ (binary, build/brecq), MODELS_DIR (configs/models), SEEDS_SPREAD ("1 2": extra
#        seeds for the cells marked as seed-sensitive), RESULTS_DIR (build/results),
#        RESULTS_JOBS (nproc): cells run at once, each on nproc/RESULTS_JOBS threads. A cell is claimed
#        with flock on its directory's lock file, so workers (or two `make results`) never share
#        one. On the 2-core machine two one-thread cells finish more cells per hour than one
#        two-thread cell: 1.39x by bench_recon's estimates (2217 and 2261 s each vs 1551 s), 1.23x
#        by real runs (fres20 BRECQ 2065 s per cell side by side vs 1271 s alone on both cores); the
#        bytes do not depend on the thread count, the wall time of a cell does (cell.json records
#        "threads" and "jobs"). RESULTS_THREADS overrides the threads per cell.
set -u
BRECQ=${BRECQ:-build/brecq}
MODELS_DIR=${MODELS_DIR:-configs/models}
RESULTS_DIR=${RESULTS_DIR:-build/results}
SEEDS_SPREAD=${SEEDS_SPREAD:-"1 2"}
NCPU=$(nproc 2>/dev/null || echo 1)
RESULTS_JOBS=${RESULTS_JOBS:-$NCPU}
CELL_THREADS=${RESULTS_THREADS:-$(( NCPU / RESULTS_JOBS ))}; [ "$CELL_THREADS" -ge 1 ] || CELL_THREADS=1
ONLY_RENDER=0
STATUS=0
FILTER=""
PRINT_RECIPE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only-render) ONLY_RENDER=1 ;;
    --status) STATUS=1 ;;
    --cells) FILTER="$2"; shift ;;
    --print-recipe)   # method wbits abits seed model: the recipe a cell runs (tests/results/budget.sh uses it)
      PRINT_RECIPE="$2 $3 $4 $5 $6"; shift 5 ;;
    --stop) mkdir -p "$RESULTS_DIR" && : > "$RESULTS_DIR/stop" &&
              echo "results: no new cell will start; running cells finish (make results-status)" >&2
            exit 0 ;;
    *) echo "results.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# method key -> recipe lines (everything else: reference defaults)
recipe_of() {   # method wbits abits seed
  case "$1" in
    rtn)          printf 'method: rtn\n' ;;
    brecq)        printf 'method: brecq\nloss: fisher\nfisher_norm: normalized\n' ;;
    brecq_ref)    printf 'method: brecq\nloss: fisher\nfisher_norm: abs_plus_one\n' ;;
    brecq_mse)    printf 'method: brecq\nloss: mse\n' ;;
    adaround)     printf 'method: adaround\nloss: mse\n' ;;
    qdrop)        printf 'method: brecq_qdrop\nloss: fisher\n' ;;
  esac
  printf 'wbits: %s\nabits: %s\nseed: %s\n' "$2" "$3" "$4"
  if [ "$5" = mbv2t ] && [ "$1" != rtn ]; then printf 'weight_lambda: 0.1\n'; fi   # method notes
}
if [ -n "$PRINT_RECIPE" ]; then recipe_of $PRINT_RECIPE; exit 0; fi
# Labels go into markdown tables: no '|' (BRECQ-Fisher-ref = the reference's (|g|+1)^2 weighting;
# cells finished before 2026-11-27 22:30 carry the old label "BRECQ-Fisher-ref(|g|+1)", mapped by
# relabel below).
label_of() {
  case "$1" in
    rtn) echo "RTN" ;; brecq) echo "BRECQ-Fisher" ;; brecq_ref) echo "BRECQ-Fisher-ref" ;;
    brecq_mse) echo "BRECQ-MSE" ;; adaround) echo "AdaRound-layer" ;; qdrop) echo "BRECQ+QDrop" ;;
  esac
}

# The cells: model setting method [spread]. Cheap ones first, so the table fills early.
CELLS=()
for s in W4A32 W2A32 W4A4 W3A3 W2A4 W2A2; do CELLS+=("fres20 $s rtn"); done
for s in W4A4 W2A4 W2A2; do CELLS+=("mbv2t $s rtn"); done
# the cells with a target of issue 4 first (W2A2 with QDrop is the most fragile one)
for s in W4A4 W2A4 W3A3 W2A32; do CELLS+=("fres20 $s brecq"); done
CELLS+=("fres20 W2A2 qdrop" "fres20 W4A32 brecq")
for s in W3A3 W2A4 W4A4 W4A32 W2A32; do CELLS+=("fres20 $s qdrop"); done
CELLS+=("fres20 W2A2 brecq")
# the second model before the ablations: its first full-length runs, so surprises show early
for s in W4A4 W2A4 W2A2; do CELLS+=("mbv2t $s brecq" "mbv2t $s qdrop"); done
for s in W2A4 W3A3; do CELLS+=("fres20 $s brecq_mse" "fres20 $s adaround"); done
CELLS+=("fres20 W2A4 brecq_ref")
# run-to-run spread (extra seeds) where differences are small or the setting is fragile; the cell
# closest to its target (W3A3 QDrop, 0.07 pt inside) first
CELLS+=("fres20 W3A3 qdrop spread-only" "fres20 W2A4 brecq spread-only" "fres20 W2A2 qdrop spread-only"
       "fres20 W4A4 brecq spread-only")

hash_of() { cat "$@" 2>/dev/null | sha1sum | cut -c1-16; }
# the first number under key $1 in the one-line JSON file $2 (empty when missing)
jnum() { grep -o "\"$1\": *[0-9.e+-]*" "$2" 2>/dev/null | head -1 | sed 's/.*: *//'; }
# is cell.json $1 the result of an older engine (cells written before the field are engine 1)
older_engine() { local e; e=$(jnum engine "$1"); [ "${e:-1}" -lt "$ENGINE_VERSION" ]; }
# the seeds of a cell entry's 4th field: none -> 0; spread-only -> $SEEDS_SPREAD; else both
seeds_of() {
  case "${1:-}" in "") echo 0 ;; spread-only) echo "$SEEDS_SPREAD" ;; *) echo "0 $SEEDS_SPREAD" ;; esac
}
# Bump when a change of the engine invalidates finished cells (the binary itself is rebuilt too
# often in a shared tree to be part of the key). A cell finished by an older engine stays in the
# table, marked, until every cell of this engine is done; then it is recomputed (second pass).
#   1: until 2026-11-27; conv dW summed per thread, so the bytes depended on the thread count
#   2: conv dW summed per fixed block of images: the same bytes for any thread count
ENGINE_VERSION=2

# A subshell, so that the cell's lock (fd 9) is released when it returns or the worker dies.
run_cell() (   # model setting method seed pass
  local model=$1 setting=$2 method=$3 seed=$4 pass=$5
  local mfile=$MODELS_DIR/$model.bqm
  local wb=${setting#W}; wb=${wb%%A*}; local ab=${setting##*A}
  local dir=$RESULTS_DIR/$model/$setting-$method-s$seed
  [ -f "$mfile" ] || { echo "results: $mfile missing; skipping $model $setting $method" >&2; return 0; }
  mkdir -p "$dir"
  exec 9> "$dir/lock"
  flock -n 9 || return 0   # another worker runs this cell
  export BQ_NUM_THREADS=$CELL_THREADS OPENBLAS_NUM_THREADS=$CELL_THREADS
  recipe_of "$method" "$wb" "$ab" "$seed" "$model" > "$dir/recipe.yaml.new"
  local key; key=$( (cat "$mfile" "$dir/recipe.yaml.new"; echo "$ENGINE_VERSION") | sha1sum | cut -c1-16)
  # done; or done by an older engine and dear (not RTN, seconds): recomputed in pass 2
  if [ -f "$dir/cell.json" ] && { [ "$(cat "$dir/key" 2>/dev/null)" = "$key" ] ||
                                  { [ "$pass" = 1 ] && [ "$method" != rtn ]; }; }; then
    rm -f "$dir/recipe.yaml.new"; return 0
  fi
  if [ "$(cat "$dir/key" 2>/dev/null)" != "$key" ]; then
    rm -rf "$dir/run" "$dir/prev"
    # the result of an older engine stays in the tables (marked) until the new one is recorded
    if [ -f "$dir/cell.json" ] && [ "$(jnum engine "$dir/cell.json")" != "$ENGINE_VERSION" ]; then
      mkdir -p "$dir/prev" && mv "$dir/cell.json" "$dir/prev/" &&
        for f in test.preds quant.json; do [ -f "$dir/$f" ] && mv "$dir/$f" "$dir/prev/"; done
    fi
    rm -f "$dir/cell.json" "$dir/test.preds"
  fi
  mv "$dir/recipe.yaml.new" "$dir/recipe.yaml"
  echo "$key" > "$dir/key"
  echo "results: $model $setting $(label_of "$method") seed $seed" >&2
  if ! "$BRECQ" quantize --model "$mfile" --recipe "$dir/recipe.yaml" --out "$dir/q.bqq" \
        --report "$dir/quant.json" --run-dir "$dir/run" 2> "$dir/quantize.log"; then
    echo "results: quantize failed, see $dir/quantize.log" >&2; tail -3 "$dir/quantize.log" >&2; return 1
  fi
  if ! "$BRECQ" eval --model "$mfile" --quant "$dir/q.bqq" --report "$dir/eval.json" \
        --preds "$dir/test.preds" > "$dir/eval.log" 2>&1; then
    echo "results: eval failed, see $dir/eval.log" >&2; return 1
  fi
  local top1 secs rss
  top1=$(jnum top1 "$dir/eval.json"); secs=$(jnum seconds "$dir/quant.json"); rss=$(jnum peak_rss_mb "$dir/quant.json")
  printf '{"model": "%s", "setting": "%s", "method": "%s", "seed": %s, "top1": %s, "seconds": %s, "peak_rss_mb": %s, "threads": %s, "jobs": %s, "engine": %s}\n' \
    "$model" "$setting" "$(label_of "$method")" "$seed" "$top1" "$secs" "$rss" "$CELL_THREADS" "$RESULTS_JOBS" "$ENGINE_VERSION" > "$dir/cell.json.tmp"
  mv "$dir/cell.json.tmp" "$dir/cell.json"
  rm -rf "$dir/prev"
)

fp_top1() {   # model -> FP top-1 (cached)
  local mfile=$MODELS_DIR/$1.bqm f=$RESULTS_DIR/$1/fp.json
  [ -f "$mfile" ] || return 0
  mkdir -p "$RESULTS_DIR/$1"
  local key; key=$(hash_of "$mfile")
  if [ ! -f "$f" ] || [ ! -f "${f%.json}.preds" ] || [ "$(cat "$f.key" 2>/dev/null)" != "$key" ]; then
    "$BRECQ" eval --model "$mfile" --report "$f" --preds "${f%.json}.preds" > /dev/null 2>&1 &&
      echo "$key" > "$f.key"
  fi
}

if [ $STATUS = 1 ]; then
  nd=0; nr=0; ns=0; nw=0
  # for the estimate of the work left: seconds of finished cells per "model method", the cells
  # still to run (waiting and stale) and the ETA each running cell prints
  secs_done=""; todo=""; eta_running=0; nl=$'\n'
  for c in "${CELLS[@]}"; do
    set -- $c
    for sd in $(seeds_of "${4:-}"); do
      dir=$RESULTS_DIR/$1/$2-$3-s$sd
      if [ -f "$dir/lock" ] && ! flock -n "$dir/lock" true 2>/dev/null; then
        nr=$((nr + 1))
        last=$(tr '\r' '\n' < "$dir/quantize.log" 2>/dev/null | grep '^\[' | tail -1 | cut -c1-150)
        printf '%-7s %-6s %-10s s%s  running %s\n' "$1" "$2" "$3" "$sd" "${last#\[reconstruct\] }"
        e=$(echo "$last" | grep -o 'ETA [0-9]*s' | grep -o '[0-9]*'); eta_running=$((eta_running + ${e:-0}))
      elif [ -f "$dir/cell.json" ]; then
        top=$(jnum top1 "$dir/cell.json"); eng=$(jnum engine "$dir/cell.json"); sec=$(jnum seconds "$dir/cell.json")
        secs_done="$secs_done$1 $3 ${sec:-0}$nl"
        if older_engine "$dir/cell.json" && [ "$3" != rtn ]; then
          ns=$((ns + 1)); st="stale (engine ${eng:-1}, redone last)"; todo="$todo$1 $3$nl"
        else nd=$((nd + 1)); st=done; fi
        printf '%-7s %-6s %-10s s%s  %s, top-1 %s\n' "$1" "$2" "$3" "$sd" "$st" "$top"
      else
        nw=$((nw + 1)); todo="$todo$1 $3$nl"
        printf '%-7s %-6s %-10s s%s  waiting\n' "$1" "$2" "$3" "$sd"
      fi
    done
  done
  echo "results: $nd done, $nr running, $ns stale, $nw waiting (engine $ENGINE_VERSION)"
  [ -f "$RESULTS_DIR/stop" ] && echo "results: stop requested (tests/results/results.sh --stop): no new cell starts until the next make results"
  # Work left, in hours at RESULTS_JOBS cells side by side: each cell still to run is costed at the
  # median time of the finished cells of the same model and method, else of the same method, else
  # of every finished cell of a method other than RTN; running cells add their own ETA.
  if [ $((nr + ns + nw)) -gt 0 ]; then
    printf '%s\n--\n%s' "$secs_done" "$todo" | awk -v jobs="$RESULTS_JOBS" -v run="$eta_running" '
      function median(list,   a, n, i, j, t) {
        n = split(list, a, " "); if (n == 0) return -1
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      $0 == "--" { part = 2; next }
      NF == 0 { next }
      part != 2 { mm[$1 " " $2] = mm[$1 " " $2] " " $3; me[$2] = me[$2] " " $3
                  if ($2 != "rtn") all = all " " $3; next }
      { m = median(mm[$1 " " $2]); if (m < 0) m = median(me[$2]); if (m < 0) m = median(all)
        if (m < 0) unknown++; else left += m }
      END { if (jobs < 1) jobs = 1
            printf "results: about %.1f h of work left at %d cell(s) side by side", (left + run) / jobs / 3600, jobs
            if (unknown) printf " (+%d cell(s) with no finished cell to cost them by)", unknown
            printf "\n" }'
  fi
  exit 0
fi

if [ $ONLY_RENDER = 0 ]; then
  # a private copy of the binary: the shared build/brecq may be relinked while this runs for hours
  mkdir -p "$RESULTS_DIR/bin"
  priv=$RESULTS_DIR/bin/brecq-e$ENGINE_VERSION   # per engine: a running older job keeps its own
  cp "$BRECQ" "$priv.tmp.$$" && mv "$priv.tmp.$$" "$priv"
  BRECQ=$priv
  rm -f "$RESULTS_DIR/stop"
  fp_top1 fres20; fp_top1 mbv2t
  worker() {   # walk the cell list twice (2: cells of older engines); claimed cells are skipped
    for pass in 1 2; do
      for c in "${CELLS[@]}"; do
        set -- $c
        [ -n "$FILTER" ] && ! echo "$c" | grep -q -- "$FILTER" && continue
        for sd in $(seeds_of "${4:-}"); do
          [ -f "$RESULTS_DIR/stop" ] && return 0   # tests/results/results.sh --stop
          run_cell "$1" "$2" "$3" "$sd" $pass
        done
      done
    done
  }
  for ((w = 1; w < RESULTS_JOBS; w++)); do worker & sleep 1; done
  worker
  wait
fi

# ---- render docs/results.json and docs/results.md from every finished cell ----
mkdir -p docs
relabel() { sed 's/"BRECQ-Fisher-ref(|g|+1)"/"BRECQ-Fisher-ref"/'; }
# where cell directory $1 keeps the result the tables show: itself, or while a cell of an older
# engine is being recomputed, its previous result in prev/
result_dir() { if [ ! -f "$1/cell.json" ] && [ -f "$1/prev/cell.json" ]; then echo "$1/prev"; else echo "$1"; fi; }
# the result file of every cell directory under $1
cell_files() {
  local d r
  for d in "$1"/*/; do r=$(result_dir "${d%/}"); [ -f "$r/cell.json" ] && echo "$r/cell.json"; done
}
cells=$(for md in "$RESULTS_DIR"/*/; do cell_files "${md%/}"; done | sort)
{
  echo "["
  first=1
  for f in $cells; do
    [ $first = 1 ] || echo ","
    first=0
    line=$(tr -d '\n' < "$f" | relabel)
    case "$line" in *'"engine"'*) ;; *) line="${line%\}}, \"engine\": 1}" ;; esac   # before the field
    printf '  %s' "$line"
  done
  echo ""
  echo "]"
} > docs/results.json.tmp && mv docs/results.json.tmp docs/results.json
# the tables explain the † mark only while a cell of an older engine is shown
any_old=0
for f in $cells; do older_engine "$f" && any_old=1; done

# ---- paired comparisons: McNemar's test on the per-image predictions of two seed-0 cells ----
# Two methods' top-1 on the same 10k images can differ by less than one binomial standard error and
# still differ for real (or by more and not): the paired test counts only the images on which
# exactly one of the two is right (brecq compare, sw/search/mcnemar.h). Cells finished before
# `brecq eval --preds` existed get their predictions now, from their q.bqq.
for f in $cells; do
  d=$(dirname "$f"); m=$(basename "$(dirname "$d")")
  if [ ! -f "$d/test.preds" ] && [ -f "$d/q.bqq" ]; then
    BQ_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BRECQ" eval --model "$MODELS_DIR/$m.bqm" --quant "$d/q.bqq" \
      --preds "$d/test.preds" > /dev/null 2>&1 || echo "results: could not write $d/test.preds" >&2
  fi
done
# A:B = "does A beat B": each pair isolates one ingredient of the method
PAIRS="brecq:rtn qdrop:brecq brecq:brecq_mse brecq_mse:adaround brecq:brecq_ref"
paired_json=""; paired_md=""
for model in fres20 mbv2t; do
  for setting in W4A32 W2A32 W4A4 W3A3 W2A4 W2A2; do
    for pr in $PAIRS; do
      a=${pr%%:*}; b=${pr##*:}
      da=$RESULTS_DIR/$model/$setting-$a-s0; db=$RESULTS_DIR/$model/$setting-$b-s0
      da=$(result_dir "$da"); db=$(result_dir "$db")
      [ -f "$da/cell.json" ] && [ -f "$db/cell.json" ] && [ -f "$da/test.preds" ] && [ -f "$db/test.preds" ] || continue
      cmp=$RESULTS_DIR/$model/compare.json
      if ! "$BRECQ" compare --a "$da/test.preds" --b "$db/test.preds" --report "$cmp" > /dev/null 2>&1; then
        echo "results: brecq compare failed on $da and $db" >&2; continue
      fi
      n=$(jnum images "$cmp"); ca=$(jnum a_correct "$cmp"); cb=$(jnum b_correct "$cmp")
      oa=$(jnum only_a "$cmp"); ob=$(jnum only_b "$cmp"); pv=$(jnum p_value "$cmp"); rm -f "$cmp"
      old=""; for d in "$da" "$db"; do older_engine "$d/cell.json" && old=" †"; done
      [ -n "$paired_json" ] && paired_json="$paired_json,"$'\n'
      paired_json="$paired_json  {\"model\": \"$model\", \"setting\": \"$setting\", \"a\": \"$(label_of "$a")\", \"b\": \"$(label_of "$b")\", \"images\": $n, \"a_correct\": $ca, \"b_correct\": $cb, \"only_a\": $oa, \"only_b\": $ob, \"p_value\": $pv}"
      paired_md="$paired_md$(awk -v m="$model" -v s="$setting" -v a="$(label_of "$a")" -v b="$(label_of "$b")" \
        -v n="$n" -v ca="$ca" -v cb="$cb" -v oa="$oa" -v ob="$ob" -v p="$pv" -v old="$old" 'BEGIN {
          ps = p < 1e-300 ? "< 1e-300" : sprintf("%.2g", p)   # erfc underflows: p is 0 in double
          printf "| %s | %s | %s vs %s%s | %+.2f | %d / %d | %s%s%s |\n", m, s, a, b, old,
                 100 * (ca - cb) / n, oa, ob, p < 0.05 ? "**" : "", ps, p < 0.05 ? "**" : "" }')"$'\n'
    done
  done
done
printf '[\n%s\n]\n' "$paired_json" > docs/results_paired.json.tmp && mv docs/results_paired.json.tmp docs/results_paired.json

{
  echo "# Results: top-1 on the 10k Fashion-MNIST test set"
  echo
  echo "Generated by \`make results\` (tests/results/results.sh) from \$RESULTS_DIR/*/*/cell.json; do not edit."
  echo "Cells not shown have not finished yet (the full table takes hours; the run resumes)."
  echo "Calibration: 1024 training images (calib_seed 0), never test data; first and last layer 8-bit;"
  echo "reference defaults otherwise (20000 stage-A / 5000 stage-B iterations per block, batch 32,"
  echo "QDrop 20000 joint iterations). Each cell: top-1 % of seed 0 ± its binomial standard error"
  echo "(sqrt(p(1-p)/10000)); where extra seeds ran, [min–max over seeds, their mean (its difference to FP),"
  echo "sample standard deviation, n]. Time = wall seconds of"
  echo "\`brecq quantize\` on the machine that ran it (2 cores, shared; a cell resumed after a kill counts the"
  echo "time of every run up to its last checkpoint), peak RSS in MB. Cells marked \"1 thr\" ran on one thread"
  echo "beside another cell (one cell per core, the default: ~1.2x more cells per hour, ~1.6x the wall time of a cell that has"
  echo "both cores; since engine 2 the output bytes do not depend on the thread count); the others ran on"
  echo "both cores. A cell's time includes whatever else ran on the machine then (benchmarks, test runs)."
  echo
  for model in fres20 mbv2t; do
    fpj=$RESULTS_DIR/$model/fp.json
    fp=$(jnum top1 "$fpj")
    if [ -n "$fp" ]; then fps=$(awk -v p="$fp" 'BEGIN { printf "%.2f %%", p * 100 }'); else fps="not measured"; fi
    echo "## $model (FP top-1: $fps)"
    echo
    # a cell resumed after a kill, by a binary that did not yet carry the earlier processes' peak
    # RSS over (quant.json without "peak_rss_complete": true), knows only its last process's
    for f in $(cell_files "$RESULTS_DIR/$model"); do
      q=$(dirname "$f")/quant.json; line=$(tr -d '\n' < "$f" | relabel); prior=$(jnum seconds_prior_runs "$q")
      if [ -n "$prior" ] && [ "$prior" != 0.000 ] && ! grep -q '"peak_rss_complete": *true' "$q"; then
        line="${line%\}}, \"rss_partial\": 1}"; fi
      echo "$line"
    done | awk -v fp="${fp:-0}" -v ev="$ENGINE_VERSION" '
      function val(k,   r) { if (match($0, "\"" k "\": *\"?[^,\"}]*")) { r = substr($0, RSTART, RLENGTH); sub(/^[^:]*: *"?/, "", r); return r } return "" }
      {
        s = val("setting"); m = val("method"); sd = val("seed"); t = val("top1") + 0
        key = s SUBSEP m
        if (!(s in sset)) { sset[s] = 1; sorder[++ns] = s }
        if (!(m in mset)) { mset[m] = 1; morder[++nm] = m }
        n[key]++; if (n[key] == 1 || t < mn[key]) mn[key] = t; if (n[key] == 1 || t > mx[key]) mx[key] = t
        sum[key] += t; sum2[key] += t * t
        if (sd == 0) { top[key] = t; secs[key] = val("seconds"); rss[key] = val("peak_rss_mb"); rp[key] = val("rss_partial"); thr[key] = val("threads"); eng[key] = val("engine") + 0 }
      }
      END {
        split("W4A32 W2A32 W4A4 W3A3 W2A4 W2A2", want, " ")
        split("RTN|BRECQ-Fisher|BRECQ+QDrop|AdaRound-layer|BRECQ-MSE|BRECQ-Fisher-ref", mw, "|")
        line = "| setting |"; sep = "|---|"
        for (j = 1; j <= 6; j++) if (mw[j] in mset) { line = line " " mw[j] " |"; sep = sep "---|" }
        print line; print sep
        for (i = 1; i <= 6; i++) {
          s = want[i]; if (!(s in sset)) continue
          line = "| " s " |"
          for (j = 1; j <= 6; j++) {
            m = mw[j]; if (!(m in mset)) continue
            key = s SUBSEP m
            if (!(key in top)) { line = line " |"; continue }
            p = top[key]; se = sqrt(p * (1 - p) / 10000) * 100
            cell = sprintf("%.2f ± %.2f%s", p * 100, se, (eng[key] < ev) ? " †" : "")
            if (fp > 0) cell = cell sprintf(" (%+.2f)", (p - fp) * 100)
            if (n[key] > 1) {   # seeds: range, mean (its drop from FP), sample standard deviation
              mu = sum[key] / n[key]; var = (sum2[key] - n[key] * mu * mu) / (n[key] - 1)
              cell = cell sprintf(" [%.2f–%.2f, mean %.2f", mn[key] * 100, mx[key] * 100, mu * 100)
              if (fp > 0) cell = cell sprintf(" (%+.2f)", (mu - fp) * 100)
              cell = cell sprintf(", sd %.2f, n=%d]", (var > 0 ? sqrt(var) : 0) * 100, n[key])
            }
            cell = cell sprintf("<br>%.0f s%s, %.0f MB%s", secs[key], thr[key] == "1" ? " (1 thr)" : "", rss[key], rp[key] == "1" ? " ‡" : "")
            line = line " " cell " |"
          }
          print line
        }
      }'
    echo
  done
  echo "Numbers in parentheses: difference to FP in percentage points."
  if [ $any_old = 1 ]; then
    echo "† = made by an earlier engine (1: convolution dW summed per thread, so its bytes depended on"
    echo "the thread count; the current engine sums per fixed block of images). Such a cell is recomputed"
    echo "after all others; the change is in float rounding of the gradient only."
  fi
  echo "‡ = resumed after a kill by a binary that did not yet record the killed processes' memory: the"
  echo "peak RSS of the last process only, a lower bound (since 2026-11-27 run/elapsed_s carries the"
  echo "largest peak RSS over, and quant.json says \"peak_rss_complete\"); docs/brecq.md has these cells'"
  echo "peaks measured again."
  if [ -n "$paired_md" ]; then
    echo
    echo "## Paired comparisons (McNemar's test, seed 0)"
    echo
    echo "Which differences between two methods on the same setting are real: McNemar's test on the"
    echo "per-image predictions of the two cells (\`brecq compare\`, sw/search/mcnemar.h; exact binomial when fewer"
    echo "than 25 images are discordant). \"A only / B only\" = test images only A / only B classifies"
    echo "correctly; p = two-sided p-value, **bold** below 0.05. Each row isolates one ingredient: RTN ->"
    echo "BRECQ-Fisher (reconstruction), BRECQ-Fisher -> BRECQ+QDrop (the joint stage with dropped"
    echo "activation quantization), BRECQ-MSE -> BRECQ-Fisher (the Fisher weighting), AdaRound-layer ->"
    echo "BRECQ-MSE (block instead of layer), BRECQ-Fisher-ref (the reference's (|g|+1)^2 weights) -> the"
    echo "normalized Fisher weights of docs/brecq.md. Machine-readable:"
    if [ $any_old = 1 ]; then echo "docs/results_paired.json. † = a cell of an earlier engine."
    else echo "docs/results_paired.json."; fi
    echo
    echo "| model | setting | A vs B | A − B (pt) | A only / B only | p |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$paired_md"
  fi
} > docs/results.md.tmp && mv docs/results.md.tmp docs/results.md
echo "results: wrote docs/results.json ($(echo $cells | wc -w) cells), docs/results_paired.json and docs/results.md" >&2
