#!/bin/bash
# Runs `make test`'s test groups in two lanes side by side: the CI machine has 2 cores and most
# groups are single-threaded scripts, so one lane per core halves the wall time without changing
# what runs. Usage: run_lanes.sh MAKE JOBS "SW TARGETS" "HW TARGETS"
#   JOBS=1 runs the two lanes one after the other (TEST_JOBS=1, for a machine that is busy).
# Each lane is one `make -k`-free make invocation; its output goes to build/test-lanes/<lane>.log
# and to stdout with a [sw N s]/[hw N s] prefix (seconds since the lane started: where the time goes). Exit status: non-zero when either lane failed, after
# both finished (a failed lane's last lines are repeated at the end so CI shows them together).
set -u
make_cmd=$1; jobs=$2; sw_targets=$3; hw_targets=$4
log_dir=build/test-lanes
mkdir -p "$log_dir"

run_lane() {   # lane-name targets...
  local lane=$1; shift
  local start=$SECONDS
  { $make_cmd --no-print-directory "$@"; echo "lane-rc=$?"; } 2>&1 \
    | while IFS= read -r line; do printf '[%s %4ds] %s\n' "$lane" $((SECONDS - start)) "$line"; done \
    | tee "$log_dir/$lane.log"
  echo "[$lane] lane finished in $((SECONDS - start)) s"
}

if [ "$jobs" = 1 ]; then
  run_lane sw $sw_targets
  run_lane hw $hw_targets
else
  run_lane sw $sw_targets &
  sw_pid=$!
  run_lane hw $hw_targets &
  hw_pid=$!
  wait "$sw_pid" "$hw_pid"
fi

status=0
for lane in sw hw; do
  rc=$(sed -n 's/^\[[^]]*\] lane-rc=//p' "$log_dir/$lane.log" | tail -1)
  if [ "${rc:-1}" != 0 ]; then
    status=1
    echo "==== lane $lane FAILED (exit ${rc:-?}); its last 40 lines ($log_dir/$lane.log):"
    tail -41 "$log_dir/$lane.log" | grep -v '\] lane-rc='
  fi
done
exit $status
