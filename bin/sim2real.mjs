#!/usr/bin/env node
// Entry point: runs the TypeScript sources through tsx (no build step), then hands over to the CLI.
import { register } from "tsx/esm/api";

register();
// `sim2real … | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
