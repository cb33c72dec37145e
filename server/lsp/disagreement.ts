// Where the methods of steplens.methods disagree about a step: one calls it ok, another weak or
// wrong. CPMI asks whether a step moves the model toward the right answer, Implicit PRM whether a
// policy trained on outcomes finds the step's own tokens likelier than its reference did; a step
// they judge differently is worth a second look (a right step after a wrong one, a wrong step the
// answer does not depend on). Shown in the hover and as an Information diagnostic.

import { DiagnosticSeverity, type Diagnostic } from "vscode-languageserver";
import type { DiagnosticData, DocumentScores, WireMethodScore, WireStepScore } from "../../protocol/index.js";

export const DISAGREEMENT_CODE = "disagreement";

const METHOD_NAMES: Record<string, string> = {
  cpmi: "CPMI",
  mc: "Monte Carlo",
  cpmi_merge: "CPMI-Merge",
  rand_merge: "Rand_Merge",
  implicit: "Implicit PRM",
  cpmi_implicit: "CPMI + Implicit PRM",
};

export function methodName(method: string): string {
  return METHOD_NAMES[method] ?? method;
}

export interface Disagreement {
  ok: WireMethodScore[];
  flagged: WireMethodScore[];
}

/** The methods that call the step ok and those that call it weak or wrong, when both kinds exist. */
export function disagreementOf(step: WireStepScore): Disagreement | undefined {
  const views = step.methods ?? [];
  const ok = views.filter((m) => m.verdict === "ok");
  const flagged = views.filter((m) => m.verdict === "weak" || m.verdict === "wrong");
  return ok.length > 0 && flagged.length > 0 ? { ok, flagged } : undefined;
}

const view = (m: WireMethodScore): string => `${methodName(m.method)} ${m.verdict} (soft label ${m.softLabel == null ? "—" : m.softLabel.toFixed(2)})`;

export function disagreementText(step: WireStepScore, d: Disagreement): string {
  const names = [...d.flagged, ...d.ok].map((m) => methodName(m.method));
  const parts = [...d.flagged, ...d.ok].map(view);
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)} disagree on step ${step.index + 1}: ${parts.join(", ")}`;
}

/** The hover's per-method table and, where they disagree, the sentence saying so. */
export function methodsHoverLines(step: WireStepScore): string[] {
  if (!step.methods || step.methods.length < 2) return [];
  const lines = ["| method | soft label | verdict |", "| --- | ---: | --- |"];
  for (const m of step.methods) lines.push(`| ${methodName(m.method)} | ${m.softLabel == null ? "—" : m.softLabel.toFixed(2)} | ${m.verdict} |`);
  lines.push("");
  const d = disagreementOf(step);
  if (d) lines.push(`⚠ ${disagreementText(step, d)}.`, "");
  return lines;
}

export function disagreementDiagnostics(scores: DocumentScores): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const solution of scores.solutions) {
    for (const step of solution.steps) {
      const d = step.ignored ? undefined : disagreementOf(step);
      if (!d) continue;
      const where = scores.solutions.length > 1 ? ` (${solution.title ?? `solution ${solution.index + 1}`})` : "";
      const data: DiagnosticData = { uri: scores.uri, solutionIndex: solution.index, stepIndex: step.index, stepKey: step.key ?? "" };
      out.push({ range: step.textRange, severity: DiagnosticSeverity.Information, source: "StepLens", code: DISAGREEMENT_CODE, message: `${disagreementText(step, d)}${where}`, data });
    }
  }
  return out;
}
