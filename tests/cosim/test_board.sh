#!/bin/sh
# test_board.sh COSIM_BOARD -- the board program without a board: it is built (CI links it), its
# usage and argument errors exit 2, and a device that does not exist gives exactly one stderr line
# naming the device (docs/bringup.md "The board backend").
set -u
B=$1
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "test-board: ok   $1"; }
bad() { fail=$((fail + 1)); echo "test-board: FAIL $1"; }
T=${TMPDIR:-/tmp}/test_board.$$
# run ARGS...: exit code in $rc, stderr in $T.err
run() { "$B" "$@" > "$T.out" 2> "$T.err"; rc=$?; }

run --help
if [ $rc = 0 ] && grep -q "usage: cosim_board --dev" "$T.out"; then ok "--help prints the usage"; else bad "--help (exit $rc)"; fi
run
if [ $rc = 2 ] && grep -q "usage: cosim_board" "$T.err"; then ok "no arguments: usage, exit 2"; else bad "no arguments (exit $rc)"; fi
run --dev /dev/mem --mem-base 0x38000000 --mem-size 4096 --hw configs/hw/tiny.yaml
if [ $rc = 2 ] && [ "$(wc -l < "$T.err")" = 1 ] && grep -q "needs --reg-base" "$T.err"; then
    ok "/dev/mem without --reg-base: one line, exit 2"
else bad "/dev/mem without --reg-base (exit $rc): $(cat "$T.err")"; fi
run --dev /dev/uio987 --mem-base 0x38000000 --mem-size 0x4000000 --hw configs/hw/tiny.yaml --qmodel q.bqq
if [ $rc = 2 ] && [ "$(wc -l < "$T.err")" = 1 ] && grep -q "^cosim_board: /dev/uio987: No such file or directory" "$T.err"; then
    ok "missing device: one line naming it, exit 2 ($(cat "$T.err"))"
else bad "missing device (exit $rc): $(cat "$T.err")"; fi
rm -f "$T.out" "$T.err"
echo "test-board: $pass passed, $fail failed"
[ $fail = 0 ]
