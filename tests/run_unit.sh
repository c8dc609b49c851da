#!/bin/bash
# Runs every unit-test executable given on the command line and prints one summary line that CI
# reads: "unit: N passed, M failed". Exit status is non-zero when any executable failed.
pass=0; fail=0; failed=()
for t in "$@"; do
  if "$t" > "$t.log" 2>&1; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
  grep -E '^\[  (PASSED|FAILED)  \]' "$t.log" | sed "s|^|$(basename "$t"): |"
done
for t in "${failed[@]}"; do echo "---- $t ----"; tail -40 "$t.log"; done
echo "unit: $pass passed, $fail failed"
[ "$fail" = 0 ]
