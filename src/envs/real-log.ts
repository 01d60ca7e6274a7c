/** The durable log of real transitions that every real system writes through (the run store implements it). */

/**
 * Where real transitions go to be made durable, and come back from after a crash. A batch is one call
 * of `rollout` (one outer iteration); `data` is the transition as numbers, `rng` the real generator's
 * state right after it, so a replayed batch leaves the generator exactly where collecting it did.
 */
export interface RealTransitionLog {
  /** Transitions already recorded for `batch`, in order: replayed instead of collected again. */
  recorded(batch: number): { data: Float64Array; rng: number[] }[];
  /** Make one freshly collected transition durable; it is used only after this returns. */
  commit(batch: number, idx: number, data: Float64Array, rng: readonly number[]): void;
}
