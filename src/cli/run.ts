/** `sim2real run <experiment>`: trials, per-trial CSV/JSON, plots, summary.json. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../common/errors.ts";
import type { TabularProblem } from "../envs/tabular.ts";
import { linearExperimentNames } from "../experiments/linear-gaussian-experiments.ts";
import { nnExperimentNames } from "../experiments/nn-experiments.ts";
import {
  resolveExperiment,
  summarizeTrial,
  type TabularExperiment,
  type TrialResult,
} from "../experiments/tabular-experiments.ts";
import type { IterationRecord } from "../outer/bilevel.ts";
import { writeCsv, writeJson } from "../report/files.ts";
import { writeLineChart } from "../report/plot.ts";
import { RunStore } from "../store/store.ts";
import { readConfigFile } from "./config-file.ts";
import { defaultStorePath } from "./context.ts";
import { Interrupted, runTabularDurable, stopSignal, trialsFromStore } from "./durable.ts";
import { makeProgress } from "./progress.ts";
import { startRun } from "./recorded.ts";

export interface RunOptions {
  out?: string;
  seed?: number;
  trials?: number;
  iterations?: number;
  stepSize?: number;
  stepDecay?: number;
  optimizer?: string;
  sensitivity?: string;
  realGradient?: string;
  realTrajectories?: number;
  realHorizon?: number;
  simSteps?: number;
  objective?: string;
  adapt?: string;
  inner?: string;
  lqrSensitivity?: string;
  /** A JSON or YAML config file (validated by the experiment's schema; flags override it). */
  config?: string;
  quiet?: boolean;
  /** Run store (default ./sim2real-runs/store.db, or $SIM2REAL_STORE). */
  store?: string;
  /** Checkpoint every this many outer iterations (tabular experiments). */
  checkpointEvery?: number;
}

export async function runCommand(name: string, o: RunOptions): Promise<void> {
  if (linearExperimentNames().includes(name)) {
    await (await import("./run-linear.ts")).runLinearCommand(name, o);
    return;
  }
  if (nnExperimentNames().includes(name)) {
    await (await import("./run-nn.ts")).runNnCommand(name, o);
    return;
  }
  for (const k of ["inner", "lqrSensitivity"] as const)
    if (o[k] !== undefined)
      throw new InputError(
        `--${k === "inner" ? "inner" : "lqr-sensitivity"} applies only to linear-Gaussian experiments, not to '${name}'`,
        k,
      );
  const bilevel: Record<string, unknown> = {};
  for (const key of [
    "iterations",
    "stepSize",
    "stepDecay",
    "optimizer",
    "sensitivity",
    "realGradient",
    "realTrajectories",
    "realHorizon",
    "simSteps",
    "objective",
    "adapt",
  ] as const)
    if (o[key] !== undefined) bilevel[key] = o[key];
  const file = o.config === undefined ? undefined : readConfigFile(o.config);
  const { spec, problem } = resolveExperiment(name, { trials: o.trials, seed: o.seed, bilevel }, file);
  const out = o.out ?? join("sim2real-out", name);
  const checkpointEvery = o.checkpointEvery ?? 10;
  const store = RunStore.open(o.store ?? defaultStorePath());
  try {
    const runId = startRun(store, name, spec, spec.seed, o.quiet ?? false);
    await continueTabularRun(store, runId, name, spec, problem, {
      out,
      checkpointEvery,
      quiet: o.quiet ?? false,
    });
  } finally {
    store.close();
  }
}

/** Run (or resume) a recorded tabular run to its end, then write its outputs from the store. */
export async function continueTabularRun(
  store: RunStore,
  runId: string,
  name: string,
  spec: TabularExperiment,
  problem: TabularProblem,
  o: { out: string; checkpointEvery: number; quiet: boolean },
): Promise<void> {
  const iters = spec.bilevel.iterations;
  const progress = makeProgress(name, spec.trials * (iters + 1), o.quiet);
  const stop = stopSignal();
  try {
    await runTabularDurable(store, runId, spec, problem, {
      out: o.out,
      checkpointEvery: o.checkpointEvery,
      progress,
      stop,
    });
  } catch (err) {
    progress.stop();
    if (!(err instanceof Interrupted)) store.setStatus(runId, "failed", String(err));
    throw err;
  } finally {
    stop.dispose();
  }
  progress.stop();
  // Completed only once the outputs exist: a run killed while writing them is resumed (and rewrites them).
  await writeTabularOutputs(o.out, name, spec, trialsFromStore(store, runId, spec), o.quiet);
  store.setStatus(runId, "completed");
}

