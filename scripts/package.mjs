#!/usr/bin/env node
// Builds one .vsix per VS Code platform target, each carrying only its own llama.cpp binaries.
//
//   node scripts/package.mjs                  # the target of this machine (linux-x64 here)
//   node scripts/package.mjs --all            # every target node-llama-cpp has prebuilt binaries for
//   node scripts/package.mjs --target linux-arm64,win32-x64 [--out DIR] [--no-build]
//
// esbuild bundles everything except node-llama-cpp, which loads its native binaries relative to its
// own files, so each vsix holds dist/ plus node_modules/node-llama-cpp, its runtime dependencies and
// the one @node-llama-cpp/<platform> package for the target. vsce packs a staging folder
// (<out>/.staging/<target>/) laid out like an installed extension: `vsce --no-dependencies` would leave
// node_modules out, and packing the checkout itself would drag in every platform's binaries (the CUDA
// ones alone are over 500 MB).
//
// The engine loads llama.cpp with build: "never" (see server/engine/backend/llamaCpp.ts), so a
// target whose prebuilt binary package cannot be had is skipped with the reason: a vsix without it
// could not score anything. Binary packages not installed here are fetched with `npm pack`.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** VS Code target → node-llama-cpp's prebuilt binary package for it (CPU builds; GPU variants are too large to ship). */
export const TARGETS = {
  "linux-x64": "@node-llama-cpp/linux-x64",
  "linux-arm64": "@node-llama-cpp/linux-arm64",
  "linux-armhf": "@node-llama-cpp/linux-armv7l",
  "darwin-x64": "@node-llama-cpp/mac-x64",
  "darwin-arm64": "@node-llama-cpp/mac-arm64-metal",
  "win32-x64": "@node-llama-cpp/win-x64",
  "win32-arm64": "@node-llama-cpp/win-arm64",
};

/** The VS Code target of the machine running this script. */
export function hostTarget() {
  const arch = process.arch === "arm" ? "armhf" : process.arch;
  return `${process.platform}-${arch}`;
}

// What node-llama-cpp needs only to compile llama.cpp from source (never done at run time here):
// the llama.cpp git bundle alone is 34 MB.
const LLAMA_BUILD_ONLY = new Set(["gitRelease.bundle", "addon", "cmake", "toolchains", "xpack", "patches", "profiles", "CMakeLists.txt", "localBuilds", "llama.cpp"]);
// Never loaded at run time, in any package.
const DROP_FILE = /(\.map|\.d\.[mc]?ts|\.tsbuildinfo)$|^(README|CHANGELOG|HISTORY)(\.(md|markdown|txt))?$/i;

function parseArgs(argv) {
  const args = { targets: undefined, out: path.join(root, "out", "vsix"), build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--all") args.targets = Object.keys(TARGETS);
    else if (a === "--target") args.targets = argv[++i].split(",").map((t) => t.trim()).filter(Boolean);
    else if (a === "--out") args.out = path.resolve(argv[++i]);
    else if (a === "--no-build") args.build = false;
    else throw new Error(`unknown option ${a} (use --all, --target T[,T], --out DIR, --no-build)`);
  }
  args.explicit = args.targets !== undefined && !argv.includes("--all");
  args.targets ??= [hostTarget()];
  for (const t of args.targets) {
    if (!(t in TARGETS)) throw new Error(`unknown target ${t}: one of ${Object.keys(TARGETS).join(", ")}`);
  }
  return args;
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));

/** Node's lookup: dir/node_modules/name, then each parent's node_modules up to the checkout. */
function resolvePackageDir(fromDir, name) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || path.dirname(dir) === dir) return undefined;
  }
}

/** Whether a package's "os" / "cpu" fields (npm's platform filter) allow a VS Code target. */
function runsOn(pkg, target) {
  const [platform, vsArch] = target.split("-");
  const arch = vsArch === "armhf" ? "arm" : vsArch;
  const allows = (list, value) => !list || (list.some((v) => !v.startsWith("!")) ? list.includes(value) : !list.includes(`!${value}`));
  return allows(pkg.os, platform) && allows(pkg.cpu, arch);
}

/**
 * node-llama-cpp and everything it requires at run time on a target, as directories inside the
 * checkout. Optional platform-specific packages of other platforms (e.g. a linux-x64 native helper
 * in a win32 vsix) are left out.
 */
function runtimeClosure(target) {
  const start = resolvePackageDir(root, "node-llama-cpp");
  if (!start) throw new Error("node_modules/node-llama-cpp is missing: run npm install first");
  const seen = new Set();
  const queue = [start];
  while (queue.length) {
    const dir = queue.pop();
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = readJson(path.join(dir, "package.json"));
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    for (const name of new Set([...Object.keys(pkg.dependencies ?? {}), ...optional])) {
      if (name.startsWith("@node-llama-cpp/")) continue; // the platform binaries: one per target, added below
      const found = resolvePackageDir(dir, name);
      if (found && optional.has(name) && !runsOn(readJson(path.join(found, "package.json")), target)) continue;
      if (found) queue.push(found);
      else if (!optional.has(name)) throw new Error(`${pkg.name} needs ${name}, which is not installed: run npm install`);
    }
  }
  return [...seen];
}

function copyTree(src, dest, filter) {
  fs.mkdirSync(dest, { recursive: true });
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    const to = path.join(dest, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "node_modules") continue; // nested packages are copied as packages of their own
      if (filter(from, true)) copyTree(from, to, filter);
    } else if (filter(from, false)) {
      fs.copyFileSync(fs.realpathSync(from), to);
      fs.chmodSync(to, fs.statSync(from).mode);
    }
  }
}

