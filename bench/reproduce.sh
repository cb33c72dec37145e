#!/usr/bin/env bash
# Reruns every command behind a figure in README.md, bench/README.md, CHANGELOG.md and docs/*.md and
# stores each one's output with the commit it ran on (bench/record.ts: output.txt, stderr.txt,
# provenance.json) under bench/results/NAME/. The table "Where every figure comes from" in
# bench/README.md says which figure comes from which NAME.
#
#   bash bench/reproduce.sh counts     # figures that are not timings: AUC, F1, agreements, sizes, counts
#   bash bench/reproduce.sh timings    # wall times and ratios of times: run on a quiet machine
#   bash bench/reproduce.sh all
#   bash bench/reproduce.sh NAME...    # some steps by name (see the list at the end)
#
# Timings are only worth storing from an otherwise idle machine: each provenance.json records the
# load average before and after, and a run whose load_before exceeds the core count should be redone.
# Commit first: provenance.json says "dirty": true when the work tree had uncommitted changes.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/results
record() { # record NAME COMMAND...
  local name=$1
  shift
  echo "== $name: $*" >&2
  node --import tsx bench/record.ts --out "$OUT/$name" -- "$@"
}

# ---- figures that are not timings ----

vsix_sizes() { # README "Packaging" table, the 34 MB llama.cpp source and the 70-540 MB GPU variants
  record vsix-sizes bash -c 'node scripts/package.mjs --all >&2 && ls -l out/vsix/*.vsix && du -sh node_modules/node-llama-cpp/llama/gitRelease.bundle node_modules/@node-llama-cpp/*'
}
openai_fixture() { # docs/openai-compatible.md: exchanges in the generated fixture, its size, CPMI through it vs local
  record openai-fixture bash -c 'ls -l test/fixtures/vllm/demo-model-exchanges.json.gz && node -e "const z=require(\"zlib\"),f=require(\"fs\");console.log(JSON.parse(z.gunzipSync(f.readFileSync(\"test/fixtures/vllm/demo-model-exchanges.json.gz\"))).length, \"exchanges\")" && node --import tsx --test --test-reporter=spec test/openai.test.ts'
}
llama_server_agreement() { # README, CHANGELOG, docs/openai-compatible.md: llama-server vs local on 40 dev records (its wall times are redone in `timings`)
  npm run build:llama-server
  record llama-server-agreement node --import tsx bench/llamaServerAgreement.ts --records 40
}
llama_server_test() { # docs/openai-compatible.md "measured 4.5e-4, 1.4e-4, 7.4e-4" (the test's own 4 records)
  npm run build:llama-server
  record llama-server-test node --import tsx --test --test-reporter=spec test/llamaServer.test.ts
}
cpmi_variants() { # bench/README.md: cpmi_s1 / cpmi_s0 against MC, q-a-hashes against question-answer-is (60 records)
  record cpmi-variants node dist/cli.mjs bench --records 60 --gpu off --methods cpmi,mc --also-samples 1,0,solution:q-a-hashes --bon-records 0 --report-dir "$OUT/cpmi-variants"
}
reference_parity() { # the AUC test/cli.test.ts bounds: 20 reference records, reference templates, their own negatives
  local tmp
  tmp=$(mktemp -d)
  node bench/referenceSlice.mjs "$tmp/slice.jsonl" 20
  record reference-parity-auc bash -c "node dist/cli.mjs label $tmp/slice.jsonl -o $tmp/out.jsonl --templates reference --use-negatives negatives >&2 && node dist/cli.mjs eval $tmp/out.jsonl --json"
}
lsp_label_auc() { # the AUC test/lsp.test.ts bounds: steplens/labelDataset on 5 dev records with the editor's scoring settings
  local tmp
  tmp=$(mktemp -d)
  record lsp-label-auc bash -c "node dist/cli.mjs label ../shared/data/arith-processbench-dev.jsonl -o $tmp/out.jsonl --limit 5 --templates default --negatives 4 --negatives-from samples >&2 && node dist/cli.mjs eval $tmp/out.jsonl --json"
}
calibrations() { # the shipped calibrations (server/engine/cpmi/calibrations.ts, docs/calibration.md): median and MAD of both presets on the dev set
  local cache
  cache=$(mktemp -d)
  record calibration-labeling env STEPLENS_CACHE_DIR="$cache" node dist/cli.mjs calibrate --for labeling --data ../shared/data/arith-processbench-dev.jsonl --json --no-save --threads 1
  record calibration-scoring env STEPLENS_CACHE_DIR="$cache" node dist/cli.mjs calibrate --for scoring --data ../shared/data/arith-processbench-dev.jsonl --json --no-save --threads 1
}
label_history() { # docs/calibration.md, data/scoreRecord.ts: how much a record's rewards depended on the records labeled before it
  record label-history node --import tsx bench/labelHistory.ts --records 30
}
segment() { # bench/README.md segmentation table (200 solutions, both signals)
  record segment-line-break node --import tsx bench/segment.ts --records 200 --json
  record segment-entropy node --import tsx bench/segment.ts --records 200 --signal entropy --threshold 0.5 --json
}
bon_variants() { # bench/README.md Best-of-N variants on 200 items (accuracies; its seconds are not quoted)
  record bon-variants-200 node --import tsx bench/bonVariants.ts --records 200
}
pool_kill() { # docs/scale.md: two steplens serve, one killed, every record once; max |Δ reward| from local
  record pool-kill node --import tsx --test --test-reporter=spec --test-name-pattern 'every record is labeled exactly once' test/pool.test.ts
}

