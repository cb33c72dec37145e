// Setting names and the trust rule, vscode-free so the manifest test can check them against
// package.json and protocol's DEFAULT_SETTINGS.

export const SECTION = "steplens";

/** Settings only the client reads (the server's own are protocol's StepLensSettings). */
export const CLIENT_SETTINGS = {
  decorationsEnabled: "decorations.enabled",
} as const;

/** Read by vscode-languageclient itself (`<client id>.trace.server`), not by our code. */
export const LIBRARY_SETTINGS = ["trace.server"] as const;

export const MODEL_PATH = "modelPath";

/**
 * A workspace could point `steplens.modelPath` at any file and have the server load it, so an
 * untrusted workspace only gets the user's own (global) value. `section` is what the server asked
 * for: the whole `steplens` object or one dotted key below it.
 */
export function restrictForTrust(section: string | undefined, value: unknown, trusted: boolean, globalModelPath: string | undefined): unknown {
  if (trusted) return value;
  const safe = globalModelPath ?? "";
  if (section === `${SECTION}.${MODEL_PATH}`) return safe;
  if (section === SECTION && value !== null && typeof value === "object") {
    return { ...(value as Record<string, unknown>), [MODEL_PATH]: safe };
  }
  if ((section === undefined || section === "") && value !== null && typeof value === "object") {
    const all = value as Record<string, unknown>;
    const ours = all[SECTION];
    if (ours !== null && typeof ours === "object") return { ...all, [SECTION]: { ...(ours as Record<string, unknown>), [MODEL_PATH]: safe } };
  }
  return value;
}
