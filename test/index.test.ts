/** The package entry point loads and exposes the documented surface. */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as sim2real from "../src/index.ts";

test("src/index.ts exposes the main entry points, and they work together", () => {
  for (const name of [
    "Rng",
    "runBilevel",
    "runGeneralBilevel",
    "SampledTheorem1",
    "GaussianMlpPolicy",
    "gmres",
  ])
    assert.ok(name in sim2real, `missing export ${name}`);
  const p = sim2real.paperDiscreteProblem();
  const sol = sim2real.softPolicyIteration(sim2real.problemSimulator(p, p.theta0), p.temperature);
  const rowSums = [0, 1, 2].map((s) => sol.pi[2 * s] + sol.pi[2 * s + 1]);
  assert.ok(
    rowSums.every((x) => Math.abs(x - 1) < 1e-12),
    `policy rows sum to 1: ${rowSums}`,
  );
});
