import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { check } from '../../src/accuracy/check.js';
import { TdeployError } from '../../src/errors.js';
import { conformance, runCli } from '../helpers.js';
import { respell } from '../../src/option-ref.js';
import { flagSpeller } from '../../commands/options/spelling.js';

/** ONNX's own backend tests with reference data, checked at ONNX's tolerances (numpy's assert_allclose). */
const SUITES = ['pytorch-converted', 'pytorch-operator', 'simple'];
const gate = { atol: 1e-7, rtol: 1e-3 };

const cases = SUITES.flatMap((suite) => fs.readdirSync(conformance(suite)).sort().map((name) => ({ suite, name, dir: conformance(suite, name) })));

interface Outcome {
  name: string;
  passed?: boolean | null;
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

test('with --upgrade-opset the 34 opset-6 cases run on an upgraded copy and pass', async () => {
  const old = cases.filter((c) => outcomes.get(c.name)?.kind === 'unsupported-opset');
  assert.equal(old.length, 34, 'the first test ran');
  for (const c of old) {
    const report = await check(c.dir, { gate, upgradeOpset: true });
    assert.equal(report.passed, true, `${c.name}: ${report.outputs.flatMap((o) => o.failures).join('; ')}`);
    assert.match(report.notes[0], /has opset 6, older than ONNX Runtime runs: checked a copy upgraded to opset 7/);
  }
});

test('the CLI ends a case onnxruntime cannot run with exit 2 and the reason on stderr, also with --json', () => {
  // one case of each kind: the library test above covers all 40, the CLI path is the same for each
  const kinds = new Map<string, (typeof cases)[number]>();
  for (const c of cases) {
    const kind = outcomes.get(c.name)?.kind;
    if (kind && !kinds.has(kind)) kinds.set(kind, c);
  }
  assert.ok(kinds.has('unsupported-opset') && kinds.has('training-op'), 'the library test ran first');
  for (const [kind, c] of kinds) {
    for (const json of [false, true]) {
      const { code, stdout, stderr } = runCli(['check', c.dir, '--atol', '1e-7', ...(json ? ['--json'] : [])]);
      assert.equal(code, 2, `${c.name}: ${stderr}`);
      const [line, hint, ...rest] = stderr.trimEnd().split('\n');
      assert.deepEqual(rest, [], `${c.name}: ${stderr}`);
      // the library names options by key; the CLI names the flag
      const spell = (text: string) => respell(text, flagSpeller('check'));
      assert.equal(line, `tdeploy: error: ${spell(outcomes.get(c.name)!.message!)}`);
      assert.equal(hint, `hint: ${spell(outcomes.get(c.name)!.hint!)}`);
      if (json) assert.equal(JSON.parse(stdout).error.kind, kind);
      else assert.equal(stdout, '');
    }
  }
  const sample = runCli(['check', conformance('pytorch-converted', 'test_Conv2d'), '--atol', '1e-7', '--rtol', '1e-3']);
  assert.equal(sample.code, 0, sample.stderr);
  assert.match(sample.stdout, /PASSED: 1 output within tolerance over 1 input set/);
  const upgraded = runCli(['check', conformance('pytorch-converted', 'test_PReLU_2d_multiparam'), '--atol', '1e-7', '--upgrade-opset']);
  assert.equal(upgraded.code, 0, upgraded.stderr);
  assert.match(upgraded.stderr, /^tdeploy: note: .* checked a copy upgraded to opset 7 \(PRelu: slope unsqueezed to broadcast along channels\)$/m);
  assert.match(upgraded.stdout, /\nPASSED: 1 output within tolerance over 1 input set\n$/);
});
