/** `sim2real config`: resolved defaults with documentation, checked against the experiment resolvers. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { BENCHMARKS, resolveBenchmark } from "../src/experiments/benchmarks.ts";
import { resolveLinearExperiment } from "../src/experiments/linear-gaussian-experiments.ts";
import { resolveExperiment } from "../src/experiments/tabular-experiments.ts";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["bin/sim2real.mjs", ...args], { encoding: "utf8" });

test("config --json equals the resolved experiment spec (tabular and linear-Gaussian)", () => {
  const tab = cli("config", "paper-discrete-sampled", "--json");
  assert.equal(tab.status, 0, tab.stderr);
  assert.deepEqual(JSON.parse(tab.stdout), resolveExperiment("paper-discrete-sampled").spec, tab.stdout);
  const lin = cli("config", "paper-continuous-sampled", "--json");
  assert.equal(lin.status, 0, lin.stderr);
  assert.deepEqual(
    JSON.parse(lin.stdout),
    resolveLinearExperiment("paper-continuous-sampled").spec,
    lin.stdout,
  );
});

test("config text output documents every field; unknown experiment exits 2", () => {
  const r = cli("config", "paper-continuous");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /stepSize: 0\.1 {2}# Outer step size/, r.stdout);
  assert.match(r.stdout, /lqrSensitivity: "riccati" {2}# dK\/dθ of the LQR gain/, r.stdout);
  const bad = cli("config", "no-such-experiment");
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /^sim2real: unknown experiment 'no-such-experiment'/, bad.stderr);
  assert.ok(!bad.stderr.includes("    at "), bad.stderr);
});

test("config files: YAML and JSON layer between the named spec and the flags; unknown fields, bad syntax and missing files exit 2", () => {
  const dir = mkdtempSync(join(tmpdir(), "sim2real-config-"));
  const yml = join(dir, "exp.yaml");
  writeFileSync(yml, "trials: 2\nbilevel:\n  stepSize: 0.3\n");
  const r = cli("config", "paper-discrete", "--json", "--config", yml);
  assert.equal(r.status, 0, r.stderr);
  const spec = JSON.parse(r.stdout);
  assert.equal(spec.trials, 2, r.stdout);
  assert.equal(spec.bilevel.stepSize, 0.3, r.stdout);
  assert.deepEqual(
    spec,
    resolveExperiment("paper-discrete", {}, { trials: 2, bilevel: { stepSize: 0.3 } }).spec,
  );
  // Nested objects merge key by key: the file changes one inner field, the named spec keeps the rest.
  const js = join(dir, "nn.json");
  writeFileSync(js, JSON.stringify({ bilevel: { inner: { actorLr: 0.02 } } }));
  const nn = cli("config", "paper-continuous-nn", "--json", "--config", js);
  assert.equal(nn.status, 0, nn.stderr);
  const nnSpec = JSON.parse(nn.stdout);
  assert.equal(nnSpec.bilevel.inner.actorLr, 0.02, nn.stdout);
  assert.equal(nnSpec.bilevel.inner.temperature, 0, "the named spec's other inner fields stay");
  // Flags win over the file.
  const layered = resolveExperiment(
    "paper-discrete",
    { trials: 1, bilevel: { stepSize: 0.05 } },
    { trials: 2, bilevel: { stepSize: 0.3, iterations: 7 } },
  ).spec;
  assert.deepEqual([layered.trials, layered.bilevel.stepSize, layered.bilevel.iterations], [1, 0.05, 7]);
  const cases: [string, string, RegExp][] = [
    ["typo.yaml", "bilevel:\n  stepsize: 0.3\n", /bilevel\.stepsize: unknown field/],
    ["bad.json", "{bad", /is not valid JSON/],
    ["bad.yaml", "a: [1, 2\n", /is not valid YAML/],
    ["neg.yaml", "trials: -1\n", /trials: /],
    ["list.yaml", "- 1\n- 2\n", /must hold an object/],
  ];
  for (const [name, text, re] of cases) {
    const f = join(dir, name);
    writeFileSync(f, text);
    const bad = cli("config", "paper-discrete", "--config", f);
    assert.equal(bad.status, 2, `${name}: ${bad.stderr}`);
    assert.match(bad.stderr, re, `${name}: ${bad.stderr}`);
    assert.ok(!bad.stderr.includes("    at "), `${name}: no stack trace: ${bad.stderr}`);
  }
  const missing = cli("config", "paper-discrete", "--config", join(dir, "nope.yaml"));
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /cannot read config file .*nope\.yaml: ENOENT/, missing.stderr);
});

test("config <benchmark>: every method's settings with their documentation; the text is the --json file as YAML", () => {
  const r = cli("config", "paper-discrete", "--benchmark");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# paper-discrete: Bi-level paper §5 discrete MDP/, r.stdout);
  assert.match(r.stdout, /^methods:$/m, r.stdout);
  assert.match(r.stdout, /^ {2}bilevel: {2}# bi-level SPG \(sampled Theorem 1/m, r.stdout);
  assert.match(r.stdout, /^ {4}stepSize: 0\.1 {2}# Outer step size/m, r.stdout);
  assert.match(r.stdout, /^ {4}budget: 2000 {2}# Real transitions to consume in total/m, r.stdout);
  assert.match(
    r.stdout,
    /^ {4}iterations: 2000 {2}# \[derived: ceil\(budget \/ \(realTrajectories/m,
    r.stdout,
  );
  assert.match(
    r.stdout,
    /^ {6}iterations: 2000 {2}# \[derived: ceil\(\(budget − sysidTransitions\)/m,
    r.stdout,
  );
  assert.match(r.stdout, /^ {4}objective: "soft" {2}# \[fixed by the benchmark: its judge/m, r.stdout);
  assert.match(r.stdout, /^ {4}# centre: {2}# \[set per seed: the seed's starting θ₀\]/m, r.stdout);
  const json = cli("config", "paper-discrete", "--benchmark", "--json");
  assert.equal(json.status, 0, json.stderr);
  const resolved = JSON.parse(json.stdout);
  assert.deepEqual(
    resolved,
    JSON.parse(
      JSON.stringify({
        methods: Object.fromEntries(
          resolveBenchmark(BENCHMARKS["paper-discrete"]).map((m) => [m.name, m.config]),
        ),
      }),
    ),
    "--json is the in-process resolution",
  );
  assert.deepEqual(parseYaml(r.stdout), resolved, "the documented text parses as YAML to the --json output");
  // A name that is only a benchmark needs no flag; a shared name without it is still the experiment.
  const agg = cli("config", "aggregated-states");
  assert.equal(agg.status, 0, agg.stderr);
  assert.match(agg.stdout, /^# aggregated-states: /, agg.stdout);
  const exp = cli("config", "paper-discrete");
  assert.match(exp.stdout, /^trials: 5/m, exp.stdout);
  assert.doesNotMatch(exp.stdout, /^methods:/m, exp.stdout);
  const bad = cli("config", "no-such-benchmark", "--benchmark");
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /^sim2real: unknown benchmark 'no-such-benchmark'; known: paper-discrete,/,
    bad.stderr,
  );
});

test("config <benchmark> --config: the file's method fields are resolved and validated, nothing run", () => {
  const dir = mkdtempSync(join(tmpdir(), "sim2real-config-"));
  const yml = join(dir, "methods.yaml");
  writeFileSync(yml, "methods:\n  spsa:\n    a: 0.1\n  hybrid:\n    bilevel:\n      realTrajectories: 20\n");
  const r = cli("config", "paper-continuous", "--benchmark", "--json", "--config", yml);
  assert.equal(r.status, 0, r.stderr);
  const { methods } = JSON.parse(r.stdout);
  assert.equal(methods.spsa.a, 0.1, r.stdout);
  assert.equal(methods.spsa.c, 0.4, "the other fields keep their built-in values");
  assert.equal(methods.hybrid.bilevel.realTrajectories, 20, r.stdout);
  assert.equal(methods.hybrid.bilevel.iterations, 500, "ceil((400000 − 200) / (20 × 40))");
  assert.equal(methods.hybrid.bilevel.inner, "exact", "the benchmark's inner solver stays");
  assert.equal(methods.bilevel.iterations, 100, "the other methods keep their settings");
  writeFileSync(yml, "methods:\n  spsa:\n    a: 0\n  sysidd: {}\n");
  const bad = cli("config", "paper-continuous", "--benchmark", "--config", yml);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /methods\.spsa\.a: Too small/, bad.stderr);
  assert.match(bad.stderr, /methods\.sysidd: unknown method/, bad.stderr);
});
