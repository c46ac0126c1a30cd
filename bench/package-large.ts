/**
 * Benchmark: `tdeploy package` and `package --verify` on a model over 2 GiB (external data), wall
 * time and peak RSS.
 *
 *   npm run build && node dist/bench/package-large.js [GiB]
 *
 * The model is bench/large-model.ts's sparse MatMul chain; packaging copies its 2.25 GiB of
 * external data into the version folder (a kernel copy, never through Node's heap), and verify
 * loads the copied model to check its tensors. Each run writes a fresh repository. Target: peak
 * RSS under 300 MB, i.e. independent of the model's size.
 */
import fs from 'node:fs';
import path from 'node:path';
import { N, buildLargeModel } from './large-model.js';
import { timed } from './timed.js';

const { dir, modelPath, count, total } = buildLargeModel(Number(process.argv[2] ?? 2.25));
console.log(`model: ${count} tensors of ${N}x${N} float32, ${(total / 2 ** 30).toFixed(2)} GiB in all (${modelPath})`);

for (let run = 1; run <= 3; run++) {
  const repo = path.join(dir, `models-${run}`);
  const pack = timed(['package', modelPath, '-o', repo, '--json']);
  const result = JSON.parse(pack.stdout);
  const copied = result.files.map((f: string) => fs.statSync(path.join(repo, f)).size).reduce((a: number, b: number) => a + b, 0);
  const verify = timed(['package', '--verify', repo, '--json']);
  console.log(`run ${run}: package wall ${pack.seconds.toFixed(2)} s, peak RSS ${pack.rssMiB.toFixed(0)} MiB, ${(copied / 2 ** 30).toFixed(2)} GiB written; `
    + `verify wall ${verify.seconds.toFixed(2)} s, peak RSS ${verify.rssMiB.toFixed(0)} MiB, ok ${JSON.parse(verify.stdout).ok}`);
  fs.rmSync(repo, { recursive: true, force: true });
}
fs.rmSync(dir, { recursive: true, force: true });
