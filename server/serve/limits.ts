// What one request may ask of `steplens serve`. A single request should never be able to hold the
// model for hours or the process's memory hostage; each limit has a flag and appears in /v1/model.

export interface ServeLimits {
  /** Request body, bytes (413 above). */
  maxBodyBytes: number;
  /** Steps of one solution (413 above). */
  maxSteps: number;
  /** Characters of one solution text, step list, prefix or candidate (413 above). */
  maxChars: number;
  /** Jobs waiting for a lane (429 above). */
  maxQueue: number;
  /** Records of one /v1/label batch (413 above). */
  maxLabelRecords: number;
  /** Candidates of one /v1/bon request. */
  maxCandidates: number;
  /** Continuations of one /v1/backend/continuations request, samples of one /v1/backend/sample. */
  maxBatch: number;
  /** Tokens one sample may generate. */
  maxSampleTokens: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  maxBodyBytes: 1024 * 1024,
  maxSteps: 200,
  maxChars: 100_000,
  maxQueue: 32,
  maxLabelRecords: 1000,
  maxCandidates: 64,
  maxBatch: 256,
  maxSampleTokens: 1024,
};
