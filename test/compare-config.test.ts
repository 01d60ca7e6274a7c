/**
 * Method config files for `sim2real compare <benchmark> --config FILE`: the built-in settings resolve to
 * exactly the configurations the benchmarks always ran with; a file's overrides reach the run (checked in
 * the written config.json and in the real transitions the run used); bad files exit 2 with the field's path
 * before anything runs.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BENCHMARKS, resolveBenchmark } from "../src/experiments/benchmarks.ts";
import { BilevelConfigSchema } from "../src/outer/bilevel.ts";
import { LinearBilevelConfigSchema } from "../src/outer/bilevel-linear-gaussian.ts";
import { DomainRandomisationConfigSchema } from "../src/outer/domain-randomisation.ts";
import { HybridLinearConfigSchema, HybridTabularConfigSchema } from "../src/outer/hybrid.ts";
import { SysIdConfigSchema } from "../src/outer/system-identification.ts";
import { ZerothOrderConfigSchema } from "../src/outer/zeroth-order.ts";
import { cli, pool, show } from "./cli-helpers.ts";

const scratch = mkdtempSync(join(tmpdir(), "sim2real-compare-config-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const withoutBudget = (c: Record<string, unknown>) => {
  const { budget: _, ...rest } = c;
  return rest;
};

test("the built-in settings resolve to the configurations the benchmarks were written with", () => {
  // Written out independently, as the benchmarks built them before config files existed (budget-derived
  // iteration counts: 10×50 real transitions per tabular iteration, 100×40 per linear-Gaussian one).
  const tabularBilevel = (adapt: string) => ({
    ...BilevelConfigSchema.parse({
      sensitivity: "sampled",
      realGradient: "sampled",
      stepDecay: 100,
      objective: "soft",
      adapt,
    }),
    iterations: 2000,
  });
  const expected: Record<string, Record<string, unknown>> = {
    "paper-discrete": {
      sysid: SysIdConfigSchema.parse({ budget: 2000, objective: "soft" }),
      bilevel: tabularBilevel("all"),
      hybrid: HybridTabularConfigSchema.parse({
        bilevel: { sensitivity: "sampled", stepDecay: 100, objective: "soft", iterations: 2000 },
      }),
      "bilevel-reward-only": tabularBilevel("rewards"),
      "bilevel-transitions-only": tabularBilevel("transitions"),
      spsa: ZerothOrderConfigSchema.parse({ method: "spsa", budget: 20_000, objective: "soft" }),
      "domain-rand": DomainRandomisationConfigSchema.parse({ objective: "soft" }),
    },
    "paper-continuous-lqr": {
      sysid: SysIdConfigSchema.parse({ budget: 2000, inner: "lqr" }),
      bilevel: {
        ...LinearBilevelConfigSchema.parse({ inner: "lqr", realGradient: "sampled", stepDecay: 20 }),
        iterations: 100,
      },
      hybrid: HybridLinearConfigSchema.parse({ bilevel: { inner: "lqr", stepDecay: 20, iterations: 100 } }),
      spsa: ZerothOrderConfigSchema.parse({ method: "spsa", budget: 20_000, inner: "lqr" }),
      "domain-rand": DomainRandomisationConfigSchema.parse({ inner: "lqr" }),
    },
  };
  for (const [bench, methods] of Object.entries(expected)) {
    const resolved = resolveBenchmark(BENCHMARKS[bench]);
    assert.deepEqual(
      resolved.map((r) => r.name),
      Object.keys(methods),
      `${bench}: the methods, in order`,
    );
    for (const r of resolved) {
      const budgeted = r.name.startsWith("bilevel") || r.name === "hybrid";
      assert.deepEqual(
        budgeted ? withoutBudget(r.config) : r.config,
        methods[r.name],
        `${bench}/${r.name}: the resolved default equals the built-in configuration`,
      );
    }
  }
  // Every benchmark resolves without a file, and `methods()` is the resolution's specs.
  for (const b of Object.values(BENCHMARKS))
    assert.deepEqual(
      b.methods().map((m) => [m.name, m.description]),
      resolveBenchmark(b).map((r) => [r.spec.name, r.spec.description]),
      `${b.name}: methods() = resolveBenchmark()`,
    );
});

test("resolveBenchmark: overrides deep-merge, derived fields follow them, and repeating a derived value is accepted", () => {
  const [hybrid] = resolveBenchmark(BENCHMARKS["paper-discrete"], {
    methods: { hybrid: { sysidTransitions: 600, bilevel: { realHorizon: 20 }, budget: 10_600 } },
  }).filter((r) => r.name === "hybrid");
  const bl = hybrid.config.bilevel as Record<string, unknown>;
  assert.equal(bl.realHorizon, 20, "the file's nested field");
  assert.equal(bl.sensitivity, "sampled", "the built-in nested field stays");
  assert.equal(bl.stepDecay, 100, "the built-in nested field stays");
  assert.equal(bl.iterations, 50, "(10600 − 600) / (10 × 20) bi-level iterations from the overridden fields");
  const again = resolveBenchmark(BENCHMARKS["paper-discrete"], {
    methods: { bilevel: { iterations: 2000, objective: "soft" }, sysid: { objective: "soft" } },
  });
  assert.equal(again.find((r) => r.name === "bilevel")?.config.iterations, 2000, "derived value repeated");
  assert.throws(
    () => resolveBenchmark(BENCHMARKS["paper-discrete-hard"], { methods: { sysid: { objective: "soft" } } }),
    /methods\.sysid\.objective: cannot be set \(got "soft"; it is "hard" here\)/,
    "the judge of the hard benchmark is fixed",
  );
  assert.throws(
    () => resolveBenchmark(BENCHMARKS["paper-continuous"], { methods: { hybrid: { budget: 100 } } }),
    /methods\.hybrid\.budget: must be at least sysidTransitions \(200\)/,
    "the hybrid's budget must cover its identification phase",
  );
});

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

test("compare --config: a YAML file's overrides reach config.json and the run; config.json reads back", async () => {
  const yml = join(scratch, "methods.yaml");
  // sysid: a smaller budget; bilevel: fewer trajectories per iteration and a tiny budget, so the derived
  // iteration count must use the overridden realTrajectories: ceil(1000 / (2 × 50)) = 10.
  writeFileSync(
    yml,
    "methods:\n  sysid:\n    budget: 300\n    batchHorizon: 5\n  bilevel:\n    budget: 1000\n    realTrajectories: 2\n    stepSize: 0.05\n",
  );
  const out = join(scratch, "run");
  const args = ["compare", "paper-discrete", "--methods", "sysid,bilevel", "--seeds", "1", "--quiet"];
  const r = await cli([...args, "--config", yml, "--out", out]);
  assert.equal(r.status, 0, show(r));
  const config = readJson(join(out, "config.json"));
  assert.deepEqual(Object.keys(config), ["methods"], "config.json holds the methods");
  assert.deepEqual(Object.keys(config.methods), ["sysid", "bilevel"], "only the methods run");
  const sysid = config.methods.sysid;
  assert.deepEqual([sysid.budget, sysid.batchHorizon], [300, 5], "the file's sysid fields");
  assert.deepEqual(
    sysid,
    { ...SysIdConfigSchema.parse({ budget: 300, batchHorizon: 5, objective: "soft" }) },
    "every other sysid field is the built-in one",
  );
  const bilevel = config.methods.bilevel;
  assert.deepEqual(
    [bilevel.budget, bilevel.realTrajectories, bilevel.stepSize, bilevel.iterations],
    [1000, 2, 0.05, 10],
    "bilevel: the file's fields and the iterations derived from them",
  );
  assert.equal(bilevel.simSteps, 1000, "bilevel: built-in fields stay");
  const results = readJson(join(out, "results.json"));
  const used = Object.fromEntries(
    results.results.map((x: { method: string; realTransitions: number[] }) => [
      x.method,
      x.realTransitions.at(-1),
    ]),
  );
  assert.deepEqual(used, { sysid: 300, bilevel: 1000 }, "the runs used the overridden budgets");
  assert.match(results.command, /--config .*methods\.yaml$/, "the command names the file");
  const md = readFileSync(join(out, "table.md"), "utf8");
  assert.match(md, /REINFORCE 2×50 real per iteration; step 0\.05\//, "the description shows the override");

  // Reading config.json back (derived fields included) reproduces the comparison.
  const out2 = join(scratch, "rerun");
  const r2 = await cli([...args, "--config", join(out, "config.json"), "--out", out2]);
  assert.equal(r2.status, 0, show(r2));
  assert.deepEqual(readJson(join(out2, "config.json")), config, "same resolved configuration");
  const curves = (p: string) =>
    readJson(p).results.map((x: Record<string, unknown>) => ({ ...x, wallMs: undefined }));
  assert.deepEqual(curves(join(out2, "results.json")), curves(join(out, "results.json")), "same curves");
});

test("compare --config: unknown method, unknown field, invalid value and derived field exit 2 with the path, nothing run", async () => {
  const cases: [string, string, RegExp][] = [
    [
      "method.yaml",
      "methods:\n  bilevell:\n    stepSize: 0.2\n",
      /methods\.bilevell: unknown method; available: sysid, bilevel,/,
    ],
    ["field.yaml", "methods:\n  spsa:\n    stepSize: 0.2\n", /methods\.spsa\.stepSize: unknown field/],
    [
      "nested.json",
      JSON.stringify({ methods: { hybrid: { sysid: { batchHorizn: 3 } } } }),
      /methods\.hybrid\.sysid\.batchHorizn: unknown field/,
    ],
    ["value.yaml", "methods:\n  bilevel:\n    stepSize: -0.1\n", /methods\.bilevel\.stepSize: Too small/],
    ["enum.yaml", "methods:\n  sysid:\n    explore: sometimes\n", /methods\.sysid\.explore: /],
    [
      "derived.yaml",
      "methods:\n  bilevel:\n    iterations: 5\n",
      /methods\.bilevel\.iterations: cannot be set \(got 5; it is 2000 here\): derived: ceil\(budget/,
    ],
    ["top.yaml", "seeds: 2\n", /seeds: unknown field/],
  ];
  const runs = await pool(
    cases,
    ([name, text]) => {
      const f = join(scratch, name);
      writeFileSync(f, text);
      return cli([
        "compare",
        "paper-discrete",
        "--seeds",
        "1",
        "--quiet",
        "--config",
        f,
        "--out",
        join(scratch, `bad-${name}`),
      ]);
    },
    2,
  );
  for (const [k, [name, , re]] of cases.entries()) {
    const r = runs[k];
    const out = join(scratch, `bad-${name}`);
    assert.equal(r.status, 2, `${name}: ${show(r)}`);
    assert.match(
      r.stderr,
      /^sim2real: invalid configuration for benchmark 'paper-discrete':/,
      `${name}: ${show(r)}`,
    );
    assert.match(r.stderr, re, `${name}: ${show(r)}`);
    assert.ok(!r.stderr.includes("    at "), `${name}: no stack trace: ${r.stderr}`);
    assert.ok(!existsSync(out), `${name}: nothing was run or written`);
  }
});
