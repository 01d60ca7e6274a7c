/** Built-in tabular problems. */

import type { TabularProblem } from "../envs/tabular.ts";
import { parseTabularProblem } from "../envs/tabular-problem.ts";

const paperP = [
  [
    [0.9, 0.08, 0.02],
    [0.15, 0.8, 0.05],
  ],
  [
    [0.1, 0.85, 0.05],
    [0.25, 0.05, 0.7],
  ],
  [
    [0.3, 0.05, 0.65],
    [0.1, 0.6, 0.3],
  ],
];
const paperR = [
  [0.5, 0.0],
  [0.5, 0.0],
  [3.0, 1.5],
];

/**
 * The bi-level paper's discrete example (Section 5): states 0, 1, 2; actions 0 = stay, 1 = move;
 * γ = 0.9, τ = 0.5, uniform start; the simulator starts accurate (θ^f = log P, θ^R = r).
 */
export function paperDiscreteProblem(): TabularProblem {
  return parseTabularProblem(
    {
      gamma: 0.9,
      temperature: 0.5,
      initialDistribution: [1 / 3, 1 / 3, 1 / 3],
      real: { transitions: paperP, rewards: paperR },
      simulator: { transitionLogits: paperP.map((r) => r.map((p) => p.map(Math.log))), rewards: paperR },
    },
    "paper-discrete",
  );
}
