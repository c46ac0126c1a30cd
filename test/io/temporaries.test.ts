import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HOST, parseTemporary, sweepAbandoned, temporaryPath } from '../../src/io/temporaries.js';
import { listFiles, tempDir } from '../helpers.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

const tagOf = (pid: number, host = HOST) => `${host}-${pid}-0badcafe`;

test('a temporary names its owner: host, pid, role; other dot files are not temporaries', () => {
  const dead = deadPid();
  const file = temporaryPath('/r/models', tagOf(dead), 'tmp');
  assert.equal(file, `/r/.models.${HOST}-${dead}-0badcafe.tmp`);
  assert.deepEqual(parseTemporary(path.basename(file)), { name: path.basename(file), tag: `${HOST}-${dead}-0badcafe`, role: 'tmp', host: HOST, pid: dead, abandoned: true });
  assert.equal(parseTemporary(`.model.onnx.${process.pid}-0badcafe.tmp`)?.abandoned, false, 'the older name without a host is this host\'s');
  for (const name of ['.gitignore', '.models.tdeploy-lock', 'model.onnx', '.x.12-zz.tmp']) assert.equal(parseTemporary(name), undefined, name);
});

test('the sweep removes what dead processes left, keeps live ones and other hosts\', and leaves other files alone', async () => {
  const dir = tempDir();
  const dead = deadPid();
  const leftovers = [`.out.onnx.${tagOf(dead)}.tmp`, `.tdeploy-scratch.${tagOf(dead)}.tmp/tensors.bin`, `.1.${tagOf(dead)}.old/model.onnx`];
  const kept = [`.out.onnx.${tagOf(process.pid)}.tmp`, `.out.onnx.${tagOf(dead, 'ffffffff')}.tmp`, 'out.onnx', '.hidden'];
  for (const f of [...leftovers, ...kept]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), f);
  }
  const removed = await sweepAbandoned(dir);
  assert.deepEqual(removed.sort(), leftovers.map((f) => f.split('/')[0]).sort());
  assert.deepEqual(listFiles(dir), [...kept].sort());
});

test('the sweep finishes a dead run\'s commit from its journal: originals aside, temporaries in', async () => {
  const dir = tempDir();
  const tag = tagOf(deadPid());
  const at = (name: string) => path.join(dir, name);
  // Killed after moving the old model aside and putting the new data in: the model is missing.
  fs.writeFileSync(at('m.onnx.data'), 'new data');
  fs.writeFileSync(at(`.m.onnx.${tag}.old`), 'old model');
  fs.writeFileSync(at(`.m.onnx.data.${tag}.old`), 'old data');
  fs.writeFileSync(at(`.m.onnx.${tag}.tmp`), 'new model');
  const entries = ['m.onnx.data', 'm.onnx'].map((name) => ({ dest: at(name), tmp: temporaryPath(at(name), tag, 'tmp'), aside: temporaryPath(at(name), tag, 'old') }));
  fs.writeFileSync(temporaryPath(at('m.onnx.data'), tag, 'commit'), JSON.stringify(entries));
  await sweepAbandoned(dir);
  assert.deepEqual(listFiles(dir), ['m.onnx', 'm.onnx.data']);
  assert.deepEqual(['m.onnx', 'm.onnx.data'].map((f) => fs.readFileSync(at(f), 'utf8')), ['new model', 'new data']);
});
