#!/bin/sh
# test_selftest_v3.sh SIM HW_YAML QMODEL OUTDIR -- the self-test driver on a whole-network package
# (format version 3, docs/formats.md "Whole-network package", docs/bringup.md): SIM a verilated v2
# simulator (build/sim/tiny_v2/cosim), HW_YAML its config (configs/hw/tiny_v2.yaml).
#   1. brecq export writes version 3 for the v2 config and `brecq export --check` passes (every
#      layer of test 0 recomputed);
#   2. the self-test: 2 images, each one start of the whole program, every layer's tensor equal,
#      CYCLES = the package's `cycles`, logits and argmax equal, selftest.json says pass;
#   3. a real expected byte of one layer's tensor flipped, CRCs fixed: the check's recompute names
#      the layer (exit 1), the self-test reports a MISMATCH naming it (exit 1);
#   4. a byte of tests.bin flipped without the CRCs: refused, exit 2, one line naming the range;
#   5. version 4 (manifest CRC fixed): refused, exit 2, one line.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u
SIM=$1; HW=$2; Q=$3; OUT=$4
BRECQ=${BRECQ:-build/brecq}
L=${SELFTEST_LAYER:-s1b1_conv2}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-selftest-v3: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-selftest-v3: FAIL $1"; }
rm -rf "$OUT"; mkdir -p "$OUT/run"

# rehash.py PKG LAYER|"" BYTE: flip bit 0 of byte BYTE of tests[0].layers[LAYER].out (a real
# byte: channel 0 of pixel BYTE), or with LAYER "" of tests.bin at BYTE without fixing any CRC;
# LAYER "version": version 4. Then the range's, the file's and the manifest's CRC-32s.
cat > "$OUT/rehash.py" <<'EOF'
import json, re, sys, zlib
pkg, layer, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
mp = pkg + "/manifest.json"
text = open(mp).read()
def crc(b): return "%08x" % (zlib.crc32(b) & 0xffffffff)
def fix_manifest(t):
    i = t.index('  "manifest_crc32": "')
    return t[:i] + '  "manifest_crc32": "%s"\n}\n' % crc(t[:i].encode())
if layer == "version":
    open(mp, "w").write(fix_manifest(text.replace('"version": 3,', '"version": 4,', 1))); sys.exit(0)
tb = bytearray(open(pkg + "/tests.bin", "rb").read())
if layer == "":
    tb[at] ^= 1; open(pkg + "/tests.bin", "wb").write(tb); sys.exit(0)
man = json.loads(text)
li = [l["name"] for l in man["layers"]].index(layer)
cs = man["memory"]["tensors"][1 + li]["cs"]
r = man["tests"][0]["layers"][li]["out"]
old = r["crc32"]
tb[r["offset"] + at * cs] ^= 1
new = crc(bytes(tb[r["offset"]:r["offset"] + r["size"]]))
fold = [f for f in man["files"] if f["name"] == "tests.bin"][0]["crc32"]
text = text.replace('"crc32": "%s"' % old, '"crc32": "%s"' % new, 1)
text = text.replace('"crc32": "%s", "hex": "tests.hex"' % fold, '"crc32": "%s", "hex": "tests.hex"' % crc(bytes(tb)), 1)
open(pkg + "/tests.bin", "wb").write(tb)
open(mp, "w").write(fix_manifest(text))
EOF

t0=$(date +%s)
# 1. export and check
if nice -n 10 "$BRECQ" export --quant "$Q" --hw "$HW" --tests 2 --out "$OUT/pkg" > "$OUT/export.log" 2>&1 &&
   grep -q '"version": 3,' "$OUT/pkg/manifest.json" && "$BRECQ" export --check "$OUT/pkg" > "$OUT/check.log" 2>&1 &&
   grep -q "ok (version 3:" "$OUT/check.log"; then
    ok "version 3 package written and checked ($(tail -1 "$OUT/check.log" | sed 's/.*(version 3: //; s/)$//'))"
else
    bad "export / check of a version 3 package (see $OUT/export.log, $OUT/check.log)"
    echo "test-selftest-v3: $pass passed, $fail failed"; exit 1
