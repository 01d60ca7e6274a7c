/**
 * Loader for linear-Gaussian problem files (JSON): the real system, the simulator's starting parameters
 * θ₀, the reward and noise model, and the lower bounds of θ. Every problem in a file is reported as an
 * `InputError` that names the offending field (`simulator.B`, `noiseCovariance`) and says what is wrong.
 *
 * File format (n states, m actions; n is the number of rows of `real.A`, m the number of columns of
 * `real.B`; every matrix is an array of rows):
 * ```
 * { "kind": "linear-gaussian",
 *   "gamma": number in [0, 1), "lambda": number > 0, "horizon": integer > 0 (optional, default 400),
 *   "noiseCovariance": n×n, "policyCovariance": m×m, "initialCovariance": n×n   (symmetric positive definite),
 *   "real":      { "A": n×n, "B": n×m, "Q": n×n, "R": m×m },
 *   "simulator": { "A": n×n, "B": n×m, "Q": n×n, "R": m×m },
 *   "lowerBounds": { "A": number, "B": number, "Q": number >= 0, "R": number > 0 }   (optional) }
 * ```
 * Dynamics s⁺ = A s + B a + ε, ε ~ N(0, noiseCovariance); reward exp(−λ (sᵀQ s + aᵀR a)); policy
 * a ~ N(−K s, policyCovariance); s₀ ~ N(0, initialCovariance). Q must be symmetric positive semi-definite
 * and R symmetric positive definite. θ = (vec A, vec B row-major, diag Q, diag R) of the simulator; the
 * off-diagonals of the simulator's Q and R stay fixed. `lowerBounds` gives one bound per θ block, applied to
 * every entry of A and B and to the diagonals of Q and R; omitted blocks: A and B unbounded, Q and R ≥ 1e-3.
 * The simulator's θ₀ must satisfy the bounds. Extra top-level keys (e.g. "name", "description") are ignored.
 *
 * A file is a linear-Gaussian problem when it has a `kind` key; without one it is a tabular problem
 * (`./tabular-problem.ts`), so existing tabular files keep loading unchanged.
 */
import { z } from "zod";
import {
  cholesky,
  type LinearGaussianParams,
  type LinearGaussianProblem,
  thetaBlocks,
  thetaSize,
} from "./linear-gaussian.ts";
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
import type { TabularProblem } from "./tabular.ts";
import { parseTabularProblem } from "./tabular-problem.ts";

export const LINEAR_GAUSSIAN_KIND = "linear-gaussian";
/** Horizon of the expected return when the file gives none (the paper's known values use 400). */
export const DEFAULT_HORIZON = 400;
/** Lower bound of the diagonals of Q and R when `lowerBounds` does not give one. */
export const DEFAULT_QR_LOWER_BOUND = 1e-3;
/** Symmetry tolerance, relative to the largest |entry| of the matrix. */
export const SYMMETRY_TOLERANCE = 1e-9;

// ---------------------------------------------------------------------------------------------------------
// Messages (same wording as the tabular loader)

const matrixError = (iss: RawIssue): string =>
  iss.input === undefined
    ? "required"
    : `expected a matrix (an array of rows), got ${describeValue(iss.input)}`;
/** Object errors, including unknown keys of the strict nested objects (a typo must not be ignored). */
const objectError =
  (keys: string) =>
  (iss: RawIssue & { readonly keys?: readonly string[] }): string => {
    if (iss.code === "unrecognized_keys")
      return `unknown ${iss.keys && iss.keys.length > 1 ? "keys" : "key"} ${(iss.keys ?? []).map((k) => JSON.stringify(k)).join(", ")} (expected ${keys})`;
    return iss.input === undefined ? "required" : `expected an object, got ${describeValue(iss.input)}`;
  };
const rootError = (iss: RawIssue): string =>
  `expected a JSON object with kind, gamma, lambda, noiseCovariance, policyCovariance, initialCovariance, real and simulator, got ${describeValue(iss.input)}`;
const kindError = (iss: RawIssue): string =>
  iss.input === undefined
    ? `required ("${LINEAR_GAUSSIAN_KIND}")`
    : `must be "${LINEAR_GAUSSIAN_KIND}" (a tabular problem file has no kind), got ${describeValue(iss.input)}`;

// ---------------------------------------------------------------------------------------------------------
// Schema

