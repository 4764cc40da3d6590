/** A learning-rate schedule: the rate for a 0-based optimisation step. */
export type Schedule = (step: number) => number;

/**
 * Linear warmup from warmupStartLr to baseLr over warmupSteps, then cosine decay to minLr at
 * totalSteps (timm's/`torch` CosineAnnealing after LinearLR, stepped per iteration).
 */
export function warmupCosine(opts: { baseLr: number; totalSteps: number; warmupSteps?: number; minLr?: number; warmupStartLr?: number }): Schedule {
  const warmup = opts.warmupSteps ?? 0;
  const minLr = opts.minLr ?? 0;
  const start = opts.warmupStartLr ?? 0;
  if (opts.totalSteps <= warmup) throw new Error(`warmupCosine: totalSteps (${opts.totalSteps}) must exceed warmupSteps (${warmup})`);
  return (step) => {
    if (step < warmup) return start + ((opts.baseLr - start) * (step + 1)) / warmup;
    const progress = Math.min(1, (step - warmup) / (opts.totalSteps - warmup));
    return minLr + 0.5 * (opts.baseLr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}

/** Multiplies the rate by gamma every stepSize steps (StepLR). */
export function stepDecay(opts: { baseLr: number; stepSize: number; gamma?: number }): Schedule {
  const gamma = opts.gamma ?? 0.1;
  return (step) => opts.baseLr * gamma ** Math.floor(step / opts.stepSize);
}

export function constantLr(lr: number): Schedule {
  return () => lr;
}
