// The direction of dependencies (ARCHITECTURE.md, issue 12 item 14): the engine imports nothing from
// vscode, an LSP library or the front ends (server/cli, server/lsp, server/serve, client), and the
// language server nothing from the CLI. Read from the source text, so type-only imports count too.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPO } from "./helpers.js";

// `import … from "x"`, `export … from "x"`, `import "x"`, `import("x")`, `require("x")`.
const SPECIFIER = /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\brequire\s*\(\s*["']([^"']+)["']\s*\)/g;

const LSP_OR_EDITOR = /^(?:vscode|vscode-languageserver|vscode-languageserver-[\w-]+|vscode-languageclient|vscode-jsonrpc|@vscode\/[\w.-]+)(?:\/.*)?$/;

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(?:ts|mts|cts|js|mjs)$/.test(e.name))
    .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
}

/** Every module specifier of a source text, each as written. */
function specifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
}

interface Rule {
  name: string;
  /** Repository-relative folders whose files the rule is about. */
  from: string[];
  /** Repository-relative folders they may not import from. */
  notFolders: string[];
  notPackages?: RegExp;
}

const RULES: Rule[] = [
  { name: "the engine", from: ["server/engine"], notFolders: ["server/cli", "server/lsp", "server/serve", "client"], notPackages: LSP_OR_EDITOR },
  { name: "the language server", from: ["server/lsp"], notFolders: ["server/cli"] },
];

/** The imports of `file` (repository-relative) with `text` that break `rule`. */
function violations(rule: Rule, file: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of specifiers(text)) {
    if (spec.startsWith(".")) {
      const target = path.relative(REPO, path.resolve(REPO, path.dirname(file), spec));
      const hit = rule.notFolders.find((f) => target === f || target.startsWith(f + path.sep));
      if (hit) out.push(`${file} imports ${spec} (${hit})`);
    } else if (rule.notPackages?.test(spec)) out.push(`${file} imports ${spec}`);
  }
  return out;
}

describe("dependency direction", () => {
  for (const rule of RULES) {
    test(`${rule.name} imports nothing it must not`, () => {
      const found = rule.from.flatMap((dir) => sources(dir)).flatMap((f) => violations(rule, f, readFileSync(path.join(REPO, f), "utf8")));
      assert.deepEqual(found, []);
    });
  }

  test("the check finds each kind of import it forbids", () => {
    const [engine, lsp] = RULES as [Rule, Rule];
    const sample = [
      'import * as vscode from "vscode";',
      'import { createConnection } from "vscode-languageserver/node";',
      "import type { Range } from 'vscode-languageserver-types';",
      'export { report } from "../../cli/report.js";',
      'const m = await import("../../serve/server.js");',
      'import {\n  startLanguageServer,\n} from "../../lsp/server.js";',
      'const c = require("../../../client/extension");',
      'import "../../lsp/side-effect.js";',
    ].join("\n");
    assert.equal(violations(engine, "server/engine/cpmi/x.ts", sample).length, 8);
    assert.deepEqual(violations(engine, "server/engine/cpmi/x.ts", 'import { z } from "zod";\nimport { parseDocument } from "../parse/index.js";'), []);
    assert.deepEqual(violations(lsp, "server/lsp/bestOfN.ts", 'import { readSolutionFile } from "../cli/readSolutionFile.js";'), ["server/lsp/bestOfN.ts imports ../cli/readSolutionFile.js (server/cli)"]);
  });
});
