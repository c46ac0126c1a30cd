import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TensorInfo } from '../../src/onnx/signature.js';
import { engineProfiles, parseProfile } from '../../src/trt/profiles.js';

const encoder: TensorInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'scale', dtype: 'float32', shape: [1] },
];
const none = { shapes: {}, dims: {} };

test('--shapes takes three shapes (min,opt,max) or one fixed shape; names may hold colons', () => {
  assert.deepEqual(parseProfile('input_ids:1x16,8x128,32x512'), ['input_ids', { min: [1, 16], opt: [8, 128], max: [32, 512] }]);
  assert.deepEqual(parseProfile('x:0:4x3'), ['x:0', { min: [4, 3], opt: [4, 3], max: [4, 3] }]);
  assert.throws(() => parseProfile('x:1x2,3x4'), /expected name:MINxA,OPTxB,MAXxC or name:AxB/);
  assert.throws(() => parseProfile('x:1x0'), /'0' is not a positive integer/);
  assert.throws(() => parseProfile('1x2'), /expected name:/);
});

test('--dim min,opt,max gives every input using the dim a profile; static inputs get none', () => {
  const profiles = engineProfiles(encoder, {}, { shapes: {}, dims: { batch: [1, 8, 32], seq: [16, 128, 512] } });
  assert.deepEqual(profiles, {
    input_ids: { min: [1, 16], opt: [8, 128], max: [32, 512] },
    attention_mask: { min: [1, 16], opt: [8, 128], max: [32, 512] },
  });
});

test('one value fixes a dim; --shapes and --shape take precedence per input', () => {
  const profiles = engineProfiles(encoder, { input_ids: { min: [1, 8], opt: [2, 8], max: [4, 8] } }, { shapes: { attention_mask: [2, 64] }, dims: { seq: [64] } });
  assert.deepEqual(profiles, {
    input_ids: { min: [1, 8], opt: [2, 8], max: [4, 8] },
    attention_mask: { min: [2, 64], opt: [2, 64], max: [2, 64] },
  });
});

test('dynamic inputs without a profile fail with a line listing them and a dims example', () => {
  assert.throws(() => engineProfiles(encoder, {}, { shapes: {}, dims: { batch: [1, 4, 8] } }), (e: Error & { hint?: string }) =>
    e.message === 'the model has dynamic inputs without a profile: input_ids [batch, seq], attention_mask [batch, seq]' &&
    e.hint === 'give min,opt,max for each dynamic dim, e.g. `dims: seq=1,8,32`, or `profiles: input_ids:MINxA,OPTxB,MAXxC`');
  const unnamed: TensorInfo[] = [{ name: 'image', dtype: 'float32', shape: [null, 3, 32, 32] }];
  assert.throws(() => engineProfiles(unnamed, {}, none), (e: Error & { hint?: string }) => /unnamed dims cannot be set with `dims`/.test(e.hint!));
});

test('profiles that do not fit the model are input errors', () => {
  const err = (profiles: Record<string, { min: number[]; opt: number[]; max: number[] }>, re: RegExp) =>
    assert.throws(() => engineProfiles(encoder, profiles, { shapes: {}, dims: { batch: [1], seq: [8] } }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && re.test(e.message));
  err({ input_idz: { min: [1, 1], opt: [1, 1], max: [1, 1] } }, /`profiles` names 'input_idz', which is not an input of the model/);
  err({ input_ids: { min: [1], opt: [1], max: [1] } }, /min shape 1 has rank 1, the model's input is \[batch, seq\]/);
  err({ scale: { min: [2], opt: [2], max: [2] } }, /dim 0 is fixed to 1 in the model, not 2 \(min\)/);
  err({ input_ids: { min: [4, 8], opt: [2, 8], max: [8, 8] } }, /dim 0 must grow min <= opt <= max, got 4, 2, 8/);
  assert.throws(() => engineProfiles(encoder, {}, { shapes: {}, dims: { batch: [1, 8], seq: [8] } }), /`dims: batch`: give one value or three \(min,opt,max\), not 2/);
  assert.throws(() => engineProfiles(encoder, {}, { shapes: {}, dims: { height: [8] } }), /the model has no symbolic dimension 'height'/);
});
