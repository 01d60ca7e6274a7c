/** `sim2real run <neural-network experiment>`: trials, per-trial CSV/JSON, plots, summary.json. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../common/errors.ts";
import {
  type NnTrialResult,
  resolveNnExperiment,
  runNnTrial,
  summarizeNnTrial,
} from "../experiments/nn-experiments.ts";
import { writeCsv, writeJson } from "../report/files.ts";
import { readConfigFile } from "./config-file.ts";
import { makeProgress } from "./progress.ts";
import { recordRun } from "./recorded.ts";
import { type RunOptions, writeReturnPlots } from "./run.ts";

/** Options of the other experiment families. */
const NOT_HERE = [
  "sensitivity",
  "simSteps",
  "objective",
  "adapt",
  "inner",
  "lqrSensitivity",
  "realGradient",
] as const;

export async function runNnCommand(name: string, o: RunOptions): Promise<void> {
  for (const k of NOT_HERE)
    if (o[k] !== undefined)
      throw new InputError(
        `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to the neural-network experiment '${name}'`,
        k,
      );
  const bilevel: Record<string, unknown> = {};
  for (const key of [
    "iterations",
    "stepSize",
    "stepDecay",
    "optimizer",
    "realTrajectories",
    "realHorizon",
  ] as const)
    if (o[key] !== undefined) bilevel[key] = o[key];
  const file = o.config === undefined ? undefined : readConfigFile(o.config);
  const { spec, problem } = resolveNnExperiment(name, { trials: o.trials, seed: o.seed, bilevel }, file);
  const out = o.out ?? join("sim2real-out", name);
  const rec = recordRun(o.store, name, spec, spec.seed, o.quiet ?? false);
  await rec.finish(async () => {
    const iters = spec.bilevel.iterations;
    const progress = makeProgress(name, spec.trials * (iters + 1), o.quiet ?? false);
    const results: NnTrialResult[] = [];
    for (let k = 0; k < spec.trials; k++)
      results.push(
        runNnTrial(
          spec,
          problem,
          k,
          rec.metrics(k, (step) => progress.update(k * (iters + 1) + step + 1)),
        ),
      );
    progress.stop();
    writeJson(join(out, "config.json"), spec);
    for (const t of results) {
      const rows = t.records.map((r) => ({
        iteration: r.iteration,
        normalized: Number.isNaN(r.normalized) ? null : r.normalized,
        realTransitions: r.realTransitions,
        gradNorm: Number.isNaN(r.gradNorm) ? null : r.gradNorm,
        innerIterations: r.innerIterations,
        innerGradNorm: r.innerGradNorm,
        krylovIterations: r.krylovIterations,
        krylovResidual: Number.isNaN(r.krylovResidual) ? null : r.krylovResidual,
        firstOrderCosine: Number.isNaN(r.firstOrderCosine) ? null : r.firstOrderCosine,
        seconds: r.seconds,
        ...Object.fromEntries(Array.from(r.theta, (v, i) => [`theta${i}`, v])),
      }));
      const base = `trial-${t.seed}`;
      writeCsv(join(out, `${base}.csv`), rows);
      const evaluated = t.records.filter((r) => !Number.isNaN(r.normalized));
      writeFileSync(
        join(out, `${base}.json`),
        `${JSON.stringify({
          seed: t.seed,
          theta0: Array.from(t.theta0),
          policyParameters: t.nParams,
          iteration: evaluated.map((r) => r.iteration),
          normalized: evaluated.map((r) => r.normalized),
          realTransitions: evaluated.map((r) => r.realTransitions),
          theta: evaluated.map((r) => Array.from(r.theta)),
        })}\n`,
      );
    }
    const summary = {
      experiment: name,
      policyParameters: results[0]?.nParams,
      trials: results.map(summarizeNnTrial),
    };
    writeJson(join(out, "summary.json"), summary);
    await writeReturnPlots(
      out,
      `${name}: normalised real return (MLP policy)`,
      "normalised return J_real(φ) / J*_linear",
      results.map((t) => {
        const ev = t.records.filter((r) => !Number.isNaN(r.normalized));
        return {
          name: `trial ${t.seed}`,
          iteration: ev.map((r) => r.iteration),
          realTransitions: ev.map((r) => r.realTransitions),
          y: ev.map((r) => r.normalized),
        };
      }),
      [0.98],
      true,
    );
    if (!o.quiet) {
      for (const t of summary.trials)
        process.stderr.write(
          `trial seed ${t.seed}: final ${t.final.normalized.toFixed(4)}, best ${t.best.toFixed(4)}, iterations to 0.95/0.98: ${t.itersTo["0.95"]}/${t.itersTo["0.98"]}, final θ = (${t.final.theta.map((v) => v.toFixed(3)).join(", ")}), real transitions ${t.realTransitions}, ${t.seconds.toFixed(0)} s\n`,
        );
      process.stderr.write(`wrote ${out}/summary.json, trial-*.csv/json, normalized-return.png/svg\n`);
    }
  });
}
