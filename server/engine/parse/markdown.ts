// Markdown: markdown-it gives the block structure with line maps; the text of each line is then
// read from the source itself, so offsets stay exact. Paragraph lines are units of their own (one
// step per line), a list item is one unit (its lines and nested items joined), code blocks, HTML
// blocks and tables are skipped, headings and thematic breaks become heading and break units.

import MarkdownIt from "markdown-it";
import type { MarkdownIt as Md, Token } from "markdown-it";
import { headingRole, isThematicBreak } from "./lines.js";
import { trimSpan, type LineIndex, type Span } from "./positions.js";
import { atxTitle } from "./plain.js";
import { itemUnits, makeUnit, type Unit } from "./units.js";

let parser: Md | undefined;

/** markdown-it's maxNesting, set here so the check below does not hang on the preset's default. It
 * counts containers: a list and each of its items are one level each, a block quote one. */
export const MARKDOWN_NESTING = 100;

function markdownIt(): Md {
  if (!parser) {
    // html: true so that HTML blocks (comments included) are recognised and skipped. Only the block
    // structure is needed: inline parsing is switched off, which also keeps 5 MB files fast.
    parser = new MarkdownIt("default", { html: true, linkify: false, typographer: false, maxNesting: MARKDOWN_NESTING });
    parser.core.ruler.disable(["inline", "linkify", "replacements", "smartquotes", "text_join"], true);
  }
  return parser;
}

interface OpenItem {
  level: number;
  line: number;
  /** Lines where a list marker opens an item (nested ones included), with how many open there. */
  markers: Map<number, number>;
  pieces: Span[];
}

/**
 * markdown-it stops reading blocks nested deeper than its maxNesting (100) and silently skips every
 * line inside them: a list nested 10,000 deep gave "no steps found", 2,000 progressively nested
 * lines 49 steps (issue 10). The first line of such a block, or undefined when there is none.
 */
function tooDeepAt(tokens: Token[]): number | undefined {
  // A container opened at the last level gets its content skipped.
  const deep = tokens.find((t) => t.nesting === 1 && t.level >= MARKDOWN_NESTING - 1);
  return deep ? (deep.map?.[0] ?? 0) : undefined;
}

export interface MarkdownUnits {
  units: Unit[];
  /** Set when markdown-it gave up on blocks nested too deep: the first line of the deepest one. */
  tooDeepLine?: number;
}

/** Units of the Markdown in lines [fromLine, toLine); the lines before are front matter. */
export function markdownUnits(lines: LineIndex, fromLine = 0, toLine = lines.lineCount): MarkdownUnits {
  const text = lines.text;
  // Blank out the front matter but keep its lines, so token maps still count source lines.
  const body = "\n".repeat(fromLine) + text.slice(lines.lineStart(fromLine), lines.lineEnd(Math.max(fromLine, toLine - 1))).replace(/^\uFEFF/, " ");
  const md = markdownIt();
  const tokens = md.parse(body, {});
  const tooDeepLine = tooDeepAt(tokens);
  if (tooDeepLine !== undefined) return { units: [], tooDeepLine };
  const units: Unit[] = [];
  let quote = 0;
  let lists = 0;
  let item: OpenItem | undefined;

  const lineSpan = (n: number, markers: number): Span | undefined => {
    let s = lines.lineStart(n);
    const e = lines.lineEnd(n);
    // Container markers: `>` of block quotes, then the list markers opening items on this line.
    for (;;) {
      while (s < e && /[ \t\uFEFF]/.test(text[s]!)) s++;
      if (quote > 0 && text[s] === ">") s++;
      else break;
    }
    for (let k = 0; k < markers; k++) {
      const m = /^(?:[-*+]|\d{1,9}[.)])(?=[ \t]|$)/.exec(text.slice(s, Math.min(e, s + 12)));
      if (!m) break;
      s += m[0].length;
      while (s < e && (text[s] === " " || text[s] === "\t")) s++;
    }
    return trimSpan(text, s, e);
  };
  const addLines = (from: number, to: number): void => {
    for (let n = from; n < to; n++) {
      const span = lineSpan(n, item?.markers.get(n) ?? 0);
      if (!span) continue;
      if (item) item.pieces.push(span);
      else units.push(makeUnit(text, "line", span.start, [span]));
    }
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const map = t.map;
    switch (t.type) {
      case "blockquote_open":
        quote++;
        break;
      case "blockquote_close":
        quote--;
        break;
      case "bullet_list_open":
      case "ordered_list_open":
        lists++;
        break;
      case "bullet_list_close":
      case "ordered_list_close":
        lists--;
        break;
      case "list_item_open":
        if (!map) break;
        if (!item) item = { level: lists, line: map[0], markers: new Map(), pieces: [] };
        item.markers.set(map[0], (item.markers.get(map[0]) ?? 0) + 1);
        break;
      case "list_item_close":
        if (item && lists === item.level) {
          units.push(...finishItem(item));
          item = undefined;
        }
        break;
      case "paragraph_open":
        if (map) addLines(map[0], map[1]);
        break;
      case "heading_open":
        if (map) heading(t, tokens[i + 1], map);
        break;
      case "hr":
        if (!item && map) {
          const span = lineSpan(map[0], 0);
          if (span) units.push(makeUnit(text, "break", span.start, [], { end: span.end }));
        }
        break;
      // fence, code_block, html_block, table_*: not steps.
    }
  }
  return { units };

  function heading(t: Token, inline: Token | undefined, map: [number, number]): void {
    const title = inline?.content ?? "";
    if (item) return addLines(map[0], map[1]);
    if (t.markup.startsWith("#")) {
      const span = lineSpan(map[0], 0);
      if (span) units.push(makeUnit(text, "heading", span.start, [span], { title: atxTitle(text.slice(span.start, span.end)) }));
      return;
    }
    // Setext: a line followed by `---` or `===`. Unless it names a problem, solution or candidate,
    // the writer most likely meant a line and a separator (`The answer is 24.` then `---`).
    const underline = map[1] - 1;
    if (headingRole(title)) {
      const pieces = rangeSpans(map[0], underline);
      if (pieces.length > 0) units.push(makeUnit(text, "heading", pieces[0]!.start, pieces, { title, end: lines.lineEnd(underline) }));
      return;
    }
    addLines(map[0], underline);
    const u = lineSpan(underline, 0);
    if (t.markup === "-" && u && isThematicBreak(text.slice(u.start, u.end))) units.push(makeUnit(text, "break", u.start, [], { end: u.end }));
  }

  function rangeSpans(from: number, to: number): Span[] {
    const out: Span[] = [];
    for (let n = from; n < to; n++) {
      const s = lineSpan(n, 0);
      if (s) out.push(s);
    }
    return out;
  }

  function finishItem(it: OpenItem): Unit[] {
    const pieces = it.pieces;
    if (pieces.length === 0) return [];
    // The item starts at its marker: the first non-blank character after any `>` markers.
    let start = lines.lineStart(it.line);
    const e = lines.lineEnd(it.line);
    for (;;) {
      while (start < e && /[ \t\uFEFF]/.test(text[start]!)) start++;
      if (quote > 0 && text[start] === ">") start++;
      else break;
    }
    return itemUnits(text, Math.min(start, pieces[0]!.start), pieces);
  }
}
