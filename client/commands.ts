// Command ids in one vscode-free place, so the manifest test can compare them with package.json and
// the extension's handler table (typed Record<CommandId, …>) cannot forget one. The ones the
// server's code lenses and code actions name come from protocol, so both sides agree.
// (protocol's IgnoreStepCommand is the server's own: vscode-languageclient registers it.)

import { PickBestOfNCommand, ScoreFileCommand, SelectModelCommand, ShowProblemCommand, ShowStepReportCommand } from "../protocol/index.js";

export const COMMANDS = {
  scoreFile: ScoreFileCommand,
  clearScores: "steplens.clearScores",
  selectModel: SelectModelCommand,
  showProblem: ShowProblemCommand,
  pickBestOfN: PickBestOfNCommand,
  labelDataset: "steplens.labelDataset",
  showStepReport: ShowStepReportCommand,
  restartServer: "steplens.restartServer",
  showOutput: "steplens.showOutput",
  setRemoteToken: "steplens.setRemoteToken",
  clearRemoteToken: "steplens.clearRemoteToken",
  retryRemote: "steplens.retryRemote",
} as const;

export type CommandKey = keyof typeof COMMANDS;
export type CommandId = (typeof COMMANDS)[CommandKey];