const valueIssue = (ctx: Ctx, message: string, path?: Path): void => {
  ctx.addIssue({ code: "custom", message, continue: true, ...(path ? { path } : {}) });
};

const finiteNumber = () => z.number({ error: numberError });
const matrix = (description: string) =>
  z.array(z.array(finiteNumber(), { error: arrayError }), { error: matrixError }).describe(description);

const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

interface Mat {
  rows: number;
  cols: number;
  data: number[][];
}

/**
 * The matrix at `path` when it is a non-empty rectangular array of finite numbers; reports empty and ragged
 * arrays (wrong types are reported by the base schema) and returns `undefined` otherwise.
 */
const readMatrix = (ctx: Ctx, value: unknown, path: Path): Mat | undefined => {
  if (!isArray(value)) return undefined;
  if (value.length === 0) {
    addShapeIssue(ctx, path, "must be a non-empty matrix (an array of rows), got an empty array");
    return undefined;
  }
  if (!value.every(isArray)) return undefined;
  const rows = value as unknown[][];
  const cols = rows[0].length;
  if (cols === 0) {
    addShapeIssue(ctx, [...path, 0], "must be a non-empty row, got an empty array");
    return undefined;
  }
  let rectangular = true;
  rows.forEach((row, i) => {
    if (row.length !== cols) {
      addShapeIssue(
        ctx,
        [...path, i],
        `expected ${plural(cols, "entry", "entries")} (as many as row 0: rows must have equal lengths), got ${row.length}`,
      );
      rectangular = false;
    }
  });
  if (!rectangular || !rows.every((row) => row.every(isFiniteNumber))) return undefined;
  return { rows: rows.length, cols, data: rows as number[][] };
};

/** A dimension of the problem and where it comes from, for messages. */
interface Dim {
  name: "n" | "m";
  size: number;
  from: string;
}

const dimText = (d: Dim): string =>
  `${d.name} = ${d.size}, the ${d.name === "n" ? "rows" : "columns"} of ${d.from}`;

/** Checks that `mat` is rows×cols; reports the symbolic shape and where n and m come from. */
const checkDims = (ctx: Ctx, mat: Mat, path: Path, rows: Dim, cols: Dim): boolean => {
  if (mat.rows === rows.size && mat.cols === cols.size) return true;
  const defs = rows.name === cols.name ? dimText(rows) : `${dimText(rows)}, ${dimText(cols)}`;
  addShapeIssue(
    ctx,
    path,
    `expected a ${rows.size}×${cols.size} matrix (${rows.name}×${cols.name}; ${defs}), got ${mat.rows}×${mat.cols}`,
  );
  return false;
};

const largestEntry = (mat: Mat): number => {
  let s = 0;
  for (const row of mat.data) for (const x of row) s = Math.max(s, Math.abs(x));
  return s;
};

const checkSymmetric = (ctx: Ctx, mat: Mat, path: Path): boolean => {
  const tol = SYMMETRY_TOLERANCE * largestEntry(mat);
  for (let i = 0; i < mat.rows; i++)
    for (let j = i + 1; j < mat.cols; j++) {
      const a = mat.data[i][j];
      const b = mat.data[j][i];
      if (Math.abs(a - b) > tol) {
        valueIssue(
          ctx,
          `must be symmetric, but [${i}][${j}] = ${fmt(a)} and [${j}][${i}] = ${fmt(b)} (tolerance ${SYMMETRY_TOLERANCE} relative to the largest entry)`,
          path,
        );
        return false;
      }
    }
  return true;
};

/** Row-major, symmetrised ((M + Mᵀ)/2: exact for an exactly symmetric M). */
const flatSymmetric = (data: readonly (readonly number[])[]): Float64Array => {
  const k = data.length;
  const out = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) out[i * k + j] = (data[i][j] + data[j][i]) / 2;
  return out;
};

/** Positive definite by Cholesky; semi-definite = Cholesky of M + δI with δ a rounding-level shift. */
const isDefinite = (mat: Mat, semi: boolean): boolean => {
  const a = flatSymmetric(mat.data);
  const k = mat.rows;
  if (semi) {
    const shift = SYMMETRY_TOLERANCE * largestEntry(mat) || 1e-300;
    for (let i = 0; i < k; i++) a[i * k + i] += shift;
  }
  try {
    cholesky(a, k);
    return true;
  } catch {
    return false;
  }
};

