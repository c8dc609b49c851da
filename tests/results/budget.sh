#!/bin/bash
# tests/results/budget.sh — the iteration budget of BRECQ, measured (issue 19, item 4; make budget).
#
# Top-1 on the 10k test set against the reconstruction iterations per unit, for the cells where
# a short schedule is most likely to lose accuracy: fres20 and mbv2t at W2A4 (BRECQ-Fisher), W3A3
# and W2A2 (BRECQ+QDrop), seeds 0-2. A point = one `brecq quantize` with the cell's recipe of
# `make results` (tests/results/results.sh --print-recipe) plus the schedule:
#   BRECQ-Fisher  iters: N, act_iters: N/4       (the reference's 20000 / 5000 ratio)
#   BRECQ+QDrop   qdrop_iters: N                 (its one joint stage)
# for N in $BUDGET_ITERS (500 1000 2000 5000 10000), and the fast schedule: N in $BUDGET_FAST_ITERS
# (2000) with the AdaRound learning rate `lr_round: $BUDGET_FAST_LR` (0.01, 10x the reference's;
# docs/brecq.md "Iteration budget" says why). N = 20000 is the `make results` cell: taken
# from docs/results.json when that seed is there, else run here like the others.
# Points live in $BUDGET_DIR/<model>/<setting>-<method>-it<N>-s<seed>/ and are finished when
# point.json exists with the key of (model file, recipe, ENGINE_VERSION): finished points are never
# recomputed, a killed run resumes from the per-block checkpoints in run/. Cheap points first
# (seed 0 over every N up to 5000, then seeds 1-2, then the long ones), so the curve fills early.
# At the end docs/budget.json, docs/budget.md and docs/budget.svg are (re)written from every
# finished point.
#
#   tests/results/budget.sh [--only-render] [--status] [--stop]
#   env: BRECQ (build/brecq), MODELS_DIR (configs/models), BUDGET_DIR (build/budget),
#        BUDGET_ITERS, BUDGET_SEEDS ("0 1 2"), RESULTS_JOBS (nproc): points at once, each on
#        nproc/RESULTS_JOBS threads (the bytes do not depend on the thread count),
#        BUDGET_POINTS: run only these points, ';'-separated "model setting method iters seed"
#        (iters "5000f" = fast schedule at 5000), e.g. "mbv2t W2A2 qdrop 5000f 0;fres20 W2A4 brecq 2000f 2".
set -u
BRECQ=${BRECQ:-build/brecq}
MODELS_DIR=${MODELS_DIR:-configs/models}
BUDGET_DIR=${BUDGET_DIR:-build/budget}
BUDGET_ITERS=${BUDGET_ITERS:-"500 1000 2000 5000 10000"}
BUDGET_SEEDS=${BUDGET_SEEDS:-"0 1 2"}
BUDGET_FAST_ITERS=${BUDGET_FAST_ITERS:-"2000"}
BUDGET_FAST_LR=${BUDGET_FAST_LR:-0.01}
NCPU=$(nproc 2>/dev/null || echo 1)
RESULTS_JOBS=${RESULTS_JOBS:-$NCPU}
THREADS=$(( NCPU / RESULTS_JOBS )); [ "$THREADS" -ge 1 ] || THREADS=1
HERE=$(dirname "$0")
ENGINE_VERSION=2   # as tests/results/results.sh: bump both when finished cells become stale
MODE=run
case "${1:-}" in
  --only-render) MODE=render ;;
  --status) MODE=status ;;
  --stop) mkdir -p "$BUDGET_DIR" && : > "$BUDGET_DIR/stop" &&
            echo "budget: no new point will start; running ones finish" >&2; exit 0 ;;
  "") ;;
  *) echo "budget.sh: unknown option $1 (--only-render, --status, --stop)" >&2; exit 2 ;;
esac

CELLS=("fres20 W2A4 brecq" "fres20 W3A3 qdrop" "fres20 W2A2 qdrop"
       "mbv2t W2A4 brecq" "mbv2t W3A3 qdrop" "mbv2t W2A2 qdrop")
label_of() { case "$1" in brecq) echo "BRECQ-Fisher" ;; qdrop) echo "BRECQ+QDrop" ;; esac; }
jnum() { grep -o "\"$1\": *[0-9.e+-]*" "$2" 2>/dev/null | head -1 | sed 's/.*: *//'; }

