import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { choosePython, pythonsWithTorch } from '../../src/torch/python.js';
import { pythonWith, skipWithoutPython, tempDir } from '../helpers.js';

test('the interpreter: --python, else TDEPLOY_PYTHON, else python3 on PATH', () => {
  assert.deepEqual(choosePython('/opt/py/bin/python', { TDEPLOY_PYTHON: '/usr/bin/python3' }), { command: '/opt/py/bin/python', chosenBy: '`python`' });
  assert.deepEqual(choosePython(undefined, { TDEPLOY_PYTHON: '/usr/bin/python3' }), { command: '/usr/bin/python3', chosenBy: 'TDEPLOY_PYTHON' });
  assert.deepEqual(choosePython(undefined, {}), { command: 'python3', chosenBy: 'python3 on PATH' });
});

test('interpreters with torch are found on PATH, the one that failed excluded', { skip: skipWithoutPython(['torch']) }, async () => {
  const withTorch = fs.realpathSync(pythonWith(['torch'])!);
  const dir = tempDir();
  fs.symlinkSync(withTorch, path.join(dir, 'python3'));
  const found = await pythonsWithTorch('/nonexistent/python3', { PATH: dir });
  assert.ok(found.includes(path.join(dir, 'python3')), found.join(', '));
  const excluded = await pythonsWithTorch(withTorch, { PATH: dir });
  assert.ok(!excluded.some((p) => fs.realpathSync(p) === withTorch), excluded.join(', '));
});
