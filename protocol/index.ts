// The wire types between the VS Code client and the StepLens language server. Both sides import this
// file; it imports nothing (no engine, no vscode, no LSP library), so the dependency graph stays
// client → protocol ← server → engine. Positions are LSP's: 0-based line and UTF-16 character.
//
// Besides standard LSP (diagnostics, hover, code lens, code actions, work-done progress) the server
// speaks the custom methods below. Any LSP client may ignore them: the standard features work alone.

export interface WirePosition {
  line: number;
  character: number;
}

export interface WireRange {
  start: WirePosition;
  end: WirePosition;
}

/** "wrong": soft label near 0; "weak": below the threshold; "ok"; "not scored": cut off by the context. */
export type WireVerdict = "ok" | "weak" | "wrong" | "not scored";

export interface WireTemplateTerms {
  template: string;
  goldGain: number;
  negativeGains: number[];
  negativeMean: number;
  reward: number;
}

export interface WireStepScore {
  index: number;
  /** The whole step, prefix included. */
  range: WireRange;
  /** The scored text; diagnostics and the after-line score attach here. */
  textRange: WireRange;
  text: string;
  reward: number | null;
  softLabel: number | null;
  verdict: WireVerdict;
  rank: number;
  goldGain: number | null;
  negativeMean: number | null;
  terms: WireTemplateTerms[];
  /** Same as DiagnosticData.stepKey: identifies the step across edits elsewhere in the file. */
  key?: string;
  /** The user chose "Ignore this step": the server publishes no diagnostic for it. */
  ignored?: boolean;
  /**
   * The text before this step (or the problem, or the gold answer) changed since it was scored: the
   * numbers are the older text's until the next check. An edited step is left out of the scores.
   */
  stale?: boolean;
  /** Implicit PRM's terms, when a pair method scored the step (steplens.method or steplens.methods). */
  implicit?: WireImplicitTerms;
  /**
   * With several methods (steplens.methods): every method's view of this step, the first being the
   * one the fields above come from. Where they disagree (one calls the step ok, another weak or
   * wrong) the server adds an Information diagnostic with code "disagreement".
   */
  methods?: WireMethodScore[];
}

/** A token of the step with its log π_θ − log π_ref (nats, not scaled by β). */
export interface WireTokenTerm {
  text: string;
  logRatio: number;
}

/** Implicit PRM (docs/implicit-prm.md): reward = β × Σ log-ratio over the step's tokens; q the running sum. */
export interface WireImplicitTerms {
  beta: number;
  /** Σ over the step's tokens of log π_θ − log π_ref. */
  logRatio: number | null;
  reward: number | null;
  q: number | null;
  softLabel: number | null;
  /** How many tokens fell in the step. */
  tokens: number;
  /** The five tokens with the largest |log-ratio|, largest first. */
  topTokens: WireTokenTerm[];
}

export interface WireMethodScore {
  /** cpmi, mc, cpmi_merge, rand_merge, implicit or cpmi_implicit. */
  method: string;
  softLabel: number | null;
  reward: number | null;
  verdict: WireVerdict;
}

export interface WireSolutionScore {
  index: number;
  title?: string;
  range: WireRange;
  /** Aggregated soft labels (see `aggregation`). */
  score: number | null;
  aggregation: string;
  /** Index of the predicted first error, -1 for none. */
  firstError: number;
  finalAnswer?: string;
  negatives: string[];
  steps: WireStepScore[];
  /** Some steps were edited since the check (left out of `steps`) or are `stale`. */
  stale?: boolean;
  /** The method the soft labels, verdicts and score come from (absent: cpmi). */
  method?: string;
  /** Implicit PRM's outcome reward r = β × Σ log-ratio over the whole response, when it scored. */
  outcome?: number | null;
}

export interface WireGold {
  value: string;
  source: "front-matter" | "latex-comment" | "record" | "flag" | "setting" | "fallback";
  /** For the fallback: the share of the model's samples that agreed. */
  agreement?: number;
}

/** Where a gold answer came from, in words for people (hover, report). */
export const GOLD_SOURCE_WORDS: Record<WireGold["source"], string> = {
  "front-matter": "front matter",
  "latex-comment": "LaTeX comment % answer:",
  record: "dataset record",
  flag: "command line",
  setting: "setting steplens.goldAnswer",
  fallback: "fallback: the model's majority answer",
};

