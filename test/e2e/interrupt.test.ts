import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fakeTrtexec, log, processGone } from '../trt/fake.js';
import { fixture, listFiles, repoRoot, tempDir } from '../helpers.js';

/**
 * Ctrl-C typed on a terminal while a spinner shows. The spinner's library used to put the
 * terminal in raw mode, where ^C is a character rather than SIGINT: `bench --duration 12` ran to
 * its end and exited 0. A pseudo-terminal (Python's pty module) types it as a user does.
 */
interface Typed {
  code: number;
  interruptedAfter: number | null;
  exitSeconds: number | null;
  output: string;
}

function typeCtrlC(args: string[], pattern: string, options: { env?: Record<string, string>; file?: string } = {}): Typed {
  const driver = path.join(repoRoot, 'test', 'process', 'pty_interrupt.py');
  // As on a user's terminal: ora shows no spinner where CI is set at all, or TERM is dumb.
  const env: Record<string, string | undefined> = { ...process.env, TERM: 'xterm-256color', ...options.env };
  delete env.CI;
  const out = execFileSync('python3', [driver, '--pattern', pattern, '--file', options.file ?? '', '--limit', '90', '--', process.execPath, path.join(repoRoot, 'bin', 'tdeploy.js'), ...args], {
    encoding: 'utf8', env,
  });
  return JSON.parse(out) as Typed;
}

test('Ctrl-C on a terminal stops bench --duration 12 within a second: exit 130, no report, no output file', () => {
  const dir = tempDir();
  const r = typeCtrlC(['bench', fixture('encoder.onnx'), '--duration', '12', '--output', path.join(dir, 'bench.json')], 'timing encoder');
  assert.match(r.output, /\u001b\[36m/, 'a spinner was showing');
  assert.notEqual(r.interruptedAfter, null, r.output);
  assert.equal(r.code, 130, r.output);
  assert.ok(r.exitSeconds! < 1, `exited ${r.exitSeconds} s after Ctrl-C`);
  assert.match(r.output, /tdeploy: interrupted \(SIGINT\)/);
  assert.doesNotMatch(r.output, /p50/);
  assert.deepEqual(listFiles(dir), []);
});

test('Ctrl-C on a terminal during a hung trtexec: exit 130 within a second, its process group killed, no temporaries', async () => {
  const dir = tempDir();
  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('06'), hang: 140 });
  const out = path.join(dir, 'out');
  const r = typeCtrlC(['engine', fixture('convnet.onnx'), '-o', path.join(out, 'c.plan'), '--dim', 'batch=1,4,8'], '', { env: { TDEPLOY_TRTEXEC: fake.path }, file: fake.childFile });
  assert.match(r.output, /\u001b\[36m/, 'a spinner was showing');
  assert.equal(r.code, 130, r.output);
  assert.ok(r.exitSeconds! < 1, `exited ${r.exitSeconds} s after Ctrl-C`);
  assert.ok(await processGone(fake.childFile));
  assert.deepEqual(listFiles(out), []);
});
