/**
 * Benchmark: `tdeploy convert --no-check` against a bare Python script doing the same
 * torch.onnx.export, wall time, in interleaved rounds. Target: tdeploy at most 1.15x the script.
 *
 *   npm run build && node dist/bench/convert-speed.js [rounds] [python]
 *
 * Both convert fixtures/encoder.pt with dynamic batch and seq at opset 17. tdeploy also runs the
 * model for the reference outputs, writes the reference .npz and loads the result in onnxruntime;
 * the script only exports. `tdeploy --version` is timed too: the CLI's own start-up cost.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from '../src/bench/stats.js';
import { fixture, pythonWith, repoRoot } from '../test/helpers.js';

const rounds = Number(process.argv[2] ?? 10);
const python = process.argv[3] ?? pythonWith(['torch', 'numpy']);
if (!python) throw new Error('no Python with torch and numpy found; pass one as the second argument');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-convert-bench-'));
const bare = path.join(dir, 'bare_export.py');
fs.writeFileSync(bare, `
import sys, torch
model = torch.jit.load(sys.argv[1]).eval()
example = (torch.randint(0, 100, (2, 8)), torch.randint(0, 100, (2, 8)))
axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
torch.onnx.export(model, example, sys.argv[2], input_names=["input_ids", "attention_mask"],
                  output_names=["logits", "hidden_states"], dynamic_axes=axes, opset_version=17)
`);

const tdeploy = path.join(repoRoot, 'bin', 'tdeploy.js');
const variants: Record<string, [string, string[]]> = {
  'python script': [python, [bare, fixture('encoder.pt'), path.join(dir, 'bare.onnx')]],
  'tdeploy convert': [process.execPath, [tdeploy, 'convert', fixture('encoder.pt'), '-o', path.join(dir, 'tdeploy.onnx'),
    '--input', 'input_ids:int64:batch,seq', '--input', 'attention_mask:int64:batch,seq', '--output-names', 'logits,hidden_states',
    '--no-check', '--python', python]],
  'tdeploy --version': [process.execPath, [tdeploy, '--version']],
};

function time([file, args]: [string, string[]]): number {
  const started = performance.now();
  const result = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${path.basename(file)} ${args.slice(0, 2).join(' ')} failed: ${result.stderr}`);
  return (performance.now() - started) / 1000;
}

const names = Object.keys(variants);
const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const load = os.loadavg()[0];
time(variants['python script']);
time(variants['tdeploy convert']);
for (let round = 0; round < rounds; round++) {
  // Alternate the order so that neither side always runs right after the other warmed the caches.
  for (const name of round % 2 === 0 ? names : [...names].reverse()) times[name].push(time(variants[name]));
}
console.log(`${rounds} interleaved rounds after one warm-up each; ${os.cpus().length} cores, load average ${load.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after`);
for (const name of names) {
  const xs = times[name];
  console.log(`${name.padEnd(18)} median ${median(xs).toFixed(3)} s  min ${Math.min(...xs).toFixed(3)} s  max ${Math.max(...xs).toFixed(3)} s`);
}
const perRound = times['tdeploy convert'].map((t, i) => t / times['python script'][i]);
console.log(`tdeploy / script: ratio of medians ${(median(times['tdeploy convert']) / median(times['python script'])).toFixed(3)}, median of per-round ratios ${median(perRound).toFixed(3)} (target <= 1.15)`);
fs.rmSync(dir, { recursive: true, force: true });