export interface DocumentScores {
  uri: string;
  /** The document version the scores belong to; a client drops results for older versions. */
  version: number;
  problem: string;
  gold?: WireGold;
  solutions: WireSolutionScore[];
  warnings: string[];
  model: string;
  backend: string;
  threshold: number;
  /** Tokens the model evaluated for this check; 0 when every step came from the content cache. */
  tokens?: { evaluated: number; generated: number };
  /** With several methods (steplens.methods): all of them, the one that decides the verdicts first. */
  methods?: string[];
  /** The quality these scores were computed at (steplens.check.quality). */
  quality?: "fast" | "full";
}

// ---- server → client notifications ----

/** Sent after each check, and with `solutions: []` when scores are cleared. */
export const ScoresNotification = "steplens/scores";

/**
 * "unreachable" and "unauthorized" are a server backend's (steplens.backend remote, openai,
 * llama-server): the server cannot be reached or refuses the token. Scores already shown stay; the
 * language server keeps answering and tries the server again (see `remote.retryInMs`).
 */
export type ServerState = "starting" | "loading" | "ready" | "busy" | "error" | "unreachable" | "unauthorized";

/** The model server a server backend talks to, and how the connection stands. */
export interface RemoteStatus {
  /** The URL from steplens.remote.url. */
  url: string;
  /** The backend kind: "remote", "openai" or "llama-server". */
  kind: string;
  /** Whether a token is set (never the token itself). */
  hasToken: boolean;
  /** Failed connection attempts in a row (0 when connected). */
  failures: number;
  /** Milliseconds until the next automatic attempt; absent when none is scheduled. */
  retryInMs?: number;
}

export interface ServerStatus {
  state: ServerState;
  /** Model file name (not its path). */
  model?: string;
  modelPath?: string;
  /** "CPU", "CUDA", "Vulkan", "Metal" or "remote". */
  backend?: string;
  /** Which GPU and how many layers, or why the CPU (e.g. no NVIDIA driver): for a tooltip. */
  deviceNote?: string;
  /** Documents being scored right now. */
  busy: number;
  /** What went wrong and what to do, for states "error", "unreachable" and "unauthorized". */
  message?: string;
  /** Set when the model runs behind a server (steplens.backend other than local). */
  remote?: RemoteStatus;
  /** For state "error": what is wrong in a few words and the setting that fixes it (for buttons and lenses). */
  problem?: StatusProblem;
}

export interface StatusProblem {
  /** A few words for a status bar or a code lens, e.g. "model file not found". */
  summary: string;
  /** The setting that fixes it, e.g. "steplens.modelPath". */
  setting: string;
}

export const StatusNotification = "steplens/status";

// ---- client → server requests ----

/** Score a document now, whatever `steplens.check.frequency` says. Answers its scores. */
export const ScoreDocumentRequest = "steplens/scoreDocument";
export interface ScoreDocumentParams {
  uri: string;
}

/** Forget a document's scores and diagnostics until it is scored again. */
export const ClearScoresRequest = "steplens/clearScores";
export interface ClearScoresParams {
  uri?: string;
}

/** Score the candidates of open documents or files inside the workspace folders, for the Best-of-N picker. */
export const BestOfNRequest = "steplens/bestOfN";
export interface BestOfNParams {
  /** Document URIs: open in the editor, or `file:` URIs inside a workspace folder (anything else is refused with a warning). */
  uris: string[];
}
export interface BestOfNCandidate {
  uri: string;
  solutionIndex: number;
  title: string;
  range: WireRange;
  score: number | null;
  finalAnswer?: string;
  /** The first lines of the candidate's text. */
  preview: string;
  text: string;
}
export interface BestOfNResult {
  candidates: BestOfNCandidate[];
  /** Index into `candidates` of the best one, -1 if none could be scored. */
  best: number;
  aggregation: string;
  gold?: WireGold;
  warnings: string[];
}

