// The `steplens` settings as the server uses them. Values come in layers (initializationOptions,
// then the client's workspace configuration); a value that is missing (absent or null) falls through
// to the next layer and finally the default, a value that is wrong falls back to the default with a
// message, because a typo in settings.json must never stop the checks. An empty string is a value:
// VS Code answers "" for a setting the user cleared, and a cleared setting means its default now,
// not whatever a lower layer said at start.

import { createHash } from "node:crypto";
import { DEFAULT_SETTINGS, remoteUrlProblem, type CheckFrequency, type StepLensSettings } from "../../protocol/index.js";
import { checkOption, optionProblem, type OptionName, type OptionValue } from "../engine/optionRules.js";
import { pairSettingsProblem } from "./pairSettings.js";

export interface ResolvedSettings {
  settings: StepLensSettings;
  /** One sentence per rejected value, naming the setting and what was used instead. */
  problems: string[];
}

type Layer = Record<string, unknown>;

const FREQUENCIES: readonly CheckFrequency[] = ["edit", "save", "manual"];

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
    problems.push(`${optionProblem(`steplens.${key}`, expected, value)}; using ${JSON.stringify(fallback)}`);
  };
  /** The setting `key` read by the engine's rule `rule` (optionRules.ts); "" or absent is the default. */
  const ruled = <K extends OptionName>(key: string, rule: K, fallback: OptionValue<K>): OptionValue<K> => {
    const v = pick(objects, key);
    if (v === undefined || v === "") return fallback;
    const checked = checkOption(rule, v);
    if (checked.ok) return checked.value;
    reject(key, v, checked.expected, fallback);
    return fallback;
  };
  const str = (key: string, fallback: string): string => {
    const v = pick(objects, key);
    if (v === undefined) return fallback;
    if (typeof v === "string") return v.trim();
    reject(key, v, "a string", fallback);
    return fallback;
  };
  const d = DEFAULT_SETTINGS;
  const goldRaw = pick(objects, "goldAnswer");
  const settings: StepLensSettings = {
    modelPath: str("modelPath", d.modelPath),
    backend: ruled("backend", "backend", d.backend),
    gpu: ruled("gpu", "gpu", d.gpu),
    gpuLayers: ruled("gpuLayers", "gpuLayers", d.gpuLayers),
    templates: ruled("templates", "templates", d.templates),
    negatives: ruled("negatives", "negatives", d.negatives),
    threshold: ruled("threshold", "threshold", d.threshold),
    aggregation: ruled("aggregation", "aggregation", d.aggregation),
    method: ruled("method", "method", d.method),
    // [] is the default as VS Code writes it: `method` alone.
    methods: ((v) => (Array.isArray(v) && v.length === 0 ? d.methods : ruled("methods", "methods", d.methods)))(pick(objects, "methods")),
    referenceModelPath: str("referenceModelPath", d.referenceModelPath),
    beta: ruled("beta", "beta", d.beta),
    segmentation: ((): StepLensSettings["segmentation"] => {
      const v = pick(objects, "segmentation");
      if (v === undefined || v === "" || v === "lines" || v === "entropy") return v || d.segmentation;
      reject("segmentation", v, "one of lines, entropy", d.segmentation);
      return d.segmentation;
    })(),
    check: {
      frequency: ((): StepLensSettings["check"]["frequency"] => {
        const v = pick(objects, "check.frequency");
        if (v === undefined || v === "") return d.check.frequency;
        if (typeof v === "string" && (FREQUENCIES as readonly string[]).includes(v)) return v as StepLensSettings["check"]["frequency"];
        reject("check.frequency", v, `one of ${FREQUENCIES.join(", ")}`, d.check.frequency);
        return d.check.frequency;
      })(),
      debounceMs: ruled("check.debounceMs", "debounceMs", d.check.debounceMs),
      quality: ((): StepLensSettings["check"]["quality"] => {
        const v = pick(objects, "check.quality");
        if (v === undefined || v === "" || v === "auto") return d.check.quality;
        const checked = checkOption("quality", v);
        if (checked.ok) return checked.value;
        reject("check.quality", v, `${checked.expected} or auto`, d.check.quality);
        return d.check.quality;
      })(),
    },
    promptFormat: ruled("promptFormat", "promptFormat", d.promptFormat),
    // A gold answer may be typed as a number in settings.json.
    goldAnswer: typeof goldRaw === "number" ? String(goldRaw) : str("goldAnswer", d.goldAnswer),
    remote: {
      url: str("remote.url", d.remote.url).replace(/\/+$/, ""),
      timeoutMs: ruled("remote.timeoutMs", "timeoutMs", d.remote.timeoutMs),
    },
  };
  // A reference no method reads is set aside with a word, not refused: settings outlive the method.
  const pairProblem = pairSettingsProblem(settings);
  if (pairProblem) {
    problems.push(pairProblem);
    settings.referenceModelPath = "";
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
  const shaping = [s.modelPath, s.gpu, s.gpuLayers, s.templates, s.promptFormat, s.negatives, s.threshold, s.aggregation, s.backend, s.method, s.methods, s.referenceModelPath, s.beta];
  if (s.backend === "local") return JSON.stringify(shaping);
  const tokenHash = token ? createHash("sha256").update(token).digest("hex").slice(0, 16) : "";
  return JSON.stringify([...shaping, s.remote.url, s.remote.timeoutMs, tokenHash]);
}
