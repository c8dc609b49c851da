#!/bin/bash
# Bad input through the CLI: each case must exit non-zero with ONE line on stderr that names the
# file/option and the fix, and must not leave an output file behind.
# usage: tests/cli/test_cli.sh path/to/brecq [path/to/optimised/brecq]
# Bad input runs on the first binary (the ASan+UBSan build in make test); the valid 10k-image
# evaluations that the .preds checks need run on the second (the -O2 build; under ASan they took
# most of this test's ~3 minutes).
set -u
B=${1:-build/brecq}
BF=${2:-$B}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
# expect NAME EXPECTED_SUBSTRING command...
expect() {
  local name=$1 want=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; local rc=$?
  local lines; lines=$(grep -c . "$T/err")
  if [ $rc -ne 0 ] && grep -qF -- "$want" "$T/err" && [ "$lines" -eq 1 ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL $name (rc=$rc, $lines stderr lines, wanted '$want'):"; cat "$T/err"
  fi
}
# a small valid model to corrupt: build it with a 1-step training run is too slow; use mbv2t init
"$B" train --arch fres20 --epochs 1 --steps 2 --batch 8 --out "$T/m.bqm" --no-val --no-augment >/dev/null 2>&1 \
  || { echo "FAIL could not create a model"; exit 1; }
head -c 1000 "$T/m.bqm" > "$T/trunc.bqm"
cp "$T/m.bqm" "$T/flip.bqm"; printf '\x55' | dd of="$T/flip.bqm" bs=1 seek=5000 conv=notrunc 2>/dev/null
head -c 4096 /dev/urandom > "$T/random.bqm"

expect missing-dataset "apt-get install dataset-fashion-mnist" env BQ_DATA_DIR=$T/nodata "$B" eval --model "$T/m.bqm"
expect truncated-model "trunc.bqm: checksum mismatch" "$B" eval --model "$T/trunc.bqm"
expect corrupted-model "flip.bqm: checksum mismatch" "$B" info "$T/flip.bqm"
expect random-model "random.bqm: not a brecq model file" "$B" info "$T/random.bqm"
expect missing-model "nope.bqm: cannot open" "$B" info "$T/nope.bqm"
expect unknown-arch "unknown architecture 'resnet9000'; choose one of: fres20, mbv2t" "$B" train --arch resnet9000 --out "$T/x.bqm"
expect bad-epochs "--epochs 'ten' is not an integer" "$B" train --arch fres20 --epochs ten --out "$T/x.bqm"
expect bad-threads "--threads '0' is not an integer in [1, 256]" "$B" eval --model "$T/m.bqm" --threads 0
expect unknown-option "unknown option '--frobnicate'" "$B" eval --model "$T/m.bqm" --frobnicate
expect missing-value "--model needs a value" "$B" eval --model
expect unknown-command "unknown command 'trian'" "$B" trian
# predictions for McNemar: a model against itself has no discordant image (p = 1); a file of the
# wrong size or with an impossible class is refused, naming the file and the fix
if "$BF" eval --model "$T/m.bqm" --preds "$T/a.preds" > /dev/null 2>&1 && [ "$(stat -c %s "$T/a.preds")" -eq 40000 ] &&
   "$B" compare --a "$T/a.preds" --b "$T/a.preds" --report "$T/c.json" > /dev/null 2>&1 &&
   grep -q '"only_a": 0, "only_b": 0, "p_value": 1,' "$T/c.json"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL eval --preds / compare on one model: $(cat "$T/c.json" 2>/dev/null)"; fi
# the fake-quant path's predictions are the ones its top-1 counts: compare (float A, quantized B)
# must find exactly the correct counts the two eval reports give
if "$BF" eval --model "$T/m.bqm" --report "$T/ea.json" > /dev/null 2>&1 &&
   "$BF" quantize --model "$T/m.bqm" --recipe configs/quant/rtn_w4a4.yaml --out "$T/q.bqq" > /dev/null 2>&1 &&
   "$BF" eval --quant "$T/q.bqq" --report "$T/eq.json" --preds "$T/q.preds" > /dev/null 2>&1 &&
   "$B" compare --a "$T/a.preds" --b "$T/q.preds" --report "$T/cq.json" > /dev/null 2>&1; then
  ca=$(grep -o '"correct": [0-9]*' "$T/ea.json" | grep -o '[0-9]*$'); cb=$(grep -o '"correct": [0-9]*' "$T/eq.json" | grep -o '[0-9]*$')
  if grep -q "\"a_correct\": $ca, \"b_correct\": $cb," "$T/cq.json"; then pass=$((pass+1))
  else fail=$((fail+1)); echo "FAIL preds vs reports: float $ca, quant $cb correct; compare: $(cat "$T/cq.json")"; fi
else fail=$((fail+1)); echo "FAIL quantize / eval --quant --preds / compare"; fi
head -c 39996 "$T/a.preds" > "$T/short.preds"
cp "$T/a.preds" "$T/bad.preds"; printf '\x2a' | dd of="$T/bad.preds" bs=1 seek=40 conv=notrunc 2>/dev/null
expect short-preds "short.preds: 39996 bytes, expected 40000" "$B" compare --a "$T/a.preds" --b "$T/short.preds" --report "$T/x.json"
expect bad-class "bad.preds: image 10: class 42 is outside 0..9" "$B" compare --a "$T/bad.preds" --b "$T/a.preds" --report "$T/x.json"
expect compare-needs-b "--a and --b are required" "$B" compare --a "$T/a.preds"
[ -e "$T/x.json" ] && { echo "FAIL a compare report was written for bad input"; fail=$((fail+1)); }
[ -e "$T/x.bqm" ] && { echo "FAIL an output file was left behind"; fail=$((fail+1)); }
ls "$T" | grep -q '\.tmp\.' && { echo "FAIL a temporary file was left behind"; fail=$((fail+1)); }
echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
