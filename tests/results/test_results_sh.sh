#!/bin/bash
# tests/results/test_results_sh.sh — the bookkeeping of tests/results/results.sh (make results) with a stand-in
# for brecq that answers in milliseconds: every cell runs exactly once with two workers, finished
# cells are kept, a killed cell is redone, cells of an older engine stay in the table (marked)
# until every current cell is done and are then recomputed; RTN cells are recomputed at once.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "test-results-sh: FAIL: $*" >&2; exit 1; }

mkdir -p "$T/models" "$T/docs"
touch "$T/models/fres20.bqm" "$T/models/mbv2t.bqm"
cat > "$T/fake" <<'FAKE'
#!/bin/bash
# stand-in brecq: quantize logs its cell and thread count, eval reports a top-1 (and logs the
# predictions it writes), compare reports a fixed McNemar result
cmd=$1; shift
while [ $# -gt 0 ]; do case $1 in --report) rep=$2; shift ;; --out) out=$2; shift ;;
                                  --recipe) rec=$2; shift ;; --preds) preds=$2; shift ;;
                                  --quant) qf=$2; shift ;; esac; shift; done
if [ "$cmd" = quantize ]; then
  echo "$(dirname "$rec") $BQ_NUM_THREADS" >> "$CALLS"
  [ "$(dirname "$rec")" = "${FAIL_CELL:-}" ] && exit 1   # as a run killed before its end
  [ -n "${STOP_FILE:-}" ] && : > "$STOP_FILE"   # as `tests/results/results.sh --stop` during this cell
  sleep 0.05
  echo '{"seconds": 1.5, "peak_rss_mb": 10}' > "$rep"; : > "$out"
elif [ "$cmd" = compare ]; then
  echo '{"images": 10000, "a_correct": 9300, "b_correct": 9200, "only_a": 150, "only_b": 50, "p_value": 1e-12}' > "$rep"
else
  # seed k of a cell scores 0.90 + k/1000 (the FP model 0.9)
  case "${qf:-}" in *-s1/*) t=0.901 ;; *-s2/*) t=0.902 ;; *) t=0.9 ;; esac
  [ -n "${rep:-}" ] && echo "{\"top1\": $t}" > "$rep"
  if [ -n "${preds:-}" ]; then : > "$preds"; echo "$preds" >> "$CALLS.preds"; fi
fi
FAKE
chmod +x "$T/fake"
cd "$T"
run() { CALLS=$T/calls BRECQ=$T/fake MODELS_DIR=models RESULTS_DIR=res bash "$@" > "$T/log" 2>&1 ||
          fail "results.sh exited non-zero: $(tail -2 "$T/log")"; }
export CALLS=$T/calls

# 1. two workers: every cell once, one thread each
cp "$ROOT/tests/results/results.sh" r.sh
RESULTS_JOBS=2 run r.sh
n=$(ls res/*/*/cell.json | wc -l)
[ "$n" -ge 30 ] || fail "only $n cells finished"
[ "$(wc -l < calls)" -eq "$n" ] || fail "$(wc -l < calls) quantize calls for $n cells"
[ "$(cut -d' ' -f1 calls | sort | uniq -d | wc -l)" -eq 0 ] || fail "a cell ran twice"
[ "$(cut -d' ' -f2 calls | sort -u)" = 1 ] || fail "cells did not run on one thread each"
grep -q '"engine"' docs/results.json || fail "results.json without engine field"
RESULTS_JOBS=2 CALLS=$T/calls BRECQ=$T/fake MODELS_DIR=models RESULTS_DIR=res bash r.sh --status > status.txt
tail -1 status.txt | grep -q "^results: $n done, 0 running, 0 stale, 0 waiting" ||
  fail "status: $(tail -1 status.txt)"

