// The .vsix as a user installs it: packaged by scripts/package.mjs for this machine's target,
// unpacked outside the checkout (so nothing can resolve from the repository's node_modules), and the
// bundled CLI scoring an example with the demo model from the unpacked tree. That proves the vsix
// carries node-llama-cpp, its runtime dependencies and the native llama.cpp binary, and that they load.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEMO_MODEL, REPO } from "./helpers.js";

const TARGET = `${process.platform}-${process.arch}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-package-"));
const unpacked = path.join(tmp, "unpacked");
let vsix = "";
let entries: string[] = [];

function run(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, maxBuffer: 64 * 2 ** 20 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
}

/** Every path under dir, relative, with forward slashes. */
function walk(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe(`vsix for ${TARGET}`, () => {
  before(() => {
    // npm test has just built dist/; the packaging script would otherwise build it itself.
    const r = run(process.execPath, ["scripts/package.mjs", "--no-build", "--out", tmp], REPO);
    assert.equal(r.status, 0, `scripts/package.mjs failed:\n${r.stdout}\n${r.stderr}`);
    vsix = path.join(tmp, readdirSync(tmp).find((f) => f.endsWith(".vsix")) ?? "no .vsix written");
    // python3's zipfile, not unzip(1): python3 is on every machine this project runs on.
    const x = run("python3", ["-m", "zipfile", "-e", vsix, unpacked], tmp);
    assert.equal(x.status, 0, x.stderr);
    entries = walk(unpacked);
  });

  test("is small and named for its target", () => {
    assert.match(path.basename(vsix), new RegExp(`^steplens-${TARGET}-\\d+\\.\\d+\\.\\d+\\.vsix$`));
    const mb = statSync(vsix).size / 2 ** 20;
    // 12.9 MB measured (bench/results/vsix-sizes); another target's binary would add 13-30 MB, CUDA 181 MB.
    assert.ok(mb < 14, `${path.basename(vsix)} is ${mb.toFixed(1)} MB`);
  });

  test("carries the bundles, node-llama-cpp and only this target's llama.cpp binaries", () => {
    for (const f of ["extension/package.json", "extension/dist/cli.mjs", "extension/dist/extension.cjs", "extension/node_modules/node-llama-cpp/package.json"]) {
      assert.ok(entries.includes(f), `${f} missing from the vsix`);
    }
    const binaryPackages = new Set(entries.filter((f) => f.startsWith("extension/node_modules/@node-llama-cpp/")).map((f) => f.split("/")[3]));
    assert.equal(binaryPackages.size, 1, [...binaryPackages].join(", "));
    const [binaryPackage] = binaryPackages;
    const pkg = JSON.parse(readFileSync(path.join(unpacked, "extension/node_modules/@node-llama-cpp", binaryPackage!, "package.json"), "utf8")) as { name: string; os: string[]; cpu: string[] };
    assert.ok(pkg.os.includes(process.platform) && pkg.cpu.includes(process.arch), `${pkg.name} is not for ${TARGET}`);
    assert.ok(entries.some((f) => /^extension\/node_modules\/@node-llama-cpp\/[^/]+\/bins\/.+\.(so|node)$/.test(f)), "no native binary in the vsix");
  });

  test("leaves out sources, tests, llama.cpp's source bundle, source maps and models", () => {
    const unwanted = entries.filter(
      (f) =>
        /^extension\/(client|server|protocol|test|scripts|bench|examples)\//.test(f) ||
        /^extension\/node_modules\/node-llama-cpp\/llama\/(gitRelease\.bundle|addon|cmake|toolchains)/.test(f) ||
        /\.(map|gguf|d\.ts)$/.test(f),
    );
    assert.deepEqual(unwanted, []);
  });

  test("its own CLI scores an example with the demo model from the unpacked tree", () => {
    const cli = path.join(unpacked, "extension/dist/cli.mjs");
    assert.ok(existsSync(cli));
    const r = run(process.execPath, [cli, "score", path.join(REPO, "examples/shopping.md"), "--model", DEMO_MODEL, "--gpu", "off", "--json"], tmp, 120_000);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { device: string; solutions: { steps: { reward: number }[] }[] };
    assert.equal(report.device, "cpu");
    assert.equal(report.solutions[0]!.steps.length, 4);
    for (const step of report.solutions[0]!.steps) assert.ok(Number.isFinite(step.reward));
  });

  after(() => rmSync(tmp, { recursive: true, force: true }));
});
