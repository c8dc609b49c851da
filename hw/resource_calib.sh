#!/bin/bash
# resource_calib.sh POINTS OUTDIR JSON -- run the yosys synth_xilinx (xc7) runs of POINTS
# (hw/resource_calib.points) that have no result in OUTDIR yet, one at a time under `nice -n 15`,
# then rewrite JSON (docs/resource_calib.json) from every result in OUTDIR, in POINTS order.
# Resumable: a run writes OUTDIR/<id>.rec only when yosys finished, so a killed calibration
# continues with the next missing point. Needs build/hwgen and build/gen/bqa_pkg.sv (make does that).
# Environment: CALIB_ONLY="id1 id2" restricts the runs (the JSON still lists every finished point).
# The JSON also carries the whole-config runs of hw/resource_calib.recorded (make synth's, by hand).
set -u
points=$1; out=$2; json=$3
mkdir -p "$out/cfg"
pkg=build/gen/bqa_pkg.sv
mods=$(echo hw/bqa_*.sv)

# counts FILE SECTION -> "lut ff carry lutram ramb18 ramb36 dsp" of one stat section
# (SECTION "total": the design hierarchy totals, or the only section of a flat design)
counts() {
  awk -v want="$2" '
    /^=== design hierarchy ===/ { sec = "total"; hier = 1; next }
    /^=== / { sec = $2; next }
    $2 ~ /^[0-9]+$/ && $1 !~ /:$/ {
      k = ""
      if ($1 ~ /^(LUT[1-6]|INV)$/) k = "lut"; else if ($1 ~ /^FD[A-Z]*$/) k = "ff"
      else if ($1 == "CARRY4") k = "carry"; else if ($1 ~ /^RAM(32|64|128|256)/) k = "lutram"
      else if ($1 == "RAMB18E1") k = "ramb18"; else if ($1 == "RAMB36E1") k = "ramb36"
      else if ($1 == "DSP48E1") k = "dsp"
      if (k != "") { c[sec, k] += $2; if (first == "") first = sec }
    }
    /^=== / && first == "" { }
    END {
      s = want
      if (want == "total" && !hier) s = first
      printf "%d %d %d %d %d %d %d", c[s,"lut"], c[s,"ff"], c[s,"carry"], c[s,"lutram"], c[s,"ramb18"], c[s,"ramb36"], c[s,"dsp"]
    }' "$1"
}
obj() {  # obj "lut ff carry lutram ramb18 ramb36 dsp" -> JSON object
  set -- $1
  printf '{"lut":%d,"ff":%d,"carry4":%d,"lutram":%d,"ramb18":%d,"ramb36":%d,"dsp":%d}' "$@"
}

# write a whole-config YAML: tiny's keys with the given key=value overrides
mkcfg() {
  local name=$1; shift
  local f="$out/cfg/$name.yaml"
  sed -e "s/^name: .*/name: $name/" configs/hw/tiny.yaml > "$f.tmp"
  for kv in "$@"; do
    sed -i -E "s/^(\s+${kv%%=*}:)\s*[0-9]+/\1 ${kv#*=}/" "$f.tmp"
  done
  mv "$f.tmp" "$f"
  echo "$f"
}

run_point() {  # run_point ID ROLE KIND TARGET PARAMS...
  local id=$1 role=$2 kind=$3 target=$4; shift 4
  local stat="$out/$id.stat" log="$out/$id.log" inc=build/gen/tiny top=$target chp="" params="$*"
  local pads=-noiopad  # a module alone as inside bqa_top: no I/O buffers (they hold no LUTs)
  if [ "$kind" = config ]; then
    if [ "$target" = tiny ]; then cfgf=configs/hw/tiny.yaml; else cfgf=$(mkcfg "$target" "$@"); fi
    mkdir -p "$out/gen/$target"
    build/hwgen "$cfgf" --svh "$out/gen/$target/hw_params.svh" || return 1
    inc="$out/gen/$target"; top=bqa_top; pads=""  # exactly as make synth
  else
    for kv in "$@"; do chp="$chp chparam -set ${kv%%=*} ${kv#*=} $target;"; done
  fi
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local t0; t0=$(date +%s.%N)
  echo "resource-calib: $id ($kind $target $params), load $load"
  nice -n 15 yosys -q -l "$log" -p "read_verilog -sv -DSYNTHESIS -I$inc -Ihw $pkg $mods; $chp synth_xilinx -family xc7 $pads -top $top; tee -q -o $stat.tmp stat -top $top" \
    > /dev/null 2>&1 || { echo "resource-calib: $id: yosys failed (log $log)"; return 1; }
  mv "$stat.tmp" "$stat"
  local wall; wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  local cpu; cpu=$(sed -n 's/.*CPU: user \([0-9.]*\)s system \([0-9.]*\)s.*/\1 \2/p' "$log" | tail -1 | awk '{printf "%.1f", $1 + $2}')
  local own; own=$(obj "$(counts "$stat" "$top")")
  local tot; tot=$(obj "$(counts "$stat" total)")
  local pj; pj=$(for kv in "$@"; do printf '"%s":%s,' "${kv%%=*}" "${kv#*=}"; done | sed 's/,$//')
  printf '{"id":"%s","role":"%s","kind":"%s","target":"%s","params":{%s},"own":%s,"total":%s,"yosys_cpu_s":%s,"wall_s":%s,"load1":%s,"date":"%s"}\n' \
    "$id" "$role" "$kind" "$target" "$pj" "$own" "$tot" "${cpu:-0}" "$wall" "$load" "$(date -u +%Y-%m-%dT%H:%MZ)" > "$out/$id.rec.tmp"
  mv "$out/$id.rec.tmp" "$out/$id.rec"
}

fail=0
while read -r id role kind target params; do
  case "$id" in ''|'#'*) continue ;; esac
  [ -f "$out/$id.rec" ] && continue
  if [ -n "${CALIB_ONLY:-}" ] && ! echo " $CALIB_ONLY " | grep -q " $id "; then continue; fi
  # shellcheck disable=SC2086
  run_point "$id" "$role" "$kind" "$target" $params || fail=1
done < "$points"

# the JSON: one record per line (tests/unit/hw_model/test_resources.c reads it line by line)
{ echo '{"tool":"yosys 0.23 synth_xilinx -family xc7 (hierarchical)","counts":"lut = LUT1-6 + INV cells; lutram = RAM32M/RAM64M/... cells; ramb18/ramb36 as mapped","runs":['
  sep=""
  while read -r id _; do
    case "$id" in ''|'#'*) continue ;; esac
    [ -f "$out/$id.rec" ] || continue
    printf '%s%s' "$sep" "$(cat "$out/$id.rec")"; sep=$',\n'
  done < "$points"
  # whole-config runs recorded by `make synth` before this calibration existed (same RTL, same yosys)
  while read -r rec; do
    [ -n "$rec" ] && printf '%s%s' "$sep" "$rec" && sep=$',\n'
  done < "${points%.points}.recorded"
  printf '\n]}\n'; } > "$json.tmp" && mv "$json.tmp" "$json"
echo "resource-calib: $(grep -c '"id"' "$json") runs in $json"
exit $fail
