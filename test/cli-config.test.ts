/** `sim2real config`: resolved defaults with documentation, checked against the experiment resolvers. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
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
