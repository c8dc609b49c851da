#!/bin/sh
# test_cosim_v2.sh COSIM HW_YAML QMODEL OUTDIR [BRECQ] -- the whole-network co-simulation of
# `make test` (docs/cosim.md "Whole networks (ISA v2)"), on a v2 simulator (tiny_v2):
#   1. one test image through the whole network as ONE program (one start), run from its
#      whole-network package (brecq export, format version 3, one self-test image): exit 0,
#      strict; the report says "program": "whole-network", no host layers, every layer 0
#      mismatches, 0 package differences, every layer equal to tests.bin, the network's CYCLES from
#      the RTL equal the latency model's, both reports written.
#   2. faults in the second layer fail the run (exit 1) naming it: a weight bit (with --trace of a
#      500-cycle window inside the layer's span of the one run: the FST spans 500 cycles), abase bit
#      0 of its first execute instruction (the mismatch waveform spans the layer's model cycles),
#      its wait1 bit (a deadlock: the time-out names the layer, whose tensor still holds the 0xA5
#      the driver wrote before the run).
#   3. refusals, exit 2 with one line naming the problem: a missing package, an unknown layer for
#      --fault / --until / --trace, a weight or instruction bit outside the layer.
#   4. export bugs: a weight byte flipped in the package with every CRC recomputed is noted
#      ("PACKAGE DIFFERS") and fails the run naming the layer (reference and tests.bin); a byte
#      flipped without the CRCs is refused at load (exit 2), as is a per-layer package (version 2).
#   5. a model with a max pool (tests/onnx/models/tv_res.onnx, quantized here) has no whole-network
#      program: it runs per layer on the same simulator, bit- and cycle-exact, and the report says
#      why ("program": "per-layer", program_note naming the max pool).
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u
COSIM=$1; HW=$2; Q=$3; OUT=$4; B=${5:-build/brecq}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-cosim-v2: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-cosim-v2: FAIL $1"; }
mkdir -p "$OUT"
num() { sed -n "s/.*\"$2\": \([-0-9]*\).*/\1/p" "$1" | head -1; }

# 1. clean run, from the whole-network package (format version 3, one self-test image)
P=$OUT/pkg
rm -rf "$P"
nice -n 10 "$B" export --quant "$Q" --hw "$HW" --tests 1 --out "$P" > "$OUT/export.log" 2>&1 ||
    bad "export of the version 3 package (see $OUT/export.log)"
d=$OUT/clean
mkdir -p "$d"; rm -f "$d/cosim_report.json" "$d/cosim_report.md"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name test --strict --package "$P" \
    > "$d/log" 2>&1
rc=$?
tail -3 "$d/log"
j=$d/cosim_report.json
nl=$(grep -c '"on": "accelerator", "kind"' "$j" 2>/dev/null)
n0=$(grep '"on": "accelerator", "kind"' "$j" 2>/dev/null | grep -c '"mismatches": 0}')
rtl=$(sed -n 's/.*"network": .*"rtl": {"cycles": \([0-9]*\),.*/\1/p' "$j" 2>/dev/null)
mod=$(sed -n 's/.*"network": .*"model": {"cycles": \([0-9]*\),.*/\1/p' "$j" 2>/dev/null)
if [ $rc = 0 ] && grep -q '"program": "whole-network"' "$j" && grep -q '"host_layers": \[\]' "$j" &&
   [ "$(num "$j" mismatches)" = 0 ] && [ "$(num "$j" cycle_mismatches)" = 0 ] &&
   [ "$(num "$j" counter_mismatches)" = 0 ] && [ "$(num "$j" pred_agree)" = 1 ] &&
   [ "$nl" -ge 3 ] && [ "$n0" = "$nl" ] && [ -n "$rtl" ] && [ "$rtl" = "$mod" ] &&
   [ "$(num "$j" sim_cycles)" = "$rtl" ] && grep -q "all 13 counters equal: yes" "$d/cosim_report.md" &&
   grep -q "\"package_diffs\": 0, \"selftest_images\": 1, \"selftest_layers\": $nl, \"selftest_mismatches\": 0," "$j"; then
    ok "one image, one start, from the package: $nl layers bit-exact and equal to tests.bin, CYCLES $rtl = the model's, 13 counters equal"
else
    bad "clean whole-network run from the package (exit $rc, $n0/$nl layers clean, CYCLES RTL '$rtl' model '$mod'; see $d/log)"
fi
layers=$(sed -n 's/.*{"name": "\([^"]*\)", "on": "accelerator".*/\1/p' "$j" 2>/dev/null)
l2=$(echo "$layers" | sed -n 2p)
[ -n "$l2" ] || { bad "no layer names in $j"; echo "test-cosim-v2: $pass passed, $fail failed"; exit 1; }

