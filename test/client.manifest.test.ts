// The extension's manifest against its code, and the client's vscode-free modules on real inputs.
// VS Code itself is not available here (the editor test runs the packaged extension in code-server),
// so this file checks what can drift silently: command and setting names, defaults, colours, media,
// grammars, the webview's CSP and escaping, and the text the decorations, status bar and pickers show.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { inflateSync } from "node:zlib";
import {
  DEFAULT_SETTINGS,
  IgnoreStepCommand,
  remoteUrlProblem,
  PickBestOfNCommand,
  ScoreFileCommand,
  ShowStepReportCommand,
  type BestOfNResult,
  type DocumentScores,
  type WireSolutionScore,
  type WireStepScore,
  type WireVerdict,
} from "../protocol/index.js";
import { appendJsonLine, candidateItems, choiceLine, oneLine } from "../client/bestOfNItems.js";
import { BUCKETS, BUCKET_ORDER, bucketOf, lastLineOf, lineMarks, marksByBucket, stepBucket, stepScoreText } from "../client/buckets.js";
import { COMMANDS } from "../client/commands.js";
import { countCompleteRecords, defaultOutputPath, formatMetrics, labelSummary } from "../client/labelFormat.js";
import { LANGUAGES, documentSelector, isStepLensLanguage } from "../client/languages.js";
import { besideExtensionDirs, dedupeModels, formatBytes, ggufFilesIn, DEMO_MODEL_FILE } from "../client/modelFiles.js";
import { buildReportBody, buildReportHtml, contentSecurityPolicy, escapeHtml, makeNonce } from "../client/reportHtml.js";
import { ScoreStore } from "../client/scoreStore.js";
import { CLIENT_SETTINGS, LIBRARY_SETTINGS, MODEL_PATH, SECTION, TOKEN_SECRET_KEY, TRUST_RESTRICTED, restrictForTrust } from "../client/settings.js";
import { afterTokenHint, tokenInputProblem, tokenPrompt } from "../client/remoteText.js";
import { shortModelName, statusView, stoppedView } from "../client/statusFormat.js";

const REPO = path.resolve(import.meta.dirname, "..");
const CLIENT = path.join(REPO, "client");

interface SettingSchema {
  type: string;
  default: unknown;
  enum?: string[];
  enumDescriptions?: string[];
  markdownDescription?: string;
  description?: string;
  scope?: string;
  minimum?: number;
  maximum?: number;
}
interface Manifest {
  main: string;
  icon: string;
  activationEvents: string[];
  contributes: {
    commands: Array<{ command: string; title: string; category?: string; icon?: string }>;
    menus: Record<string, Array<{ command: string; when?: string }>>;
    configuration: { properties: Record<string, SettingSchema> };
    colors: Array<{ id: string; description: string; defaults: Record<string, string> }>;
    languages: Array<{ id: string; extensions?: string[] }>;
    grammars: Array<{ scopeName: string; path: string; language?: string; injectTo?: string[] }>;
  };
  capabilities: { untrustedWorkspaces: { supported: string | boolean; restrictedConfigurations?: string[] } };
}

const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as Manifest;
const clientFiles = readdirSync(CLIENT).filter((f) => f.endsWith(".ts"));
const clientSource = Object.fromEntries(clientFiles.map((f) => [f, readFileSync(path.join(CLIENT, f), "utf8")]));
const allClientSource = Object.values(clientSource).join("\n");
const settings = pkg.contributes.configuration.properties;

/** DEFAULT_SETTINGS as dotted keys: { check: { frequency } } → "check.frequency". */
function flatten(obj: object, prefix = ""): Array<[string, unknown]> {
  return Object.entries(obj).flatMap(([k, v]): Array<[string, unknown]> =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? flatten(v as object, `${prefix}${k}.`) : [[`${prefix}${k}`, v]],
  );
}

describe("manifest: commands", () => {
  const contributed = pkg.contributes.commands.map((c) => c.command);
  const registered = Object.values(COMMANDS);

  test("every command the client registers is contributed, and every contributed command is registered", () => {
    assert.deepEqual([...contributed].sort(), [...registered].sort());
  });

  test("each contributed command has a title and the StepLens category", () => {
    for (const c of pkg.contributes.commands) {
      assert.ok(c.title && c.title.length > 3, `${c.command} has a title`);
      assert.equal(c.category, "StepLens", `${c.command} category`);
    }
  });

  // That the activated extension registers each of them is checked where the code runs: in VS Code
  // (test/vscode/suite, every contributed command registered) and in code-server (test/e2e, the palette).

  test("the commands the server's lenses and code actions name are the client's; the server's own is not", () => {
    for (const id of [ScoreFileCommand, PickBestOfNCommand, ShowStepReportCommand]) assert.ok(registered.includes(id as never), id);
    assert.ok(!contributed.includes(IgnoreStepCommand), "steplens.ignoreStep is registered by vscode-languageclient for the server");
    assert.ok(!(registered as string[]).includes(IgnoreStepCommand));
  });

  test("menus name contributed commands and the languages the client handles", () => {
    for (const [menu, entries] of Object.entries(pkg.contributes.menus)) {
      for (const e of entries) {
        assert.ok(contributed.includes(e.command), `${menu}: ${e.command} is contributed`);
        const langs = /\^\(([^)]*)\)\$/.exec(e.when ?? "")?.[1];
        if (langs) assert.deepEqual(langs.split("|").sort(), [...LANGUAGES].sort(), `${menu} ${e.command} languages`);
      }
    }
  });
});

