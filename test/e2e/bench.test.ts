import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writeTensorPb } from '../../src/tensor/files.js';
import { fixture, listFiles, runCli, tempDir } from '../helpers.js';

const encoder = fixture('encoder.onnx');
const external = fixture('encoder_external', 'encoder.onnx');
const quick = ['--iterations', '5', '--warmup', '1'];
const CSV_HEADER = 'model,label,provider,batch,shapes,iterations,mean,std,min,p50,p90,p95,p99,max,inferencesPerSec,samplesPerSec,speedup,stable';

interface Result {
  model: string;
  label: string;
  batch: number;
  shapes: Record<string, number[]>;
  iterations: number;
  latencyMs: Record<string, number>;
  throughput: { inferencesPerSec: number; samplesPerSec: number };
  speedup: number;
  stable: boolean | null;
}

function benchJson(args: string[]): { report: { results: Result[]; regressions: unknown[] } & Record<string, unknown>; stderr: string } {
  const r = runCli(['bench', ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout), stderr: r.stderr };
}

test('JSON: the documented keys, results in model order with the batch sweep, consistent statistics', () => {
  const { report, stderr } = benchJson([encoder, external, '--batch', '1,4', '--dim', 'seq=8', ...quick]);
  assert.deepEqual(Object.keys(report), ['tool', 'environment', 'results', 'regressions', 'passed', 'baselineEnvironment', 'notes']);
  assert.deepEqual([report.passed, report.baselineEnvironment], [null, []], 'nothing gated, no baseline');
  const version = JSON.parse(fs.readFileSync(fixture('..', 'package.json'), 'utf8')).version;
  assert.deepEqual(report.tool, { name: 'tdeploy', version });
  const env = report.environment as Record<string, unknown>;
  assert.deepEqual(Object.keys(env), ['node', 'onnxruntime', 'cpu', 'cores', 'os']);
  assert.equal(env.node, process.version);
  assert.equal(env.onnxruntime, '1.30.0');
  assert.deepEqual(report.regressions, []);
  assert.doesNotMatch(stderr, /defaults/, 'every dim was given');

  const { results } = report;
  for (const r of results) {
    assert.deepEqual(Object.keys(r), ['model', 'label', 'backend', 'provider', 'batch', 'shapes', 'iterations', 'latencyMs', 'throughput', 'speedup', 'stable']);
    assert.equal(r.stable, null, 'no criterion, no verdict');
    assert.deepEqual(Object.keys(r.latencyMs), ['mean', 'std', 'min', 'p50', 'p90', 'p95', 'p99', 'max']);
    assert.deepEqual(Object.keys(r.throughput), ['inferencesPerSec', 'samplesPerSec']);
    const { min, p50, p90, p95, p99, max, mean } = r.latencyMs;
    assert.ok(min > 0 && min <= p50 && p50 <= p90 && p90 <= p95 && p95 <= p99 && p99 <= max && min <= mean && mean <= max, JSON.stringify(r.latencyMs));
    assert.equal(r.iterations, 5);
    assert.ok(Math.abs(r.throughput.samplesPerSec - r.batch * r.throughput.inferencesPerSec) < 0.01);
    // serial runs: inferences/s can only be below 1000 / mean latency (the loop adds a little)
    assert.ok(r.throughput.inferencesPerSec <= 1000 / r.latencyMs.mean + 0.01);
  }
  assert.deepEqual(results.map((r) => [r.model, r.label, r.batch]), [
    [encoder, encoder, 1], [encoder, encoder, 4], [external, external, 1], [external, external, 4],
  ]);
  assert.deepEqual(results.map((r) => r.shapes), [1, 4, 1, 4].map((b) => ({ input_ids: [b, 8], attention_mask: [b, 8] })));
  assert.deepEqual(results.map((r) => (r as unknown as Record<string, string>).backend), Array(4).fill('onnxruntime'));
  assert.deepEqual(results.slice(0, 2).map((r) => r.speedup), [1, 1]);
  for (const [i, r] of results.slice(2).entries()) {
    assert.ok(Math.abs(r.speedup - results[i].latencyMs.p50 / r.latencyMs.p50) < 1e-4, 'speed-up is the p50 ratio to the first model at the same shapes');
  }
});

