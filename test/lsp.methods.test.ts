// The scoring method and the segmentation mode as editor settings: the real language server, the
// real demo model, a scripted client.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { DocumentScores } from "../protocol/index.js";
import { DEMO_MODEL, REPO } from "./helpers.js";
import { fileUri, TestClient } from "./lsp-client.js";

const WRONG = path.join(REPO, "examples/wrong-step.md");
const wrongText = readFileSync(WRONG, "utf8");
const scoresFor = (uri: string, version: number) => (p: DocumentScores) => p.uri === uri && p.version === version && p.solutions.length > 0;

describe("language server: steplens.method and steplens.segmentation", () => {
  let client: TestClient;
  before(async () => {
    client = await TestClient.inProcess({
      configuration: { modelPath: DEMO_MODEL, gpu: "off", method: "mc", segmentation: "entropy", check: { frequency: "edit", debounceMs: 30 } },
    });
  });
  after(async () => {
    await client.close();
  });

  test("method mc: soft labels are shares of the rollouts; the wrong step and those it spoils are flagged", async () => {
    const uri = fileUri(WRONG);
    client.open(uri, wrongText);
    const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(uri, 1));
    const steps = scores.solutions[0]!.steps;
    assert.equal(steps.length, 4);
    for (const s of steps) assert.ok(Number.isInteger(s.softLabel! * 8), `a share of 8 rollouts: ${s.softLabel}`);
    assert.ok(steps[0]!.softLabel! >= 0.5, JSON.stringify(steps.map((s) => s.softLabel)));
    assert.notEqual(steps[1]!.verdict, "ok");
    assert.equal(steps[0]!.verdict, "ok");
  });

  test("segmentation entropy: a one-paragraph solution is cut into its four steps, ranges on the text", async () => {
    const paragraph = "The pens cost 4 * 3 = 12 dollars. The mugs cost 2 * 7 = 14 dollars. Together they cost 12 + 14 = 26 dollars. The change is 50 - 26 = 24 dollars.";
    const text = `---\nanswer: 24\n---\nQuestion: Tom buys 4 pens for $3 each and 2 mugs for $7 each. Tom pays with a $50 bill. How much change does Tom get, in dollars?\n\n${paragraph}\n\nThe answer is 24.\n`;
    const uri = fileUri(path.join(REPO, "examples/paragraph-virtual.md"));
    client.open(uri, text);
    const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(uri, 1));
    const steps = scores.solutions[0]!.steps;
    assert.equal(steps.length, 4);
    const lines = text.split("\n");
    const texts = steps.map((s) => lines[s.range.start.line]!.slice(s.range.start.character, s.range.end.character).trim());
    assert.match(texts[0]!, /^The pens cost 4 \* 3 = 12 dollars\.$/);
    assert.match(texts[3]!, /^The change is 50 - 26 = 24 dollars\.$/);
    for (const s of steps) assert.equal(s.verdict, "ok", JSON.stringify(steps.map((x) => [x.softLabel, x.verdict])));
  });
});