/** Label a ProcessBench-style JSONL file (resumable). Reports work-done progress if given a token. */
export const LabelDatasetRequest = "steplens/labelDataset";
export interface LabelDatasetParams {
  input: string;
  output: string;
  /** Start afresh instead of resuming after the records already in the output. */
  overwrite?: boolean;
  limit?: number;
  /** LSP work-done token; without one the server creates its own progress when the client allows. */
  workDoneToken?: string | number;
}
export interface LabelDatasetResult {
  records: number;
  resumed: number;
  malformed: number;
  steps: number;
  seconds: number;
  cancelled: boolean;
  /** When the input carries gold step labels: step ROC-AUC, ProcessBench F1 and the rest. */
  metrics?: Record<string, number>;
  messages: string[];
  /** The soft labels' scale: its id (also in every record) and, for people, what it was measured on. */
  calibration?: LabelCalibration;
  /** Soft label under which a step counts as an error (first_error, metrics.f1AtThreshold). */
  threshold?: number;
}
export interface LabelCalibration {
  id: string;
  description: string;
  /** No calibration is known for this model and these settings: median 0, MAD 1. */
  neutral: boolean;
}

/** The server's state now (also pushed as StatusNotification). */
export const StatusRequest = "steplens/status";

/** Restart the engine after a settings change or an error (reloads the model). */
export const ReloadRequest = "steplens/reload";

/**
 * Try the model server again now instead of waiting for the next automatic attempt. Answers the
 * status after the attempt. Does nothing while the server is connected or the backend is local.
 */
export const RetryRemoteRequest = "steplens/retryRemote";

/**
 * The token for a server backend changed (client → server notification). VS Code keeps it in
 * SecretStorage and hands it over only this way and in InitializationOptions.token, never through
 * settings; `null` clears it. A different token restarts the engine.
 */
export const SetTokenNotification = "steplens/setToken";
export interface SetTokenParams {
  token: string | null;
}

// ---- settings (section `steplens`) ----

export type CheckFrequency = "edit" | "save" | "manual";

/** fast: one template, negatives from the solution; full: the configured set; auto: fast while typing, full when idle, saved, opened or on the Score command. */
export type CheckQuality = "fast" | "full" | "auto";

/** local: llama.cpp here; remote: `steplens serve`; openai: an OpenAI-compatible server (vLLM…); llama-server: llama.cpp's server. */
export type BackendSetting = "local" | "remote" | "openai" | "llama-server";

export type StepMethodSetting = "cpmi" | "mc" | "cpmi_merge" | "rand_merge" | "implicit" | "cpmi_implicit";

export interface StepLensSettings {
  modelPath: string;
  backend: BackendSetting;
  gpu: "auto" | "off" | "cuda" | "vulkan" | "metal";
  /** Model layers offloaded to the GPU: "auto" (what fits in free VRAM) or a count; 0 = CPU only. */
  gpuLayers: "auto" | number;
  templates: string;
  negatives: number;
  threshold: number;
  aggregation: "min" | "mean" | "last" | "product";
  /** How steps are scored: CPMI, Monte Carlo rollouts, the paper's merges, or Implicit PRM (a model pair) (server/engine/methods). */
  method: StepMethodSetting;
  /**
   * Several methods scored side by side, e.g. ["cpmi", "implicit"]: the first decides verdicts and
   * diagnostics, the others are shown beside it and steps where they disagree are flagged. Empty:
   * `method` alone. With a pair method, `modelPath` is the policy and CPMI runs on the reference.
   */
  methods: StepMethodSetting[];
  /** Implicit PRM: the reference model π_ref the policy (`modelPath`) was trained from; loaded on first use. */
  referenceModelPath: string;
  /** Implicit PRM: β of the pair (reward = β × Σ log π_θ/π_ref); 0.05 for the demo pair. */
  beta: number;
  /** lines: one step per line or list item; entropy: one-paragraph solutions are cut by the model (EDU-PRM). */
  segmentation: "lines" | "entropy";
  check: { frequency: CheckFrequency; debounceMs: number; quality: CheckQuality };
  /** auto: the model's own chat template when it has one; chat: always (refused without one); raw: plain completion prompts. */
  promptFormat: "auto" | "chat" | "raw";
  goldAnswer: string;
  /** Server backends: the server's base URL (http or https) and the per-request timeout. */
  remote: { url: string; timeoutMs: number };
}

