#!/bin/sh
# test_cosim.sh COSIM QMODEL OUTDIR [BRECQ] -- the short co-simulation of `make test` plus fault
# injection and package checks.
#   1. one test image through the whole network on the simulator, run from an export package (one
#      self-test image): must be bit-exact and cycle-exact (exit 0), with both reports written, no
#      package difference and every accelerator layer compared with tests.bin too.
#   2. fault injection: one bit flipped in (a) a packed weight, (b) a requant multiplier, (c) an
#      execute instruction of a chosen layer must make the run fail (exit 1) and the first mismatch
#      must name that layer; (d) a flipped wait bit deadlocks the layer: the time-out must fail it.
#      The runs stop after the faulty layer (--until) to stay short.
#   3. a fault that changes no output (a weight bit in the stem's K padding) passes with a warning
#      line and "effect": "none" in the JSON; a fault bit or layer that does not exist is exit 2.
#   4. waveforms on request: --trace LAYER (whole run) and --trace LAYER:FROM:TO (the FST header's
#      time span is TO-FROM cycles of 10 ns); an unknown layer is exit 2.
#   5. bits-only: with a memory slower than the YAML (+mem_read_extra=3) the strict run fails on the
#      counters only, the --bits-only run passes with the counters reported as information.
#   6. export bugs: a package whose weight bit is flipped with every hash recomputed (self-consistent;
#      exported without self-test vectors so `export --check` passes) fails cosim as a bit mismatch
#      naming the layer (the integer reference of the .bqq is independent of the export); with a
#      self-test vector the driver's load-time check refuses it naming the layer; a wrong expected
#      code in tests.bin (hashes recomputed) fails on the self-test comparison; a flipped byte of
#      each part (manifest, weights, requant, programs, tests) is refused naming the part (exit 2).
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u
COSIM=$1; Q=$2; OUT=$3; B=${4:-build/brecq}
HW=${HW_YAML:-configs/hw/tiny.yaml}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-cosim: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-cosim: FAIL $1"; }
mkdir -p "$OUT"

# 1. clean run, from the package
P=$OUT/pkg
rm -rf "$P"
nice -n 10 "$B" export --quant "$Q" --hw "$HW" --tests 1 --out "$P" > "$OUT/export.log" 2>&1 ||
    bad "export of the package (see $OUT/export.log)"
d=$OUT/clean
mkdir -p "$d"; rm -f "$d/cosim_report.json" "$d/cosim_report.md"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name test --package "$P" > "$d/log" 2>&1
rc=$?
tail -3 "$d/log"
nacc=$(grep -c '"on": "accelerator"' "$d/cosim_report.json" 2>/dev/null)
if [ $rc = 0 ] && grep -q '"mismatches": 0,' "$d/cosim_report.json" 2>/dev/null && [ -f "$d/cosim_report.md" ] &&
   grep -q "\"package_diffs\": 0, \"selftest_images\": 1, \"selftest_layers\": $nacc, \"selftest_mismatches\": 0," \
       "$d/cosim_report.json"; then
    ok "one image from the package bit-exact and cycle-exact, $nacc layers also equal tests.bin, reports written"
else
    bad "clean run from the package (exit $rc; see $d/log)"
fi
# layer names of the accelerator layers, in order
layers=$(sed -n 's/.*{"name": "\([^"]*\)", "on": "accelerator".*/\1/p' "$d/cosim_report.json" 2>/dev/null)
nl=$(echo "$layers" | grep -c .)
if [ "$nl" -lt 3 ]; then
    bad "the clean report lists $nl accelerator layers (need >= 3 for the fault tests)"
    echo "test-cosim: $pass passed, $fail failed"; exit 1
fi
l_w=$(echo "$layers" | sed -n 2p)       # a 3x3 conv inside the first stage
l_rq=$(echo "$layers" | sed -n 3p)
l_in=$(echo "$layers" | sed -n 1p)      # the stem

# 2. faults: KIND LAYER BIT
fault() {
    kind=$1; layer=$2; bit=$3
    d=$OUT/fault_${kind}_$bit
    mkdir -p "$d"; rm -f "$d/cosim_report.json"
    nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name "fault_$kind" \
        --fault "$kind:$layer:$bit" --until "$layer" --no-trace > "$d/log" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -q "first mismatch: image 0, layer '$layer'" "$d/log" &&
       grep -q "\"layer\": \"$layer\"" "$d/cosim_report.json"; then
        ok "$kind bit $bit flipped in layer '$layer': cosim fails and names the layer"
    else
        bad "$kind fault in '$layer' (exit $rc, want 1 naming the layer; see $d/log)"
    fi
}
fault weight "$l_w" 0                  # bit 0 of plane 0: weight code of channel 0, k = 0
fault requant "$l_rq" $((4 * 8 + 28))  # bit 28 of m_acc of channel 0 (~25% of its value)
fault instr "$l_in" 48                 # bit 0 of abase of the first execute instruction (wbase faults are
                                       # invisible when its Dm channels have all-zero weights, as on tiny 2x2)
