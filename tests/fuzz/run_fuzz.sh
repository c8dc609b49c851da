#!/usr/bin/env bash
# run_fuzz.sh — run libFuzzer harnesses one after another and print one line per harness
# (seconds, executions, corpus size, crashes). Called by tests/fuzz/fuzz.mk:
#
#   run_fuzz.sh MODE SECONDS BUILD_DIR HARNESS...
#     MODE smoke: fixed seed, a fresh scratch corpus (build/fuzz/smoke/<h>), so the committed corpus
#                 is replayed and fuzzed briefly; nothing outside build/ changes
#     MODE run:   the corpus grows in build/fuzz/corpus/<h> (kept between runs, so runs resume)
#     MODE long:  like run, and each harness's run is appended to docs/fuzz_log.json
# A harness HARNESS runs binary BUILD_DIR/fuzz/<bin>_fuzz (png and jpeg share `image`) on
# tests/fuzz/corpus/<h>/ with tests/fuzz/<h>.dict when present. Crashing inputs go to
# BUILD_DIR/fuzz/artifacts/<h>/; the exit code is 1 when any harness crashed.
set -u
mode=$1 secs=$2 build=$3
shift 3
log_json=docs/fuzz_log.json
failed=0
printf '%-8s %8s %12s %8s %8s  %s\n' harness seconds executions corpus crashes log
for h in "$@"; do
    bin=$h
    case $h in png|jpeg) bin=image ;; esac
    exe=$build/fuzz/${bin}_fuzz
    seeds=tests/fuzz/corpus/$h
    art=$build/fuzz/artifacts/$h/
    logf=$build/fuzz/logs/$h.$mode.log
    if [ "$mode" = smoke ]; then work=$build/fuzz/smoke/$h; rm -rf "$work"; else work=$build/fuzz/corpus/$h; fi
    mkdir -p "$work" "$art" "$build/fuzz/logs"
    dict=()
    [ -f tests/fuzz/$h.dict ] && dict=(-dict=tests/fuzz/$h.dict)
    seed=()
    [ "$mode" = smoke ] && seed=(-seed=1)
    # crashes: crash-/leak-/timeout-/oom- artifacts; a slow-unit- file (an input over 10 s, which a
    # loaded machine produces) is a report, not a failure
    n_art() { ls "$art" | grep -cE '^(crash|leak|timeout|oom)-'; }
    before=$(n_art)
    start=$(date +%s)
    "$exe" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" "${seed[@]}" \
        "$work" "$seeds" >"$logf" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -1)
    crashes=$(( $(n_art) - before ))
    [ $rc -ne 0 ] && [ $crashes -eq 0 ] && crashes=1   # a failure that left no artifact still counts
    corpus=$(ls "$work" | wc -l)
    printf '%-8s %8d %12s %8d %8d  %s\n' "$h" "$took" "${execs:-?}" "$corpus" "$crashes" "$logf"
    if [ $crashes -ne 0 ]; then
        failed=1
        grep -m3 -E 'ERROR|SUMMARY|==[0-9]+==|runtime error' "$logf" | sed 's/^/    /'
        echo "    artifacts: $art (reproduce: $exe <file>)"
    fi
    if [ "$mode" = long ]; then
        [ -f "$log_json" ] || printf '{"runs": [\n]}\n' > "$log_json"
        load=$(cut -d' ' -f1 /proc/loadavg)
        rec=$(printf '{"date": "%s", "harness": "%s", "seconds": %d, "executions": %s, "corpus": %d, "crashes": %d, "commit": "%s", "load": %s}' \
            "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$h" "$took" "${execs:-0}" "$corpus" "$crashes" \
            "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$load")
        # the file ends with "]}": insert the record before it (a comma after any earlier record);
        # under a lock, as two fuzz-long runs may share the log
        tmp=$log_json.tmp.$$
        (
            flock 9
            sed '$d' "$log_json" | sed '$s/}$/},/' > "$tmp" && printf '  %s\n]}\n' "$rec" >> "$tmp" && mv "$tmp" "$log_json"
        ) 9>"$build/fuzz/log.lock"
    fi
done
if [ "$mode" = long ] && [ -f "$log_json" ]; then
    echo "fuzz-long: totals in $log_json (harness: hours, executions, crashes)"
    sed -n 's/.*"harness": "\([a-z]*\)", "seconds": \([0-9]*\), "executions": \([0-9]*\),.*"crashes": \([0-9]*\).*/\1 \2 \3 \4/p' "$log_json" |
        awk '{s[$1]+=$2; e[$1]+=$3; c[$1]+=$4} END {for (h in s) printf "  %-8s %7.2f h %14d %4d\n", h, s[h]/3600, e[h], c[h]}' | sort
fi
exit $failed
