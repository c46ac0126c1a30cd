/**
 * The real-model corpus: ONNX models nobody on the project wrote, fetched by
 * scripts/corpus/fetch.sh into $TDEPLOY_CORPUS_DIR (default .corpus/). Tests skip loudly without
 * it and fail when TDEPLOY_REQUIRE_CORPUS=1 (CI fetches it first).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckReport } from '../../src/accuracy/check.js';
import { TdeployError } from '../../src/errors.js';
import { writeTensorPb } from '../../src/tensor/files.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { PackageOptions } from '../../src/triton/options.js';
import { packageModel } from '../../src/triton/package.js';
import { verifyRepository } from '../../src/triton/verify.js';
import { repoRoot, tempDir } from '../helpers.js';

export const corpusDir = process.env.TDEPLOY_CORPUS_DIR ?? path.join(repoRoot, '.corpus');
export const corpus = (...parts: string[]) => path.join(corpusDir, ...parts);

/** For node:test's `skip`: a loud reason when a corpus file is missing, false when all are there. */
export function skipWithoutCorpus(files: string[]): string | false {
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length === 0) return false;
  const reason = `real-model corpus not found (${missing.map((f) => path.relative(corpusDir, f)).join(', ')} in ${corpusDir}): SKIPPING (bash scripts/corpus/fetch.sh)`;
  if (process.env.TDEPLOY_REQUIRE_CORPUS === '1') throw new Error(`TDEPLOY_REQUIRE_CORPUS=1 but ${reason}`);
  process.stderr.write(`\n*** ${reason} ***\n`);
  return reason;
}

/** float32 standard normal values times `scale`, reproducible by seed. */
export function normal(shape: number[], seed: number, scale = 1): Tensor {
  const random = new Random(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => random.normal() * scale) };
}

export const int64 = (value: number): Tensor => ({ dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(value)) });

/** ONNX test data sets, test_data_set_<i>/input_<j>.pb, one per map, in the model's input order. */
export async function writeDataSets(dir: string, sets: TensorMap[]): Promise<string> {
  for (const [i, set] of sets.entries()) {
    const folder = path.join(dir, `test_data_set_${i}`);
    fs.mkdirSync(folder, { recursive: true });
    for (const [j, [name, tensor]] of [...set].entries()) await writeTensorPb(path.join(folder, `input_${j}.pb`), name, tensor);
  }
  return dir;
}

/** Cosines of a drift report by output, for assertions and messages. */
export const cosines = (drift: CheckReport) => Object.fromEntries(drift.outputs.map((o) => [o.name, o.cosine ?? NaN]));
export const minCosine = (drift: CheckReport) => Math.min(...drift.outputs.map((o) => o.cosine ?? NaN));

/** Asserts lo <= value <= hi with the value in the message. */
export function within(value: number, [lo, hi]: [number, number], what: string): void {
  assert.ok(value >= lo && value <= hi, `${what}: ${value} not in [${lo}, ${hi}]`);
}

/** The rejection a call ends with, as the typed error (exit code, kind) the CLI would print. */
export async function failure(promise: Promise<unknown>): Promise<TdeployError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TdeployError) return error;
    throw error;
  }
  assert.fail('expected an error');
}

/** Packages a model into a new Triton repository and verifies it as `package --verify` does; returns the packaged model. */
export async function packageAndVerify(model: string, name: string) {
  const repo = path.join(tempDir('tdeploy-corpus-'), 'models');
  const result = await packageModel(model, PackageOptions.parse({ output: repo, name }));
  const verified = await verifyRepository(repo);
  assert.equal(verified.passed, true, JSON.stringify(verified.models));
  assert.ok(fs.existsSync(path.join(repo, name, '1', 'model.onnx')));
  return result.models[0];
}
