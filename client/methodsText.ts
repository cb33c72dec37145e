// The after-line text of a step scored by several methods (steplens.methods): the other methods'
// soft labels after the first one's, and a mark where they disagree (one ok, another weak or wrong).
// No vscode import: the tests check it on real scores.

import type { WireStepScore } from "../protocol/index.js";

const SHORT: Record<string, string> = { cpmi: "CPMI", mc: "MC", cpmi_merge: "CPMI-Merge", rand_merge: "Rand", implicit: "IPRM", cpmi_implicit: "CPMI+IPRM" };

/** Marks a step the methods disagree on. */
export const DISAGREE_MARK = "≠";

/** `  · IPRM ▲ 0.28 ≠`, or "" with one method. */
export function otherMethodsText(step: Pick<WireStepScore, "methods">): string {
  const views = step.methods ?? [];
  if (views.length < 2) return "";
  const others = views.slice(1).map((m) => {
    const arrow = m.verdict === "ok" ? "▲" : m.verdict === "not scored" ? "·" : "▼";
    return `${SHORT[m.method] ?? m.method} ${arrow}${m.softLabel == null ? "" : ` ${m.softLabel.toFixed(2)}`}`;
  });
  const ok = views.some((m) => m.verdict === "ok");
  const flagged = views.some((m) => m.verdict === "weak" || m.verdict === "wrong");
  return ` · ${others.join(" · ")}${ok && flagged ? ` ${DISAGREE_MARK}` : ""}`;
}
