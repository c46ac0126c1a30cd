/**
 * Benchmark: memory of `check --layerwise` on a model over 2 GiB (external data), against plain
 * `check --against` on the same pair. The layerwise run must stay under twice what check needs.
 *
 *   npm run build && nice node dist/bench/layerwise-large.js [GiB]
 *
 * The model is bench/large-model.ts's chain of 8192x8192 float32 MatMuls (weights in one
 * external-data file); the candidate is its FP16 conversion (external data too). Each command
 * runs in its own process under /usr/bin/time, which reports its peak RSS.
 */
import fs from 'node:fs';
import path from 'node:path';
import { quantize } from '../src/quantize/quantize.js';
import { N, buildLargeModel } from './large-model.js';
import { timed } from './timed.js';

const { dir, modelPath, count, total } = buildLargeModel(Number(process.argv[2] ?? 2.25));
try {
  console.log(`model: ${count} MatMuls of ${N}x${N} float32, ${(total / 2 ** 30).toFixed(2)} GiB with its external data`);
  const candidate = path.join(dir, 'large.fp16.onnx');
  await quantize(modelPath, { output: candidate, to: 'fp16', gate: false, shapes: { shapes: {}, dims: { batch: [1] } } });
  const args = ['check', candidate, '--against', modelPath, '--dim', 'batch=1', '--json'];
  const plain = timed(args);
  const layerwise = timed([...args, '--layerwise']);
  for (const [label, run] of [['check --against', plain], ['check --against --layerwise', layerwise]] as const) {
    if (run.status !== 0 && run.status !== 1) throw new Error(`${label} failed: ${run.stderr}`);
  }
  const report = JSON.parse(layerwise.stdout) as { layers: unknown[]; layerwise: { batches: number } };
  console.log(`check --against:             ${plain.seconds.toFixed(1)} s, peak RSS ${plain.rssMiB.toFixed(0)} MiB`);
  console.log(`check --against --layerwise: ${layerwise.seconds.toFixed(1)} s, peak RSS ${layerwise.rssMiB.toFixed(0)} MiB (${report.layers.length} layers in ${report.layerwise.batches} batch(es))`);
  console.log(`ratio: ${(layerwise.rssMiB / plain.rssMiB).toFixed(2)}x the memory of check (must stay under 2x)`);
  console.log(`left beside the model: ${fs.readdirSync(dir).filter((f) => f.startsWith('.')).length} temporary file(s)`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
