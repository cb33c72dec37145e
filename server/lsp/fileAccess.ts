// Which files on disk the language server reads for a client: only those inside the client's
// workspace folders. A request names any URI it likes and the answer carries the text, so reading
// whatever is named would hand any file this process can read (/etc/shadow, ~/.ssh) to whoever
// speaks to the server (issue 10 item 8). Documents the client opened never come from disk.

import { realpath } from "node:fs/promises";
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
  const realFolders = await Promise.all(folders.map((f) => realpath(f).catch(() => f)));
  if (!realFolders.some((f) => inside(f, real))) throw new Error(NOT_IN_WORKSPACE);
  return real;
}
