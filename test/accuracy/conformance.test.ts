import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { check } from '../../src/accuracy/check.js';
import { TdeployError } from '../../src/errors.js';
import { conformance, runCli } from '../helpers.js';

/** ONNX's own backend tests with reference data, checked at ONNX's tolerances (numpy's assert_allclose). */
const SUITES = ['pytorch-converted', 'pytorch-operator', 'simple'];
const gate = { atol: 1e-7, rtol: 1e-3 };

const cases = SUITES.flatMap((suite) => fs.readdirSync(conformance(suite)).sort().map((name) => ({ suite, name, dir: conformance(suite, name) })));

interface Outcome {
  name: string;
  passed?: boolean;
  kind?: string;
  message?: string;
  hint?: string;
}

async function outcome(c: (typeof cases)[number]): Promise<Outcome> {
  try {
    const report = await check(c.dir, { gate });
    return { name: c.name, passed: report.passed, message: report.outputs.flatMap((o) => o.failures).join('; ') };
  } catch (error) {
    if (!(error instanceof TdeployError)) throw error;
    assert.equal(error.exitCode, 2, `${c.name}: ${error.message}`);
    return { name: c.name, kind: error.kind, message: error.message, hint: error.hint };
  }
}

const outcomes = new Map<string, Outcome>();

test('every conformance case onnxruntime can load passes; the others are input errors that say why', async () => {
  assert.equal(cases.length, 140);
  for (const c of cases) outcomes.set(c.name, await outcome(c));
  const all = [...outcomes.values()];
  const failedGate = all.filter((o) => o.passed === false);
  assert.deepEqual(failedGate, [], 'no case that ran may drift');
  const by = (kind: string) => all.filter((o) => o.kind === kind);

  const opsets = by('unsupported-opset');
  assert.equal(opsets.length, 34);
  const ops = new Set(opsets.map((o) => /uses (\w+) as defined in opset (\d+)/.exec(o.message!)?.slice(1).join('-')));
  assert.deepEqual([...ops].sort(), ['Add-6', 'AveragePool-1', 'BatchNormalization-6', 'Gemm-6', 'Mul-6', 'PRelu-6', 'Pow-1']);
  assert.ok(opsets.every((o) => o.hint?.startsWith("upgrade the model's opset")));

  assert.deepEqual(by('training-op').map((o) => o.name), ['test_gradient_of_add', 'test_gradient_of_add_and_mul']);
  assert.ok(by('training-op').every((o) => o.message!.includes('training-only op Gradient')));

  // StringNormalizer needs en_US.UTF-8: where the machine has it, those 4 cases load and must pass
  const locale = by('missing-locale');
  assert.ok(locale.length === 0 || locale.length === 4, `${locale.length} locale failures`);
  assert.ok(locale.every((o) => o.name.startsWith('test_strnorm') && o.message!.includes('needs the en_US.UTF-8 locale')));
  const passed = all.filter((o) => o.passed === true);
  assert.equal(passed.length, 100 + (4 - locale.length));
  assert.equal(passed.length + opsets.length + 2 + locale.length, 140, 'no other outcome');
});

test('the CLI ends each case onnxruntime cannot run with exit 2 and one line on stderr, also with --json', () => {
  const refused = cases.filter((c) => outcomes.get(c.name)?.kind);
  assert.ok(refused.length >= 36, 'the library test ran first');
  for (const c of refused) {
    const { code, stdout, stderr } = runCli(['check', c.dir, '--atol', '1e-7', '--json']);
    assert.equal(code, 2, `${c.name}: ${stderr}`);
    const lines = stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, `${c.name}: ${stderr}`);
    assert.match(lines[0], /^tdeploy: error: onnxruntime cannot load .*model\.onnx: (the model uses \w+ as defined in opset \d|the model uses the training-only op Gradient|the model's StringNormalizer needs the en_US\.UTF-8 locale)/);
    assert.match(lines[1], /^hint: /);
    const { error } = JSON.parse(stdout) as { error: { code: number; kind: string; message: string } };
    assert.equal(error.code, 2);
    assert.equal(error.kind, outcomes.get(c.name)!.kind);
  }
  const sample = runCli(['check', conformance('pytorch-converted', 'test_Conv2d'), '--atol', '1e-7', '--rtol', '1e-3']);
  assert.equal(sample.code, 0, sample.stderr);
  assert.match(sample.stdout, /PASSED: 1 output within tolerance over 1 input set/);
});