describe("manifest: settings", () => {
  const protocolKeys = flatten(DEFAULT_SETTINGS);

  test("every StepLensSettings key is contributed with DEFAULT_SETTINGS' default", () => {
    for (const [key, value] of protocolKeys) {
      const s = settings[`${SECTION}.${key}`];
      assert.ok(s, `steplens.${key} is contributed`);
      assert.deepEqual(s.default, value, `steplens.${key} default`);
      assert.equal(s.type, typeof value === "number" ? (Number.isInteger(value) && key !== "threshold" ? "integer" : "number") : typeof value, `steplens.${key} type`);
    }
  });

  test("every contributed setting is read by the server (protocol), the client, or vscode-languageclient", () => {
    const known = new Set([
      ...protocolKeys.map(([k]) => k),
      ...Object.values(CLIENT_SETTINGS),
      ...LIBRARY_SETTINGS,
    ]);
    for (const key of Object.keys(settings)) assert.ok(known.has(key.replace(/^steplens\./, "")), `${key} has a reader`);
  });

  test("settings the client reads by name are contributed", () => {
    for (const key of [...Object.values(CLIENT_SETTINGS), MODEL_PATH]) assert.ok(settings[`${SECTION}.${key}`], `steplens.${key}`);
  });

  test("descriptions, enums with enumDescriptions, ranges and scopes", () => {
    for (const [key, s] of Object.entries(settings)) {
      assert.ok((s.markdownDescription ?? s.description ?? "").length > 20, `${key} describes itself`);
      if (s.enum) {
        assert.equal(s.enumDescriptions?.length, s.enum.length, `${key} enumDescriptions`);
        assert.ok(s.enum.includes(s.default as string), `${key} default is one of its values`);
      }
    }
    assert.deepEqual(settings["steplens.gpu"]!.enum, ["auto", "off", "cuda", "vulkan", "metal"]);
    assert.deepEqual(settings["steplens.aggregation"]!.enum, ["min", "mean", "last", "product"]);
    assert.deepEqual(settings["steplens.check.frequency"]!.enum, ["edit", "save", "manual"]);
    assert.deepEqual([settings["steplens.negatives"]!.minimum, settings["steplens.negatives"]!.maximum], [1, 64]);
    assert.deepEqual([settings["steplens.threshold"]!.minimum, settings["steplens.threshold"]!.maximum], [0, 1]);
    assert.equal(settings["steplens.modelPath"]!.scope, "machine-overridable");
    assert.equal(settings["steplens.decorations.enabled"]!.default, true);
  });

  test("untrusted workspaces: limited, and the model path is restricted", () => {
    const trust = pkg.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, "limited");
    assert.ok(trust.restrictedConfigurations?.includes("steplens.modelPath"));
    for (const key of trust.restrictedConfigurations ?? []) assert.ok(settings[key], `${key} is contributed`);
  });
});

