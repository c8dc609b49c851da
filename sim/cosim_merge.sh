#!/bin/sh
# cosim_merge.sh OUTDIR RUNDIR...   merge per-run reports into OUTDIR/cosim_report.{json,md}
# cosim_merge.sh --bench RUNDIR...  print the bench table (cycles/s, wall s/image) of the runs
# cosim_merge.sh --summary OUT.json OUT.md RUNDIR...  small per-run summary (no layers) + markdown table
# Every RUNDIR must hold cosim_report.json and cosim_report.md written by the cosim binary; a missing
# report counts as a failure (exit 1). Exit 1 also when any run has a mismatch.
set -u
num() {   # num FILE KEY -> the number after "KEY": on the summary lines
    sed -n "s/.*\"$2\": \([-0-9.]*\).*/\1/p" "$1" | head -1
}
if [ "${1:-}" = "--bench" ]; then
    shift
    printf '%-28s %-6s %12s %14s %12s\n' "bench-cosim: run" "hw" "sim cycles" "cycles/s" "wall s/img"
    for d in "$@"; do
        j=$d/cosim_report.json
        [ -f "$j" ] || { echo "bench-cosim: $j missing"; continue; }
        hw=$(sed -n 's/.*"hw": "\([^"]*\)".*/\1/p' "$j" | head -1)
        printf '%-28s %-6s %12s %14s %12s\n' "$(basename "$d")" "$hw" "$(num "$j" sim_cycles)" \
            "$(num "$j" sim_cycles_per_s)" "$(num "$j" wall_s_per_image)"
    done
    exit 0
fi
if [ "${1:-}" = "--summary" ]; then
    # --summary OUT.json OUT.md RUNDIR...: one small record per run (no per-layer data) and a
    # markdown table; for docs/cosim_full.json and the table of docs/cosim.md.
    shift; js=$1; md=$2; shift 2
    fail=0; images=0; mism=0; cyc=0; ctr=0; tos=0; worst=0; n=0
    {
        printf '| run | config | images | output mismatches | cycle / counter mismatches | time-outs | worst cycle error | sim cycles per image | sim cycles/s | wall s/image | RTL assertions |\n'
        printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
    } > "$md.tmp"
    printf '  "runs": [\n' > "$js.runs.tmp"
    for d in "$@"; do
        j=$d/cosim_report.json
        if [ ! -f "$j" ]; then echo "cosim_merge: $j missing"; fail=1; continue; fi
        [ $n -gt 0 ] && printf ',\n' >> "$js.runs.tmp"
        n=$((n + 1))
        im=$(num "$j" images); images=$((images + im))
        mism=$((mism + $(num "$j" mismatches)))
        cyc=$((cyc + $(num "$j" cycle_mismatches)))
        ctr=$((ctr + $(num "$j" counter_mismatches)))
        tos=$((tos + $(num "$j" timeouts)))
        w=$(num "$j" worst_cycle_error); [ "$w" -gt "$worst" ] && worst=$w
        # the run-level lines of the report: from "format" up to "first_mismatch" (no layers)
        printf '    {"run": "%s",\n' "$(basename "$d")" >> "$js.runs.tmp"
        sed -n '/"format": "brecq-cosim"/,/"first_mismatch"/p' "$j" | sed 's/^ */     /; $ s/,$//' \
            >> "$js.runs.tmp"
        # the one-image run on the simulator with RTL assertions (cosim-full-assert), if any
        ja=$d/assert/cosim_report.json; ast="-"
        if [ -f "$ja" ]; then
            ai=$(num "$ja" images); am=$(($(num "$ja" mismatches) + $(num "$ja" cycle_mismatches) + $(num "$ja" counter_mismatches) + $(num "$ja" timeouts)))
            [ "$am" = 0 ] && ast="pass ($ai image)" || { ast="FAIL"; fail=1; }
            printf '     ,"assert_run": {"images": %s, "failures": %s}' "$ai" "$am" >> "$js.runs.tmp"
        fi
        printf '}' >> "$js.runs.tmp"
        str() { sed -n "s/.*\"$2\": \"\([^\"]*\)\".*/\1/p" "$1" | head -1; }
        printf '| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |\n' "$(str "$j" model)" "$(str "$j" hw)" \
            "$im" "$(num "$j" mismatches)" "$(num "$j" cycle_mismatches)" "$(num "$j" counter_mismatches)" \
            "$(num "$j" timeouts)" "$w" "$(( $(num "$j" sim_cycles) / (im > 0 ? im : 1) ))" \
            "$(num "$j" sim_cycles_per_s)" "$(num "$j" wall_s_per_image)" "$ast" >> "$md.tmp"
    done
    printf '\n  ]\n}\n' >> "$js.runs.tmp"
    [ $((mism + cyc + ctr + tos)) -eq 0 ] || fail=1
    {
        printf '{\n  "format": "brecq-cosim-runs", "version": 1,\n'
        printf '  "runs_count": %d, "images": %d, "mismatches": %d, "cycle_mismatches": %d, ' "$n" "$images" "$mism" "$cyc"
        printf '"counter_mismatches": %d, "timeouts": %d, "worst_cycle_error": %d,\n' "$ctr" "$tos" "$worst"
        cat "$js.runs.tmp"
    } > "$js.tmp" && rm -f "$js.runs.tmp" && mv "$js.tmp" "$js" && mv "$md.tmp" "$md"
    exit $fail
