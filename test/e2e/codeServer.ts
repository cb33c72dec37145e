// A throw-away code-server for one test run: its own user-data, extensions and workspace folders under
// a temp dir, the StepLens vsix installed with `--install-extension` as a user would, no auth, bound
// to 127.0.0.1 on a free port.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { codeServerEnv, type E2ETools } from "./tools.js";

export interface Sandbox {
  root: string;
  workspace: string;
  userData: string;
  extensions: string;
}

/** A workspace of the repository's examples/*.md, with a settings file naming the model (CPU only). */
export function writeExamplesWorkspace(repo: string, workspace: string, modelPath: string): void {
  mkdirSync(path.join(workspace, ".vscode"), { recursive: true });
  for (const f of readdirSync(path.join(repo, "examples")).filter((f) => f.endsWith(".md") && f !== "README.md")) {
    copyFileSync(path.join(repo, "examples", f), path.join(workspace, f));
  }
  writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify({ "steplens.modelPath": modelPath, "steplens.gpu": "off" }, null, 2));
}

export function makeSandbox(repo: string, modelPath: string): Sandbox {
  const root = mkdtempSync(path.join(os.tmpdir(), "steplens-e2e-"));
  const sandbox = { root, workspace: path.join(root, "workspace"), userData: path.join(root, "user-data"), extensions: path.join(root, "extensions") };
  writeExamplesWorkspace(repo, sandbox.workspace, modelPath);
  mkdirSync(path.join(sandbox.userData, "User"), { recursive: true });
  mkdirSync(sandbox.extensions, { recursive: true });
  // Quiet, predictable workbench: no welcome page, tips, update checks or trust prompt (the
  // workspace is trusted, so its steplens.modelPath applies).
  writeFileSync(
    path.join(sandbox.userData, "User", "settings.json"),
    JSON.stringify(
      {
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "workbench.enableExperiments": false,
        "security.workspace.trust.enabled": false,
        "extensions.autoCheckUpdates": false,
        "extensions.autoUpdate": false,
        "update.mode": "none",
        "telemetry.telemetryLevel": "off",
        "editor.hover.delay": 300,
        "chat.disableAIFeatures": true,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        // code-server saves by itself after a second; a save checks the file, which would race the
        // test's look at what an edit alone does.
        "files.autoSave": "off",
      },
      null,
      2,
    ),
  );
  return sandbox;
}


export function installExtension(tools: E2ETools, sandbox: Sandbox, vsix: string): string {
  return execFileSync(
    tools.node,
    [tools.codeServer, "--user-data-dir", sandbox.userData, "--extensions-dir", sandbox.extensions, "--install-extension", vsix],
    { encoding: "utf8", env: codeServerEnv(sandbox.root), timeout: 120_000 },
  );
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningCodeServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts code-server and resolves once it answers /healthz (or rejects if it exits first). */
export async function startCodeServer(tools: E2ETools, sandbox: Sandbox, logFile: string, timeoutMs = 60_000): Promise<RunningCodeServer> {
  const port = await freePort();
  const log = createWriteStream(logFile);
  const child = spawn(
    tools.node,
    [
      tools.codeServer,
      "--auth", "none",
      "--bind-addr", `127.0.0.1:${port}`,
      "--user-data-dir", sandbox.userData,
      "--extensions-dir", sandbox.extensions,
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      sandbox.workspace,
    ],
    { env: codeServerEnv(sandbox.root), stdio: ["ignore", "pipe", "pipe"], detached: process.platform !== "win32" },
  );
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `code-server exited (${code ?? signal}) before it was ready; see ${logFile}`));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(exited);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`code-server did not answer ${url}/healthz within ${timeoutMs / 1000} s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    // Its own process group: the extension host and the StepLens language server go with it.
    const kill = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid && process.platform !== "win32") process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // already gone
      }
    };
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
    log.end();
  };
  return { url, process: child, stop };
}

export interface OpenWorkbench {
  server: RunningCodeServer;
  browser: Browser;
  page: Page;
}

/**
 * Installs the vsix, starts code-server and opens the sandbox's workspace in headless Chromium; returns
 * once the workbench shows its status bar and `waitForFile` in the explorer.
 */
export async function openWorkbench(tools: E2ETools, sandbox: Sandbox, vsix: string, logFile: string, waitForFile: string): Promise<OpenWorkbench> {
  const installed = installExtension(tools, sandbox, vsix);
  if (!/successfully installed/.test(installed)) throw new Error(`the vsix did not install: ${installed}`);
  const server = await startCodeServer(tools, sandbox, logFile);
  const browser = await chromium.launch({ executablePath: tools.chromium, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(30_000);
  // The first load compiles and loads the workbench: minutes on a busy machine.
  await page.goto(`${server.url}/?folder=${encodeURIComponent(sandbox.workspace)}`, { timeout: 180_000 });
  await page.locator(".monaco-workbench .part.statusbar").waitFor({ timeout: 60_000 });
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: waitForFile }).waitFor({ timeout: 60_000 });
  return { server, browser, page };
}
