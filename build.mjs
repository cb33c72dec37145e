// One esbuild script for every entry point. node-llama-cpp stays external: it carries native
// binaries and loads them relative to its own files.
import { build } from "esbuild";
import { readFileSync, chmodSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const watch = process.argv.includes("--watch");
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "info",
  define: { STEPLENS_VERSION: JSON.stringify(pkg.version) },
};

// Node entry points are ESM because node-llama-cpp is ESM-only; bundled CommonJS dependencies
// still call require(), so give them one.
const esmBanner = { js: "import { createRequire as __steplensRequire } from 'node:module'; const require = __steplensRequire(import.meta.url);" };

const targets = [
  { ...common, entryPoints: { cli: "server/cli/main.ts" }, outdir: "dist", format: "esm", outExtension: { ".js": ".mjs" }, external: ["node-llama-cpp"], banner: esmBanner },
  // VS Code loads extensions as CommonJS; the client never imports the engine.
  { ...common, entryPoints: { extension: "client/extension.ts" }, outdir: "dist", format: "cjs", outExtension: { ".js": ".cjs" }, external: ["vscode"] },
];

if (watch) {
  const { context } = await import("esbuild");
  for (const t of targets) await (await context(t)).watch();
} else {
  await Promise.all(targets.map((t) => build(t)));
  chmodSync("dist/cli.mjs", 0o755);
}
