// StepLens in a real VS Code: the linux vsix installed into code-server with --install-extension,
// the workbench driven through Debian's Chromium (playwright-core), the demo model named by the
// workspace's settings.json. What a user sees is asserted from the DOM: the status bar, the score
// after each step, the squiggle and the Problems entry on the wrong step, the hover's reward table,
// the command palette, and Best of N's QuickPick.
//
// Run: npm run test:e2e (test/e2e/prepare.ts packages the vsix and installs code-server first).
// Screenshots of key points and of every failure: test-output/e2e/*.png, with code-server's log and,
// on failure, the workbench logs (the StepLens output channel among them) in test-output/e2e/logs/.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { bonItems, bonLatex, bonMarkdown } from "../bonFixtures.js";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { DEMO_MODEL, REPO } from "../helpers.js";
import { ensureTools } from "./tools.js";
import { makeSandbox, openWorkbench, type RunningCodeServer, type Sandbox } from "./codeServer.js";
import {
  SCORING_TIMEOUT,
  Screenshots,
  afterLineMarks,
  hoverOver,
  notifications,
  openFile,
  paletteEntries,
  problems,
  quickPickRows,
  runCommand,
  squiggles,
  stepLensStatus,
  until,
} from "./workbench.js";

const OUT = path.join(REPO, "test-output", "e2e");
const manifest = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));
const VSIX = path.join(REPO, "out", "vsix", `${manifest.name}-${process.platform}-${process.arch}-${manifest.version}.vsix`);

/** Three Best-of-N items of the dev set, written as Markdown and LaTeX files with no gold answer. */
const BON_ITEMS = bonItems(3);

/** The wrong step of examples/wrong-step.md and a good one before it. */
const WRONG_STEP = "The mugs cost 2 * 7 = 18 dollars.";
const GOOD_STEP = "The pens cost 4 * 3 = 12 dollars.";

let sandbox: Sandbox;
let server: RunningCodeServer | undefined;
let browser: Browser | undefined;
let page: Page;
const shots = new Screenshots(() => page, OUT);
const step = (name: string, fn: () => Promise<void>): (() => Promise<void>) => shots.step(name, fn);
const screenshot = (name: string): Promise<void> => shots.take(name);

