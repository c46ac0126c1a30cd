import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchDocument } from '../../src/report/bench.js';
import { keyValues, setTableWidth, table } from '../../src/report/format.js';
import { recordsTable } from '../../src/report/render.js';
import type { BenchReport } from '../../src/bench/result.js';

/** The widest line of a table's box; lines of prose around it wrap in any terminal. */
const widest = (text: string) => Math.max(...text.split('\n').filter((l) => /^[┌│├└]/.test(l)).map((l) => [...l].length));

test('a table wider than the terminal cuts its text columns to fit and never cuts a number', (t) => {
  t.after(() => setTableWidth(undefined));
  const rows = [['tdeploy-out/a/very/long/path/to/encoder.int8.onnx', 12345.678, 'a long note that explains something at length'], ['b.onnx', 0.5, 'short']];
  const full = table(['file', 'p50 ms', 'note'], rows, ['left', 'right', 'left']);
  assert.equal(widest(full), 111);
  setTableWidth(60);
  const fitted = table(['file', 'p50 ms', 'note'], rows, ['left', 'right', 'left']);
  assert.equal(widest(fitted), 60);
  assert.match(fitted, /│ 12345\.7 │/, 'the number is whole, as formatNumber writes it');
  assert.match(fitted, /│ tdeploy-out\/a\/very\/l… │ 12345/);
  assert.equal(widest(keyValues([['model', 'x'.repeat(100)]])), 60);
  setTableWidth(undefined);
  assert.equal(table(['file', 'p50 ms', 'note'], rows, ['left', 'right', 'left']), full, 'no terminal, full width');
});

const result = (label: string, p50: number) => ({
  model: `${label}.onnx`, label, backend: 'onnxruntime', provider: 'cpu', batch: 1, shapes: { input_ids: [1, 16] }, iterations: 200,
  latencyMs: { mean: p50, std: 0.01, min: p50 * 0.9, p50, p90: p50 * 1.1, p95: p50 * 1.2, p99: p50 * 1.3, max: p50 * 2 },
  throughput: { inferencesPerSec: 1000 / p50, samplesPerSec: 1000 / p50 }, speedup: 0.25 / p50, stable: null,
});

test('bench on a narrow terminal leaves out p90, p95, std… in that order and says so', () => {
  const report: BenchReport = {
    tool: { name: 'tdeploy', version: '0' },
    environment: { node: 'v20', onnxruntime: '1.30.0', cpu: 'cpu', cores: 2, os: 'linux' },
    results: [result('encoder.fp32', 0.25), result('encoder.int8', 0.125)], regressions: [], passed: null, baselineEnvironment: [], notes: [],
  };
  const { records } = benchDocument(report);
  const full = recordsTable(records, undefined);
  const table120 = recordsTable(records, 120);
  assert.ok(widest(full) > 120, `full width ${widest(full)}`);
  assert.ok(widest(table120) <= 120, table120);
  const headers = (text: string) => text.split('\n')[1].split('│').map((c) => c.trim()).filter(Boolean);
  const said = /^left out to fit 120 columns: (.*) \(a wider terminal/m.exec(table120)![1].split(', ');
  const order = ['p90 ms', 'p95 ms', 'std ms', 'min ms', 'max ms', 'samples/s', 'runs', 'mean ms', 'provider'];
  assert.deepEqual(said, order.slice(0, said.length), 'the least needed columns go first');
  assert.deepEqual(headers(full).filter((h) => !headers(table120).includes(h)).sort(), [...said].sort());
  assert.ok(headers(table120).includes('p50 ms') && headers(table120).includes('p99 ms'));
});
