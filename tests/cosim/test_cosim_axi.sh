#!/bin/sh
# test_cosim_axi.sh COSIM_AXI HW_YAML QMODEL OUTDIR -- the co-simulation through the AXI shell
# (docs/cosim.md "Through the AXI shell"), one test image of the network on tiny:
#   1. fixed-latency AXI memory: bit-exact, CYCLES of every layer equal to the latency model of the
#      config with memory.interface: axi, every other counter exact (the three idle counters may
#      exceed the model by one equal amount: run stays set while the host polls; bq_acc.h);
#   2. random latency (seeded; 0..J extra cycles per burst, each slave READY/VALID dropped with
#      probability 25 %, at most S in a row): bit-exact, and every layer's CYCLES between the
#      fixed-latency model and the latency model with the worst-case terms Lr + 1 + J + 2S,
#      Lw + J + 2S, Rr + S, Rw + S (docs/hw_rtl.md "AXI shell"; `brecq latency` on a worst-case YAML);
#   3. the checks can fail: the random run with --strict fails on the counters (exit 1); a flipped
#      weight bit fails naming its layer; a bad plusarg is exit 2 naming it.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u
SIM=$1; HW=$2; Q=$3; OUT=$4
BRECQ=${BRECQ:-build/brecq}
J=8; S=3; STALL=25; SEED=${AXI_SEED:-7}
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-cosim-axi: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-cosim-axi: FAIL $1"; }
num() { sed -n "s/.*\"$2\": \([-0-9.]*\).*/\1/p" "$1" | head -1; }
mkdir -p "$OUT"
t0=$(date +%s)

# 1. fixed latency: strict
d=$OUT/fixed
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$SIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name axi_fixed --no-trace > "$d/log" 2>&1
rc=$?
tail -2 "$d/log"
j=$d/cosim_report.json
if [ $rc = 0 ] && grep -q "strict mode" "$d/log" && [ "$(num "$j" mismatches)" = 0 ] &&
   [ "$(num "$j" cycle_mismatches)" = 0 ] && [ "$(num "$j" counter_mismatches)" = 0 ] &&
   [ "$(num "$j" worst_cycle_error)" = 0 ] && grep -q ' 0 protocol errors, ERR 0x0' "$d/log"; then
    ok "fixed latency: bit-exact, every layer's CYCLES and counters equal to the latency model"
else
    bad "fixed latency (exit $rc; see $d/log)"
fi

# 2. random latency: bits exact, cycles inside [fixed model, worst-case model]
d=$OUT/random
mkdir -p "$d"; rm -f "$d/cosim_report.json"
nice -n 10 "$SIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name axi_random --no-trace \
    +axi_jitter=$J +axi_stall=$STALL +axi_max_run=$S +axi_seed=$SEED > "$d/log" 2>&1
rc=$?
tail -2 "$d/log"
j=$d/cosim_report.json
if [ $rc = 0 ] && grep -q "bits-only mode" "$d/log" && [ "$(num "$j" mismatches)" = 0 ] &&
   [ "$(num "$j" logit_mismatches)" = 0 ] && grep -q ' 0 protocol errors, ERR 0x0' "$d/log"; then
    ok "random latency (J $J, stall $STALL %, S $S, seed $SEED): bit-exact"
else
    bad "random latency bits (exit $rc; see $d/log)"