test('--stability repeats windows; --inputs (a file or an ONNX test data folder) sets the shapes', async () => {
  const stable = benchJson([encoder, '--stability', '1000%', ...quick]).report;
  assert.equal(stable.results[0].iterations, 15, 'three windows of 5');
  const given = benchJson([encoder, '--inputs', fixture('encoder.reference.npz'), ...quick]).report;
  assert.deepEqual(given.results[0].shapes, { input_ids: [2, 16], attention_mask: [2, 16] });
  assert.equal(given.results[0].batch, 2);
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'test_data_set_0'));
  const tokens = (fill: bigint) => ({ dtype: 'int64' as const, shape: [3, 8], data: new BigInt64Array(24).fill(fill) });
  await writeTensorPb(path.join(dir, 'test_data_set_0', 'input_0.pb'), 'input_ids', tokens(7n));
  await writeTensorPb(path.join(dir, 'test_data_set_0', 'input_1.pb'), 'attention_mask', tokens(1n));
  const folder = benchJson([encoder, '--inputs', dir, ...quick]).report;
  assert.deepEqual([folder.results[0].shapes, folder.results[0].batch], [{ input_ids: [3, 8], attention_mask: [3, 8] }, 3]);
});

test('stability: every format says whether each result met --stability; --require-stable fails (exit 1) when one did not', () => {
  // Three windows of 5 runs agreeing within 0.0001% on both p50 and throughput does not happen.
  const never = ['--stability', '0.0001%', '--max-windows', '3', ...quick];
  const { report, stderr } = benchJson([encoder, ...never]);
  assert.deepEqual([report.results[0].stable, report.results[0].iterations, report.passed], [false, 15, null]);
  assert.match(stderr, /^tdeploy: note: encoder\.onnx input_ids:1x16 attention_mask:1x16: no 3 consecutive windows agreed within 0\.0001% in 3 windows/m);
  const markdown = runCli(['bench', encoder, ...never, '--format', 'markdown']);
  assert.equal(markdown.code, 0, markdown.stderr);
  assert.match(markdown.stdout, /^UNSTABLE: 1 of 1 result never had 3 consecutive windows agree \(encoder\.onnx input_ids:1x16 attention_mask:1x16\)$/m);
  assert.match(markdown.stdout, /^\| model \| provider .* \| stable \|$/m);
  assert.match(markdown.stdout, /\| NO \|$/m);
  assert.match(markdown.stdout, /^- tdeploy [\d.]+, onnxruntime 1\.30\.0, Node v/m, 'the environment is in the Markdown');
  const csv = runCli(['bench', encoder, ...never, '--format', 'csv']);
  assert.equal(csv.stdout.trimEnd().split('\n')[1].split(',').at(-1), 'false');
  const stable = benchJson([encoder, '--stability', '1000%', '--require-stable', ...quick]).report;
  assert.deepEqual([stable.results[0].stable, stable.passed], [true, true]);
  const required = runCli(['bench', encoder, ...never, '--require-stable', '--json']);
  assert.equal(required.code, 1);
  assert.equal(JSON.parse(required.stdout).passed, false, 'the report is printed with its verdict');
  assert.match(required.stderr, /^tdeploy: error: 1 result\(s\) never met --stability 0\.0001%: encoder\.onnx \(input_ids:1x16 attention_mask:1x16\)$/m);
  const alone = runCli(['bench', encoder, '--require-stable', ...quick]);
  assert.deepEqual([alone.code, alone.stderr.split('\n')[0]], [2, 'tdeploy: error: --require-stable needs a stability criterion']);
});

