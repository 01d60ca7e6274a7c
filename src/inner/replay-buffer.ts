/**
 * A fixed-capacity ring buffer of transitions (s, a, r, s′, terminated) for off-policy learners (SAC,
 * Dyna-style SGFT). Float64 throughout, rows stored contiguously (row i of obs at i·obsSize). When full, a
 * new transition overwrites the oldest one. Sampling is uniform over the stored rows, with replacement
 * (as in Stable-Baselines3), drawn from the generator passed in: the same generator state gives the same
 * indices.
 *
 * `terminated` is the bootstrap mask: 1 when the episode ended inside the task (the target is r alone),
 * 0 otherwise, including time-limit truncations, whose s′ must then be the true final observation (VecEnv's
 * `finalObs`), not the observation after the auto-reset.
 */
import type { Rng } from "../math/rng.ts";

/** A sampled mini-batch (row-major, `size` rows). */
export interface TransitionBatch {
  size: number;
  obs: Float64Array;
  actions: Float64Array;
  rewards: Float64Array;
  nextObs: Float64Array;
  terminated: Float64Array;
}

/** Empty batch buffers for `size` rows. */
export function allocBatch(size: number, obsSize: number, actionSize: number): TransitionBatch {
  return {
    size,
    obs: new Float64Array(size * obsSize),
    actions: new Float64Array(size * actionSize),
    rewards: new Float64Array(size),
    nextObs: new Float64Array(size * obsSize),
    terminated: new Float64Array(size),
  };
}

export class ReplayBuffer {
  readonly capacity: number;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly obs: Float64Array;
  readonly actions: Float64Array;
  readonly rewards: Float64Array;
  readonly nextObs: Float64Array;
  readonly terminated: Float64Array;
  /** Row the next transition goes to. */
  private pos = 0;
  private count = 0;
  /** Transitions added since creation (≥ size once the buffer wrapped). */
  private added = 0;

  constructor(capacity: number, obsSize: number, actionSize: number) {
    for (const [name, v] of [
      ["capacity", capacity],
      ["obsSize", obsSize],
      ["actionSize", actionSize],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`ReplayBuffer ${name} must be an integer ≥ 1, got ${v}`);
    this.capacity = capacity;
    this.obsSize = obsSize;
    this.actionSize = actionSize;
    this.obs = new Float64Array(capacity * obsSize);
    this.actions = new Float64Array(capacity * actionSize);
    this.rewards = new Float64Array(capacity);
    this.nextObs = new Float64Array(capacity * obsSize);
    this.terminated = new Float64Array(capacity);
  }

  /** Number of stored transitions (≤ capacity). */
  get size(): number {
    return this.count;
  }

  /** Row index the next `add` writes to. */
  get position(): number {
    return this.pos;
  }

  /** Total transitions ever added. */
  get totalAdded(): number {
    return this.added;
  }

  /**
   * Adds the n transitions of one vectorised step: row i is (obs_i, actions_i, r_i, s′_i, terminated_i)
   * with s′ the observation the step reached — `finalObs` where the episode ended (time limits included),
   * not the next episode's first observation.
   */
  addStep(
    obs: ArrayLike<number>,
    actions: ArrayLike<number>,
    step: {
      readonly reward: ArrayLike<number>;
      readonly terminated: ArrayLike<number>;
      readonly truncated: ArrayLike<number>;
      readonly obs: ArrayLike<number>;
      readonly finalObs: ArrayLike<number>;
    },
  ): void {
    for (let i = 0; i < step.reward.length; i++) {
      const ended = step.terminated[i] === 1 || step.truncated[i] === 1;
      this.add(obs, actions, step.reward[i], ended ? step.finalObs : step.obs, step.terminated[i] === 1, i);
    }
  }

  /**
   * Adds transition `row` of the given row-major arrays (default 0: single-transition arrays). Returns the
   * buffer row it was written to.
   */
  add(
    obs: ArrayLike<number>,
    action: ArrayLike<number>,
    reward: number,
    nextObs: ArrayLike<number>,
    terminated: boolean | number,
    row = 0,
  ): number {
    const dS = this.obsSize;
    const dA = this.actionSize;
    if (obs.length < (row + 1) * dS || nextObs.length < (row + 1) * dS || action.length < (row + 1) * dA)
      throw new RangeError(`ReplayBuffer.add: row ${row} is outside the given arrays`);
    const p = this.pos;
    for (let j = 0; j < dS; j++) {
      this.obs[p * dS + j] = obs[row * dS + j];
      this.nextObs[p * dS + j] = nextObs[row * dS + j];
    }
    for (let j = 0; j < dA; j++) this.actions[p * dA + j] = action[row * dA + j];
    this.rewards[p] = reward;
    this.terminated[p] = terminated ? 1 : 0;
    this.pos = (p + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    this.added++;
    return p;
  }

  /** Copies stored row `index` into row `r` of `out`. */
  copyRow(index: number, out: TransitionBatch, r: number): void {
    const dS = this.obsSize;
    const dA = this.actionSize;
    out.obs.set(this.obs.subarray(index * dS, (index + 1) * dS), r * dS);
    out.nextObs.set(this.nextObs.subarray(index * dS, (index + 1) * dS), r * dS);
    out.actions.set(this.actions.subarray(index * dA, (index + 1) * dA), r * dA);
    out.rewards[r] = this.rewards[index];
    out.terminated[r] = this.terminated[index];
  }

  /**
   * Uniform sample with replacement of out.size rows (or `size` rows into a fresh batch). One
   * rng.uniform() per row, so the same generator state gives the same batch.
   */
  sample(rng: Rng, size: number, out?: TransitionBatch): TransitionBatch {
    if (this.count === 0) throw new RangeError("ReplayBuffer.sample: the buffer is empty");
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`sample size must be an integer ≥ 1, got ${size}`);
    const batch = out ?? allocBatch(size, this.obsSize, this.actionSize);
    if (batch.obs.length < size * this.obsSize || batch.actions.length < size * this.actionSize)
      throw new RangeError(`sample: the output batch holds fewer than ${size} rows`);
    batch.size = size;
    for (let r = 0; r < size; r++) {
      const index = Math.floor(rng.uniform() * this.count);
      this.copyRow(index, batch, r);
    }
    return batch;
  }

  /** Forgets every transition (keeps the storage). */
  clear(): void {
    this.pos = 0;
    this.count = 0;
    this.added = 0;
  }
}