/** Per-trial CSV/JSON, summary.json and the return plots of a tabular experiment. */
export async function writeTabularOutputs(
  out: string,
  name: string,
  spec: TabularExperiment,
  results: TrialResult[],
  quiet: boolean,
): Promise<void> {
  writeJson(join(out, "config.json"), spec);
  for (const t of results) {
    const rows = t.records.map((r) => ({
      iteration: r.iteration,
      soft: r.soft,
      hard: r.hard,
      realJ: r.realJ,
      realTransitions: r.realTransitions,
      gradNorm: Number.isNaN(r.gradNorm) ? null : r.gradNorm,
      innerIterations: r.innerIterations,
      innerResidual: r.innerResidual,
      ...Object.fromEntries(Array.from(r.theta, (v, i) => [`theta${i}`, v])),
    }));
    writeCsv(join(out, `trial-${t.seed}.csv`), rows);
    // Column-oriented and compact: one array per metric, θ as one row per iteration.
    const col = <K extends keyof IterationRecord>(k: K) => t.records.map((r) => r[k]);
    writeFileSync(
      join(out, `trial-${t.seed}.json`),
      `${JSON.stringify({
        seed: t.seed,
        theta0: Array.from(t.theta0),
        iteration: col("iteration"),
        soft: col("soft"),
        hard: col("hard"),
        realJ: col("realJ"),
        realTransitions: col("realTransitions"),
        gradNorm: t.records.map((r) => (Number.isNaN(r.gradNorm) ? null : r.gradNorm)),
        theta: t.records.map((r) => Array.from(r.theta)),
      })}\n`,
    );
  }
  const summary = { experiment: name, trials: results.map((t) => summarizeTrial(spec, t)) };
  writeJson(join(out, "summary.json"), summary);
  const key = spec.itersToObjective;
  await writeReturnPlots(
    out,
    `${name}: ${key}-normalised real return`,
    `normalised return (${key})`,
    results.map((t) => ({
      name: `trial ${t.seed}`,
      iteration: t.records.map((r) => r.iteration),
      realTransitions: t.records.map((r) => r.realTransitions),
      y: t.records.map((r) => r[key]),
    })),
    [0.95, 0.99],
    spec.bilevel.realGradient === "sampled",
  );
  if (!quiet) {
    for (const t of summary.trials)
      process.stderr.write(
        `trial seed ${t.seed}: final soft ${t.final.soft.toFixed(4)} hard ${t.final.hard.toFixed(4)}, iterations to 0.95/0.99 (${key}): ${t.itersTo["0.95"]}/${t.itersTo["0.99"]}, real transitions ${t.realTransitions}\n`,
      );
    process.stderr.write(`wrote ${out}/summary.json, trial-*.csv/json, normalized-return.png/svg\n`);
  }
}

/**
 * normalized-return.png/svg (against outer iteration) and, when real transitions were used,
 * normalized-return-vs-real-transitions.png/svg: one line per trial, dashed rules at the thresholds.
 */
export async function writeReturnPlots(
  out: string,
  title: string,
  yLabel: string,
  trials: { name: string; iteration: number[]; realTransitions: number[]; y: number[] }[],
  thresholds: number[],
  sampled: boolean,
): Promise<void> {
  const plot = (x: "iteration" | "realTransitions", xLabel: string, suffix: string, file: string) =>
    writeLineChart(
      {
        title: `${title}${suffix}`,
        xLabel,
        yLabel,
        series: trials.map((t) => ({ name: t.name, x: t[x], y: t.y })),
        rules: thresholds.map((y) => ({ y })),
      },
      join(out, file),
    );
  await plot("iteration", "outer iteration", "", "normalized-return");
  if (sampled)
    await plot(
      "realTransitions",
      "real transitions",
      " against real transitions",
      "normalized-return-vs-real-transitions",
    );
}