fi
# the worst-case config: the slave's latencies + J + 2S, its beat intervals + S (the shell's +1
# read cycle comes from memory.interface: axi, as in the fixed model)
w=$OUT/worst.yaml
wb=$(( $(sed -n 's/^ *width_bits: *\([0-9]*\).*/\1/p' "$HW") / 8 ))
worst_bpc() {   # KEY: bytes per cycle b with ceil(wb / b) = ceil(wb / YAML's) + S, exactly
    b0=$(sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" "$HW")
    r=$(( (wb + b0 - 1) / b0 + S )); b=$(( (wb + r - 1) / r ))
    [ $(( (wb + b - 1) / b )) = $r ] && echo $b
}
br=$(worst_bpc read_bytes_per_cycle); bw=$(worst_bpc write_bytes_per_cycle)
if [ -z "$br" ] || [ -z "$bw" ]; then
    bad "no whole bytes-per-cycle value gives the worst-case beat interval for $HW"
else
    sed -e "s/^\( *read_latency: *\)\([0-9]*\)/echo \"\1\$((\2 + $J + 2 * $S))\"/e" \
        -e "s/^\( *write_latency: *\)\([0-9]*\)/echo \"\1\$((\2 + $J + 2 * $S))\"/e" \
        -e "s/^\( *read_bytes_per_cycle: *\)[0-9]*/\1$br/" -e "s/^\( *write_bytes_per_cycle: *\)[0-9]*/\1$bw/" \
        "$HW" > "$w"
    "$BRECQ" latency --model "$Q" --hw "$w" --report "$OUT/worst.json" > "$OUT/worst.log" 2>&1 ||
        bad "brecq latency on $w (see $OUT/worst.log)"
    # name rtl model worst, one line per accelerator layer
    sed -n 's/.*{"name": "\([^"]*\)", "on": "accelerator".*"rtl_cycles": \([0-9]*\), "model_cycles": \([0-9]*\).*/\1 \2 \3/p' \
        "$j" > "$OUT/rtl.txt"
    sed -n 's/.*{"name": "\([^"]*\)",.*"cycles": \([0-9]*\), "us".*/\1 \2/p' "$OUT/worst.json" > "$OUT/worst.txt"
    if awk 'NR == FNR { w[$1] = $2; next }
            { n++; if (!($1 in w) || $2 < $3 || $2 > w[$1]) { bad++; if (bad <= 3) printf "  %s: %d cycles outside [%d, %s]\n", $1, $2, $3, ($1 in w) ? w[$1] : "?" }
              r = $2 / $3; if (r > rmax) rmax = r; f = (w[$1] > $3) ? ($2 - $3) / (w[$1] - $3) : 0; if (f > fmax) fmax = f }
            END { printf "  %d layers: at most %.3f x the fixed-latency cycles, %.2f of the way to the worst case\n", n, rmax, fmax;
                  exit (n < 3 || bad > 0) }' "$OUT/worst.txt" "$OUT/rtl.txt"; then
        ok "random latency: every layer's CYCLES between the fixed-latency and the worst-case model"
    else
        bad "random latency cycle bound (see $OUT/rtl.txt, $OUT/worst.txt)"
    fi
fi

# 3. the checks can fail
l2=$(sed -n 2p "$OUT/rtl.txt" | cut -d' ' -f1)
d=$OUT/strict_random
mkdir -p "$d"
nice -n 10 "$SIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name axi_strict --no-trace --strict \
    --until "$l2" +axi_jitter=$J +axi_stall=$STALL +axi_max_run=$S +axi_seed=$SEED > "$d/log" 2>&1
rc=$?
if [ $rc = 1 ] && [ "$(num "$d/cosim_report.json" mismatches)" = 0 ]; then
    ok "random latency with --strict: bits exact, fails on the counters (exit 1)"
else
    bad "random latency --strict (exit $rc, want 1; see $d/log)"
fi
d=$OUT/fault
mkdir -p "$d"
nice -n 10 "$SIM" --hw "$HW" --qmodel "$Q" --images 1 --out "$d" --name axi_fault --no-trace \
    --fault "weight:$l2:0" --until "$l2" > "$d/log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "first mismatch: image 0, layer '$l2'" "$d/log"; then
    ok "a weight bit flipped in '$l2': fails through the shell and names the layer"
else
    bad "fault through the shell (exit $rc, want 1 naming '$l2'; see $d/log)"
fi
"$SIM" --hw "$HW" --qmodel "$Q" +axi_stall=95 > "$OUT/badarg.log" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "cosim_axi: +axi_stall=95: want +axi_stall=N with N in \[0, 90\]" "$OUT/badarg.log"; then
    ok "+axi_stall=95 refused (exit 2, names the plusarg and the range)"
else
    bad "bad plusarg (exit $rc, want 2; see $OUT/badarg.log)"
fi

echo "test-cosim-axi: $pass passed, $fail failed ($(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
[ $fail = 0 ]
