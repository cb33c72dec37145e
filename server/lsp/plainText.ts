// Markdown as plain text, for clients that take only plain text (hover.contentFormat without
// "markdown", window/showMessage): emphasis and code marks dropped, tables as aligned columns.
// markdown-it parses; only the rendering to text is ours.

import MarkdownIt from "markdown-it";
import type { Token } from "markdown-it";

const md = new MarkdownIt();

function inlineText(token: Token): string {
  return (token.children ?? [])
    .map((c) => {
      if (c.type === "text" || c.type === "code_inline") return c.content;
      if (c.type === "softbreak" || c.type === "hardbreak") return "\n";
      return "";
    })
    .join("");
}

function alignTable(rows: string[][], rightAligned: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd());
}

export function markdownToPlainText(markdown: string): string {
  const tokens = md.parse(markdown, {});
  const blocks: string[] = [];
  let rows: string[][] | undefined;
  let row: string[] = [];
  let rightAligned: boolean[] = [];
  for (const t of tokens) {
    if (t.type === "table_open") {
      rows = [];
      rightAligned = [];
    } else if (t.type === "tr_open") row = [];
    else if (t.type === "th_open" || t.type === "td_open") {
      if (t.type === "th_open") rightAligned.push(String(t.attrGet("style") ?? "").includes("right"));
    } else if (t.type === "inline" && rows) row.push(inlineText(t));
    else if (t.type === "tr_close") rows?.push(row);
    else if (t.type === "table_close") {
      blocks.push(alignTable(rows ?? [], rightAligned).join("\n"));
      rows = undefined;
    } else if (t.type === "inline") blocks.push(inlineText(t));
    else if (t.type === "fence" || t.type === "code_block") blocks.push(t.content.replace(/\n$/, ""));
  }
  return blocks.join("\n\n");
}
