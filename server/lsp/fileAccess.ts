// Which files on disk the language server reads for a client: only those inside the client's
// workspace folders. A request names any URI it likes and the answer carries the text, so reading
// whatever is named would hand any file this process can read (/etc/shadow, ~/.ssh) to whoever
// speaks to the server (issue 10 item 8). Documents the client opened never come from disk.

import { lstat, readlink, realpath, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface FolderParams {
  workspaceFolders?: readonly { uri: string }[] | null;
  rootUri?: string | null;
  rootPath?: string | null;
}

function pathOf(uri: string): string | undefined {
  if (!uri.startsWith("file:")) return undefined;
  try {
    return path.resolve(fileURLToPath(uri));
  } catch {
    // file://host/… and malformed escapes name no local path.
    return undefined;
  }
}

/** The folders of `initialize` (or of a folders-changed event) as paths: every workspace folder, else the root. */
export function workspaceFolderPaths(params: FolderParams): string[] {
  const uris = params.workspaceFolders?.length ? params.workspaceFolders.map((f) => f.uri) : params.rootUri ? [params.rootUri] : [];
  const paths = uris.map(pathOf).filter((p): p is string => p !== undefined);
  if (paths.length === 0 && params.rootPath) paths.push(path.resolve(params.rootPath));
  return paths;
}

function inside(folder: string, file: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** The reason for a refusal, the same for every file outside, so the answer tells nothing about what exists there. */
export const NOT_IN_WORKSPACE = "not open in the editor and not inside a workspace folder; open it, or add its folder to the workspace, to compare it";
export const NOT_OPEN = "not open in the editor; open it to compare it";

/**
 * The path to read for `uri`, or an error when the client may not have it. The path is checked as
 * written before anything on disk is touched, then again with symbolic links resolved (a link in the
 * workspace to a file outside it); the resolved path is what is read.
 */
export async function readableFile(uri: string, folders: readonly string[]): Promise<string> {
  const file = pathOf(uri);
  if (file === undefined) throw new Error(uri.startsWith("file:") ? NOT_IN_WORKSPACE : NOT_OPEN);
  if (!folders.some((f) => inside(f, file))) throw new Error(NOT_IN_WORKSPACE);
  const real = await realpath(file).catch(() => file);
  if (!(await realFolders(folders)).some((f) => inside(f, real))) throw new Error(NOT_IN_WORKSPACE);
  return real;
}

async function realFolders(folders: readonly string[]): Promise<string[]> {
  return await Promise.all(folders.map((f) => realpath(f).catch(() => f)));
}

/** Where the kernel says an open file is (Linux's /proc/self/fd); undefined elsewhere. */
async function openedPath(handle: FileHandle): Promise<string | undefined> {
  if (process.platform !== "linux") return undefined;
  try {
    return (await readlink(`/proc/self/fd/${handle.fd}`)).replace(/ \(deleted\)$/, "");
  } catch {
    return undefined;
  }
}

/**
 * The check of what was opened, for readSolutionFile's checkOpened; `file` is what readableFile
 * returned. readableFile resolves links and then the path is opened: a folder or file swapped for a
 * link in between would open a file outside the workspace. So the open file itself is checked: on
 * Linux by the path the kernel holds for it; elsewhere the path is resolved again and must name the
 * same file (device and inode, read with lstat so that a link swapped in by now is not followed).
 */
export function openedInside(file: string, folders: readonly string[], options: { kernelPath?: boolean } = {}): (handle: FileHandle) => Promise<void> {
  return async (handle) => {
    const roots = await realFolders(folders);
    // kernelPath false: the check other systems get, for the tests to run on Linux.
    const opened = options.kernelPath === false ? undefined : await openedPath(handle);
    if (opened !== undefined) {
      if (!roots.some((f) => inside(f, opened))) throw new Error(NOT_IN_WORKSPACE);
      return;
    }
    const [held, now] = await Promise.all([handle.stat(), realpath(file).catch(() => undefined)]);
    if (now === undefined || !roots.some((f) => inside(f, now))) throw new Error(NOT_IN_WORKSPACE);
    const there = await lstat(now).catch(() => undefined);
    if (!there || there.dev !== held.dev || there.ino !== held.ino) throw new Error(NOT_IN_WORKSPACE);
  };
}
