#!/usr/bin/env node
// `steplens`: the command line over the same engine the language server uses.

import { Command, CommanderError } from "commander";
import { registerScore } from "./commands/score.js";
import { registerLabel } from "./commands/label.js";
import { registerCalibrate } from "./commands/calibrate.js";
import { registerEval } from "./commands/evaluate.js";
import { registerTemplates } from "./commands/templates.js";
import { registerLsp } from "./commands/lsp.js";
import { registerBench } from "./commands/bench.js";
import { registerBon } from "./commands/bon.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerServe } from "./commands/serve.js";
import { registerPull } from "./commands/pull.js";
import { VERSION } from "../version.js";

const program = new Command()
  .name("steplens")
  .description("Step-level rewards (CPMI) for written math reasoning, on a local llama.cpp model")
  .version(VERSION)
  .showHelpAfterError("(run with --help for usage)");

registerScore(program);
registerLabel(program);
registerCalibrate(program);
registerEval(program);
registerTemplates(program);
registerLsp(program);
registerBench(program);
registerBon(program);
registerDoctor(program);
registerServe(program);
registerPull(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`steplens: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
