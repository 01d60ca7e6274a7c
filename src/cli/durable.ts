/**
 * Recorded, resumable runs of the tabular experiments: every metric and every real transition goes to
 * the run store, a checkpoint is taken every `checkpointEvery` outer iterations, and SIGINT/SIGTERM stop
 * between two iterations (after the current write) with the run marked interrupted. `resume` continues
 * from the last checkpoint and replays the recorded real transitions instead of collecting them again, so
 * an interrupted-and-resumed run ends with exactly the metrics of an uninterrupted one.
 */

import type { TabularProblem } from "../envs/tabular.ts";
import type { RealTransitionLog } from "../envs/tabular-rollout.ts";
import { type TabularExperiment, type TrialResult, trialStart } from "../experiments/tabular-experiments.ts";
import { type BilevelCheckpoint, BilevelRunner, type IterationRecord } from "../outer/bilevel.ts";
import type { RunStore } from "../store/store.ts";
import type { Progress } from "./progress.ts";

/** Thrown once a run has stopped on SIGINT/SIGTERM and been marked interrupted (exit code 130). */
export class Interrupted extends Error {
  override readonly name = "Interrupted";
  constructor(readonly runId: string) {
    super(`run ${runId} interrupted; continue it with \`sim2real resume ${runId}\``);
  }
}

/** SIGINT/SIGTERM set a flag that the run loop checks between iterations (the current write finishes). */
export function stopSignal(): { readonly requested: boolean; dispose(): void } {
  const state = { requested: false };
  const on = () => {
    state.requested = true;
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    get requested() {
      return state.requested;
    },
    dispose() {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}

/** What a checkpoint of a recorded tabular run holds. */
export interface DurableState {
  trial: number;
  runner: BilevelCheckpoint;
  /** Where the run writes its outputs and how often it checkpoints (so `resume` needs no flags). */
  out: string;
  checkpointEvery: number;
}

/** The store as the real-transition log of one trial (batch = outer iteration). */
function storeLog(store: RunStore, runId: string, trial: number): RealTransitionLog {
  return {
    recorded: (batch) => store.transitions(runId, trial, batch),
    commit: (batch, idx, data, rng) => store.appendTransition(runId, trial, batch, idx, data, rng),
  };
}

export interface DurableOptions {
  out: string;
  checkpointEvery: number;
  progress: Progress;
  stop: { readonly requested: boolean };
}

/**
 * Run (or continue) every trial of a recorded tabular run. Starts from the run's latest checkpoint when it
 * has one. Throws `Interrupted` after a stop signal (run marked interrupted, checkpoint saved).
 */
export async function runTabularDurable(
  store: RunStore,
  runId: string,
  spec: TabularExperiment,
  problem: TabularProblem,
  opts: DurableOptions,
): Promise<void> {
  const iters = spec.bilevel.iterations;
  const latest = store.latestCheckpoint(runId);
  const from = latest ? (latest.state as DurableState) : undefined;
  let lastYield = Date.now();
  for (let k = from ? from.trial : 0; k < spec.trials; k++) {
    const options = {
      onMetrics: (step: number, m: Record<string, number>) => store.putMetrics(runId, k, step, m),
      realLog: storeLog(store, runId, k),
    };
    const resumed = from && from.trial === k ? from.runner : undefined;
    let runner: BilevelRunner;
    if (resumed) runner = BilevelRunner.restore(problem, spec.bilevel, resumed, options);
    else {
      const { rng, theta0 } = trialStart(spec, problem, k);
      runner = new BilevelRunner(problem, theta0, spec.bilevel, rng, options);
    }
    const save = () =>
      store.saveCheckpoint(runId, k, runner.iteration, {
        trial: k,
        runner: runner.checkpoint(),
        out: opts.out,
        checkpointEvery: opts.checkpointEvery,
      } satisfies DurableState);
    if (!resumed) save();
    while (runner.step()) {
      opts.progress.update(k * (iters + 1) + runner.iteration);
      if (runner.iteration % opts.checkpointEvery === 0) save();
      // Let SIGINT/SIGTERM handlers run (they are delivered by the event loop) about every 50 ms.
      if (Date.now() - lastYield > 50) {
        await new Promise((r) => setImmediate(r));
        lastYield = Date.now();
      }
      if (opts.stop.requested) {
        save();
        store.setStatus(runId, "interrupted");
        throw new Interrupted(runId);
      }
    }
    opts.progress.update((k + 1) * (iters + 1));
  }
}

/** The trials of a recorded tabular run, rebuilt from the store's metrics (bit-exact doubles). */
export function trialsFromStore(store: RunStore, runId: string, spec: TabularExperiment): TrialResult[] {
  const out: TrialResult[] = [];
  for (let k = 0; k < spec.trials; k++) {
    const byStep = new Map<number, Map<string, number>>();
    for (const row of store.metrics(runId, { trial: k })) {
      const m = byStep.get(row.step) ?? new Map<string, number>();
      byStep.set(row.step, m);
      m.set(row.key, row.value);
    }
    const records: IterationRecord[] = [...byStep.keys()]
      .sort((a, b) => a - b)
      .map((step) => {
        const m = byStep.get(step) as Map<string, number>;
        const nth = [...m.keys()].filter((key) => key.startsWith("theta/")).length;
        return {
          iteration: step,
          soft: m.get("real/softNormalized") ?? Number.NaN,
          hard: m.get("real/hardNormalized") ?? Number.NaN,
          realJ: m.get("real/J") ?? Number.NaN,
          realTransitions: m.get("real/transitions") ?? 0,
          theta: Float64Array.from({ length: nth }, (_, i) => m.get(`theta/${i}`) ?? Number.NaN),
          gradNorm: m.get("outer/gradNorm") ?? Number.NaN,
          innerIterations: m.get("inner/iterations") ?? Number.NaN,
          innerResidual: m.get("inner/residual") ?? Number.NaN,
        };
      });
    if (records.length === 0) throw new Error(`run ${runId} has no metrics for trial ${k}`);
    out.push({ seed: spec.seed + k, theta0: records[0].theta, records });
  }
  return out;
}