# the 20000-iteration top-1 of (model, setting, label, seed) in docs/results.json, if recorded
results_top1() {
  grep -F "\"model\": \"$1\", \"setting\": \"$2\", \"method\": \"$3\", \"seed\": $4," docs/results.json \
    2>/dev/null | head -1 | grep -o '"top1": *[0-9.]*' | sed 's/.*: *//'
}

# every point in the order it should run: "model setting method iters seed"; iters "2000f" = the
# fast schedule at 2000 iterations (first: it is what the next sessions need to decide)
points() {
  local sd n c short="" long=""
  if [ -n "${BUDGET_POINTS:-}" ]; then echo "$BUDGET_POINTS" | tr ';' '\n' | sed 's/^ *//; /^$/d'; return; fi
  for sd in $BUDGET_SEEDS; do
    for n in $BUDGET_FAST_ITERS; do for c in "${CELLS[@]}"; do echo "$c ${n}f $sd"; done; done
  done
  for n in $BUDGET_ITERS; do if [ "$n" -le 5000 ]; then short="$short $n"; else long="$long $n"; fi; done
  for sd in $BUDGET_SEEDS; do
    for n in $short; do for c in "${CELLS[@]}"; do echo "$c $n $sd"; done; done
  done
  for n in $long 20000; do
    for sd in $BUDGET_SEEDS; do for c in "${CELLS[@]}"; do echo "$c $n $sd"; done; done
  done
}

# A subshell, so the point's lock (fd 9) is released when it returns or the worker dies.
run_point() (   # model setting method iters seed
  local model=$1 setting=$2 method=$3 iters=${4%f} seed=$5 lr=""
  [ "$4" = "$iters" ] || lr=$BUDGET_FAST_LR
  local mfile=$MODELS_DIR/$model.bqm dir=$BUDGET_DIR/$1/$2-$3-it$4-s$5
  local wb=${setting#W}; wb=${wb%%A*}; local ab=${setting##*A}
  if [ "$iters" = 20000 ] && [ -n "$(results_top1 "$model" "$setting" "$(label_of "$method")" "$seed")" ]; then
    return 0   # the make results cell
  fi
  mkdir -p "$dir"
  exec 9> "$dir/lock"
  flock -n 9 || return 0
  { bash "$HERE/results.sh" --print-recipe "$method" "$wb" "$ab" "$seed" "$model"
    if [ "$method" = qdrop ]; then echo "qdrop_iters: $iters"
    else echo "iters: $iters"; echo "act_iters: $((iters / 4))"; fi
    if [ -n "$lr" ]; then echo "lr_round: $lr"; fi; } > "$dir/recipe.yaml.new"
  local key; key=$( (cat "$mfile" "$dir/recipe.yaml.new"; echo "$ENGINE_VERSION") | sha1sum | cut -c1-16)
  if [ -f "$dir/point.json" ] && [ "$(cat "$dir/key" 2>/dev/null)" = "$key" ]; then
    rm -f "$dir/recipe.yaml.new"; return 0
  fi
  [ "$(cat "$dir/key" 2>/dev/null)" = "$key" ] || rm -rf "$dir/run" "$dir/point.json"
  mv "$dir/recipe.yaml.new" "$dir/recipe.yaml"; echo "$key" > "$dir/key"
  echo "budget: $model $setting $(label_of "$method") $iters iterations seed $seed" >&2
  export BQ_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
  if ! "$BRECQ" quantize --model "$mfile" --recipe "$dir/recipe.yaml" --out "$dir/q.bqq" \
        --report "$dir/quant.json" --run-dir "$dir/run" 2> "$dir/quantize.log"; then
    echo "budget: quantize failed, see $dir/quantize.log" >&2; return 1
  fi
  if ! "$BRECQ" eval --model "$mfile" --quant "$dir/q.bqq" --report "$dir/eval.json" \
        --preds "$dir/test.preds" > "$dir/eval.log" 2>&1; then
    echo "budget: eval failed, see $dir/eval.log" >&2; return 1
  fi
  printf '{"model": "%s", "setting": "%s", "method": "%s", "iters": %s, "lr_round": %s, "seed": %s, "top1": %s, "seconds": %s, "peak_rss_mb": %s, "threads": %s, "key": "%s"}\n' \
    "$model" "$setting" "$(label_of "$method")" "$iters" "${lr:-0.001}" "$seed" "$(jnum top1 "$dir/eval.json")" \
    "$(jnum seconds "$dir/quant.json")" "$(jnum peak_rss_mb "$dir/quant.json")" "$THREADS" "$key" > "$dir/point.json.tmp"
  mv "$dir/point.json.tmp" "$dir/point.json"
  rm -rf "$dir/run"   # checkpoints are only for resuming this point
)

# build/ does not outlive a machine: every point docs/budget.json records (with its key) is put
# back as a finished point.json, so a new machine neither recomputes it nor drops it from the docs.
# A point whose recipe, model or engine changed has another key and runs again.
restore_points() {
  local line m st me it lr sd dir
  grep -o '{[^}]*"key": "[0-9a-f]*"[^}]*}' docs/budget.json 2>/dev/null | while read -r line; do
    m=$(echo "$line" | sed 's/.*"model": "\([^"]*\)".*/\1/'); st=$(echo "$line" | sed 's/.*"setting": "\([^"]*\)".*/\1/')
    case "$line" in *'"BRECQ+QDrop"'*) me=qdrop ;; *) me=brecq ;; esac
    it=$(echo "$line" | grep -o '"iters": *[0-9]*' | grep -o '[0-9]*$'); sd=$(echo "$line" | grep -o '"seed": *[0-9]*' | grep -o '[0-9]*$')
    lr=$(echo "$line" | grep -o '"lr_round": *[0-9.e-]*' | sed 's/.*: *//')
    [ -n "$lr" ] && [ "$lr" != 0.001 ] && it="${it}f"
    dir=$BUDGET_DIR/$m/$st-$me-it$it-s$sd
    [ -f "$dir/point.json" ] && continue
    mkdir -p "$dir" && echo "$line" > "$dir/point.json" &&
      echo "$line" | sed 's/.*"key": "\([0-9a-f]*\)".*/\1/' > "$dir/key"
  done
}
restore_points

