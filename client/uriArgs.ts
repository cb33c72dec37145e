// Commands are called from the palette (no arguments), from code lenses and code actions (LSP sends
// URIs as strings) and from the Explorer (vscode.Uri, plus the selection as Uri[]).

import * as vscode from "vscode";

export function asUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === "string" && arg.length > 0) {
    try {
      return /^[a-z][a-z0-9+.-]*:/i.test(arg) && !/^[a-z]:[\\/]/i.test(arg) ? vscode.Uri.parse(arg, true) : vscode.Uri.file(arg);
    } catch {
      return undefined;
    }
  }
  if (arg && typeof arg === "object" && "uri" in arg) return asUri(arg.uri);
  return undefined;
}

export function asUris(arg: unknown): vscode.Uri[] {
  return Array.isArray(arg) ? arg.map(asUri).filter((u): u is vscode.Uri => u !== undefined) : [];
}

export function asIndex(arg: unknown): number | undefined {
  return typeof arg === "number" && Number.isInteger(arg) && arg >= 0 ? arg : undefined;
}

/** The document a command acts on: its argument, else the active editor's. */
export function targetUri(arg: unknown): vscode.Uri | undefined {
  return asUri(arg) ?? vscode.window.activeTextEditor?.document.uri;
}

export function openDocument(uri: vscode.Uri): vscode.TextDocument | undefined {
  const key = uri.toString();
  return vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
}

export function fileName(uri: vscode.Uri | string): string {
  const u = typeof uri === "string" ? vscode.Uri.parse(uri) : uri;
  return u.path.split("/").pop() || u.toString();
}