# a cell with extra seeds: seed 0's top-1, then the seeds' range, mean (vs FP), sd and count
grep '^| W3A3 ' docs/results.md | head -1 | grep -q ' 90.00 ± 0.30 (+0.00) \[90.00–90.20, mean 90.10 (+0.10), sd 0.10, n=3\]<br>' ||
  fail "seed spread: $(grep '^| W3A3 ' docs/results.md | head -1)"

# the paired comparisons: every pair of seed-0 cells of the list (fres20: RTN and QDrop vs
# BRECQ-Fisher at 6 settings, the ablation pairs at 2, Fisher-ref at 1; mbv2t: 3 + 3), rendered
grep -q '^| fres20 | W4A4 | BRECQ-Fisher vs RTN | +1.00 | 150 / 50 | \*\*1e-12\*\* |$' docs/results.md ||
  fail "paired row: $(grep '^| fres20 | W4A4' docs/results.md)"
np=$(grep -c '"p_value"' docs/results_paired.json)
[ "$np" -eq 23 ] || fail "$np paired comparisons in results_paired.json, want 23"
[ "$(grep -c '^| mbv2t | W2A2 | ' docs/results.md)" -eq 2 ] || fail "mbv2t W2A2 pairs missing"
# every markdown table keeps its shape (a '|' inside a label would split a cell), and every method
# of the list has its column
awk '/^\|/ { n = gsub(/\|/, "|"); if (intable && n != want) { print "row " NR " has " n " bars, header " want; bad = 1 }
              if (!intable) want = n; intable = 1; next } { intable = 0 } END { exit bad }' docs/results.md ||
  fail "a table row of docs/results.md has the wrong number of cells"
grep -q '^| setting | RTN | BRECQ-Fisher | BRECQ+QDrop | AdaRound-layer | BRECQ-MSE | BRECQ-Fisher-ref |$' docs/results.md ||
  fail "fres20 header: $(grep -m1 '^| setting' docs/results.md)"
# a cell finished without predictions gets them at the next render, the others are kept
rm res/fres20/W3A3-qdrop-s0/test.preds; : > calls.preds
RESULTS_JOBS=1 run r.sh --only-render
[ "$(cat calls.preds)" = res/fres20/W3A3-qdrop-s0/test.preds ] || fail "backfilled: $(cat calls.preds)"

# a resumed cell whose quant.json does not say its peak RSS covers the killed runs is marked
echo '{"seconds": 9.5, "seconds_prior_runs": 8.0, "peak_rss_mb": 10}' > res/mbv2t/W4A4-brecq-s0/quant.json
echo '{"seconds": 9.5, "seconds_prior_runs": 8.0, "peak_rss_mb": 10, "peak_rss_complete": true}' > res/mbv2t/W2A4-brecq-s0/quant.json
RESULTS_JOBS=1 run r.sh --only-render
[ "$(grep -c ' MB ‡ ' docs/results.md)" -eq 1 ] && grep '^| W4A4 ' docs/results.md | tail -1 | grep -q ' MB ‡ ' ||
  fail "partial-RSS mark: $(grep ' MB ‡ ' docs/results.md)"

# 2. a second run does nothing; a cell without cell.json is redone
: > calls
rm res/fres20/W2A4-brecq-s0/cell.json
RESULTS_JOBS=1 run r.sh
[ "$(cat calls | cut -d' ' -f1)" = "res/fres20/W2A4-brecq-s0" ] || fail "rerun did: $(cat calls)"