describe("manifest: colours, media, languages, grammars, entry point", () => {
  test("each bucket's colour is contributed with dark, light and high-contrast defaults; none is unused", () => {
    const ids = pkg.contributes.colors.map((c) => c.id);
    const used = BUCKET_ORDER.map((b) => BUCKETS[b].color);
    assert.deepEqual([...ids].sort(), [...used].sort());
    for (const c of pkg.contributes.colors) {
      for (const theme of ["dark", "light", "highContrast"]) assert.match(c.defaults[theme] ?? "", /^#[0-9A-Fa-f]{6}$/, `${c.id} ${theme}`);
    }
    const css = readFileSync(path.join(REPO, "media/report.css"), "utf8");
    for (const id of ids) assert.ok(css.includes(`--vscode-${id.replace(/\./g, "-")}`), `report.css uses ${id}`);
  });

  test("media the code and manifest name exist; gutter icons are SVG", () => {
    const named = new Set<string>([pkg.icon, ...BUCKET_ORDER.map((b) => BUCKETS[b].icon)]);
    for (const m of allClientSource.matchAll(/joinPath\(media, "([\w.-]+)"\)/g)) named.add(`media/${m[1]}`);
    for (const m of allClientSource.matchAll(/"(media\/[\w./-]+)"/g)) named.add(m[1]!);
    assert.ok(named.has("media/report.js") && named.has("media/report.css"), "the report's assets are referenced");
    for (const file of named) assert.ok(existsSync(path.join(REPO, file)), `${file} exists`);
    for (const b of BUCKET_ORDER) assert.match(readFileSync(path.join(REPO, BUCKETS[b].icon), "utf8"), /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox="0 0 16 16"/);
  });

  test("the icon is a valid 128×128 PNG", () => {
    const png = readFileSync(path.join(REPO, pkg.icon));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.toString("ascii", 12, 16), "IHDR");
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
    const idat: Buffer[] = [];
    for (let o = 8; o < png.length; ) {
      const len = png.readUInt32BE(o);
      if (png.toString("ascii", o + 4, o + 8) === "IDAT") idat.push(png.subarray(o + 8, o + 8 + len));
      o += 12 + len;
    }
    const bytesPerPixel = { 2: 3, 6: 4 }[png[25]!] ?? 0;
    assert.ok(bytesPerPixel > 0, "RGB or RGBA");
    assert.equal(inflateSync(Buffer.concat(idat)).length, 128 * (128 * bytesPerPixel + 1), "image data decompresses to 128 rows");
  });

  test("document selector, languages and activation events agree", () => {
    assert.deepEqual(
      documentSelector.map((d) => `${d.language}:${d.scheme}`),
      LANGUAGES.flatMap((l) => [`${l}:file`, `${l}:untitled`]),
    );
    assert.ok(pkg.contributes.languages.some((l) => l.id === "steps" && l.extensions?.includes(".steps")));
    for (const e of ["onLanguage:markdown", "onLanguage:latex", "onLanguage:steps", "workspaceContains:**/*.steps"]) assert.ok(pkg.activationEvents.includes(e), e);
    assert.ok(isStepLensLanguage("latex") && !isStepLensLanguage("json"));
  });

  test("contributed grammars exist, parse, and their regexes compile", () => {
    for (const g of pkg.contributes.grammars) {
      const grammar = JSON.parse(readFileSync(path.join(REPO, g.path), "utf8")) as { scopeName: string; repository?: Record<string, { match?: string }> };
      assert.equal(grammar.scopeName, g.scopeName);
      for (const [name, rule] of Object.entries(grammar.repository ?? {})) if (rule.match) assert.doesNotThrow(() => new RegExp(rule.match!), `${g.path} ${name}`);
    }
  });

  test("main is a CommonJS bundle that leaves vscode to the editor: Node's CommonJS loader runs it up to require('vscode')", () => {
    assert.equal(pkg.main, "./dist/extension.cjs");
    const main = path.join(REPO, pkg.main);
    assert.ok(existsSync(main), "run npm run build first");
    // An ES module bundle fails to parse here; a bundle with vscode inside it does not ask for it.
    assert.throws(() => createRequire(main)(main), (err: NodeJS.ErrnoException) => err.code === "MODULE_NOT_FOUND" && /Cannot find module 'vscode'/.test(err.message));
  });
  // What the client may import (never the engine) is an ESLint rule (eslint.config.js, no-restricted-imports), part of npm test.
});

// ---- real inputs for the vscode-free modules ----

/** Scores shaped as the server sends them, with ranges taken from the example file itself. */
function shoppingScores(version: number, verdicts: WireVerdict[] = ["ok", "ok", "weak", "wrong"]): DocumentScores {
  const text = readFileSync(path.join(REPO, "examples/shopping.md"), "utf8");
  const lines = text.split("\n");
  const stepLines = lines.map((l, i) => [l, i] as const).filter(([l]) => /^Step \d+:/.test(l));
  const steps: WireStepScore[] = stepLines.map(([l, line], index) => ({
    index,
    range: { start: { line, character: 0 }, end: { line, character: l.length } },
    textRange: { start: { line, character: 8 }, end: { line, character: l.length } },
    text: l.slice(8),
    reward: [0.9, 0.4, -0.2, -1.1][index]!,
    softLabel: [0.82, 0.55, 0.2, 0.12][index]!,
    verdict: verdicts[index]!,
    rank: index,
    goldGain: 0.5,
    negativeMean: 0.1,
    terms: [{ template: "answer-is", goldGain: 0.5, negativeGains: [0.1, 0.1], negativeMean: 0.1, reward: 0.4 }],
  }));
  const solution: WireSolutionScore = { index: 0, range: steps[0]!.range, score: 0.12, aggregation: "min", firstError: 3, finalAnswer: "24", negatives: ["26", "23"], steps };
  return { uri: "file:///w/examples/shopping.md", version, problem: lines[3]!.slice(10), gold: { value: "24", source: "front-matter" }, solutions: [solution], warnings: [], model: "arith-demo-15m-f16.gguf", backend: "CPU", threshold: 0.25 };
}

