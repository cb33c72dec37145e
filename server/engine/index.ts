// The engine's public surface: what the CLI, the language server and the tests import.

export * from "./parse/types.js";
export { parseDocument, stripStepPrefix, cleanStepText, parseAnswerLine, normalizeAnswer } from "./parse/index.js";
export type { Backend, BackendSession, BackendInfo, ContinuationScore, SampleOptions, TokenCounters } from "./backend/types.js";
export { BackendError } from "./backend/types.js";
export { LlamaCppBackend, type LlamaCppOptions, type GpuSetting } from "./backend/llamaCpp.js";
export { defaultModelPath } from "./backend/modelPath.js";
export { CpmiScorer, DEFAULT_CPMI, type CpmiConfig, type ScoreRequest, type SolutionScore, type StepScore, type TemplateTerms, type GoldAnswer } from "./cpmi/scorer.js";
export { BUILTIN_TEMPLATES, TEMPLATE_SETS, resolveTemplates, UnknownTemplateError, type AnswerTemplate } from "./cpmi/templates.js";
export type { Negative } from "./cpmi/negatives.js";
export { calibrate, softLabel, NEUTRAL_CALIBRATION, type Calibration } from "./cpmi/softLabels.js";
export { aggregate, predictFirstError, AGGREGATIONS, type Aggregation } from "./cpmi/aggregate.js";
export { scoreDocument, verdictOf, type DocumentScore, type ScoredSolution, type ScoredStep, type Verdict } from "./scoreDocument.js";
export { createEngine, cpmiConfigFrom, OptionError, type Engine, type EngineOptions } from "./engineOptions.js";
export { MonteCarloScorer, DEFAULT_MC, type McConfig, type McRequest, type McScore, type McStep } from "./mc/monteCarlo.js";
export { cpmiMerge, randMerge, seededRandom, type MergeInput } from "./merge/merge.js";
export { STEP_METHODS, isStepMethod, scoreStepsWith, type StepMethod, type StepMethodScorers, type StepMethodRequest } from "./methods/stepMethods.js";
export { BestOfN, BON_VARIANTS, DEFAULT_BON_VARIANT, bonVariant, bonBaselines, parseCandidates, type BonInputRecord, type BonResult, type BonVariant, type BonOptions } from "./bon/bestOfN.js";
export { parseDocumentSegmented, entropyCuts, cutsFrom, stepsAt, DEFAULT_SEGMENT, type Segmentation, type SegmentSignal, type EntropySegmentOptions, type SegmentedParseOptions } from "./segment/entropySegment.js";
export type { TokenEntropies } from "./backend/types.js";
export { openBackend, BACKEND_KINDS, isBackendKind, type BackendKind, type BackendSpec } from "./backend/create.js";
export { ALL_STEP_METHODS, PAIR_METHODS, isPairMethod } from "./methods/stepMethods.js";
export { ImplicitPrmScorer, DEFAULT_BETA, TOP_TOKENS, implicitCalibration, lazyReference, type ImplicitConfig, type ImplicitScore, type ImplicitStepScore, type TokenTerm } from "./implicit/implicitPrm.js";
export { writtenFromDocument, writtenFromLines, writtenFromRecord, defaultPrompt, type WrittenSolution, type TextSpan } from "./implicit/written.js";
export { implicitSolutionScore } from "./implicit/asSolutionScore.js";
export { combineStepScores, combineWithImplicit } from "./implicit/combined.js";
export { checkPair } from "./implicit/pair.js";
