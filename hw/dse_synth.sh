#!/bin/bash
# dse_synth.sh CONFIG.yaml RESULT [BUILD] -- the synthesis phase of `brecq dse` (docs/dse.md
# "Synthesis phase"): yosys synth_xilinx (xc7) of one accelerator config, the same flow as
# `make synth` (hw/hw.mk: hierarchical, bqa_top, -DSYNTHESIS), its totals written to RESULT as
#   lut N / ff N / bram18 N / dsp N   (one per line; lut = LUT1-6 + INV, bram18 = RAMB18 + 2 x RAMB36)
# RESULT is renamed into place only when yosys finished, so a killed run leaves nothing. The work
# folder RESULT.work keeps the generated parameters, yosys's log and stat (not RESULT.d: the
# Makefile includes every *.d under build/ as a dependency file). Needs BUILD/hwgen and
# BUILD/gen/bqa_pkg.sv (`make build/hwgen build/gen/bqa_pkg.sv`; BUILD defaults to build).
# `brecq dse` runs this script unless BQ_DSE_SYNTH_SCRIPT names another with the same interface.
set -eu
cfg=$1 res=$2 B=${3:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
for f in "$B/hwgen" "$B/gen/bqa_pkg.sv"; do
  [ -e "$f" ] || { echo "dse_synth.sh: $f missing; run make $f first" >&2; exit 2; }
done
wd=$res.work; mkdir -p "$wd/gen"
"$B/hwgen" "$cfg" --svh "$wd/gen/hw_params.svh"
mods=$(ls "$here"/hw/bqa_*.sv | tr '\n' ' ')
nice -n 10 yosys -q -l "$wd/xc7.log" -p "read_verilog -sv -DSYNTHESIS -I$wd/gen -I$here/hw $B/gen/bqa_pkg.sv $mods; synth_xilinx -family xc7 -top bqa_top; tee -q -o $wd/xc7.stat stat -top bqa_top"
tot() {  # tot REGEX -> sum of the cell counts matching REGEX: the design hierarchy's totals block
         # when the design kept its hierarchy (as synth_report.sh), else the one flat section
  awk -v re="$1" '/=== design hierarchy ===/ {t=1; next}
    $1 ~ re && $2 ~ /^[0-9]+$/ {if (t) h+=$2; else f+=$2}
    END {print (t ? h : f) + 0}' "$wd/xc7.stat"
}
b18=$(tot '^RAMB18E1$'); b36=$(tot '^RAMB36E1$')
printf 'lut %d\nff %d\nbram18 %d\ndsp %d\n' "$(tot '^(LUT[1-6]|INV)$')" "$(tot '^FD[A-Z]*$')" \
  $((b18 + 2 * b36)) "$(tot '^DSP48E1$')" > "$res.tmp"
mv "$res.tmp" "$res"