fault instr "$l_w" 9                   # wait1 on the first execute instruction: a deadlock, the
                                       # run must time out (4x the model's cycles) and fail

# 3. faults that change nothing, and faults that cannot be applied
d=$OUT/fault_none
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name fault_none \
    --fault "weight:$l_in:63" --until "$l_in" --no-trace > "$d/log" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "warning: --fault weight:$l_in:63 changed no output" "$d/log" &&
   grep -q '"fault": {"spec": "weight:'"$l_in"':63", "effect": "none"}' "$d/cosim_report.json"; then
    ok "a weight bit in the K padding of '$l_in' changes nothing: warning line and fault.effect none"
else
    bad "no-effect fault (exit $rc, want 0 with a warning; see $d/log)"
fi
refuse() {   # WHAT ARGS...: must exit 2 with one cosim: line naming the problem
    what=$1; shift
    "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$OUT" --no-trace "$@" > "$OUT/refuse.log" 2>&1
    rc=$?
    if [ $rc = 2 ] && grep -q -e "$what" "$OUT/refuse.log"; then ok "refused, naming '$what': $*"
    else bad "$* (exit $rc, want 2 naming '$what'; see $OUT/refuse.log)"; fi
}
refuse "bit 99999999 is outside" --fault "weight:$l_in:99999999"
refuse "no accelerator layer 'nosuch'" --fault weight:nosuch:0
refuse "--trace nosuch: no accelerator layer" --trace nosuch
refuse "TO (5) must be larger than FROM (9)" --trace "$l_in:9:5"

# 4. waveforms on request. fst_span FILE: end - start time of the FST header, in ps
fst_span() {
    s=$(od -An -tx1 -j9 -N8 "$1" | tr -d ' \n'); e=$(od -An -tx1 -j17 -N8 "$1" | tr -d ' \n')
    echo $((0x$e - 0x$s))
}
d=$OUT/trace
mkdir -p "$d"; rm -f "$d"/*.fst "$d/cosim_report.json"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name trace \
    --trace "$l_w:1000:1500" --until "$l_w" > "$d/log" 2>&1
rc=$?
f=$d/trace_$l_w.fst
span=$( [ -f "$f" ] && fst_span "$f" || echo 0)
# 500 cycles of 10 ns = 5,000,000 ps (+- 1 cycle: the window opens and closes at clock edges)
if [ $rc = 0 ] && [ "$span" -ge 4990000 ] && [ "$span" -le 5010000 ] &&
   grep -q "\"trace\": \"$f\"" "$d/cosim_report.json" && grep -q "waveform of layer '$l_w' (image 0, cycles 1000..1500" "$d/log"; then
    ok "--trace $l_w:1000:1500 on a passing layer: $f spans $span ps (500 cycles)"
else
    bad "--trace window (exit $rc, span $span ps; see $d/log)"
fi
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name trace --trace "$l_in" \
    --until "$l_in" > "$d/log2" 2>&1
rc=$?
f=$d/trace_$l_in.fst
cyc=$(sed -n 's/.*{"name": "'"$l_in"'", "on": "accelerator".*"rtl_cycles": \([0-9]*\),.*/\1/p' "$d/cosim_report.json")
span=$( [ -f "$f" ] && fst_span "$f" || echo 0)
# the whole run: reset and queue pre-fill, then the layer's CYCLES
if [ $rc = 0 ] && [ -n "$cyc" ] && [ "$span" -ge $((cyc * 10000)) ] && [ "$span" -le $((cyc * 10000 + 1000000)) ]; then
    ok "--trace $l_in (whole run): $span ps for $cyc cycles"
else
    bad "--trace whole run (exit $rc, span $span ps, CYCLES '$cyc'; see $d/log2)"
fi