function packageFilter(pkgDir) {
  const isLlama = path.basename(pkgDir) === "node-llama-cpp";
  return (file, isDir) => {
    const rel = path.relative(pkgDir, file).split(path.sep);
    if (isLlama && rel[0] === "llama" && rel.length === 2 && LLAMA_BUILD_ONLY.has(rel[1])) return false;
    if (isLlama && rel[0] === "bins") return false; // placeholders of binaries moved to @node-llama-cpp/*
    return isDir || !DROP_FILE.test(rel.at(-1));
  };
}

/** The prebuilt binary package for a target: the installed one, or `npm pack` of the same version. */
function binaryPackageDir(name, version, cacheDir) {
  const installed = resolvePackageDir(path.join(root, "node_modules", "node-llama-cpp"), name);
  if (installed && readJson(path.join(installed, "package.json")).version === version) return installed;
  const unpacked = path.join(cacheDir, `${name.replace("/", "+")}@${version}`);
  if (fs.existsSync(path.join(unpacked, "package", "package.json"))) return path.join(unpacked, "package");
  fs.mkdirSync(unpacked, { recursive: true });
  let tarball;
  try {
    const out = execFileSync("npm", ["pack", `${name}@${version}`, "--json", "--pack-destination", unpacked], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      shell: process.platform === "win32",
    });
    tarball = path.join(unpacked, JSON.parse(out)[0].filename);
  } catch (err) {
    fs.rmSync(unpacked, { recursive: true, force: true });
    let reason = String(err.stderr || err.message).trim().split("\n")[0];
    try {
      reason = JSON.parse(err.stdout).error.summary; // npm pack --json reports E404 / ETARGET there
    } catch {
      // not JSON: keep the first line of stderr as the reason
    }
    return { missing: `npm pack ${name}@${version}: ${reason}` };
  }
  execFileSync("tar", ["xzf", tarball, "-C", unpacked]);
  fs.rmSync(tarball);
  return path.join(unpacked, "package");
}

/** The manifest as shipped: no scripts or dev tooling; node-llama-cpp is the only unbundled dependency. */
function shippedManifest(pkg, llamaVersion) {
  const { scripts: _scripts, devDependencies: _devDependencies, dependencies: _dependencies, bin: _bin, ...rest } = pkg;
  return { ...rest, dependencies: { "node-llama-cpp": llamaVersion } };
}

async function packageTarget(target, { out, vsce, ownFiles, manifest, llamaVersion }) {
  const binary = binaryPackageDir(TARGETS[target], llamaVersion, path.join(root, "out", "binaries"));
  if (typeof binary === "object") return { target, skipped: `no prebuilt llama.cpp binary: ${binary.missing}` };

  const staging = path.join(out, ".staging", target);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });

  for (const file of ownFiles) {
    if (file === "package.json") continue; // written below, trimmed
    fs.mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(staging, file));
  }
  fs.writeFileSync(path.join(staging, "package.json"), JSON.stringify(shippedManifest(manifest, llamaVersion), null, 2) + "\n");
  fs.writeFileSync(path.join(staging, ".vscodeignore"), "# Staging folder of scripts/package.mjs, which chose every file already.\n**/*.map\n");
  for (const dir of runtimeClosure(target)) copyTree(dir, path.join(staging, path.relative(root, dir)), packageFilter(dir));
  copyTree(binary, path.join(staging, "node_modules", TARGETS[target]), packageFilter(binary));

  fs.mkdirSync(out, { recursive: true });
  const packagePath = path.join(out, `${manifest.name}-${target}-${manifest.version}.vsix`);
  await vsce.createVSIX({
    cwd: staging,
    packagePath,
    target,
    dependencies: true, // vsce asks `npm list --production` in the staging folder, which holds exactly what ships
    skipLicense: !fs.existsSync(path.join(root, "LICENSE")),
    rewriteRelativeLinks: false, // the README's relative links point into the repository, which has no public URL yet
    allowMissingRepository: true,
  });
  fs.rmSync(path.dirname(staging), { recursive: true, force: true });
  return { target, packagePath, bytes: fs.statSync(packagePath).size };
}

export async function packageAll(argv = []) {
  const args = parseArgs(argv);
  if (args.build) execFileSync(process.execPath, [path.join(root, "build.mjs")], { cwd: root, stdio: "inherit" });
  const { createRequire } = await import("node:module");
  const vsce = createRequire(import.meta.url)("@vscode/vsce");
  const manifest = readJson(path.join(root, "package.json"));
  const llamaVersion = readJson(path.join(root, "node_modules", "node-llama-cpp", "package.json")).version;
  // The extension's own files, chosen by the checkout's .vscodeignore exactly as vsce would. The
  // manifest is passed in so that vsce checks it once, as shipped (staging), not with the dev tooling.
  const ownFiles = await vsce.listFiles({ cwd: root, manifest, packageManager: vsce.PackageManager.None });
  const results = [];
  for (const target of args.targets) {
    results.push(await packageTarget(target, { out: args.out, vsce, ownFiles, manifest, llamaVersion }));
  }
  console.log("");
  for (const r of results) {
    if (r.skipped) console.log(`  ${r.target.padEnd(13)} SKIPPED: ${r.skipped}`);
    else console.log(`  ${r.target.padEnd(13)} ${(r.bytes / 2 ** 20).toFixed(1).padStart(6)} MB  ${path.relative(process.cwd(), r.packagePath)}`);
  }
  const skipped = results.filter((r) => r.skipped);
  if (skipped.length === results.length || (args.explicit && skipped.length)) {
    throw new Error(`could not package ${skipped.map((r) => r.target).join(", ")}`);
  }
  return results;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  packageAll(process.argv.slice(2)).catch((err) => {
    console.error(`package: ${err.message}`);
    process.exit(1);
  });
}
