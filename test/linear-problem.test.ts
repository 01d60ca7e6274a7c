/**
 * The linear-Gaussian problem-file loader (src/envs/linear-gaussian-problem.ts): the examples parse to the
 * built-in problems exactly, the file format round-trips, every class of bad file is an `InputError` that
 * names the file and the field, and `loadAnyProblem` dispatches on `kind`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { InputError } from "../src/common/errors.ts";
import {
  DEFAULT_HORIZON,
  LinearGaussianProblemFileSchema,
  linearProblemToJSON,
  loadAnyProblem,
  loadLinearGaussianProblem,
  parseLinearGaussianProblem,
  problemKind,
} from "../src/envs/linear-gaussian-problem.ts";
import { doubleIntegratorProblem, paperContinuousProblem } from "../src/experiments/problems.ts";

const fixtures = fileURLToPath(new URL("./fixtures/linear/", import.meta.url));
const good = (name: string) => join(fixtures, "good", name);
const bad = (name: string) => join(fixtures, "bad", name);
const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: test files mutate raw JSON freely
type Raw = any;
const readRaw = (path: string): Raw => JSON.parse(readFileSync(path, "utf8"));
const paperRaw = (): Raw => readRaw(example("paper-continuous.json"));
const twoDRaw = (): Raw => readRaw(good("misspecified-2d.json"));

/** Asserts `fn` throws an InputError whose message contains every string in `parts`; returns it. */
function assertInputError(fn: () => unknown, parts: readonly string[], field?: string): InputError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  for (const part of parts)
    assert.ok(
      caught.message.includes(part),
      `message should contain ${JSON.stringify(part)}:\n${caught.message}`,
    );
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

/** The problems listed in an "invalid problem file" message. */
const problems = (err: InputError): string[] => err.message.split("\n").slice(1);

test("the examples parse to exactly the built-in problems", () => {
  assert.deepStrictEqual(
    loadLinearGaussianProblem(example("paper-continuous.json")),
    paperContinuousProblem(),
  );
  assert.deepStrictEqual(
    loadLinearGaussianProblem(example("double-integrator.json")),
    doubleIntegratorProblem(),
  );
});

test("linearProblemToJSON round-trips the built-ins and the 2-D fixture", () => {
  for (const p of [
    paperContinuousProblem(),
    doubleIntegratorProblem(),
    loadLinearGaussianProblem(good("misspecified-2d.json")),
  ])
    assert.deepStrictEqual(parseLinearGaussianProblem(JSON.parse(JSON.stringify(linearProblemToJSON(p)))), p);
  assert.deepEqual(linearProblemToJSON(paperContinuousProblem()).lowerBounds, { B: 1e-3, Q: 1e-3, R: 1e-3 });
  // Not expressible in the file format: an unbounded Q diagonal, different bounds within one block.
  const unboundedQ = paperContinuousProblem();
  unboundedQ.lower[2] = Number.NEGATIVE_INFINITY;
  assert.throws(() => linearProblemToJSON(unboundedQ), RangeError);
  const mixed = doubleIntegratorProblem();
  mixed.lower[0] = 0;
  assert.throws(() => linearProblemToJSON(mixed), RangeError);
});

test("the 2-D fixture: dimensions, defaults, fixed off-diagonals, symmetric covariances", () => {
  const p = loadLinearGaussianProblem(good("misspecified-2d.json"));
  assert.equal(p.n, 2);
  assert.equal(p.m, 1);
  assert.equal(p.horizon, DEFAULT_HORIZON);
  assert.deepEqual(Array.from(p.lower), [...Array(6).fill(Number.NEGATIVE_INFINITY), 1e-3, 1e-3, 1e-3]);
  assert.deepEqual(Array.from(p.simulator.Q), [1.3, 0.1, 0.1, 0.15]);
  assert.deepEqual(Array.from(p.simulator.B), [0.004, 0.09]);
  assert.deepEqual(Array.from(p.noiseCov), [0.0004, 0.0001, 0.0001, 0.0004]);
  assert.deepEqual(Array.from(p.initialCov), [1, 0.2, 0.2, 0.25]);
});

