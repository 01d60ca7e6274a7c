/**
 * Loader for tabular problem files (JSON): the real MDP, the tabular simulator's starting parameters,
 * the discount and the entropy temperature. Every problem in a file is reported as an `InputError`
 * that names the offending field (`real.transitions[1][0]`) and says what is wrong.
 *
 * File format (S states, A actions; S and A are inferred from `real.transitions`):
 * ```
 * { "gamma": number in [0, 1), "temperature": number > 0, "initialDistribution": number[S],
 *   "real": { "transitions": number[S][A][S], "rewards": number[S][A] },
 *   "simulator": { "transitionLogits": number[S][A][S], "rewards": number[S][A] } }
 * ```
 * Extra top-level keys (e.g. "name", "description") are allowed and ignored.
 */
import { z } from "zod";
import {
  addShapeIssue,
  arrayError,
  type Ctx,
  describeValue,
  fmt,
  isFiniteNumber,
  isRecord,
  numberError,
  type Path,
  plural,
  problemFileError,
  type RawIssue,
  readProblemJson,
} from "./problem-file.ts";
import { type TabularProblem, thetaSize } from "./tabular.ts";

/** Probability vectors must sum to 1 within this absolute tolerance. */
export const PROBABILITY_TOLERANCE = 1e-9;

// ---------------------------------------------------------------------------------------------------------
// Messages

const objectError = (iss: RawIssue): string =>
  iss.input === undefined ? "required" : `expected an object, got ${describeValue(iss.input)}`;
const rootError = (iss: RawIssue): string =>
  `expected a JSON object with gamma, temperature, initialDistribution, real and simulator, got ${describeValue(iss.input)}`;

// ---------------------------------------------------------------------------------------------------------
// Schema

const finiteNumber = () => z.number({ error: numberError });
const probability = () =>
  finiteNumber().superRefine((v, ctx) => {
    if (v < 0) ctx.addIssue({ code: "custom", message: `must be >= 0, got ${v}`, continue: true });
  });
const array = <T extends z.ZodType>(element: T) => z.array(element, { error: arrayError });

/**
 * Checks that `value` (when it is an array: wrong types are reported by the base schema) has length `n`.
 * Returns the array when it has the right length, `undefined` otherwise.
 */
const checkLength = (
  ctx: Ctx,
  value: unknown,
  path: Path,
  n: number,
  unit: readonly [string, string],
  per: string,
): unknown[] | undefined => {
  if (!Array.isArray(value)) return undefined;
  if (value.length !== n) {
    addShapeIssue(ctx, path, `expected ${plural(n, unit[0], unit[1])} (${per}), got ${value.length}`);
    return undefined;
  }
  return value;
};

const ENTRY = ["entry", "entries"] as const;
/** S is inferred from real.transitions: say so where another field disagrees with it. */
const PER_STATE = "one per state, as in real.transitions";
const ROW = ["row", "rows"] as const;

/** Adds a sum issue when `row` is all finite numbers and does not sum to 1. */
const checkSumsToOne = (ctx: Ctx, row: unknown[], path: Path, what: string): void => {
  if (!row.every(isFiniteNumber)) return;
  let sum = 0;
  for (const x of row) sum += x;
  if (Math.abs(sum - 1) > PROBABILITY_TOLERANCE) {
    ctx.addIssue({
      code: "custom",
      path,
      message: `${what} to ${fmt(sum)}, expected 1 (tolerance ${PROBABILITY_TOLERANCE})`,
      continue: true,
    });
  }
};

/** Checks an S×A×S array (transitions or logits); `probabilities` adds the row-sum check. */
const checkSAS = (
  ctx: Ctx,
  value: unknown,
  path: Path,
  S: number,
  A: number,
  perState: string,
  probabilities: boolean,
) => {
  const byState = checkLength(ctx, value, path, S, ENTRY, perState);
  if (!byState) return;
  byState.forEach((actions, s) => {
    const perAction = checkLength(ctx, actions, [...path, s], A, ROW, "one per action");
    if (!perAction) return;
    perAction.forEach((row, a) => {
      const p = [...path, s, a];
      const next = checkLength(ctx, row, p, S, ENTRY, "one per next state");
      if (next && probabilities) checkSumsToOne(ctx, next, p, "row sums");
    });
  });
};

/** Checks an S×A array (rewards). */
const checkSA = (ctx: Ctx, value: unknown, path: Path, S: number, A: number) => {
  const byState = checkLength(ctx, value, path, S, ROW, PER_STATE);
  if (!byState) return;
  byState.forEach((row, s) => {
    checkLength(ctx, row, [...path, s], A, ENTRY, "one per action");
  });
};

/** Shape and row-sum checks; runs even when some fields had type errors, so all problems are reported. */
const checkShapes = (raw: unknown, ctx: Ctx): void => {
  if (!isRecord(raw)) return;
  const real = isRecord(raw.real) ? raw.real : undefined;
  const sim = isRecord(raw.simulator) ? raw.simulator : undefined;
  const transitions = real?.transitions;
  if (!Array.isArray(transitions)) return; // reported by the base schema; S is unknown
  const S = transitions.length;
  if (S === 0) {
    addShapeIssue(ctx, ["real", "transitions"], "must have at least one state, got an empty array");
    return;
  }
  const first = transitions[0];
  if (!Array.isArray(first)) return;
  const A = first.length;
  if (A === 0) {
    addShapeIssue(ctx, ["real", "transitions", 0], "must have at least one action, got an empty array");
    return;
  }
  const mu = checkLength(ctx, raw.initialDistribution, ["initialDistribution"], S, ENTRY, PER_STATE);
  if (mu) checkSumsToOne(ctx, mu, ["initialDistribution"], "sums");
  checkSAS(ctx, transitions, ["real", "transitions"], S, A, "one per state", true);
  checkSA(ctx, real?.rewards, ["real", "rewards"], S, A);
  checkSAS(ctx, sim?.transitionLogits, ["simulator", "transitionLogits"], S, A, PER_STATE, false);
  checkSA(ctx, sim?.rewards, ["simulator", "rewards"], S, A);
};

