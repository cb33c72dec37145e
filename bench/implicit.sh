#!/usr/bin/env bash
# The measured figures of Implicit PRM (issue 13), each command's output stored with the commit it
# ran on under bench/results-implicit/. Run from the repository root after `npm run build`.
# One part at a time: `bench/implicit.sh cost|quality|implicit-dev|bon|label|memory` (default: all, in that order);
# `memory-0.5b` with STANDIN_POLICY and STANDIN_REFERENCE set (see below).
set -euo pipefail
M=../shared/models
D=../shared/data
POLICY=$M/arith-implicit-prm-15m-f16.gguf
REF=$M/arith-demo-15m-f16.gguf
OUT=bench/results-implicit
mkdir -p "$OUT"
run() { # run NAME COMMAND...: stdout and stderr of the command, after a header naming commit and command
  local name=$1; shift
  { echo "# commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- server || echo ' (+ uncommitted changes under server/)')"
    echo "# $(date -u +%FT%TZ) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "\$ $*"
    "$@" 2>&1; } > "$OUT/$name.txt"
  echo "wrote $OUT/$name.txt"
}
part=${1:-all}
if [[ $part == all || $part == cost ]]; then
  # Cost in one run on 100 dev records: implicit vs cpmi vs mc, time and tokens (and the floor).
  run cost-100 node dist/cli.mjs bench --records 100 --methods cpmi,mc,implicit --policy-model $POLICY --bon-records 0 --threads 1 --report-dir $OUT/cost-100
fi
if [[ $part == all || $part == quality ]]; then
  # Quality on every dev record: step ROC-AUC and ProcessBench F1 of implicit, cpmi and their mean; Best-of-N on all 200 items.
  run quality-dev node dist/cli.mjs bench --records 400 --methods cpmi,implicit,cpmi_implicit --policy-model $POLICY --bon-records 200 --threads 1 --report-dir $OUT/quality-dev
fi
if [[ $part == all || $part == implicit-dev ]]; then
  # Implicit PRM alone on every dev record and Best-of-N item: step rewards, min step reward and outcome r (no pseudo-gold drawn).
  run implicit-dev node dist/cli.mjs bench --records 400 --methods implicit --policy-model $POLICY --bon-records 200 --threads 1 --report-dir $OUT/implicit-dev
fi
if [[ $part == all || $part == bon ]]; then
  # Best-of-N without a gold answer (records stripped of gold_answer), all 200 items.
  jq -c 'del(.gold_answer)' $D/arith-bon-dev.jsonl > "$OUT/bon-dev-nogold.jsonl"
  for m in implicit-min implicit-r; do
    run bon-$m node dist/cli.mjs bon "$OUT/bon-dev-nogold.jsonl" -o "$OUT/bon-$m.jsonl" --method $m --model $POLICY --reference-model $REF --threads 1
  done
  # The picks themselves are not kept: the right-pick rate is in the command's output.
  rm -f "$OUT/bon-dev-nogold.jsonl" "$OUT"/bon-implicit-*.jsonl
fi
if [[ $part == all || $part == label ]]; then
  # label + eval on every ProcessBench dev record: step rewards and the cumulative q.
  run label-dev node dist/cli.mjs label $D/arith-processbench-dev.jsonl -o "$OUT/label-dev.jsonl" --overwrite --method implicit --model $POLICY --reference-model $REF --threads 1 --stats-json "$OUT/label-dev.stats.json"
  run eval-dev-implicit node dist/cli.mjs eval "$OUT/label-dev.jsonl" --score-field implicit
  run eval-dev-q node dist/cli.mjs eval "$OUT/label-dev.jsonl" --score-field q
  rm -f "$OUT/label-dev.jsonl" "$OUT/label-dev.jsonl.calibration.json"
fi
if [[ $part == all || $part == memory ]]; then
  run memory node --import tsx bench/implicitMemory.ts $POLICY $REF
fi
if [[ $part == memory-0.5b ]]; then
  # Real-size stand-ins, made on demand and not shipped (../shared/models/README.md): two files of
  # Qwen2.5-0.5B's exact shape with random weights (seeds 0 and 1), q8_0, tokenizer of Qwen2.5:
  #   python3 ../shared/tools/models/make_random_gguf.py qwen2-0.5b A.gguf --llama-cpp DIR
  #   python3 ../shared/tools/models/make_random_gguf.py qwen2-0.5b B.gguf --seed 1 --llama-cpp DIR
  # Their scores mean nothing; their memory is a real 0.5B pair's.
  run memory-qwen2-0.5b node --import tsx bench/implicitMemory.ts "${STANDIN_POLICY:?set STANDIN_POLICY}" "${STANDIN_REFERENCE:?set STANDIN_REFERENCE}" --records 5
fi
