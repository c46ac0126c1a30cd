import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fixture, runCli, tempDir } from '../helpers.js';
import { fakeTrtexec, log } from '../trt/fake.js';

/**
 * Notes have one channel in every command: `notes` in the --json document, `tdeploy: note: ...`
 * on stderr for people, never on stdout beside the result. Option names in them are the
 * command's flags (the run config's key paths for `run`).
 */
function withNotes(args: string[], env: Record<string, string> = {}): { notes: string[]; stderr: string; document: Record<string, unknown> } {
  const r = runCli([...args, '--json'], { env });
  assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: ${r.stderr}`);
  const document = JSON.parse(r.stdout);
  assert.ok(Array.isArray(document.notes), `${args[0]}: a notes array in --json`);
  for (const note of document.notes) assert.ok(r.stderr.includes(`tdeploy: note: ${note}\n`), `${args[0]}: '${note}' on stderr too`);
  assert.doesNotMatch(JSON.stringify(document), /`/, `${args[0]}: no option left in the library's spelling`);
  return { notes: document.notes, stderr: r.stderr, document };
}

const quick = ['--iterations', '10', '--warmup', '1'];

test('inspect, check, quantize, bench, package and --verify carry their notes in --json and on stderr', () => {
  const dir = tempDir();
  assert.deepEqual(withNotes(['inspect', fixture('encoder.onnx')]).notes, []);

  const check = withNotes(['check', fixture('encoder.onnx'), '--against', fixture('encoder.onnx')]);
  assert.ok(check.notes.includes('symbolic dims without --dim took defaults: batch=1, seq=16'), check.notes.join('\n'));

  const quantize = withNotes(['quantize', fixture('encoder.onnx'), '-o', path.join(dir, 'e.onnx'), '--to', 'int8']);
  assert.ok(quantize.notes.includes('fused 2 Attention (com.microsoft ops ONNX Runtime runs as one kernel; --no-fuse keeps the graph as exported)'));
  // the drift's own notes travel in the drift report, and reach people with the others
  const drift = (quantize.document.drift as { notes: string[] }).notes;
  assert.ok(drift.some((n) => n.startsWith('drift gate: cosine >= 0.99 (the int8 default')), drift.join('\n'));
  assert.match(quantize.stderr, /^tdeploy: note: drift gate: cosine >= 0\.99/m);

  const bench = withNotes(['bench', fixture('encoder.onnx'), ...quick]);
  assert.deepEqual(bench.notes, ['dims not given take defaults: batch=1, seq=16', 'generated inputs: attention_mask: ones']);

  const repo = path.join(dir, 'models');
  const packaged = withNotes(['package', fixture('encoder.onnx'), '-o', repo]);
  assert.ok(packaged.notes.some((n) => n === "max_batch_size 4, Triton's default for a model that batches (set it with --max-batch-size)"), packaged.notes.join('\n'));
  assert.deepEqual(withNotes(['package', '--verify', repo]).notes, ["checked against tritonserver 26.08 (the newest in tdeploy's release table; --triton YY.MM for another)"]);
});

test('for people the notes go to stderr only: stdout holds the result', () => {
  const dir = tempDir();
  const quantize = runCli(['quantize', fixture('encoder.onnx'), '-o', path.join(dir, 'e.onnx'), '--to', 'fp16']);
  assert.equal(quantize.code, 0, quantize.stderr);
  assert.doesNotMatch(quantize.stdout, /note:/);
  assert.match(quantize.stderr, /^tdeploy: note: outputs compared across float types: logits float32→float16, hidden_states float32→float16$/m);
  const check = runCli(['check', fixture('encoder.onnx'), '--against', fixture('encoder.onnx')]);
  assert.equal(check.code, 0, check.stderr);
  assert.doesNotMatch(check.stdout, /note:/);
  assert.match(check.stderr, /^tdeploy: note: inputs generated with seed 0/m);
  const quiet = runCli(['check', fixture('encoder.onnx'), '--against', fixture('encoder.onnx'), '--quiet']);
  // --quiet keeps the main result, the verdict, and drops the notes.
  assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, 'PASSED: 2 outputs within tolerance over 1 input set\n', '']);
  const inspect = runCli(['inspect', fixture('encoder.onnx'), '-q']);
  assert.deepEqual([inspect.code, inspect.stdout, inspect.stderr], [0, runCli(['inspect', fixture('encoder.onnx')]).stdout, '']);
});

test('engine notes what it adapted to the release, in --json too', () => {
  const dir = tempDir();
  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('05'), version: '11.0.0' });
  const { notes } = withNotes(['engine', fixture('encoder.onnx'), '-o', path.join(dir, 'e.plan'), '--fp16', '--no-inference', '--dim', 'batch=1,8,32', '--dim', 'seq=16,128,512'], { TDEPLOY_TRTEXEC: fake.path });
  assert.equal(notes.length, 1);
  assert.match(notes[0], /^TensorRT 11\.0\.0 builds strongly typed networks only, so --fp16 is not passed: .*tdeploy quantize --to fp16/);
});

test('run gathers every step\'s notes after the step\'s name, and names options by their place in the config', () => {
  const dir = tempDir();
  const config = (quantize: unknown[]) => {
    const file = path.join(dir, 'tdeploy.config.json');
    fs.writeFileSync(file, JSON.stringify({
      output: 'out',
      model: { source: fixture('encoder.onnx'), reference: fixture('encoder.reference.npz') },
      quantize,
      engine: false,
      bench: { iterations: 10 },
      package: false,
    }));
    return file;
  };
  const run = withNotes(['run', '--config', config([{ name: 'int8', to: 'int8', maxDriftCosine: 0.995 }])]);
  assert.ok(run.notes.includes('quantize: int8: drift gate: cosine >= 0.995 (the int8 default with the cosine of quantize[0].maxDriftCosine; quantize[0].gate: false only reports)'), run.notes.join('\n'));
  assert.ok(run.notes.includes('bench: generated inputs: attention_mask: ones'), run.notes.join('\n'));

  const misplaced = runCli(['run', '--config', config([{ name: 'half', to: 'fp16' }, { name: 'int8', to: 'int8', keepIoTypes: true }])]);
  assert.equal(misplaced.code, 2, misplaced.stderr);
  assert.match(misplaced.stderr, /^tdeploy: error: quantize: int8: quantize\[1\]\.keepIoTypes applies to quantize\[1\]\.to: fp16, not quantize\[1\]\.to: int8$/m);

  const strict = runCli(['run', '--config', config([{ name: 'int8', to: 'int8', maxDriftCosine: 0.9999999 }]), '--json']);
  assert.equal(strict.code, 1, strict.stderr);
  const report = JSON.parse(strict.stdout);
  assert.equal(report.failedStep, 'quantize');
  assert.match(report.steps[1].reason, /^int8 drifts from float32 beyond quantize\[0\]\.maxDriftCosine: 0\.9999999: logits \(cosine/);

  const unjudged = withNotes(['run', '--config', config([{ name: 'int8', to: 'int8', gate: false }])]);
  const artifacts = unjudged.document.artifacts as { name: string; accuracy: { passed: boolean | null } }[];
  assert.deepEqual(artifacts.map((a) => [a.name, a.accuracy.passed]), [['fp32', true], ['int8', null]]);
  assert.ok(unjudged.notes.includes('quantize: int8: no drift gate (quantize[0].gate: false): the errors are reported, not judged'), unjudged.notes.join('\n'));
});
