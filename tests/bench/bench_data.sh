#!/bin/bash
# bench_data.sh BENCH_DATA BRECQ OUT.json — `make bench-data` (docs/data.md "Speed and memory"):
#  1. BENCH_DATA: images/s of PNG / JPEG / npy decoding at 32x32 and 224x224 (median of 3);
#  2. for each real-size network present in build/realnet (tests/onnx/make_torchvision.py --rgb224;
#     the integer row also needs build/realnet/NET_rgb224/rtn.bqq from tests/onnx/realnet_steps.sh
#     NET rtn), `brecq eval` float on 100 of the validation JPEGs of build/realnet/rgb224.yaml (the
#     first 10 of each class, copied to a temporary folder; `cache: false`, so JPEG decoding and the
#     resize/crop are included, a few % of the time at 224) and `brecq eval --int` on 20 of the 500
#     (the fake-quant and the integer forward both run: that is what the command does), RUNS times
#     each: median images/s (wall, model load included) and peak RSS (/usr/bin/time -v). Skipped
#     with a note when absent.
# Table on stdout, JSON to OUT.json, 1-minute load average at the start and end of each row.
set -eu
BD=$1; B=$2; OUT=$3; RUNS=${RUNS:-3}
R=build/realnet; D=$R/rgb224.yaml
mkdir -p "$(dirname "$OUT")"
T=$(mktemp -d /tmp/bench_data_sh.XXXXXX)
trap 'rm -rf "$T"' EXIT
if [ -f "$D" ]; then   # 100 validation JPEGs, 10 per class, and the same preprocessing
  for c in "$R"/rgb224/val/*/; do
    mkdir -p "$T/val/$(basename "$c")"; ls "$c" | head -10 | while read -r f; do cp "$c$f" "$T/val/$(basename "$c")/"; done
  done
  sed -e "s#^eval: .*#eval: $T/val#" -e "s#^calib: .*##" "$D" > "$T/val100.yaml"; echo "cache: false" >> "$T/val100.yaml"
fi
"$BD" build/bench/data_decode.json
rows=""
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
timed() {   # timed N_IMAGES CMD...: RUNS runs -> "images/s peak_rss_mb"
  local n=$1; shift
  local rates="" rss=0 t
  t=$(mktemp)
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$t" "$@" > /dev/null 2>&1 || { rm -f "$t"; echo "fail 0"; return; }
    local s
    s=$(awk -F': ' '/Elapsed \(wall clock\)/ { k = split($2, p, ":"); v = 0;
        for (i = 1; i <= k; i++) v = v * 60 + p[i]; print v }' "$t")
    rates="$rates $(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.3f", n / s }')"
    local r; r=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$t")
    [ "$r" -gt "$rss" ] && rss=$r
  done
  rm -f "$t"
  echo "$(echo "$rates" | tr ' ' '\n' | grep . | median) $rss"
}
printf '%-14s %-28s %10s %14s %8s\n' network "eval (images)" images/s "peak RSS MB" load1
for net in resnet18 mobilenet_v2; do
  M=$R/${net}_rgb224.onnx
  if [ ! -f "$M" ] || [ ! -f "$D" ]; then
    echo "$net: $M or $D missing (tests/onnx/make_torchvision.py --rgb224): skipped"; continue
  fi
  for kind in float int; do
    Q=$R/${net}_rgb224/rtn.bqq
    if [ $kind = float ]; then n=100; set -- "$B" eval --model "$M" --data "$T/val100.yaml" --threads 2
    elif [ -f "$Q" ]; then n=20; set -- "$B" eval --quant "$Q" --int --limit 20 --data "$D" --threads 2
    else echo "$net: $Q missing (tests/onnx/realnet_steps.sh $net rtn): integer row skipped"; continue; fi
    l0=$(cut -d' ' -f1 /proc/loadavg)
    read -r rate rss <<< "$(timed $n "$@")"
    printf '%-14s %-28s %10s %14s %8s\n' "$net" "$kind ($n JPEG -> 3x224x224)" "$rate" "$rss" "$l0"
    rows="$rows${rows:+, }{\"network\": \"$net\", \"eval\": \"$kind\", \"images\": $n, \"images_per_s\": \"$rate\", \"peak_rss_mb\": $rss, \"load1_start\": $l0}"
  done
done
printf '{"decode": %s, "eval": [%s], "runs": %s, "load1_end": %s}\n' "$(cat build/bench/data_decode.json)" \
  "$rows" "$RUNS" "$(cut -d' ' -f1 /proc/loadavg)" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "bench_data: $OUT (machine shared: see the load columns)"
