#!/bin/sh
# test_bringup.sh OUTDIR -- runs the worked example of docs/bringup.md exactly as written: the
# shell block between <!-- bringup-example:begin --> and <!-- bringup-example:end -->, with
# `sh -eu` from the repository root and OUT=OUTDIR. Fails if the block is missing or any of its
# commands fails (the doc and the test cannot drift apart).
set -u
OUT=$1
DOC=${BRINGUP_DOC:-docs/bringup.md}   # another copy: to see the test fail
mkdir -p "$OUT"
# the register tables against the code: every BQ_HW_REG_* (generated from the RTL's map) and
# BQ_MMIO_REG_* offset must have its row "| 0xNN | NAME |"
HDR=${BRINGUP_HWPARAMS:-build/gen/tiny/hw_params.h}
regs=$( { sed -n 's/^#define BQ_HW_REG_\([A-Z0-9_]*\) *0x\([0-9A-Fa-f]*\).*/\1 \2/p' "$HDR";
          sed -n 's/^#define BQ_MMIO_REG_\([A-Z]*\) 0x\([0-9A-Fa-f]*\)u$/\1 \2/p' sim/bq_acc_mmio.h; } )
n=0; missing=""
while read -r name off; do
    n=$((n + 1))
    off=$(printf '0x%02X' "0x$off")
    grep -q "^| $off | $name |" "$DOC" || missing="$missing $name@$off"
done <<EOR
$regs
EOR
if [ "$n" -lt 30 ] || [ -n "$missing" ]; then
    echo "test-bringup: FAIL $DOC register tables: $n registers in the code, missing rows:$missing"; exit 1
fi
echo "test-bringup: ok   all $n register offsets of $HDR and sim/bq_acc_mmio.h have their row in $DOC"
script=$OUT/bringup_example.sh
sed -n '/<!-- bringup-example:begin -->/,/<!-- bringup-example:end -->/p' "$DOC" | grep -v '^<!--\|^```' > "$script"
if [ "$(grep -c . "$script")" -lt 5 ]; then
    echo "test-bringup: FAIL the worked example block of $DOC is missing or empty"; exit 1
fi
echo "test-bringup: running the $(grep -vc '^#\|^ ' "$script") commands of $DOC's worked example (log: $OUT/bringup.log)"
if OUT=$OUT SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 nice -n 10 sh -eu "$script" > "$OUT/bringup.log" 2>&1; then
    echo "test-bringup: ok   the worked example of $DOC runs"
else
    echo "test-bringup: FAIL the worked example of $DOC (see $OUT/bringup.log):"; tail -5 "$OUT/bringup.log"; exit 1
fi
