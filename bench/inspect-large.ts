/**
 * Benchmark: `tdeploy inspect` on a model over 2 GiB (external data), wall time and peak RSS.
 *
 *   npm run build && node dist/bench/inspect-large.js [GiB]
 *
 * Builds a chain of 8192x8192 float32 MatMuls whose weights live in one sparse external-data
 * file (so it costs no disk), then runs `/usr/bin/time -v node bin/tdeploy.js inspect --json`
 * three times. Target: under 1 s and under 300 MB RSS.
 */
import fs from 'node:fs';
import { N, buildLargeModel } from './large-model.js';
import { timed } from './timed.js';

const { dir, modelPath, count, total } = buildLargeModel(Number(process.argv[2] ?? 2.25));
console.log(`model: ${count} tensors of ${N}x${N} float32, ${(total / 2 ** 30).toFixed(2)} GiB in all (${modelPath})`);

for (let run = 1; run <= 3; run++) {
  const { stdout, seconds, rssMiB } = timed(['inspect', modelPath, '--json']);
  const report = JSON.parse(stdout);
  console.log(`run ${run}: wall ${seconds.toFixed(2)} s, peak RSS ${rssMiB.toFixed(0)} MiB, parameters ${report.parameters}, externalData ${report.externalData}`);
}
fs.rmSync(dir, { recursive: true, force: true });
