/** Resolving a named experiment: its spec, the caller's overrides, validated once by its zod schema. */
import type { z } from "zod";
import { InputError } from "../common/errors.ts";

/**
 * `base` with the defined top-level `overrides` replaced and `bilevel` merged key by key, parsed by
 * `schema`. Invalid values become one InputError listing every field.
 */
export function resolveSpec<S extends z.ZodType>(
  schema: S,
  name: string,
  base: { bilevel?: Record<string, unknown> },
  overrides: { bilevel?: Record<string, unknown>; [key: string]: unknown },
): z.infer<S> {
  const { bilevel, ...top } = overrides;
  const defined = Object.fromEntries(Object.entries(top).filter(([, v]) => v !== undefined));
  const raw = { ...base, ...defined, bilevel: { ...(base.bilevel ?? {}), ...(bilevel ?? {}) } };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`);
    throw new InputError(`invalid configuration for '${name}':\n${lines.join("\n")}`, "config");
  }
  return parsed.data;
}