test("lowerBounds: one number per block, applied to A and B entries and the Q and R diagonals", () => {
  const raw = twoDRaw();
  raw.lowerBounds = { A: -5, B: 0.001, Q: 0.01, R: 0.1 };
  const p = parseLinearGaussianProblem(raw);
  assert.deepEqual(Array.from(p.lower), [-5, -5, -5, -5, 0.001, 0.001, 0.01, 0.01, 0.1]);
  // The simulator's θ₀ must be feasible, also under the default bounds.
  const below = twoDRaw();
  below.simulator.R = [[1e-4]];
  assertInputError(
    () => parseLinearGaussianProblem(below),
    ["simulator.R[0][0]: must be >= 0.001 (the default of lowerBounds.R, on the diagonal), got 0.0001"],
    "simulator.R[0][0]",
  );
  below.simulator.A = [
    [1, -6],
    [0, 1],
  ];
  below.lowerBounds = { A: -5 };
  assertInputError(
    () => parseLinearGaussianProblem(below),
    ["simulator.A[0][1]: must be >= -5 (lowerBounds.A), got -6"],
  );
  raw.lowerBounds = { Q: 0 };
  assert.deepEqual(Array.from(parseLinearGaussianProblem(raw).lower).slice(4), [
    Number.NEGATIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    0,
    0,
    1e-3,
  ]);
});

/** Expected first field and message parts of every file in test/fixtures/linear/bad. */
const BAD: Record<string, { field: string; parts: string[] }> = {
  "kind-wrong.json": { field: "kind", parts: ['kind: must be "linear-gaussian"', 'got string "tabular"'] },
  "gamma-one.json": { field: "gamma", parts: ["gamma: must be in [0, 1), got 1"] },
  "lambda-zero.json": { field: "lambda", parts: ["lambda: must be > 0, got 0"] },
  "missing-lambda.json": { field: "lambda", parts: ["lambda: required"] },
  "horizon-fraction.json": { field: "horizon", parts: ["horizon: must be a positive integer, got 2.5"] },
  "noise-covariance-negative.json": {
    field: "noiseCovariance",
    parts: ["noiseCovariance: must be positive definite"],
  },
  "noise-covariance-asymmetric.json": {
    field: "noiseCovariance",
    parts: ["noiseCovariance: must be symmetric, but [0][1] = 0.00001 and [1][0] = 0"],
  },
  "noise-covariance-string.json": {
    field: "noiseCovariance",
    parts: ['noiseCovariance: expected a matrix (an array of rows), got string "0.04"'],
  },
  "policy-covariance-shape.json": {
    field: "policyCovariance",
    parts: ["policyCovariance: expected a 1×1 matrix (m×m; m = 1, the columns of real.B), got 2×2"],
  },
  "initial-covariance-ragged.json": {
    field: "initialCovariance[1]",
    parts: ["initialCovariance[1]: expected 2 entries", "rows must have equal lengths), got 1"],
  },
  "real-a-empty.json": { field: "real.A", parts: ["real.A: must be a non-empty matrix", "empty array"] },
  "real-a-not-square.json": {
    field: "real.A",
    parts: ["real.A: expected a 2×2 matrix (n×n; n = 2, the rows of real.A), got 2×3"],
  },
  "real-a-infinite.json": {
    field: "real.A[0][0]",
    parts: ["real.A[0][0]: must be a finite number, got Infinity"],
  },
  "simulator-a-null.json": {
    field: "simulator.A[0][0]",
    parts: ["simulator.A[0][0]: expected a number, got null"],
  },
  "simulator-b-shape.json": {
    field: "simulator.B",
    parts: [
      "simulator.B: expected a 1×1 matrix (n×m; n = 1, the rows of real.A, m = 1, the columns of real.B), got 1×2",
    ],
  },
  "real-r-not-pd.json": { field: "real.R", parts: ["real.R: must be positive definite"] },
  "real-q-indefinite.json": { field: "real.Q", parts: ["real.Q: must be positive semi-definite"] },
  "simulator-q-below-bound.json": {
    field: "simulator.Q[0][0]",
    parts: ["simulator.Q[0][0]: must be >= 0.001 (lowerBounds.Q, on the diagonal), got 0.0001"],
  },
  "simulator-b-below-bound.json": {
    field: "simulator.B[0][0]",
    parts: ["simulator.B[0][0]: must be >= 0.001 (lowerBounds.B), got 0"],
  },
  "simulator-r-below-bound.json": {
    field: "simulator.R[0][0]",
    parts: ["simulator.R[0][0]: must be >= 0.5 (lowerBounds.R, on the diagonal), got 0.1"],
  },
  "lower-bounds-unknown-key.json": {
    field: "lowerBounds",
    parts: ['lowerBounds: unknown key "q" (expected A, B, Q, R)'],
  },
  "lower-bounds-r-zero.json": { field: "lowerBounds.R", parts: ["lowerBounds.R: must be > 0", "got 0"] },
  "not-json.json": { field: "", parts: ["not valid JSON", "(line 4, column 3)"] },
};

