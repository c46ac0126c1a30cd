import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { modelRef } from '../../src/accuracy/check.js';
import { makeNode } from '../../src/quantize/graph.js';
import { SLOWDOWN_LIMIT, measureSpeed, slowdownNote } from '../../src/quantize/speed.js';
import { silent } from '../../src/progress.js';
import { Random } from '../../src/tensor/random.js';
import { tempDir } from '../helpers.js';
import { floats, value, writeModel } from './helpers.js';

/** y = x·w, or the same through `extra` more 512×512 products: the same signature, far more work. */
async function chain(file: string, extra: number): Promise<string> {
  const random = new Random(1);
  const nodes = [makeNode('MatMul', ['x', 'w'], [extra ? 'h0' : 'y'])];
  for (let i = 0; i < extra; i++) nodes.push(makeNode('MatMul', [`h${i}`, 'w'], [i === extra - 1 ? 'y' : `h${i + 1}`]));
  return writeModel(file, nodes, [value('x', 'float32', ['batch', 512])], [value('y', 'float32', ['batch', 512])], { w: floats([512, 512], () => random.normal() * 0.04) });
}

test('measureSpeed: a model doing 16 times the work is reported slower, with the warning for stderr and JSON', async () => {
  const dir = tempDir();
  const light = await modelRef(await chain(path.join(dir, 'light.onnx'), 0));
  const heavy = await modelRef(await chain(path.join(dir, 'heavy.onnx'), 15));
  const random = new Random(2);
  const data = [new Map([['x', floats([64, 512], () => random.normal())]])];
  const speed = await measureSpeed(light, heavy, data, undefined, silent);
  assert.ok(speed.runs >= 5, `${speed.runs} runs`);
  assert.ok(speed.originalMs > 0 && speed.quantizedMs > speed.originalMs, JSON.stringify(speed));
  assert.equal(speed.speedup, speed.originalMs / speed.quantizedMs);
  assert.ok(speed.speedup < 0.5, `speed-up ${speed.speedup}`);
  assert.equal(speed.slower, true);
  assert.equal(speed.provider, 'cpu');
  assert.match(slowdownNote(speed), new RegExp(`^warning: the quantized model runs at 0\\.\\d\\d× the original's speed on cpu \\(fastest of ${speed.runs} runs each: [\\d.]+ ms against [\\d.]+ ms\\), below ${SLOWDOWN_LIMIT}×$`));
  const reverse = await measureSpeed(heavy, light, data, undefined, silent);
  assert.ok(reverse.speedup > 2 && !reverse.slower, JSON.stringify(reverse));
});
