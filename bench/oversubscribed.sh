#!/usr/bin/env bash
# Two StepLens jobs at once on one machine: each with all cores (the default), then each with its
# share ($STEPLENS_THREADS = cores / 2). The same 20 reference records, labeled twice in parallel.
# llama.cpp's threads busy-wait at every barrier, so oversubscribed cores cost far more than 2x.
set -euo pipefail
cd "$(dirname "$0")/.."
cores=$(node -p 'require("os").availableParallelism()')
share=$(( cores / 2 > 0 ? cores / 2 : 1 ))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node bench/referenceSlice.mjs "$tmp/slice.jsonl" 20
pair() { # pair LABEL THREADS
  local start end
  start=$(date +%s.%N)
  for k in 1 2; do
    STEPLENS_THREADS=$2 node dist/cli.mjs label "$tmp/slice.jsonl" -o "$tmp/$1-$k.jsonl" --templates reference --use-negatives negatives 2>&1 | grep 'labeled' | sed "s/^/$1 job $k: /" &
  done
  wait
  end=$(date +%s.%N)
  echo "$1: two jobs side by side, $2 threads each on $cores cores: wall $(node -p "($end - $start).toFixed(1)") s"
}
alone_start=$(date +%s.%N)
STEPLENS_THREADS=$cores node dist/cli.mjs label "$tmp/slice.jsonl" -o "$tmp/alone.jsonl" --templates reference --use-negatives negatives 2>&1 | grep 'labeled' | sed 's/^/alone: /'
echo "alone: one job, $cores threads: wall $(node -p "($(date +%s.%N) - $alone_start).toFixed(1)") s"
pair all-cores "$cores"
pair shared "$share"
if cmp -s "$tmp/all-cores-1.jsonl" "$tmp/shared-1.jsonl"; then echo "the labels are byte-identical whatever the thread count"; else echo "the labels differ between thread counts"; fi