# 2. faults. fst_span FILE: end - start time of the FST header, in ps (10 ns cycles)
fst_span() {
    s=$(od -An -tx1 -j9 -N8 "$1" | tr -d ' \n'); e=$(od -An -tx1 -j17 -N8 "$1" | tr -d ' \n')
    echo $((0x$e - 0x$s))
}
# (a) a weight bit of the second layer, with --trace of a 500-cycle window inside that layer's span
d=$OUT/fault_weight
mkdir -p "$d"; rm -f "$d/cosim_report.json" "$d"/*.fst
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name fault --fault "weight:$l2:0" \
    --trace "$l2:1000:1500" > "$d/log" 2>&1
rc=$?
f=$d/trace_$l2.fst
span=$( [ -f "$f" ] && fst_span "$f" || echo 0)
if [ $rc = 1 ] && grep -q "first mismatch: image 0, layer '$l2'" "$d/log" &&
   grep -q "\"first_mismatch\": {\"image\": 0, \"layer\": \"$l2\"" "$d/cosim_report.json" &&
   grep -q '"effect": "output"' "$d/cosim_report.json"; then
    ok "weight bit 0 of '$l2' flipped: the run fails and names the layer"
else
    bad "weight fault in '$l2' (exit $rc, want 1 naming the layer; see $d/log)"
fi
if [ "$span" -ge 4990000 ] && [ "$span" -le 5010000 ] && grep -q "\"trace\": \"$f\"" "$d/cosim_report.json"; then
    ok "--trace $l2:1000:1500 inside the one run: $f spans $span ps (500 cycles)"
else
    bad "--trace window in the whole-network run (span $span ps; see $d/log)"
fi
# (b) bit 0 of abase of the layer's first execute instruction (found in the one program): fails
# naming the layer, and the mismatch waveform is the layer's span (its stand-alone model cycles)
d=$OUT/fault_instr
mkdir -p "$d"; rm -f "$d/cosim_report.json" "$d"/*.fst
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name fault --fault "instr:$l2:48" \
    --until "$l2" > "$d/log" 2>&1
rc=$?
cyc=$(sed -n 's/.*{"name": "'"$l2"'", "on": "accelerator".*"model_cycles_standalone": \([0-9]*\),.*/\1/p' "$j")
span=$( [ -f "$d/mismatch.fst" ] && fst_span "$d/mismatch.fst" || echo 0)
if [ $rc = 1 ] && grep -q "first mismatch: image 0, layer '$l2'" "$d/log" && [ -n "$cyc" ] &&
   [ "$span" -ge $(((cyc - 1) * 10000)) ] && [ "$span" -le $(((cyc + 1) * 10000)) ] &&
   grep -q "\"waveform\": \"$d/mismatch.fst\"" "$d/cosim_report.json"; then
    ok "abase bit 0 of '$l2''s first execute instruction: fails naming it, mismatch.fst = its $cyc cycles"
else
    bad "instruction fault in '$l2' (exit $rc, span $span ps for '$cyc' cycles; see $d/log)"
fi
# (c) its wait1 bit: a deadlock inside the network; the time-out fails the run and the first
# tensor left at 0xA5 names the layer (--max-cycles keeps it short)
d=$OUT/fault_wait
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name fault --fault "instr:$l2:9" \
    --max-cycles 1000000 --no-trace > "$d/log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "time-out after 1000000 cycles (model: [0-9]*); first layer whose output differs: '$l2'" "$d/log" &&
   grep -q "first mismatch: image 0, layer '$l2', .*, got 165" "$d/log" &&
   [ "$(num "$d/cosim_report.json" timeouts)" = 1 ]; then
    ok "wait1 of '$l2''s first execute instruction: time-out, the layer named, its tensor still 0xA5"
else
    bad "deadlock fault in '$l2' (exit $rc; see $d/log)"
fi

# 3. refusals
refuse() {   # WHAT ARGS...: exit 2 with one cosim: line naming the problem
    what=$1; shift
    "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$OUT" --no-trace "$@" > "$OUT/refuse.log" 2>&1
    rc=$?
    if [ $rc = 2 ] && [ "$(grep -c '^cosim: ' "$OUT/refuse.log")" -le 2 ] && grep -q -e "$what" "$OUT/refuse.log"
    then ok "refused, naming '$what': $*"
    else bad "$* (exit $rc, want 2 naming '$what'; see $OUT/refuse.log)"; fi
}
refuse "$OUT/nosuch_package" --package "$OUT/nosuch_package"
refuse "bit 128 is outside what it flips in layer '$l2'" --fault "instr:$l2:128"
refuse "no accelerator layer 'nosuch'" --fault weight:nosuch:0
refuse "bit 99999999 is outside what it flips in layer '$l2'" --fault "weight:$l2:99999999"
refuse "--until nosuch: no layer of that name" --until nosuch
refuse "--trace nosuch: no accelerator layer of that name" --trace nosuch

