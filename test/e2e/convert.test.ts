import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openSession } from '../../src/runtime/session.js';
import { readNpz, writeNpz } from '../../src/tensor/npz.js';
import { Random } from '../../src/tensor/random.js';
import { type Tensor, type TensorMap, toFloat64 } from '../../src/tensor/tensor.js';
import { ENCODER_SIGNATURE, fixture, listFiles, python, pythonWith, runCli, skipWithoutPython, tempDir } from '../helpers.js';

const skip = skipWithoutPython(['torch', 'numpy']);
const torchPython = pythonWith(['torch', 'numpy']) ?? 'python3';
const ENCODER_INPUTS = ['--input', 'input_ids:int64:batch,seq', '--input', 'attention_mask:int64:batch,seq'];

function convert(args: string[], env?: Record<string, string>) {
  return runCli(['convert', ...args, '--python', torchPython], { env });
}

/** Runs a TorchScript archive in torch on several input sets at once (one interpreter start). */
async function torchOutputs(model: string, inputSets: TensorMap[], inputNames: string[]): Promise<TensorMap[]> {
  const dir = tempDir();
  const pairs = await Promise.all(inputSets.map(async (inputs, i) => {
    const [input, output] = [path.join(dir, `in${i}.npz`), path.join(dir, `out${i}.npz`)];
    await writeNpz(input, inputs);
    return [input, output];
  }));
  python(['torch', 'numpy'], `
import sys, numpy as np, torch
model = torch.jit.load(sys.argv[1]).eval()
names = sys.argv[2].split(",")
for source, target in zip(sys.argv[3::2], sys.argv[4::2]):
    with np.load(source) as f:
        args = [torch.from_numpy(f[n]) for n in names]
    with torch.no_grad():
        out = model(*args)
    out = out if isinstance(out, tuple) else (out,)
    np.savez(target, **{f"out{i}": o.numpy() for i, o in enumerate(out)})
`, [model, inputNames.join(','), ...pairs.flat()]);
  return Promise.all(pairs.map(([, output]) => readNpz(output)));
}

