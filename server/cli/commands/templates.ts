import type { Command } from "commander";
import { BUILTIN_TEMPLATES, TEMPLATE_SETS } from "../../engine/cpmi/templates.js";

export function registerTemplates(program: Command): void {
  program
    .command("templates")
    .description("list the answer-cue templates and template sets")
    .action(() => {
      for (const t of BUILTIN_TEMPLATES) {
        const example = t.head("{problem}") + t.step("{step 1}", 0) + t.cue + t.continuation("{answer}");
        process.stdout.write(`${t.name}\n  ${t.description}\n  ${JSON.stringify(example)}\n`);
      }
      for (const [name, members] of Object.entries(TEMPLATE_SETS)) process.stdout.write(`set ${name}: ${members.join(", ")}\n`);
    });
}