describe("StepLens in code-server", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const tools = ensureTools();
    assert.ok(existsSync(VSIX), `${VSIX} is missing: run npm run package (npm run test:e2e does)`);
    sandbox = makeSandbox(REPO, DEMO_MODEL);
    for (const item of BON_ITEMS) {
      writeFileSync(path.join(sandbox.workspace, `${item.id}.md`), bonMarkdown(item));
      writeFileSync(path.join(sandbox.workspace, `${item.id}.tex`), bonLatex(item));
    }
    ({ server, browser, page } = await openWorkbench(tools, sandbox, VSIX, path.join(OUT, "code-server.log"), "wrong-step.md"));
  });

  after(async () => {
    if (shots.failed && sandbox) {
      // The workbench's logs: the extension host's, and the StepLens output channel's.
      cpSync(path.join(sandbox.userData, "logs"), path.join(OUT, "logs"), { recursive: true, force: true });
    }
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (sandbox && !shots.failed) rmSync(sandbox.root, { recursive: true, force: true });
  });

  test(
    "the installed extension's commands are in the command palette",
    step("palette lists StepLens commands", async () => {
      const installed = JSON.parse(readFileSync(path.join(sandbox.extensions, `${manifest.publisher}.${manifest.name}-${manifest.version}`, "package.json"), "utf8"));
      const titles: string[] = installed.contributes.commands.map((c: { category?: string; title: string }) => `${c.category ? `${c.category}: ` : ""}${c.title}`);
      assert.ok(titles.length >= 2, JSON.stringify(titles));
      const listed = await paletteEntries(page, "StepLens: ", 60_000);
      for (const t of titles) assert.ok(listed.some((l) => l.startsWith(t)), `"${t}" is not in the palette: ${JSON.stringify(listed)}`);
    }),
  );

  test(
    "opening wrong-step.md starts the server: the status bar names the model",
    step("status bar shows the model", async () => {
      await openFile(page, "wrong-step.md");
      const status = await until("the StepLens status bar item to name the demo model", async () => {
        const s = await stepLensStatus(page);
        return s && /arith-demo-15m/.test(s.text) && !/loading|starting|scoring/i.test(s.text) ? s : undefined;
      }, SCORING_TIMEOUT);
      assert.match(status.text, /StepLens: arith-demo-15m · CPU/);
      assert.ok(status.label.includes(DEMO_MODEL), `the status bar's tooltip should name ${DEMO_MODEL}: ${status.label}`);
    }),
  );

  test(
    "every step gets its score after the line; the wrong step a ▼",
    step("after-line scores", async () => {
      const marks = await until("four after-line scores", async () => {
        const m = await afterLineMarks(page);
        return m.length >= 4 ? m : undefined;
      }, SCORING_TIMEOUT);
      const markOf = (text: string): string | undefined => marks.find((m) => m.line.includes(text))?.mark;
      assert.match(markOf(WRONG_STEP) ?? "", /^▼ 0\.\d\d/, JSON.stringify(marks));
      assert.match(markOf(GOOD_STEP) ?? "", /^▲ 0\.\d\d/, JSON.stringify(marks));
      for (const m of marks) assert.match(m.mark, /^[▲▼] (0|1)\.\d\d/);
    }),
  );

  test(
    "the wrong step is underlined and listed in the Problems panel",
    step("squiggle and problems", async () => {
      const marked = await until("a squiggle on the wrong step", async () => {
        const s = await squiggles(page);
        return s.find((x) => x.line.includes(WRONG_STEP));
      });
      assert.equal(marked.severity, "error");
      // Rows read like "Error: Step 2 moves the model toward a wrong answer: … at line 7 and character 9. generated by StepLens".
      const row = await until("a Problems row for the wrong step", async () => (await problems(page)).find((r) => /\bline 7\b/.test(r)));
      assert.match(row, /^Error: Step 2\b/);
      assert.match(row, /StepLens/);
      await page.keyboard.press("Control+Shift+M"); // close the panel again
    }),
  );

  test(
    "StepLens: Clear Scores and then StepLens: Score Current File from the palette bring the scores back",
    step("score current file from the palette", async () => {
      await runCommand(page, "StepLens: Clear Scores");
      await until("the scores to be cleared", async () => (await afterLineMarks(page)).length === 0);
      await runCommand(page, "StepLens: Score Current File");
      const marks = await until("the scores to come back", async () => {
        const m = await afterLineMarks(page);
        return m.length >= 4 ? m : undefined;
      }, SCORING_TIMEOUT);
      assert.match(marks.find((m) => m.line.includes(WRONG_STEP))?.mark ?? "", /^▼/);
      const errors = (await notifications(page)).filter((n) => /StepLens/.test(n) && /error|could not|failed/i.test(n));
      assert.deepEqual(errors, []);
    }),
  );

  test(
    "hovering a step shows its reward table",
    step("hover reward table", async () => {
      const hover = await hoverOver(page, WRONG_STEP);
      assert.match(hover.text, /StepLens · step 2/);
      assert.ok(hover.tables >= 1, `no table in the hover: ${hover.text}`);
      // The table's columns: the gold answer, each hard negative, their mean, the reward; the verdict below.
      assert.match(hover.text, /gold 24/);
      assert.match(hover.text, /neg \d+/);
      assert.match(hover.text, /reward/i);
      assert.match(hover.text, /verdict\s*wrong/);
      await screenshot("hover");
      await page.keyboard.press("Escape");
    }),
  );

  test(
    "StepLens: Pick Best of N lists the 3 candidates of candidates.md",
    step("best of n quickpick", async () => {
      await openFile(page, "candidates.md");
      await runCommand(page, "StepLens: Pick Best of N");
      const pick = await quickPickRows(page, 3);
      assert.equal(pick.rows.length, 3, JSON.stringify(pick.rows));
      assert.match(pick.title, /Best of 3/);
      await screenshot("best-of-3");
      await page.keyboard.press("Escape");
    }),
  );
  for (const item of BON_ITEMS) {
    for (const ext of ["md", "tex"]) {
      const file = `${item.id}.${ext}`;
      test(
        `${file} (no gold answer): wrong candidates are underlined and Pick Best of N puts a correct one first`,
        step(`best of n ${item.id} ${ext}`, async () => {
          await openFile(page, file);
          await until(`a squiggle in ${file}`, async () => ((await squiggles(page)).length > 0 ? true : undefined), SCORING_TIMEOUT);
          // Each candidate's code lens shows its score once the check is done.
          await until(`${item.candidates.length} score lenses in ${file}`, async () => ((await page.locator(".codelens-decoration", { hasText: "StepLens: score" }).count()) >= item.candidates.length ? true : undefined), SCORING_TIMEOUT);
          await runCommand(page, "StepLens: Pick Best of N");
          const pick = await quickPickRows(page, item.candidates.length);
          assert.equal(pick.rows.length, item.candidates.length, JSON.stringify(pick.rows));
          assert.match(pick.rows[0]!, new RegExp(`answer ${item.gold_answer}\\b`), `the first row should be a correct candidate (gold ${item.gold_answer}): ${JSON.stringify(pick.rows)}`);
          await screenshot(`${item.id}-${ext}-best-of-${item.candidates.length}`);
          await page.keyboard.press("Escape");
        }),
      );
    }
  }
});
