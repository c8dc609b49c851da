#!/bin/sh
# test_cosim.sh COSIM QMODEL OUTDIR -- the short co-simulation of `make test` plus fault injection.
#   1. one test image through the whole network on the simulator: must be bit-exact and
#      cycle-exact (exit 0), with both reports written.
#   2. fault injection: one bit flipped in (a) a packed weight, (b) a requant multiplier, (c) an
#      execute instruction of a chosen layer must make the run fail (exit 1) and the first mismatch
#      must name that layer; (d) a flipped wait bit deadlocks the layer: the time-out must fail it. The runs stop after the faulty layer (--until) to stay short.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u
COSIM=$1; Q=$2; OUT=$3
HW=${HW_YAML:-configs/hw/tiny.yaml}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-cosim: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-cosim: FAIL $1"; }
mkdir -p "$OUT"

# 1. clean run
d=$OUT/clean
mkdir -p "$d"; rm -f "$d/cosim_report.json" "$d/cosim_report.md"
nice -n 10 "$COSIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name test > "$d/log" 2>&1
rc=$?
tail -2 "$d/log"
if [ $rc = 0 ] && grep -q '"mismatches": 0,' "$d/cosim_report.json" 2>/dev/null && [ -f "$d/cosim_report.md" ]; then
    ok "one image bit-exact and cycle-exact, reports written"
else
    bad "clean run (exit $rc; see $d/log)"
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

echo "test-cosim: $pass passed, $fail failed"
[ $fail = 0 ]