fi
out=$1; shift
mkdir -p "$out"
fail=0; images=0; mism=0; cyc=0; ctr=0; tos=0; worst=0; n=0; missing=""
for d in "$@"; do
    j=$d/cosim_report.json
    if [ ! -f "$j" ]; then missing="$missing $d"; fail=1; continue; fi
    n=$((n + 1))
    images=$((images + $(num "$j" images)))
    mism=$((mism + $(num "$j" mismatches)))
    cyc=$((cyc + $(num "$j" cycle_mismatches)))
    ctr=$((ctr + $(num "$j" counter_mismatches)))
    tos=$((tos + $(num "$j" timeouts)))
    w=$(num "$j" worst_cycle_error); [ "$w" -gt "$worst" ] && worst=$w
done
[ $((mism + cyc + ctr + tos)) -eq 0 ] || fail=1
{
    printf '{\n  "format": "brecq-cosim-summary", "version": 1,\n'
    printf '  "images": %d, "mismatches": %d, "cycle_mismatches": %d, "counter_mismatches": %d, ' \
        "$images" "$mism" "$cyc" "$ctr"
    printf '"timeouts": %d, "worst_cycle_error": %d, "missing_reports": %d,\n  "runs": [\n' \
        "$tos" "$worst" "$(echo $missing | wc -w)"
    i=0
    for d in "$@"; do
        j=$d/cosim_report.json
        [ -f "$j" ] || continue
        i=$((i + 1))
        sed 's/^/    /' "$j" | sed '$ s/$//'
        [ $i -lt $n ] && printf '    ,\n'
    done
    printf '  ]\n}\n'
} > "$out/cosim_report.json.tmp" && mv "$out/cosim_report.json.tmp" "$out/cosim_report.json"
{
    printf '# Co-simulation report\n\n'
    printf 'Runs: %d, images (summed over runs): %d, output mismatches: %d, cycle mismatches: %d, ' "$n" "$images" "$mism" "$cyc"
    printf 'counter mismatches: %d, time-outs: %d, worst per-layer cycle error: %d. ' "$ctr" "$tos" "$worst"
    if [ $fail = 0 ]; then printf '**PASS**\n\n'; else printf '**FAIL**\n\n'; fi
    for d in $missing; do printf -- '- MISSING report: `%s/cosim_report.json`\n' "$d"; done
    [ -n "$missing" ] && printf '\n'
    printf 'Schema and meaning: docs/cosim.md.\n\n'
    for d in "$@"; do [ -f "$d/cosim_report.md" ] && { cat "$d/cosim_report.md"; printf '\n'; }; done
} > "$out/cosim_report.md.tmp" && mv "$out/cosim_report.md.tmp" "$out/cosim_report.md"
exit $fail
