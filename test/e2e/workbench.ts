// What a person does in the VS Code workbench, through the page: quick open, the command palette,
// the status bar, the Problems panel, hovers and after-line decorations. Every wait polls the DOM
// with a deadline; nothing sleeps a fixed time.

import path from "node:path";
import type { Locator, Page } from "playwright-core";

export const SCORING_TIMEOUT = 180_000; // model load + first check, or Best of N over 3 candidates, on 2 busy cores
export const UI_TIMEOUT = 20_000;

/** Polls `probe` until it returns a value other than undefined/false, or fails with `what` and the last value seen. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeout = UI_TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const quickInput = (page: Page): Locator => page.locator(".quick-input-widget");
export const quickInputRows = (page: Page): Locator => page.locator(".quick-input-widget .quick-input-list .monaco-list-row");

async function quickInputLabels(page: Page): Promise<string[]> {
  return await quickInputRows(page).evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label") ?? r.textContent ?? ""));
}

async function closeQuickInput(page: Page): Promise<void> {
  if (await quickInput(page).isVisible()) await page.keyboard.press("Escape");
  await quickInput(page).waitFor({ state: "hidden", timeout: UI_TIMEOUT });
}

/** Ctrl+P, the file name, Enter; resolves when its tab is the active one. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 450 } }).catch(() => undefined);
  await page.keyboard.press("Control+P");
  await quickInput(page).waitFor({ state: "visible", timeout: UI_TIMEOUT });
  await page.keyboard.type(name);
  await until(`quick open to list ${name}`, async () => (await quickInputLabels(page)).some((l) => l.includes(name)));
  await page.keyboard.press("Enter");
  await page.locator(`.tabs-container .tab.active[aria-label*="${name}"]`).waitFor({ timeout: UI_TIMEOUT });
  await page.locator(".editor-instance .monaco-editor .view-lines").first().waitFor({ timeout: UI_TIMEOUT });
}

/**
 * The command palette's entries matching `filter` (F1, then type), once there are any. The palette
 * filters once, when typed into, so each try reopens it: right after start-up the workbench may not
 * have registered the extensions' commands yet. Leaves the palette closed.
 */
export async function paletteEntries(page: Page, filter: string, timeout = UI_TIMEOUT): Promise<string[]> {
  return await until(`the palette to list commands for "${filter}"`, async () => {
    await page.keyboard.press("F1");
    await quickInput(page).waitFor({ state: "visible", timeout: UI_TIMEOUT });
    await page.keyboard.type(filter);
    const labels = await until("the palette's rows", async () => {
      const l = await quickInputLabels(page);
      return l.length > 0 ? l : undefined;
    });
    await closeQuickInput(page);
    return labels.some((x) => /no matching commands/i.test(x)) ? undefined : labels;
  }, timeout);
}

/** F1, the command's title, Enter once its row is listed. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  await quickInput(page).waitFor({ state: "visible", timeout: UI_TIMEOUT });
  await page.keyboard.type(title);
  await until(`the palette to list "${title}"`, async () => {
    const first = (await quickInputLabels(page))[0];
    return first !== undefined && first.startsWith(title);
  });
  await page.keyboard.press("Enter");
}

/** The text and accessible label of the StepLens status bar item, or undefined while it is not shown. */
export async function stepLensStatus(page: Page): Promise<{ text: string; label: string } | undefined> {
  const items = await page.locator(".statusbar-item").evaluateAll((els) =>
    els.filter((e) => /StepLens/.test(e.textContent ?? "")).map((e) => ({ text: (e.textContent ?? "").trim(), label: e.getAttribute("aria-label") ?? "" })),
  );
  return items[0];
}

export interface AfterLineMark {
  /** The editor line's own text (without the decoration). */
  line: string;
  /** The decoration's text, e.g. `▼ 0.02`. */
  mark: string;
}

/**
 * After-line decorations of the active editor. VS Code draws `renderOptions.after.contentText` as a
 * CSS ::after on an empty span, so the text is read from the computed style, not from the DOM.
 */
