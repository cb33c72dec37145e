#!/usr/bin/env node
// Builds llama.cpp's llama-server (CPU, Release, that one target) from the llama.cpp source that
// node-llama-cpp ships as a git bundle, into ~/.cache/steplens-llama-server/<tag>/, once per machine.
// The llama-server integration test and bench/llamaServerAgreement.ts run this binary, so they test
// the same llama.cpp release the local backend links, with no download.
//
//   node scripts/build-llama-server.mjs            build if absent, print the binary's path
//   node scripts/build-llama-server.mjs --print    print the path only (exit 1 if not built)
//   STEPLENS_LLAMA_SERVER_JOBS=4                   parallel compile jobs (default 2)
//   STEPLENS_LLAMA_SERVER_CACHE=DIR                cache root (default ~/.cache/steplens-llama-server)

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const LLAMA_DIR = path.join(REPO, "node_modules/node-llama-cpp/llama");

export function llamaServerTag() {
  const info = JSON.parse(readFileSync(path.join(LLAMA_DIR, "llama.cpp.info.json"), "utf8"));
  return String(info.tag);
}

export function llamaServerPaths() {
  const root = process.env.STEPLENS_LLAMA_SERVER_CACHE || path.join(os.homedir(), ".cache/steplens-llama-server");
  const dir = path.join(root, llamaServerTag());
  return { dir, src: path.join(dir, "src"), build: path.join(dir, "build"), binary: path.join(dir, "bin/llama-server") };
}

function run(cmd, args, cwd) {
  console.error(`$ ${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"] });
}

function need(tool, hint) {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`${tool} is needed to build llama-server but was not found: ${hint}`);
  }
}

export function buildLlamaServer({ jobs = Number(process.env.STEPLENS_LLAMA_SERVER_JOBS) || 2 } = {}) {
  const paths = llamaServerPaths();
  if (existsSync(paths.binary)) return paths.binary;
  const bundle = path.join(LLAMA_DIR, "gitRelease.bundle");
  if (!existsSync(bundle)) throw new Error(`llama.cpp source bundle not found at ${bundle}: run npm install first`);
  need("git", "apt-get install git");
  need("cmake", "apt-get install cmake");
  need("c++", "apt-get install build-essential");
  const started = Date.now();
  mkdirSync(paths.dir, { recursive: true });
  // A half-finished clone or build from an interrupted run is thrown away, not trusted.
  rmSync(paths.src, { recursive: true, force: true });
  run("git", ["-c", "advice.detachedHead=false", "clone", "--quiet", bundle, paths.src]);
  run(
    "cmake",
    [
      "-S", paths.src,
      "-B", paths.build,
      "-DCMAKE_BUILD_TYPE=Release",
      // One self-contained binary: nothing to put on LD_LIBRARY_PATH.
      "-DBUILD_SHARED_LIBS=OFF",
      "-DLLAMA_BUILD_TESTS=OFF",
      "-DLLAMA_BUILD_EXAMPLES=OFF",
      "-DLLAMA_BUILD_SERVER=ON",
      // The web UI would be fetched from Hugging Face at build time; the API needs no UI, CI is offline.
      "-DLLAMA_BUILD_UI=OFF",
      "-DLLAMA_USE_PREBUILT_UI=OFF",
      // No HTTPS client (model downloads): the server only loads a local file.
      "-DLLAMA_OPENSSL=OFF",
      "-DGGML_CUDA=OFF",
      "-DGGML_VULKAN=OFF",
      "-DGGML_METAL=OFF",
      "-DGGML_BLAS=OFF",
    ],
    paths.dir,
  );
  run("cmake", ["--build", paths.build, "--config", "Release", "--target", "llama-server", "-j", String(jobs)], paths.dir);
  const built = path.join(paths.build, "bin/llama-server");
  if (!existsSync(built)) throw new Error(`the build finished but ${built} is missing`);
  mkdirSync(path.dirname(paths.binary), { recursive: true });
  // Renamed into place last: the binary existing means the build completed.
  renameSync(built, paths.binary);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  writeFileSync(path.join(paths.dir, "build-info.txt"), `llama.cpp ${llamaServerTag()} built in ${seconds} s with -j${jobs} on ${new Date().toISOString()}\n`);
  rmSync(paths.build, { recursive: true, force: true });
  rmSync(paths.src, { recursive: true, force: true });
  console.error(`llama-server built in ${seconds} s: ${paths.binary}`);
  return paths.binary;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes("--print")) {
      const { binary } = llamaServerPaths();
      if (!existsSync(binary)) {
        console.error(`llama-server is not built yet: run node scripts/build-llama-server.mjs`);
        process.exit(1);
      }
      console.log(binary);
    } else {
      console.log(buildLlamaServer());
    }
  } catch (err) {
    console.error(`build-llama-server: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
