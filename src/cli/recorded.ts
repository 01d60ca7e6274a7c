/**
 * A recorded run for the experiments whose loops are not yet resumable (linear-Gaussian, neural-network):
 * the run, its resolved config and every metric go to the store, and the run ends completed or failed.
 */
import type { RealTransitionLog } from "../envs/real-log.ts";
import type { MetricsCallback } from "../outer/bilevel.ts";
import { RunStore } from "../store/store.ts";
import { defaultStorePath, gitCommit, PACKAGE_VERSION } from "./context.ts";

export interface RecordedRun {
  readonly id: string;
  /** The metrics callback of trial `trial`, chained after `then` (e.g. the progress bar). */
  metrics(trial: number, then?: MetricsCallback): MetricsCallback;
  /** The store as trial `trial`'s log of real transitions (committed as they happen; no replay). */
  realLog(trial: number): RealTransitionLog;
  /** Run `body`, then mark the run completed (or failed, with the error, if it throws) and close the store. */
  finish<T>(body: () => Promise<T> | T): Promise<T>;
}

/** A new run in `store` (status running) with this installation's version, commit and command line; says
 * its id on stderr unless quiet. */
export function startRun(
  store: RunStore,
  experiment: string,
  config: unknown,
  seed: number,
  quiet: boolean,
): string {
  const id = store.createRun({
    experiment,
    config,
    seed,
    version: PACKAGE_VERSION,
    commit: gitCommit(),
    command: process.argv.slice(2),
  });
  if (!quiet) process.stderr.write(`run ${id} (store ${store.path})\n`);
  return id;
}

export function recordRun(
  storePath: string | undefined,
  experiment: string,
  config: unknown,
  seed: number,
  quiet: boolean,
): RecordedRun {
  const store = RunStore.open(storePath ?? defaultStorePath());
  let id: string;
  try {
    id = startRun(store, experiment, config, seed, quiet);
  } catch (err) {
    store.close();
    throw err;
  }
  return {
    id,
    metrics: (trial, then) => (step, m) => {
      store.putMetrics(id, trial, step, m);
      then?.(step, m);
    },
    realLog: (trial) => ({
      recorded: () => [],
      commit: (batch, idx, data, rng) => store.appendTransition(id, trial, batch, idx, data, rng),
    }),
    async finish(body) {
      try {
        const out = await body();
        store.setStatus(id, "completed");
        return out;
      } catch (err) {
        store.setStatus(id, "failed", String(err));
        throw err;
      } finally {
        store.close();
      }
    },
  };
}
