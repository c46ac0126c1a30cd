import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { OutputSet, writeAtomic, writeFileAtomic } from '../../src/io/atomic.js';
import { listFiles, tempDir } from '../helpers.js';

test('writes create missing parent folders and leave no temporary behind', async () => {
  const dir = tempDir();
  await writeFileAtomic(path.join(dir, 'a', 'b', 'out.txt'), 'hello');
  assert.deepEqual(listFiles(dir), ['a/b/out.txt']);
  assert.equal(fs.readFileSync(path.join(dir, 'a', 'b', 'out.txt'), 'utf8'), 'hello');
});

test('a failed write leaves neither the destination nor a temporary file', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'old');
  await assert.rejects(writeAtomic(path.join(dir, 'keep.txt'), async (tmp) => {
    fs.writeFileSync(tmp, 'half');
    throw new Error('boom');
  }), /boom/);
  assert.deepEqual(listFiles(dir), ['keep.txt']);
  assert.equal(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'old');
});

test('an output set appears all together or not at all', async () => {
  const dir = tempDir();
  await assert.rejects(new OutputSet().run(async (set) => {
    fs.writeFileSync(await set.temp(path.join(dir, 'model.onnx')), 'm');
    fs.writeFileSync(await set.temp(path.join(dir, 'model.onnx.data')), 'd');
    throw new Error('export failed');
  }));
  assert.deepEqual(listFiles(dir), []);
  await new OutputSet().run(async (set) => {
    fs.writeFileSync(await set.temp(path.join(dir, 'model.onnx')), 'm');
    fs.writeFileSync(await set.temp(path.join(dir, 'model.onnx.data')), 'd');
  });
  assert.deepEqual(listFiles(dir), ['model.onnx', 'model.onnx.data']);
});