describe("decoration text and buckets", () => {
  test("the after-line text: ▲ for good, ▼ for weak and wrong, the soft label to two places", () => {
    assert.equal(stepScoreText({ verdict: "ok", softLabel: 0.8234, reward: 1 }), "▲ 0.82");
    assert.equal(stepScoreText({ verdict: "wrong", softLabel: 0.1249, reward: -1 }), "▼ 0.12");
    assert.equal(stepScoreText({ verdict: "weak", softLabel: null, reward: -0.3 }), "▼ -0.30");
    assert.equal(stepScoreText({ verdict: "not scored", softLabel: null, reward: null }), "· not scored");
    assert.equal(stepScoreText({ verdict: "weak", softLabel: 0.2, reward: 0, ignored: true }), "▼ 0.20 (ignored)");
    assert.equal(stepBucket({ verdict: "wrong", ignored: true }), "notScored");
    assert.deepEqual((["ok", "weak", "wrong", "not scored"] as const).map(bucketOf), ["good", "weak", "wrong", "notScored"]);
  });

  test("one mark per step line of examples/shopping.md, in the step's bucket", () => {
    const marks = lineMarks(shoppingScores(1));
    assert.deepEqual(
      marks.map((m) => [m.line, m.bucket, m.text]),
      [
        [5, "good", "▲ 0.82"],
        [6, "good", "▲ 0.55"],
        [7, "weak", "▼ 0.20"],
        [8, "wrong", "▼ 0.12"],
      ],
    );
    const byBucket = marksByBucket(marks);
    assert.deepEqual(Object.keys(byBucket).sort(), [...BUCKET_ORDER].sort(), "every bucket present, so empty ones clear");
    assert.deepEqual(byBucket.notScored, []);
  });

  test("a multi-line step (LaTeX \\item) is marked on its last line; two steps on one line share a mark in the worse colour", () => {
    assert.equal(lastLineOf({ start: { line: 12, character: 2 }, end: { line: 13, character: 40 } }), 13);
    assert.equal(lastLineOf({ start: { line: 12, character: 2 }, end: { line: 13, character: 0 } }), 12);
    const scores = shoppingScores(1);
    const sol = scores.solutions[0]!;
    sol.steps[1]!.textRange = { ...sol.steps[0]!.textRange };
    sol.steps[1]!.verdict = "weak";
    const marks = lineMarks(scores);
    assert.deepEqual(marks[0], { line: 5, bucket: "weak", text: "▲ 0.82  ▼ 0.55", steps: [[0, 0], [0, 1]] });
  });
});

describe("score store: stale results are dropped", () => {
  test("takes the open version, refuses older or other versions, applies clears, tells listeners", () => {
    const store = new ScoreStore();
    const seen: Array<number | undefined> = [];
    store.onDidChange((_uri, s) => seen.push(s?.version));
    assert.equal(store.accept(shoppingScores(3), 3), true);
    assert.equal(store.accept(shoppingScores(2), undefined), false, "older than held");
    assert.equal(store.accept(shoppingScores(4), 5), false, "the document moved on to v5");
    assert.equal(store.get("file:///w/examples/shopping.md")?.version, 3, "old scores stay until new ones come");
    assert.equal(store.accept(shoppingScores(5), 5), true);
    assert.equal(store.accept({ ...shoppingScores(1), solutions: [] }, 9), true, "a clear applies whatever its version");
    assert.equal(store.get("file:///w/examples/shopping.md"), undefined);
    assert.deepEqual(seen, [3, 5, undefined]);
  });
});

