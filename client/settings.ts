// Setting names and the trust rule, vscode-free so the manifest test can check them against
// package.json and protocol's DEFAULT_SETTINGS.

export const SECTION = "steplens";

/** Settings only the client reads (the server's own are protocol's StepLensSettings). */
export const CLIENT_SETTINGS = {
  decorationsEnabled: "decorations.enabled",
} as const;

/** VS Code's own editor settings the decorations follow (section `editor`, not `steplens`). */
export const EDITOR_SETTINGS = { wordWrap: "wordWrap", inlayHints: "inlayHints.enabled" } as const;

/** Read by vscode-languageclient itself (`<client id>.trace.server`), not by our code. */
export const LIBRARY_SETTINGS = ["trace.server"] as const;

export const MODEL_PATH = "modelPath";
export const REFERENCE_MODEL_PATH = "referenceModelPath";
export const REMOTE_URL = "remote.url";
export const BACKEND = "backend";

/**
 * Settings a workspace could use against its user: `modelPath` (and Implicit PRM's
 * `referenceModelPath`) could point the server at any file,
 * `remote.url` could send the user's token (and their documents) to a server of the workspace's
 * choosing. In an untrusted workspace only the user's own (global) values count.
 */
export const TRUST_RESTRICTED = [MODEL_PATH, REFERENCE_MODEL_PATH, REMOTE_URL] as const;
export type RestrictedKey = (typeof TRUST_RESTRICTED)[number];
/** The user's global values of the restricted settings (undefined: not set). */
export type GlobalValues = Partial<Record<RestrictedKey, string>>;

/** The key where SecretStorage keeps the model server's token (never a settings file). */
export const TOKEN_SECRET_KEY = "steplens.remote.token";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** `value` (the object at `path`, dotted, "" for the root) with each restricted key below it replaced. */
function restrictObject(value: Obj, path: string, globals: GlobalValues): Obj {
  let out = value;
  for (const key of TRUST_RESTRICTED) {
    const full = `${SECTION}.${key}`;
    if (path !== "" && !full.startsWith(`${path}.`)) continue;
    const parts = (path === "" ? full : full.slice(path.length + 1)).split(".");
    const replace = (obj: Obj, i: number): Obj => {
      const head = parts[i]!;
      if (i === parts.length - 1) return { ...obj, [head]: globals[key] ?? "" };
      // A dotted key ("remote.url") set directly on the object counts too.
      const rest = parts.slice(i).join(".");
      const withDotted = rest in obj && i < parts.length - 1 ? { ...obj, [rest]: globals[key] ?? "" } : obj;
      const inner = withDotted[head];
      return isObj(inner) ? { ...withDotted, [head]: replace(inner, i + 1) } : withDotted;
    };
    out = replace(out, 0);
  }
  return out;
}

/**
 * `section` is what the server asked for: the whole `steplens` object, one dotted key below it, or
 * nothing (everything). Untrusted: the restricted keys carry the user's global values ("" if none).
 */
export function restrictForTrust(section: string | undefined, value: unknown, trusted: boolean, globals: GlobalValues): unknown {
  if (trusted) return value;
  const path = section ?? "";
  for (const key of TRUST_RESTRICTED) if (path === `${SECTION}.${key}`) return globals[key] ?? "";
  return isObj(value) ? restrictObject(value, path, globals) : value;
}