if [ $MODE = status ]; then
  nd=0; nw=0; nr=0
  while read -r m s me n sd; do
    dir=$BUDGET_DIR/$m/$s-$me-it$n-s$sd
    if [ "$n" = 20000 ] && [ -n "$(results_top1 "$m" "$s" "$(label_of "$me")" "$sd")" ]; then continue; fi
    if [ -f "$dir/point.json" ]; then nd=$((nd + 1)); st="done, top-1 $(jnum top1 "$dir/point.json")"
    elif [ -f "$dir/lock" ] && ! flock -n "$dir/lock" true 2>/dev/null; then
      nr=$((nr + 1)); st="running $(tr '\r' '\n' < "$dir/quantize.log" 2>/dev/null | grep '^\[' | tail -1 | cut -c1-110)"
    else nw=$((nw + 1)); st=waiting; fi
    printf '%-7s %-5s %-6s %6s s%s  %s\n' "$m" "$s" "$me" "$n" "$sd" "$st"
  done < <(points)
  echo "budget: $nd done, $nr running, $nw waiting"
  exit 0
fi

if [ $MODE = run ]; then
  [ -x "$BRECQ" ] || { echo "budget: $BRECQ not built (make)" >&2; exit 1; }
  rm -f "$BUDGET_DIR/stop"
  mkdir -p "$BUDGET_DIR"
  worker() {
    local p
    while read -r p; do
      [ -f "$BUDGET_DIR/stop" ] && break
      run_point $p || echo "budget: point failed: $p" >&2
    done < <(points)
  }
  for ((w = 1; w < RESULTS_JOBS; w++)); do worker & sleep 1; done
  worker
  wait
fi

# ---- render docs/budget.json, docs/budget.md, docs/budget.svg ----
mkdir -p docs
all=$(for f in "$BUDGET_DIR"/*/*/point.json; do [ -f "$f" ] && tr -d '\n' < "$f" && echo; done
      for c in "${CELLS[@]}"; do set -- $c
        for sd in $BUDGET_SEEDS; do t=$(results_top1 "$1" "$2" "$(label_of "$3")" "$sd")
          [ -n "$t" ] && printf '{"model": "%s", "setting": "%s", "method": "%s", "iters": 20000, "seed": %s, "top1": %s, "from": "docs/results.json"}\n' \
            "$1" "$2" "$(label_of "$3")" "$sd" "$t"; done; done)
{ echo "["; echo "$all" | grep . | sort | sed 's/^/  /; $!s/$/,/'; echo "]"; } > docs/budget.json.tmp &&
  mv docs/budget.json.tmp docs/budget.json
