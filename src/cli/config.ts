/** `sim2real config <experiment>`: the resolved defaults of a named experiment, each with its documentation. */
import type { z } from "zod";
import { InputError } from "../common/errors.ts";
import { LINEAR_EXPERIMENTS, LinearExperimentSchema } from "../experiments/linear-gaussian-experiments.ts";
import { NN_EXPERIMENTS, NnExperimentSchema } from "../experiments/nn-experiments.ts";
import { resolveSpec } from "../experiments/resolve.ts";
import { TABULAR_EXPERIMENTS, TabularExperimentSchema } from "../experiments/tabular-experiments.ts";
import { readConfigFile } from "./config-file.ts";

interface Described {
  description?: string;
  shape?: Record<string, Described>;
  _zod?: { def?: { innerType?: Described } };
}

/** The object schema inside default/optional wrappers, if any. */
function objectShape(s: Described): Record<string, Described> | undefined {
  let cur: Described | undefined = s;
  while (cur) {
    if (cur.shape) return cur.shape;
    cur = cur._zod?.def?.innerType;
  }
  return undefined;
}

function lines(schema: Described, value: Record<string, unknown>, indent: string): string[] {
  const shape = objectShape(schema) ?? {};
  const out: string[] = [];
  for (const [key, field] of Object.entries(shape)) {
    const v = value[key];
    const doc = field.description ? `  # ${field.description}` : "";
    if (objectShape(field) && v && typeof v === "object" && !Array.isArray(v)) {
      out.push(`${indent}${key}:${doc}`);
      out.push(...lines(field, v as Record<string, unknown>, `${indent}  `));
    } else out.push(`${indent}${key}: ${JSON.stringify(v)}${doc}`);
  }
  return out;
}

export function configCommand(name: string, o: { json?: boolean; config?: string }): void {
  const file = o.config === undefined ? undefined : readConfigFile(o.config);
  let schema: z.ZodType;
  let spec: unknown;
  let description: string;
  if (TABULAR_EXPERIMENTS[name]) {
    schema = TabularExperimentSchema;
    spec = resolveSpec(TabularExperimentSchema, name, TABULAR_EXPERIMENTS[name].spec, {}, file);
    description = TABULAR_EXPERIMENTS[name].description;
  } else if (LINEAR_EXPERIMENTS[name]) {
    schema = LinearExperimentSchema;
    spec = resolveSpec(LinearExperimentSchema, name, LINEAR_EXPERIMENTS[name].spec, {}, file);
    description = LINEAR_EXPERIMENTS[name].description;
  } else if (NN_EXPERIMENTS[name]) {
    schema = NnExperimentSchema;
    spec = resolveSpec(NnExperimentSchema, name, NN_EXPERIMENTS[name].spec, {}, file);
    description = NN_EXPERIMENTS[name].description;
  } else
    throw new InputError(
      `unknown experiment '${name}'; known: ${[...Object.keys(TABULAR_EXPERIMENTS), ...Object.keys(LINEAR_EXPERIMENTS), ...Object.keys(NN_EXPERIMENTS)].join(", ")}`,
      "experiment",
    );
  if (o.json) {
    process.stdout.write(`${JSON.stringify(spec, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `# ${name}: ${description}\n${lines(schema as Described, spec as Record<string, unknown>, "").join("\n")}\n`,
  );
}
