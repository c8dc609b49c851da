#!/bin/sh
# synth_report.sh CFG XC7_STAT GEN_STAT DM DN DK [json] -- one config's yosys `stat` outputs
# (hierarchical designs: the last "design hierarchy" block holds the totals; the bqa_dpu section
# holds one DPU) as one Markdown table row on stdout, or with `json` as one JSON object (the
# totals by cell class, the array shape, the generic run's cells and the yosys CPU seconds of the
# xc7 run, from the .log beside the .stat).
cfg=$1; xs=$2; gs=$3; dm=$4; dn=$5; dk=$6; fmt=${7:-md}
tot() {  # tot FILE REGEX -> sum of cell counts matching REGEX in the totals block
  awk -v re="$2" '/=== design hierarchy ===/ {t=1; next} t && $1 ~ re && $2 ~ /^[0-9]+$/ {s+=$2} END {print s+0}' "$1"
}
dpu() {  # LUTs (or REGEX) inside the bqa_dpu module section
  awk -v re="$2" '/^=== / {sec=$0; next} sec ~ /bqa_dpu/ && $1 ~ re && $2 ~ /^[0-9]+$/ {s+=$2} END {print s+0}' "$1"
}
luts=$(tot "$xs" '^(LUT[1-6]|INV)$'); ffs=$(tot "$xs" '^FD[A-Z]*$'); carry=$(tot "$xs" '^CARRY4$')
b36=$(tot "$xs" '^RAMB36E1$'); b18=$(tot "$xs" '^RAMB18E1$'); lram=$(tot "$xs" '^RAM(32|64|128|256)[A-Z0-9]*$')
dsp=$(tot "$xs" '^DSP48E1$'); dl=$(dpu "$xs" '^(LUT[1-6]|INV)$'); df=$(dpu "$xs" '^FD[A-Z]*$')
ndpu=$((dm * dn + dn))
gcells=$(tot "$gs" '^\$_'); gmem=$(tot "$gs" '^\$mem')
if [ "$fmt" = json ]; then
  log=${xs%.stat}.log
  cpu=$(sed -n 's/.*CPU: user \([0-9.]*\)s system \([0-9.]*\)s.*/\1 \2/p' "$log" 2>/dev/null | tail -1 | awk '{printf "%.1f", $1 + $2}')
  printf '{"config":"%s","dm":%d,"dn":%d,"dk":%d,"xc7":{"lut":%d,"ff":%d,"carry4":%d,"ramb36":%d,"ramb18":%d,"bram18":%d,"lutram":%d,"dsp":%d,"dpu_lut":%d,"dpu_ff":%d},"generic":{"cells":%d,"memories":%d},"yosys_cpu_s":%s,"stat":"%s","date":"%s"}' \
    "$cfg" "$dm" "$dn" "$dk" "$luts" "$ffs" "$carry" "$b36" "$b18" $((b18 + 2 * b36)) "$lram" "$dsp" "$dl" "$df" \
    "$gcells" "$gmem" "${cpu:-null}" "$xs" "$(date -u -r "$xs" +%Y-%m-%dT%H:%MZ)"
  exit 0
fi
bismo=$(awk -v dk="$dk" 'BEGIN {printf "%.0f", 1.17 * dk + 44}')
bismo_arr=$(awk -v dk="$dk" -v n="$((dm * dn))" 'BEGIN {printf "%.0f", (1.17 * dk + 44) * n}')
arr=$((dl * ndpu))
echo "| $cfg | ${dm}x${dn}x${dk} | $luts | $ffs | $b36 x RAMB36 + $b18 x RAMB18 | $lram | $dsp | $carry | $dl LUT / $df FF | $bismo | $arr ($ndpu units incl. asum) | $bismo_arr | $gcells cells + $gmem memories |"