export const DEFAULT_SETTINGS: StepLensSettings = {
  modelPath: "",
  backend: "local",
  gpu: "auto",
  gpuLayers: "auto",
  templates: "default",
  negatives: 4,
  threshold: 0.25,
  aggregation: "min",
  method: "cpmi",
  methods: [],
  referenceModelPath: "",
  beta: 0.05,
  segmentation: "lines",
  check: { frequency: "edit", debounceMs: 600, quality: "auto" },
  promptFormat: "auto",
  goldAnswer: "",
  remote: { url: "", timeoutMs: 30_000 },
};

/**
 * Why `url` cannot be a server backend's address, or undefined when it can: an http(s) URL with a
 * host and no user name or password in it (the token goes through SecretStorage, not the URL). Both
 * sides use it, so the editor can warn before the server tries to connect.
 */
export function remoteUrlProblem(url: string): string | undefined {
  const example = "such as http://127.0.0.1:8734 (steplens serve) or http://gpu-box:8000/v1 (OpenAI-compatible)";
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return `steplens.remote.url must be an http:// or https:// address ${example}, got ${JSON.stringify(url)}`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `steplens.remote.url must start with http:// or https://, got ${JSON.stringify(url)} (${parsed.protocol.replace(/:$/, "")}); use an address ${example}`;
  }
  if (!parsed.hostname) return `steplens.remote.url has no host name: ${JSON.stringify(url)}; use an address ${example}`;
  if (parsed.username || parsed.password) {
    return `steplens.remote.url must not carry a user name or password; remove them and run "StepLens: Set Remote Token" instead`;
  }
  return undefined;
}

/**
 * What a client may pass as `initializationOptions` (clients without workspace/configuration, e.g.
 * tests or Neovim). Workspace settings, when the client has them, win over these.
 */
export interface InitializationOptions {
  settings?: Partial<StepLensSettings>;
  /** Shorthand for `settings.modelPath`. */
  modelPath?: string;
  /** Server backends' token (kept out of settings; see SetTokenNotification). */
  token?: string;
  /**
   * Commands the client implements itself (the VS Code extension: ScoreFileCommand,
   * PickBestOfNCommand, ShowStepReportCommand, ShowProblemCommand, SelectModelCommand). The server executes every command its lenses and
   * code actions name unless the client lists it here, so editors without the extension (Neovim,
   * Helix, Emacs) get working lenses.
   */
  clientCommands?: string[];
}

// ---- commands named by code lenses and code actions ----

/** Arguments: [uri: string]. Scores the file; executed by the server unless the client lists it in clientCommands. */
export const ScoreFileCommand = "steplens.scoreFile";
/** Arguments: [uri: string] (the file whose candidates to rank). The server's own answers the BestOfNResult and shows the ranking as a message. */
export const PickBestOfNCommand = "steplens.pickBestOfN";
/** Arguments: [StepReportArgs]. Without `stepIndex`: the whole solution. The server's own shows the step's explanation as a message. */
export const ShowStepReportCommand = "steplens.showStepReport";
/** Client command, no arguments: pick a GGUF model file (writes steplens.modelPath). Lenses name it only for a client that lists it in clientCommands. */
export const SelectModelCommand = "steplens.selectModel";
/**
 * No arguments: says why the model is unavailable. The VS Code extension's own shows the choices that
 * fix it (Select Model…, Open Settings); the server's own shows the status message.
 */
export const ShowProblemCommand = "steplens.showProblem";
export interface StepReportArgs {
  uri: string;
  solutionIndex: number;
  stepIndex?: number;
}
/**
 * Server command (workspace/executeCommand; the server lists it in executeCommandProvider, so the
 * client must not register it itself); arguments: [DiagnosticData]. Hides that step's diagnostic.
 */
export const IgnoreStepCommand = "steplens.ignoreStep";

/** Data attached to each StepLens diagnostic, for code actions. */
export interface DiagnosticData {
  uri: string;
  solutionIndex: number;
  stepIndex: number;
  /** Hash of the step's text, so "Ignore" survives edits elsewhere in the file. */
  stepKey: string;
}
