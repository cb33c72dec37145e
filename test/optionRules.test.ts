// One rule per option for every front end (issue 12 item 15): a value the engine refuses is refused
// in the same words by `steplens` flags and by the editor's settings, and a value one of them takes
// the others take too. Real CLI runs, the real settings resolver, the real engine factory.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createEngine, OptionError, type EngineOptions } from "../server/engine/engineOptions.js";
import { resolveSettings } from "../server/lsp/settings.js";
import { checkOption, type OptionName } from "../server/engine/optionRules.js";
import { REPO, runCli } from "./helpers.js";

const FILE = path.join(REPO, "examples/wrong-step.md");

interface Case {
  flag: string;
  setting: Record<string, unknown>;
  /** Absent for an option the engine factory does not take (the quality is chosen per scoring call): then `rule` is checked. */
  engine?: EngineOptions;
  rule?: OptionName;
  value: string;
  expected: RegExp;
}

// A server backend with an address nothing listens on: a value that passes the checks would make
// the engine try to connect (and fail differently) instead of refusing the option.
const server = { backend: "remote", endpoints: ["http://127.0.0.1:9"] } satisfies EngineOptions;
const cases: Case[] = [
  { flag: "--negatives", value: "0", setting: { negatives: 0 }, engine: { ...server, negatives: 0 }, expected: /must be a whole number from 1 to 64/ },
  { flag: "--threshold", value: "2", setting: { threshold: 2 }, engine: { ...server, threshold: 2 }, expected: /must be a soft-label cut between 0 and 1/ },
  { flag: "--aggregation", value: "median", setting: { aggregation: "median" }, engine: { ...server, aggregation: "median" }, expected: /must be one of min, mean, last, product/ },
  { flag: "--timeout", value: "5", setting: { remote: { timeoutMs: 5 } }, engine: { ...server, timeoutMs: 5 }, expected: /must be a whole number of milliseconds from 100 to 3600000/ },
  { flag: "--max-in-flight", value: "0", setting: {}, engine: { ...server, maxInFlight: 0 }, expected: /must be a whole number from 1 to 1024/ },
  { flag: "--prompt-format", value: "jinja", setting: { promptFormat: "jinja" }, engine: { ...server, promptFormat: "jinja" }, expected: /must be one of auto, chat, raw/ },
  // The setting also takes "auto" (fast while typing, full when idle): its message adds it.
  { flag: "--quality", value: "best", setting: { check: { quality: "best" } }, rule: "quality", expected: /must be one of fast, full/ },
];

describe("option rules shared by the CLI, the editor settings and the engine", () => {
  for (const c of cases) {
    test(`${c.flag} ${c.value} is refused everywhere with the same words`, async () => {
      const cli = await runCli(["score", c.flag, c.value, FILE]);
      assert.notEqual(cli.code, 0);
      assert.match(cli.stderr, c.expected, cli.stderr);
      if (Object.keys(c.setting).length > 0) {
        const { problems } = resolveSettings([c.setting]);
        assert.equal(problems.length, 1, problems.join("\n"));
        assert.match(problems[0]!, c.expected);
      }
      if (c.engine) await assert.rejects(createEngine(c.engine), (err: Error) => err instanceof OptionError && c.expected.test(err.message));
      else {
        const checked = checkOption(c.rule!, c.value);
        assert.ok(!checked.ok && c.expected.test(`must be ${checked.expected}`));
      }
    });
  }
});
