/** `sim2real run <linear-Gaussian experiment>`: trials per inner solver, CSV/JSON, plots, summary.json. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type LinearTrialResult,
  realOptimum,
  resolveLinearExperiment,
  runLinearTrial,
  summarizeLinearTrial,
} from "../experiments/linear-gaussian-experiments.ts";
import type { LinearInnerSolver } from "../outer/bilevel-linear-gaussian.ts";
import { writeCsv, writeJson } from "../report/files.ts";
import { readConfigFile } from "./config-file.ts";
import { makeProgress } from "./progress.ts";
import { recordRun } from "./recorded.ts";
import { type RunOptions, writeReturnPlots } from "./run.ts";

/** Options that only tabular experiments have. */
const TABULAR_ONLY = ["sensitivity", "simSteps", "objective"] as const;

export async function runLinearCommand(name: string, o: RunOptions): Promise<void> {
  for (const k of TABULAR_ONLY)
    if (o[k] !== undefined) {
      const { InputError } = await import("../common/errors.ts");
      throw new InputError(
        `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to the linear-Gaussian experiment '${name}'`,
        k,
      );
    }
  const bilevel: Record<string, unknown> = {};
  for (const key of [
    "iterations",
    "stepSize",
    "stepDecay",
    "optimizer",
    "realGradient",
    "realTrajectories",
    "realHorizon",
    "adapt",
    "lqrSensitivity",
  ] as const)
    if (o[key] !== undefined) bilevel[key] = o[key];
  const inners = o.inner?.split(",").map((s) => s.trim()) as LinearInnerSolver[] | undefined;
  const file = o.config === undefined ? undefined : readConfigFile(o.config);
  const { spec, problem } = resolveLinearExperiment(
    name,
    { trials: o.trials, seed: o.seed, inners, bilevel },
    file,
  );
  const out = o.out ?? join("sim2real-out", name);
  const rec = recordRun(o.store, name, spec, spec.seed, o.quiet ?? false);
  await rec.finish(async () => {
    const iters = spec.bilevel.iterations;
    const runs = spec.inners.length * spec.trials;
    const progress = makeProgress(name, runs * (iters + 1), o.quiet ?? false);
    const optimum = realOptimum(problem);
    const results: LinearTrialResult[] = [];
    let done = 0;
    for (const inner of spec.inners)
      for (let k = 0; k < spec.trials; k++) {
        results.push(
          runLinearTrial(
            spec,
            problem,
            inner,
            k,
            optimum,
            rec.metrics(done, (step) => progress.update(done * (iters + 1) + step + 1)),
            rec.realLog(done),
          ),
        );
        done++;
      }
    progress.stop();
    writeJson(join(out, "config.json"), { ...spec, realOptimum: { K: Array.from(optimum.K), J: optimum.J } });
    for (const t of results) {
      const rows = t.records.map((r) => ({
        iteration: r.iteration,
        normalized: r.normalized,
        realJ: r.realJ,
        realTransitions: r.realTransitions,
        gradNorm: Number.isNaN(r.gradNorm) ? null : r.gradNorm,
        innerResidual: r.innerResidual,
        backtracks: r.backtracks,
        ...Object.fromEntries(Array.from(r.K, (v, i) => [`K${i}`, v])),
        ...Object.fromEntries(Array.from(r.theta, (v, i) => [`theta${i}`, v])),
      }));
      const base = `trial-${t.inner}-${t.seed}`;
      writeCsv(join(out, `${base}.csv`), rows);
      writeFileSync(
        join(out, `${base}.json`),
        `${JSON.stringify({
          seed: t.seed,
          inner: t.inner,
          theta0: Array.from(t.theta0),
          iteration: t.records.map((r) => r.iteration),
          normalized: t.records.map((r) => r.normalized),
          realJ: t.records.map((r) => r.realJ),
          realTransitions: t.records.map((r) => r.realTransitions),
          K: t.records.map((r) => Array.from(r.K)),
          theta: t.records.map((r) => Array.from(r.theta)),
        })}\n`,
      );
    }
    const summary = { experiment: name, trials: results.map(summarizeLinearTrial) };
    writeJson(join(out, "summary.json"), summary);
    const label = (t: LinearTrialResult) => `${t.inner === "lqr" ? "LQR" : "exact"} inner, trial ${t.seed}`;
    await writeReturnPlots(
      out,
      `${name}: normalised real return`,
      "normalised return J_real(K) / J*",
      results.map((t) => ({
        name: label(t),
        iteration: t.records.map((r) => r.iteration),
        realTransitions: t.records.map((r) => r.realTransitions),
        y: t.records.map((r) => r.normalized),
      })),
      [0.99, 0.999],
      spec.bilevel.realGradient === "sampled",
    );
    if (!o.quiet) {
      for (const t of summary.trials)
        process.stderr.write(
          `${t.inner} trial seed ${t.seed}: final ${t.final.normalized.toFixed(5)}, iterations to 0.99/0.999: ${t.itersTo["0.99"]}/${t.itersTo["0.999"]}, final θ = (${t.final.theta.map((v) => v.toFixed(3)).join(", ")}), K = (${t.final.K.map((v) => v.toFixed(4)).join(", ")}), real transitions ${t.realTransitions}\n`,
        );
      process.stderr.write(`wrote ${out}/summary.json, trial-*.csv/json, normalized-return.png/svg\n`);
    }
  });
}
