// The `steplens` settings as the server uses them. Values come in layers (initializationOptions,
// then the client's workspace configuration); a value that is missing (absent or null) falls through
// to the next layer and finally the default, a value that is wrong falls back to the default with a
// message, because a typo in settings.json must never stop the checks. An empty string is a value:
// VS Code answers "" for a setting the user cleared, and a cleared setting means its default now,
// not whatever a lower layer said at start.

import { STEP_METHODS } from "../engine/methods/stepMethods.js";
import { createHash } from "node:crypto";
import { DEFAULT_SETTINGS, remoteUrlProblem, type BackendSetting, type CheckFrequency, type StepLensSettings } from "../../protocol/index.js";
import { GPU_SETTINGS } from "../engine/engineOptions.js";
import { AGGREGATIONS } from "../engine/cpmi/aggregate.js";
import { resolveTemplates } from "../engine/cpmi/templates.js";

export interface ResolvedSettings {
  settings: StepLensSettings;
  /** One sentence per rejected value, naming the setting and what was used instead. */
  problems: string[];
}

type Layer = Record<string, unknown>;

const FREQUENCIES: readonly CheckFrequency[] = ["edit", "save", "manual"];
const BACKENDS: readonly BackendSetting[] = ["local", "remote", "openai", "llama-server"];

function isObject(v: unknown): v is Layer {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** VS Code hands `check.frequency` as nested objects, other clients may send the dotted key. */
function lookup(layer: Layer, key: string): unknown {
  if (key in layer) return layer[key];
  const [head, ...rest] = key.split(".");
  if (rest.length === 0) return undefined;
  const inner = layer[head!];
  return isObject(inner) ? lookup(inner, rest.join(".")) : undefined;
}

/** The value of the highest layer that has one; `""` counts (a cleared setting), null does not. */
function pick(layers: readonly Layer[], key: string): unknown {
  for (let i = layers.length - 1; i >= 0; i--) {
    const v = lookup(layers[i]!, key);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** `layers` from lowest to highest priority; anything that is not an object is ignored. */
export function resolveSettings(layers: readonly unknown[]): ResolvedSettings {
  const objects = layers.filter(isObject);
  const problems: string[] = [];
  const reject = (key: string, value: unknown, expected: string, fallback: unknown): void => {
    problems.push(`steplens.${key} must be ${expected}, got ${JSON.stringify(value)}; using ${JSON.stringify(fallback)}`);
  };
  const str = (key: string, fallback: string): string => {
    const v = pick(objects, key);
    if (v === undefined) return fallback;
    if (typeof v === "string") return v.trim();
    reject(key, v, "a string", fallback);
    return fallback;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = pick(objects, key);
    if (v === undefined || v === "") return fallback;
    if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
    reject(key, v, `one of ${allowed.join(", ")}`, fallback);
    return fallback;
  };
  const num = (key: string, fallback: number, ok: (n: number) => boolean, expected: string): number => {
    const v = pick(objects, key);
    if (v === undefined || v === "") return fallback;
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n === "number" && Number.isFinite(n) && ok(n)) return n;
    reject(key, v, expected, fallback);
    return fallback;
  };
  const d = DEFAULT_SETTINGS;
  const goldRaw = pick(objects, "goldAnswer");
  const settings: StepLensSettings = {
    modelPath: str("modelPath", d.modelPath),
    backend: oneOf("backend", BACKENDS, d.backend),
    gpu: oneOf("gpu", GPU_SETTINGS, d.gpu),
    gpuLayers: ((): "auto" | number => {
      const v = pick(objects, "gpuLayers");
      if (v === undefined || v === "" || v === "auto") return d.gpuLayers;
      const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
      if (typeof n === "number" && Number.isInteger(n) && n >= 0) return n;
      reject("gpuLayers", v, '"auto" or a whole number of layers (0 = CPU only)', d.gpuLayers);
      return d.gpuLayers;
    })(),
    templates: str("templates", d.templates) || d.templates,
    negatives: num("negatives", d.negatives, (n) => Number.isInteger(n) && n >= 1 && n <= 64, "a whole number from 1 to 64"),
    threshold: num("threshold", d.threshold, (n) => n >= 0 && n <= 1, "a soft-label cut between 0 and 1"),
    aggregation: oneOf("aggregation", AGGREGATIONS, d.aggregation),
    method: oneOf("method", STEP_METHODS, d.method),
    segmentation: oneOf("segmentation", ["lines", "entropy"] as const, d.segmentation),
    check: {
      frequency: oneOf("check.frequency", FREQUENCIES, d.check.frequency),
      debounceMs: num("check.debounceMs", d.check.debounceMs, (n) => n >= 0 && n <= 60_000, "a delay in milliseconds from 0 to 60000"),
    },
    // A gold answer may be typed as a number in settings.json.
    goldAnswer: typeof goldRaw === "number" ? String(goldRaw) : str("goldAnswer", d.goldAnswer),
    remote: {
      url: str("remote.url", d.remote.url).replace(/\/+$/, ""),
      timeoutMs: num("remote.timeoutMs", d.remote.timeoutMs, (n) => Number.isInteger(n) && n >= 100 && n <= 3_600_000, "a whole number of milliseconds from 100 to 3600000"),
    },
  };
  try {
    resolveTemplates(settings.templates);
  } catch (err) {
    problems.push(`steplens.templates: ${(err as Error).message}; using "${d.templates}"`);
    settings.templates = d.templates;
  }
  // A bad URL is kept out of the engine; the host then says the address is missing (engineHost.ts).
  const urlProblem = settings.remote.url ? remoteUrlProblem(settings.remote.url) : undefined;
  if (urlProblem) {
    problems.push(urlProblem);
    settings.remote.url = "";
  }
  return { settings, problems };
}

/**
 * Settings whose change needs a new model or scorer (and so drops the scores in hand). A server
 * backend also restarts on a new URL, timeout or token (`token` enters only as a hash).
 */
export function engineKey(s: StepLensSettings, token = ""): string {
  const shaping = [s.modelPath, s.gpu, s.gpuLayers, s.templates, s.negatives, s.threshold, s.aggregation, s.backend, s.method];
  if (s.backend === "local") return JSON.stringify(shaping);
  const tokenHash = token ? createHash("sha256").update(token).digest("hex").slice(0, 16) : "";
  return JSON.stringify([...shaping, s.remote.url, s.remote.timeoutMs, tokenHash]);
}