/** A symmetric positive (semi-)definite k×k matrix. */
const checkSpd = (ctx: Ctx, mat: Mat, path: Path, semi: boolean): void => {
  if (!checkSymmetric(ctx, mat, path)) return;
  if (!isDefinite(mat, semi))
    valueIssue(ctx, semi ? "must be positive semi-definite" : "must be positive definite", path);
};

const BLOCKS = ["A", "B", "Q", "R"] as const;
type Block = (typeof BLOCKS)[number];
const BLOCK_KEYS = "A, B, Q, R";

/** Lower bound of a θ block: the file's, else the default (A and B unbounded). */
const boundOf = (lowerBounds: unknown, block: Block): number | undefined => {
  const v = isRecord(lowerBounds) ? lowerBounds[block] : undefined;
  if (v === undefined) return block === "Q" || block === "R" ? DEFAULT_QR_LOWER_BOUND : undefined;
  return isFiniteNumber(v) ? v : undefined; // a bad bound is reported by the base schema
};
const isDefaultBound = (lowerBounds: unknown, block: Block): boolean =>
  !isRecord(lowerBounds) || lowerBounds[block] === undefined;

/** θ₀ must be feasible: the simulator's entries (A, B) and diagonals (Q, R) at or above their bound. */
const checkBounds = (ctx: Ctx, mat: Mat, block: Block, lowerBounds: unknown): void => {
  const bound = boundOf(lowerBounds, block);
  if (bound === undefined) return;
  const origin = isDefaultBound(lowerBounds, block)
    ? `the default of lowerBounds.${block}`
    : `lowerBounds.${block}`;
  const diagonal = block === "Q" || block === "R";
  for (let i = 0; i < mat.rows; i++)
    for (let j = 0; j < mat.cols; j++) {
      if (diagonal && i !== j) continue;
      const x = mat.data[i][j];
      if (x < bound)
        valueIssue(
          ctx,
          `must be >= ${fmt(bound)} (${origin}${diagonal ? ", on the diagonal" : ""}), got ${fmt(x)}`,
          ["simulator", block, i, j],
        );
    }
};

/** Shapes, symmetry, definiteness and bounds; runs even when some fields had type errors. */
const checkMatrices = (raw: unknown, ctx: Ctx): void => {
  if (!isRecord(raw)) return;
  const sides = { real: raw.real, simulator: raw.simulator };
  const mats = new Map<string, Mat>();
  const read = (value: unknown, path: Path): Mat | undefined => {
    const mat = readMatrix(ctx, value, path);
    if (mat) mats.set(path.join("."), mat);
    return mat;
  };
  for (const field of ["noiseCovariance", "policyCovariance", "initialCovariance"]) read(raw[field], [field]);
  for (const [side, value] of Object.entries(sides))
    if (isRecord(value)) for (const b of BLOCKS) read(value[b], [side, b]);

  // n and m from the real system (the simulator's when the real one is unusable).
  const source = (block: "A" | "B") =>
    ["real", "simulator"].map((s) => `${s}.${block}`).find((key) => mats.has(key));
  const aKey = source("A");
  const bKey = source("B");
  const n: Dim | undefined = aKey ? { name: "n", size: mats.get(aKey)!.rows, from: aKey } : undefined;
  const m: Dim | undefined = bKey ? { name: "m", size: mats.get(bKey)!.cols, from: bKey } : undefined;

  /** The matrix at `key` when it has the expected shape (`undefined` dimensions are not checked). */
  const shaped = (key: string, rows: Dim | undefined, cols: Dim | undefined): Mat | undefined => {
    const mat = mats.get(key);
    if (!mat || !rows || !cols) return undefined;
    return checkDims(ctx, mat, key.split("."), rows, cols) ? mat : undefined;
  };
  const spd = (key: string, d: Dim | undefined, semi: boolean): Mat | undefined => {
    const mat = shaped(key, d, d);
    if (mat) checkSpd(ctx, mat, key.split("."), semi);
    return mat;
  };

  spd("noiseCovariance", n, false);
  spd("policyCovariance", m, false);
  spd("initialCovariance", n, false);
  for (const side of Object.keys(sides)) {
    const blocks: Record<Block, Mat | undefined> = {
      A: shaped(`${side}.A`, n, n),
      B: shaped(`${side}.B`, n, m),
      Q: spd(`${side}.Q`, n, true),
      R: spd(`${side}.R`, m, false),
    };
    if (side === "simulator")
      for (const b of BLOCKS) {
        const mat = blocks[b];
        if (mat) checkBounds(ctx, mat, b, raw.lowerBounds);
      }
  }
};

