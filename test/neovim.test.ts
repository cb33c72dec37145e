// docs/editors.md's Neovim set-up in a real, headless Neovim (Debian's `neovim` package; CI installs
// it): the lenses and code actions a user runs there must work without the VS Code extension
// (issue 12 item 12). The Lua set-up is read from the document itself, so the test checks what users
// copy. test/fixtures/neovim/driver.lua plays the user.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI, DEMO_MODEL, REPO } from "./helpers.js";

const nvim = spawnSync("nvim", ["--version"], { encoding: "utf8" });
const version = nvim.status === 0 ? nvim.stdout.split("\n")[0]! : undefined;

interface DriverResult {
  notes: string[];
  shown: string[];
  executed: { command: string; error: string | null }[];
  errors: string[];
  diagnostics?: { lnum: number; message: string }[];
  lenses?: string[];
  waited_diagnostics?: boolean;
  waited_lenses?: boolean;
  waited_rescore?: boolean;
  waited_explain?: boolean;
}

/** The first ```lua block of docs/editors.md: the set-up a user copies. */
function documentedSetup(): string {
  const doc = readFileSync(path.join(REPO, "docs/editors.md"), "utf8");
  const block = /```lua\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "docs/editors.md has a Lua set-up");
  return block[1]!;
}

test(`Neovim with the set-up of docs/editors.md: diagnostics, the Re-score lens and Explain this step work (${version ?? "nvim not installed"})`, { skip: version ? false : "nvim is not installed (apt-get install neovim; .ci/run installs it)" }, async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "steplens-nvim-"));
  const bin = path.join(home, "bin");
  mkdirSync(bin);
  // `steplens` on PATH, as docs/editors.md asks, is this checkout's build.
  writeFileSync(path.join(bin, "steplens"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(path.join(bin, "steplens"), 0o755);
  writeFileSync(path.join(home, "init.lua"), documentedSetup());
  const file = path.join(home, "wrong-step.md");
  writeFileSync(file, readFileSync(path.join(REPO, "examples/wrong-step.md")));
  const outFile = path.join(home, "result.json");
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    STEPLENS_MODEL: DEMO_MODEL,
    STEPLENS_TOKEN: "",
    STEPLENS_NVIM_OUT: outFile,
    STEPLENS_NVIM_FILE: file,
    // Neovim's own state and logs stay in the test's folder.
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, "config"),
    XDG_DATA_HOME: path.join(home, "data"),
    XDG_STATE_HOME: path.join(home, "state"),
    XDG_CACHE_HOME: path.join(home, "cache"),
  };
  const child = spawn("nvim", ["--headless", "-n", "-u", path.join(home, "init.lua"), "-c", `luafile ${path.join(REPO, "test/fixtures/neovim/driver.lua")}`], { cwd: home, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, output);
  const result = JSON.parse(readFileSync(outFile, "utf8")) as DriverResult;
  const summary = JSON.stringify(result, null, 1);
  assert.deepEqual(result.errors, [], summary);
  assert.ok(result.waited_diagnostics, `diagnostics arrived: ${summary}`);
  assert.ok(result.diagnostics!.some((d) => /^Step 2 /.test(d.message) && d.lnum === 6), summary);
  assert.ok(result.lenses!.some((t) => t.startsWith("StepLens: score ")) && result.lenses!.includes("Re-score"), summary);
  assert.ok(!result.notes.some((n) => /does not support command/.test(n)), `no "Language server does not support command": ${summary}`);
  assert.ok(result.waited_rescore, `the Re-score lens ran: ${summary}`);
  assert.deepEqual(result.executed[0], { command: "steplens.scoreFile", error: null }, summary);
  assert.ok(result.waited_explain, `Explain this step showed the explanation: ${summary}`);
});
