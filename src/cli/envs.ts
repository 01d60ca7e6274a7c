/**
 * `sim2real envs`: the classic-control tasks (observation/action sizes and bounds, horizon, parameters)
 * and the named gaps with their syntax. `--json` prints one JSON object; unbounded limits are `null`.
 */
import type { Box, ControlEnv } from "../envs/control/env.ts";
import { ENVS, GAP_SYNTAX, GAPS } from "../envs/control/registry.ts";
import { MUJOCO_TASKS, mujocoEnvs } from "../envs/mujoco/index.ts";

/** What `envs` reports, as plain data (the JSON form): the classic tasks, then the MuJoCo ones. */
export async function envsListing() {
  const bound = (x: number) => (Number.isFinite(x) ? x : null);
  const boxData = (b: Box) => ({ low: Array.from(b.low, bound), high: Array.from(b.high, bound) });
  const mujoco = await mujocoEnvs();
  const makers: [string, string, () => ControlEnv & { dispose?: () => void }][] = [
    ...Object.entries(ENVS).map(
      ([name, e]) => [name, e.description, e.make] as [string, string, () => ControlEnv],
    ),
    ...MUJOCO_TASKS.map((t) => [t.name, t.description, mujoco[t.name]] as [string, string, () => ControlEnv]),
  ];
  return {
    envs: makers.map(([name, description, make]) => {
      const env = make();
      const row = {
        name,
        description,
        obsSize: env.observationSpace.low.length,
        actionSize: env.actionSpace.low.length,
        stateSize: env.stateSize,
        horizon: env.maxSteps,
        observationSpace: boxData(env.observationSpace),
        actionSpace: boxData(env.actionSpace),
        params: { ...env.defaultParams },
      };
      env.dispose?.();
      return row;
    }),
    gaps: Object.entries(GAPS).map(([name, g]) => ({
      name,
      description: g.description,
      magnitude: g.magnitude,
      defaultMagnitude: g.defaultMagnitude,
    })),
    gapSyntax: GAP_SYNTAX,
  };
}

function fmtBox(b: { low: (number | null)[]; high: (number | null)[] }): string {
  const f = (x: number | null, s: string) => (x === null ? `${s}inf` : String(Number(x.toPrecision(6))));
  return `[${b.low.map((l, i) => `${f(l, "-")}..${f(b.high[i], "")}`).join(", ")}]`;
}

export async function envsCommand(opts: { json?: boolean }): Promise<void> {
  const data = await envsListing();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  const out: string[] = ["Tasks:"];
  for (const e of data.envs) {
    out.push(`  ${e.name.padEnd(12)} ${e.description}`);
    out.push(
      `  ${"".padEnd(12)} obs ${e.obsSize} ${fmtBox(e.observationSpace)}; action ${e.actionSize} ${fmtBox(e.actionSpace)}; horizon ${e.horizon}`,
    );
    out.push(
      `  ${"".padEnd(12)} params ${Object.entries(e.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`,
    );
  }
  out.push("", `Gaps (${data.gapSyntax}):`);
  const w = Math.max(...data.gaps.map((g) => g.name.length)) + 2;
  for (const g of data.gaps) {
    out.push(`  ${g.name.padEnd(w)} ${g.description}`);
    out.push(`  ${"".padEnd(w)} magnitude: ${g.magnitude}; default ${g.defaultMagnitude}`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
