#!/bin/bash
# synth_standin.sh CONFIG.yaml RESULT -- the stand-in for hw/dse_synth.sh in `make test-dse-synth`
# (BQ_DSE_SYNTH_SCRIPT): checks that hwgen accepts the YAML brecq dse wrote (the file the real
# script synthesises), then writes made-up but config-dependent totals in the real script's format
# and appends the config's name to $STANDIN_CALLS, so the test can count the runs.
set -eu
cfg=$1 res=$2
"${HWGEN:-build/hwgen}" "$cfg" --svh "$res.svh" > /dev/null
rm -f "$res.svh"
v() { sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" "$cfg" | head -1; }
dm=$(v dm) dn=$(v dn) dk=$(v dk) lanes=$(v res_lanes)
printf 'lut %d\nff %d\nbram18 %d\ndsp %d\n' $((dm * dn * dk * 3 + 1000)) $((dm * dn * 40 + 500)) \
  $((2 * dm + 2 * dn + 4)) "$lanes" > "$res.tmp"
mv "$res.tmp" "$res"
echo "$(sed -n 's/^name: //p' "$cfg")" >> "${STANDIN_CALLS:-/dev/null}"
