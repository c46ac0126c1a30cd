import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

test('a file output never replaces a folder, and then none of its set is put in place', async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'model.onnx'));
  fs.writeFileSync(path.join(dir, 'model.onnx', 'notes.txt'), 'precious');
  await assert.rejects(new OutputSet().run(async (set) => {
    fs.writeFileSync(await set.temp(path.join(dir, 'model.onnx')), 'm');
    fs.writeFileSync(await set.temp(path.join(dir, 'model.onnx.data')), 'd');
  }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === `${path.join(dir, 'model.onnx')} is a folder; tdeploy does not replace a folder with a file`);
  assert.deepEqual(listFiles(dir), ['model.onnx/notes.txt']);
  assert.equal(fs.readFileSync(path.join(dir, 'model.onnx', 'notes.txt'), 'utf8'), 'precious');
});

test('a folder output replaces a folder (a version written again with --force)', async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, '1'));
  fs.writeFileSync(path.join(dir, '1', 'old.plan'), 'old');
  await writeAtomic(path.join(dir, '1'), async (tmp) => {
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'model.onnx'), 'new');
  });
  assert.deepEqual(listFiles(dir), ['1/model.onnx']);
});

test('an output folder that cannot be made is an input error that says why', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'file'), '');
  for (const dest of [path.join(dir, 'file', 'out.onnx'), path.join(dir, 'file', 'deeper', 'out.onnx')]) {
    await assert.rejects(writeFileAtomic(dest, 'x'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === `cannot create output folder ${path.dirname(dest)}: a file is in the way`);
  }
  assert.deepEqual(listFiles(dir), ['file']);
});

test('a file-system error while writing names the output, not the temporary', async () => {
  const dir = tempDir();
  // 255 bytes is the longest legal name: the output itself is fine, its temporary must be too
  const longest = path.join(dir, `${'m'.repeat(250)}.onnx`);
  await writeFileAtomic(longest, 'x');
  assert.deepEqual(listFiles(dir), [path.basename(longest)]);
  const repository = path.join(dir, 'repo');
  await assert.rejects(writeAtomic(repository, async (tmp) => {
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'n'.repeat(300)), 'x');
  }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === `cannot write ${repository}: the name is too long`);
  const tooLong = path.join(dir, 'n'.repeat(300));
  await assert.rejects(writeFileAtomic(tooLong, 'x'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === `cannot write ${tooLong}: the name is too long`);
  assert.deepEqual(listFiles(dir), [path.basename(longest)]);
});

test('an output under /proc fails at once with the reason, instead of looping in mkdir', async () => {
  const started = Date.now();
  await assert.rejects(writeFileAtomic('/proc/tdeploy-none/deeper/out.onnx', 'x'),
    (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === 'cannot create output folder /proc/tdeploy-none/deeper: the file system there takes no new folders');
  assert.ok(Date.now() - started < 2000);
});

test('outputs are committed in the order they were taken, data first; the set replaces a pair without a leftover', async () => {
  const dir = tempDir();
  const write = (model: string, data: string) => new OutputSet().run(async (set) => {
    fs.writeFileSync(await set.temp(path.join(dir, 'm.onnx.data')), data);
    fs.writeFileSync(await set.temp(path.join(dir, 'm.onnx')), model);
  });
  await write('model 1', 'data 1');
  await write('model 2', 'data 2');
  assert.deepEqual(listFiles(dir), ['m.onnx', 'm.onnx.data']);
  assert.deepEqual(['m.onnx', 'm.onnx.data'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8')), ['model 2', 'data 2']);
});

test('a folder that cannot be written in is an input error naming it', { skip: process.getuid?.() !== 0 && 'chattr needs root' }, async (t) => {
  const dir = path.join(tempDir(), 'locked');
  fs.mkdirSync(dir);
  if (spawnSync('chattr', ['+i', dir]).status !== 0) return t.skip('chattr +i is not supported here');
  t.after(() => spawnSync('chattr', ['-i', dir]));
  await assert.rejects(new OutputSet().folder(path.join(dir, 'out.onnx.export')),
    (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === `cannot write in ${dir}: permission denied`);
});