describe("status bar text", () => {
  test("ready, busy, loading, error and stopped", () => {
    assert.equal(statusView({ state: "ready", model: "arith-demo-15m-f16.gguf", backend: "CPU", busy: 0 }).text, "$(pulse) StepLens: arith-demo-15m · CPU");
    assert.equal(statusView({ state: "ready", model: "arith-demo-15m-f16.gguf", backend: "CPU", busy: 2 }).text, "$(sync~spin) StepLens: scoring…");
    assert.equal(statusView({ state: "busy", busy: 1 }).text, "$(sync~spin) StepLens: scoring…");
    // Why no GPU is in the tooltip of the ready state.
    const cpu = statusView({ state: "ready", model: "m.gguf", backend: "CPU", busy: 0, deviceNote: "no GPU: CUDA needs an NVIDIA driver" });
    assert.match(cpu.tooltip, /Backend: CPU\nno GPU: CUDA needs an NVIDIA driver/);
    assert.match(statusView({ state: "loading", model: "x.gguf", busy: 0 }).text, /sync~spin/);
    const err = statusView({ state: "error", busy: 0, message: "model file not found: /m.gguf. Pass --model PATH" });
    assert.equal(err.error, true);
    assert.match(err.tooltip, /model file not found/);
    assert.equal(statusView({ state: "ready", busy: 0 }).error, false);
    assert.equal(stoppedView("crashed").error, true);
    assert.match(statusView(undefined).text, /starting/);
  });

  test("model names lose the .gguf and the quantisation tag", () => {
    assert.equal(shortModelName("arith-demo-15m-f16.gguf"), "arith-demo-15m");
    assert.equal(shortModelName("/models/Qwen2.5-Math-7B-Instruct.Q4_K_M.gguf"), "Qwen2.5-Math-7B-Instruct");
    assert.equal(shortModelName("llama-3.2-1b-instruct-q8_0.gguf"), "llama-3.2-1b-instruct");
    assert.equal(shortModelName("f16.gguf"), "f16");
  });
});

