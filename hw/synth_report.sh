#!/bin/sh
# synth_report.sh CFG XC7_STAT GEN_STAT DM DN DK -- one Markdown table row group from yosys `stat`
# outputs (hierarchical designs: the last "design hierarchy" block holds the totals; the bqa_dpu
# section holds one DPU). Prints Markdown on stdout.
cfg=$1; xs=$2; gs=$3; dm=$4; dn=$5; dk=$6
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
bismo=$(awk -v dk="$dk" 'BEGIN {printf "%.0f", 1.17 * dk + 44}')
bismo_arr=$(awk -v dk="$dk" -v n="$((dm * dn))" 'BEGIN {printf "%.0f", (1.17 * dk + 44) * n}')
arr=$((dl * ndpu))
echo "| $cfg | ${dm}x${dn}x${dk} | $luts | $ffs | $b36 x RAMB36 + $b18 x RAMB18 | $lram | $dsp | $carry | $dl LUT / $df FF | $bismo | $arr ($ndpu units incl. asum) | $bismo_arr | $gcells cells + $gmem memories |"