/** zod schema of the raw problem file (shapes and probability rows are checked in `superRefine`). */
export const TabularProblemFileSchema = z
  .object(
    {
      gamma: finiteNumber()
        .superRefine((v, ctx) => {
          if (!(v >= 0 && v < 1)) {
            ctx.addIssue({ code: "custom", message: `must be in [0, 1), got ${v}`, continue: true });
          }
        })
        .describe("Discount factor γ of the real MDP and the simulator, in [0, 1)."),
      temperature: finiteNumber()
        .superRefine((v, ctx) => {
          if (!(v > 0)) ctx.addIssue({ code: "custom", message: `must be > 0, got ${v}`, continue: true });
        })
        .describe("Entropy temperature τ > 0 of the in-simulator (and soft real) objective."),
      initialDistribution: array(probability()).describe(
        "Initial state distribution μ, length S: entries >= 0 summing to 1 (tolerance 1e-9).",
      ),
      real: z
        .object(
          {
            transitions: array(array(array(probability()))).describe(
              "Real transition probabilities P[s][a][s'], shape S×A×S; defines S (its length) and A " +
                "(length of its first row). Each row P[s][a] is >= 0 and sums to 1 (tolerance 1e-9).",
            ),
            rewards: array(array(finiteNumber())).describe("Real rewards r[s][a], shape S×A, finite."),
          },
          { error: objectError },
        )
        .describe("The real MDP."),
      simulator: z
        .object(
          {
            transitionLogits: array(array(array(finiteNumber()))).describe(
              "Starting simulator logits θ^f[s][a][s'], shape S×A×S, any finite reals: " +
                "f_θ(s'|s,a) = softmax(θ^f[s][a])[s'].",
            ),
            rewards: array(array(finiteNumber())).describe(
              "Starting simulator rewards θ^R[s][a], shape S×A, finite.",
            ),
          },
          { error: objectError },
        )
        .describe("Starting parameters θ0 of the tabular simulator."),
    },
    { error: rootError },
  )
  .superRefine(checkShapes, { when: (payload) => isRecord(payload.value) })
  .describe("A tabular sim-to-real problem file. Extra top-level keys (name, description, ...) are ignored.");

/** The raw file contents, as validated by `TabularProblemFileSchema`. */
export type TabularProblemFile = z.infer<typeof TabularProblemFileSchema>;

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Document order of the file's keys, to list problems in the order a reader meets them. */
const KEY_ORDER: Record<string, number> = {
  gamma: 0,
  temperature: 1,
  initialDistribution: 2,
  real: 3,
  simulator: 4,
  transitions: 0,
  transitionLogits: 0,
  rewards: 1,
};

/**
 * Validates a parsed problem file and converts it to the flat layout of `./tabular.ts`.
 * Throws `InputError` listing every problem found (field path and what is wrong), prefixed with `source`.
 */
export function parseTabularProblem(raw: unknown, source?: string): TabularProblem {
  const result = TabularProblemFileSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw problemFileError(result.error.issues, source, KEY_ORDER);
  const f = result.data;
  const S = f.real.transitions.length;
  const A = f.real.transitions[0].length;
  const mu = Float64Array.from(f.initialDistribution);
  const P = new Float64Array(S * A * S);
  const R = new Float64Array(S * A);
  const theta0 = new Float64Array(thetaSize(S, A));
  const logitsSize = S * A * S;
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      const sa = s * A + a;
      R[sa] = f.real.rewards[s][a];
      theta0[logitsSize + sa] = f.simulator.rewards[s][a];
      for (let t = 0; t < S; t++) {
        P[sa * S + t] = f.real.transitions[s][a][t];
        theta0[sa * S + t] = f.simulator.transitionLogits[s][a][t];
      }
    }
  }
  return {
    S,
    A,
    gamma: f.gamma,
    temperature: f.temperature,
    mu,
    real: { S, A, gamma: f.gamma, mu, P, R },
    theta0,
  };
}

/** Reads, parses and validates a problem file. Every failure is an `InputError` naming the file. */
export function loadTabularProblem(path: string): TabularProblem {
  return parseTabularProblem(readProblemJson(path), path);
}

/** The inverse of `parseTabularProblem`: the problem as nested arrays in the file format. */
export function problemToJSON(p: TabularProblem): TabularProblemFile {
  const { S, A } = p;
  const logitsSize = S * A * S;
  const sas = (flat: Float64Array) =>
    Array.from({ length: S }, (_, s) =>
      Array.from({ length: A }, (_, a) => Array.from(flat.subarray((s * A + a) * S, (s * A + a + 1) * S))),
    );
  const sa = (flat: Float64Array) =>
    Array.from({ length: S }, (_, s) => Array.from(flat.subarray(s * A, (s + 1) * A)));
  return {
    gamma: p.gamma,
    temperature: p.temperature,
    initialDistribution: Array.from(p.mu),
    real: { transitions: sas(p.real.P), rewards: sa(p.real.R) },
    simulator: {
      transitionLogits: sas(p.theta0.subarray(0, logitsSize)),
      rewards: sa(p.theta0.subarray(logitsSize)),
    },
  };
}
