#!/bin/bash
# tests/onnx/test_predict.sh — tests/onnx/predict_schedule.py on a hand-made probe whose answer is
# known (docs/onnx.md "An afternoon on 2 cores" uses it on ResNet-18's probe):
#   unit A1: lines at it 1/5/12 at 10/18/32 s -> slope 2 s/it; unit A2: one line at it 1, 40 s, next
#   unit's first line at 52 s -> bound (52-40)/12 = 1 s/it; unit B1: it 1/6 at 52/57 s -> 1 s/it.
#   Probe wall 100 s, its iterations 12*2 + 12*1 + 6*1 = 42 s -> fixed 58 s;
#   recipe 1000 + 250: 58 + 1000*2 + 1000*1 + 250*1 = 3308 s.
# A stopped probe and a finished one with units lacking lines are flagged; then three bad inputs:
# one line each, exit 1.
set -euo pipefail
P=tests/onnx/predict_schedule.py
T=$(mktemp -d /tmp/brecq_test_predict.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "test_predict: FAIL: $*"; exit 1; }
cat > "$T/probe.out" <<'L'
loading ...
[reconstruct] A weights unit 1/2 blk1 it 1/12 loss 1 reg 0 beta 20.00 | 10s elapsed, ETA --
[reconstruct] A weights unit 1/2 blk1 it 5/12 loss 1 reg 0 beta 20.00 | 18s elapsed, ETA 30s
[reconstruct] A weights unit 1/2 blk1 it 12/12 loss 1 reg 0 beta 20.00 | 32s elapsed, ETA 30s
[reconstruct] A weights unit 2/2 fc it 1/12 loss 1 reg 0 beta 20.00 | 40s elapsed, ETA 30s
[reconstruct] B act-steps unit 1/1 blk1 it 1/6 loss 1 reg 0 beta 20.00 | 52s elapsed, ETA 30s
[reconstruct] B act-steps unit 1/1 blk1 it 6/6 loss 1 reg 0 beta 20.00 | 57s elapsed, ETA 0s
[reconstruct] brecq: 5 steps done (58.0s)
L
printf '\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:40.00\n' > "$T/probe.time"
printf 'method: brecq\niters: 1000   # stage A\nact_iters: 250\n' > "$T/r.yaml"
out=$(/usr/bin/python3 $P "$T/probe.out" "$T/probe.time" "$T/r.yaml") || fail "exit $?"
grep -qF "| A | 1 | blk1 | 2.000 | slope |" <<< "$out" || fail "unit A1 slope: $out"
grep -qF "| A | 2 | fc | 1.000 | bound (one line) |" <<< "$out" || fail "unit A2 bound: $out"
grep -qF "| B | 1 | blk1 | 1.000 | slope |" <<< "$out" || fail "unit B1 slope: $out"
grep -qF "~42 s iterations and ~58 s fixed" <<< "$out" || fail "probe split: $out"
grep -qF "(1000 + 250 iterations per unit): 3308 s" <<< "$out" || fail "prediction: $out"
head -4 "$T/probe.out" > "$T/part.out"   # stopped in stage A unit 2/2
part=$(/usr/bin/python3 $P "$T/part.out" "$T/probe.time" "$T/r.yaml")
grep -qF "incomplete probe: it stopped in A weights unit 1/2" <<< "$part" ||
    fail "a stopped probe is not flagged"
grep -qE "incomplete|sparse" <<< "$out" && fail "a complete probe is flagged"
{ head -3 "$T/probe.out"; tail -1 "$T/probe.out"; } > "$T/sparse.out"   # finished, units 2-3 unseen
sparse=$(/usr/bin/python3 $P "$T/sparse.out" "$T/probe.time" "$T/r.yaml")
grep -qF "sparse probe" <<< "$sparse" ||
    fail "a finished probe with units missing is not flagged"
bad() {   # name, fragment, args...
    local name=$1 frag=$2 rc=0; shift 2
    /usr/bin/python3 $P "$@" > /dev/null 2> "$T/err" || rc=$?
    [ $rc = 1 ] || fail "$name: exit $rc, expected 1"
    [ "$(wc -l < "$T/err")" = 1 ] || fail "$name: expected one line, got: $(cat "$T/err")"
    grep -qF -- "$frag" "$T/err" || fail "$name: '$frag' not in: $(cat "$T/err")"
    echo "test_predict: $name: $(cat "$T/err")"
}
bad "missing probe" "$T/none.out: No such file" "$T/none.out" "$T/probe.time" "$T/r.yaml"
echo "quantize: rtn" > "$T/rtn.out"
bad "no progress lines" "no '[reconstruct]" "$T/rtn.out" "$T/probe.time" "$T/r.yaml"
printf 'iters: many\n' > "$T/bad.yaml"
bad "bad recipe" "$T/bad.yaml: cannot read iters/act_iters" "$T/probe.out" "$T/probe.time" "$T/bad.yaml"
echo "test_predict: all passed"