fi
nl=$(grep -c '{"index": ' "$OUT/pkg/manifest.json")
cyc=$(sed -n 's/^  "cycles": \([0-9]*\),$/\1/p' "$OUT/pkg/manifest.json")

# 2. the self-test: one start per image
t1=$(date +%s)
nice -n 10 "$SIM" --selftest --package "$OUT/pkg" --out "$OUT/run" > "$OUT/run.log" 2>&1
rc=$?
t2=$(date +%s)
starts=$(grep -c "one start, CYCLES $cyc (package $cyc)$" "$OUT/run.log")
if [ $rc = 0 ] && [ "$starts" = 2 ] &&
   grep -q "^selftest: 2 images x $nl layers: 0 mismatches, 0 cycle differences; 0 predictions and 0 logits differ" "$OUT/run.log" &&
   grep -q '"pass": true, "package_version": 3' "$OUT/run/selftest.json"; then
    ok "2 images x $nl layers, one start each: every tensor equal, CYCLES $cyc = the package's ($((t2 - t1)) s)"
else
    bad "self-test of the version 3 package: rc $rc, $starts starts with CYCLES $cyc (see $OUT/run.log)"
fi

# 3. a real expected byte flipped, CRCs fixed: the check's recompute and the self-test name the layer
cp -r "$OUT/pkg" "$OUT/flip"
python3 "$OUT/rehash.py" "$OUT/flip" "$L" 3
"$BRECQ" export --check "$OUT/flip" > "$OUT/flip_check.log" 2>&1; rc1=$?
nice -n 10 "$SIM" --selftest --package "$OUT/flip" --images 1 > "$OUT/flip.log" 2>&1; rc2=$?
if [ $rc1 = 1 ] && grep -q "tests.bin: layer '$L': recomputed output" "$OUT/flip_check.log" &&
   [ $rc2 = 1 ] && grep -q "MISMATCH image 0 (test #0) layer '$L': 1 of" "$OUT/flip.log"; then
    ok "a flipped expected byte of '$L' (CRCs fixed): the check's recompute and the self-test name the layer"
else
    bad "flipped expected byte: check rc $rc1, self-test rc $rc2 (see $OUT/flip_check.log, $OUT/flip.log)"
fi

# 4. a byte flipped without the CRCs: exit 2, one line naming the range
cp -r "$OUT/pkg" "$OUT/crc"
off=$(python3 -c "import json; print(json.load(open('$OUT/crc/manifest.json'))['tests'][1]['layers'][2]['out']['offset'] + 5)")
python3 "$OUT/rehash.py" "$OUT/crc" "" "$off"
"$SIM" --selftest --package "$OUT/crc" > "$OUT/crc.log" 2>&1; rc=$?
if [ $rc = 2 ] && [ "$(grep -c '^selftest: ' "$OUT/crc.log")" = 1 ] && grep -q "CRC-32 of 'tests\[1\].layers\[2\].out'" "$OUT/crc.log"; then
    ok "a corrupted tests.bin byte: exit 2, one line naming tests[1].layers[2].out"
else
    bad "corrupted byte: rc $rc (see $OUT/crc.log)"
fi

# 5. an unknown version: exit 2, one line
cp -r "$OUT/pkg" "$OUT/ver"
python3 "$OUT/rehash.py" "$OUT/ver" version 0
"$SIM" --selftest --package "$OUT/ver" > "$OUT/ver.log" 2>&1; rc=$?
"$BRECQ" export --check "$OUT/ver" > "$OUT/ver_check.log" 2>&1; rc1=$?
if [ $rc = 2 ] && [ "$(grep -c '^selftest: ' "$OUT/ver.log")" = 1 ] && grep -q "field 'version'" "$OUT/ver.log" &&
   [ $rc1 = 1 ] && grep -q "field 'version' is 4" "$OUT/ver_check.log"; then
    ok "version 4: the self-test and the check refuse it in one line"
else
    bad "version 4: self-test rc $rc, check rc $rc1 (see $OUT/ver.log, $OUT/ver_check.log)"
fi

echo "test-selftest-v3: $pass passed, $fail failed ($(( $(date +%s) - t0 )) s)"
[ $fail = 0 ]