test("every file in test/fixtures/linear/bad is an InputError naming the file and the field", () => {
  const names = readdirSync(join(fixtures, "bad"));
  assert.deepEqual([...names].sort(), Object.keys(BAD).sort(), "every bad fixture has an expectation");
  for (const name of names) {
    const { field, parts } = BAD[name];
    const path = bad(name);
    for (const load of [loadLinearGaussianProblem, (p: string) => loadAnyProblem(p)]) {
      const err = assertInputError(() => load(path), [`${path}: `, ...parts], field);
      if (field) {
        assert.ok(err.message.startsWith(`${path}: invalid problem file\n  - ${field}: `), err.message);
        assert.equal(problems(err).length, 1, `${name}: one problem expected\n${err.message}`);
      }
    }
  }
});

test("several problems are all reported: missing and mistyped first, then shapes, then values", () => {
  const raw = twoDRaw();
  raw.gamma = 1.5;
  delete raw.lambda;
  raw.horizon = "400";
  raw.policyCovariance = [[0.25, 0]];
  raw.real.R = [[-1]];
  raw.simulator.A = [
    [1, 0.1],
    [0, Number.POSITIVE_INFINITY], // what JSON.parse makes of 1e999
  ];
  const err = assertInputError(() => parseLinearGaussianProblem(raw, "p.json"), [], "lambda");
  assert.deepEqual(problems(err), [
    "  - lambda: required",
    '  - horizon: expected a number, got string "400"',
    "  - policyCovariance: expected a 1×1 matrix (m×m; m = 1, the columns of real.B), got 1×2",
    "  - gamma: must be in [0, 1), got 1.5",
    "  - real.R: must be positive definite",
    "  - simulator.A[1][1]: must be a finite number, got Infinity",
  ]);
  assert.ok(err.message.startsWith("p.json: invalid problem file\n"));
});

/** Sets (or, for `undefined`, deletes) the value at `path` of a raw file. */
function setAt(raw: Raw, path: readonly string[], value: unknown): void {
  const parent = path.slice(0, -1).reduce((o, k) => o[k], raw);
  const key = path[path.length - 1];
  if (value === undefined) delete parent[key];
  else parent[key] = value;
}

