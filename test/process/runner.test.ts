import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runTool } from '../../src/process/runner.js';
import { tempDir } from '../helpers.js';

test('lines are split on newlines and decoded whole, even when a character straddles two chunks', async () => {
  const lines: [string, string][] = [];
  // "é" is 0xc3 0xa9; the pause makes the two bytes arrive in separate reads
  const script = 'process.stdout.write(Buffer.from([0x61, 0xc3])); setTimeout(() => { process.stdout.write(Buffer.from([0xa9, 0x0a, 0x62])); process.stderr.write("e\\r\\n"); }, 200)';
  const result = await runTool({ file: process.execPath, args: ['-e', script], label: 'node', onLine: (line, stream) => lines.push([line, stream]) });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(lines.filter(([, s]) => s === 'stdout'), [['aé', 'stdout'], ['b', 'stdout']]);
  assert.deepEqual(lines.filter(([, s]) => s === 'stderr'), [['e', 'stderr']]);
  assert.equal(result.stdout, 'aé\nb');
});

test('a program that is missing or not executable is a tool error that says which', async () => {
  const dir = tempDir();
  const script = path.join(dir, 'tool.sh');
  fs.writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  const cases: [string, RegExp][] = [
    [path.join(dir, 'absent'), /^tool not found: .*absent$/],
    [script, /^tool is not executable \(a folder, or a file without execute permission\): .*tool\.sh$/],
    [dir, /^tool is not executable/],
  ];
  for (const [file, message] of cases) {
    await assert.rejects(runTool({ file, args: [], label: 'tool', missingHint: 'install it' }), (e: Error & { kind?: string; exitCode?: number; hint?: string }) => {
      assert.match(e.message, message);
      assert.deepEqual([e.kind, e.exitCode, e.hint], ['tool-missing', 3, 'install it']);
      return true;
    });
  }
});

test('a program that runs past its timeout is killed and reported as timed out', async () => {
  const result = await runTool({ file: process.execPath, args: ['-e', 'setTimeout(() => {}, 60000)'], label: 'node', timeoutMs: 300 });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGTERM');
  assert.ok(result.seconds < 10, `${result.seconds} s`);
});
