// Protocol ranges (LSP positions) to vscode ranges.

import * as vscode from "vscode";
import type { WireRange } from "../protocol/index.js";

export function toRange(r: WireRange): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}
