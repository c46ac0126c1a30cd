import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers.js';
import { detectTrtVersion, formatVersion, versionFromHeader, versionFromTag } from '../../src/trt/version.js';
import { fakeTrtexec, log } from './fake.js';

test('status-line tags decode per release family', () => {
  const decode = (line: string) => {
    const v = versionFromTag(line);
    return v && `${formatVersion(v)}${v.build === undefined ? '' : ` b${v.build}`}`;
  };
  assert.equal(decode('&&&& RUNNING TensorRT.trtexec [TensorRT v8003] # trtexec'), '8.0.3');
  assert.equal(decode('&&&& PASSED TensorRT.trtexec [TensorRT v8601] # trtexec'), '8.6.1');
  assert.equal(decode('&&&& RUNNING TensorRT.trtexec [TensorRT v100001] # trtexec'), '10.0.1');
  assert.equal(decode('&&&& FAILED TensorRT.trtexec [TensorRT v101303] [b9] # ./trtexec'), '10.13.3 b9');
  assert.equal(decode('&&&& RUNNING TensorRT.trtexec [TensorRT v110000] [b2] # trtexec'), '11.0.0 b2');
  assert.equal(decode('&&&& RUNNING TensorRT.trtexec # /usr/src/tensorrt/bin/trtexec'), undefined, '7.x has no tag');
});

test('the options header states the version as 8.2.3, or 8.0\'s bare 8003', () => {
  assert.equal(formatVersion(versionFromHeader('8.2.3')!), '8.2.3');
  assert.equal(formatVersion(versionFromHeader('8003')!), '8.0.3');
  assert.equal(versionFromHeader('unknown'), undefined);
});

test('detection asks --help once per binary', async () => {
  const dir = tempDir();
  const fake = fakeTrtexec(dir, { log: log('06'), version: '8.5.3' });
  assert.equal(formatVersion(await detectTrtVersion(fake.path)), '8.5.3');
  assert.equal(formatVersion(await detectTrtVersion(fake.path)), '8.5.3');
  assert.deepEqual(fake.runs(), [['--help']]);
  const v10 = fakeTrtexec(path.join(dir, 'ten'), { log: log('06'), version: '10.2.0' });
  assert.deepEqual(await detectTrtVersion(v10.path), { major: 10, minor: 2, patch: 0 });
});

test('a program that prints no version tag is a tool error', async () => {
  const file = path.join(tempDir(), 'trtexec');
  fs.writeFileSync(file, '#!/bin/sh\necho "&&&& RUNNING TensorRT.trtexec # trtexec --help"\n', { mode: 0o755 });
  await assert.rejects(detectTrtVersion(file), (e: Error & { exitCode?: number }) =>
    e.exitCode === 3 && /cannot tell the TensorRT version of .*: its first line has no version tag/.test(e.message));
});