# 2b. a stop request during a cell: that cell finishes and is recorded, no other starts, the docs
# are rendered; the next run starts over where it stopped
: > calls
rm res/mbv2t/*/cell.json
RESULTS_JOBS=1 STOP_FILE=$T/res/stop run r.sh
[ "$(wc -l < calls)" -eq 1 ] || fail "stop: $(wc -l < calls) cells ran after the stop request"
[ -f "$(cut -d' ' -f1 calls)/cell.json" ] || fail "stop: the running cell was not recorded"
RESULTS_DIR=res bash r.sh --status | grep -q "stop requested" || fail "status does not show the stop request"
: > calls
RESULTS_JOBS=1 run r.sh
[ "$(wc -l < calls)" -eq 8 ] && [ ! -f res/stop ] || fail "after stop: $(wc -l < calls) cells, want 8"
RESULTS_DIR=res bash r.sh --stop 2> /dev/null && [ -f res/stop ] || fail "--stop wrote no stop file"
rm res/stop

# 3. a newer engine: RTN cells at once, the others after every unfinished cell, then all
sed 's/^ENGINE_VERSION=\([0-9]*\)/ENGINE_VERSION=$((\1 + 1))/' r.sh > r2.sh
grep -q 'ENGINE_VERSION=\$((' r2.sh || fail "could not bump the engine"
rm res/fres20/W2A2-qdrop-s0/cell.json
# the status estimate: every cell still to run costs the median of its finished peers (here
# all 3600 s), so k cells at two side by side are k/2 hours
sed -i 's/"seconds": [0-9.]*/"seconds": 3600/' res/*/*/cell.json
RESULTS_JOBS=2 CALLS=$T/calls BRECQ=$T/fake MODELS_DIR=models RESULTS_DIR=res bash r2.sh --status > status.txt
k=$(tail -2 status.txt | head -1 | awk '{print $6 + $8}')
want=$(awk -v k="$k" 'BEGIN { printf "%.1f", k / 2 }')
[ "$k" -gt 1 ] && tail -1 status.txt | grep -q "^results: about $want h of work left at 2 cell(s) side by side$" ||
  fail "estimate for $k cells: $(tail -1 status.txt)"
: > calls
RESULTS_JOBS=1 run r2.sh
[ "$(wc -l < calls)" -eq "$n" ] || fail "engine bump: $(wc -l < calls) calls for $n cells"
rtn_last=$(grep -n -- '-rtn-' calls | tail -1 | cut -d: -f1)
qd=$(grep -n 'fres20/W2A2-qdrop-s0' calls | cut -d: -f1)
old_first=$(grep -n 'fres20/W4A4-brecq-s0' calls | cut -d: -f1)
[ "$rtn_last" -lt "$qd" ] && [ "$qd" -lt "$old_first" ] ||
  fail "order: RTN cells up to line $rtn_last, unfinished cell at $qd, old cells from $old_first"
# 4. while a cell of an older engine is being recomputed (here: its run fails), its previous result
# stays in both tables, marked; once recomputed the old result is gone
sed 's/^ENGINE_VERSION=\([0-9]*\)/ENGINE_VERSION=$((\1 + 2))/' r.sh > r3.sh
RESULTS_JOBS=1 FAIL_CELL=res/fres20/W4A4-brecq-s0 run r3.sh
[ -f res/fres20/W4A4-brecq-s0/prev/cell.json ] || fail "the older result was not kept"
grep '^| W4A4 ' docs/results.md | head -1 | grep -q '^| W4A4 | [^|]* | 90.00 ± 0.30 † ' ||
  fail "kept cell not in the table: $(grep '^| W4A4 ' docs/results.md | head -1)"
grep -q '^| fres20 | W4A4 | BRECQ-Fisher vs RTN † | ' docs/results.md || fail "kept cell not in the paired table"
grep -q '^† = made by an earlier engine' docs/results.md || fail "a marked cell is shown but † is not explained"
RESULTS_JOBS=1 run r3.sh
[ ! -d res/fres20/W4A4-brecq-s0/prev ] && ! grep -q '^| .*\(± [0-9.]* †\|[A-Za-z] †\) ' docs/results.md ||
  fail "after the recompute: $(ls res/fres20/W4A4-brecq-s0 | tr '\n' ' ') / $(grep '^| .* †' docs/results.md)"
! grep -q '†' docs/results.md || fail "no cell of an older engine is left, but the tables still explain †"
echo "test-results-sh: passed (two workers, rerun, engine bump: $n cells)"
