/**
 * The speed step: the quantized model against the original on the drift data, in one short
 * interleaved loop (src/bench/interleaved.ts), so that load from other processes falls on both
 * alike. Each model's figure is its fastest run: load from other processes only ever adds time,
 * and with a handful of runs on a busy machine the median is mostly that load. A quantized model that runs slower than the original is worth a warning: it
 * is rarely what anyone wanted.
 */
import type { ModelRef } from '../accuracy/check.js';
import { interleaved } from '../bench/interleaved.js';
import { castInputs } from '../accuracy/inputs.js';
import type { Progress } from '../progress.js';
import { type Provider, type Session, type SessionOptions, openSession } from '../runtime/session.js';
import type { TensorMap } from '../tensor/tensor.js';

/** Below this ratio to the original's speed, the report warns. */
export const SLOWDOWN_LIMIT = 0.95;

/** Enough rounds for a stable median on a small model, and a time budget for large ones. */
const LOOP = { warmup: 2, rounds: 5, maxRounds: 100, budgetMs: 1000 };

export interface SpeedReport {
  /** wall milliseconds of the fastest run on the first input set */
  originalMs: number;
  quantizedMs: number;
  /** originalMs / quantizedMs: above 1 the new model is faster */
  speedup: number;
  /** runs of each model */
  runs: number;
  provider: Provider;
  /** speedup below SLOWDOWN_LIMIT */
  slower: boolean;
}

export async function measureSpeed(
  original: ModelRef, quantized: ModelRef, data: TensorMap[], session: SessionOptions | undefined, progress: Progress,
): Promise<SpeedReport> {
  progress({ kind: 'phase', phase: 'measuring speed' });
  const models = [original, quantized];
  const sessions: Session[] = [];
  try {
    for (const model of models) sessions.push(await openSession(model.path, session));
    const feeds = models.map((m) => castInputs(m.signature.inputs, data[0]));
    const { wall } = await interleaved(sessions.map((s, k) => () => s.run(feeds[k])), LOOP);
    const [originalMs, quantizedMs] = wall.map((s) => Math.min(...s));
    const speedup = originalMs / quantizedMs;
    return { originalMs, quantizedMs, speedup, runs: wall[0].length, provider: sessions[1].provider, slower: speedup < SLOWDOWN_LIMIT };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** The warning a slower model gets, on stderr and in the JSON notes. */
export function slowdownNote(speed: SpeedReport): string {
  return `warning: the quantized model runs at ${formatSpeedup(speed.speedup)} the original's speed on ${speed.provider} `
    + `(fastest of ${speed.runs} runs each: ${formatMs(speed.quantizedMs)} against ${formatMs(speed.originalMs)}), below ${SLOWDOWN_LIMIT}×`;
}

/** Two decimals, rounded down: 0.949 is 0.94×, never a 0.95× that reads as the limit. */
export function formatSpeedup(speedup: number): string {
  return `${(Math.floor(speedup * 100) / 100).toFixed(2)}×`;
}

export function formatMs(ms: number): string {
  return `${ms < 1 ? ms.toPrecision(2) : ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}
