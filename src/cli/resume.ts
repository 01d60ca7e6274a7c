/** `sim2real resume <run>`: continue an interrupted or crashed recorded run from its last checkpoint. */
import { join } from "node:path";
import { InputError } from "../common/errors.ts";
import { TABULAR_EXPERIMENTS, TabularExperimentSchema } from "../experiments/tabular-experiments.ts";
import { RunStore } from "../store/store.ts";
import { defaultStorePath } from "./context.ts";
import type { DurableState } from "./durable.ts";
import { continueTabularRun } from "./run.ts";

export async function resumeCommand(id: string, o: { store?: string; out?: string; quiet?: boolean }) {
  const store = RunStore.open(o.store ?? defaultStorePath());
  try {
    const run = store.getRun(id);
    if (run.status === "completed")
      throw new InputError(
        `run ${run.id} has completed: nothing to resume (see \`sim2real show ${run.id}\`)`,
        "run",
      );
    const named = TABULAR_EXPERIMENTS[run.experiment];
    if (!named)
      throw new InputError(
        `run ${run.id} is a '${run.experiment}' run; resume supports the tabular experiments (${Object.keys(TABULAR_EXPERIMENTS).join(", ")})`,
        "run",
      );
    const parsed = TabularExperimentSchema.safeParse(run.config);
    if (!parsed.success)
      throw new InputError(
        `run ${run.id}: its stored config no longer validates: ${parsed.error.message}`,
        "config",
      );
    const state = store.latestCheckpoint(run.id)?.state as DurableState | undefined;
    store.setStatus(run.id, "running");
    if (!o.quiet) process.stderr.write(`resuming run ${run.id} (store ${store.path})\n`);
    await continueTabularRun(store, run.id, run.experiment, parsed.data, named.problem(), {
      out: o.out ?? state?.out ?? join("sim2real-out", run.experiment),
      checkpointEvery: state?.checkpointEvery ?? 10,
      quiet: o.quiet ?? false,
    });
  } finally {
    store.close();
  }
}
