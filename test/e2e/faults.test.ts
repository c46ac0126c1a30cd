import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encoderVariant } from '../triton/models.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { fixture, listFiles, repoRoot, runCli, tempDir } from '../helpers.js';

/**
 * Kills in every window of a commit. TDEPLOY_TEST_COMMIT_PAUSE_MS holds the commit after each
 * step; the test waits until the folder shows that step done, then SIGKILLs the run, and checks
 * what a reader sees then and after the next run into the same place.
 */
const PAUSE_MS = '800';

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), ...args], {
    env: { ...process.env, CI: 'true', TDEPLOY_TEST_COMMIT_PAUSE_MS: PAUSE_MS }, stdio: 'ignore',
  });
}

/** SIGKILLs `child` once `ready(names in dir)` holds; fails if it exits first. */
async function killWhen(child: ChildProcess, dir: string, ready: (names: string[]) => boolean): Promise<void> {
  const exited = once(child, 'exit');
  for (let waited = 0; waited < 60_000; waited += 20) {
    if (child.exitCode !== null) break;
    if (fs.existsSync(dir) && ready(fs.readdirSync(dir))) {
      child.kill('SIGKILL');
      await exited;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  assert.fail(`the window was not seen in ${dir} (exit ${child.exitCode})`);
}

const has = (pattern: RegExp) => (names: string[]) => names.some((n) => pattern.test(n));
const lacks = (name: string) => (names: string[]) => !names.includes(name);
const both = (...all: ((names: string[]) => boolean)[]) => (names: string[]) => all.every((f) => f(names));
const temporaries = (dir: string) => listFiles(dir).filter((f) => f.split('/').some((part) => /\.(tmp|old|commit)$/.test(part)));

test('package --force killed in each window of its commit: never a config beside another model; the next run finishes it', async () => {
  const dir = tempDir();
  const variant = encoderVariant(dir);
  const sizes = new Map([[4, fs.statSync(fixture('encoder.onnx')).size], [8, fs.statSync(variant).size]]);
  const windows: [string, (names: string[]) => boolean][] = [
    ['journal written', has(/^\.enc\..*\.commit$/)],
    ['old folder aside', both(has(/^\.enc\..*\.old$/), lacks('enc'))],
    ['new folder in', both(has(/^\.enc\..*\.old$/), (names) => names.includes('enc'))],
  ];
  for (const [window, ready] of windows) {
    const repo = path.join(dir, window.replaceAll(' ', '-'));
    assert.equal(runCli(['package', fixture('encoder.onnx'), '-o', repo, '--name', 'enc']).code, 0);
    await killWhen(start(['package', variant, '-o', repo, '--name', 'enc', '--force', '--max-batch-size', '8']), repo, ready);
    const enc = path.join(repo, 'enc');
    if (fs.existsSync(enc)) {
      const config = fs.readFileSync(path.join(enc, 'config.pbtxt'), 'utf8');
      const batch = Number(/max_batch_size: (\d+)/.exec(config)![1]);
      assert.equal(fs.statSync(path.join(enc, '1', 'model.onnx')).size, sizes.get(batch), `${window}: config and model of one write`);
    }
    if (window === 'old folder aside') {
      const verify = runCli(['package', '--verify', repo, '--json']);
      assert.equal(verify.code, 1);
      const problems = JSON.parse(verify.stdout).models.flatMap((m: { problems: { message: string }[] }) => m.problems.map((p) => p.message));
      const left = 'a temporary left by a tdeploy process N that was killed; the next tdeploy package into this repository removes it';
      assert.deepEqual(problems.map((p: string) => p.replace(/\d+/g, 'N')).sort(), [
        'a lock left by tdeploy process N, which is gone; the next tdeploy package into this repository takes it over',
        left, left, `${left} and finishes its commit`,
        'the repository holds no model folders',
      ].sort());
    }
    assert.equal(runCli(['package', fixture('convnet.onnx'), '-o', repo]).code, 0, window);
    assert.deepEqual(temporaries(repo), [], window);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('-lock')), [], window);
    assert.equal(fs.statSync(path.join(enc, '1', 'model.onnx')).size, sizes.get(8), `${window}: the commit was finished`);
    assert.match(fs.readFileSync(path.join(enc, 'config.pbtxt'), 'utf8'), /max_batch_size: 8/);
    assert.equal(runCli(['package', '--verify', repo]).code, 0, window);
  }
});

