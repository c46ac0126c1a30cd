import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PackageOptions, type PackageOptionsInput } from '../../src/triton/options.js';
import { packageModel } from '../../src/triton/package.js';
import { readConfig } from '../../src/triton/text.js';
import { verifyRepository } from '../../src/triton/verify.js';
import { fixture, listFiles, tempDir } from '../helpers.js';
import { encoderVariant } from './models.js';

/**
 * Writers racing into one repository, in one process: each package call awaits the file system
 * between reading the repository and renaming into it, so two calls interleave there as two
 * processes do: before the repository had a lock, each of these failed in its first trial. Repeated,
 * because between processes a race shows in some trials only (7 of 30 lost a model);
 * bench/faults.ts runs the same races between processes.
 */
const TRIALS = 10;
const pack = (model: string, options: PackageOptionsInput) => packageModel(model, PackageOptions.parse(options));

test('two writers of different models into one new repository: both models are there, every trial', async () => {
  for (let trial = 0; trial < TRIALS; trial++) {
    const repo = path.join(tempDir(), 'models');
    await Promise.all(['a', 'b'].map((name) => pack(fixture('encoder.onnx'), { output: repo, name })));
    assert.deepEqual(listFiles(repo), ['a/1/model.onnx', 'a/config.pbtxt', 'b/1/model.onnx', 'b/config.pbtxt', 'tdeploy.json'], `trial ${trial}`);
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(path.join(repo, 'tdeploy.json'), 'utf8')).models).sort(), ['a', 'b']);
  }
});

test('two writers of one name without --force: one writes, the other is refused, every trial', async () => {
  for (let trial = 0; trial < TRIALS; trial++) {
    const repo = path.join(tempDir(), 'models');
    const results = await Promise.allSettled([1, 2].map(() => pack(fixture('encoder.onnx'), { output: repo, name: 'enc' })));
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'], `trial ${trial}`);
    const refused = results.find((r) => r.status === 'rejected')!.reason as Error;
    assert.equal(refused.message, `${path.join(repo, 'enc', '1')} already exists`);
    assert.deepEqual(listFiles(repo), ['enc/1/model.onnx', 'enc/config.pbtxt', 'tdeploy.json']);
  }
});

test('two --force writers of different models under one name: the config always describes the model beside it', async () => {
  const dir = tempDir();
  const variant = encoderVariant(dir);
  const sizes = new Map([[4, fs.statSync(fixture('encoder.onnx')).size], [8, fs.statSync(variant).size]]);
  const repo = path.join(dir, 'models');
  await pack(fixture('encoder.onnx'), { output: repo, name: 'enc' });
  for (let trial = 0; trial < TRIALS; trial++) {
    await Promise.all([[fixture('encoder.onnx'), 4], [variant, 8]].map(([model, maxBatchSize]) =>
      pack(model as string, { output: repo, name: 'enc', force: true, maxBatchSize: maxBatchSize as number })));
    const config = await readConfig(path.join(repo, 'enc', 'config.pbtxt'));
    assert.equal(fs.statSync(path.join(repo, 'enc', '1', 'model.onnx')).size, sizes.get(config.maxBatchSize), `trial ${trial}`);
    assert.deepEqual(listFiles(repo), ['enc/1/model.onnx', 'enc/config.pbtxt', 'tdeploy.json']);
  }
  assert.equal((await verifyRepository(repo)).passed, true);
});