test('a baseline measured in another environment is flagged in the comparison, in every format', () => {
  const dir = tempDir();
  const base = path.join(dir, 'main.json');
  assert.equal(runCli(['bench', encoder, '-o', base, ...quick]).code, 0);
  const json = JSON.parse(fs.readFileSync(base, 'utf8'));
  json.environment.cpu = 'Other CPU @ 1.0GHz';
  fs.writeFileSync(base, JSON.stringify(json));
  const { report } = benchJson([encoder, '--baseline', base, '--max-regression', '1000%', ...quick]);
  assert.deepEqual(report.baselineEnvironment, [`cpu: ${(report.environment as { cpu: string }).cpu} (baseline Other CPU @ 1.0GHz)`]);
  assert.equal(report.passed, true);
  const markdown = runCli(['bench', encoder, '--baseline', base, '--max-regression', '1000%', '--format', 'markdown', ...quick]);
  assert.match(markdown.stdout, /^the baseline was measured elsewhere: cpu: .* \(baseline Other CPU @ 1\.0GHz\)$/m);
});

test('CSV: exactly the documented header and one row per result', () => {
  const r = runCli(['bench', encoder, '--batch', '1,2,3', '--label', 'enc', '--format', 'csv', ...quick]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines[0], CSV_HEADER);
  assert.equal(lines.length, 4);
  const rows = lines.slice(1).map((l) => l.split(','));
  assert.ok(rows.every((cells) => cells.length === 18));
  assert.deepEqual(rows.map((c) => [c[0], c[1], c[2], c[3], c[4], c[5], c[16], c[17]]), [1, 2, 3].map((b) => [encoder, 'enc', 'cpu', String(b), `input_ids:${b}x16 attention_mask:${b}x16`, '5', '1', '']));
  assert.ok(rows.every((cells) => cells.slice(6, 17).every((v) => Number.isFinite(Number(v)) && v !== '')));
});

test('Markdown: a section with a header row, an alignment row and one row per result; table by default', () => {
  const r = runCli(['bench', encoder, external, '--label', 'fp32', '--label', 'external', '--format', 'markdown', ...quick]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], '### tdeploy bench');
  const table = lines.filter((l) => l.startsWith('|'));
  assert.equal(table.length, 4);
  assert.equal(table[0], '| model | provider | batch | shapes | runs | mean ms | std ms | min ms | p50 ms | p90 ms | p95 ms | p99 ms | max ms | inferences/s | samples/s | speed-up |');
  assert.match(table[1], /^\| --- \| --- \| ---: \|/);
  assert.match(table[2], /^\| fp32 \| cpu \| 1 \| input_ids:1x16 attention_mask:1x16 \| 5 \|.* 1\.00× \|$/);
  assert.match(table[3], /^\| external \| cpu \| 1 \|/);
  assert.match(r.stdout, /\n- latency in ms over every timed run; percentiles interpolate between ranks/);
  const human = runCli(['bench', encoder, ...quick]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /│ model +│ provider │ batch │ shapes/);
  assert.match(human.stdout, /│ encoder\.onnx │ cpu +│ +1 │ input_ids:1x16 attention_mask:1x16 │/);
  assert.doesNotMatch(human.stdout, /speed-up/, 'one model: no speed-up column for people (CSV keeps it)');
});

/** `result` as if it had run `factor` times slower. */
function slower(r: Result, factor: number): Result {
  const { inferencesPerSec, samplesPerSec } = r.throughput;
  return {
    ...r,
    latencyMs: Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, v * factor])),
    throughput: { inferencesPerSec: inferencesPerSec / factor, samplesPerSec: samplesPerSec / factor },
  };
}

