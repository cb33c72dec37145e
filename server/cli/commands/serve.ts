// `steplens serve`: the engine behind an HTTP API (server/serve/), so editors and scripts on other
// machines score with a model that lives here. See docs/serve.md.

import type { Command } from "commander";
import { createEngine, OptionError, type Engine } from "../../engine/engineOptions.js";
import { chooseToken, isLoopback } from "../../serve/auth.js";
import { startServer, type RunningServer } from "../../serve/server.js";
import { normalizeOrigin } from "../../serve/requestGuard.js";
import { DEFAULT_LIMITS } from "../../serve/limits.js";
import { addEngineFlags, engineOptionsFrom, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { fail, report } from "../report.js";

interface ServeFlags extends EngineFlagValues {
  host: string;
  port: number;
  parallel: number;
  maxQueue: number;
  maxBody: number;
  maxSteps: number;
  maxChars: number;
  maxLabelRecords: number;
  grace: number;
  quiet?: boolean;
  allowOrigin: string[];
  allowHost: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export const DEFAULT_PORT = 8734;

export function registerServe(program: Command): void {
  addEngineFlags(
    program
      .command("serve")
      .description("serve the model over HTTP (JSON API: score, label, Best-of-N, and the remote backend of --backend remote); see docs/serve.md")
      .option("--host <address>", "address to listen on; anything but loopback requires a bearer token", "127.0.0.1")
      .option("--port <n>", "port (0: any free port)", parseIntStrict, DEFAULT_PORT)
      .option("--parallel <n>", "solutions scored at the same time (backend lanes)", parseIntStrict, 1)
      .option("--max-queue <n>", "jobs that may wait for a lane; more get 429 with Retry-After", parseIntStrict, DEFAULT_LIMITS.maxQueue)
      .option("--max-body <bytes>", "largest request body (413 above)", parseIntStrict, DEFAULT_LIMITS.maxBodyBytes)
      .option("--max-steps <n>", "most steps in one solution (413 above)", parseIntStrict, DEFAULT_LIMITS.maxSteps)
      .option("--max-chars <n>", "most characters in one solution or prefix (413 above)", parseIntStrict, DEFAULT_LIMITS.maxChars)
      .option("--max-label-records <n>", "most records in one /v1/label batch", parseIntStrict, DEFAULT_LIMITS.maxLabelRecords)
      .option("--grace <ms>", "on SIGINT/SIGTERM, how long running and queued jobs may take to finish", parseIntStrict, 30_000)
      .option("--allow-origin <origin>", "let a browser-based client on this origin (scheme://host[:port]) call the server; repeatable. Every other web page gets 403", collect, [])
      .option("--allow-host <name>", "on a loopback address, also answer requests addressed to this host name (a proxy or /etc/hosts name); repeatable", collect, [])
      .option("--quiet", "do not log each request"),
  ).action(async (flags: ServeFlags) => {
    for (const [name, v, min] of [["--parallel", flags.parallel, 1], ["--max-queue", flags.maxQueue, 0], ["--max-body", flags.maxBody, 1024], ["--max-steps", flags.maxSteps, 1], ["--max-chars", flags.maxChars, 1], ["--max-label-records", flags.maxLabelRecords, 1], ["--grace", flags.grace, 0]] as const) {
      if (v < min) fail(new Error(`${name} must be at least ${min}, got ${v}`));
    }
    if (flags.port < 0 || flags.port > 65535) fail(new Error(`--port must be from 0 to 65535, got ${flags.port}`));
    for (const o of flags.allowOrigin) {
      if (normalizeOrigin(o) === undefined) fail(new OptionError(`--allow-origin ${JSON.stringify(o)} is not an origin: give scheme://host[:port] as the browser shows it, e.g. http://localhost:5173`));
    }
    let engine: Engine | undefined;
    let server: RunningServer | undefined;
    try {
      const choice = chooseToken(flags.host, flags.token);
      engine = await createEngine({ ...engineOptionsFrom(flags), token: undefined, parallel: flags.parallel });
      server = await startServer(engine, {
        host: flags.host,
        port: flags.port,
        token: choice.token,
        concurrency: flags.parallel,
        limits: { maxQueue: flags.maxQueue, maxBodyBytes: flags.maxBody, maxSteps: flags.maxSteps, maxChars: flags.maxChars, maxLabelRecords: flags.maxLabelRecords },
        log: flags.quiet ? undefined : (line) => report(line),
        allowOrigins: flags.allowOrigin,
        allowHosts: flags.allowHost,
      });
      const info = engine.backend.info;
      report(`serving ${info.model} (${info.device}, ${engine.backend.parallel} lane${engine.backend.parallel > 1 ? "s" : ""}) on ${server.url}`);
      switch (choice.source) {
        case "generated":
          report(`generated a bearer token (stored in ${choice.file}, mode 0600; restarts reuse it):`);
          process.stdout.write(`${choice.token}\n`);
          report(`clients pass it with --token or $STEPLENS_TOKEN`);
          break;
        case "stored":
          report(`token required: the one stored in ${choice.file}`);
          if (choice.loosenedMode !== undefined) {
            report(`warning: ${choice.file} was readable by other users (mode ${choice.loosenedMode.toString(8)}); it is 0600 now, but anyone who read it has the token: delete the file and restart to get a new one`);
          }
          break;
        case "flag":
        case "env":
          report(`token required (from ${choice.source === "flag" ? "--token" : "$STEPLENS_TOKEN"})`);
          break;
        default:
          report(`no token required: listening on loopback only (${flags.host}); set --token or $STEPLENS_TOKEN to require one`);
      }
      if (flags.allowOrigin.length) report(`web pages allowed to call (CORS): ${flags.allowOrigin.join(", ")}`);
      if (!isLoopback(flags.host) && server.url.startsWith("http:")) {
        report(`warning: plain HTTP on ${flags.host}; put a TLS proxy or an SSH tunnel in front (docs/serve.md)`);
      }
      report(`ready: ${server.url}`);
    } catch (err) {
      await engine?.dispose();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
        const why = code === "EADDRINUSE" ? "is already in use (another steplens serve?)" : code === "EACCES" ? "needs privileges (ports below 1024)" : "is not an address of this machine";
        report(`cannot listen on ${flags.host}:${flags.port}: it ${why}; pick another --port or --host`);
        process.exit(1);
      }
      fail(err);
    }
    const running = server!;
    const eng = engine!;
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        report(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      const { running: r, waiting: w } = running.queue.stats();
      report(`${signal}: finishing ${r} running and ${w} queued jobs (up to ${flags.grace} ms), refusing new ones`);
      void running
        .shutdown(flags.grace)
        .then(async ({ drained }) => {
          await eng.dispose();
          report(drained ? "all work finished; stopped" : "grace period over: unfinished jobs were answered 503; stopped");
          process.exit(0);
        })
        .catch((err: unknown) => {
          report(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        });
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
}
