#!/bin/bash
# dse_brecq.sh — BRECQ (fast schedule) + integer top-1 on the 10k test set for the best config of
# every (model, budget) of a finished sweep (docs/dse.md "Top-1 of the front").
#   sw/dse/dse_brecq.sh RUN_FOLDER [BRECQ] [RECIPE] [TODO]
# TODO (optional): a file of "model alloc" lines to run instead of the best rows.
# The allocation of a row is its bits file RUN_FOLDER/bits/<model>-<alloc>.yaml, named by a hash of
# (model, bit assignment): the quantized model RUN_FOLDER/brecq/<model>-<alloc>.bqq is built once
# per distinct assignment (identical allocations of different configs/budgets share it) and a
# finished one is never rebuilt (resumable: every output is written atomically by brecq).
# Output: RUN_FOLDER/brecq/top1.tsv (model, alloc, integer top-1 as a fraction), one line per alloc.
set -eu
RUN=$1 B=${2:-build/brecq} RECIPE=${3:-configs/dse/brecq_fast.yaml} TODO=${4:-}
mkdir -p "$RUN/brecq"
if [ -n "$TODO" ]; then sort -u "$TODO" > "$RUN/brecq/todo.txt"; else
# "best" rows of dse.json: model label and alloc hash (one JSON object per line)
sed -n '/"best": \[/,/^  \]/p' "$RUN/dse.json" | grep -o '"model": "[^"]*".*"alloc": "[0-9a-f]*"' |
  sed 's/"model": "\([^"]*\)".*"alloc": "\([0-9a-f]*\)"/\1 \2/' | sort -u > "$RUN/brecq/todo.txt"
fi
while read -r label alloc; do
  q="$RUN/brecq/$label-$alloc.bqq" log="$RUN/brecq/$label-$alloc.log"
  path=$(grep -o "\"label\": \"$label\", \"path\": \"[^\"]*\"" "$RUN/dse.json" | sed 's/.*"path": "\(.*\)"/\1/')
  if [ ! -s "$q" ]; then
    echo "dse_brecq: $label $alloc: BRECQ (fast schedule) ..." >&2
    start=$(date +%s)
    nice -n 5 "$B" quantize --model "$path" --recipe "$RECIPE" --bits "$RUN/bits/$label-$alloc.yaml" --out "$q" > "$log" 2>&1
    echo "dse_brecq: $label $alloc: $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  fi
  if [ ! -s "$q.top1" ]; then
    nice -n 5 "$B" eval --quant "$q" --int > "$q.eval" 2>&1
    sed -n 's/.*integer    top-1 \([0-9.]*\).*/\1/p' "$q.eval" > "$q.top1.tmp" && mv "$q.top1.tmp" "$q.top1"
  fi
  printf '%s\t%s\t%s\n' "$label" "$alloc" "$(cat "$q.top1")"
done < "$RUN/brecq/todo.txt" | sort -u > "$RUN/brecq/top1.tsv.tmp"
mv "$RUN/brecq/top1.tsv.tmp" "$RUN/brecq/top1.tsv"
cat "$RUN/brecq/top1.tsv"