test("non-finite and non-numeric values are rejected wherever numbers are expected", () => {
  const cases: [path: string[], value: unknown, field: string, message: string][] = [
    [["lambda"], null, "lambda", "expected a number, got null"],
    [["gamma"], "0.9", "gamma", 'expected a number, got string "0.9"'],
    [["real", "B"], [["1"]], "real.B[0][0]", 'expected a number, got string "1"'],
    [["initialCovariance"], [4], "initialCovariance[0]", "expected an array, got 4"],
    [["real"], [1], "real", "expected an object, got an array"],
    [["lowerBounds", "Q"], "x", "lowerBounds.Q", 'expected a number, got string "x"'],
    [["horizon"], 0, "horizon", "must be a positive integer, got 0"],
    [["gamma"], -0.1, "gamma", "must be in [0, 1), got -0.1"],
    [["lambda"], -2, "lambda", "must be > 0, got -2"],
    [["simulator", "extra"], [[1]], "simulator", 'unknown key "extra" (expected A, B, Q, R)'],
    [["lowerBounds", "Q"], -1, "lowerBounds.Q", "must be >= 0"],
    [["kind"], undefined, "kind", 'required ("linear-gaussian")'],
  ];
  for (const [path, value, field, message] of cases) {
    const raw = paperRaw();
    setAt(raw, path, value);
    assertInputError(() => parseLinearGaussianProblem(raw, "f.json"), [`  - ${field}: ${message}`], field);
  }
  // 1e999 arrives as Infinity from JSON.parse.
  const text = JSON.stringify(paperRaw()).replace('"lambda":5', '"lambda":1e999');
  assertInputError(
    () => parseLinearGaussianProblem(JSON.parse(text)),
    ["lambda: must be a finite number, got Infinity"],
  );
});

test("symmetry tolerance is 1e-9 relative to the largest entry; the stored matrix is symmetrised", () => {
  const raw = twoDRaw();
  raw.noiseCovariance = [
    [0.0004, 0.0001 + 0.5e-9 * 0.0004],
    [0.0001, 0.0004],
  ];
  const p = parseLinearGaussianProblem(raw);
  assert.equal(p.noiseCov[1], p.noiseCov[2]);
  raw.noiseCovariance = [
    [0.0004, 0.0001 + 2e-9 * 0.0004],
    [0.0001, 0.0004],
  ];
  assertInputError(
    () => parseLinearGaussianProblem(raw),
    ["noiseCovariance: must be symmetric"],
    "noiseCovariance",
  );
  const r2 = twoDRaw();
  r2.simulator.R = [[0.2]];
  r2.real.Q = [
    [1, 1],
    [1, 2],
  ];
  r2.real.Q[1][0] = 1.1;
  assertInputError(
    () => parseLinearGaussianProblem(r2),
    ["real.Q: must be symmetric, but [0][1] = 1 and [1][0] = 1.1"],
    "real.Q",
  );
});

test("definiteness: Q may be singular (PSD), R and the covariances may not", () => {
  const raw = twoDRaw();
  raw.real.Q = [
    [1, 1],
    [1, 1],
  ];
  assert.deepEqual(Array.from(parseLinearGaussianProblem(raw).real.Q), [1, 1, 1, 1]);
  raw.real.Q = [
    [0, 0],
    [0, 0],
  ];
  assert.equal(parseLinearGaussianProblem(raw).real.Q[0], 0);
  for (const field of ["noiseCovariance", "initialCovariance"]) {
    const r = twoDRaw();
    r[field] = [
      [1, 1],
      [1, 1],
    ];
    assertInputError(() => parseLinearGaussianProblem(r), [`${field}: must be positive definite`], field);
  }
  const r = twoDRaw();
  r.simulator.Q = [
    [1, 2],
    [2, 1],
  ];
  assertInputError(
    () => parseLinearGaussianProblem(r),
    ["simulator.Q: must be positive semi-definite"],
    "simulator.Q",
  );
  const pc = paperRaw();
  pc.policyCovariance = [[0]];
  assertInputError(() => parseLinearGaussianProblem(pc), ["policyCovariance: must be positive definite"]);
});

