#!/bin/bash
# tests/data/worked_example.sh BRECQ COSIM_TINY — docs/data.md's worked example runs as written.
# Extracts the one ```sh block of the section "Worked example: a folder of JPEGs and a PyTorch
# model" and runs it with bash in a temporary folder holding what it reads (the committed CNN and
# JPEGs, configs/hw/), with `build/brecq` and `build/sim/edge/cosim` pointing at the binaries under
# test, and three substitutions so it takes seconds (stated in the doc): calib 1024 -> 20 (the
# fixture has 20 images), iters 2000 / act_iters 500 -> 10 / 5, edge -> tiny (the simulator
# `make test` builds). Then checks what the example promises: the label map in fp.json, the
# integer and fake-quant predictions in q.json, a checked package and a passing cosim report.
set -euo pipefail
B=$(realpath "$1"); C=$(realpath "$2"); ROOT=$(pwd)
T=$(mktemp -d /tmp/brecq_worked_example.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "worked_example: FAIL: $*"; exit 1; }

awk '/^## Worked example: a folder of JPEGs/ { on = 1; next } on && /^## / { exit }
     on && /^```sh$/ { blk = 1; next } blk && /^```$/ { blk = 0; next } blk' docs/data.md > "$T/example.sh"
[ -s "$T/example.sh" ] || fail "no sh block in docs/data.md's worked example"
sed -i -e 's/^calib: 1024$/calib: 20\nact_init_batch: 20\nbatch: 20/' -e 's/^iters: 2000$/iters: 10/' -e 's/^act_iters: 500$/act_iters: 5/' \
       -e 's#configs/hw/edge.yaml#configs/hw/tiny.yaml#g' -e 's#build/sim/edge/cosim#build/sim/tiny/cosim#g' "$T/example.sh"
grep -q 'calib: 20' "$T/example.sh" && grep -q 'configs/hw/tiny.yaml' "$T/example.sh" \
    || fail "the substitutions did not apply: the doc's example changed; update this test"
mkdir -p "$T/tests/data" "$T/build/sim/tiny" "$T/configs"
cp -r tests/data/realdata "$T/tests/data/"
cp -r configs/hw "$T/configs/"
ln -s "$B" "$T/build/brecq"
ln -s "$C" "$T/build/sim/tiny/cosim"
(cd "$T" && bash example.sh > example.out 2>&1) || { tail -5 "$T/example.out"; fail "the example stopped (output above)"; }
cd "$T"
grep -q '"classes": \["0_tshirt_top", "1_trouser"' fp.json || fail "label map missing in fp.json: $(cat fp.json)"
[ -f my.bqq ] && [ -f pkg/manifest.json ] || fail "my.bqq or pkg/ missing"
grep -q '— PASS' cosim/cosim_report.md || fail "cosim report does not pass: $(head -20 cosim/cosim_report.md)"
echo "worked_example: docs/data.md's example ran ($(grep -c '' example.sh) lines): $(grep -m1 'top-1' example.out)"
cd "$ROOT"
