#!/bin/sh
# test_selftest.sh SIM HW_YAML QMODEL OUTDIR BOARD [ASAN_BOARD] -- the package self-test driver
# (sim/bq_selftest.c, docs/bringup.md "The self-test driver") in simulation, through the board's
# own register protocol: SIM is a verilated binary whose host program dispatches on --selftest
# (cosim_axi: bq_acc_mmio over AXI4-Lite), HW_YAML the config it was built from.
#   1. a package of QMODEL for HW_YAML with 2 self-test images replays with 0 mismatches and 0
#      cycle differences (every layer's CYCLES = the package's `cycles`), selftest.json written;
#   2. an expected `out` bit flipped in tests.bin, CRCs recomputed (pkg_rehash.py ... out): exit 1
#      naming the layer;
#   3. a byte of tests.bin flipped without the CRCs: refused, exit 2, one line naming the part;
#   4. a package of another config (hw.hash differs): refused, exit 2, "rebuild";
#   5. BOARD (and ASAN_BOARD, the ASan+UBSan build): a missing device is one line, exit 2, and the
#      binary holds no scheduler / lowering / integer reference / latency model symbol.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u
SIM=$1; HW=$2; Q=$3; OUT=$4; BOARD=$5; ABOARD=${6:-}
BRECQ=${BRECQ:-build/brecq}
L=${SELFTEST_LAYER:-s1b1_conv1}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-selftest: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-selftest: FAIL $1"; }
num() { sed -n "s/.*\"$2\": \([-0-9.]*\).*/\1/p" "$1" | head -1; }
rm -rf "$OUT"; mkdir -p "$OUT/run"
t0=$(date +%s)

# 1. the whole package: 2 images x every accelerator layer
if ! nice -n 10 "$BRECQ" export --quant "$Q" --hw "$HW" --tests 2 --out "$OUT/pkg" > "$OUT/export.log" 2>&1; then
    bad "brecq export (see $OUT/export.log)"; echo "test-selftest: $pass passed, $fail failed"; exit 1
fi
nl=$(grep -c '{"op": "layer"' "$OUT/pkg/manifest.json")
t1=$(date +%s)
nice -n 10 "$SIM" --selftest --package "$OUT/pkg" --out "$OUT/run" -v > "$OUT/run.log" 2>&1
rc=$?
t2=$(date +%s)
grep '^selftest: accelerator\|^selftest: [0-9]* images' "$OUT/run.log"
j=$OUT/run/selftest.json
if [ $rc = 0 ] && grep -q "^selftest: 2 images x $nl layers: 0 mismatches, 0 cycle differences;" "$OUT/run.log" &&
   grep -q "ideal memory: CYCLES checked" "$OUT/run.log" && [ "$(num "$j" layer_runs)" = $((2 * nl)) ] &&
   [ "$(num "$j" mismatches)" = 0 ] && [ "$(num "$j" cycle_differences)" = 0 ] && [ "$(num "$j" pred_mismatches)" = 0 ]; then
    ok "2 images x $nl layers replayed from the package: 0 mismatches, 0 cycle differences ($((t2 - t1)) s)"
else
    bad "replay of $OUT/pkg (exit $rc; see $OUT/run.log)"
fi