const params = (side: string) =>
  z
    .strictObject(
      {
        A: matrix(`${side} state matrix A (n×n)`),
        B: matrix(`${side} input matrix B (n×m)`),
        Q: matrix(`${side} state cost Q of the reward exp(−λ(sᵀQs + aᵀRa)), n×n, symmetric PSD`),
        R: matrix(`${side} action cost R of the reward, m×m, symmetric positive definite`),
      },
      { error: objectError(BLOCK_KEYS) },
    )
    .describe(`${side} parameters A, B, Q, R`);

const bound = (description: string, check?: (v: number, ctx: Ctx) => void) =>
  finiteNumber()
    .superRefine((v, ctx) => check?.(v, ctx))
    .optional()
    .describe(description);

/** zod schema of the raw problem file (shapes and matrix properties are checked in `superRefine`). */
export const LinearGaussianProblemFileSchema = z
  .object(
    {
      kind: z
        .literal(LINEAR_GAUSSIAN_KIND, { error: kindError })
        .describe('Problem family: "linear-gaussian" (a tabular problem file has no kind).'),
      gamma: finiteNumber()
        .superRefine((v, ctx) => {
          if (!(v >= 0 && v < 1)) valueIssue(ctx, `must be in [0, 1), got ${v}`);
        })
        .describe("Discount factor γ, in [0, 1)."),
      lambda: finiteNumber()
        .superRefine((v, ctx) => {
          if (!(v > 0)) valueIssue(ctx, `must be > 0, got ${v}`);
        })
        .describe("λ > 0 of the reward exp(−λ (sᵀQ s + aᵀR a))."),
      horizon: finiteNumber()
        .superRefine((v, ctx) => {
          if (!(Number.isSafeInteger(v) && v > 0)) valueIssue(ctx, `must be a positive integer, got ${v}`);
        })
        .optional()
        .describe(`Horizon of the expected return (optional, default ${DEFAULT_HORIZON}).`),
      noiseCovariance: matrix("Process-noise covariance Σ (n×n), symmetric positive definite."),
      policyCovariance: matrix("Action covariance Σ_a of the policy N(−K s, Σ_a) (m×m), SPD."),
      initialCovariance: matrix("Covariance of s₀ ~ N(0, Σ₀) (n×n), symmetric positive definite."),
      real: params("Real"),
      simulator: params("Simulator's starting"),
      lowerBounds: z
        .strictObject(
          {
            A: bound("Lower bound of every entry of the simulator's A (default: none)."),
            B: bound("Lower bound of every entry of the simulator's B (default: none)."),
            Q: bound(`Lower bound of diag Q, >= 0 (default ${DEFAULT_QR_LOWER_BOUND}).`, (v, ctx) => {
              if (!(v >= 0)) valueIssue(ctx, `must be >= 0 (Q must stay positive semi-definite), got ${v}`);
            }),
            R: bound(`Lower bound of diag R, > 0 (default ${DEFAULT_QR_LOWER_BOUND}).`, (v, ctx) => {
              if (!(v > 0)) valueIssue(ctx, `must be > 0 (R must stay positive definite), got ${v}`);
            }),
          },
          { error: objectError(BLOCK_KEYS) },
        )
        .optional()
        .describe("Per-block lower bounds of θ, applied after every outer step (optional)."),
    },
    { error: rootError },
  )
  .superRefine(checkMatrices, { when: (payload) => isRecord(payload.value) })
  .describe(
    "A linear-Gaussian sim-to-real problem file. Extra top-level keys (name, description) are ignored.",
  );

/** The raw file contents, as validated by `LinearGaussianProblemFileSchema`. */
export type LinearGaussianProblemFile = z.infer<typeof LinearGaussianProblemFileSchema>;

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Document order of the file's keys. */
const KEY_ORDER: Record<string, number> = {
  kind: 0,
  gamma: 1,
  lambda: 2,
  horizon: 3,
  noiseCovariance: 4,
  policyCovariance: 5,
  initialCovariance: 6,
  real: 7,
  simulator: 8,
  lowerBounds: 9,
  A: 0,
  B: 1,
  Q: 2,
  R: 3,
};

