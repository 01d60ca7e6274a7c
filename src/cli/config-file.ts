/** Experiment and method config files: JSON (`.json`) or YAML (anything else), read once, bad input → exit 2. */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { InputError } from "../common/errors.ts";

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(
      `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      "config",
    );
  }
  try {
    return path.toLowerCase().endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const kind = path.toLowerCase().endsWith(".json") ? "JSON" : "YAML";
    throw new InputError(
      `config file ${path} is not valid ${kind}: ${(e as Error).message.split("\n")[0]}`,
      "config",
    );
  }
}
