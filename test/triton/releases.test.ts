import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findRelease, newestRelease, sourceText, tritonReleases } from '../../src/triton/releases.js';

test('the table has every release from 22.01 to the newest, one a month', () => {
  const names = tritonReleases().map((r) => r.release);
  assert.equal(names[0], '22.01');
  assert.equal(names.at(-1), '26.08');
  assert.equal(names.length, 56);
  assert.equal(newestRelease().release, '26.08');
});

test("rows match their sources' figures", () => {
  // triton-inference-server/server docs/introduction/compatibility.md, "ONNX Runtime Versions"
  assert.equal(findRelease('26.08').onnxruntime.value, '1.28.0');
  assert.equal(findRelease('24.04').onnxruntime.value, '1.17.3');
  assert.equal(findRelease('25.08').onnxruntime.value, '1.23.0+1d1712fdaf');
  // release notes 24.10 and 25.01: "The container also includes"
  const r2410 = findRelease('24.10');
  assert.deepEqual([r2410.onnxruntime.value, r2410.tensorrt.value, r2410.python.value], ['1.19.2', '10.5.0.18', '3.10']);
  const r2501 = findRelease('25.01');
  assert.deepEqual([r2501.onnxruntime.value, r2501.tensorrt.value, r2501.python.value], ['1.20.1', '10.8.0.43', '3.12']);
  // issues #6991/#7027: 24.02 has no ONNX Runtime backend; ultralytics#17378: 22.12 refuses IR 10, max 8
  assert.equal(findRelease('24.02').onnxruntime.absent, true);
  assert.equal(findRelease('22.12').maxIrVersion?.value, 8);
  assert.equal(findRelease('22.12-py3').image, 'nvcr.io/nvidia/tritonserver:22.12-py3');
});

test("measured onnxruntime limits agree with onnxruntime's compatibility table", () => {
  // docs/reference/compatibility.md: 1.14 → opset 18, ML 3, IR 8; 1.20 → opset 21, ML 4, IR 10. The
  // measurement finds ML opset 5 for 1.20 (ONNX 1.16 added ai.onnx.ml 5): the doc's ML column is stale there.
  const ort114 = findRelease('23.04').ort!;
  assert.deepEqual([ort114.maxIrVersion, ort114.maxOpset['ai.onnx'], ort114.maxOpset['ai.onnx.ml']], [8, 18, 3]);
  const ort120 = findRelease('25.01').ort!;
  assert.deepEqual([ort120.maxIrVersion, ort120.maxOpset['ai.onnx'], ort120.maxOpset['ai.onnx.ml']], [10, 21, 5]);
  assert.ok(ort120.contribOps!.includes('MatMulNBits'));
  assert.ok(!ort114.contribOps!.includes('MatMulNBits'), 'MatMulNBits came with onnxruntime 1.17');
  assert.ok(ort114.contribOps!.includes('QAttention'));
});

test('every figure names sources the table defines; a missing figure says why', () => {
  for (const r of tritonReleases()) {
    for (const f of [r.onnxruntime, r.tensorrt, r.python]) {
      if (f.value === null && !f.absent) assert.ok(f.note, `${r.release}: a null figure needs a note`);
      for (const s of f.sources) assert.notEqual(sourceText(s), s, `${r.release}: source '${s}' is not defined`);
    }
  }
});

test('an unknown release is an input error listing the range', () => {
  assert.throws(() => findRelease('21.12'), /not a tritonserver release tdeploy knows/);
});
