import type { Command } from "commander";
import { BUILTIN_TEMPLATES, chatTemplates, TEMPLATE_SETS } from "../../engine/cpmi/templates.js";

export function registerTemplates(program: Command): void {
  program
    .command("templates")
    .description("list the answer-cue templates and template sets")
    .action(() => {
      for (const t of BUILTIN_TEMPLATES) {
        const example = t.head("{problem}") + t.step("{step 1}", 0) + t.cue + t.continuation("{answer}");
        process.stdout.write(`${t.name} (raw)\n  ${t.description}\n  ${JSON.stringify(example)}\n`);
      }
      // Chat templates render through the model's own chat template, so only their parts are shown here;
      // `steplens score --explain-prompt N --model M FILE` prints the whole text for a model.
      for (const t of chatTemplates()) {
        const reply = t.step("{step 1}", 0) + t.cue + t.continuation("{answer}");
        process.stdout.write(`${t.name} (chat)\n  ${t.description}\n  user turn ${JSON.stringify(t.user!("{problem}"))}, reply ${JSON.stringify(reply)}\n`);
      }
      for (const [name, members] of Object.entries(TEMPLATE_SETS)) process.stdout.write(`set ${name}: ${members.join(", ")}\n`);
      process.stdout.write("with --prompt-format chat (or auto on a model with a chat template) the sets default and all stand for the chat set\n");
    });
}
