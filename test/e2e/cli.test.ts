import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ENCODER_SIGNATURE, fixture, repoRoot, runCli, tempDir } from '../helpers.js';

test('global flags work before and after the subcommand', () => {
  const before = runCli(['--json', 'inspect', fixture('convnet.onnx')]);
  const after = runCli(['inspect', '--json', fixture('convnet.onnx')]);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual(JSON.parse(before.stdout), JSON.parse(after.stdout));
});

test('--version counts only before a subcommand; -v and -V alone print it too', () => {
  const version = JSON.parse(fs.readFileSync(fixture('..', 'package.json'), 'utf8')).version;
  for (const flag of ['--version', '-v', '-V']) {
    const ok = runCli([flag]);
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, `${version}\n`, ''], flag);
  }
  const after = runCli(['inspect', '--version']);
  assert.equal(after.code, 2);
  assert.match(after.stderr, /^tdeploy: error: unknown option '--version'/);
});

test('usage errors exit 2 with one line, and a JSON error object with --json', () => {
  for (const args of [['inspect', '--bogus', 'x.onnx'], ['inspect'], ['frobnicate'], []]) {
    const r = runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tdeploy: error: .+\n/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const json = runCli(['inspect', '--json', '--bogus', 'x.onnx']);
  assert.equal(json.code, 2);
  assert.deepEqual(JSON.parse(json.stdout).error.code, 2);
  assert.equal(JSON.parse(json.stdout).error.kind, 'usage');
});

test('tdeploy help and tdeploy help <command> print the help and exit 0', () => {
  const top = runCli(['help']);
  assert.deepEqual([top.code, top.stderr], [0, '']);
  assert.equal(top.stdout, runCli(['--help']).stdout);
  const bench = runCli(['help', 'bench']);
  assert.deepEqual([bench.code, bench.stderr], [0, '']);
  assert.equal(bench.stdout, runCli(['bench', '--help']).stdout);
});

test('every --help shows required options, repeatable options and defaults one way', () => {
  const help = (name: string) => runCli([name, '--help']).stdout.replace(/\s+/g, ' ');
  const all = ['inspect', 'convert', 'quantize', 'engine', 'check', 'bench', 'package', 'run', 'schema'].map(help).join('\n');
  assert.doesNotMatch(all, /\(default [^:]|default: "|\((required|repeatable|one of|default)[^)]*\) \(/, 'one parenthesis of extras per option, defaults as `default: x`, values unquoted');
  assert.match(help('quantize'), /-o, --output <file> where to write the quantized model \(required\)/);
  assert.match(help('quantize'), /--to <precision> target precision \(required; one of: fp16, int8\)/);
  assert.match(help('quantize'), /--method <method> int8 static: how activation ranges are chosen \(one of: minmax, percentile, entropy; default: minmax\)/);
  assert.match(help('convert'), /-o, --output <file\.onnx> .* \(required\)/);
  assert.match(help('bench'), /--warmup <n> untimed runs before each case \(default: 10\)/);
  assert.match(help('check'), /--dim <name=values> .* \(repeatable\)/);
  assert.match(help('engine'), /--trtexec <path> trtexec to run \(default: \$TDEPLOY_TRTEXEC, then PATH, then \/usr\/src\/tensorrt\/bin\/trtexec\)/);
});

test('every command has --help with an example', () => {
  const top = runCli(['--help']);
  assert.equal(top.code, 0);
  const names = [...top.stdout.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]).filter((n) => n !== 'help');
  assert.ok(names.includes('inspect'));
  for (const name of names) {
    const r = runCli([name, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples?:\n {2}tdeploy /, `${name} --help has an example`);
  }
});

test('inspect --json describes the torch-exported encoder exactly', () => {
  const r = runCli(['inspect', fixture('encoder.onnx'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['path', 'sizeBytes', 'irVersion', 'producer', 'opsets', 'inputs', 'outputs', 'nodes', 'ops', 'parameters', 'parameterBytes', 'dtypes', 'externalData', 'notes']);
  assert.equal(report.sizeBytes, fs.statSync(fixture('encoder.onnx')).size);
  assert.equal(report.irVersion, 8);
  assert.deepEqual(report.producer, { name: 'pytorch', version: '1.13.0' });
  assert.deepEqual(report.opsets, { 'ai.onnx': 17 });
  assert.deepEqual(report.inputs, ENCODER_SIGNATURE.inputs);
  assert.deepEqual(report.outputs, ENCODER_SIGNATURE.outputs);
  // tiny_models.encoder: embeddings, one LayerNorm, two blocks, pooler, classifier. The blocks'
  // LayerNorm parameters are still ones and zeros, identical to the first LayerNorm's, and torch's
  // exporter stores identical initializers once.
  const expected = 1000 * 64 + 128 * 64 + 2 * 64 + 2 * (4 * (64 * 64 + 64) + (64 * 256 + 256) + (256 * 64 + 64)) + (64 * 64 + 64) + (64 * 4 + 4);
  assert.equal(report.parameters, expected);
  assert.equal(report.parameterBytes, expected * 4);
  assert.deepEqual(report.dtypes, { float32: expected * 4 });
  assert.equal(report.ops.MatMul, 16);
  assert.equal(report.ops.Gemm, 2);
  assert.equal(report.ops.Softmax, 2);
  assert.equal(report.nodes, Object.values(report.ops as Record<string, number>).reduce((a, b) => a + b, 0));
  assert.equal(report.externalData, false);
});

test('inspect of the same model saved with external data: same parameters, externalData true', () => {
  const inline = JSON.parse(runCli(['inspect', fixture('encoder.onnx'), '--json']).stdout);
  const r = runCli(['inspect', fixture('encoder_external', 'encoder.onnx'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const external = JSON.parse(r.stdout);
  assert.equal(external.externalData, true);
  assert.equal(external.parameters, inline.parameters);
  assert.deepEqual(external.dtypes, inline.dtypes);
  assert.deepEqual(external.ops, inline.ops);
  const files = ['encoder.onnx', 'encoder.onnx.data'].map((f) => fs.statSync(fixture('encoder_external', f)).size);
  assert.equal(external.sizeBytes, files[0] + files[1]);
});

test('inspect: bad inputs exit 2 with one clear line', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'garbage.onnx'), 'not a model at all');
  const bytes = fs.readFileSync(fixture('encoder.onnx'));
  fs.writeFileSync(path.join(dir, 'cut.onnx'), bytes.subarray(0, 5000));
  fs.cpSync(fixture('encoder_external'), path.join(dir, 'ext'), { recursive: true });
  fs.rmSync(path.join(dir, 'ext', 'encoder.onnx.data'));
  const cases: [string, RegExp][] = [
    [path.join(dir, 'missing.onnx'), /model not found/],
    [dir, /is a directory/],
    [path.join(dir, 'garbage.onnx'), /not an ONNX model/],
    [path.join(dir, 'cut.onnx'), /truncated or not an ONNX model/],
    [path.join(dir, 'ext', 'encoder.onnx'), /external data file 'encoder\.onnx\.data' of tensor '.+' is missing/],
  ];
  for (const [file, message] of cases) {
    const r = runCli(['inspect', file]);
    assert.equal(r.code, 2, file);
    assert.match(r.stderr.split('\n')[0], message);
    assert.equal(r.stdout, '');
    const json = runCli(['inspect', file, '--json']);
    assert.equal(JSON.parse(json.stdout).error.code, 2);
  }
});

test('a reader that stops early (| head, | true) causes no stack trace, and the exit code stays the command\'s', () => {
  const tdeploy = `"${process.execPath}" "${path.join(repoRoot, 'bin', 'tdeploy.js')}"`;
  const cases: [string, number][] = [
    [`${tdeploy} inspect "${fixture('encoder.onnx')}" --json | true`, 0],
    [`${tdeploy} check "${fixture('encoder.onnx')}" --reference "${fixture('encoder.reference.npz')}" | true`, 0],
    [`${tdeploy} inspect "${fixture('absent.onnx')}" --json 2>&1 | true`, 2],
  ];
  for (const [command, code] of cases) {
    const r = spawnSync('bash', ['-c', `${command}; exit \${PIPESTATUS[0]}`], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(r.stderr, '', command);
    assert.equal(r.status, code, command);
  }
});
