#!/bin/bash
# tests/results/test_results_sh.sh — the bookkeeping of sw/results.sh (make results) with a stand-in
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
# stand-in brecq: quantize logs its cell and thread count, eval reports a top-1
cmd=$1; shift
while [ $# -gt 0 ]; do case $1 in --report) rep=$2; shift ;; --out) out=$2; shift ;;
                                  --recipe) rec=$2; shift ;; esac; shift; done
if [ "$cmd" = quantize ]; then
  echo "$(dirname "$rec") $BQ_NUM_THREADS" >> "$CALLS"
  sleep 0.05
  echo '{"seconds": 1.5, "peak_rss_mb": 10}' > "$rep"; : > "$out"
elif [ -n "${rep:-}" ]; then echo '{"top1": 0.9}' > "$rep"; fi
FAKE
chmod +x "$T/fake"
cd "$T"
run() { CALLS=$T/calls BRECQ=$T/fake MODELS_DIR=models RESULTS_DIR=res bash "$@" > "$T/log" 2>&1 ||
          fail "results.sh exited non-zero: $(tail -2 "$T/log")"; }
export CALLS=$T/calls

# 1. two workers: every cell once, one thread each
cp "$ROOT/sw/results.sh" r.sh
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

# 2. a second run does nothing; a cell without cell.json is redone
: > calls
rm res/fres20/W2A4-brecq-s0/cell.json
RESULTS_JOBS=1 run r.sh
[ "$(cat calls | cut -d' ' -f1)" = "res/fres20/W2A4-brecq-s0" ] || fail "rerun did: $(cat calls)"

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
echo "test-results-sh: passed (two workers, rerun, engine bump: $n cells)"
