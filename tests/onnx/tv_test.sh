#!/bin/bash
# tv_test.sh BRECQ LOGITS_CHECK — torchvision layouts through the flow (tests/onnx/make_torchvision.py):
# tv_mbv2 (MobileNetV2 width 0.25: identity shortcuts whose input is a projection conv) and tv_res
# (torchvision ResNet: 7x7 stem, max pool, BasicBlock, downsample). For each: float logits equal
# PyTorch's; RTN W4A4 and W8A8 quantize; `eval --int` agrees with fake-quant layer by layer (at most
# the 1-LSB float near-tie of docs/numerics.md §3, every residual add a quantized tensor) and on
# every argmax; `latency` runs. Run by `make onnx-tv-test` (part of `make onnx-test`).
set -u
B=${1:-build/brecq}; LC=${2:-build/asan/tests/onnx_logits_check}
T=build/onnx/tv
mkdir -p $T
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
M=tests/onnx/models
# MobileNetV2's last 1x1 conv has 1280 output channels; edge.yaml's requant RAM holds 512
HW=configs/hw/edge_wide.yaml

# every "layer_max_lsb" of an eval --int report is <= 1, and argmax agreement is 1
int_ok() {
  local worst agree
  worst=$(grep -o '"layer_max_lsb": [0-9]*' "$1" | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
  agree=$(sed -n 's/.*"argmax_agree": *\([0-9.]*\).*/\1/p' "$1")
  [ -n "$agree" ] && [ "$worst" -le 1 ] && awk -v a="$agree" 'BEGIN { exit !(a >= 1.0) }'
}

for net in tv_mbv2 tv_res; do
  $LC $M/$net.onnx $M/$net.input.txt $M/$net.logits.txt 1e-4 > $T/$net.logits.out 2>&1 \
    && ok || bad "$net float logits: $(cat $T/$net.logits.out)"
  for r in w4a4 w8a8; do
    q=$T/$net.$r.bqq
    if ! $B quantize --model $M/$net.onnx --recipe configs/quant/rtn_$r.yaml --out $q \
         > $T/$net.$r.q.out 2>&1; then bad "$net quantize $r: $(tail -1 $T/$net.$r.q.out)"; continue; fi
    ok
    if $B eval --model $M/$net.onnx --quant $q --int --limit 200 --report $T/$net.$r.json \
         > $T/$net.$r.eval.out 2>&1 && int_ok $T/$net.$r.json; then ok
    else bad "$net eval --int $r: $(tail -3 $T/$net.$r.eval.out)"; fi
  done
  $B latency --model $M/$net.onnx --hw $HW > $T/$net.lat.out 2>&1 \
    && ok || bad "$net latency: $(tail -1 $T/$net.lat.out)"
done
# the residual adds whose shortcut is a projection conv are quantized tensors of their own
for add in features/features.3/Add features/features.5/Add; do
  grep -q "\"tensor\": \"$add\"" $T/tv_mbv2.w4a4.json && ok || bad "tv_mbv2: $add not a quantized tensor"
done

echo "onnx torchvision: $pass passed, $fail failed"
[ $fail = 0 ]
