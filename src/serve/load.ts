/**
 * The load generator: requests to a server in a closed loop (`concurrency` clients, each sending
 * its next request when the last one is answered) or an open loop (arrivals at `rate` per second
 * with exponential gaps, a Poisson process, whatever the answers do), as perf_analyzer's
 * concurrency and request-rate modes. A window stops sending once it has its iterations and its
 * duration, then waits for the requests in flight: every request sent in a window is counted in
 * it, answered or failed, so the server's counters over the window add up to the report's.
 */
import type { Tick, Window, WindowPlan } from '../bench/harness.js';
import { Random } from '../tensor/random.js';

/** Sends request number `k` and resolves when it is answered; rejects when it failed. */
export type Send = (k: number) => Promise<void>;

export type LoadMode = { concurrency: number } | { requestRate: number };

/** A window of served requests: samples of the answered ones, and how many failed. */
export interface LoadWindow extends Window {
  errors: number;
  /** the first failure's message */
  firstError?: string;
}

const TICK_NS = 250_000_000n;

class Recorder {
  readonly samplesMs: number[] = [];
  errors = 0;
  firstError?: string;
  sent = 0;
  readonly start = process.hrtime.bigint();
  lastEnd = this.start;
  private lastTick = this.start;
  private readonly durationNs: bigint;

  constructor(private readonly plan: WindowPlan, private readonly tick?: Tick) {
    this.durationNs = BigInt(Math.round(plan.durationMs * 1e6));
  }

  /** Whether another request belongs in the window. */
  wantsMore(): boolean {
    return this.sent < this.plan.iterations || process.hrtime.bigint() - this.start < this.durationNs;
  }

  async time(send: Send): Promise<void> {
    const k = this.sent++;
    const before = process.hrtime.bigint();
    try {
      await send(k);
      const end = process.hrtime.bigint();
      this.samplesMs.push(Number(end - before) / 1e6);
      this.done(end);
    } catch (error) {
      this.errors++;
      this.firstError ??= (error as Error).message;
      this.done(process.hrtime.bigint());
    }
  }

  private done(end: bigint): void {
    if (end > this.lastEnd) this.lastEnd = end;
    if (this.tick && end - this.lastTick > TICK_NS) {
      this.lastTick = end;
      const elapsed = Number(end - this.start);
      this.tick(Math.min(1, Math.min(this.sent / this.plan.iterations, this.durationNs > 0n ? elapsed / Number(this.durationNs) : 1)));
    }
  }

  window(): LoadWindow {
    return { samplesMs: this.samplesMs, seconds: Number(this.lastEnd - this.start) / 1e9, errors: this.errors, firstError: this.firstError };
  }
}

/** `concurrency` clients sending back to back until the window is full. */
export async function closedLoop(send: Send, concurrency: number, plan: WindowPlan, tick?: Tick): Promise<LoadWindow> {
  const rec = new Recorder(plan, tick);
  const client = async () => {
    while (rec.wantsMore()) await rec.time(send);
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return rec.window();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Requests at Poisson arrivals of `rate` per second (seeded, so two runs send on the same
 * schedule). Timers fire late rather than early: requests that fell due meanwhile go out at once.
 */
export async function openLoop(send: Send, rate: number, plan: WindowPlan, seed: number, tick?: Tick): Promise<LoadWindow> {
  const rec = new Recorder(plan, tick);
  const random = new Random(seed);
  const gapNs = () => BigInt(Math.round((-Math.log(1 - random.next()) / rate) * 1e9));
  const inFlight = new Set<Promise<void>>();
  let due = rec.start + gapNs();
  while (rec.wantsMore()) {
    const now = process.hrtime.bigint();
    if (due <= now) {
      const p = rec.time(send).finally(() => inFlight.delete(p));
      inFlight.add(p);
      due += gapNs();
    } else {
      await sleep(Number(due - now) / 1e6);
    }
  }
  await Promise.all(inFlight);
  return rec.window();
}

export function runLoad(send: Send, mode: LoadMode, plan: WindowPlan, seed: number, tick?: Tick): Promise<LoadWindow> {
  return 'concurrency' in mode ? closedLoop(send, mode.concurrency, plan, tick) : openLoop(send, mode.requestRate, plan, seed, tick);
}
