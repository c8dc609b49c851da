#!/bin/sh
# test_bringup.sh OUTDIR -- runs the worked example of docs/bringup.md exactly as written: the
# shell block between <!-- bringup-example:begin --> and <!-- bringup-example:end -->, with
# `sh -eu` from the repository root and OUT=OUTDIR. Fails if the block is missing or any of its
# commands fails (the doc and the test cannot drift apart).
set -u
OUT=$1
DOC=${BRINGUP_DOC:-docs/bringup.md}   # another copy: to see the test fail
mkdir -p "$OUT"
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
