// The record shape `steplens label` reads (ProcessBench's, plus an optional gold answer), checked
// field by field so a bad record is skipped with a message that says what to fix.

export interface ProcessBenchRecord {
  /** Always a string here, even when the file has a number: resume matches ids as strings. */
  id: string;
  problem: string;
  steps: string[];
  /** A number in the file becomes its decimal string. */
  gold_answer?: string;
  /** Index of the first wrong step, -1 when every step is right. */
  label?: number;
  /** Other fields (negatives, metadata) pass through to the output unchanged. */
  [field: string]: unknown;
}

export type ValidatedRecord = { ok: true; record: ProcessBenchRecord } | { ok: false; error: string };

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function stepsProblem(steps: unknown): string | undefined {
  if (steps === undefined) return "it is missing";
  if (!Array.isArray(steps)) return `got ${typeName(steps)}`;
  if (steps.length === 0) return "got an empty array";
  for (let i = 0; i < steps.length; i++) {
    const s: unknown = steps[i];
    if (typeof s !== "string") return `steps[${i}] is ${typeName(s)}`;
    if (!s.trim()) return `steps[${i}] is empty`;
  }
  return undefined;
}

/** Checks what `label` needs; the error names the record and the field. */
export function validateProcessBenchRecord(value: unknown): ValidatedRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: `a record must be a JSON object, got ${typeName(value)}` };
  }
  const v = value as Record<string, unknown>;
  const bad = (error: string): ValidatedRecord => ({ ok: false, error });

  let id: string;
  if (typeof v.id === "string" && v.id.trim()) id = v.id;
  else if (typeof v.id === "number" && Number.isFinite(v.id)) id = String(v.id);
  else if (v.id === undefined) return bad("field `id` is missing: every record needs one, so that an interrupted run can resume");
  else return bad(`field \`id\` must be a non-empty string or a number, got ${typeName(v.id)}`);
  const where = `record ${JSON.stringify(id)}`;

  if (typeof v.problem !== "string" || !v.problem.trim()) {
    return bad(`${where}: field \`problem\` must be a non-empty string${v.problem === undefined ? " (it is missing)" : `, got ${typeName(v.problem)}`}`);
  }
  const stepsIssue = stepsProblem(v.steps);
  if (stepsIssue) return bad(`${where}: field \`steps\` must be a non-empty array of strings (${stepsIssue})`);
  const steps = v.steps as string[];

  let gold: string | undefined;
  if (typeof v.gold_answer === "number" && Number.isFinite(v.gold_answer)) gold = String(v.gold_answer);
  else if (typeof v.gold_answer === "string") {
    if (!v.gold_answer.trim()) return bad(`${where}: field \`gold_answer\` is empty; leave it out to let StepLens find a stand-in`);
    gold = v.gold_answer;
  } else if (v.gold_answer != null) {
    return bad(`${where}: field \`gold_answer\` must be a string or a number, got ${typeName(v.gold_answer)}`);
  }

  if (v.label != null) {
    if (typeof v.label !== "number" || !Number.isInteger(v.label) || v.label < -1) {
      return bad(`${where}: field \`label\` must be -1 (all steps right) or the index of the first wrong step, got ${JSON.stringify(v.label)}`);
    }
    if (v.label >= steps.length) {
      return bad(`${where}: field \`label\` is ${v.label} but there are only ${steps.length} steps (indices start at 0)`);
    }
  }

  const record: ProcessBenchRecord = { ...v, id, problem: v.problem, steps };
  if (gold === undefined) delete record.gold_answer;
  else record.gold_answer = gold;
  if (v.label == null) delete record.label;
  return { ok: true, record };
}