test('gate: exit 0 within the threshold, exit 1 beyond it with the report written and the rows marked', () => {
  const dir = tempDir();
  const base = path.join(dir, 'main.json');
  const first = runCli(['bench', encoder, '--batch', '1,2', '-o', base, ...quick]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /│ encoder\.onnx │/, 'stdout shows the table when the report goes to a file');
  const report = JSON.parse(fs.readFileSync(base, 'utf8'));
  // A baseline 100x slower: this run is far better, within any threshold.
  fs.writeFileSync(path.join(dir, 'slow.json'), JSON.stringify({ ...report, results: report.results.map((r: Result) => slower(r, 100)) }));
  // A baseline 100x faster at batch 1 only: that row regressed, batch 2 is far better.
  fs.writeFileSync(path.join(dir, 'fast.json'), JSON.stringify({ ...report, results: [slower(report.results[0], 0.01), slower(report.results[1], 100)] }));

  const pass = runCli(['bench', encoder, '--batch', '1,2', '--baseline', path.join(dir, 'slow.json'), '--max-regression', '10%', '--format', 'markdown', ...quick]);
  assert.equal(pass.code, 0, pass.stderr);
  assert.match(pass.stdout, /^### tdeploy bench\n\nno regression: none of 2 compared results is more than 10% worse p50 than the baseline\n/);
  assert.match(pass.stdout, /\| p50 -9\d\.\d% \|\n.*\| p50 -9\d\.\d% \|/, '100 times faster than the baseline: -99%');

  const fail = runCli(['bench', encoder, '--batch', '1,2', '--baseline', path.join(dir, 'fast.json'), '--max-regression', '10%', '--format', 'markdown', ...quick]);
  assert.equal(fail.code, 1, fail.stderr);
  assert.match(fail.stdout, /REGRESSION: 1 of 2 compared results is more than 10% worse p50 than the baseline/);
  const rows = fail.stdout.split('\n').filter((l) => l.startsWith('| encoder.onnx'));
  assert.match(rows[0], /\| REGRESSED p50 \+\d+(\.\d)?% \|$/);
  assert.match(rows[1], /\| p50 -9\d\.\d% \|$/);
  assert.match(fail.stderr, /^tdeploy: error: 1 result\(s\) regressed by more than 10% \(p50\): encoder\.onnx \(input_ids:1x16 attention_mask:1x16\) \d+/m);

  const out = path.join(dir, 'pr.json');
  const json = runCli(['bench', encoder, '--batch', '1,2', '--baseline', path.join(dir, 'fast.json'), '--output', out, '--json', ...quick]);
  assert.equal(json.code, 1);
  const printed = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(printed), ['tool', 'environment', 'results', 'regressions', 'passed', 'baselineEnvironment', 'notes'], 'one report document, no error object after it');
  assert.equal(printed.passed, false);
  assert.equal(printed.regressions.length, 1);
  assert.deepEqual(Object.keys(printed.regressions[0]), ['label', 'shapes', 'metric', 'baseline', 'current', 'worsePercent', 'maxPercent']);
  assert.deepEqual([printed.regressions[0].label, printed.regressions[0].metric, printed.regressions[0].maxPercent], ['encoder.onnx', 'p50', 10]);
  assert.ok(printed.regressions[0].worsePercent > 10);
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')).regressions, printed.regressions, 'the --output file holds the same report');
  assert.match(json.stderr, /hint: the full report is in .*pr\.json/);

  const throughput = runCli(['bench', encoder, '--batch', '1,2,4', '--baseline', path.join(dir, 'fast.json'), '--regression-metric', 'throughput', '--max-regression', '50', '--json', ...quick]);
  assert.equal(throughput.code, 1, throughput.stderr);
  assert.match(throughput.stderr, /note: no baseline result for encoder\.onnx \(input_ids:4x16 attention_mask:4x16\); not gated/);
  const dropped = JSON.parse(throughput.stdout).regressions;
  assert.deepEqual(dropped.map((r: { label: string; shapes: unknown; metric: string; maxPercent: number }) => [r.shapes, r.metric, r.maxPercent]), [
    [{ input_ids: [1, 16], attention_mask: [1, 16] }, 'throughput', 50],
  ]);
  assert.ok(dropped[0].worsePercent > 50 && dropped[0].worsePercent < 100, 'a throughput drop is at most 100%');
});

