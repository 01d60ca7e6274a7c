/**
 * Named control tasks and gaps (what `sim2real envs` lists).
 *
 * Gap syntax: `name` (the gap's default magnitude) or `name:value`, e.g. `mass:2`, `damping:0.05`,
 * `action-scale:0.8`, `latency:1`, `obs-noise:0.01`, `sgft-friction` (= `sgft-friction:1`). A list is
 * comma-separated and applies left to right (the first gap innermost, see gaps.ts):
 * `mass:2,latency:1`. Whitespace around names and values is ignored.
 */
import { InputError } from "../../common/errors.ts";
import { cartpole } from "./cartpole.ts";
import type { ControlEnv } from "./env.ts";
import {
  actionScale,
  applyGaps,
  damping,
  type Gap,
  latency,
  massScale,
  obsNoise,
  sgftFriction,
} from "./gaps.ts";
import { pendulum } from "./pendulum.ts";
import { reacher } from "./reacher.ts";

export interface EnvEntry {
  readonly description: string;
  /** A fresh instance (instances keep scratch buffers: one per worker). */
  readonly make: () => ControlEnv;
}

export const ENVS: Readonly<Record<string, EnvEntry>> = Object.freeze({
  pendulum: {
    description: "Pendulum-v1 swing-up (Gymnasium conventions), torque in [−2, 2], 200 steps",
    make: pendulum,
  },
  cartpole: {
    description: "CartPole-v1 dynamics with a continuous force in [−1, 1]·forceMag, 500 steps",
    make: cartpole,
  },
  reacher: {
    description: "planar two-link arm reaching a random target, torques in [−1, 1]², 50 steps",
    make: reacher,
  },
});

export interface GapEntry {
  readonly description: string;
  /** What the magnitude means. */
  readonly magnitude: string;
  readonly defaultMagnitude: number;
  readonly make: (magnitude: number) => Gap;
}

export const GAPS: Readonly<Record<string, GapEntry>> = Object.freeze({
  mass: {
    description: "every mass of the system multiplied by the magnitude",
    magnitude: "scale factor > 0",
    defaultMagnitude: 2,
    make: massScale,
  },
  damping: {
    description: "unmodelled viscous damping/friction added at every joint (and on the cart)",
    magnitude: "coefficient ≥ 0 (N·m·s/rad; N·s/m on the cart)",
    defaultMagnitude: 0.1,
    make: damping,
  },
  "action-scale": {
    description: "actuator gain: the system receives magnitude × the commanded torque/force",
    magnitude: "gain factor > 0",
    defaultMagnitude: 0.7,
    make: actionScale,
  },
  latency: {
    description: "action latency: each action takes effect that many steps late (zeros at first)",
    magnitude: "integer number of steps ≥ 0",
    defaultMagnitude: 1,
    make: latency,
  },
  "obs-noise": {
    description: "additive Gaussian noise on every observation entry",
    magnitude: "standard deviation σ ≥ 0",
    defaultMagnitude: 0.05,
    make: obsNoise,
  },
  "sgft-friction": {
    description:
      "SGFT paper's pendulum friction e(s₁,s₂) = −c·[(1 + sin²s₁)s₂ + ½tanh(s₂/0.1)] added to θ̈ (pendulum only)",
    magnitude: "coefficient c ≥ 0 (rad/s² per rad/s)",
    defaultMagnitude: 1,
    make: sgftFriction,
  },
});

export const GAP_SYNTAX =
  "name or name:value (e.g. mass:2, latency:1, obs-noise:0.01); a comma-separated list applies left to right";

/** A fresh env by task name, optionally with gaps (a gap list string or Gap functions). */
export function makeEnv(name: string, gaps: string | readonly Gap[] = []): ControlEnv {
  const entry = Object.hasOwn(ENVS, name) ? ENVS[name] : undefined;
  if (!entry) throw new InputError(`unknown env '${name}'; known: ${Object.keys(ENVS).join(", ")}`, "env");
  const env = entry.make();
  return applyGaps(env, typeof gaps === "string" ? parseGaps(gaps) : gaps);
}

/** One gap from `name` or `name:value`; `field` names the input in errors. */
export function parseGap(text: string, field = "gap"): Gap {
  const t = text.trim();
  const colon = t.indexOf(":");
  const name = (colon < 0 ? t : t.slice(0, colon)).trim();
  const entry = Object.hasOwn(GAPS, name) ? GAPS[name] : undefined;
  if (!entry)
    throw new InputError(
      `${field}: unknown gap '${name}' in '${text}'; known: ${Object.keys(GAPS).join(", ")} (syntax: ${GAP_SYNTAX})`,
      field,
    );
  let value = entry.defaultMagnitude;
  if (colon >= 0) {
    const raw = t.slice(colon + 1).trim();
    value = raw === "" ? Number.NaN : Number(raw);
    if (!Number.isFinite(value))
      throw new InputError(`${field}: gap '${name}' needs a number after ':', got '${raw}'`, field);
  }
  try {
    return entry.make(value);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${field}: ${e.message} (in '${text}')`, field);
    throw e;
  }
}

/** A comma-separated gap list (empty string → no gaps); errors name the element, e.g. `gaps[1]`. */
export function parseGaps(text: string, field = "gaps"): Gap[] {
  if (text.trim() === "") return [];
  return text.split(",").map((part, i) => parseGap(part, `${field}[${i}]`));
}