# one row per (cell, iters): seed values, mean, its difference to the 20000-iteration mean, and
# whether that difference is within one binomial standard error of the 20000 mean's seed 0
table=$(echo "$all" | grep . | awk '
  function val(k,   r) { if (match($0, "\"" k "\": *\"?[^,\"}]*")) { r = substr($0, RSTART, RLENGTH); sub(/^[^:]*: *"?/, "", r); return r } return "" }
  { c = val("model") " " val("setting") " " val("method"); n = val("iters") ""; t = 100 * val("top1")
    if (val("lr_round") != "" && val("lr_round") + 0 != 0.001) n = n " fast"
    k = c SUBSEP n; s[k] = s[k] sprintf(" s%d %.2f", val("seed"), t); sum[k] += t; cnt[k]++
    sec[k] += val("seconds") + 0; if (!(c in seen)) { seen[c] = 1; order[++nc] = c } ns[c, n] = 1 }
  END {
    split("500|1000|2000|2000 fast|5000|5000 fast|10000|10000 fast|20000", its, "|")
    for (i = 1; i <= nc; i++) {
      c = order[i]; ref = ""; if (cnt[c, 20000]) ref = sum[c, 20000] / cnt[c, 20000]
      se = ref == "" ? 0 : 100 * sqrt((ref / 100) * (1 - ref / 100) / 10000)
      for (j = 1; j <= 9; j++) { n = its[j]; k = c SUBSEP n; if (!cnt[k]) continue
        m = sum[k] / cnt[k]
        d = ref == "" ? "" : sprintf("%+.2f", m - ref)
        ok = ref == "" ? "" : (m >= ref - se ? "yes" : "no")
        tm = (n == "20000" || sec[k] == 0) ? "" : sprintf("%.0f", sec[k] / cnt[k])
        printf "| %s | %s | %s | %.2f (n=%d) | %s | %s | %s |\n", c, n, substr(s[k], 2), m, cnt[k], d, ok, tm } } }')
{
  echo "# Iteration budget: top-1 against reconstruction iterations per unit"
  echo
  echo "Generated by \`make budget\` (tests/results/budget.sh) from \$BUDGET_DIR/*/*/point.json and, for"
  echo "20000 iterations, docs/results.json; do not edit. BRECQ-Fisher runs N stage-A and N/4 stage-B"
  echo "iterations per unit, BRECQ+QDrop N joint iterations; \"fast\" = AdaRound Adam lr_round $BUDGET_FAST_LR"
  echo "instead of 0.001; everything else is the \`make results\`"
  echo "recipe (1024 calibration images, batch 32). Top-1 in % on the 10k test set. \"within 1 SE\":"
  echo "the mean over seeds is at most one binomial standard error (of the 20000-iteration mean)"
  echo "below the 20000-iteration mean. Time: mean wall seconds of \`brecq quantize\` (2-core machine,"
  echo "shared; two points side by side, one thread each)."
  echo
  echo "| model setting method | iters | top-1 per seed | mean | vs 20000 (pt) | within 1 SE | s |"
  echo "|---|---|---|---|---|---|---|"
  echo "$table"
  echo
  echo "![top-1 against iterations](budget.svg)"
} > docs/budget.md.tmp && mv docs/budget.md.tmp docs/budget.md
# the plot: one line per cell, the seed mean at each budget (log x)
if command -v gnuplot > /dev/null && [ -n "$table" ]; then
  tmpd=$(mktemp -d); trap 'rm -rf "$tmpd"' EXIT
  echo "$table" | awk -F'|' '$3 ~ /fast/ { next } { gsub(/^ +| +$/, "", $2); c = $2; gsub(/ /, "_", c); split($5, a, " ")
    print $3, a[1] > ("'"$tmpd"'/" c ".dat") }'
  plots=""; for f in "$tmpd"/*.dat; do sort -n "$f" -o "$f"
    plots="$plots${plots:+, }'$f' using 1:2 with linespoints title '$(basename "$f" .dat | tr _ ' ')'"; done
  gnuplot -e "set terminal svg size 900,560; set output '$tmpd/b.svg'; set logscale x;
    set xlabel 'iterations per unit (stage A / QDrop joint)'; set ylabel 'top-1 % (mean over seeds)';
    set key outside right; set grid; plot $plots" && mv "$tmpd/b.svg" docs/budget.svg
fi
echo "budget: docs/budget.md, docs/budget.json$( [ -f docs/budget.svg ] && echo ', docs/budget.svg')" >&2