export async function afterLineMarks(page: Page): Promise<AfterLineMark[]> {
  return await page.locator(".editor-instance .monaco-editor .view-lines").first().evaluate((root) => {
    const marks: { line: string; mark: string }[] = [];
    for (const lineEl of Array.from(root.querySelectorAll(".view-line"))) {
      for (const span of Array.from(lineEl.querySelectorAll("span"))) {
        const content = getComputedStyle(span, "::after").content;
        if (!content || content === "none" || content === "normal") continue;
        const mark = content.replace(/^"|"$/g, "").replace(/\\"/g, '"');
        if (/[▲▼]/.test(mark)) marks.push({ line: (lineEl.textContent ?? "").replace(/\u00a0/g, " "), mark });
      }
    }
    return marks;
  });
}

/** Error/warning/info squiggles in the active editor, with the text of the line each one lies on. */
export async function squiggles(page: Page): Promise<{ severity: string; line: string }[]> {
  return await page.locator(".editor-instance .monaco-editor").first().evaluate((editor) => {
    const lineByTop = new Map<string, string>();
    for (const l of Array.from(editor.querySelectorAll<HTMLElement>(".view-lines .view-line"))) lineByTop.set(l.style.top, (l.textContent ?? "").replace(/\u00a0/g, " "));
    const out: { severity: string; line: string }[] = [];
    for (const s of Array.from(editor.querySelectorAll<HTMLElement>("[class*='squiggly-']"))) {
      const severity = /squiggly-(error|warning|info|hint)/.exec(s.className)?.[1] ?? "?";
      // Squiggles live in the view-overlays layer, one div per line positioned like the line itself.
      const top = (s.closest<HTMLElement>(".view-overlays > div") ?? s).style.top;
      out.push({ severity, line: lineByTop.get(top) ?? "" });
    }
    return out;
  });
}

/** Opens the Problems panel (Ctrl+Shift+M) and reads its rows' accessible labels. */
export async function problems(page: Page): Promise<string[]> {
  const panel = page.locator(".markers-panel");
  if (!(await panel.isVisible())) await page.keyboard.press("Control+Shift+M");
  await panel.waitFor({ state: "visible", timeout: UI_TIMEOUT });
  return await page.locator(".markers-panel .monaco-list-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label") ?? r.textContent ?? ""));
}

/** Moves the mouse over the first editor line containing `text` and returns the hover's text once shown. */
export async function hoverOver(page: Page, text: string): Promise<{ text: string; tables: number }> {
  const line = page.locator(".editor-instance .monaco-editor .view-lines .view-line", { hasText: text }).first();
  const box = await until(`a line containing "${text}"`, async () => (await line.boundingBox()) ?? undefined);
  const span = await line.evaluate((el, t) => {
    // Aim at the characters themselves: the line box is as wide as the editor.
    const range = document.createRange();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = (n.textContent ?? "").indexOf(t.slice(0, 4));
      if (i >= 0) {
        range.setStart(n, i);
        range.setEnd(n, Math.min((n.textContent ?? "").length, i + 4));
        const r = range.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      }
    }
    return undefined;
  }, text);
  const at = span ?? { x: box.x + 80, y: box.y + box.height / 2 };
  await page.mouse.move(at.x - 30, at.y);
  await page.mouse.move(at.x, at.y, { steps: 5 });
  const hover = page.locator(".monaco-hover:not(.hidden) .monaco-hover-content, .monaco-hover:not(.hidden) .hover-contents").first();
  await hover.waitFor({ state: "visible", timeout: UI_TIMEOUT });
  return await until("the hover's content", async () => {
    const t = (await hover.textContent()) ?? "";
    return t.trim() ? { text: t, tables: await page.locator(".monaco-hover:not(.hidden) table").count() } : undefined;
  });
}

/** The rows of the open QuickPick once at least `min` are listed. */
export async function quickPickRows(page: Page, min: number, timeout = SCORING_TIMEOUT): Promise<{ title: string; rows: string[] }> {
  await quickInput(page).waitFor({ state: "visible", timeout });
  const rows = await until(`a QuickPick with ${min}+ rows`, async () => {
    const l = await quickInputLabels(page);
    return l.length >= min ? l : undefined;
  }, timeout);
  const title = ((await page.locator(".quick-input-widget .quick-input-title").textContent().catch(() => "")) ?? "").trim();
  return { title, rows };
}

/** Notification toasts now showing, as text. */
export async function notifications(page: Page): Promise<string[]> {
  return await page.locator(".notifications-toasts .notification-toast").evaluateAll((els) => els.map((e) => e.textContent ?? ""));
}

/**
 * Numbered screenshots of a test run in `outDir`, and `step`, a test body that leaves one behind named
 * for the step (marked FAILED when it failed); `failed` tells the teardown to keep the logs.
 */
export class Screenshots {
  failed = false;
  private shots = 0;

  constructor(
    private readonly pageOf: () => Page | undefined,
    private readonly outDir: string,
  ) {}

  async take(name: string): Promise<void> {
    const page = this.pageOf();
    if (!page) return;
    const file = path.join(this.outDir, `${String(++this.shots).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file }).catch((err) => console.error(`screenshot ${file}: ${err}`));
  }

  step(name: string, fn: () => Promise<void>): () => Promise<void> {
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    return async () => {
      try {
        await fn();
        await this.take(slug);
      } catch (err) {
        this.failed = true;
        await this.take(`${slug}-FAILED`);
        throw err;
      }
    };
  }
}
