import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { resolveConfig } from '../../src/pipeline/config.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { type PipelineState, checkStep, quantizeStep } from '../../src/pipeline/steps.js';
import { fixture, tempDir } from '../helpers.js';

/** A state as the convert step leaves it for an ONNX source, for running later steps alone. */
function stateFor(quantize: unknown[]): PipelineState {
  const dir = tempDir();
  const config = resolveConfig({
    output: 'out',
    model: { source: fixture('encoder.onnx'), reference: fixture('encoder.reference.npz') },
    quantize,
  }, dir, path.join(dir, 'tdeploy.config.json'));
  return { config, name: 'encoder', models: new Map([['fp32', fixture('encoder.onnx')]]), accuracy: new Map(), reference: fixture('encoder.reference.npz') };
}

test('the check step runs alone on a state: every artifact against the reference, by its precision\'s gate', async () => {
  const state = stateFor([]);
  const outcome = await checkStep.run(state, () => {});
  assert.equal(outcome.status, 'passed');
  const fp32 = outcome.result!.fp32;
  assert.deepEqual([fp32.passed, fp32.gate?.atol, fp32.gate?.rtol], [true, 1e-4, 1e-3]);
  assert.deepEqual([...checkStep.summarise(state, outcome.result).accuracy!.keys()], ['fp32']);
  assert.equal((await checkStep.run({ ...state, reference: undefined }, () => {})).status, 'skipped');
});

test('the quantize step runs alone: a failed drift gate is a failed status with the reason, not an exception', async () => {
  const state = stateFor([{ name: 'int8', to: 'int8', maxDriftCosine: 0.9999999 }]);
  const outcome = await quantizeStep.run(state, () => {});
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.reason!, /^int8 drifts from float32 beyond quantize\[0\]\.maxDriftCosine: 0\.9999999: logits \(cosine [\d.]+ < 0\.9999999\)/);
  assert.equal(outcome.result.length, 1);
  const { models } = quantizeStep.summarise(state, outcome.result);
  assert.deepEqual([...models!.keys()], ['fp32', 'int8'], 'the failed variant is still an artifact, written to examine');
});

test('a table of steps runs only when every step runs after what it needs', async () => {
  const { config } = stateFor([]);
  await assert.rejects(runPipeline(config, () => {}, [checkStep]), /the check step needs the convert step to run before it/);
});
