/**
 * `sim2real envs`: the classic-control tasks (observation/action sizes and bounds, horizon, parameters)
 * and the named gaps with their syntax. `--json` prints one JSON object; unbounded limits are `null`.
 */
import type { Box } from "../envs/control/env.ts";
import { ENVS, GAP_SYNTAX, GAPS } from "../envs/control/registry.ts";

/** What `envs` reports, as plain data (the JSON form). */
export function envsListing() {
  const bound = (x: number) => (Number.isFinite(x) ? x : null);
  const boxData = (b: Box) => ({ low: Array.from(b.low, bound), high: Array.from(b.high, bound) });
  return {
    envs: Object.entries(ENVS).map(([name, entry]) => {
      const env = entry.make();
      return {
        name,
        description: entry.description,
        obsSize: env.observationSpace.low.length,
        actionSize: env.actionSpace.low.length,
        stateSize: env.stateSize,
        horizon: env.maxSteps,
        observationSpace: boxData(env.observationSpace),
        actionSpace: boxData(env.actionSpace),
        params: { ...env.defaultParams },
      };
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

export function envsCommand(opts: { json?: boolean }): void {
  const data = envsListing();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  const out: string[] = ["Tasks:"];
  for (const e of data.envs) {
    out.push(`  ${e.name.padEnd(10)} ${e.description}`);
    out.push(
      `  ${"".padEnd(10)} obs ${e.obsSize} ${fmtBox(e.observationSpace)}; action ${e.actionSize} ${fmtBox(e.actionSpace)}; horizon ${e.horizon}`,
    );
    out.push(
      `  ${"".padEnd(10)} params ${Object.entries(e.params)
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
