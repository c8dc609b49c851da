#!/bin/bash
# tests/data/test_data.sh BRECQ IDX2PNG DATA_LOGITS — the dataset YAML end to end (docs/data.md):
#  1. the 10k Fashion-MNIST test images written as a PNG class-folder tree give exactly the IDX
#     top-1 of configs/models/fres20.bqm (same pixels, same normalisation, any order);
#  2. the second run reads the uint8 cache file (and gives the same line);
#  3. a 3-channel data set for a 1-channel ONNX model, an unknown YAML key, an empty class folder,
#     a folder without classes, a corrupt PNG and an eval split without labels each fail within
#     1 s with exit 1 and exactly one line on stderr naming the problem (the corrupt PNG in a
#     50-image folder: it is found by the decode pass, whose time grows with the folder);
#  4. the real-data fixture (tests/data/realdata/, written by tests/data/realdata.py): 20 RGB PNGs
#     through the engine's decode, per-channel normalisation and ONNX forward give PyTorch's logits
#     within 1e-4 and the same argmax on every image;
#  5. `make realdata` with a malformed REALDATA_EXTRA cell fails the same way before any work.
set -euo pipefail
B=$(realpath "$1"); P=$(realpath "$2"); L=$(realpath "$3")
T=$(mktemp -d /tmp/brecq_test_data.XXXXXX)
trap 'rm -rf "$T"' EXIT
IDX=${BQ_DATA_DIR:-/usr/share/datasets/fashion-mnist}
fail() { echo "test_data: FAIL: $*"; exit 1; }

"$P" "$IDX" test 0 "$T/png" || fail "idx2png"
cat > "$T/png.yaml" <<Y
kind: images
eval: png
calib: png
color: grey
mean: [0.2860]
std: [0.3530]
Y
M=configs/models/fres20.bqm
idx_line=$("$B" eval --model $M --threads 2 | sed 's/^[^:]*: //')
png_line=$("$B" eval --model $M --threads 2 --data "$T/png.yaml" --report "$T/r.json" | sed 's/^[^:]*: //')
[ "$idx_line" = "$png_line" ] || fail "PNG folder gives '$png_line', IDX gives '$idx_line'"
grep -q '"classes": \["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"\]' "$T/r.json" || fail "label map missing in the report: $(cat "$T/r.json")"
ls "$T"/png.yaml.cache/test-*.u8 > /dev/null 2>&1 || fail "no pixel cache file"
[ "$(stat -c %s "$T"/png.yaml.cache/test-*.u8)" = 7840000 ] || fail "cache file is not 10000x1x28x28 bytes"
again=$("$B" eval --model $M --threads 2 --data "$T/png.yaml" | sed 's/^[^:]*: //')
[ "$again" = "$idx_line" ] || fail "second (cached) run gives '$again'"
echo "test_data: PNG folder top-1 = IDX top-1 ($idx_line), cached rerun identical"

# one-line errors, exit 1, within a second
expect_err() {   # name, fragment, command...
    local name=$1 frag=$2; shift 2
    local t0 t1 rc=0
    t0=$(date +%s%N)
    "$@" > "$T/out" 2> "$T/err" || rc=$?
    t1=$(date +%s%N)
    [ $rc = 1 ] || fail "$name: exit $rc, expected 1 ($(cat "$T/err"))"
    [ "$(wc -l < "$T/err")" = 1 ] || fail "$name: expected one line on stderr, got: $(cat "$T/err")"
    grep -qF -- "$frag" "$T/err" || fail "$name: '$frag' not in: $(cat "$T/err")"
    local ms=$(( (t1 - t0) / 1000000 ))
    [ $ms -lt 1000 ] || fail "$name: took $ms ms (limit 1000)"
    echo "test_data: $name: $ms ms: $(cat "$T/err")"
}
sed 's/color: grey/color: rgb/' "$T/png.yaml" > "$T/rgb.yaml"
expect_err "shape mismatch" "gives 3x28x28 images (CxHxW) but the onnx model takes 1x28x28" \
    "$B" eval --model tests/onnx/models/resnet8.onnx --data "$T/rgb.yaml"
printf 'kind: images\neval: png\ncolour: grey\n' > "$T/badkey.yaml"
expect_err "unknown key" "colour" "$B" eval --model $M --data "$T/badkey.yaml"
mkdir -p "$T/empty/a" "$T/noclass"
printf 'kind: images\neval: empty\ncolor: grey\n' > "$T/empty.yaml"
expect_err "empty class folder" "empty class folder" "$B" eval --model $M --data "$T/empty.yaml"
printf 'kind: images\neval: noclass\ncolor: grey\n' > "$T/noclass.yaml"
expect_err "no class folders" "no class folders" "$B" eval --model $M --data "$T/noclass.yaml"
for k in 0 1 2 3 4 5 6 7 8 9; do   # a small copy: a corrupt file is found while decoding
    mkdir -p "$T/bad/$k"; pngs=("$T/png/$k"/*.png); cp "${pngs[@]:0:5}" "$T/bad/$k/"
done
pngs=("$T"/bad/3/*.png); f=${pngs[2]}
head -c 60 "$f" > "$T/trunc" && mv "$T/trunc" "$f"
printf 'kind: images\neval: bad\ncolor: grey\ncache: false\n' > "$T/bad.yaml"
expect_err "truncated PNG" "$f: corrupt or truncated PNG" "$B" eval --model tests/onnx/models/resnet8.onnx --data "$T/bad.yaml"
# an npy eval split without labels: 2 images of 1x28x28 uint8 written by hand (docs/data.md)
hdr="{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 28, 28), }"
pad=$(( 64 - (10 + ${#hdr} + 1) % 64 ))
{ printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#hdr} + pad + 1) & 255 )))\\x$(printf %02x $(( (${#hdr} + pad + 1) >> 8 )))"
  printf '%s' "$hdr"; printf '%*s' $pad ''; printf '\n'; head -c 1568 /dev/zero; } > "$T/x.npy"
printf 'kind: npy\neval: x.npy\n' > "$T/npy.yaml"
expect_err "no labels" "has no labels" "$B" eval --model $M --data "$T/npy.yaml"
# make realdata's extra-schedule cells: a malformed one stops it before any work (render, training)
REALDATA_EXTRA="brecq:2:4:5000" expect_err "realdata extra cell" "REALDATA_EXTRA cell 'brecq:2:4:5000' is not" \
    bash tests/data/realdata.sh "$B"
R=tests/data/realdata
"$L" $R/cnn.onnx $R/png20.yaml $R/png20_logits.txt 1e-4 || fail "engine logits on $R/png20 differ from PyTorch's"
echo "test_data: all passed"
