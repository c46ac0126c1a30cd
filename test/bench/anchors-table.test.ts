import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Measured, type ModelRun, markdown, opChanges, rows, verdicts } from '../../bench/anchors/table.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

const variant = (label: string, tool: Measured['tool'], cosine: number, p50Rounds: number[]): Measured => ({
  label, tool, sizeMiB: 60, cosine, p50Rounds, ops: {},
});

/**
 * Rounds at different load: the median of the per-round fp32/int8 ratios (2.1875) is not the ratio of
 * the median p50s (770 / 320 = 2.40625), which is what the p50 cells show.
 */
const run: ModelRun = {
  name: 'm', input: 'seq 128', date: '2026-12-02 19:30', rounds: 3, iterations: 5, threads: 1,
  loadAverage: { start: [2, 1.5, 1], end: [3, 2, 1.25] }, onnxruntime: '1.30.0', failed: {}, notes: [],
  measured: [
    variant('fp32', 'tdeploy', 1, [700, 1000, 770]),
    variant('tdeploy-int8', 'tdeploy', 0.999, [320, 300, 500]),
    variant('tdeploy-int8-static', 'tdeploy', 0.997, [800, 900, 850]),
    variant('ort-dynamic', 'onnxruntime', 0.9998, [400, 380, 420]),
    variant('ort-static', 'onnxruntime', 0.997, [700, 1000, 770]),
  ],
};

test('speed-up is the ratio of the p50s (medians of rounds), with the per-round range beside it', () => {
  const int8 = rows(run).find((r) => r.label === 'tdeploy-int8')!;
  assert.equal(int8.p50Ms, 320);
  close(int8.speedup, 770 / 320, 'speed-up');
  close(int8.roundSpeedups[0], 770 / 500, 'lowest round');
  close(int8.roundSpeedups[1], 1000 / 300, 'highest round');
  const fp32 = rows(run).find((r) => r.label === 'fp32')!;
  assert.deepEqual([fp32.p50Ms, fp32.speedup, ...fp32.roundSpeedups], [770, 1, 1, 1]);
});

test('verdicts use the same statistic: onnxruntime p50 over tdeploy p50, and judge cosine within 5e-4', () => {
  assert.deepEqual(verdicts(run).map((v) => v.gate), [0.99, 0.99]);
  const [dynamic, staticQdq] = verdicts(run);
  assert.deepEqual([dynamic.tdeploy, dynamic.onnxruntime], ['tdeploy-int8', 'ort-dynamic']);
  close(dynamic.speedRatio, 400 / 320, 'dynamic ratio');
  close(dynamic.roundRatios[0], 420 / 500, 'dynamic lowest round');
  close(dynamic.roundRatios[1], 380 / 300, 'dynamic highest round');
  assert.deepEqual([dynamic.faster, dynamic.asAccurate, dynamic.passed], [true, false, false]);
  close(staticQdq.speedRatio, 770 / 850, 'static ratio');
  assert.deepEqual([staticQdq.faster, staticQdq.asAccurate, staticQdq.passed], [false, true, false]);
});

test('the Markdown cells agree: every speed-up is fp32\'s p50 cell over the row\'s p50 cell', () => {
  const doc = { environment: { cpu: 'x', cores: 2, torch: '2', transformers: '5', onnxruntimePython: '1.30.0' }, runs: [run], verdicts: verdicts(run) };
  const text = markdown(doc);
  assert.match(text, /\*\*p50 ms\*\* is the median of the rounds' p50s; \*\*speed-up\*\* is fp32's p50 over the variant's/);
  assert.ok(text.includes('| m | tdeploy-int8 | tdeploy | 60.0 | 0.9990 | 320.00 | 2.41× | 1.54–3.33 |'), text);
  assert.ok(!text.includes('2.19×'), 'the median of per-round ratios is not shown as the speed-up');
  assert.ok(text.includes('| m | tdeploy-int8 | ort-dynamic | 1.25× | 0.84–1.27 | 0.9990 / 0.9998 | **less accurate** |'), text);
  assert.ok(text.includes('| m | tdeploy-int8-static | ort-static | 0.91× | 0.88–1.11 | 0.9970 / 0.9970 | **slower** |'), text);
  const belowGate = { ...run, measured: run.measured.map((m) => (m.label.includes('static') ? { ...m, cosine: m.tool === 'tdeploy' ? 0.9628 : 0.9499 } : m)) };
  assert.ok(markdown({ ...doc, runs: [belowGate], verdicts: verdicts(belowGate) })
    .includes('| m | tdeploy-int8-static | ort-static | 0.91× | 0.88–1.11 | 0.9628 / 0.9499 | **slower**; both miss the 0.99 gate |'));
  assert.ok(text.includes('| m | seq 128 | 2026-12-02 19:30 | 3 × 5 | 1 | 2.00 1.50 1.00 → 3.00 2.00 1.25 |'), text);
  const variantRows = text.split('\n').filter((line) => line.startsWith('| m | ') && line.split('|').length === 10);
  assert.equal(variantRows.length, 5);
  const cells = variantRows.map((line) => line.split('|').map((c) => c.trim()));
  const fp32P50 = Number(cells.find((c) => c[2] === 'fp32')![6]);
  for (const c of cells) {
    const speedup = Number(c[7].replace('×', ''));
    assert.ok(Math.abs(fp32P50 / Number(c[6]) - speedup) <= 0.005 + 1e-9, `${c[2]}: ${fp32P50} / ${c[6]} is not ${c[7]}`);
  }
});

test('op changes: counts that differ from fp32, the largest change first, added types marked +', () => {
  const fp32 = { MatMul: 72, Add: 10, Gemm: 2 };
  assert.equal(opChanges(fp32, { MatMul: 24, MatMulInteger: 48, DynamicQuantizeLinear: 48, Add: 10, Gemm: 2 }),
    '+DynamicQuantizeLinear 48, MatMul 72→24, +MatMulInteger 48');
  assert.equal(opChanges(fp32, { MatMul: 72, Add: 10 }), 'Gemm 2→0');
  assert.equal(opChanges(fp32, fp32), '');
});
