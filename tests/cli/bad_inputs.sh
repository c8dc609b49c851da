#!/bin/bash
# Bad-input catalogue (docs/reliability.md): every case makes one small bad input (a field of a
# copy of configs/models/fres20.bqm or of a quantized model, a YAML file, an IDX folder, a flag, an
# output path), runs one command and requires: a non-zero exit that is not a signal nor a timeout,
# no sanitizer or assert report, the expected message fragment on stderr, no file left in the
# output folder and no *.tmp.* anywhere.
# usage: tests/cli/bad_inputs.sh BRECQ [OPTIMISED_BRECQ] [BAD_FILE]
#   BRECQ runs every case (the ASan+UBSan build in make test); OPTIMISED_BRECQ makes the valid
#   quantized model and package the cases corrupt; BAD_FILE is tests/cli/bad_file.c built.
set -u
B=${1:-build/asan/brecq}
BF=${2:-build/brecq}
BAD=${3:-build/bad_file}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
I=$T/in O=$T/out; mkdir -p "$I" "$O"
pass=0; fail=0; failed=""
M=configs/models/fres20.bqm HW=configs/hw/tiny.yaml R=configs/quant/rtn_w4a4.yaml

# case NAME FRAGMENT command...
case_() {
  local name=$1 want=$2; shift 2
  rm -rf "$O"; mkdir -p "$O"
  timeout 60 "$@" > "$T/stdout" 2> "$T/stderr" < /dev/null; local rc=$? why=""
  if [ $rc -eq 0 ]; then why="exit 0"
  elif [ $rc -eq 124 ]; then why="timeout after 60 s (hang)"
  elif [ $rc -gt 128 ]; then why="killed by signal $((rc - 128))"
  elif grep -qE "AddressSanitizer|LeakSanitizer|runtime error:|Assertion .* failed" "$T/stderr"; then
    why="sanitizer or assert report"
  elif ! grep -qF -- "$want" "$T/stderr"; then why="stderr lacks '$want'"
  elif [ -n "$(find "$O" -mindepth 1 | head -1)" ]; then why="left in the output folder: $(find "$O" -mindepth 1 | tr '\n' ' ')"
  elif find "$T" -name '*.tmp.*' | grep -q .; then why="left $(find "$T" -name '*.tmp.*' | head -1)"
  fi
  if [ -z "$why" ]; then pass=$((pass + 1)); [ -n "${VERBOSE:-}" ] && echo "ok $name: $(head -c 300 "$T/stderr")"
  else
    fail=$((fail + 1)); failed="$failed $name"
    echo "FAIL $name: $why (rc $rc)"; head -c 600 "$T/stderr" | sed 's/^/    /'
  fi
  find "$T" -name '*.tmp.*' -exec rm -rf {} + 2>/dev/null
}
# bqm NAME FIELD VALUE FRAGMENT [command] — fres20.bqm with FIELD = VALUE, read by `info` (or by
# the command given, with MODEL standing for the file)
bqm() {
  local name=$1 field=$2 value=$3 want=$4; shift 4
  # shellcheck disable=SC2086  # FIELD may be "F1 V1 F2 V2 ... Fn": several fields at once
  "$BAD" "$M" "$I/$name.bqm" $field "$value" || { fail=$((fail + 1)); echo "FAIL $name: bad_file"; return; }
  if [ $# -eq 0 ]; then case_ "bqm-$name" "$want" "$B" info "$I/$name.bqm"
  else case_ "bqm-$name" "$want" "${@//MODEL/$I/$name.bqm}"; fi
}

# ------------------------------------------------------------------ native model (.bqm) header
bqm in_c-0        in_c 0 "input shape 0x28x28 is outside"
bqm in_c-neg      in_c -1 "input shape -1x28x28"
bqm in_c-huge     in_c 5000 "is outside 1..1024 channels"
bqm in_h-0        in_h 0 "input shape 1x0x28"
bqm in_h-8        in_h 8 "output shape 1x28x28, expected 1x8x28"
bqm in_w-huge     in_w 100000 "input shape 1x28x100000"
bqm classes-1000  classes 1000 "gives 10x1x1 values, the model declares 1000 classes"
bqm classes-1000-eval classes 1000 "declares 1000 classes" "$B" eval --model MODEL
bqm classes-0     classes 0 "0 classes, expected 1..65536"
bqm classes-huge  classes 10000000 "10000000 classes"
bqm mean-nan      mean nan "mean nan std"
bqm mean-inf      mean inf "both must be finite"
bqm std-0         std 0 "std 0: both must be finite and std > 0"
bqm std-0-eval    std 0 "std > 0" "$B" eval --model MODEL
bqm std-neg       std -0.5 "std -0.5"
bqm std-nan       std nan "std nan"
# ------------------------------------------------------------------ nodes
bqm kind-input    node:1:kind 0 "op kind 0 is not allowed here"
bqm kind-99       node:1:kind 99 "op kind 99"
bqm kind-neg      node:1:kind -1 "op kind -1"
bqm node0-conv    node:0:kind 1 "model has no input node"
bqm in0-self      node:5:in0 5 "input 0 is 5, expected an earlier node"
bqm in0-future    node:5:in0 70 "input 0 is 70"
bqm in0-neg       node:5:in0 -7 "input 0 is -7"
bqm in1-unused    node:5:in1 3 "input 1 is 3, expected -1 (unused)"
bqm add-in1-none  node:9:in1 -1 "node 9 's1b1_add': input 1 is -1"
bqm add-shape     node:32:in1 24 "'s2b1_add' (add): impossible geometry"
bqm block-9       node:1:block 9 "block index 9 is outside -1..8"
bqm block-huge    node:1:block 1000000 "block index 1000000"
bqm block-huge-eval node:1:block 1000000 "block index 1000000" "$B" eval --model MODEL
bqm block-neg     node:1:block -2 "block index -2"
bqm block-other   node:4:block 5 "says block 5, outside that block's nodes"
bqm c-0           node:1:c 0 "output shape 0x28x28, expected 0x28x28"
bqm c-neg         node:1:c -16 "node 1 'stem' (conv)"
bqm h-0           node:1:h 0 "output shape 16x0x28, expected 16x28x28"
bqm w-wrong       node:3:w 27 "output shape 16x28x27, expected 16x28x28"
bqm groups-0      node:1:groups 0 "groups 0"
bqm groups-0-eval node:1:groups 0 "groups 0" "$B" eval --model MODEL
bqm groups-3      node:4:groups 3 "groups 3"
bqm groups-neg    node:1:groups -1 "groups -1"
bqm stride-0      node:1:stride_h 0 "stride 0x1"
bqm stride-0-quant node:4:stride_w 0 "stride 1x0" "$B" quantize --model MODEL --recipe $R --out "$O/q.bqq"
bqm stride-neg    node:1:stride_w -1 "stride 1x-1"
bqm kernel-neg    node:1:kh -3 "kernel -3x3"
bqm kernel-0      node:1:kw 0 "kernel 3x0"
bqm kernel-big    node:1:kh 100 "kernel 100x3"
bqm pad-neg       node:1:pad_t -1 "pads -1,1,1,1"
bqm pad-huge      node:1:pad_l 1000000 "pads 1,1000000,1,1"
bqm kernel-pad-overflow "node:1:kh 2000000000 node:1:pad_t 1999999999 node:1:pad_b" 1999999999 "kernel 2000000000x3"
bqm cin-0         node:0:c 0 "node 0 'input' (input): output shape 0x28x28, expected 1x28x28"
bqm pool-k0       node:71:kind 8 "'gap' (maxpool): impossible geometry"
bqm pool-incl     node:71:kind 9 "'gap' (avgpool): impossible geometry"
bqm flatten-mid   node:3:kind 11 "'stem_relu' (flatten): output shape 16x28x28, expected 12544x1x1"
bqm linear-mid    node:3:kind 2 "'stem_relu' (linear)"
bqm bn-eps-0      node:2:bn_eps 0 "eps 0 must be finite > 0"
bqm bn-eps-nan    node:2:bn_eps nan "eps nan"
bqm relu-bounds   node:3:lo nan "bounds [nan"
bqm relu-order    node:3:hi -1 "bounds [0, -1] are not an interval"
bqm fc-out        node:72:c 11 "(index 105, 640 values) does not match the layer (needs 704 values)"
# ------------------------------------------------------------------ parameters
bqm wt-missing    node:1:p_weight -1 "weight parameter (index -1"
bqm wt-range      node:1:p_weight 10000 "weight parameter (index 10000"
bqm wt-size       node:4:p_weight 0 "weight parameter (index 0, 144 values) does not match the layer (needs 2304 values)"
bqm wt-size-eval  node:4:p_weight 0 "needs 2304 values" "$B" eval --model MODEL
bqm bias-on-bn    node:2:p_bias 1 "bias parameter (index 1"
bqm bn-gamma      node:2:p_gamma -1 "gamma parameter (index -1"
bqm fc-weight     node:72:p_weight 5 "node 72 'fc' (linear): weight parameter"
bqm p-count       param:0:count 5 "parameter 'stem.weight': 5 values"
bqm p-shape0      param:0:shape0 0 "parameter 'stem.weight': dimension 0 is 0"
bqm p-ndim        param:0:ndim 7 "7 dimensions, expected 1..4"
bqm p-offset      param:0:offset 999999999 "lies outside the parameter data"
bqm nan-weight    data:0 nan "parameter data value 0 (in 'stem.weight') is NaN"
bqm nan-weight-quant data:0 nan "value 0 (in 'stem.weight') is NaN" "$B" quantize --model MODEL --recipe $R --out "$O/q.bqq"
bqm inf-weight    data:7 inf "value 7 (in 'stem.weight') is infinite"
bqm var-neg       pdata:4:3 -1 "running variance >= 0"
# ------------------------------------------------------------------ blocks
bqm blk-first0    block:0:first 0 "block 0 's1b1': node range 0..10"
bqm blk-last      block:0:last 1000 "node range 4..1000"
bqm blk-input     block:0:input 99 "fed by 99"
bqm blk-resid     block:0:has_residual 7 "block 0 's1b1'"
bqm blk-short     block:0:last 8 "says block 0, outside that block's nodes 4..8"
# ------------------------------------------------------------------ whole files
head -c 1000 $M > "$I/trunc.bqm"; : > "$I/empty.bqm"; head -c 4096 /dev/urandom > "$I/random.bqm"
mkdir -p "$I/dir.bqm"
case_ file-truncated "trunc.bqm: checksum mismatch" "$B" info "$I/trunc.bqm"
case_ file-empty     "empty.bqm: not a brecq model file" "$B" info "$I/empty.bqm"
case_ file-random    "random.bqm: not a brecq model file" "$B" info "$I/random.bqm"
case_ file-missing   "nope.bqm: cannot open" "$B" info "$I/nope.bqm"
case_ file-dir       "dir.bqm: is a folder, not a file" "$B" info "$I/dir.bqm"
case_ file-dir-eval  "dir.bqm: is a folder, not a file" "$B" eval --model "$I/dir.bqm"
case_ model-empty-flag "--model= has an empty value" "$B" info --model=
case_ model-empty-eval "--model= has an empty value" "$B" eval --model=
"$BAD" $M "$I/ver.bqm" in_c 1 && printf '\x02' | dd of="$I/ver.bqm" bs=1 seek=8 conv=notrunc 2>/dev/null
case_ file-bitflip   "ver.bqm: checksum mismatch" "$B" info "$I/ver.bqm"

# ------------------------------------------------------------------ quantized model (.bqq)
if "$BF" quantize --model $M --recipe $R --out "$I/q.bqq" > /dev/null 2>&1; then
  bqq() {
    local name=$1 field=$2 value=$3 want=$4; shift 4
    "$BAD" "$I/q.bqq" "$I/$name.bqq" "$field" "$value" || { fail=$((fail + 1)); echo "FAIL $name: bad_file"; return; }
    if [ $# -eq 0 ]; then case_ "bqq-$name" "$want" "$B" latency --model "$I/$name.bqq" --hw $HW
    else case_ "bqq-$name" "$want" "${@//QMODEL/$I/$name.bqq}"; fi
  }
  bqq hdr-wbits   q:wbits 1 "header wbits 1"
  bqq hdr-abits   q:abits 99 "abits 99"
  bqq hdr-fl8     q:fl8 5 "first_last_8bit 5"
  bqq l-wbits0    qlayer:0:wbits 0 "field 'node/cout/per_out/wbits' does not match"
  bqq l-wbits9    qlayer:1:wbits 9 "does not match the embedded model"
  bqq l-scale-nan qlayer:0:scale:0 nan "field 'scale/zero' out of range"
  bqq l-scale-inf qlayer:2:scale:3 inf "weight scale inf must be finite"
  bqq l-scale-0   qlayer:0:scale:1 0 "out of range (s=0"
  bqq role-9      qaq:1:role 9 "role 9 / initialized 1 unknown"
  bqq role-9-eval qaq:1:role 9 "role 9" "$B" eval --quant QMODEL
  bqq role-neg    qaq:2:role -1 "role -1"
  bqq init-7      qaq:0:init 7 "initialized 7 unknown"
  bqq aq-bits1    qaq:1:bits 1 "bits 1 (0 or 2..8)"
  bqq aq-bits99   qaq:1:bits 99 "field 'node/bits/scale/zero' out of range"
  bqq aq-scale-inf qaq:1:scale inf "scale inf (finite > 0)"
  bqq aq-scale-inf-export qaq:1:scale inf "scale inf" "$B" export --quant QMODEL --hw $HW --tests 0 --out "$O/pkg"
  bqq aq-scale-0  qaq:1:scale 0 "out of range"
  bqq aq-zero     qaq:1:zero 300 "out of range"
  bqq aq-node     qaq:1:node 999 "quantizer 1 ('?')"
  bqq m-std0      qmodel:std 0 "(embedded model): invalid model: input normalisation"
  bqq m-block     qmodel:node:1:block 99 "(embedded model): invalid model: node 1 'stem': block index 99"
  bqq m-nan       qmodel:data:5 nan "(embedded model): invalid model: parameter data value 5"
  bqq m-nan-eval  qmodel:data:5 nan "must be finite" "$B" eval --quant QMODEL
  head -c 5000 "$I/q.bqq" > "$I/trunc.bqq"
  case_ bqq-truncated "trunc.bqq: checksum mismatch" "$B" eval --quant "$I/trunc.bqq"
  cp $M "$I/fres20.bqq"
  case_ bqq-is-bqm    "fres20.bqq: not a quantized model" "$B" latency --model "$I/fres20.bqq" --hw $HW
  case_ bqq-bqm-inside "fres20.bqq: not a quantized model" "$B" eval --quant "$I/fres20.bqq"
  case_ bqq-dir       "dir.bqm: is a folder" "$B" export --quant "$I/dir.bqm" --hw $HW --out "$O/pkg"
else
  fail=$((fail + 1)); echo "FAIL could not make a quantized model to corrupt"
fi

# ------------------------------------------------------------------ export package (--check)
if [ -e "$I/q.bqq" ] && "$BF" export --quant "$I/q.bqq" --hw $HW --tests 0 --out "$I/pkg" > /dev/null 2>&1; then
  pk() { rm -rf "$I/p_$1"; cp -r "$I/pkg" "$I/p_$1"; }
  pk nomanifest; rm "$I/p_nomanifest/manifest.json"
  case_ pkg-no-manifest "manifest.json" "$B" export --check "$I/p_nomanifest"
  pk badjson; printf '{"format": ' > "$I/p_badjson/manifest.json"
  case_ pkg-bad-manifest "manifest.json" "$B" export --check "$I/p_badjson"
  pk nested; { printf 'x: '; head -c 3000 /dev/zero | tr '\0' '['; } > "$I/p_nested/manifest.json"
  case_ pkg-nested-manifest "manifest.json" "$B" export --check "$I/p_nested"
  pk trunc; head -c 100 "$I/pkg/weights.bin" > "$I/p_trunc/weights.bin"
  case_ pkg-trunc-weights "weights.bin" "$B" export --check "$I/p_trunc"
  pk noweights; rm "$I/p_noweights/weights.bin"
  case_ pkg-no-weights "weights.bin" "$B" export --check "$I/p_noweights"
  pk flip; printf '\xff\xff\xff\xff' | dd of="$I/p_flip/requant.bin" bs=1 seek=16 conv=notrunc 2>/dev/null
  case_ pkg-flip-requant "requant.bin" "$B" export --check "$I/p_flip"
  mkdir -p "$I/p_empty"
  case_ pkg-empty-dir "manifest.json" "$B" export --check "$I/p_empty"
  case_ pkg-missing "nopkg" "$B" export --check "$I/nopkg"
  case_ pkg-is-file "q.bqq" "$B" export --check "$I/q.bqq"
else
  fail=$((fail + 1)); echo "FAIL could not make a package to corrupt"
fi

# ------------------------------------------------------------------ YAML: recipe, bits, flow, hw
y() { printf '%b' "$2" > "$I/$1.yaml"; }
y r-unknown 'method: rtn\nwbits: 4\nabits: 4\nfrobnicate: 1\n'
y r-type 'method: rtn\nwbits: four\n'
y r-range 'method: rtn\nwbits: 1\n'
y r-dup 'method: rtn\nwbits: 4\nwbits: 2\n'
y r-syntax 'method: [rtn\n'
y r-twodocs 'method: rtn\n---\nmethod: rtn\n'
y r-method 'method: magic\n'
{ printf 'method: '; head -c 400000 /dev/zero | tr '\0' '['; } > "$I/r-nested.yaml"
{ printf 'method: '; for _ in $(seq 40); do printf '{a: '; done; } > "$I/r-nestmap.yaml"
{ echo 'method: rtn'; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } > "$I/r-big.yaml"
head -c 2000 /dev/urandom > "$I/r-binary.yaml"
QN=(quantize --model "$M" --out "$O/q.bqq" --recipe)
case_ recipe-unknown-key "r-unknown.yaml:4:1: unknown key 'frobnicate'" "$B" "${QN[@]}" "$I/r-unknown.yaml"
case_ recipe-type      "r-type.yaml:2" "$B" "${QN[@]}" "$I/r-type.yaml"
case_ recipe-range     "r-range.yaml:2" "$B" "${QN[@]}" "$I/r-range.yaml"
case_ recipe-dup-key   "r-dup.yaml:3" "$B" "${QN[@]}" "$I/r-dup.yaml"
case_ recipe-syntax    "r-syntax.yaml:" "$B" "${QN[@]}" "$I/r-syntax.yaml"
case_ recipe-two-docs  "a second YAML document" "$B" "${QN[@]}" "$I/r-twodocs.yaml"
case_ recipe-method    "r-method.yaml:1" "$B" "${QN[@]}" "$I/r-method.yaml"
case_ recipe-nested-400k "r-nested.yaml:1:41: YAML nesting deeper than 32 levels" "$B" "${QN[@]}" "$I/r-nested.yaml"
case_ recipe-nested-map "YAML nesting deeper than 32" "$B" "${QN[@]}" "$I/r-nestmap.yaml"
case_ recipe-1mb       "r-big.yaml: 1100013 bytes, above the 1048576-byte cap" "$B" "${QN[@]}" "$I/r-big.yaml"
case_ recipe-binary    "r-binary.yaml" "$B" "${QN[@]}" "$I/r-binary.yaml"
case_ recipe-dir       "dir.bqm: is a folder" "$B" "${QN[@]}" "$I/dir.bqm"
case_ recipe-missing   "nope.yaml: cannot open" "$B" "${QN[@]}" "$I/nope.yaml"
y b-dup 'stem: {wbits: 4}\nstem: {wbits: 2}\n'
y b-unknown 'nosuchlayer: {wbits: 4}\n'
y b-range 'stem: {wbits: 1}\n'
y b-type 'stem: {wbits: [4]}\n'
y b-key 'stem: {bits: 4}\n'
{ printf 'stem: '; head -c 100000 /dev/zero | tr '\0' '{'; } > "$I/b-nested.yaml"
QB=(quantize --model "$M" --recipe "$R" --out "$O/q.bqq" --bits)
case_ bits-dup-layer "b-dup.yaml:2" "$B" "${QB[@]}" "$I/b-dup.yaml"
case_ bits-unknown-layer "nosuchlayer" "$B" "${QB[@]}" "$I/b-unknown.yaml"
case_ bits-range     "b-range.yaml:1" "$B" "${QB[@]}" "$I/b-range.yaml"
case_ bits-type      "b-type.yaml:1" "$B" "${QB[@]}" "$I/b-type.yaml"
case_ bits-key       "b-key.yaml:1" "$B" "${QB[@]}" "$I/b-key.yaml"
case_ bits-nested    "YAML nesting deeper than 32" "$B" "${QB[@]}" "$I/b-nested.yaml"
y f-unknown 'name: x\nmodel: configs/models/fres20.bqm\nhw: configs/hw/tiny.yaml\nout: OUT\nbogus: 1\n'
y f-model 'name: x\nmodel: nope.bqm\nhw: configs/hw/tiny.yaml\nout: OUT\n'
y f-bits 'name: x\nmodel: configs/models/fres20.bqm\nhw: configs/hw/tiny.yaml\nout: OUT\nwbits: [1, 9]\n'
{ printf 'name: '; head -c 200000 /dev/zero | tr '\0' '['; } > "$I/f-nested.yaml"
sed -i "s|OUT|$O/flow|" "$I"/f-*.yaml
case_ flow-unknown-key "f-unknown.yaml:5" "$B" run "$I/f-unknown.yaml"
case_ flow-bits      "f-bits.yaml:5" "$B" run "$I/f-bits.yaml"
case_ flow-nested    "YAML nesting deeper than 32" "$B" run "$I/f-nested.yaml"
case_ flow-missing   "nope.yaml: cannot open" "$B" run "$I/nope.yaml"
case_ flow-mpjson-dir "--mp-json $I: is a folder" "$B" run "$I/f-unknown.yaml" --mp-json "$I"
sed 's/dm: 2 /dm: 0 /' $HW > "$I/h-dm0.yaml"
sed 's/dk: 64 /dk: 63 /' $HW > "$I/h-dk63.yaml"
sed 's/clock_mhz: 15 /clock_mhz: -1 /' $HW > "$I/h-clock.yaml"
{ printf 'name: '; head -c 100000 /dev/zero | tr '\0' '['; } > "$I/h-nested.yaml"
case_ hw-dm0     "h-dm0.yaml" "$B" latency --model $M --hw "$I/h-dm0.yaml"
case_ hw-dk63    "h-dk63.yaml" "$B" latency --model $M --hw "$I/h-dk63.yaml"
case_ hw-clock   "h-clock.yaml" "$B" latency --model $M --hw "$I/h-clock.yaml"
case_ hw-nested  "YAML nesting deeper than 32" "$B" latency --model $M --hw "$I/h-nested.yaml"
case_ hw-missing "nope.yaml" "$B" latency --model $M --hw "$I/nope.yaml"

# ------------------------------------------------------------------ ONNX
OX=tests/onnx/models/tiny_res.onnx
head -c 700 $OX > "$I/trunc.onnx"; head -c 3000 /dev/urandom > "$I/random.onnx"; : > "$I/empty.onnx"
mkdir -p "$I/dir.onnx"
cp $OX "$I/nan.onnx"; sz=$(stat -c %s $OX)
printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$I/nan.onnx" bs=1 seek=$((sz * 3 / 4)) conv=notrunc 2>/dev/null
case_ onnx-truncated "trunc.onnx: not a valid ONNX model" "$B" info "$I/trunc.onnx"
case_ onnx-random    "random.onnx" "$B" info "$I/random.onnx"
case_ onnx-empty     "empty.onnx" "$B" info "$I/empty.onnx"
case_ onnx-dir       "dir.onnx: is a folder, not a file" "$B" info "$I/dir.onnx"
case_ onnx-nan       "must be finite" "$B" info "$I/nan.onnx"
case_ onnx-nan-quant "must be finite" "$B" quantize --model "$I/nan.onnx" --recipe $R --out "$O/q.bqq"
case_ onnx-std0      "--std '0' is not a number" "$B" info --model $OX --std 0
case_ onnx-mean-nan  "--mean 'nan' is not a number" "$B" info --model $OX --mean nan
case_ onnx-two-inputs "more than one runtime input" "$B" info tests/fuzz/corpus/onnx/test_reshape_zero_dim.onnx

# ------------------------------------------------------------------ IDX data folder
# idx DIR IMG_MAGIC N ROWS COLS NBYTES LBL_MAGIC NL LABEL: a t10k pair (big-endian IDX headers)
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
idx() {
  mkdir -p "$1"
  { be32 $2; be32 $3; be32 $4; be32 $5; head -c $6 /dev/zero; } | gzip > "$1/t10k-images-idx3-ubyte.gz"
  { be32 $7; be32 $8; head -c $8 /dev/zero | tr '\0' "\\$(printf %03o $9)"; } | gzip > "$1/t10k-labels-idx1-ubyte.gz"
}
idx "$I/d_magic" 0x00000801 10 28 28 7840 0x00000801 10 1
idx "$I/d_trunc" 0x00000803 10 28 28 3000 0x00000801 10 1
idx "$I/d_count" 0x00000803 10 28 28 7840 0x00000801 9 1
idx "$I/d_label" 0x00000803 10 28 28 7840 0x00000801 10 42
mkdir -p "$I/d_empty" "$I/d_plain"
printf 'not gzip' > "$I/d_plain/t10k-images-idx3-ubyte.gz"; cp "$I/d_label/t10k-labels-idx1-ubyte.gz" "$I/d_plain/"
EV=(eval --model "$M" --data)
case_ idx-missing-dir "nodata" "$B" "${EV[@]}" "$I/nodata"
case_ idx-empty-dir  "t10k-images-idx3-ubyte.gz" "$B" "${EV[@]}" "$I/d_empty"
case_ idx-is-file    "fres20.bqq" "$B" "${EV[@]}" "$I/fres20.bqq"
case_ idx-magic      "t10k-images-idx3-ubyte.gz" "$B" "${EV[@]}" "$I/d_magic"
case_ idx-truncated  "t10k-images-idx3-ubyte.gz" "$B" "${EV[@]}" "$I/d_trunc"
case_ idx-count      "10 images but 9 labels" "$B" "${EV[@]}" "$I/d_count"
case_ idx-label-42   "label 42 of image 0 is not in 0..9" "$B" "${EV[@]}" "$I/d_label"
case_ idx-not-gzip   "t10k-images-idx3-ubyte.gz" "$B" "${EV[@]}" "$I/d_plain"

# ------------------------------------------------------------------ the model against the data (before any work)
TINY=tests/fuzz/corpus/bqm/tiny.bqm   # 1x9x9 input, 3 classes
idx "$I/d_10x10" 0x00000803 10 10 10 1000 0x00000801 10 1
npy_u8() {   # path shape(e.g. "8, 9, 9") -- the data on stdin
  local h="{'descr': '|u1', 'fortran_order': False, 'shape': ($2), }"
  local pad=$(( 63 - (10 + ${#h}) % 64 )) hl
  hl=$(( ${#h} + pad + 1 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
    printf '%s%*s\n' "$h" $pad ''; cat; } > "$1"
}
mkdir -p "$I/n9"
head -c $((10 * 81)) /dev/zero | npy_u8 "$I/n9/x.npy" "10, 9, 9"
printf '\000\001\002\003\004\005\006\007\010\011' | npy_u8 "$I/n9/y.npy" "10,"
printf 'kind: npy\ncalib: x.npy\ncalib_labels: y.npy\neval: x.npy\neval_labels: y.npy\nclasses: 10\nmean: [0.5]\nstd: [0.25]\n' > "$I/n9/ten.yaml"
printf 'kind: npy\ncalib: x.npy\neval: x.npy\nclasses: 3\nmean: [0.5]\nstd: [0.25]\n' > "$I/n9/nolabels.yaml"
SHAPE="the data gives 1x28x28 images (CxHxW) but the tiny model takes 1x9x9"
case_ data-shape-eval     "$SHAPE" "$B" eval --model $TINY
case_ data-shape-quantize "$SHAPE" "$B" quantize --model $TINY --recipe $R --out "$O/q.bqq"
case_ data-shape-search   "$SHAPE" "$B" search --model $TINY --hw $HW --budget 0.5x --out "$O/b.yaml"
case_ data-idx-10x10      "the data gives 1x10x10 images (CxHxW) but the fres20 model takes 1x28x28" "$B" eval --model $M --data "$I/d_10x10"
case_ data-classes        "the data has 10 classes (labels 0..9) but the tiny model has 3 outputs" "$B" eval --model $TINY --data "$I/n9/ten.yaml"
case_ data-no-labels      "the evaluation split has no labels, which evaluation needs" "$B" eval --model $TINY --data "$I/n9/nolabels.yaml"

# ------------------------------------------------------------------ flags
case_ flag-wbits-1     "--wbits '1,2': bit-width 1 is outside 2..8" "$B" search --model $M --hw $HW --budget 0.5x --wbits 1,2
case_ flag-abits-9     "bit-width list '2,9'" "$B" search --model $M --hw $HW --budget 0.5x --abits 2,9
case_ flag-wbits-empty "--wbits= has an empty value" "$B" search --model $M --hw $HW --budget 0.5x --wbits=
case_ flag-budget      "budget" "$B" search --model $M --hw $HW --budget lots
case_ flag-images-0    "--images '0' is not an integer in [1, 60000]" "$B" search --model $M --hw $HW --budget 0.5x --images 0
case_ flag-epochs-neg  "--epochs '-1' is not an integer" "$B" train --arch fres20 --epochs -1 --out "$O/x.bqm"
case_ flag-threads-0   "--threads '0' is not an integer in [1, 256]" "$B" eval --model $M --threads 0
case_ flag-limit-0     "--limit '0' is not an integer" "$B" eval --quant "$I/q.bqq" --limit 0
case_ flag-tests-neg   "--tests '-1' is not an integer" "$B" export --quant "$I/q.bqq" --hw $HW --out "$O/pkg" --tests -1
case_ flag-unknown     "unknown option '--frobnicate'" "$B" eval --model $M --frobnicate
case_ flag-no-value    "--model needs a value" "$B" eval --model
case_ flag-arch        "unknown architecture 'resnet9000'" "$B" train --arch resnet9000 --out "$O/x.bqm"
case_ flag-command     "unknown command 'trian'" "$B" trian
case_ flag-info-empty  "--model= has an empty value" "$B" info --model=

# ------------------------------------------------------------------ output paths (checked before any work)
cp $M "$I/keep.bqm"; cp "$I/q.bqq" "$I/keep.bqq" 2>/dev/null; touch "$I/afile"
case_ out-same-as-model "--out $I/keep.bqm: is the input '$I/keep.bqm'" "$B" quantize --model "$I/keep.bqm" --recipe $R --out "$I/keep.bqm"
case_ out-preds-is-quant "--preds $I/keep.bqq: is the input" "$B" eval --quant "$I/keep.bqq" --preds "$I/keep.bqq"
case_ out-report-is-model "--report $I/keep.bqm: is the input" "$B" eval --model "$I/keep.bqm" --report "$I/keep.bqm"
case_ out-report-is-preds "is the input" "$B" eval --model $M --report "$O/r.json" --preds "$O/r.json"
case_ out-bits-is-model "--out $I/keep.bqm: is the input" "$B" search --model "$I/keep.bqm" --hw $HW --budget 0.5x --out "$I/keep.bqm"
cmp -s $M "$I/keep.bqm" && cmp -s "$I/q.bqq" "$I/keep.bqq" && pass=$((pass + 1)) ||
  { fail=$((fail + 1)); echo "FAIL an input was overwritten by an output"; }
case_ out-train-nodir  "folder '$O/nodir' does not exist" "$B" train --arch fres20 --epochs 1 --out "$O/nodir/x.bqm"
case_ out-quant-nodir  "folder '$O/nodir' does not exist" "$B" quantize --model $M --recipe $R --out "$O/nodir/q.bqq"
case_ out-search-nodir "folder '$O/nodir' does not exist" "$B" search --model $M --hw $HW --budget 0.5x --out "$O/nodir/b.yaml"
case_ out-export-parent-file "--out $I/afile/pkg: folder '$I/afile' does not exist" "$B" export --quant "$I/q.bqq" --hw $HW --out "$I/afile/pkg"
case_ out-export-is-file "--out $I/afile: is a file, a folder is expected" "$B" export --quant "$I/q.bqq" --hw $HW --out "$I/afile"
case_ out-is-dir       "--out $I/dir.bqm: is a folder; give a file name" "$B" quantize --model $M --recipe $R --out "$I/dir.bqm"
case_ out-report-dir   "--report $I: is a folder" "$B" compare --a "$I/x.preds" --b "$I/x.preds" --report "$I"
case_ out-latency-nodir "folder '$O/nodir' does not exist" "$B" latency --model $M --hw $HW --report "$O/nodir/l.json"
case_ out-empty        "--out= has an empty value" "$B" train --arch fres20 --out=

# ------------------------------------------------------------------ brecq dse (docs/dse.md; the run folder is $T/dse-*)
dse_yaml() {   # dse_yaml FILE EXTRA-LINES: a one-model sweep around tiny
  printf 'name: bad\nbase: %s\nout: %s\nmodels: [%s]\n%b' $HW "$T/dse-$(basename "$1" .yaml)" $M "$2" > "$1"
}
dse_yaml "$I/d-key.yaml" 'budgets: [0.5x]\ngrid:\n  dm: [2]\n  rows: [4]\n'
case_ dse-unknown-key "d-key.yaml:8:3: unknown key 'grid.rows'" "$B" dse "$I/d-key.yaml"
dse_yaml "$I/d-none.yaml" 'budgets: [0.5x]\ngrid:\n  dm: [2]\n  res_lanes: [4, 8]\n'
case_ dse-no-valid    "no config of the grid is valid (all 2 fail the accelerator rules); the first: 'array.res_lanes' (4) must divide array.dm (2)" "$B" dse "$I/d-none.yaml"
sed 's/^  res_lanes: 1 .*/  res_lanes: 3/' $HW > "$I/h-lanes3.yaml"
dse_yaml "$I/d-list.yaml" "budgets: [0.5x]\nconfigs: [$I/h-lanes3.yaml]\n"
case_ dse-config-rtl  "'configs' entry 1: $I/h-lanes3.yaml:16:14: 'array.res_lanes' (3) must divide array.dm (2)" "$B" dse "$I/d-list.yaml"
dse_yaml "$I/d-unit.yaml" 'budgets: [12furlongs]\nwbits: [8]\nabits: [8]\nsens_images: 1\n'
case_ dse-budget-unit "'budgets' entry 1: budget '12furlongs'" "$B" dse "$I/d-unit.yaml"
dse_yaml "$I/d-unmet.yaml" 'budgets: [10cyc]\nwbits: [8]\nabits: [8]\nsens_images: 1\n'
case_ dse-budget-unmet "budget '10cyc' for fres20: no config meets it; the fastest, tiny, needs" "$B" dse "$I/d-unmet.yaml"
case_ dse-missing     "nope.yaml" "$B" dse "$I/nope.yaml"

# a stale temporary of a killed run (its pid no longer exists) is removed when the output is written
touch "$O/../stale.json.tmp.999999999"
mkdir -p "$I/pk2.tmp.999999998"; head -c 1000 /dev/zero > "$I/pk2.tmp.999999998/weights.bin"
if "$B" latency --model $M --hw $HW --report "$T/stale.json" > /dev/null 2>&1 && [ ! -e "$T/stale.json.tmp.999999999" ] &&
   "$BF" export --quant "$I/q.bqq" --hw $HW --tests 0 --out "$I/pk2" > /dev/null 2>&1 && [ ! -e "$I/pk2.tmp.999999998" ]; then
  pass=$((pass + 1))
else fail=$((fail + 1)); echo "FAIL a stale *.tmp.PID of a killed run was not removed"; fi

echo "bad inputs: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ $fail -eq 0 ]
