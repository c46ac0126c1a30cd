import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkEngineForRelease, checkPythonForRelease } from '../../src/triton/release-runtimes.js';
import { findRelease } from '../../src/triton/releases.js';
import { TOKENIZER_TEMPLATE } from '../../src/triton/tokenizer.js';
import { shared, tempDir } from '../helpers.js';

/** A folder holding a real python3.8 (pyenv keeps one per version), or undefined. */
function python38Folder(): string | undefined {
  const root = path.join(process.env.PYENV_ROOT ?? path.join(process.env.HOME ?? '/root', '.pyenv'), 'versions');
  const version = fs.existsSync(root) ? fs.readdirSync(root).find((v) => v.startsWith('3.8.')) : undefined;
  return version ? path.join(root, version, 'bin') : undefined;
}

const py38 = python38Folder();

test('model.py is parsed by the release\'s own Python: match (3.10) fails on 22.02\'s 3.8, the tokenizer template passes',
  { skip: py38 ? false : 'no python3.8 found (pyenv versions/3.8.*): SKIPPING the grammar check' }, async () => {
    const saved = process.env.PATH;
    process.env.PATH = `${py38}${path.delimiter}${saved}`;
    try {
      const file = path.join(tempDir(), 'model.py');
      fs.writeFileSync(file, 'def f(x):\n    match x:\n        case 1:\n            return 2\n');
      const bad = await checkPythonForRelease(file, findRelease('22.02'), 'model.py');
      assert.deepEqual(bad.problems.map((p) => p.message), ['model.py does not parse with Python 3.8 (tritonserver 22.02): line 2: invalid syntax']);
      assert.deepEqual(await checkPythonForRelease(TOKENIZER_TEMPLATE, findRelease('22.02'), 'model.py'), { problems: [], unchecked: [] });
    } finally {
      process.env.PATH = saved;
    }
  });

test('without the release\'s Python or its version, model.py is reported as not parsed, never passed', async () => {
  const saved = process.env.PATH;
  process.env.PATH = tempDir();
  try {
    const none = await checkPythonForRelease(TOKENIZER_TEMPLATE, findRelease('24.10'), 'model.py');
    assert.deepEqual(none.problems, []);
    assert.match(none.unchecked[0].message, /no python3\.10 on PATH/);
  } finally {
    process.env.PATH = saved;
  }
  const unknown = await checkPythonForRelease(TOKENIZER_TEMPLATE, findRelease('26.08'), 'model.py');
  assert.match(unknown.unchecked[0].message, /Python version of tritonserver 26\.08 was not found/);
});

test('an engine built by another TensorRT than the release\'s is refused; its log names the version', async () => {
  const log = shared('trtexec-logs', '06-trt10.14.1-onnx-defaults-pass.log');
  const found = await checkEngineForRelease(log, findRelease('24.10'), 'model.plan');
  assert.equal(found.problems.length, 1);
  assert.match(found.problems[0].message, /^model\.plan was built by TensorRT 10\.14\.1.*; tritonserver 24\.10 runs TensorRT 10\.5\.0\.18/);
  const noLog = await checkEngineForRelease(undefined, findRelease('24.10'), 'model.plan');
  assert.match(noLog.unchecked[0].message, /no trtexec log/);
});
