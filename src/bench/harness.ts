/**
 * The timing loop. Only the call under test sits between the two clock reads: inputs are built
 * before, and progress is reported from timestamps the loop already has, at most a few times a
 * second, so a measurement costs what a hand-written `session.run` loop costs.
 */

export interface WindowPlan {
  /** a window runs at least this many timed calls… */
  iterations: number;
  /** …and for at least this long (0: no minimum), like trtexec's iterations and duration */
  durationMs: number;
}

/** Every sample is kept for the percentiles: ten million of them is 80 MB. */
export const MAX_ITERATIONS = 10_000_000;

/** One measurement window: every sample (ms) and the wall time of the whole window. */
export interface Window {
  samplesMs: number[];
  seconds: number;
}

/** Called with the fraction of the window done. */
export type Tick = (fraction: number) => void;

const TICK_NS = 250_000_000n;

/** Runs `call` `iterations` times, untimed, so caches, allocators and lazy kernels settle. */
export async function warmUp(call: () => Promise<unknown>, iterations: number): Promise<void> {
  for (let i = 0; i < iterations; i++) await call();
}

/** Times `call` one sample per call until the plan's iterations and duration are both reached. */
export async function timeWindow(call: () => Promise<unknown>, plan: WindowPlan, tick?: Tick): Promise<Window> {
  const samplesMs: number[] = [];
  const durationNs = BigInt(Math.round(plan.durationMs * 1e6));
  const start = process.hrtime.bigint();
  let end = start;
  let lastTick = start;
  while (samplesMs.length < plan.iterations || end - start < durationNs) {
    const before = process.hrtime.bigint();
    await call();
    end = process.hrtime.bigint();
    samplesMs.push(Number(end - before) / 1e6);
    if (tick && end - lastTick > TICK_NS) {
      lastTick = end;
      tick(Math.min(samplesMs.length / plan.iterations, durationNs > 0n ? Number(end - start) / Number(durationNs) : 1));
    }
  }
  return { samplesMs, seconds: Number(end - start) / 1e9 };
}
