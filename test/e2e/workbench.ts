// What a person does in the VS Code workbench, through the page: quick open, the command palette,
// the status bar, the Problems panel, hovers and after-line decorations. Every wait polls the DOM
// with a deadline; nothing sleeps a fixed time.

import path from "node:path";
import type { Locator, Page } from "playwright-core";

export const SCORING_TIMEOUT = 180_000; // model load + first check, or Best of N over 3 candidates, on 2 busy cores
export const UI_TIMEOUT = 20_000;
/** Quick Open's first file search waits for the extension host to start (seen: over 20 s on 2 busy cores). */
export const SEARCH_TIMEOUT = 120_000;

/** Polls `probe` until it returns a value other than undefined/false, or fails with `what` and the last value seen. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeout = UI_TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
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

export async function closeQuickInput(page: Page): Promise<void> {
  if (await quickInput(page).isVisible()) await page.keyboard.press("Escape");
  await quickInput(page).waitFor({ state: "hidden", timeout: UI_TIMEOUT });
}

/** The active editor tab's title, e.g. "wrong-step.md". */
export async function activeTabTitle(page: Page): Promise<string | undefined> {
  // The tab's accessible label is its title ("wrong-step.md"); its .label-name holds the name without the extension.
  const tab = page.locator(".tabs-container .tab.active").first();
  return (await tab.count()) > 0 ? ((await tab.getAttribute("aria-label")) ?? undefined) : undefined;
}

/**
 * Ctrl+P, the file name, Enter once the row quick open has focused is that very file; resolves when
 * its tab is the active one. Quick open lists results as they come: a list still showing the last
 * search (or `x.md` above `x.tex`) would open the wrong file, so the wait is on the focused row.
 */
export async function openFile(page: Page, name: string): Promise<void> {
  if ((await activeTabTitle(page)) === name) return;
  await closeQuickInput(page).catch(() => undefined);
  await page.keyboard.press("Control+P");
  await quickInput(page).waitFor({ state: "visible", timeout: UI_TIMEOUT });
  await page.keyboard.type(name);
  const focused = page.locator(".quick-input-widget .quick-input-list .monaco-list-row.focused .label-name").first();
  // File search runs in the extension host: right after start-up, on busy cores, that takes a while.
  await until(`quick open to focus ${name}`, async () => (await focused.count()) > 0 && ((await focused.textContent()) ?? "").trim() === name, SEARCH_TIMEOUT);
  await page.keyboard.press("Enter");
  await until(`the active tab to be ${name}`, async () => (await activeTabTitle(page)) === name);
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
  /** The editor line's own text (without the score). */
  line: string;
  /** The score's text, e.g. `▼ 0.02`. */
  mark: string;
  /** Coloured text after the line (a decoration's ::after), or an inlay hint (where lines wrap). */
  kind: "after" | "hint";
  /** Drawn in italics (a stale score, as decoration text). */
  italic: boolean;
  /** Its colour, as CSS computes it (`rgb(…)`). */
  color: string;
  /** Where its right edge is, in page pixels. */
  right: number;
}

/**
 * The scores after the lines of the active editor, whichever way they are drawn. Decoration text is a
 * CSS ::after on an empty span, read from the computed style; an inlay hint is text in the line
 * (no-break spaces and a one-dot leader keep it in one piece; they are read back as spaces and a period).
 */
export async function afterLineMarks(page: Page): Promise<AfterLineMark[]> {
  return await page.locator(".editor-instance .monaco-editor .view-lines").first().evaluate((root) => {
    const marks: AfterLineMark[] = [];
    for (const lineEl of Array.from(root.querySelectorAll(".view-line"))) {
      let line = lineEl.textContent ?? "";
      const hints: AfterLineMark[] = [];
      for (const span of Array.from(lineEl.querySelectorAll("span"))) {
        const after = getComputedStyle(span, "::after");
        const content = after.content;
        if (content && content !== "none" && content !== "normal") {
          const mark = content.replace(/^"|"$/g, "").replace(/\\"/g, '"');
          // The span is empty but for its ::after, so its box is the mark's.
          if (/[▲▼]/.test(mark)) marks.push({ line: line.replace(/\u00a0/g, " "), mark, kind: "after", italic: after.fontStyle === "italic", color: after.color, right: span.getBoundingClientRect().right });
        } else if (span.children.length === 0 && /^[▲▼·]\u00a0/.test(span.textContent ?? "")) {
          const text = span.textContent ?? "";
          line = line.replace(text, "");
          hints.push({ line: "", mark: text.replace(/\u00a0/g, " ").replace(/\u2024/g, "."), kind: "hint", italic: false, color: getComputedStyle(span).color, right: span.getBoundingClientRect().right });
        }
      }
      for (const m of hints) marks.push({ ...m, line: line.replace(/\u00a0/g, " ").replace(/\s+$/, "") });
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

  async take(name: string): Promise<string | undefined> {
    const page = this.pageOf();
    if (!page) return undefined;
    const file = path.join(this.outDir, `${String(++this.shots).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file }).catch((err) => console.error(`screenshot ${file}: ${err}`));
    return file;
  }

  /**
   * A test body that leaves a screenshot named for the step. `fn` ends in the state the name
   * describes (the panel open, the hover shown); `cleanup` runs after the screenshot (closes them),
   * so the picture shows what its name says.
   */
  step(name: string, fn: () => Promise<void>, cleanup?: () => Promise<void>): () => Promise<void> {
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
      await cleanup?.();
    };
  }
}

/** The code lenses of the active editor, one title each (a solution's lenses share a line, split by "|"). */
export async function codeLensTitles(page: Page): Promise<string[]> {
  return await page
    .locator(".editor-instance .monaco-editor .codelens-decoration")
    .evaluateAll((els) => els.flatMap((el) => Array.from(el.children).map((c) => (c.textContent ?? "").trim()).filter((t) => t !== "" && t !== "|")));
}

export interface Toast {
  message: string;
  buttons: string[];
}

/** Notification toasts now showing, with their buttons. */
export async function toasts(page: Page): Promise<Toast[]> {
  return await page.locator(".notifications-toasts .notification-toast").evaluateAll((els) =>
    els.map((e) => ({
      message: (e.querySelector(".notification-list-item-message")?.textContent ?? e.textContent ?? "").trim(),
      buttons: Array.from(e.querySelectorAll(".notification-list-item-buttons-container .monaco-button")).map((b) => (b.textContent ?? "").trim()),
    })),
  );
}

/** Clicks `button` on the toast whose message matches `message`. */
export async function clickToastButton(page: Page, message: RegExp, button: string): Promise<void> {
  // A tooltip left by the last click (the status bar item's) can lie over the toast.
  await page.mouse.move(1, 1);
  await page.locator(".context-view .hover-contents").waitFor({ state: "hidden" });
  const toast = page.locator(".notifications-toasts .notification-toast", { hasText: message }).first();
  await toast.locator(".notification-list-item-buttons-container .monaco-button", { hasText: button }).first().click();
}

/** Closes every toast (the "Clear All Notifications" command through its keybinding-free palette entry). */
export async function clearToasts(page: Page): Promise<void> {
  await runCommand(page, "Notifications: Clear All Notifications");
  await until("the toasts to go", async () => (await toasts(page)).length === 0);
}

/** The active editor's selections: true when some text is selected (not just a cursor). */
export async function hasSelectedText(page: Page): Promise<boolean> {
  return (await page.locator(".editor-instance .monaco-editor .view-overlays .selected-text").count()) > 0;
}
