import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionOptions } from '../../commands/options/session.js';
import { shapeSpec } from '../../commands/options/shapes.js';
import { InputError } from '../../src/errors.js';

test("--shape in perf_analyzer's syntax (commas) is refused with the same shape written the tdeploy way", () => {
  assert.deepEqual(shapeSpec({ shape: ['input_ids:1x16'] }).shapes, { input_ids: [1, 16] });
  assert.throws(() => shapeSpec({ shape: ['input_ids:1,16'] }), (e: InputError) =>
    e instanceof InputError && e.exitCode === 2 && e.message === '--shape input_ids:1,16: dims are separated by x here' &&
    e.hint === "--shape input_ids:1x16 (perf_analyzer's --shape takes commas; tdeploy writes shapes as trtexec does)");
});

test('--provider takes one provider or a list tried in order; unknown and repeated names are refused', () => {
  assert.deepEqual(sessionOptions({}).provider, ['cpu']);
  assert.deepEqual(sessionOptions({ provider: 'cuda' }).provider, ['cuda']);
  assert.deepEqual(sessionOptions({ provider: 'tensorrt, cuda,cpu' }).provider, ['tensorrt', 'cuda', 'cpu']);
  assert.throws(() => sessionOptions({ provider: 'cuda,rocm' }), /provider`?: expected cpu, cuda, tensorrt or a comma list of them, e.g. cuda,cpu$/);
  assert.throws(() => sessionOptions({ provider: 'cpu,cpu' }), /provider`?: a provider is listed twice$/);
});
