#!/bin/bash
# The export package from the command line (issue 21; docs/formats.md "Export package"):
#   - a real package (fres20 W4A4 on tiny) passes `brecq export --check`, holds programs, a memory
#     map, the execution order and the output scales;
#   - `eval --int --preds` writes the integer path's predictions: their correct count is the
#     report's `correct_int` (not the fake-quant `correct`), and the package's self-test `pred`s
#     (integer path, exported independently) equal the first predictions of the file;
#   - corrupting a part from the shell (a program word, a memory address, a step, a missing file, a
#     version-1 manifest, a manifest edit, a byte of weights.bin, requant.bin and tests.bin) fails
#     the check with one line naming the part (the cosim driver runs the same check: test_cosim.sh).
# usage: tests/cli/test_package.sh path/to/brecq [path/to/optimised/brecq]
set -u
B=${1:-build/brecq}
BF=${2:-$B}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
HW=configs/hw/tiny.yaml

"$BF" quantize --model configs/models/fres20.bqm --recipe configs/quant/rtn_w4a4.yaml \
  --out "$T/q.bqq" > "$T/q.log" 2>&1 || { cat "$T/q.log"; echo "FAIL quantize"; exit 1; }
"$BF" export --quant "$T/q.bqq" --hw $HW --tests 2 --out "$T/pkg" > /dev/null 2>&1 || { echo "FAIL export"; exit 1; }
if "$B" export --check "$T/pkg" > "$T/check.log" 2>&1; then ok; else bad "check of a fresh package: $(tail -1 "$T/check.log")"; fi
M="$T/pkg/manifest.json"
for key in '"version": 2' '"programs": {"fetch"' '"mem": {"w_addr"' '"steps": [' '"logit_scale": [' '"norm_shift": ' '"manifest_crc32": '; do
  grep -qF "$key" "$M" && ok || bad "manifest has no $key"
done
[ -s "$T/pkg/programs.bin" ] && ok || bad "no programs.bin"
# execution order: the shortcut s2b1_down runs before s2b1_conv2, which reads it
order=$(grep -o '"op": "layer", "layer": [0-9]*, "name": "s2b1_[a-z0-9]*"' "$M" | grep -o 's2b1_[a-z0-9]*' | tr '\n' ' ')
[ "$order" = "s2b1_conv1 s2b1_down s2b1_conv2 " ] && ok || bad "steps order of block s2b1: '$order'"

# eval --int --preds: the integer path's predictions
if "$BF" eval --quant "$T/q.bqq" --int --report "$T/e.json" --preds "$T/p.preds" > /dev/null 2>&1 &&
   "$B" compare --a "$T/p.preds" --b "$T/p.preds" --report "$T/c.json" > /dev/null 2>&1; then
  ci=$(grep -o '"correct_int": [0-9]*' "$T/e.json" | grep -o '[0-9]*$')
  cf=$(grep -o '"correct": [0-9]*' "$T/e.json" | head -1 | grep -o '[0-9]*$')
  grep -q "\"a_correct\": $ci," "$T/c.json" && ok || bad "--int --preds: $(grep -o '"a_correct": [0-9]*' "$T/c.json"), report correct_int $ci (fake-quant $cf)"
  [ "$ci" != "$cf" ] || echo "note: correct_int = correct ($ci) on this model: the count alone cannot tell the paths apart"
  # the package's integer-path predictions of images 0 and 1 = the file's first two int32
  want=$(grep -o '"pred": [0-9]*' "$M" | grep -o '[0-9]*$' | tr '\n' ' ')
  got=$(od -An -td4 -N8 "$T/p.preds" | tr -s ' ' '\n' | grep . | tr '\n' ' ')
  [ "$want" = "$got" ] && ok || bad "package preds '$want' vs eval --int --preds '$got'"
else bad "eval --int --preds / compare"; fi

# corruptions from the shell: exit 1, one line on stderr naming the part
expect_check() {   # NAME DIR WANT
  "$B" export --check "$2" > /dev/null 2> "$T/err"; local rc=$?
  if [ $rc -eq 1 ] && grep -qF -- "$3" "$T/err" && [ "$(grep -c . "$T/err")" -eq 1 ]; then ok
  else bad "$1 (rc $rc, wanted '$3'): $(cat "$T/err")"; fi
}
cp_pkg() { rm -rf "$T/$1"; cp -r "$T/pkg" "$T/$1"; }
cp_pkg word
off=$(grep -o '"execute": {"offset": [0-9]*' "$M" | sed -n 4p | grep -o '[0-9]*$')
printf '\x80' | dd of="$T/word/programs.bin" bs=1 seek=$((off + 7)) conv=notrunc 2> /dev/null
expect_check program-word "$T/word" "programs.bin: CRC-32 of 'layers[3].programs.execute.'"
cp_pkg addr; sed -i '0,/"a_addr": /s//"a_addr": 3/' "$T/addr/manifest.json"
expect_check mem-address "$T/addr" "field 'layers[0].mem.a_addr'"
cp_pkg step; sed -i '0,/"op": "layer", "layer": 0,/s//"op": "layer", "layer": 1,/' "$T/step/manifest.json"
expect_check step-order "$T/step" "field 'steps[0].': step reads"
cp_pkg noprog; rm "$T/noprog/programs.bin"
expect_check missing-programs "$T/noprog" "programs.bin"
cp_pkg v1; sed -i 's/"version": 2/"version": 1/' "$T/v1/manifest.json"
expect_check version-1 "$T/v1" "field 'version' is 1, this build reads version 2"
cp_pkg scale; sed -i '0,/"s_o": /s//"s_o": 9/' "$T/scale/manifest.json"
expect_check manifest-edit "$T/scale" "field 'manifest_crc32'"
# one flipped byte in each data part, at the start of its second layer's (or test's) range
flip() {   # FILE OFFSET: invert the byte
  v=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $((255 - v)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null
}
range_off() { grep -o "\"$1\": {\"offset\": [0-9]*" "$M" | sed -n "${2}p" | grep -o '[0-9]*$'; }
cp_pkg wbyte; flip "$T/wbyte/weights.bin" "$(range_off weights 2)"
expect_check weights-byte "$T/wbyte" "weights.bin: CRC-32 of 'layers[1].weights.'"
cp_pkg rqbyte; flip "$T/rqbyte/requant.bin" "$(range_off requant 2)"
expect_check requant-byte "$T/rqbyte" "requant.bin: CRC-32 of 'layers[1].requant.'"
cp_pkg tbyte; flip "$T/tbyte/tests.bin" "$(range_off codes 2)"
expect_check tests-byte "$T/tbyte" "tests.bin: CRC-32 of 'tests[0].layers[1].codes.'"
echo "package: $pass passed, $fail failed"
[ $fail -eq 0 ]
