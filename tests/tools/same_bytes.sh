#!/bin/bash
# tests/tools/same_bytes.sh BRECQ OUTDIR — runs a fixed set of short, seeded commands with the given
# brecq binary and writes the SHA-256 of every output file (and of stdout) to OUTDIR/hashes.txt.
# Two binaries give the same bytes when their hashes.txt files are equal: the check a refactoring
# that must not change behaviour is held to (issue 18). About 3 minutes on 2 idle cores. Standard
# error (progress, timings) is not compared; in standard output the folder name and wall times
# are masked.
set -euo pipefail
B=$(realpath "$1"); O=$2
rm -rf "$O"; mkdir -p "$O"
M=configs/models/fres20.bqm
run() { local name=$1; shift; "$B" "$@" > "$O/$name.stdout" 2> "$O/$name.stderr" || { echo "same_bytes: $name failed"; tail -5 "$O/$name.stderr"; exit 1; }; }
run train    train --arch fres20 --epochs 1 --steps 4 --no-val --threads 2 --seed 3 --out "$O/t.bqm"
run rtn      quantize --model $M --recipe configs/quant/rtn_w4a4.yaml --out "$O/rtn.bqq" --threads 2
run brecq    quantize --model $M --recipe configs/quant/brecq_smoke.yaml --out "$O/brecq.bqq" --threads 2
printf "method: brecq_qdrop\nloss: fisher\nqdrop_prob: 0.5\nwbits: 2\nabits: 2\nqdrop_iters: 60\ncalib: 64\n" > "$O/qdrop.yaml"
run qdrop    quantize --model $M --recipe "$O/qdrop.yaml" --out "$O/qdrop.bqq" --threads 2
rm "$O/qdrop.yaml"
run evalint  eval --model $M --quant "$O/brecq.bqq" --int --limit 300 --threads 2 --preds "$O/int.preds"
run evalfp   eval --model $M --limit 300 --threads 2
run latency  latency --model $M --hw configs/hw/edge.yaml
run search   search --model $M --hw configs/hw/edge.yaml --budget 0.55x --images 8 --out "$O/bits.yaml"
run export   export --quant "$O/brecq.bqq" --hw configs/hw/tiny.yaml --out "$O/pkg" --tests 1
# stdout: the output folder's name and wall times (N.N s) are not the program's result
for f in "$O"/*.stdout; do sed -E -i "s|$O|OUT|g; s/[0-9]+\.[0-9]+ s\b/T s/g" "$f"; done
(cd "$O" && find . -type f ! -name '*.stderr' ! -name 'hashes.txt*' | sort | xargs sha256sum) > "$O/hashes.txt"
echo "same_bytes: $(wc -l < "$O/hashes.txt") files hashed -> $O/hashes.txt"