# 2. an expected output bit flipped, hashes recomputed: the comparison catches it
cp -r "$OUT/pkg" "$OUT/pkg_out"
python3 tests/cosim/pkg_rehash.py "$OUT/pkg_out" "$L" 0 0 out
nice -n 10 "$SIM" --selftest --package "$OUT/pkg_out" --images 1 --layer "$L" > "$OUT/out.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "^selftest: MISMATCH image 0 (test #0) step [0-9]*/$nl layer '$L': 1 of" "$OUT/out.log"; then
    ok "a flipped expected 'out' bit with recomputed CRCs: exit 1 naming '$L'"
else
    bad "flipped 'out' of '$L' (exit $rc, want 1; see $OUT/out.log)"
fi

# 3. a flipped byte without the CRCs: refused before anything runs, naming the part
cp -r "$OUT/pkg" "$OUT/pkg_crc"
python3 - "$OUT/pkg_crc" "$L" <<'EOF'
import json, sys
pkg, name = sys.argv[1], sys.argv[2]
man = json.load(open(pkg + "/manifest.json"))
li = [l["index"] for l in man["layers"] if l["name"] == name][0]
r = [t for t in man["tests"][0]["layers"] if t["layer"] == li][0]["out"]
b = bytearray(open(pkg + "/tests.bin", "rb").read())
b[r["offset"] + 3] ^= 0x10
open(pkg + "/tests.bin", "wb").write(b)
EOF
li=$(python3 -c "import json,sys; print([l['index'] for l in json.load(open(sys.argv[1]))['layers'] if l['name'] == sys.argv[2]][0])" "$OUT/pkg_crc/manifest.json" "$L")
"$SIM" --selftest --package "$OUT/pkg_crc" > "$OUT/crc.log" 2> "$OUT/crc.err"
rc=$?
if [ $rc = 2 ] && [ "$(wc -l < "$OUT/crc.err")" = 1 ] &&
   grep -q "pkg_crc/tests.bin: CRC-32 of 'tests\[0\].layers\[$li\].out' is .* (corrupted)" "$OUT/crc.err"; then
    ok "a flipped byte without CRCs: exit 2, one line naming tests.bin 'tests[0].layers[$li].out'"
else
    bad "corrupted tests.bin (exit $rc, want 2; $(cat "$OUT/crc.err"))"
fi

# 4. a package for another config: the accelerator's CONFIG_HASH differs
python3 - "$OUT/pkg" "$OUT/pkg_hash" <<'EOF'
import shutil, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
t = open(dst + "/manifest.json").read()
i = t.index('"hash": "') + 9
t = t[:i] + ("0" if t[i] != "0" else "1") + t[i + 1:]
cut = t.index('  "manifest_crc32": ')
t = t[:cut] + '  "manifest_crc32": "%08x"\n}\n' % (zlib.crc32(t[:cut].encode()) & 0xFFFFFFFF)
open(dst + "/manifest.json", "w").write(t)
EOF
"$SIM" --selftest --package "$OUT/pkg_hash" > "$OUT/hash.log" 2> "$OUT/hash.err"
rc=$?
if [ $rc = 2 ] && [ "$(wc -l < "$OUT/hash.err")" = 1 ] && grep -q "register CONFIG_HASH_.* rebuild the accelerator for this config" "$OUT/hash.err"; then
    ok "a package of another config: exit 2, one line ($(cut -c1-80 "$OUT/hash.err")...)"
else
    bad "config hash check (exit $rc, want 2; $(cat "$OUT/hash.err"))"
fi

# 5. the board program: missing device; no model code in the binary
for b in "$BOARD" $ABOARD; do
    "$b" --dev /dev/uio987 --mem-base 0x38000000 --mem-size 0x4000000 --package "$OUT/pkg" > "$OUT/board.out" 2> "$OUT/board.err"
    rc=$?
    if [ $rc = 2 ] && [ "$(wc -l < "$OUT/board.err")" = 1 ] && grep -q "^selftest_board: /dev/uio987: No such file or directory" "$OUT/board.err"; then
        ok "$b: missing device, one line, exit 2"
    else
        bad "$b missing device (exit $rc): $(cat "$OUT/board.err")"
    fi
done
syms=$(nm "$BOARD" | grep -E ' [TtDdBbRr] (bq_lower|bq_intref|bq_intnet|bq_sched|bq_latency|bq_qmodel|bq_export|bq_pack|bq_hwcfg|bq_cosim)' | head -3)
if nm "$BOARD" | grep -q ' T bq_selftest_main$' && [ -z "$syms" ]; then
    ok "$BOARD holds bq_selftest_main and no lowering/scheduler/integer reference/latency model/export symbol"
else
    bad "$BOARD symbols: $syms"
fi

echo "test-selftest: $pass passed, $fail failed ($(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
[ $fail = 0 ]