test('quantize with external data killed in each window of its commit: a model never reads another model\'s data', async () => {
  const dir = tempDir();
  const source = fixture('encoder_external', 'encoder.onnx');
  const old = [fs.readFileSync(source), fs.readFileSync(`${source}.data`)];
  const windows: [string, (names: string[]) => boolean][] = [
    ['model aside', both(has(/^\.encoder\.onnx\.[^d].*\.old$/), lacks('encoder.onnx'))],
    ['data aside', has(/^\.encoder\.onnx\.data\..*\.old$/)],
    ['new data in', both(has(/^\.encoder\.onnx\.data\..*\.old$/), (names) => names.includes('encoder.onnx.data') && !names.includes('encoder.onnx'))],
  ];
  for (const [window, ready] of windows) {
    const out = path.join(dir, window.replaceAll(' ', '-'));
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'encoder.onnx'), old[0]);
    fs.writeFileSync(path.join(out, 'encoder.onnx.data'), old[1]);
    await killWhen(start(['quantize', source, '-o', path.join(out, 'encoder.onnx'), '--to', 'fp16']), out, ready);
    const model = path.join(out, 'encoder.onnx');
    if (fs.existsSync(model)) {
      const isOld = fs.readFileSync(model).equals(old[0]);
      assert.equal(fs.readFileSync(`${model}.data`).equals(old[1]), isOld, `${window}: the model beside its own data`);
    }
    // The next run into the folder (here writing another file) finishes the commit.
    assert.equal(runCli(['quantize', fixture('encoder.onnx'), '-o', path.join(out, 'other.onnx'), '--to', 'fp16']).code, 0, window);
    assert.deepEqual(temporaries(out), [], window);
    assert.ok(!fs.readFileSync(model).equals(old[0]) && fs.statSync(`${model}.data`).size < old[1].length / 1.9, `${window}: the fp16 pair is in place`);
  }
});

test('a run killed while writing leaves temporaries that the next run into the same place removes', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'out');
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), 'quantize', fixture('encoder.onnx'), '-o', path.join(out, 'e.onnx'), '--to', 'int8'], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
  await killWhen(child, out, has(/^\.tdeploy-scratch\..*\.tmp$/));
  const left = temporaries(out);
  assert.ok(left.length > 0);
  const next = runCli(['quantize', fixture('encoder.onnx'), '-o', path.join(out, 'e.onnx'), '--to', 'fp16']);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(listFiles(out), ['e.onnx'], `left: ${left.join(', ')}`);
});

test('an empty batch in --inputs is an input error naming the file and the input, in check, quantize and bench', async () => {
  const dir = tempDir();
  const inputs = path.join(dir, 'empty.npz');
  const empty = { dtype: 'int64' as const, shape: [0, 16], data: new BigInt64Array(0) };
  await writeNpz(inputs, new Map([['input_ids', empty], ['attention_mask', empty]]));
  const encoder = fixture('encoder.onnx');
  for (const args of [['check', encoder, '--against', encoder], ['quantize', encoder, '-o', path.join(dir, 'q.onnx'), '--to', 'fp16'], ['bench', encoder, '--iterations', '3']]) {
    const r = runCli([...args, '--inputs', inputs]);
    assert.deepEqual([r.code, r.stderr], [2, `tdeploy: error: ${inputs}: input 'input_ids' is empty (shape [0, 16]): a batch of 0 samples gives the model nothing to run on\nhint: give at least one sample of every input\n`], args[0]);
  }
  assert.deepEqual(listFiles(dir), ['empty.npz']);
});

test('outputs under /proc fail at once naming the folder, in every command that writes', () => {
  const encoder = fixture('encoder.onnx');
  const runs = [
    ['quantize', encoder, '-o', '/proc/tdeploy/q.onnx', '--to', 'fp16'],
    ['bench', encoder, '--iterations', '3', '--output', '/proc/tdeploy/bench.json'],
    ['package', encoder, '-o', '/proc/tdeploy/models'],
  ];
  for (const args of runs) {
    const r = runCli(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /^tdeploy: error: cannot create output folder \/proc\/tdeploy: the file system there takes no new folders\n/, args[0]);
  }
});

test('SIGINT in the middle of a commit finishes it: exit 130, the new model folder whole, nothing left', async () => {
  const dir = tempDir();
  const variant = encoderVariant(dir);
  const repo = path.join(dir, 'models');
  assert.equal(runCli(['package', fixture('encoder.onnx'), '-o', repo, '--name', 'enc']).code, 0);
  const child = start(['package', variant, '-o', repo, '--name', 'enc', '--force', '--max-batch-size', '8']);
  const exited = once(child, 'exit');
  for (let waited = 0; !(fs.existsSync(repo) && both(has(/^\.enc\..*\.old$/), lacks('enc'))(fs.readdirSync(repo))) && waited < 60_000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 130);
  assert.deepEqual(temporaries(repo), []);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('-lock')), []);
  assert.equal(fs.statSync(path.join(repo, 'enc', '1', 'model.onnx')).size, fs.statSync(variant).size);
  assert.match(fs.readFileSync(path.join(repo, 'enc', 'config.pbtxt'), 'utf8'), /max_batch_size: 8/);
});