async function onnxOutputs(model: string, inputSets: TensorMap[]): Promise<TensorMap[]> {
  const session = await openSession(model);
  try {
    const results: TensorMap[] = [];
    for (const inputs of inputSets) results.push(await session.run(inputs));
    return results;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(expected: Tensor, actual: Tensor): number {
  assert.deepEqual(actual.shape, expected.shape);
  const [e, a] = [toFloat64(expected), toFloat64(actual)];
  return e.reduce((worst, v, i) => Math.max(worst, Math.abs(v - a[i])), 0);
}

function tokens(random: Random, batch: number, seq: number): TensorMap {
  const ids = BigInt64Array.from({ length: batch * seq }, () => BigInt(random.int(0, 1000)));
  // Every other sequence padded at the end, like a tokenizer's batch.
  const mask = BigInt64Array.from({ length: batch * seq }, (_, i) => (Math.floor(i / seq) % 2 === 1 && i % seq >= seq - Math.floor(seq / 3) ? 0n : 1n));
  return new Map([
    ['input_ids', { dtype: 'int64', shape: [batch, seq], data: ids }],
    ['attention_mask', { dtype: 'int64', shape: [batch, seq], data: mask }],
  ]);
}

test('encoder.pt → ONNX with dynamic batch and seq: torch\'s outputs at sizes other than the example\'s', { skip }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'encoder.onnx');
  const r = convert([fixture('encoder.pt'), '-o', out, ...ENCODER_INPUTS, '--output-names', 'logits,hidden_states', '--no-check', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['output', 'reference', 'opset', 'torch', 'python', 'inputs', 'outputs', 'check', 'seconds', 'notes']);
  assert.equal(report.output, out);
  assert.equal(report.reference, path.join(dir, 'encoder.reference.npz'));
  assert.equal(report.opset, 17);
  assert.match(report.torch, /^1\.13/);
  assert.equal(report.check, null);
  assert.deepEqual(report.inputs, ENCODER_SIGNATURE.inputs);
  // Output axes that follow a symbolic input dim carry its name, not torch's generated ones.
  assert.deepEqual(report.outputs, ENCODER_SIGNATURE.outputs);
  assert.ok(report.seconds > 0 && report.seconds < 120);
  assert.deepEqual(listFiles(dir), ['encoder.onnx', 'encoder.reference.npz']);

  // The reference holds the generated example (batch 2, seq 16, as every command generates seq) and torch's outputs for it.
  const reference = await readNpz(report.reference);
  assert.deepEqual([...reference.keys()], ['input_ids', 'attention_mask', 'logits', 'hidden_states']);
  assert.deepEqual(reference.get('input_ids')!.shape, [2, 16]);
  assert.deepEqual(reference.get('hidden_states')!.shape, [2, 16, 64]);
  const [atExample] = await onnxOutputs(out, [new Map([...reference].slice(0, 2))]);
  assert.ok(maxAbsDiff(reference.get('logits')!, atExample.get('logits')!) < 1e-4);
  assert.ok(maxAbsDiff(reference.get('hidden_states')!, atExample.get('hidden_states')!) < 1e-4);

  const random = new Random(7);
  const sets = [[1, 5], [3, 11], [4, 32], [2, 128]].map(([batch, seq]) => tokens(random, batch, seq));
  const expected = await torchOutputs(fixture('encoder.pt'), sets, ['input_ids', 'attention_mask']);
  const actual = await onnxOutputs(out, sets);
  sets.forEach((set, i) => {
    const [batch, seq] = set.get('input_ids')!.shape;
    assert.deepEqual(actual[i].get('hidden_states')!.shape, [batch, seq, 64]);
    for (const [j, name] of ['logits', 'hidden_states'].entries()) {
      const diff = maxAbsDiff(expected[i].get(`out${j}`)!, actual[i].get(name)!);
      assert.ok(diff < 1e-4, `${name} at batch ${batch}, seq ${seq}: max abs error ${diff}`);
    }
  });
});

test('convnet.pt → ONNX with a dynamic batch; a single unnamed output is called "output"', { skip }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'convnet.onnx');
  const r = convert([fixture('convnet.pt'), '-o', out, '--input', 'image:float32:batch,3,32,32', '--no-check', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.inputs, [{ name: 'image', dtype: 'float32', shape: ['batch', 3, 32, 32] }]);
  assert.deepEqual(report.outputs, [{ name: 'output', dtype: 'float32', shape: ['batch', 10] }]);
  const random = new Random(3);
  const sets: TensorMap[] = [1, 3, 5].map((batch) => new Map([['image', {
    dtype: 'float32', shape: [batch, 3, 32, 32], data: Float32Array.from({ length: batch * 3 * 32 * 32 }, () => random.normal()),
  }]]));
  const expected = await torchOutputs(fixture('convnet.pt'), sets, ['image']);
  const actual = await onnxOutputs(out, sets);
  sets.forEach((_, i) => {
    const diff = maxAbsDiff(expected[i].get('out0')!, actual[i].get('output')!);
    assert.ok(diff < 1e-4, `batch ${[1, 3, 5][i]}: max abs error ${diff}`);
  });
});

test('package.module:factory with --python-path and --example-inputs gives torch\'s outputs for those inputs', { skip }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'encoder.onnx');
  const r = convert(['tiny_models:encoder', '--python-path', fixture(), '-o', out, ...ENCODER_INPUTS,
    '--example-inputs', fixture('encoder.reference.npz'), '--output-names', 'logits,hidden_states', '--no-check', '--json']);
  assert.equal(r.code, 0, r.stderr);
  // The factory builds the model the fixture was traced from; on the fixture's inputs, torch's
  // outputs must be the fixture's reference outputs.
  const [written, fixtureReference] = await Promise.all([readNpz(JSON.parse(r.stdout).reference), readNpz(fixture('encoder.reference.npz'))]);
  assert.deepEqual([...written.keys()], ['input_ids', 'attention_mask', 'logits', 'hidden_states']);
  for (const name of written.keys()) {
    assert.ok(maxAbsDiff(fixtureReference.get(name)!, written.get(name)!) < 1e-5, name);
  }
  assert.equal(fs.existsSync(path.join(fixture(), '__pycache__')), false, 'importing the factory wrote no bytecode beside it');
});

test('the check runs by default: the written model against torch\'s outputs, in the same report', { skip }, () => {
  const dir = tempDir();
  const out = path.join(dir, 'encoder.onnx');
  const r = convert([fixture('encoder.pt'), '-o', out, ...ENCODER_INPUTS, '--output-names', 'logits,hidden_states', '--example-dim', 'seq=12', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { check } = JSON.parse(r.stdout);
  assert.equal(check.passed, true);
  assert.equal(check.model, out);
  assert.deepEqual(check.against, { kind: 'reference', path: path.join(dir, 'encoder.reference.npz') });
  assert.deepEqual([check.gate.atol, check.gate.rtol], [1e-4, 1e-3]);
  assert.deepEqual(check.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape]), [['logits', [2, 4]], ['hidden_states', [2, 12, 64]]]);
  for (const o of check.outputs) {
    assert.ok(o.maxAbsError < 1e-5 && o.cosine > 0.999999, `${o.name}: ${o.maxAbsError}, ${o.cosine}`);
    assert.equal(o.mismatches, 0);
  }
});

