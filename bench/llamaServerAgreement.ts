// How far CPMI through a real llama-server lands from CPMI on the local backend, and what it costs:
// the same dev records, the same configuration (templates, fill-up negatives, no sampling, so only
// teacher-forced log-probabilities can differ), scored both ways in one run. A third run, local with
// the prefix cache off (on the first --floor-records only: it is 10x slower), shows how much llama.cpp
// disagrees with itself when the same tokens arrive in other batches: the noise floor the server's
// differences should be compared with.
// Usage: node --import tsx bench/llamaServerAgreement.ts [--records N] [--floor-records N] [--templates SET] [--slots N] [--json]
// Builds llama-server first when this machine has none (scripts/build-llama-server.mjs).

import { parseArgs } from "node:util";
import type { Backend } from "../server/engine/backend/types.js";
import { LlamaServerBackend } from "../server/engine/backend/llamaServer.js";
import { loadDemo } from "../test/helpers.js";
import { startLlamaServer } from "../test/llamaServerProcess.js";
import { agreement, agreementConfig, devRecords, scoreAll, type Agreement } from "../test/backendAgreement.js";
import type { SolutionScore } from "../server/engine/cpmi/scorer.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "40" },
    "floor-records": { type: "string", default: "10" },
    templates: { type: "string", default: "default" },
    slots: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});

const records = devRecords(Number(values.records));
const config = agreementConfig(values.templates);

async function timed(backend: Backend, count = records.length): Promise<{ scores: SolutionScore[]; wall: number; evaluated: number }> {
  const before = backend.counters.evaluated;
  const t0 = performance.now();
  const scores = await scoreAll(backend, config, records.slice(0, count));
  return { scores, wall: (performance.now() - t0) / 1000, evaluated: backend.counters.evaluated - before };
}

const server = await startLlamaServer({ slots: Number(values.slots), threads: 1 });
try {
  const remote = await LlamaServerBackend.connect({ endpoint: server.url });
  const local = await loadDemo({ threads: 1, walkers: config.templates.length });
  const naive = await loadDemo({ threads: 1, walkers: config.templates.length, reusePrefix: false });
  const viaLocal = await timed(local);
  const viaServer = await timed(remote);
  const floorRecords = Math.min(records.length, Number(values["floor-records"]));
  const viaNaive = await timed(naive, floorRecords);
  await local.dispose();
  await naive.dispose();
  const server_vs_local: Agreement = agreement(viaServer.scores, viaLocal.scores);
  const local_vs_itself: Agreement = agreement(viaNaive.scores, viaLocal.scores.slice(0, floorRecords));
  const result = {
    records: records.length,
    steps: server_vs_local.steps,
    templates: config.templates.map((t) => t.name),
    server_vs_local,
    local_vs_itself_prefix_cache_off: { records: floorRecords, ...local_vs_itself },
    wall_s: { local: viaLocal.wall, llama_server: viaServer.wall, local_no_prefix_cache: viaNaive.wall },
    tokens_evaluated: { local: viaLocal.evaluated, llama_server: viaServer.evaluated },
    server_time_ratio: viaServer.wall / viaLocal.wall,
  };
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const e = (x: number): string => x.toExponential(2);
    console.log(`llama-server vs local CPMI: ${result.records} records, ${result.steps} steps, templates ${result.templates.join(", ")}, no sampling`);
    console.log(`  max |Δ reward| ${e(server_vs_local.maxReward)}  |Δ soft label| ${e(server_vs_local.maxSoftLabel)}  |Δ gold lp| ${e(server_vs_local.maxGoldLp)}  negatives differing: ${server_vs_local.negativeMismatches}`);
    console.log(`  local vs local without prefix cache, first ${floorRecords} records (llama.cpp batch noise): |Δ reward| ${e(local_vs_itself.maxReward)}  |Δ soft label| ${e(local_vs_itself.maxSoftLabel)}  |Δ gold lp| ${e(local_vs_itself.maxGoldLp)}`);
    console.log(`  wall: local ${viaLocal.wall.toFixed(2)} s, llama-server ${viaServer.wall.toFixed(2)} s (${result.server_time_ratio.toFixed(2)}x), local without prefix cache ${viaNaive.wall.toFixed(2)} s on ${floorRecords} records`);
    console.log(`  tokens evaluated: local ${viaLocal.evaluated}, llama-server ${viaServer.evaluated}`);
  }
} finally {
  await server.stop();
}