describe("Best of N rows and saved choices", () => {
  const candidatesText = readFileSync(path.join(REPO, "examples/candidates.md"), "utf8");
  const chunks = candidatesText.split(/^## /m).slice(1);
  const result: BestOfNResult = {
    candidates: chunks.map((chunk, i) => ({
      uri: "file:///w/examples/candidates.md",
      solutionIndex: i,
      title: chunk.split("\n")[0]!,
      range: { start: { line: 8 + i * 9, character: 0 }, end: { line: 14 + i * 9, character: 0 } },
      score: [0.31, null, 0.77][i]!,
      finalAnswer: ["29", "42", "54"][i],
      preview: chunk.split("\n").slice(2, 4).join("\n"),
      text: chunk.split("\n").slice(2).join("\n").trim(),
    })),
    best: 2,
    aggregation: "min",
    gold: { value: "54", source: "front-matter" },
    warnings: [],
  };

  test("the best is starred and first, then by score, unscored last", () => {
    const items = candidateItems(result, (u) => u.split("/").pop()!);
    assert.deepEqual(items.map((i) => i.label), ["$(star-full) Candidate 3", "Candidate 1", "Candidate 2"]);
    assert.equal(items[0]!.description, "score 0.77 · answer 54");
    assert.equal(items[2]!.description, "not scored · answer 42");
    assert.ok(!items[0]!.detail.includes("\n"), "detail is one line");
    assert.match(items[0]!.detail, /^- Multiplying the price .* ⏎ - The discount/);
  });

  test("with candidates from several files the file is named", () => {
    const two: BestOfNResult = { ...result, candidates: [result.candidates[0]!, { ...result.candidates[2]!, uri: "file:///w/b.md" }], best: 1 };
    assert.match(candidateItems(two, (u) => u.split("/").pop()!)[0]!.description, /b\.md$/);
  });

  test("a choice is one JSON line with file, candidate, title, score, answer and text; appends never merge lines", async () => {
    const line = choiceLine(result.candidates[2]!, "examples/candidates.md");
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(Object.keys(JSON.parse(line)), ["file", "candidate", "title", "score", "answer", "text"]);
    assert.deepEqual(JSON.parse(line).candidate, 3);
    const dir = mkdtempSync(path.join(tmpdir(), "steplens-choices-"));
    const file = path.join(dir, "choices.jsonl");
    writeFileSync(file, '{"old":true}');
    await appendJsonLine(file, line);
    await appendJsonLine(file, choiceLine(result.candidates[0]!, "examples/candidates.md"));
    const rows = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(rows.map((r) => r.title ?? "old"), ["old", "Candidate 3", "Candidate 1"]);
  });

  test("oneLine cuts long previews", () => {
    assert.equal(oneLine("a\n  b", 10), "a ⏎ b");
    assert.equal(oneLine("x".repeat(300)).length, 200);
  });
});

describe("Label Dataset paths and summary", () => {
  test("default output, records already written (a cut-off last line does not count)", async () => {
    assert.equal(defaultOutputPath("/d/gsm8k.jsonl"), "/d/gsm8k.labeled.jsonl");
    assert.equal(defaultOutputPath("/d/data.txt"), "/d/data.txt.labeled.jsonl");
    const dir = mkdtempSync(path.join(tmpdir(), "steplens-label-"));
    const out = path.join(dir, "out.jsonl");
    assert.equal(await countCompleteRecords(out), 0);
    writeFileSync(out, '{"a":1}\n\n{"a":2}\r\n{"a":3');
    assert.equal(await countCompleteRecords(out), 2);
  });

  test("the summary names records, resume, malformed lines and metrics", () => {
    const s = labelSummary({ records: 40, resumed: 10, malformed: 2, steps: 180, seconds: 12.34, cancelled: false, metrics: { auc: 0.8123, f1Best: 0.5, records: 40 }, messages: [] }, "out.jsonl");
    assert.match(s, /labeled 40 records \(180 steps\) into out\.jsonl in 12\.3 s/);
    assert.match(s, /resumed after 10 records/);
    assert.match(s, /2 malformed input lines/);
    assert.match(s, /step ROC-AUC 0\.812/);
    assert.match(labelSummary({ records: 5, resumed: 0, malformed: 0, steps: 9, seconds: 1, cancelled: true, messages: [] }, "o"), /stopped .* resume/);
    assert.equal(formatMetrics(undefined), "");
  });
});

describe("workspace trust filter", () => {
  const remote = { url: "http://evil.example:8734", timeoutMs: 5000 };
  const section = { modelPath: "/workspace/evil.gguf", gpu: "auto", check: { frequency: "edit", debounceMs: 600 }, backend: "remote", remote };
  test("untrusted: the whole section, one key or the root get the user's model path and server URL", () => {
    const mine = { modelPath: "/home/me/m.gguf", "remote.url": "http://127.0.0.1:8734" };
    assert.deepEqual(restrictForTrust("steplens", section, false, mine), { ...section, modelPath: "/home/me/m.gguf", remote: { ...remote, url: "http://127.0.0.1:8734" } });
    assert.equal(restrictForTrust("steplens.modelPath", "/workspace/evil.gguf", false, {}), "");
    assert.equal(restrictForTrust("steplens.remote.url", remote.url, false, {}), "");
    assert.equal(restrictForTrust("steplens.remote.url", remote.url, false, mine), "http://127.0.0.1:8734");
    assert.deepEqual(restrictForTrust("steplens.remote", remote, false, {}), { ...remote, url: "" });
    assert.deepEqual(restrictForTrust(undefined, { steplens: section, editor: {} }, false, {}), { steplens: { ...section, modelPath: "", remote: { ...remote, url: "" } }, editor: {} });
    // Clients that send dotted keys get the same treatment.
    assert.deepEqual(restrictForTrust("steplens", { "remote.url": remote.url, gpu: "off" }, false, {}), { "remote.url": "", gpu: "off", modelPath: "" });
    assert.equal(restrictForTrust("steplens.gpu", "cuda", false, {}), "cuda");
    assert.equal(restrictForTrust("steplens.remote.timeoutMs", 5000, false, {}), 5000);
    // The backend itself is not restricted: without the user's URL a workspace's "remote" goes nowhere.
    assert.equal((restrictForTrust("steplens", section, false, {}) as typeof section).backend, "remote");
  });
  test("trusted: unchanged", () => {
    assert.equal(restrictForTrust("steplens", section, true, { modelPath: "/home/me/m.gguf" }), section);
  });
  test("every setting restricted in code is restricted in the manifest, and the other way round", () => {
    assert.deepEqual(
      [...(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations ?? [])].sort(),
      TRUST_RESTRICTED.map((k) => `${SECTION}.${k}`).sort(),
    );
  });
});

describe("model server: settings, token and status", () => {
  test("steplens.remote.url is machine-overridable, restricted, and its pattern agrees with remoteUrlProblem", () => {
    const url = settings["steplens.remote.url"]!;
    assert.equal(url.scope, "machine-overridable");
    const pattern = new RegExp((url as SettingSchema & { pattern: string }).pattern);
    for (const ok of ["", "http://127.0.0.1:8734", "https://gpu.example.org/v1", "HTTP://LOCALHOST:1"]) {
      assert.ok(pattern.test(ok), `pattern accepts ${ok}`);
      if (ok) assert.equal(remoteUrlProblem(ok), undefined, ok);
    }
    for (const bad of ["ftp://host", "127.0.0.1:8734", "gpu-box"]) {
      assert.ok(!pattern.test(bad), `pattern rejects ${bad}`);
      assert.ok(remoteUrlProblem(bad), bad);
    }
  });

  test("remoteUrlProblem names the setting and what to do", () => {
    assert.match(remoteUrlProblem("gpu-box:8734")!, /^steplens\.remote\.url must start with http:\/\/ or https:\/\/, got "gpu-box:8734"/);
    assert.match(remoteUrlProblem("not a url")!, /steplens\.remote\.url must be an http:\/\/ or https:\/\/ address such as http:\/\/127\.0\.0\.1:8734/);
    assert.match(remoteUrlProblem("ftp://box/")!, /\(ftp\)/);
    assert.match(remoteUrlProblem("http://me:secret@box:8734")!, /must not carry a user name or password.*Set Remote Token/);
    assert.equal(remoteUrlProblem(" http://box:8734 "), undefined, "surrounding spaces are trimmed");
  });

  test("the backend setting offers every kind the protocol knows, and none is 'planned' any more", () => {
    const backend = settings["steplens.backend"]!;
    assert.deepEqual(backend.enum, ["local", "remote", "openai", "llama-server"]);
    assert.doesNotMatch(JSON.stringify(backend), /planned|later release|not available/);
    assert.equal(settings["steplens.remote.timeoutMs"]!.type, "integer");
  });

  test("token commands are contributed; the token is never a setting", () => {
    const contributed = pkg.contributes.commands.map((c) => c.command);
    for (const id of [COMMANDS.setRemoteToken, COMMANDS.clearRemoteToken, COMMANDS.retryRemote]) assert.ok(contributed.includes(id), id);
    assert.ok(!Object.keys(settings).some((k) => /token|secret|password|apikey/i.test(k)), "no setting holds a token");
    assert.match(TOKEN_SECRET_KEY, /^steplens\./);
    // The password box, secret storage and the hand-over to the server run in test/e2e/remote.e2e.ts.
  });

  test("token input and the hint after saving it", () => {
    assert.match(tokenInputProblem("  ")!, /paste the server's token/);
    assert.match(tokenInputProblem("abc def")!, /no spaces/);
    assert.equal(tokenInputProblem(" 0123abcd\n"), undefined, "a trailing newline from a copy is fine");
    assert.match(afterTokenHint("local", "")!, /"steplens\.backend" is remote, openai or llama-server \(now: local\)/);
    assert.match(afterTokenHint("remote", "")!, /Set "steplens\.remote\.url"/);
    assert.match(afterTokenHint("remote", "box:1")!, /must start with http/);
    assert.equal(afterTokenHint("remote", "http://127.0.0.1:8734"), undefined);
    assert.match(tokenPrompt("http://127.0.0.1:8734"), /model server at http:\/\/127\.0\.0\.1:8734.*secret storage/);
  });

  const remote = { url: "http://127.0.0.1:8734", kind: "remote", hasToken: true, failures: 0 };
  test("status: connected names the server's model; connecting spins", () => {
    const ready = statusView({ state: "ready", busy: 0, model: "arith-demo-15m-f16.gguf", backend: "remote", remote });
    assert.equal(ready.text, "$(remote) StepLens: remote · arith-demo-15m");
    assert.equal(ready.error, false);
    assert.match(ready.tooltip, /at http:\/\/127\.0\.0\.1:8734/);
    assert.match(ready.tooltip, /Token: set/);
    assert.equal(ready.click, undefined, "a click selects a model as before");
    assert.equal(statusView({ state: "ready", busy: 2, backend: "remote", remote }).text, "$(sync~spin) StepLens: scoring…");
    assert.equal(statusView({ state: "loading", busy: 0, remote }).text, "$(sync~spin) StepLens: connecting to remote…");
    assert.equal(statusView({ state: "ready", busy: 0, model: "Qwen/Qwen2.5-Math-7B", remote: { ...remote, kind: "openai" } }).text, "$(remote) StepLens: OpenAI-compatible server · Qwen2.5-Math-7B");
  });

  test("status: unreachable and unauthorized warn, name the URL and what a click does", () => {
    const message = "StepLens cannot reach the model server at http://127.0.0.1:8734 (ECONNREFUSED). Start it";
    const now = Date.UTC(2026, 10, 25, 15, 0, 0);
    const down = statusView({ state: "unreachable", busy: 0, message, remote: { ...remote, failures: 3, retryInMs: 4000 } }, now);
    assert.equal(down.text, "$(debug-disconnect) StepLens: remote unreachable");
    assert.equal(down.error, true);
    assert.equal(down.click, "retryRemote");
    assert.match(down.tooltip, /http:\/\/127\.0\.0\.1:8734/);
    assert.ok(down.tooltip.includes(`Next attempt at ${new Date(now + 4000).toLocaleTimeString()}; click to try now.`), down.tooltip);
    assert.ok(!statusView({ state: "unreachable", busy: 0, message, remote: { ...remote, failures: 3, retryInMs: 64_000 } }, now).tooltip.includes(new Date(now + 4000).toLocaleTimeString()));
    const refused = statusView({ state: "unauthorized", busy: 0, message: "The model server at http://127.0.0.1:8734 refused the token.", remote: { ...remote, failures: 1 } });
    assert.equal(refused.text, "$(lock) StepLens: remote unauthorized");
    assert.equal(refused.error, true);
    assert.equal(refused.click, "setRemoteToken");
    assert.match(refused.tooltip, /Click to set the token/);
    const noUrl = statusView({ state: "error", busy: 0, message: "steplens.remote.url is not set", remote: { ...remote, url: "" } });
    assert.equal(noUrl.text, "$(warning) StepLens: remote error");
    assert.match(noUrl.tooltip, /\(no steplens\.remote\.url\)/);
    // Without remote details (an older server) the states still warn.
    assert.equal(statusView({ state: "unreachable", busy: 0, message: "x" }).error, true);
  });
});

describe("model files", () => {
  test("the demo model is found beside a dev checkout", () => {
    const dirs = besideExtensionDirs(REPO);
    assert.ok(dirs.includes(path.resolve(REPO, "../shared/models")));
    const found = dedupeModels(dirs.flatMap((d) => ggufFilesIn(d, "beside the extension")));
    const demo = found.find((f) => path.basename(f.path) === DEMO_MODEL_FILE);
    assert.ok(demo, `found ${found.map((f) => f.path).join(", ")}`);
    assert.ok(demo.bytes > 1_000_000);
    assert.deepEqual(ggufFilesIn(path.join(REPO, "no-such-dir"), "x"), []);
    assert.equal(dedupeModels([demo, { ...demo, source: "again" }]).length, 1);
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(30 * 1024 * 1024), "30.0 MiB");
  });
});

describe("Step Report HTML", () => {
  const assets = { cspSource: "https://file+.vscode-resource.vscode-cdn.net", nonce: makeNonce(), scriptUri: "https://r/media/report.js", styleUri: "https://r/media/report.css" };
  const evil = '<script>alert("x")</script><img src=x onerror=alert(1)>';

  function evilScores(): DocumentScores {
    const s = shoppingScores(1);
    s.problem = evil;
    s.warnings = [evil];
    s.gold = { value: evil, source: "flag" };
    const sol = s.solutions[0]!;
    sol.title = evil;
    sol.finalAnswer = evil;
    sol.negatives = [evil];
    sol.steps[0]!.text = evil;
    sol.steps[0]!.terms[0]!.template = evil;
    return s;
  }

  test("a strict CSP with a nonce; the only script is the nonce'd media/report.js", () => {
    const html = buildReportHtml(assets, buildReportBody("shopping.md", shoppingScores(1)));
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(csp, "CSP meta");
    assert.equal(csp, contentSecurityPolicy(assets.cspSource, assets.nonce));
    assert.match(csp, /^default-src 'none'; /);
    assert.ok(csp.includes(`script-src 'nonce-${assets.nonce}'`));
    assert.ok(csp.includes(`style-src ${assets.cspSource}`) && !csp.includes("unsafe-inline"));
    assert.ok(csp.includes(`img-src ${assets.cspSource} data:`));
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.ok(scripts[0]![1]!.includes(`nonce="${assets.nonce}"`) && scripts[0]![1]!.includes(`src="${assets.scriptUri}"`));
    assert.equal(scripts[0]![2], "", "no inline script body");
    assert.doesNotMatch(html, /\son\w+=/i, "no inline event handlers");
    assert.doesNotMatch(html, /\sstyle=/i, "no inline styles (the CSP would block them)");
    assert.notEqual(makeNonce(), makeNonce());
    assert.match(assets.nonce, /^[A-Za-z0-9+/]{20,}={0,2}$/);
  });

  test("step text, titles, answers, warnings and template names are escaped", () => {
    const html = buildReportHtml(assets, buildReportBody("<b>.md", evilScores()));
    assert.equal([...html.matchAll(/<script/g)].length, 1, "only the report script");
    assert.doesNotMatch(html, /<img/);
    assert.ok(html.includes(escapeHtml(evil)));
    assert.ok(html.includes("&lt;b&gt;.md"));
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  test("the chart data round-trips through its attribute; the table has a row per step and template; the asked-for step is highlighted", () => {
    const body = buildReportBody("shopping.md", shoppingScores(1), { solutionIndex: 0, stepIndex: 2 });
    const attr = /data-bars="([^"]*)"/.exec(body)![1]!;
    const bars = JSON.parse(attr.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")) as Array<{ reward: number; bucket: string }>;
    assert.deepEqual(
      bars.map((b) => [b.reward, b.bucket]),
      [
        [0.9, "good"],
        [0.4, "good"],
        [-0.2, "weak"],
        [-1.1, "wrong"],
      ],
    );
    assert.equal([...body.matchAll(/<tr id="step-0-\d"/g)].length, 4);
    assert.match(body, /<tr id="step-0-2" class="step weak highlight"/);
    assert.match(body, /first error/);
    assert.match(body, /gold answer <strong>24<\/strong> \(front-matter\)/);
    assert.match(buildReportBody("shopping.md", shoppingScores(1), { solutionIndex: 0 }), /<section class="solution highlight" id="solution-0">/);
    assert.match(buildReportBody("x.md", undefined), /No scores yet/);
  });
  // report.js building no markup from strings (but the escaped body) is an ESLint rule on media/**/*.js.
});
