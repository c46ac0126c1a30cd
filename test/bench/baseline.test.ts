import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { type Gate, compareToBaseline, readBaseline, regressions } from '../../src/bench/baseline.js';
import type { BenchReport, BenchResult } from '../../src/bench/result.js';
import { tempDir } from '../helpers.js';

function result(label: string, batch: number, p50: number, p99: number, inferencesPerSec: number): BenchResult {
  return {
    model: `models/${label}`, label, backend: 'onnxruntime', provider: 'cpu', batch,
    shapes: { input_ids: [batch, 16] }, iterations: 100,
    latencyMs: { mean: p50, std: 0.1, min: p50 / 2, p50, p90: p99, p95: p99, p99, max: p99 * 2 },
    throughput: { inferencesPerSec, samplesPerSec: inferencesPerSec * batch }, speedup: 1, stable: null,
  };
}

const report = (results: BenchResult[]): BenchReport => ({
  tool: { name: 'tdeploy', version: '0.1.0' },
  environment: { node: 'v20.0.0', onnxruntime: '1.30.0', cpu: 'test', cores: 2, os: 'linux' },
  results, regressions: [], passed: null, baselineEnvironment: [], notes: [],
});

const old = report([result('a.onnx', 1, 1.0, 2.0, 1000), result('a.onnx', 8, 4.0, 8.0, 250), result('b.onnx', 1, 0.5, 1.0, 2000)]);

test('p50 gate: matched by label and shapes, worse by more than the threshold regresses', () => {
  const now = [result('a.onnx', 1, 1.05, 9, 10), result('a.onnx', 8, 4.5, 8, 250), result('b.onnx', 1, 0.4, 1, 2000), result('c.onnx', 1, 9, 9, 1)];
  const gate: Gate = { baseline: old, maxPercent: 10, metric: 'p50' };
  const compared = compareToBaseline(now, gate);
  assert.deepEqual(compared.map((c) => c.regression && Math.round(c.regression.worsePercent * 1000) / 1000), [5, 12.5, -20, undefined]);
  assert.deepEqual(compared.map((c) => c.regressed), [false, true, false, false]);
  assert.deepEqual(regressions(compared), [
    { label: 'a.onnx', shapes: { input_ids: [8, 16] }, metric: 'p50', baseline: 4, current: 4.5, worsePercent: 12.5, maxPercent: 10 },
  ]);
});

test('p99 and throughput gates: latency up, throughput down', () => {
  const now = [result('a.onnx', 1, 1, 2.3, 880), result('a.onnx', 8, 4, 8.1, 260)];
  const p99 = compareToBaseline(now, { baseline: old, maxPercent: 10, metric: 'p99' });
  assert.deepEqual(p99.map((c) => [Math.round(c.regression!.worsePercent * 100) / 100, c.regressed]), [[15, true], [1.25, false]]);
  const throughput = compareToBaseline(now, { baseline: old, maxPercent: 10, metric: 'throughput' });
  assert.deepEqual(throughput.map((c) => [Math.round(c.regression!.worsePercent * 100) / 100, c.regressed]), [[12, true], [-4, false]]);
  assert.equal(compareToBaseline(now, { baseline: old, maxPercent: 15, metric: 'p99' }).filter((c) => c.regressed).length, 0, 'exactly at the threshold passes');
});

test('readBaseline accepts a report and refuses what is not one', async () => {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  assert.deepEqual(await readBaseline(write('ok.json', JSON.stringify(old))), old);
  const bad: [string, string, RegExp][] = [
    ['text.json', 'p50 = 3 ms', /is not a tdeploy bench report: not JSON/],
    ['other.json', JSON.stringify({ name: 'tdeploy', version: '0.1.0' }), /is not a tdeploy bench report: tool: .*expected object/],
    ['tool.json', JSON.stringify({ ...old, tool: { name: 'perf_analyzer', version: '2' } }), /tool\.name: .*"tdeploy"/],
    ['p50.json', JSON.stringify(report([{ ...old.results[0], latencyMs: { ...old.results[0].latencyMs, p50: '1 ms' } } as unknown as BenchResult])), /results\.0\.latencyMs\.p50: .*expected number/],
  ];
  for (const [name, text, message] of bad) {
    await assert.rejects(readBaseline(write(name, text)), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, message);
      return true;
    });
  }
  await assert.rejects(readBaseline(path.join(dir, 'missing.json')), /baseline not found/);
});