test('a check beyond tolerance: exit 1 with the report, the files stay to be examined', { skip }, () => {
  const dir = tempDir();
  const out = path.join(dir, 'encoder.onnx');
  const r = convert([fixture('encoder.pt'), '-o', out, ...ENCODER_INPUTS, '--output-names', 'logits,hidden_states', '--atol', '0', '--rtol', '0', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.check.passed, false);
  assert.ok(report.check.outputs.some((o: { mismatches: number }) => o.mismatches > 0));
  assert.match(r.stderr, new RegExp(`^tdeploy: error: ${out.replace(/[.]/g, '\\.')} is written, but differs from torch beyond tolerance: .*hidden_states`, 'm'));
  assert.deepEqual(listFiles(dir), ['encoder.onnx', 'encoder.reference.npz']);
});

test('human output: a summary and the I/O table on stdout; --verbose adds torch\'s log on stderr', { skip }, () => {
  const dir = tempDir();
  const r = convert([fixture('convnet.pt'), '-o', path.join(dir, 'm.onnx'), '--input', 'image:float32:batch,3,32,32', '--no-check', '--verbose']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /│ opset\s+│ 17\s+│/);
  assert.match(r.stdout, /│ output │ output\s+│ float32 │ \[batch, 10\]\s+│/);
  assert.doesNotMatch(r.stdout, /PASSED/, 'no check with --no-check');
  assert.match(r.stderr, /^torch 1\.13\S*(, onnx \S+)? \(.+\), torchscript, opset 17 of 7-17: load [\d.]+ s, run [\d.]+ s, export [\d.]+ s, import [\d.]+ s$/m);
  assert.match(r.stderr, /^generated example inputs: image \[2, 3, 32, 32\]$/m);
});

test('an input forward ignores: torch drops it, tdeploy says so, and the check still passes', { skip }, () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'partial_models.py'), `import torch


class Scale(torch.nn.Module):
    def forward(self, x, unused):
        return x * 2


def scale():
    return Scale()
`);
  const r = convert(['partial_models:scale', '--python-path', dir, '-o', path.join(dir, 'scale.onnx'),
    '--input', 'x:float32:batch,4', '--input', 'unused:float32:batch,4', '--example-dim', 'batch=1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^tdeploy: note: the example has batch=1: tracing may fix that dim to 1 in the model; export with 2 or more$/m);
  assert.match(r.stderr, /^tdeploy: note: torch dropped input 'unused': the model does not use it$/m);
  const report = JSON.parse(r.stdout);
  // the same notes, in the one document
  assert.deepEqual(report.notes, ['the example has batch=1: tracing may fix that dim to 1 in the model; export with 2 or more', "torch dropped input 'unused': the model does not use it"]);
  assert.deepEqual(report.inputs.map((i: { name: string }) => i.name), ['x']);
  assert.equal(report.check.passed, true);
  assert.match(report.check.notes.join('\n'), /ignored unused/);
});

interface BadCase {
  what: string;
  args: string[];
  code: number;
  message: RegExp;
  hint?: RegExp;
  /** set when the case needs a file written first */
  setup?: (dir: string) => void;
  /** refused before Python starts, so it runs without torch too */
  early?: boolean;
}

/** A small TorchScript model built in the test (torch 1.13 has no ONNX symbolic for FFTs). */
function saveModel(dir: string, file: string, code: string): void {
  python(['torch'], `
import sys, torch
${code}
`, [path.join(dir, file)]);
}

