// `npm run test:vscode`: the extension in a real desktop VS Code through @vscode/test-electron, for
// machines with internet access (it downloads VS Code into out/vscode-test/cache the first time; on Linux
// without a display, run it under xvfb-run). The project's CI uses the code-server test instead
// (npm run test:e2e), which needs only the npm registry.
//
// The suite runs inside VS Code's extension host, which loads it with require(): esbuild bundles
// test/vscode/suite/index.ts to out/vscode-test/suite.cjs first.

import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { runTests } from "@vscode/test-electron";
import { DEMO_MODEL, REPO } from "../helpers.js";
import { writeExamplesWorkspace } from "../e2e/codeServer.js";

async function main(): Promise<void> {
  const suite = path.join(REPO, "out", "vscode-test", "suite.cjs");
  await build({
    entryPoints: [path.join(import.meta.dirname, "suite", "index.ts")],
    outfile: suite,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["vscode"],
    logLevel: "warning",
  });

  const workspace = mkdtempSync(path.join(os.tmpdir(), "steplens-vscode-"));
  writeExamplesWorkspace(REPO, workspace, DEMO_MODEL);

  await runTests({
    version: process.env.VSCODE_TEST_VERSION ?? "stable",
    cachePath: path.join(REPO, "out", "vscode-test", "cache"), // out/ is git-ignored
    extensionDevelopmentPath: REPO,
    extensionTestsPath: suite,
    launchArgs: [workspace, "--disable-extensions", "--disable-workspace-trust", "--skip-welcome", "--skip-release-notes"],
    extensionTestsEnv: { STEPLENS_TEST_WORKSPACE: workspace },
  });
}

main().catch((err) => {
  console.error(`test:vscode failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
