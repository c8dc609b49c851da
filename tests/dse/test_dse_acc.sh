#!/bin/bash
# `make test-dse-acc` (sw/dse/dse.mk): the accuracy phase of `brecq dse` on configs/dse/small_acc.yaml
# (small.yaml + BRECQ with the 10+3-iteration recipe on the best row per budget, 200 test images):
#   a. serial from scratch: every best row of dse.json has top1_pct, one .top1 per distinct
#      allocation, the report has the top-1 column and the top-1 plot;
#   b. a rerun runs no unit and no accuracy job, and dse.json keeps its bytes;
#   c. mpirun -np 2 from a's sensitivity cache (units and accuracy jobs recomputed): same bytes.
# usage: tests/dse/test_dse_acc.sh BRECQ   (MPIRUN: the mpirun command line, see dse.mk)
set -u
B=${1:-build/brecq}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "test-dse-acc: FAILED ($1)"; [ -f "${2:-/dev/null}" ] && tail -5 "$2"; exit 1; }
spec() { sed "s|^out: .*|out: $1|" configs/dse/small_acc.yaml > "$1.yaml"; echo "$1.yaml"; }
start=$(date +%s)
"$B" dse "$(spec "$T/a")" > "$T/a.out" 2> "$T/a.err" || fail "serial run: exit $?" "$T/a.err"
# the best rows (after "best": [) all carry top1_pct
best=$(sed -n '/"best": \[/,/^  \]/p' "$T/a/dse.json" | grep -c '"model"')
withtop=$(sed -n '/"best": \[/,/^  \]/p' "$T/a/dse.json" | grep -c '"top1_pct": [0-9.]*}')
[ "$best" = 2 ] && [ "$withtop" = 2 ] || fail "best rows: $best, with top1_pct: $withtop (want 2 and 2)"
nalloc=$(sed -n '/"best": \[/,/^  \]/p' "$T/a/dse.json" | grep -o '"alloc": "[0-9a-f]*"' | sort -u | wc -l)
ntop=$(ls "$T/a/brecq/"*.top1 | wc -l)
[ "$ntop" = "$nalloc" ] || fail "$ntop .top1 files for $nalloc distinct best allocations"
grep -q "accuracy: $nalloc distinct allocations, $nalloc to run" "$T/a.err" || fail "first run's accuracy line" "$T/a.err"
grep -q "int top-1 %" "$T/a/report.md" || fail "report.md has no top-1 column"
[ -s "$T/a/fres20_top1.svg" ] || fail "no fres20_top1.svg"
cp "$T/a/dse.json" "$T/a.json"
"$B" dse "$T/a.yaml" > /dev/null 2> "$T/a2.err" || fail "rerun: exit $?" "$T/a2.err"
grep -q "10 units, 0 to run, 10 finished earlier" "$T/a2.err" || fail "rerun recomputed points" "$T/a2.err"
grep -q "accuracy: $nalloc distinct allocations, 0 to run, $nalloc finished earlier" "$T/a2.err" ||
  fail "rerun recomputed accuracy jobs" "$T/a2.err"
cmp -s "$T/a.json" "$T/a/dse.json" || fail "rerun changed dse.json"

mkdir -p "$T/c"; cp -r "$T/a/sens" "$T/c/"
$MPIRUN -np 2 "$B" dse "$(spec "$T/c")" > "$T/c.out" 2> "$T/c.err" || fail "mpirun -np 2: exit $?" "$T/c.err"
grep -q -- "accuracy fres20 .* -> rank 1" "$T/c.err" || fail "mpirun -np 2 did not hand out accuracy jobs" "$T/c.err"
for f in dse.json report.md fres20_top1.svg; do
  cmp -s "$T/a/$f" "$T/c/$f" || fail "mpirun -np 2: $f differs from the serial run's"
done
echo "test-dse-acc: passed ($nalloc BRECQ+top-1 jobs, rerun computes nothing, mpirun -np 2 same bytes; $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
