/**
 * Outer-level ascent steps shared by the bi-level loops: plain stochastic gradient ascent (the paper's
 * (9a)) or Adam on the ascent direction, with the Robbins–Monro schedule α_t = α / (1 + t/T).
 */
import { z } from "zod";

export const AscentSchema = {
  stepSize: z.number().positive().default(0.1).describe("Outer step size α (learning rate of the optimiser)"),
  stepDecay: z
    .number()
    .nonnegative()
    .default(0)
    .describe(
      "Step-size schedule α_t = α / (1 + t/stepDecay) (Robbins–Monro, for noisy gradients); 0 keeps α constant",
    ),
  optimizer: z
    .enum(["sga", "adam", "adam-norm"])
    .default("sga")
    .describe(
      "Outer optimiser: sga (plain gradient ascent θ ← θ + α g, as in the paper), adam (Adam ascent), or adam-norm (Adam with one second moment for the whole vector: keeps the averaged gradient's direction, step length about α)",
    ),
};

/** Everything an ascent carries between steps (Adam's moments and step count), for checkpoints. */
export interface AscentState {
  t: number;
  m: Float64Array;
  v: Float64Array;
  vs: number;
}

/** θ ← θ + update(g, it) in place; `state()`/`restore()` checkpoint the optimiser exactly. */
export type AscentStep = ((g: Float64Array, it: number) => void) & {
  state(): AscentState;
  restore(s: AscentState): void;
};

/** θ ← θ + update(g) in place: plain gradient ascent or Adam (β = 0.9, 0.999, ε = 1e-8). `it` is the
 * 0-based outer iteration, used by the step schedule. */
export function makeAscent(
  kind: "sga" | "adam" | "adam-norm",
  lr0: number,
  decay: number,
  theta: Float64Array,
): AscentStep {
  const rate = (it: number) => (decay > 0 ? lr0 / (1 + it / decay) : lr0);
  const m = new Float64Array(theta.length);
  const v = new Float64Array(theta.length);
  let t = 0;
  // adam-norm: per-coordinate Adam moves every coordinate by about α whatever its share of the gradient (a
  // coordinate with a tiny gradient still jumps); one scalar second moment E‖g‖² keeps the direction.
  let vs = 0;
  const update =
    kind === "sga"
      ? (g: Float64Array, it: number) => {
          const lr = rate(it);
          for (let i = 0; i < theta.length; i++) theta[i] += lr * g[i];
        }
      : kind === "adam-norm"
        ? (g: Float64Array, it: number) => {
            const lr = rate(it);
            t++;
            const c1 = 1 - 0.9 ** t;
            const c2 = 1 - 0.999 ** t;
            let g2 = 0;
            for (let i = 0; i < theta.length; i++) {
              m[i] = 0.9 * m[i] + 0.1 * g[i];
              g2 += g[i] * g[i];
            }
            vs = 0.999 * vs + 0.001 * g2;
            const denom = Math.sqrt(vs / c2) + 1e-8;
            for (let i = 0; i < theta.length; i++) theta[i] += (lr * (m[i] / c1)) / denom;
          }
        : (g: Float64Array, it: number) => {
            const lr = rate(it);
            t++;
            const c1 = 1 - 0.9 ** t;
            const c2 = 1 - 0.999 ** t;
            for (let i = 0; i < theta.length; i++) {
              m[i] = 0.9 * m[i] + 0.1 * g[i];
              v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
              theta[i] += (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + 1e-8);
            }
          };
  return Object.assign(update, {
    state: (): AscentState => ({ t, m: Float64Array.from(m), v: Float64Array.from(v), vs }),
    restore: (s: AscentState): void => {
      if (s.m.length !== m.length || s.v.length !== v.length)
        throw new RangeError(`ascent state for ${s.m.length} parameters, expected ${m.length}`);
      t = s.t;
      m.set(s.m);
      v.set(s.v);
      vs = s.vs;
    },
  });
}

/** θ ← max(θ, lower) entry by entry, in place (no bound where `lower` is absent). The outer methods' one
 * projection onto the parameter box. */
export function projectLower(theta: Float64Array, lower?: ArrayLike<number>): void {
  if (lower) for (let i = 0; i < theta.length; i++) if (theta[i] < lower[i]) theta[i] = lower[i];
}
