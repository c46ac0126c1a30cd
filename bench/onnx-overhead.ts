/**
 * Benchmark: does `tdeploy bench` measure what a hand-written loop measures? Compares the p50
 * that `tdeploy bench fixtures/encoder.onnx --batch 1` reports with the p50 of a raw
 * `InferenceSession.run` loop in a separate Node process, same session options (onnxruntime's
 * defaults as tdeploy sets them: graph optimization "all", CPU), same shapes (1x16), same
 * warm-up and iteration counts. The two alternate over several rounds, each starting first
 * every other round, so load on a shared machine falls on both alike.
 *
 *   npm run build && node dist/bench/onnx-overhead.js [rounds=10] [iterations=2000] [warmup=200]
 *
 * Goal: tdeploy's p50 within 3 % of the raw loop's (must be within 10 %).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { median } from '../src/bench/stats.js';
import { fixture, repoRoot } from '../test/helpers.js';

const SEQ = 16;

/** The raw loop: nothing of tdeploy's, only onnxruntime-node and the clock. */
async function rawLoop(iterations: number, warmup: number): Promise<number> {
  const session = await ort.InferenceSession.create(fixture('encoder.onnx'), {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 4,
  });
  const ids = BigInt64Array.from({ length: SEQ }, () => BigInt(Math.floor(Math.random() * 100)));
  const feeds = { input_ids: new ort.Tensor('int64', ids, [1, SEQ]), attention_mask: new ort.Tensor('int64', new BigInt64Array(SEQ).fill(1n), [1, SEQ]) };
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  samples.sort();
  const mid = (iterations - 1) / 2;
  return (samples[Math.floor(mid)] + samples[Math.ceil(mid)]) / 2;
}

function run(args: string[]): string {
  const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function tdeployP50(iterations: number, warmup: number): number {
  const out = run([path.join(repoRoot, 'bin', 'tdeploy.js'), 'bench', fixture('encoder.onnx'), '--batch', '1', '--dim', `seq=${SEQ}`,
    '--iterations', String(iterations), '--warmup', String(warmup), '--json']);
  return JSON.parse(out).results[0].latencyMs.p50;
}

function rawP50(iterations: number, warmup: number): number {
  return Number(run([fileURLToPath(import.meta.url), '--raw', String(iterations), String(warmup)]).trim());
}

if (process.argv[2] === '--raw') {
  process.stdout.write(`${await rawLoop(Number(process.argv[3]), Number(process.argv[4]))}\n`);
} else {
  const [rounds, iterations, warmup] = [10, 2000, 200].map((d, i) => Number(process.argv[2 + i] ?? d));
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`encoder.onnx batch 1 seq ${SEQ}: ${rounds} rounds of ${iterations} timed runs after ${warmup} warm-up; ${os.availableParallelism()} cores, load ${load()}`);
  const ratios: number[] = [];
  const tdeploy: number[] = [];
  const raw: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const pair = round % 2 ? [tdeployP50, rawP50] : [rawP50, tdeployP50];
    const [first, second] = pair.map((f) => f(iterations, warmup));
    const [t, r] = round % 2 ? [first, second] : [second, first];
    tdeploy.push(t);
    raw.push(r);
    ratios.push(t / r);
    console.log(`round ${String(round).padStart(2)}: tdeploy p50 ${t.toFixed(4)} ms, raw loop p50 ${r.toFixed(4)} ms, ratio ${(t / r).toFixed(3)}${round % 2 ? '' : ' (raw first)'}`);
  }
  const ratio = median(ratios);
  console.log(`median p50: tdeploy ${median(tdeploy).toFixed(4)} ms, raw ${median(raw).toFixed(4)} ms; median ratio ${ratio.toFixed(3)} (${((ratio - 1) * 100).toFixed(1)} %); load after ${load()}`);
  console.log(Math.abs(ratio - 1) <= 0.03 ? 'within the 3 % goal' : Math.abs(ratio - 1) <= 0.1 ? 'within the 10 % limit, outside the 3 % goal' : 'OUTSIDE the 10 % limit');
}