# 4. export bugs. A package whose weight byte 0 of layer L2 is flipped, every CRC recomputed: the
# driver notes the difference from its own lowering and runs the package's bytes; the RTL then
# differs from the integer reference (and from tests.bin) at that layer. A byte flipped without the
# CRCs is refused at load.
P1=$OUT/pkg_bug
rm -rf "$P1"; cp -r "$P" "$P1"
python3 - "$P1" "$l2" <<'PY'
import json, sys, zlib
pkg, layer = sys.argv[1], sys.argv[2]
mp = pkg + "/manifest.json"
text = open(mp).read()
man = json.loads(text)
def crc(b): return "%08x" % (zlib.crc32(b) & 0xffffffff)
r = [l for l in man["layers"] if l["name"] == layer][0]["weights"]
wb = bytearray(open(pkg + "/weights.bin", "rb").read())
wb[r["offset"]] ^= 1
fold = [f for f in man["files"] if f["name"] == "weights.bin"][0]["crc32"]
text = text.replace('"crc32": "%s"' % r["crc32"], '"crc32": "%s"' % crc(bytes(wb[r["offset"]:r["offset"] + r["size"]])), 1)
text = text.replace('"crc32": "%s", "hex": "weights.hex"' % fold, '"crc32": "%s", "hex": "weights.hex"' % crc(bytes(wb)), 1)
open(pkg + "/weights.bin", "wb").write(wb)
i = text.index('  "manifest_crc32": "')
open(mp, "w").write(text[:i] + '  "manifest_crc32": "%s"\n}\n' % crc(text[:i].encode()))
PY
d=$OUT/pkg_bug_run
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name pkg_bug --package "$P1" \
    --until "$l2" --no-trace > "$d/log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "PACKAGE DIFFERS layer '$l2': weights: byte 0" "$d/log" &&
   grep -q "first mismatch: image 0, layer '$l2'" "$d/log" && grep -q "SELF-TEST MISMATCH image 0 layer '$l2'" "$d/log" &&
   grep -q '"package_diffs": 1,' "$d/cosim_report.json"; then
    ok "weight byte of '$l2' flipped in the package, CRCs recomputed: noted, and the run fails naming the layer"
else
    bad "self-consistent package bug (exit $rc, want 1 naming '$l2'; see $d/log)"
fi
rm -rf "$P1"; cp -r "$P" "$P1"
printf '\377' | dd of="$P1/weights.bin" bs=1 seek=0 conv=notrunc 2> /dev/null
refuse "$P1/weights.bin" --package "$P1"
# a per-layer package (version 2, exported for tiny) on the v2 build
rm -rf "$OUT/pkg_v1"
nice -n 10 "$B" export --quant "$Q" --hw configs/hw/tiny.yaml --tests 1 --out "$OUT/pkg_v1" > "$OUT/export_v1.log" 2>&1
refuse "format version 2 (per layer); a v2 build runs the whole-network package (version 3)" --package "$OUT/pkg_v1"

# 5. no whole-network program (a max pool on the path): the per-layer programs on the v2 RTL
d=$OUT/maxpool
mkdir -p "$d"; rm -f "$d/cosim_report.json"
if nice -n 10 "$B" quantize --model tests/onnx/models/tv_res.onnx --recipe configs/quant/rtn_w4a4.yaml \
       --out "$d/tv_res.bqq" > "$d/quantize.log" 2>&1; then
    nice -n 10 "$COSIM" --hw "$HW" --qmodel "$d/tv_res.bqq" --images 1 --out "$d" --name tv_res > "$d/log" 2>&1
    rc=$?
    j=$d/cosim_report.json
    if [ $rc = 0 ] && grep -q '"program": "per-layer", "program_note": "no whole-network program, the per-layer programs ran instead: .*max pool' "$j" &&
       [ "$(num "$j" mismatches)" = 0 ] && [ "$(num "$j" cycle_mismatches)" = 0 ] && grep -q "Program: per-layer on a v2 build" "$d/cosim_report.md"; then
        ok "a max pool on the path: per-layer programs on the v2 RTL, bit- and cycle-exact, the report says why"
    else
        bad "max-pool model on the v2 build (exit $rc; see $d/log)"
    fi
else
    bad "quantize tv_res.onnx (see $d/quantize.log)"
fi

echo "test-cosim-v2: $pass passed, $fail failed"
[ $fail = 0 ]
