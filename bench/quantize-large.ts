/**
 * Benchmark: `quantize` on a model over 2 GiB (external data): wall time, and peak RSS of the
 * rewrite, which must stay bounded by the largest tensor (256 MiB here), not the model.
 *
 *   npm run build && node dist/bench/quantize-large.js [GiB]
 *
 * The model is bench/large-model.ts's sparse chain of 8192x8192 float32 MatMuls. The library runs
 * in this process and RSS is sampled every 20 ms: up to the drift report (load, convert, write),
 * then during it (ONNX Runtime loads the original and the result, as it must to run them).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { QuantizeOptions } from '../src/quantize/options.js';
import { quantize } from '../src/quantize/quantize.js';
import { N, buildLargeModel } from './large-model.js';

const { dir, modelPath, count, total } = buildLargeModel(Number(process.argv[2] ?? 2.25));
console.log(`model: ${count} tensors of ${N}x${N} float32, ${(total / 2 ** 30).toFixed(2)} GiB in all; largest tensor ${(N * N * 4) / 2 ** 20} MiB`);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const runs: [string, Omit<QuantizeOptions, 'output'>][] = [
  ['fp16', { to: 'fp16' }],
  ['int8 dynamic', { to: 'int8', mode: 'dynamic' }],
];
for (const [label, options] of runs) {
  const output = path.join(dir, `${label.replace(' ', '-')}.onnx`);
  const peaks = { rewrite: 0, drift: 0 };
  let phase: keyof typeof peaks = 'rewrite';
  let rewriteSeconds = 0;
  const start = performance.now();
  const sampler = setInterval(() => { peaks[phase] = Math.max(peaks[phase], process.memoryUsage().rss); }, 20);
  const report = await quantize(modelPath, { ...options, output }, (e) => {
    if (e.kind !== 'phase' || e.phase !== 'measuring drift') return;
    rewriteSeconds = (performance.now() - start) / 1000;
    phase = 'drift';
  });
  clearInterval(sampler);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(output)));
  console.log(`${label}: ${mib(report.sizeBefore)} → ${mib(report.sizeAfter)} (${files.join(' + ')}); rewrite ${rewriteSeconds.toFixed(1)} s, peak RSS ${mib(peaks.rewrite)}; `
    + `drift report ${((performance.now() - start) / 1000 - rewriteSeconds).toFixed(1)} s, peak RSS ${mib(peaks.drift)}, cosine ${report.drift.outputs.map((o) => o.cosine).join(', ')}`);
  for (const f of files) fs.rmSync(path.join(dir, f));
}
fs.rmSync(dir, { recursive: true, force: true });