test('bad input: exit 2, one error line, nothing on stdout, nothing written', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ results: [] }));
  fs.writeFileSync(path.join(dir, 'notes.json'), 'p50 was 3 ms');
  const stats = { mean: 1, std: 0, min: 1, p50: 1, p90: 1, p95: 1, p99: 1, max: 1 };
  fs.writeFileSync(path.join(dir, 'elsewhere.json'), JSON.stringify({
    tool: { name: 'tdeploy', version: '0.1.0' },
    environment: { node: 'v20.0.0', onnxruntime: '1.30.0', cpu: 'x', cores: 2, os: 'linux' },
    results: [{
      model: 'other.onnx', label: 'other.onnx', backend: 'onnxruntime', provider: 'cpu', batch: 1, shapes: { input_ids: [1, 16], attention_mask: [1, 16] },
      iterations: 5, latencyMs: stats, throughput: { inferencesPerSec: 1000, samplesPerSec: 1000 }, speedup: 1,
    }],
    regressions: [],
  }));
  fs.writeFileSync(path.join(dir, 'model.pt'), 'x');
  const out = path.join(dir, 'out', 'report.csv');
  const cases: [string[], RegExp][] = [
    [[encoder, '--shape', 'pixel_values:1x3'], /--shape names 'pixel_values', which is not an input of the model/],
    [[encoder, '--shape', 'input_ids:1x16x4'], /--shape input_ids: rank 3 but the model's input is \[batch, seq\] \(rank 2\)/],
    [[encoder, '--baseline', path.join(dir, 'other.json')], /baseline .*other\.json is not a tdeploy bench report: tool: /],
    [[encoder, '--baseline', path.join(dir, 'notes.json')], /baseline .*notes\.json is not a tdeploy bench report: not JSON/],
    [[encoder, '--baseline', path.join(dir, 'elsewhere.json')], /the baseline has no result with the label and shapes of any result of this run/],
    [[encoder, '--iterations', '0'], /--iterations: must be at least 1/],
    [[encoder, '--iterations', '99999999999999999999'], /--iterations: must be at most 10000000/],
    [[encoder, '--iterations', 'ten'], /--iterations: expected a whole number/],
    [[encoder, '--max-regression', '10%'], /--max-regression needs --baseline/],
    [[encoder, '--batch', '2', '--dim', 'batch=4'], /--batch and --dim batch both set the batch dimension/],
    [[encoder, fixture('convnet.onnx')], /.*convnet\.onnx takes an input 'image' that the first model of the run does not/],
    [[path.join(dir, 'missing.onnx')], /model not found/],
    [[path.join(dir, 'model.pt')], /cannot benchmark .*model\.pt: unknown model type '\.pt'/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(['bench', ...quick, ...args, '-o', out]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], new RegExp(`^tdeploy: error: ${message.source}`));
    assert.equal(r.stdout, '');
  }
  const twice = runCli(['bench', encoder, ...quick, '--dim', 'seq=4', '--dim', 'seq=8']);
  assert.deepEqual([twice.code, twice.stderr], [2, "tdeploy: error: --dim seq=8: 'seq' is already set to 4\nhint: one --dim per dimension; a comma list sweeps it, e.g. seq=4,8\n"]);
  fs.copyFileSync(encoder, path.join(dir, 'model.onnx'));
  for (const [output, overwritten] of [['model.onnx', 'model.onnx'], ['sub/../other.json', 'other.json']]) {
    const r = runCli(['bench', path.join(dir, 'model.onnx'), ...quick, '--inputs', path.join(dir, 'other.json'), '-o', path.join(dir, output)]);
    assert.deepEqual([r.code, r.stderr.split('\n')[0]], [2, `tdeploy: error: --output ${path.join(dir, output)} would overwrite ${path.join(dir, overwritten)}, which the benchmark reads`]);
  }
  assert.deepEqual(fs.readFileSync(path.join(dir, 'model.onnx')), fs.readFileSync(encoder));
  fs.rmSync(path.join(dir, 'model.onnx'));
  const throughFile = runCli(['bench', encoder, ...quick, '-o', path.join(dir, 'other.json', 'report.json')]);
  assert.deepEqual([throughFile.code, throughFile.stderr.split('\n').at(-2)], [2, `tdeploy: error: cannot create output folder ${path.join(dir, 'other.json')}: a file is in the way`]);
  const folder = runCli(['bench', encoder, ...quick, '-o', dir]);
  assert.deepEqual([folder.code, folder.stderr.split('\n')[0]], [2, `tdeploy: error: --output ${dir} is a folder; the report is one file`]);
  const json = runCli(['bench', encoder, '--json', '--format', 'csv', ...quick]);
  assert.equal(json.code, 2);
  assert.equal(JSON.parse(json.stdout).error.kind, 'usage');
  assert.deepEqual(listFiles(dir), ['elsewhere.json', 'model.pt', 'notes.json', 'other.json']);
});