# ---- timings: on a quiet machine ----

bench_default() { # bench/README.md: `steplens bench` with its defaults (wall time, cpmi/MC ratios, AUC/F1)
  record bench-default bash -c "/usr/bin/time -f 'wall %e s' node dist/cli.mjs bench --gpu off --report-dir $OUT/bench-default"
}
bench_200() { # bench/README.md: the 200-record table, Best-of-N on 20 items
  record bench-200 bash -c "/usr/bin/time -f 'wall %e s' node dist/cli.mjs bench --records 200 --naive-records 20 --bon-records 20 --gpu off --report-dir $OUT/bench-200"
}
bench_threads() { # bench/README.md: one llama.cpp thread against two (MC and CPMI, same records)
  record bench-threads-1 node dist/cli.mjs bench --records 40 --methods cpmi,mc --bon-records 0 --gpu off --threads 1 --json
  record bench-threads-2 node dist/cli.mjs bench --records 40 --methods cpmi,mc --bon-records 0 --gpu off --threads 2 --json
}
serve_load() { # bench/README.md serve load table
  npm run build
  record serve-load node --import tsx bench/serveLoad.ts
}
llama_server_agreement_times() { # docs/openai-compatible.md: wall time local vs llama-server (same run gives the agreement)
  npm run build:llama-server
  record llama-server-agreement-times node --import tsx bench/llamaServerAgreement.ts --records 40
}
llama_server_build() { # README / docs: how long building llama-server takes (into an empty cache folder; the one in use stays)
  local cache
  cache=$(mktemp -d)
  record llama-server-build env STEPLENS_LLAMA_SERVER_CACHE="$cache" /usr/bin/time -v node scripts/build-llama-server.mjs
  rm -rf "$cache"
}
doctor() { # docs/scale.md: steplens doctor on the demo model
  record doctor node dist/cli.mjs doctor
}
lsp_latency() { # issue 11: editor latency, fast and full quality, peak RSS, labeling s/record; the 0.5B stand-in (make it with ../shared/tools/models/make_random_gguf.py qwen2-0.5b /tmp/qwen2-0.5b.gguf) and the demo model
  record lsp-latency-qwen2-0.5b node --import tsx bench/lspLatency.ts --model "${STANDIN:-/tmp/qwen2-0.5b.gguf}" --file bench/fixtures/gsm8k-six-steps.md --threads 2 --spawn --qualities --label 5 --no-typing
  record lsp-latency-demo node --import tsx bench/lspLatency.ts --file bench/fixtures/gsm8k-six-steps.md --threads 2 --spawn --qualities --label 5 --no-typing
}
threads_oversubscribed() { # README: two jobs side by side, all cores each against a share each (STEPLENS_THREADS)
  record threads-oversubscribed bash bench/oversubscribed.sh
}
timings() { # the speed checks that left the test suite (bench/timings.ts)
  record timings node --import tsx bench/timings.ts
}

COUNTS=(vsix_sizes openai_fixture llama_server_agreement llama_server_test cpmi_variants reference_parity lsp_label_auc calibrations label_history segment bon_variants pool_kill)
TIMINGS=(bench_default bench_200 bench_threads serve_load llama_server_agreement_times llama_server_build doctor timings lsp_latency threads_oversubscribed)

[ $# -gt 0 ] || { echo "usage: bash bench/reproduce.sh counts|timings|all|STEP... (steps: ${COUNTS[*]} ${TIMINGS[*]})" >&2; exit 2; }
npm run build >&2
for arg in "$@"; do
  case "$arg" in
    counts) for s in "${COUNTS[@]}"; do "$s"; done ;;
    timings) for s in "${TIMINGS[@]}"; do "$s"; done ;;
    all) for s in "${COUNTS[@]}" "${TIMINGS[@]}"; do "$s"; done ;;
    *) "$arg" ;;
  esac
done
