/**
 * Resolving a named experiment: its spec, then an optional config file, then the command line's
 * overrides (each layer deep-merged over the previous one), validated once by its zod schema.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";

type Plain = Record<string, unknown>;

/** The fields every named experiment's schema starts with. */
export const experimentFields = {
  experiment: z.string().describe("Experiment name"),
  version: z
    .number()
    .int()
    .default(1)
    .describe("Bumped whenever a default changes what the experiment computes"),
  trials: z.number().int().positive().default(5).describe("Independent trials"),
  seed: z.number().int().nonnegative().default(0).describe("Trial k uses seed + k"),
};

/** A named experiment: what it is, its problem, and its spec (the schema's input). */
export interface NamedExperiment<S extends z.ZodType, P> {
  description: string;
  problem: () => P;
  spec: z.input<S>;
}

export const isPlain = (v: unknown): v is Plain =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/** b over a: plain objects merge key by key, everything else (arrays included) replaces. */
export function deepMerge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (!isPlain(a) || !isPlain(b)) return b;
  const out: Plain = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(a[k], v);
  return out;
}

/** Field paths present in `given` but absent from the parsed result: unknown (or misspelt) fields. */
export function unknownFields(given: unknown, parsed: unknown, path: string[] = []): string[] {
  if (!isPlain(given) || !isPlain(parsed)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(given)) {
    if (!(k in parsed)) out.push([...path, k].join("."));
    else out.push(...unknownFields(v, parsed[k], [...path, k]));
  }
  return out;
}

/**
 * `base`, then `file` (a config file's contents), then the defined top-level `overrides` with `bilevel`
 * merged key by key, parsed by `schema`. Invalid values and unknown fields become one InputError
 * listing every field.
 */
export function resolveSpec<S extends z.ZodType>(
  schema: S,
  name: string,
  base: { bilevel?: Plain },
  overrides: { bilevel?: Plain; [key: string]: unknown },
  file?: unknown,
): z.infer<S> {
  if (file !== undefined && !isPlain(file))
    throw new InputError(
      `invalid configuration for '${name}': the config file must hold an object`,
      "config",
    );
  const { bilevel, ...top } = overrides;
  const defined = Object.fromEntries(Object.entries(top).filter(([, v]) => v !== undefined));
  const cli = { ...defined, ...(bilevel && Object.keys(bilevel).length > 0 ? { bilevel } : {}) };
  const raw = deepMerge(deepMerge(base, file ?? {}), cli);
  const parsed = schema.safeParse(raw);
  const lines: string[] = [];
  if (!parsed.success) lines.push(...parsed.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`));
  else for (const f of unknownFields(file, parsed.data)) lines.push(`  - ${f}: unknown field`);
  if (lines.length > 0)
    throw new InputError(`invalid configuration for '${name}':\n${lines.join("\n")}`, "config");
  return (parsed as { data: z.infer<S> }).data;
}
