/**
 * Sampling from tabular MDPs. A `Transitions` batch is struct-of-arrays; `start[k] = 1` marks the
 * first step of a trajectory (segment).
 */

import type { Rng } from "../math/rng.ts";
import type { RealTransitionLog } from "./real-log.ts";
import type { TabularMDP } from "./tabular.ts";

export type { RealTransitionLog } from "./real-log.ts";

export interface Transitions {
  readonly s: Int32Array;
  readonly a: Int32Array;
  readonly s2: Int32Array;
  readonly r: Float64Array;
  /** 1 where a new trajectory starts (s drawn from μ). */
  readonly start: Uint8Array;
  /** γ^t of each step within its trajectory (t = steps since its start). */
  readonly discount: Float64Array;
  readonly length: number;
}

function alloc(n: number) {
  return {
    s: new Int32Array(n),
    a: new Int32Array(n),
    s2: new Int32Array(n),
    r: new Float64Array(n),
    start: new Uint8Array(n),
    discount: new Float64Array(n),
    length: n,
  };
}

type Batch = ReturnType<typeof alloc>;

/** Draw a ~ π(·|s), s' ~ P(·|s,a) and record step k; returns s'. */
function drawStep(
  mdp: TabularMDP,
  pi: Float64Array,
  s: number,
  rng: Rng,
  out: Batch,
  k: number,
  start: boolean,
  disc: number,
): number {
  const { S, A, P, R } = mdp;
  const a = rng.categorical(pi, s * A, A);
  const s2 = rng.categorical(P, (s * A + a) * S, S);
  out.s[k] = s;
  out.a[k] = a;
  out.s2[k] = s2;
  out.r[k] = R[s * A + a];
  out.start[k] = start ? 1 : 0;
  out.discount[k] = disc;
  return s2;
}

/**
 * n trajectories of exactly `horizon` steps each from s₀ ~ μ (the real-world rollouts of Algorithm 1).
 */
export function sampleTrajectories(
  mdp: TabularMDP,
  pi: Float64Array,
  n: number,
  horizon: number,
  rng: Rng,
): Transitions {
  const { gamma, mu } = mdp;
  const out = alloc(n * horizon);
  let k = 0;
  for (let j = 0; j < n; j++) {
    let s = rng.categorical(mu);
    let disc = 1;
    for (let t = 0; t < horizon; t++, k++) {
      s = drawStep(mdp, pi, s, rng, out, k, t === 0, disc);
      disc *= gamma;
    }
  }
  return out;
}

/**
 * One stream of `steps` transitions that restarts from μ with probability 1 − γ after every step.
 * Its state-action frequencies follow the *normalised discounted* density (1 − γ) d(s) π(a|s), and
 * each segment is an unbiased draw of a discounted-return trajectory (geometric horizon), which is
 * what the sampled sensitivity estimators need (DESIGN §4.6: ρ̂ is a discounted density).
 */
export function sampleDiscountedStream(
  mdp: TabularMDP,
  pi: Float64Array,
  steps: number,
  rng: Rng,
): Transitions {
  const { gamma, mu } = mdp;
  const out = alloc(steps);
  let s = rng.categorical(mu);
  let fresh = true;
  let disc = 1;
  for (let k = 0; k < steps; k++) {
    const s2 = drawStep(mdp, pi, s, rng, out, k, fresh, disc);
    if (rng.uniform() < 1 - gamma) {
      s = rng.categorical(mu);
      fresh = true;
      disc = 1;
    } else {
      s = s2;
      fresh = false;
      disc *= gamma;
    }
  }
  return out;
}

/**
 * The "real system" side of a tabular problem: a hidden MDP that can only be sampled, and that counts
 * every transition it hands out. With a log, every transition is committed before the batch is handed
 * out, and a batch the log already holds (in whole or in part) is replayed, then completed.
 */
export class TabularRealSystem {
  private used = 0;
  constructor(
    private readonly mdp: TabularMDP,
    private readonly log?: RealTransitionLog,
  ) {}

  /** Real transitions handed out so far. */
  get transitionsUsed(): number {
    return this.used;
  }

  /** Restore the counter from a checkpoint. */
  set transitionsUsed(n: number) {
    this.used = n;
  }

  /** n trajectories × horizon real steps (batch = the outer iteration, for the log). */
  rollout(pi: Float64Array, n: number, horizon: number, rng: Rng, batch = 0): Transitions {
    if (!this.log) {
      const out = sampleTrajectories(this.mdp, pi, n, horizon, rng);
      this.used += out.length;
      return out;
    }
    const { gamma, mu } = this.mdp;
    const out = alloc(n * horizon);
    const old = this.log.recorded(batch);
    if (old.length > out.length)
      throw new Error(
        `the store holds ${old.length} real transitions for batch ${batch}, expected at most ${out.length}`,
      );
    // Replay: data = [s, a, r, s2, start, discount].
    for (let k = 0; k < old.length; k++) {
      const d = old[k].data;
      out.s[k] = d[0];
      out.a[k] = d[1];
      out.r[k] = d[2];
      out.s2[k] = d[3];
      out.start[k] = d[4];
      out.discount[k] = d[5];
    }
    if (old.length > 0) rng.restore(old[old.length - 1].rng);
    const row = new Float64Array(6);
    let s = 0;
    let disc = 1;
    for (let k = old.length; k < out.length; k++) {
      const t = k % horizon;
      if (t === 0) {
        s = rng.categorical(mu);
        disc = 1;
      } else if (k === old.length) {
        s = out.s2[k - 1];
        disc = out.discount[k - 1] * gamma;
      }
      s = drawStep(this.mdp, pi, s, rng, out, k, t === 0, disc);
      disc *= gamma;
      row[0] = out.s[k];
      row[1] = out.a[k];
      row[2] = out.r[k];
      row[3] = out.s2[k];
      row[4] = out.start[k];
      row[5] = out.discount[k];
      this.log.commit(batch, k, row, rng.state());
    }
    this.used += out.length;
    return out;
  }
}
