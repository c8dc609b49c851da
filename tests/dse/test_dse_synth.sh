#!/bin/bash
# `make test-dse-synth` (sw/dse/dse.mk): the synthesis phase of `brecq dse` on configs/dse/small.yaml
# with `synth_rows: front`, yosys replaced by tests/dse/synth_standin.sh (BQ_DSE_SYNTH_SCRIPT; it
# checks that hwgen accepts each config YAML brecq dse writes):
#   a. serial: every config of a front row has "synth" in dse.json, one stand-in run per distinct
#      config, report.md has the measured-vs-model table;
#   b. a rerun runs no synthesis and keeps dse.json's bytes;
#   c. mpirun -np 2 (from a's sensitivity cache): same bytes;
#   d. a failing script: non-zero exit, one line naming its log.
# usage: tests/dse/test_dse_synth.sh BRECQ   (MPIRUN as in test_dse.sh; needs build/hwgen)
set -u
B=${1:-build/brecq}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "test-dse-synth: FAILED ($1)"; [ -f "${2:-/dev/null}" ] && tail -5 "$2"; exit 1; }
spec() { { sed "s|^out: .*|out: $1|" configs/dse/small.yaml; echo "synth_rows: front"; } > "$1.yaml"; echo "$1.yaml"; }
export BQ_DSE_SYNTH_SCRIPT=$PWD/tests/dse/synth_standin.sh HWGEN=$PWD/build/hwgen STANDIN_CALLS=$T/calls
start=$(date +%s)
"$B" dse "$(spec "$T/a")" > "$T/a.out" 2> "$T/a.err" || fail "serial run: exit $?" "$T/a.err"
# configs of the front rows (front_lut or front_bram true)
want=$(sed -n '/"points": \[/,/^  \]/p' "$T/a/dse.json" | grep -E '"front_(lut|bram)": true' |
       grep -o '"config": "[^"]*"' | sort -u | wc -l)
got=$(grep -c '"synth": {"lut": [0-9]*' "$T/a/dse.json")
calls=$(wc -l < "$T/calls")
[ "$want" -gt 0 ] && [ "$got" = "$want" ] && [ "$calls" = "$want" ] ||
  fail "$want front configs, $got with synth in dse.json, $calls stand-in runs"
grep -q "synthesis: $want configs, $want to run" "$T/a.err" || fail "first run's synthesis line" "$T/a.err"
grep -q "^## Synthesis" "$T/a/report.md" || fail "report.md has no synthesis table"
cp "$T/a/dse.json" "$T/a.json"
"$B" dse "$T/a.yaml" > /dev/null 2> "$T/a2.err" || fail "rerun: exit $?" "$T/a2.err"
[ "$(wc -l < "$T/calls")" = "$want" ] || fail "rerun ran the synthesis script again" "$T/a2.err"
grep -q "synthesis: $want configs, 0 to run, $want finished earlier" "$T/a2.err" || fail "rerun's synthesis line" "$T/a2.err"
cmp -s "$T/a.json" "$T/a/dse.json" || fail "rerun changed dse.json"

mkdir -p "$T/c"; cp -r "$T/a/sens" "$T/c/"
$MPIRUN -np 2 -x BQ_DSE_SYNTH_SCRIPT -x HWGEN -x STANDIN_CALLS "$B" dse "$(spec "$T/c")" > "$T/c.out" 2> "$T/c.err" ||
  fail "mpirun -np 2: exit $?" "$T/c.err"
grep -q -- "synthesis .* -> rank 1" "$T/c.err" || fail "mpirun -np 2 did not hand out synthesis jobs" "$T/c.err"
for f in dse.json report.md; do cmp -s "$T/a/$f" "$T/c/$f" || fail "mpirun -np 2: $f differs from the serial run's"; done

mkdir -p "$T/d"; cp -r "$T/a/sens" "$T/d/"
printf '#!/bin/sh\necho "yosys: out of memory" >&2\nexit 3\n' > "$T/bad.sh"; chmod +x "$T/bad.sh"
rc=0; BQ_DSE_SYNTH_SCRIPT=$T/bad.sh "$B" dse "$(spec "$T/d")" > /dev/null 2> "$T/d.err" || rc=$?
[ $rc != 0 ] && [ "$(grep -c 'synthesis of .*bad.sh) failed (exit 3); its output is in .*\.log' "$T/d.err")" = 1 ] ||
  fail "failing synthesis script: exit $rc" "$T/d.err"
[ ! -e "$T/d/dse.json" ] || fail "failing synthesis script: dse.json written anyway"
echo "test-dse-synth: passed ($want configs synthesised by the stand-in, rerun runs none, mpirun -np 2 same bytes, failing script one line; $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
