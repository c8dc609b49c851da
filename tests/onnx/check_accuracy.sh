#!/bin/bash
# check_accuracy.sh EXPECTED.json GOT.json LABEL — compare the top-1 that `brecq eval --report`
# measured on an imported ONNX model with the one PyTorch reported (tests/onnx/make_resnet.py).
# Passes when they differ by at most 0.05 percentage points on the same number of test images.
set -euo pipefail
num() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -1; }
want=$(num "$1" correct); want_n=$(num "$1" images)
got=$(num "$2" correct); got_n=$(num "$2" images)
if [ -z "$want" ] || [ -z "$got" ] || [ "$want_n" != "$got_n" ]; then
  echo "onnx accuracy: $3: cannot compare $1 with $2 (missing fields or different image counts)"
  exit 1
fi
awk -v w="$want" -v g="$got" -v n="$got_n" -v l="$3" 'BEGIN {
  d = (g - w) * 100.0 / n; if (d < 0) d = -d;
  printf "onnx accuracy: %s: brecq %.2f%% vs PyTorch %.2f%% (%d images, |diff| %.3f pt, limit 0.05)\n",
         l, g * 100.0 / n, w * 100.0 / n, n, d;
  exit (d <= 0.05) ? 0 : 1 }'