test("n and m come from real.A and real.B; every other matrix is checked against them", () => {
  const raw = twoDRaw();
  raw.real.B = [
    [0.005, 0],
    [0.1, 1],
  ]; // m = 2 now
  const err = assertInputError(() => parseLinearGaussianProblem(raw), []);
  assert.deepEqual(problems(err), [
    "  - policyCovariance: expected a 2×2 matrix (m×m; m = 2, the columns of real.B), got 1×1",
    "  - real.R: expected a 2×2 matrix (m×m; m = 2, the columns of real.B), got 1×1",
    "  - simulator.B: expected a 2×2 matrix (n×m; n = 2, the rows of real.A, m = 2, the columns of real.B), got 2×1",
    "  - simulator.R: expected a 2×2 matrix (m×m; m = 2, the columns of real.B), got 1×1",
  ]);
  // Unusable real.A: n falls back to the simulator's A.
  const r2 = twoDRaw();
  r2.real.A = "identity";
  r2.noiseCovariance = [[1]];
  const e2 = assertInputError(() => parseLinearGaussianProblem(r2), [], "real.A");
  assert.deepEqual(problems(e2), [
    '  - real.A: expected a matrix (an array of rows), got string "identity"',
    "  - noiseCovariance: expected a 2×2 matrix (n×n; n = 2, the rows of simulator.A), got 1×1",
  ]);
});

test("extra top-level keys are ignored", () => {
  const raw = paperRaw();
  raw.notes = { anything: [1, 2, 3] };
  assert.equal(parseLinearGaussianProblem(raw).n, 1);
});

test("problemKind and loadAnyProblem dispatch on the kind key; the tabular loader stays the default", () => {
  assert.equal(problemKind({ kind: "linear-gaussian" }), "linear-gaussian");
  assert.equal(problemKind({ kind: "anything" }), "linear-gaussian");
  assert.equal(problemKind({ gamma: 0.9 }), "tabular");
  assert.equal(problemKind([1]), "tabular");
  assert.equal(problemKind(null), "tabular");
  const tab = loadAnyProblem(example("paper-discrete.json"));
  assert.equal(tab.kind, "tabular");
  if (tab.kind === "tabular") assert.equal(tab.problem.S, 3);
  const lin = loadAnyProblem(example("paper-continuous.json"));
  assert.equal(lin.kind, "linear-gaussian");
  if (lin.kind === "linear-gaussian") assert.deepStrictEqual(lin.problem, paperContinuousProblem());
  // A tabular-format error for a file without kind (the tabular loader's message).
  const tmp = mkdtempSync(join(tmpdir(), "linear-problem-"));
  try {
    const noKind = join(tmp, "no-kind.json");
    const raw = paperRaw();
    delete raw.kind;
    writeFileSync(noKind, JSON.stringify(raw));
    assertInputError(
      () => loadAnyProblem(noKind),
      [`${noKind}: invalid problem file`, "temperature: required"],
    );
    const empty = join(tmp, "empty.json");
    writeFileSync(empty, "\n");
    assertInputError(() => loadAnyProblem(empty), [`${empty}: not valid JSON: the file is empty`]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("unreadable files", () => {
  const missing = join(fixtures, "does-not-exist.json");
  for (const load of [loadLinearGaussianProblem, (p: string) => loadAnyProblem(p)]) {
    assertInputError(() => load(missing), [`cannot read problem file '${missing}': ENOENT`], "");
    assertInputError(() => load(join(fixtures, "good")), ["cannot read problem file", "EISDIR"], "");
  }
});

test("the schema documents its fields", () => {
  assert.ok(LinearGaussianProblemFileSchema.description);
  const shape = LinearGaussianProblemFileSchema.shape;
  for (const [key, schema] of Object.entries(shape))
    assert.ok((schema.description ?? "").length > 10, `field ${key} has no description`);
  for (const block of ["A", "B", "Q", "R"] as const) assert.ok(shape.real.shape[block].description, block);
});