const badCases: BadCase[] = [
  {
    what: 'garbage .pt', args: ['garbage.pt', ...ENCODER_INPUTS], code: 2,
    message: /cannot load .*garbage\.pt as TorchScript: PytorchStreamReader failed reading zip archive/,
    setup: (dir) => fs.writeFileSync(path.join(dir, 'garbage.pt'), 'not a model'),
  },
  {
    // Named models.pt: torch.save puts its members under models/, which must not pass for a torch.export archive.
    what: 'plain torch.save pickle', args: ['models.pt', '--input', 'x:float32:batch,4'], code: 2,
    message: /models\.pt was saved with torch\.save \(a pickle that needs the model's Python classes\), not as TorchScript/,
    hint: /torch\.jit\.save\(torch\.jit\.trace\(model, example_inputs\), 'model\.pt'\), or pass .*package\.module:factory/,
    setup: (dir) => saveModel(dir, 'models.pt', 'torch.save(torch.nn.Linear(4, 2), sys.argv[1])'),
  },
  {
    what: 'too few --input for forward', args: [fixture('encoder.pt'), '--input', 'input_ids:int64:batch,seq'], code: 2,
    message: /forward\(input_ids, attention_mask\) takes 2 inputs, but 1 was given with --input/,
    hint: /--input input_ids:DTYPE:DIMS --input attention_mask:DTYPE:DIMS/,
  },
  {
    what: 'no --input at all', args: [fixture('convnet.pt')], code: 2,
    message: /forward\(image\) takes 1 input, but 0 were given with --input/,
  },
  {
    what: '--input in the wrong order', args: [fixture('encoder.pt'), ...ENCODER_INPUTS.slice(2), ...ENCODER_INPUTS.slice(0, 2)], code: 2,
    message: /--input order attention_mask, input_ids does not follow forward\(input_ids, attention_mask\)/,
  },
  {
    what: 'an op torch cannot export', args: ['fft.pt', '--input', 'x:float32:batch,8'], code: 3,
    message: /Exporting the operator '?aten::fft_rfft'? to ONNX opset version 17 is not supported/,
    setup: (dir) => saveModel(dir, 'fft.pt', `
class Spectrum(torch.nn.Module):
    def forward(self, x):
        return torch.fft.rfft(x).abs()
torch.jit.save(torch.jit.trace(Spectrum(), torch.randn(2, 8)), sys.argv[1])`),
  },
  {
    what: 'a .pt2 archive with torch older than 2.5', args: ['model.pt2', '--input', 'x:float32:batch,8'], code: 3,
    message: /model\.pt2 is a torch\.export archive \(\.pt2\), which needs torch >= 2\.5; this Python has torch 1\.13/,
    setup: (dir) => fs.writeFileSync(path.join(dir, 'model.pt2'), 'saved by torch.export.save'),
  },
  {
    what: 'a torch.export archive named .pt, with torch older than 2.5', args: ['exported.pt', '--input', 'x:float32:batch,8'], code: 3,
    message: /exported\.pt is a torch\.export archive \(\.pt2\), which needs torch >= 2\.5/,
    setup: (dir) => python(['zipfile'], `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    archive.writestr("exported/serialized_exported_program.json", "{}")
`, [path.join(dir, 'exported.pt')]),
  },
  {
    what: 'an opset this torch cannot export', args: [fixture('convnet.pt'), '--input', 'image:float32:batch,3,32,32', '--opset', '18'], code: 2,
    message: /--opset 18: torch 1\.13\S* exports opsets 7 to 17/,
  },
  {
    what: 'more --output-names than outputs', args: [fixture('convnet.pt'), '--input', 'image:float32:batch,3,32,32', '--output-names', 'a,b'], code: 2,
    message: /the model returns 1 output but --output-names gives 2/,
  },
  {
    what: 'example inputs that do not fit forward', args: [fixture('encoder.pt'), '--input', 'input_ids:float32:batch,seq', '--input', 'attention_mask:int64:batch,seq'], code: 2,
    message: /the model failed on the example inputs: RuntimeError: .*Long/,
  },
  {
    what: 'a factory module that is not importable', args: ['no_such_models:encoder', '--input', 'x:float32:2'], code: 2,
    message: /cannot import no_such_models: No module named 'no_such_models'/, hint: /--python-path DIR/,
  },
  {
    what: 'a factory that does not return a module', args: ['answers:answer', '--python-path', '.', '--input', 'x:float32:2'], code: 2,
    message: /answers:answer\(\) returned int, not a torch\.nn\.Module/,
    setup: (dir) => fs.writeFileSync(path.join(dir, 'answers.py'), 'def answer():\n    return 42\n'),
  },
  { what: 'a missing source', args: ['missing.pt', '--input', 'x:float32:2'], code: 2, message: /source not found: missing\.pt/, hint: /package\.module:factory/, early: true },
  { what: 'an output not ending in .onnx', args: [fixture('convnet.pt'), '-o', 'model.bin'], code: 2, message: /the output file must end with \.onnx/, early: true },
  { what: 'a bad --input', args: [fixture('convnet.pt'), '--input', 'image:float32:batch;3'], code: 2, message: /--input image:float32:batch;3: dim 'batch;3'/, early: true },
  { what: 'an --example-dim no input has', args: [fixture('convnet.pt'), '--input', 'image:float32:batch,3,32,32', '--example-dim', 'seq=4'], code: 2, message: /--example-dim seq: no --input has a symbolic dim 'seq'/, early: true },
  { what: 'an output name given twice', args: [fixture('encoder.pt'), ...ENCODER_INPUTS, '--output-names', 'a,a'], code: 2, message: /--output-names: 'a' is given twice$/, early: true },
  { what: 'a non-numeric --opset', args: [fixture('convnet.pt'), '--opset', 'latest'], code: 2, message: /--opset: expected an opset number/, early: true },
];

for (const bad of badCases) {
  test(`convert refuses ${bad.what}: exit ${bad.code}, one line, nothing written`, { skip: bad.early ? false : skip }, () => {
    const dir = tempDir();
    bad.setup?.(dir);
    const out = path.join(dir, 'out');
    const args = bad.args.includes('-o') ? bad.args : [...bad.args, '-o', path.join(out, 'model.onnx')];
    const before = listFiles(dir);
    const r = runCli(['convert', ...args, '--python', torchPython, '--no-check'], { cwd: dir });
    assert.equal(r.code, bad.code, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0], /^tdeploy: error: /);
    assert.match(lines[0], bad.message);
    if (bad.hint) assert.match(lines[1] ?? '', bad.hint);
    assert.ok(lines.length <= 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(listFiles(dir), before, 'no output, no temporary left behind');
  });
}

test('convert --json reports an error as one JSON object with the exit code and kind', { skip }, () => {
  const dir = tempDir();
  const r = convert([fixture('encoder.pt'), '-o', path.join(dir, 'm.onnx'), '--input', 'input_ids:int64:batch,seq', '--json']);
  assert.equal(r.code, 2);
  assert.deepEqual(JSON.parse(r.stdout).error, {
    code: 2, kind: 'inputs',
    message: 'forward(input_ids, attention_mask) takes 2 inputs, but 1 was given with --input',
    hint: 'declare each forward argument, in order: --input input_ids:DTYPE:DIMS --input attention_mask:DTYPE:DIMS',
  });
});

test('Python without torch: exit 3 naming the interpreter, with the install hint', { skip }, () => {
  const dir = tempDir();
  // The same interpreter without its site-packages: a Python that has no torch.
  const bare = path.join(dir, 'python-without-torch');
  fs.writeFileSync(bare, `#!/bin/sh\nexec ${torchPython} -S "$@"\n`, { mode: 0o755 });
  const r = runCli(['convert', fixture('convnet.pt'), '-o', path.join(dir, 'out', 'm.onnx'), '--input', 'image:float32:batch,3,32,32'], {
    env: { TDEPLOY_PYTHON: bare },
  });
  assert.equal(r.code, 3, r.stderr);
  const [message, hint] = r.stderr.trim().split('\n');
  assert.match(message, /^tdeploy: error: Python \S+ \([\d.]+, chosen by TDEPLOY_PYTHON\) has no torch module$/);
  assert.match(hint, /apt-get install python3-torch, or pip install torch$/);
  assert.deepEqual(listFiles(dir), ['python-without-torch']);
});

test('a missing interpreter: exit 3, and the hint names one that has torch', { skip }, () => {
  const dir = tempDir();
  const r = runCli(['convert', fixture('convnet.pt'), '-o', path.join(dir, 'm.onnx'), '--python', path.join(dir, 'python9')]);
  assert.equal(r.code, 3, r.stderr);
  const [message, hint] = r.stderr.trim().split('\n');
  assert.equal(message, `tdeploy: error: Python (--python) not found: ${path.join(dir, 'python9')}`);
  assert.match(hint, /^hint: \S+ has torch: pass --python \S+ .*apt-get install python3-torch, or pip install torch$/);
  assert.deepEqual(listFiles(dir), []);
});

test('--timeout stops a hanging export, kills Python and leaves nothing behind', { skip }, () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'slow_models.py'), 'import time\n\ndef forever():\n    time.sleep(600)\n');
  const started = Date.now();
  const r = convert(['slow_models:forever', '--python-path', dir, '-o', path.join(dir, 'out', 'm.onnx'), '--input', 'x:float32:2', '--timeout', '3']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^tdeploy: error: the export did not finish within 3 s and was stopped\n/);
  assert.ok(Date.now() - started < 20_000, 'killed promptly');
  assert.deepEqual(listFiles(dir), ['slow_models.py']);
});