const flat = (rows: readonly (readonly number[])[]): Float64Array => Float64Array.from(rows.flat());

const toParams = (p: LinearGaussianProblemFile["real"]): LinearGaussianParams => ({
  A: flat(p.A),
  B: flat(p.B),
  Q: flatSymmetric(p.Q),
  R: flatSymmetric(p.R),
});

/**
 * Validates a parsed linear-Gaussian problem file and converts it to `LinearGaussianProblem`.
 * Throws `InputError` listing every problem found (field path and what is wrong), prefixed with `source`.
 */
export function parseLinearGaussianProblem(raw: unknown, source?: string): LinearGaussianProblem {
  const result = LinearGaussianProblemFileSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw problemFileError(result.error.issues, source, KEY_ORDER);
  const f = result.data;
  const n = f.real.A.length;
  const m = f.real.B[0].length;
  const lower = new Float64Array(thetaSize(n, m));
  const blk = thetaBlocks(n, m);
  for (const b of BLOCKS) lower.fill(boundOf(f.lowerBounds, b) ?? Number.NEGATIVE_INFINITY, ...blk[b]);
  return {
    n,
    m,
    gamma: f.gamma,
    lambda: f.lambda,
    horizon: f.horizon ?? DEFAULT_HORIZON,
    noiseCov: flatSymmetric(f.noiseCovariance),
    policyCov: flatSymmetric(f.policyCovariance),
    initialCov: flatSymmetric(f.initialCovariance),
    real: toParams(f.real),
    simulator: toParams(f.simulator),
    lower,
  };
}

/** Which loader a parsed file belongs to: a `kind` key marks the linear-Gaussian format. */
export function problemKind(raw: unknown): "tabular" | "linear-gaussian" {
  return isRecord(raw) && "kind" in raw ? "linear-gaussian" : "tabular";
}

/** Reads, parses and validates a linear-Gaussian problem file. Every failure is an `InputError`. */
export function loadLinearGaussianProblem(path: string): LinearGaussianProblem {
  return parseLinearGaussianProblem(readProblemJson(path), path);
}

export type AnyProblem =
  | { kind: "tabular"; problem: TabularProblem }
  | { kind: "linear-gaussian"; problem: LinearGaussianProblem };

/** Loads a problem file of either format (dispatching on `problemKind`). */
export function loadAnyProblem(path: string): AnyProblem {
  const raw = readProblemJson(path);
  return problemKind(raw) === "linear-gaussian"
    ? { kind: "linear-gaussian", problem: parseLinearGaussianProblem(raw, path) }
    : { kind: "tabular", problem: parseTabularProblem(raw, path) };
}

const rowsOf = (a: ArrayLike<number>, cols: number): number[][] =>
  Array.from({ length: a.length / cols }, (_, i) => Array.from(a).slice(i * cols, (i + 1) * cols));

/**
 * The inverse of `parseLinearGaussianProblem`: the problem in the file format. Throws `RangeError` when
 * the bounds are not expressible as one number per block (or Q/R unbounded).
 */
export function linearProblemToJSON(p: LinearGaussianProblem): LinearGaussianProblemFile {
  const { n, m } = p;
  const side = (q: LinearGaussianParams) => ({
    A: rowsOf(q.A, n),
    B: rowsOf(q.B, m),
    Q: rowsOf(q.Q, n),
    R: rowsOf(q.R, m),
  });
  const blk = thetaBlocks(n, m);
  const lowerBounds: Partial<Record<Block, number>> = {};
  for (const b of BLOCKS) {
    const values = new Set(p.lower.subarray(...blk[b]));
    const [v] = values;
    if (values.size !== 1 || (v === Number.NEGATIVE_INFINITY && (b === "Q" || b === "R")) || Number.isNaN(v))
      throw new RangeError(`lower bounds of block ${b} cannot be written as one number: ${[...values]}`);
    if (v !== Number.NEGATIVE_INFINITY) lowerBounds[b] = v;
  }
  return {
    kind: LINEAR_GAUSSIAN_KIND,
    gamma: p.gamma,
    lambda: p.lambda,
    horizon: p.horizon,
    noiseCovariance: rowsOf(p.noiseCov, n),
    policyCovariance: rowsOf(p.policyCov, m),
    initialCovariance: rowsOf(p.initialCov, n),
    real: side(p.real),
    simulator: side(p.simulator),
    lowerBounds,
  };
}
