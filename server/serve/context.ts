import type { Engine } from "../engine/engineOptions.js";
import type { BestOfN } from "../engine/bon/bestOfN.js";
import type { JobQueue } from "./jobQueue.js";
import type { ServeLimits } from "./limits.js";

/** What every handler needs: the one engine, the queue in front of it, the limits. */
export interface ServeContext {
  engine: Engine;
  bon: BestOfN;
  queue: JobQueue;
  limits: ServeLimits;
}
