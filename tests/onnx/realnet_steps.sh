#!/bin/bash
# realnet_steps.sh NET [STEP...] — the 224x224 torchvision networks through every step of the flow,
# each timed (wall seconds, peak RSS from /usr/bin/time -v). Development measurement, NOT part of
# `make test` (it needs build/realnet from `tests/onnx/make_torchvision.py --rgb224`, tens of MB and
# minutes to hours of CPU). NET is resnet18 or mobilenet_v2; STEPs default to all, in this order:
#   info float eval rtn brecq evalint latency search export check cosim
# and, only when named: probe (the afternoon BRECQ recipe configs/quant/brecq_w4a4_afternoon.yaml
# with PROBE_ITERS=12 stage-A + 6 stage-B iterations per unit, and its predicted full wall time) and
# afternoon (that recipe as written).
# Full width: the 3x224x224 torchvision network (`NET_rgb224.onnx`) on a 3-channel image folder
# through a dataset YAML (build/realnet/rgb224.yaml: 1024 RGB PNGs to calibrate, 500 JPEGs to
# evaluate, resize 256 + centre crop 224). RGB=0 selects the earlier 1-channel variant
# (`NET_g224.onnx` on the 224x224 IDX subset of `make_torchvision.py --big`).
# Results: build/realnet/NET_rgb224/steps.tsv (step, exit code, wall s, peak RSS MB, load average at the
# start) and each step's output in build/realnet/NET_rgb224/STEP.{out,time}. docs/onnx.md "Real-size
# networks" explains the data and the numbers.
set -u
NET=$1; shift
STEPS=${*:-info float eval rtn brecq evalint latency search export check cosim}
B=build/brecq; R=build/realnet
D=$R/rgb224.yaml; M=$R/${NET}_rgb224.onnx          # 3x224x224 on RGB PNG/JPEG folders
if [ "${RGB:-1}" = 0 ]; then D=$R/fmnist224; M=$R/${NET}_g224.onnx; fi   # 1-channel stem, IDX
O=$R/$(basename $M .onnx)                           # results: build/realnet/NET_rgb224/
HW=configs/hw/edge.yaml; HWN=edge; BUDGET=0.55x
# MobileNetV2: 1280-channel head (edge_wide); its memory-bound depthwise convs keep even all-4-bit
# at 0.60x of W8A8, so its budget is 0.7x
[ "$NET" = mobilenet_v2 ] && { HW=configs/hw/edge_wide.yaml; HWN=edge_wide; BUDGET=0.7x; }
mkdir -p $O
# a short BRECQ: the method end to end, not its accuracy (docs/onnx.md)
printf 'method: brecq\nloss: fisher\nwbits: 4\nabits: 4\niters: 4\nact_iters: 2\ncalib: 32\nbatch: 8\nact_init_batch: 32\ncheckpoint: false\n' > $O/brecq_tiny.yaml
printf 'method: rtn\nwbits: 4\nabits: 4\ncalib: 64\nact_init_batch: 64\n' > $O/rtn_w4a4_64.yaml
# probe: the afternoon recipe with PROBE_ITERS + PROBE_ITERS/2 iterations per unit, to measure its
# caches, memory and per-iteration times (tests/onnx/predict_schedule.py turns them into a wall time)
AFT=configs/quant/brecq_w4a4_afternoon.yaml; PI=${PROBE_ITERS:-12}
sed -e "s/^iters:.*/iters: $PI/" -e "s/^act_iters:.*/act_iters: $((PI / 2))/" $AFT > $O/afternoon_probe.yaml

step() {   # step NAME CMD... : run, time, record
  local name=$1; shift
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v -o $O/$name.time "$@" > $O/$name.out 2>&1
  local rc=$?
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
         for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' $O/$name.time)
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' $O/$name.time)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$wall" "$rss" "$load" | tee -a $O/steps.tsv
}

for s in $STEPS; do
  case $s in
  info)    step info $B info --model $M ;;
  float)   step float build/tests/onnx_logits_check $M ${M%.onnx}.input.txt ${M%.onnx}.logits.txt 1e-3 ;;
  eval)    step eval $B eval --model $M --data $D --threads 2 --report $O/eval.json ;;
  rtn)     step rtn $B quantize --model $M --data $D --recipe $O/rtn_w4a4_64.yaml --out $O/rtn.bqq --threads 2 ;;
  brecq)   step brecq $B quantize --model $M --data $D --recipe $O/brecq_tiny.yaml --out $O/brecq.bqq --threads 2 ;;
  probe)   step probe $B quantize --model $M --data $D --recipe $O/afternoon_probe.yaml --out $O/probe.bqq --threads 2
           /usr/bin/python3 tests/onnx/predict_schedule.py $O/probe.out $O/probe.time $AFT ;;
  afternoon) step afternoon $B quantize --model $M --data $D --recipe $AFT --out $O/afternoon.bqq --threads 2 ;;
  evalint) step evalint $B eval --model $M --data $D --quant $O/rtn.bqq --int --limit 20 --threads 2 --report $O/evalint.json ;;
  latency) step latency $B latency --model $M --hw $HW ;;
  search)  step search $B search --model $M --data $D --hw $HW --budget $BUDGET --images 8 --wbits 4,8 --abits 4,8 --out $O/bits.yaml ;;
  export)  step export $B export --quant $O/rtn.bqq --hw $HW --data $D --out $O/pkg --tests 1 ;;
  check)   step check $B export --check $O/pkg ;;
  cosim)   mkdir -p $O/cosim; step cosim build/sim/$HWN/cosim --hw $HW --qmodel $O/rtn.bqq --images 1 --data $D --out $O/cosim ;;
  *) echo "realnet_steps: unknown step '$s'"; exit 2 ;;
  esac
done
