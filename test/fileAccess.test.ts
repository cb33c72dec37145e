// The language server's file access (server/lsp/fileAccess.ts) against a path swapped between the
// check and the read: the workspace check resolves links, then the file is opened; a folder or file
// replaced by a link to somewhere outside in that window must not be read (issue 10 item 8).

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { NOT_IN_WORKSPACE, openedInside, readableFile } from "../server/lsp/fileAccess.js";
import { readSolutionFile } from "../server/engine/parse/readSolutionFile.js";

const root = mkdtempSync(path.join(os.tmpdir(), "steplens-access-"));
const workspace = path.join(root, "workspace");
const outside = path.join(root, "outside");
const SOLUTION = "Question: What is 2 + 3?\n\nStep 1: 2 + 3 = 5.\nThe answer is 5.\n";
const SECRET = "Question: SECRET-77c1\n\nStep 1: 1 + 1 = 2.\nThe answer is 2.\n";

describe("a path swapped for a link between the workspace check and the read", { skip: process.platform === "win32" && "symbolic links need privileges on Windows" }, () => {
  mkdirSync(path.join(workspace, "sub"), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(path.join(outside, "a.md"), SECRET);
  after(() => rmSync(root, { recursive: true, force: true }));

    /** The workspace check now; `read` later, unguarded, guarded by the kernel's path, and guarded as other systems are. */
  const check = async (file: string): Promise<{ read: (guard: "none" | "kernel" | "inode") => Promise<string> }> => {
    const real = await readableFile(pathToFileURL(file).href, [workspace]);
    return {
      read: async (guard) =>
        await readSolutionFile(real, guard === "none" ? {} : { checkOpened: openedInside(real, [workspace], { kernelPath: guard === "kernel" }) }),
    };
  };
  const refused = (err: Error): boolean => err.message === NOT_IN_WORKSPACE;

  test("a file inside is read", async () => {
    const file = path.join(workspace, "sub", "a.md");
    writeFileSync(file, SOLUTION);
    const { read } = await check(file);
    assert.equal(await read("kernel"), SOLUTION);
    assert.equal(await read("inode"), SOLUTION);
  });

  test("the file itself swapped for a link to a file outside: refused, where the unguarded read leaks it", async () => {
    const file = path.join(workspace, "swap.md");
    writeFileSync(file, SOLUTION);
    const { read } = await check(file);
    unlinkSync(file);
    symlinkSync(path.join(outside, "a.md"), file);
    assert.match(await read("none"), /SECRET-77c1/, "the window exists: without the check the secret is read");
    await assert.rejects(read("kernel"), refused);
    await assert.rejects(read("inode"), refused);
  });

  test("a folder on its path swapped for a link to a folder outside: refused", async () => {
    const folder = path.join(workspace, "folder");
    mkdirSync(folder);
    writeFileSync(path.join(folder, "a.md"), SOLUTION);
    const { read } = await check(path.join(folder, "a.md"));
    renameSync(folder, `${folder}-old`);
    symlinkSync(outside, folder);
    assert.match(await read("none"), /SECRET-77c1/);
    await assert.rejects(read("kernel"), refused);
    await assert.rejects(read("inode"), refused);
  });
});
