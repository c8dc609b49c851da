#!/bin/bash
# cli_test.sh BRECQ — `brecq info` on an imported ONNX model and one-line errors for bad files.
# Run by `make onnx-test` (sw/io/onnx.mk). Prints "onnx cli: N passed, M failed".
set -u
B=${1:-build/brecq}
T=build/onnx/cli
mkdir -p $T
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# info: layers, the three recovered blocks and the parameter count
out=$($B info tests/onnx/models/resnet8.onnx 2>&1)
if [ $? = 0 ] && grep -q "^blocks: 3" <<<"$out" && grep -q "^parameters: 77418" <<<"$out" \
   && [ "$(grep -c ' res[123] ' <<<"$out")" -ge 15 ]; then ok; else bad "info resnet8.onnx: $out"; fi

# --mean/--std reach the model (and win over resnet8.onnx.yaml)
out=$($B info --model tests/onnx/models/resnet8.onnx --mean 0.5 --std 0.25 2>&1)
grep -q "mean 0.5000 std 0.2500" <<<"$out" && ok || bad "--mean/--std: $out"

# bad files: non-zero exit, exactly one line on stderr naming the file, no crash
head -c 4000 tests/onnx/models/resnet8.onnx > $T/truncated.onnx
cp tests/onnx/models/resnet8.json $T/garbage.onnx
: > $T/empty.onnx
cp /usr/share/libonnx-testdata/data/node/test_sigmoid/model.onnx $T/sigmoid.onnx
printf 'mean: 0.5\nsdt: 1\n' > $T/yaml.onnx.yaml; cp tests/onnx/models/tiny_res.onnx $T/yaml.onnx
for f in truncated garbage empty sigmoid yaml missing; do
  $B info $T/$f.onnx > $T/$f.out 2> $T/$f.err; rc=$?
  lines=$(wc -l < $T/$f.err)
  if [ $rc = 1 ] && [ "$lines" = 1 ] && grep -q "$f.onnx" $T/$f.err; then ok
  else bad "$f.onnx: rc $rc, $lines stderr lines: $(cat $T/$f.err)"; fi
done
grep -q "Sigmoid" $T/sigmoid.err && grep -q "opset" $T/sigmoid.err && ok || bad "sigmoid message: $(cat $T/sigmoid.err)"
grep -q "yaml.onnx.yaml:2:1: unknown key 'sdt'" $T/yaml.err && ok || bad "yaml message: $(cat $T/yaml.err)"

echo "onnx cli: $pass passed, $fail failed"
[ $fail = 0 ]
