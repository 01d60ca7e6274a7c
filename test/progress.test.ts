/** Progress lines in CI logs: printed while a synchronous run holds the event loop. */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { makeProgress } from "../src/cli/progress.ts";

test("non-terminal progress prints a line per interval from update(), without the event loop", () => {
  let text = "";
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    }),
    { isTTY: false },
  );
  let clock = 0;
  const p = makeProgress("run", 100, false, { stream, now: () => clock, interval: 5000 });
  // A synchronous loop: the clock advances 1 s per step, no timer can fire.
  for (let k = 1; k <= 20; k++) {
    clock += 1000;
    p.update(k);
  }
  p.stop();
  const lines = text.split("\n").filter((l) => l.includes("run ["));
  // The start line, one every 5 s of the 20 (4) and the final one from stop().
  assert.ok(lines.length >= 5, `expected ≥ 5 progress lines, got ${lines.length}: ${JSON.stringify(lines)}`);
  assert.ok(
    lines.some((l) => l.includes("| 10/100")),
    `a line at 10/100: ${JSON.stringify(lines)}`,
  );
});
