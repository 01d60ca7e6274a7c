/**
 * Adam (Kingma & Ba 2015) on flat Float64Arrays, with bias correction, in the form PyTorch uses:
 *   m ← β1 m + (1 − β1) g,  v ← β2 v + (1 − β2) g²,
 *   params ← params ∓ lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε).
 * Sign convention: `grad` is the gradient of the objective as given. By default Adam MINIMISES it
 * (params move against grad, the "−" above); with `maximize: true` it ascends (the "+"), so a
 * log-likelihood or return gradient can be passed without negating it.
 * The first step is therefore ∓ lr · g / (|g| + ε) per entry: about lr in size whatever the scale of g.
 */

export interface AdamOptions {
  /** Step size, > 0. */
  lr: number;
  /** First-moment decay in [0, 1); default 0.9. */
  beta1?: number;
  /** Second-moment decay in [0, 1); default 0.999. */
  beta2?: number;
  /** Added to √v̂, ≥ 0; default 1e-8. */
  eps?: number;
  /** Ascend instead of descend; default false. */
  maximize?: boolean;
}

/** Everything needed to continue exactly where a run stopped; plain JSON (numbers round-trip exactly). */
export interface AdamState {
  size: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  maximize: boolean;
  /** Steps taken so far. */
  t: number;
  m: number[];
  v: number[];
}

function checkLr(lr: number): number {
  if (!(Number.isFinite(lr) && lr > 0))
    throw new RangeError(`Adam lr must be a finite number > 0, got ${lr}`);
  return lr;
}

function checkBeta(name: string, b: number): number {
  if (!(Number.isFinite(b) && b >= 0 && b < 1))
    throw new RangeError(`Adam ${name} must be in [0, 1), got ${b}`);
  return b;
}

export class Adam {
  readonly size: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly maximize: boolean;
  private lrValue: number;
  private t = 0;
  private readonly m: Float64Array;
  private readonly v: Float64Array;

  constructor(size: number, options: AdamOptions) {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new RangeError(`Adam size must be an integer ≥ 0, got ${size}`);
    this.size = size;
    this.lrValue = checkLr(options.lr);
    this.beta1 = checkBeta("beta1", options.beta1 ?? 0.9);
    this.beta2 = checkBeta("beta2", options.beta2 ?? 0.999);
    this.eps = options.eps ?? 1e-8;
    if (!(Number.isFinite(this.eps) && this.eps >= 0))
      throw new RangeError(`Adam eps must be a finite number ≥ 0, got ${this.eps}`);
    this.maximize = options.maximize ?? false;
    if (typeof this.maximize !== "boolean") throw new RangeError("Adam maximize must be a boolean");
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** Current step size; may be changed between steps (schedules). */
  get lr(): number {
    return this.lrValue;
  }

  set lr(lr: number) {
    this.lrValue = checkLr(lr);
  }

  /** Number of steps taken. */
  get steps(): number {
    return this.t;
  }

  /** One update of `params` in place from `grad`. Throws (changing nothing) if grad has a non-finite entry. */
  step(params: Float64Array, grad: Float64Array): void {
    const n = this.size;
    if (params.length !== n || grad.length !== n)
      throw new RangeError(`Adam of size ${n} got params ${params.length}, grad ${grad.length}`);
    for (let i = 0; i < n; i++)
      if (!Number.isFinite(grad[i])) throw new RangeError(`Adam: gradient entry ${i} is ${grad[i]}`);
    this.t++;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    const lr = this.maximize ? this.lrValue : -this.lrValue;
    const eps = this.eps;
    const m = this.m;
    const v = this.v;
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      const mi = b1 * m[i] + (1 - b1) * g;
      const vi = b2 * v[i] + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] += (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
    }
  }

  /** Forget the moments and the step count (keeps the options). */
  reset(): void {
    this.t = 0;
    this.m.fill(0);
    this.v.fill(0);
  }

  state(): AdamState {
    return {
      size: this.size,
      lr: this.lrValue,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      maximize: this.maximize,
      t: this.t,
      m: Array.from(this.m),
      v: Array.from(this.v),
    };
  }

  /** Rebuild from `state()` (e.g. after JSON); validated, and the continuation is bit-identical. */
  static fromState(state: AdamState): Adam {
    const opt = new Adam(state.size, {
      lr: state.lr,
      beta1: state.beta1,
      beta2: state.beta2,
      eps: state.eps,
      maximize: state.maximize,
    });
    if (!Number.isSafeInteger(state.t) || state.t < 0)
      throw new RangeError(`Adam state t must be an integer ≥ 0, got ${state.t}`);
    for (const [name, arr] of [
      ["m", state.m],
      ["v", state.v],
    ] as const) {
      if (!Array.isArray(arr) || arr.length !== state.size)
        throw new RangeError(`Adam state ${name} must have ${state.size} entries`);
      arr.forEach((x, i) => {
        if (typeof x !== "number" || !Number.isFinite(x) || (name === "v" && x < 0))
          throw new RangeError(`Adam state ${name}[${i}] is invalid: ${x}`);
      });
    }
    opt.t = state.t;
    opt.m.set(state.m);
    opt.v.set(state.v);
    return opt;
  }
}
