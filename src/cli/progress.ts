/** Progress output: a bar with ETA on a terminal, plain periodic lines otherwise (CI logs), nothing with --quiet. */
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Clock in ms (tests). */
  now?: () => number;
  /** Milliseconds between plain lines when the stream is not a terminal (default 5000). */
  interval?: number;
}

export function makeProgress(
  label: string,
  total: number,
  quiet: boolean,
  options: ProgressOptions = {},
): Progress {
  if (quiet) return { update() {}, stop() {} };
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const interval = options.interval ?? 5000;
  const tty = stream.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: interval,
      stream,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  let last = now();
  return {
    update: (done) => {
      bar.update(done);
      // cli-progress prints non-terminal lines from a timer, which never fires while a synchronous
      // computation holds the event loop: print them from here instead.
      if (!tty && now() - last >= interval) {
        bar.render();
        last = now();
      }
    },
    stop: () => bar.stop(),
  };
}
