// POST /v1/label: a batch of `steplens label` input records, labeled by the engine's own labelDataset
// (so the records equal `steplens label`'s output), with progress streamed as NDJSON while it runs.
// Soft labels are normalised against the batch's own rewards (as `steplens label` does against the
// first --calibration-records records), so the labeled records can only be sent once those are in;
// every finished record is announced by a progress line as soon as it is scored.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ServerResponse } from "node:http";
import { labelDataset, type LabelFormat, type LabelRunResult } from "../engine/data/labelDataset.js";
import type { z } from "zod";
import { checkNesting, HttpError, parseJsonText, readBody } from "./http.js";
import { mediaType, NDJSON_TYPES } from "./requestGuard.js";
import { LabelBatch, LabelOptions, parseBody } from "./schemas.js";
import { JobCancelled } from "./jobQueue.js";
import type { ServeContext } from "./context.js";
import type { IncomingMessage } from "node:http";

type LabelOptionValues = z.output<typeof LabelOptions>;

/** Reads either {records: [...], options?} as JSON or the records themselves as NDJSON lines. */
export async function readLabelBatch(req: IncomingMessage, ctx: ServeContext): Promise<{ lines: string[]; options: LabelOptionValues }> {
  const text = await readBody(req, ctx.limits.maxBodyBytes);
  let lines: string[];
  let options: LabelOptionValues = {};
  if (NDJSON_TYPES.includes(mediaType(req))) {
    // The lines are parsed by the engine's dataset reader; only their depth is checked here.
    checkNesting(text);
    lines = text.split("\n").filter((l) => l.trim());
  } else {
    const body = parseBody(LabelBatch, parseJsonText(text, ' (send {"records": [...]} or NDJSON with content-type application/x-ndjson)'));
    lines = body.records.map((r) => JSON.stringify(r));
    options = body.options ?? {};
  }
  if (lines.length === 0) throw new HttpError(400, "invalid-request", "the batch has no records");
  if (lines.length > ctx.limits.maxLabelRecords) {
    throw new HttpError(413, "too-many-records", `the batch has ${lines.length} records; the server labels at most ${ctx.limits.maxLabelRecords} per request (--max-label-records): split it`);
  }
  for (const [i, l] of lines.entries()) {
    const steps = (safeParse(l) as { steps?: unknown } | undefined)?.steps;
    if (Array.isArray(steps) && steps.length > ctx.limits.maxSteps) {
      throw new HttpError(413, "too-many-steps", `record ${i} has ${steps.length} steps; the server scores at most ${ctx.limits.maxSteps} (--max-steps)`);
    }
    if (l.length > ctx.limits.maxChars) throw new HttpError(413, "solution-too-long", `record ${i} is ${l.length} characters; the server scores at most ${ctx.limits.maxChars} (--max-chars)`);
  }
  return { lines, options };
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

export async function handleLabel(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const { lines, options } = await readLabelBatch(req, ctx);
  const format: LabelFormat = options.format ?? "jsonl";
  const useNegatives = options.use_negatives;
  const calibrationRecords = options.calibration_records;
  await ctx.queue.run(signal, async (s) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "steplens-serve-label-"));
    try {
      const input = path.join(dir, "input.jsonl");
      const output = path.join(dir, "output.jsonl");
      await writeFile(input, lines.join("\n") + "\n");
      res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" });
      const line = (obj: unknown): void => {
        if (!res.destroyed) res.write(JSON.stringify(obj) + "\n");
      };
      let run: LabelRunResult;
      try {
        run = await labelDataset(
          ctx.engine,
          input,
          output,
          // One lane per job: the queue counts a batch as one job, so it must not take the other lanes too.
          { format, useNegatives, calibrationRecords, overwrite: true, concurrency: 1 },
          {
            signal: s,
            onMessage: (message) => line({ event: "message", message: message.replace(input, "batch") }),
            onProgress: (p) => {
              if (p.labeled > 0) line({ event: "progress", done: p.done, total: p.total, labeled: p.labeled });
            },
          },
        );
      } catch (err) {
        // The 200 is already sent: the failure goes into the stream, where the client reads it.
        if (!s.aborted) line({ event: "error", error: { code: "label-failed", message: (err as Error).message } });
        res.end();
        throw err;
      }
      const text = await readFile(output, "utf8").catch(() => "");
      for (const l of text.split("\n")) if (l.trim()) line({ event: "record", record: JSON.parse(l) as unknown });
      line({ event: "summary", stats: run.stats, interrupted: run.interrupted });
      res.end();
      // Cut short by its client or the shutdown: a cancellation (no answer to send, nothing to log as a failure).
      if (run.interrupted && s.aborted) throw new JobCancelled();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
