import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { meetsRange } from '../../src/doctor/doctor.js';
import { fixture, pythonWith, repoRoot, runCli, skipWithoutPython, tempDir } from '../helpers.js';
import { fakeTrtexec, log } from '../trt/fake.js';

const skip = skipWithoutPython(['torch']);
const python = pythonWith(['torch']) ?? 'python3';
const noTrtexec = { TDEPLOY_TRTEXEC: '', PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` };

function config(dir: string, body: Record<string, unknown>): string {
  const file = path.join(dir, 'tdeploy.config.json');
  fs.writeFileSync(file, JSON.stringify({ model: { source: fixture('encoder.onnx'), reference: fixture('encoder.reference.npz') }, ...body }));
  return file;
}

test('doctor --json: versions, the providers that really load, CPU features, Python + torch, trtexec', { skip }, () => {
  const r = runCli(['doctor', '--json', '--python', python], { cwd: tempDir(), env: noTrtexec });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['passed', 'node', 'tdeploy', 'onnxruntime', 'providers', 'cpu', 'python', 'trtexec', 'config', 'notes']);
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  assert.deepEqual(report.node, { version: process.version, required: pkg.engines.node, meets: true });
  assert.deepEqual([report.passed, report.tdeploy.version, report.onnxruntime.version, report.config], [true, pkg.version, '1.30.0', null]);
  // npm ci skips onnxruntime-node's CUDA download (.npmrc), so only the CPU provider loads here.
  assert.deepEqual(report.providers.map((p: { name: string; available: boolean }) => [p.name, p.available]), [['cpu', true], ['cuda', false], ['tensorrt', false]]);
  assert.match(report.providers[1].reason, /Failed to load shared library/);
  const flags = fs.readFileSync('/proc/cpuinfo', 'utf8');
  assert.equal(report.cpu.features.avx2, /\bavx2\b/.test(flags));
  assert.equal(report.cpu.features.vnni, /\b(avx512_vnni|avx_vnni)\b/.test(flags));
  assert.match(report.cpu.int8, /^(7|8)-bit weights \(/);
  assert.equal(report.python.command, python);
  assert.match(report.python.torch, /^1\.13/, 'Debian torch');
  assert.deepEqual([report.trtexec.path, report.trtexec.tensorrt], [null, null]);
  assert.match(report.trtexec.problem, /^trtexec not found; looked in /);
});

test('doctor reads ./tdeploy.config.json and exits 1 when what it needs is missing; trtexec and a provider list can meet it', () => {
  const dir = tempDir();
  config(dir, { engine: {}, bench: { provider: ['cuda', 'cpu'] } });
  const missing = runCli(['doctor', '--json'], { cwd: dir, env: noTrtexec });
  assert.equal(missing.code, 1, missing.stderr);
  const report = JSON.parse(missing.stdout);
  assert.equal(report.passed, false);
  assert.equal(report.config.file, 'tdeploy.config.json');
  assert.deepEqual(report.config.needs.map((n: { what: string; met: boolean }) => [n.what, n.met]), [
    ['engine: trtexec (set engine to false to skip engines)', false],
    ['bench.provider: cuda, cpu', true],
  ]);
  assert.match(missing.stderr, /^tdeploy: error: tdeploy\.config\.json needs what this machine lacks: engine: trtexec/m);

  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('06') });
  const found = runCli(['doctor', '--json'], { cwd: dir, env: { TDEPLOY_TRTEXEC: fake.path } });
  assert.equal(found.code, 0, found.stderr);
  const engine = JSON.parse(found.stdout).config.needs[0];
  assert.deepEqual([engine.met, engine.detail], [true, `${fake.path} (TensorRT 10.14.1)`]);

  const cudaOnly = runCli(['doctor', '--config', config(dir, { engine: false, bench: { provider: 'cuda' } })], { cwd: tempDir() });
  assert.equal(cudaOnly.code, 1);
  assert.match(cudaOnly.stdout, /│ bench\.provider: cuda +│ NO +│ none of cuda loads here/);
  assert.match(cudaOnly.stdout, /FAILED: something needed is missing/);
});

test('a PyTorch source needs an interpreter with torch: doctor names the one that has it', { skip }, () => {
  const dir = tempDir();
  config(dir, { model: { source: fixture('encoder.pt'), inputs: ['input_ids:int64:batch,seq'] }, engine: false });
  const without = runCli(['doctor', '--json', '--python', '/bin/false'], { cwd: dir });
  assert.equal(without.code, 1);
  const need = JSON.parse(without.stdout).config.needs[0];
  assert.equal(need.what, 'model.source: Python with torch for convert');
  assert.equal(need.met, false);
  const withTorch = runCli(['doctor', '--json', '--python', python], { cwd: dir });
  assert.equal(withTorch.code, 0, withTorch.stderr);
});

test("engines: the Node range tdeploy declares is the one its code needs (zlib.crc32 came in 20.15)", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(pkg.engines.node, '>=20.15');
  assert.deepEqual(['v20.14.0', 'v20.15.0', 'v22.1.0', 'v19.9.9'].map((v) => meetsRange(v, pkg.engines.node)), [false, true, true, false]);
});
