import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { InputError } from "../src/common/errors.ts";
import { thetaSize } from "../src/envs/tabular.ts";
import {
  loadTabularProblem,
  parseTabularProblem,
  problemToJSON,
  TabularProblemFileSchema,
} from "../src/envs/tabular-problem.ts";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const good = (name: string) => join(fixtures, "good", name);
const bad = (name: string) => join(fixtures, "bad", name);
const example = fileURLToPath(new URL("../examples/paper-discrete.json", import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: test files mutate raw JSON freely
type Raw = any;
const readRaw = (path: string): Raw => JSON.parse(readFileSync(path, "utf8"));
const base = (): Raw => readRaw(good("random-4x3.json"));

/** Asserts `fn` throws an InputError whose message contains every string in `parts`; returns it. */
function assertInputError(fn: () => unknown, parts: readonly string[], field?: string): InputError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  for (const part of parts) {
    assert.ok(
      caught.message.includes(part),
      `message should contain ${JSON.stringify(part)}:\n${caught.message}`,
    );
  }
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

/** The first listed problem of an "invalid problem file" message. */
const firstProblem = (err: InputError): string => err.message.split("\n")[1] ?? "";

test("loads a valid file into the flat layout", () => {
  const p = loadTabularProblem(good("random-4x3.json"));
  const raw = readRaw(good("random-4x3.json"));
  const { S, A } = p;
  assert.equal(S, 4);
  assert.equal(A, 3);
  assert.equal(p.gamma, 0.95);
  assert.equal(p.temperature, 0.2);
  assert.equal(p.real.S, 4);
  assert.equal(p.real.A, 3);
  assert.equal(p.real.gamma, 0.95);
  assert.equal(p.real.mu, p.mu);
  assert.deepEqual(Array.from(p.mu), [0.1, 0.2, 0.3, 0.4]);
  assert.equal(p.real.P.length, S * A * S);
  assert.equal(p.real.R.length, S * A);
  assert.equal(p.theta0.length, thetaSize(S, A));
  for (const [s, a, t] of [
    [0, 0, 0],
    [1, 2, 3],
    [3, 1, 2],
    [2, 0, 1],
  ]) {
    assert.equal(p.real.P[(s * A + a) * S + t], raw.real.transitions[s][a][t]);
    assert.equal(p.theta0[(s * A + a) * S + t], raw.simulator.transitionLogits[s][a][t]);
  }
  for (const [s, a] of [
    [0, 1],
    [3, 2],
    [2, 0],
  ]) {
    assert.equal(p.real.R[s * A + a], raw.real.rewards[s][a]);
    assert.equal(p.theta0[S * A * S + s * A + a], raw.simulator.rewards[s][a]);
  }
  // Spot-check against literal values of the fixture.
  assert.equal(p.real.P[(1 * A + 2) * S + 0], 0.32);
  assert.equal(p.real.R[2 * A + 0], 1.75);
  assert.equal(p.theta0[(3 * A + 2) * S + 2], 1.975);
  assert.equal(p.theta0[S * A * S + 3 * A + 2], 1.95);
});

test("every good fixture loads, rows sum to 1 within 1e-12, and problemToJSON round-trips", () => {
  const names = readdirSync(join(fixtures, "good")).filter((n) => n.endsWith(".json"));
  assert.ok(names.length >= 2);
  for (const name of names) {
    const p = loadTabularProblem(good(name));
    for (let sa = 0; sa < p.S * p.A; sa++) {
      let sum = 0;
      for (let t = 0; t < p.S; t++) sum += p.real.P[sa * p.S + t];
      assert.ok(Math.abs(sum - 1) < 1e-12, `${name}: row ${sa} sums to ${sum}`);
    }
    const again = parseTabularProblem(JSON.parse(JSON.stringify(problemToJSON(p))));
    assert.deepEqual(again, p, name);
  }
  const oneAction = loadTabularProblem(good("one-action.json"));
  assert.equal(oneAction.A, 1);
  assert.equal(oneAction.S, 3);
  const single = loadTabularProblem(good("single-state.json"));
  assert.equal(single.S, 1);
  assert.equal(single.A, 2);
  assert.deepEqual(Array.from(single.theta0), [0, -4.5, 0, 0.25]);
});

test("problemToJSON gives the file's nested arrays", () => {
  const raw = readRaw(good("random-4x3.json"));
  const json = problemToJSON(loadTabularProblem(good("random-4x3.json")));
  assert.deepEqual(json, {
    gamma: raw.gamma,
    temperature: raw.temperature,
    initialDistribution: raw.initialDistribution,
    real: raw.real,
    simulator: raw.simulator,
  });
});

test("examples/paper-discrete.json is the paper's discrete problem with an accurate simulator", () => {
  const p = loadTabularProblem(example);
  assert.equal(p.S, 3);
  assert.equal(p.A, 2);
  assert.equal(p.gamma, 0.9);
  assert.equal(p.temperature, 0.5);
  for (const m of p.mu) assert.ok(Math.abs(m - 1 / 3) < 1e-15);
  assert.deepEqual(Array.from(p.real.P.subarray(0, 3)), [0.9, 0.08, 0.02]); // P(·|0, stay)
  assert.deepEqual(Array.from(p.real.P.subarray(9, 12)), [0.25, 0.05, 0.7]); // P(·|1, move)
  assert.deepEqual(Array.from(p.real.P.subarray(15, 18)), [0.1, 0.6, 0.3]); // P(·|2, move)
  assert.deepEqual(Array.from(p.real.R), [0.5, 0, 0.5, 0, 3, 1.5]);
  const n = p.S * p.A * p.S;
  for (let i = 0; i < n; i++) assert.ok(Math.abs(Math.exp(p.theta0[i]) - p.real.P[i]) < 1e-15);
  assert.deepEqual(Array.from(p.theta0.subarray(n)), Array.from(p.real.R));
  assert.equal(typeof readRaw(example).description, "string");
});

/** Each bad fixture: the field the first problem names, and words the message must contain. */
const BAD: Record<string, { field: string; parts: string[] }> = {
  "gamma-one.json": { field: "gamma", parts: ["gamma: must be in [0, 1), got 1"] },
  "gamma-negative.json": { field: "gamma", parts: ["gamma: must be in [0, 1), got -0.1"] },
  "gamma-string.json": { field: "gamma", parts: ["gamma: expected a number", "string"] },
  "missing-gamma.json": { field: "gamma", parts: ["gamma: required"] },
  "temperature-zero.json": { field: "temperature", parts: ["temperature: must be > 0, got 0"] },
  "temperature-negative.json": { field: "temperature", parts: ["temperature: must be > 0, got -0.5"] },
  "initial-distribution-sum.json": {
    field: "initialDistribution",
    parts: ["initialDistribution: sums to 0.9, expected 1 (tolerance 1e-9)"],
  },
  "initial-distribution-negative.json": {
    field: "initialDistribution[1]",
    parts: ["initialDistribution[1]: must be >= 0, got -0.2"],
  },
  "initial-distribution-length.json": {
    field: "initialDistribution",
    parts: ["initialDistribution: expected 3 entries", "got 2"],
  },
  "transitions-negative.json": {
    field: "real.transitions[0][1][2]",
    parts: ["real.transitions[0][1][2]: must be >= 0, got -0.1"],
  },
  "transitions-row-sum.json": {
    field: "real.transitions[1][0]",
    parts: ["real.transitions[1][0]: row sums to 0.97, expected 1 (tolerance 1e-9)"],
  },
  "transitions-action-count.json": {
    field: "real.transitions[1]",
    parts: ["real.transitions[1]: expected 2 rows (one per action), got 3"],
  },
  "transitions-next-state-count.json": {
    field: "real.transitions[0][1]",
    parts: ["real.transitions[0][1]: expected 3 entries (one per next state), got 2"],
  },
  "transitions-empty.json": { field: "real.transitions", parts: ["real.transitions:", "at least one state"] },
  "transitions-object.json": {
    field: "real.transitions",
    parts: ["real.transitions: expected an array, got an object"],
  },
  "logits-state-count.json": {
    field: "simulator.transitionLogits",
    parts: ["simulator.transitionLogits: expected 3 entries", "got 2"],
  },
  "logits-action-count.json": {
    field: "simulator.transitionLogits[2]",
    parts: ["simulator.transitionLogits[2]: expected 2 rows (one per action), got 3"],
  },
  "logits-next-state-count.json": {
    field: "simulator.transitionLogits[1][0]",
    parts: ["simulator.transitionLogits[1][0]: expected 3 entries (one per next state), got 4"],
  },
  "logits-infinite.json": {
    field: "simulator.transitionLogits[0][0][1]",
    parts: ["simulator.transitionLogits[0][0][1]: must be a finite number, got -Infinity"],
  },
  "rewards-infinite.json": {
    field: "real.rewards[0][1]",
    parts: ["real.rewards[0][1]: must be a finite number, got Infinity"],
  },
  "rewards-state-count.json": { field: "real.rewards", parts: ["real.rewards: expected 3 rows", "got 2"] },
  "rewards-null-row.json": {
    field: "real.rewards[2]",
    parts: ["real.rewards[2]: expected an array, got null"],
  },
  "simulator-rewards-action-count.json": {
    field: "simulator.rewards[1]",
    parts: ["simulator.rewards[1]: expected 2 entries (one per action), got 1"],
  },
  "missing-simulator-rewards.json": { field: "simulator.rewards", parts: ["simulator.rewards: required"] },
  "missing-real.json": { field: "real", parts: ["real: required"] },
  "several-problems.json": {
    field: "simulator.rewards",
    parts: [
      "simulator.rewards: required",
      "gamma: must be in [0, 1), got 1",
      "temperature: must be > 0, got 0",
      "real.transitions[1][0]: row sums to 0.97",
      "real.rewards[0][1]: must be a finite number, got Infinity",
    ],
  },
  "top-level-array.json": { field: "", parts: ["expected a JSON object", "got an array"] },
  "not-json.json": { field: "", parts: ["not valid JSON"] },
  "empty.json": { field: "", parts: ["not valid JSON", "empty"] },
};

test("every file in test/fixtures/bad is rejected with an InputError naming the field", () => {
  const names = readdirSync(join(fixtures, "bad"));
  assert.deepEqual([...names].sort(), Object.keys(BAD).sort(), "every bad fixture has an expectation");
  for (const name of names) {
    const { field, parts } = BAD[name];
    const path = bad(name);
    const err = assertInputError(() => loadTabularProblem(path), [`${path}: `, ...parts], field);
    if (err.message.includes("invalid problem file")) {
      assert.ok(err.message.startsWith(`${path}: invalid problem file\n  - `), err.message);
      if (field) assert.ok(firstProblem(err).startsWith(`  - ${field}: `), `${name}: ${firstProblem(err)}`);
    }
  }
});

test("several problems are all reported, one per line, missing fields and types first", () => {
  const err = assertInputError(() => loadTabularProblem(bad("several-problems.json")), []);
  const lines = err.message.split("\n").slice(1);
  assert.deepEqual(lines, [
    "  - simulator.rewards: required",
    "  - gamma: must be in [0, 1), got 1",
    "  - temperature: must be > 0, got 0",
    "  - real.transitions[1][0]: row sums to 0.97, expected 1 (tolerance 1e-9)",
    "  - real.rewards[0][1]: must be a finite number, got Infinity",
  ]);
});

test("at most 10 problems are listed", () => {
  const raw = base();
  for (const rows of raw.real.transitions) for (const row of rows) row[0] += 0.5; // 12 bad rows
  const err = assertInputError(() => parseTabularProblem(raw), ["... and 2 more"], "real.transitions[0][0]");
  assert.equal(err.message.split("\n").length, 1 + 10 + 1);
  assert.ok(err.message.startsWith("invalid problem file\n  - real.transitions[0][0]: row sums to 1.5"));
});

test("row sums within the 1e-9 tolerance pass, just outside fail", () => {
  const raw = base();
  raw.real.transitions[2][1] = [0.5, 0.5000000005, 0, 0];
  raw.initialDistribution = [0.1, 0.2, 0.3, 0.4 - 5e-10];
  const p = parseTabularProblem(raw);
  assert.equal(p.real.P[(2 * 3 + 1) * 4 + 1], 0.5000000005);
  raw.real.transitions[2][1] = [0.5, 0.500000002, 0, 0];
  assertInputError(
    () => parseTabularProblem(raw),
    ["real.transitions[2][1]: row sums to 1.000000002, expected 1 (tolerance 1e-9)"],
    "real.transitions[2][1]",
  );
});

test("gamma and temperature ranges", () => {
  const cases: [string, number, string][] = [
    ["gamma", 1, "gamma: must be in [0, 1), got 1"],
    ["gamma", -0.1, "gamma: must be in [0, 1), got -0.1"],
    ["gamma", Number.POSITIVE_INFINITY, "gamma: must be a finite number, got Infinity"],
    ["temperature", 0, "temperature: must be > 0, got 0"],
    ["temperature", -2, "temperature: must be > 0, got -2"],
  ];
  for (const [key, value, expected] of cases) {
    const raw = base();
    raw[key] = value;
    assertInputError(() => parseTabularProblem(raw), [expected], key);
  }
  const raw = base();
  raw.gamma = 0;
  assert.equal(parseTabularProblem(raw).gamma, 0);
});

test("non-finite numbers from JSON (1e999) are caught in rewards and logits", () => {
  // Put 1e999 / -1e999 into the JSON text itself (independent of the fixture's formatting).
  const file = JSON.parse(readFileSync(good("random-4x3.json"), "utf8"));
  file.real.rewards[0][0] = "@POS@";
  file.simulator.transitionLogits[3][0][1] = "@NEG@";
  const text = JSON.stringify(file).replace('"@POS@"', "1e999").replace('"@NEG@"', "-1e999");
  const raw = JSON.parse(text);
  assert.equal(raw.real.rewards[0][0], Number.POSITIVE_INFINITY);
  assertInputError(
    () => parseTabularProblem(raw, "x.json"),
    [
      "x.json: invalid problem file",
      "real.rewards[0][0]: must be a finite number, got Infinity",
      "simulator.transitionLogits[3][0][1]: must be a finite number, got -Infinity",
    ],
    "real.rewards[0][0]",
  );
});

test("wrong types name the field", () => {
  const cases: [(raw: Raw) => void, string, string[]][] = [
    [(r) => (r.temperature = "hot"), "temperature", ['temperature: expected a number, got string "hot"']],
    [(r) => (r.initialDistribution = { a: 1 }), "initialDistribution", ["expected an array, got an object"]],
    [(r) => (r.real = [1]), "real", ["real: expected an object, got an array"]],
    [(r) => (r.real.transitions[1][2] = 0.5), "real.transitions[1][2]", ["expected an array, got 0.5"]],
    [(r) => (r.real.transitions[0][0][3] = "0.1"), "real.transitions[0][0][3]", ["expected a number"]],
    [(r) => (r.simulator.rewards[3][1] = true), "simulator.rewards[3][1]", ["got boolean true"]],
    [
      (r) => (r.simulator.transitionLogits[0][0][0] = null),
      "simulator.transitionLogits[0][0][0]",
      ["got null"],
    ],
  ];
  for (const [mutate, field, parts] of cases) {
    const raw = base();
    mutate(raw);
    assertInputError(() => parseTabularProblem(raw), [`${field}: `, ...parts], field);
  }
  assertInputError(() => parseTabularProblem(null), ["expected a JSON object", "got null"], "");
  assertInputError(() => parseTabularProblem("x"), ["expected a JSON object", 'got string "x"'], "");
});

test("missing fields are reported as required", () => {
  for (const path of [
    ["gamma"],
    ["temperature"],
    ["initialDistribution"],
    ["real"],
    ["simulator"],
    ["real", "transitions"],
    ["real", "rewards"],
    ["simulator", "transitionLogits"],
    ["simulator", "rewards"],
  ]) {
    const raw = base();
    let parent = raw;
    for (const key of path.slice(0, -1)) parent = parent[key];
    delete parent[path[path.length - 1]];
    const field = path.join(".");
    assertInputError(() => parseTabularProblem(raw), [`${field}: required`], field);
  }
});

test("shape mismatches are reported alongside other problems", () => {
  const raw = base();
  raw.gamma = 1;
  raw.simulator.transitionLogits[2].push([0, 0, 0, 0]);
  raw.simulator.rewards[0] = [1, 2];
  const err = assertInputError(() => parseTabularProblem(raw), [], "simulator.transitionLogits[2]");
  assert.deepEqual(err.message.split("\n").slice(1), [
    "  - simulator.transitionLogits[2]: expected 3 rows (one per action), got 4",
    "  - simulator.rewards[0]: expected 3 entries (one per action), got 2",
    "  - gamma: must be in [0, 1), got 1",
  ]);
});

test("extra top-level keys are ignored", () => {
  const raw = base();
  raw.notes = { anything: [1, 2, 3] };
  assert.equal(parseTabularProblem(raw).S, 4);
});

test("unreadable files: missing path and directory", () => {
  const missing = join(fixtures, "does-not-exist.json");
  assertInputError(
    () => loadTabularProblem(missing),
    [`cannot read problem file '${missing}': ENOENT: no such file or directory`],
    "",
  );
  const dir = join(fixtures, "good");
  assertInputError(() => loadTabularProblem(dir), [`cannot read problem file '${dir}': EISDIR`], "");
});

test("non-JSON and empty files", () => {
  const tmp = mkdtempSync(join(tmpdir(), "tabular-problem-"));
  try {
    const broken = join(tmp, "broken.json");
    writeFileSync(broken, '{\n  "gamma": 0.9,\n  oops\n}\n');
    const err = assertInputError(() => loadTabularProblem(broken), [`${broken}: not valid JSON: `], "");
    assert.match(err.message, /line 3/);
    const empty = join(tmp, "empty.json");
    writeFileSync(empty, "  \n");
    assertInputError(() => loadTabularProblem(empty), [`${empty}: not valid JSON: the file is empty`]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the schema documents its fields", () => {
  assert.ok(TabularProblemFileSchema.description);
  const shape = TabularProblemFileSchema.shape;
  for (const key of ["gamma", "temperature", "initialDistribution", "real", "simulator"] as const) {
    assert.ok(shape[key].description, key);
  }
  assert.ok(shape.real.shape.transitions.description);
  assert.ok(shape.simulator.shape.transitionLogits.description);
});
