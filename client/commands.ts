// Command ids in one vscode-free place, so the manifest test can compare them with package.json and
// the extension's handler table (typed Record<CommandId, …>) cannot forget one.

export const COMMANDS = {
  scoreFile: "steplens.scoreFile",
  clearScores: "steplens.clearScores",
  selectModel: "steplens.selectModel",
  pickBestOfN: "steplens.pickBestOfN",
  labelDataset: "steplens.labelDataset",
  showStepReport: "steplens.showStepReport",
  restartServer: "steplens.restartServer",
  showOutput: "steplens.showOutput",
} as const;

export type CommandKey = keyof typeof COMMANDS;
export type CommandId = (typeof COMMANDS)[CommandKey];