# 5. bits-only against a memory that is not the ideal model
d=$OUT/slowmem
mkdir -p "$d/strict" "$d/bits"; rm -f "$d"/*/cosim_report.json
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d/strict" --until "$l_in" --no-trace \
    +mem_read_extra=3 > "$d/strict/log" 2>&1
rs=$?
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d/bits" --until "$l_in" --no-trace \
    --bits-only +mem_read_extra=3 > "$d/bits/log" 2>&1
rb=$?
if [ $rs = 1 ] && grep -q '"mismatches": 0,' "$d/strict/cosim_report.json" &&
   ! grep -q '"counter_mismatches": 0,' "$d/strict/cosim_report.json" &&
   [ $rb = 0 ] && grep -q '"mode": "bits-only"' "$d/bits/cosim_report.json" &&
   ! grep -q '"counter_mismatches": 0,' "$d/bits/cosim_report.json" && grep -q "PASS (bits-only)" "$d/bits/log"; then
    ok "slower memory: strict fails on the counters (bits exact), --bits-only passes and reports them"
else
    bad "bits-only (strict exit $rs want 1, bits-only exit $rb want 0; see $d/*/log)"
fi

# 6. export bugs. A wrong but self-consistent package: only the independent reference sees it.
P0=$OUT/pkg_bug
rm -rf "$P0" "$P0"_t
nice -n 10 "$B" export --quant "$Q" --hw "$HW" --tests 0 --out "$P0" > "$OUT/export0.log" 2>&1 &&
    python3 tests/cosim/pkg_rehash.py "$P0" "$l_w" 0 0 && "$B" export --check "$P0" > "$OUT/check0.log" 2>&1
rc=$?
d=$OUT/pkg_bug_run
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name pkg_bug --package "$P0" \
    --until "$l_w" --no-trace > "$d/log" 2>&1
rb=$?
if [ $rc = 0 ] && [ $rb = 1 ] && grep -q "PACKAGE DIFFERS layer '$l_w': weights: group 0 byte 0" "$d/log" &&
   grep -q "first mismatch: image 0, layer '$l_w'" "$d/log" && grep -q '"package_diffs": 1,' "$d/cosim_report.json"; then
    ok "weight bit flipped with the hashes recomputed (export --check passes): cosim fails naming '$l_w'"
else
    bad "self-consistent export bug (rehash+check exit $rc want 0, cosim exit $rb want 1; see $d/log)"
fi
cp -r "$P" "$P0"_t && python3 tests/cosim/pkg_rehash.py "$P0"_t "$l_w" 0 0
"$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --no-trace --package "$P0"_t > "$OUT/refuse.log" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "tests.bin: layer '$l_w' group 0: recomputed output" "$OUT/refuse.log"; then
    ok "the same bug with a self-test vector: refused at load naming '$l_w'"
else
    bad "self-consistent export bug with tests (exit $rc want 2; see $OUT/refuse.log)"
fi
# a wrong expected output code in tests.bin (hashes recomputed; the checker does not compare a
# vector's codes with its tile-plane `out`): the RTL and the integer reference agree, tests.bin not
rm -rf "$P0"_codes; cp -r "$P" "$P0"_codes && python3 tests/cosim/pkg_rehash.py "$P0"_codes "$l_w" 5 0 codes
d=$OUT/pkg_codes_run
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name pkg_codes --package "$P0"_codes \
    --until "$l_w" --no-trace > "$d/log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "SELF-TEST MISMATCH image 0 layer '$l_w': 1 elements differ" "$d/log" &&
   grep -q '"mismatches": 0,' "$d/cosim_report.json" && grep -q '"selftest_mismatches": 1,' "$d/cosim_report.json"; then
    ok "one expected code of '$l_w' wrong in tests.bin (hashes recomputed): the self-test comparison fails the run"
else
    bad "wrong self-test vector (exit $rc want 1; see $d/log)"
fi
# one flipped byte per part: the driver runs bq_export_check before it loads anything
flip() {   # FILE OFFSET: invert the byte
    v=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf %03o $((255 - v)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null
}
for f in weights.bin requant.bin programs.bin tests.bin; do
    rm -rf "$P0"_c; cp -r "$P" "$P0"_c; flip "$P0"_c/$f 0
    refuse "${P0}_c/$f: CRC-32 of '" --package "$P0"_c
done
rm -rf "$P0"_c; cp -r "$P" "$P0"_c; sed -i '0,/"s_o": /s//"s_o": 9/' "$P0"_c/manifest.json
refuse "${P0}_c/manifest.json: field 'manifest_crc32'" --package "$P0"_c

echo "test-cosim: $pass passed, $fail failed"
[ $fail = 0 ]
