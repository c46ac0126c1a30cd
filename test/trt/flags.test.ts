import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TRTEXEC_FLAGS, type TrtexecRequest, hasFlag, trtexecArgs } from '../../src/trt/flags.js';
import { version } from '../../src/trt/version.js';

/** Flags each release refuses as "Unknown option", from the reference's removed/added lists (not from flags.ts). */
const REFUSED: Record<string, string[]> = {
  '8.0.3': ['--memPoolSize', '--skipInference', '--builderOptimizationLevel', '--fp8', '--bf16', '--stronglyTyped'],
  '8.4.1': ['--skipInference', '--builderOptimizationLevel', '--fp8', '--bf16', '--stronglyTyped'],
  '8.6.1': ['--bf16', '--stronglyTyped'],
  '10.0.1': ['--workspace', '--explicitBatch', '--buildOnly', '--minTiming', '--batch', '--maxBatch'],
  '10.16.1': ['--workspace', '--explicitBatch', '--buildOnly', '--minTiming'],
  '11.0.0': ['--workspace', '--buildOnly', '--fp16', '--bf16', '--fp8', '--int8', '--best', '--calib'],
};

const build: TrtexecRequest = {
  onnx: '/m/model.onnx',
  saveEngine: '/m/.model.plan.tmp',
  precision: ['fp16', 'int8'],
  calib: '/m/calib.cache',
  workspaceMiB: 4096,
  profiles: { input_ids: { min: [1, 16], opt: [8, 128], max: [32, 512] }, 'x:0': { min: [1, 3], opt: [4, 3], max: [8, 3] } },
  inferenceShapes: { input_ids: [8, 128], 'x:0': [4, 3] },
  timingCache: '/m/trt.cache',
  inference: false,
};

const flagsOf = (args: string[]) => args.map((a) => a.split('=', 1)[0]);

for (const release of Object.keys(REFUSED)) {
  test(`TensorRT ${release}: only flags it knows, values attached with '='`, () => {
    const v = version(release);
    const { args } = trtexecArgs(v, build);
    for (const flag of flagsOf(args)) {
      assert.ok(!REFUSED[release].includes(flag), `${flag} is refused by ${release}`);
      assert.ok(hasFlag(v, flag), `${flag} is in the table for ${release}`);
    }
    assert.ok(args.every((a) => a.startsWith('--')), 'no separate values');
    assert.ok(args.includes('--minShapes=input_ids:1x16,x:0:1x3'));
    assert.ok(args.includes('--optShapes=input_ids:8x128,x:0:4x3'));
    assert.ok(args.includes('--maxShapes=input_ids:32x512,x:0:8x3'));
    assert.ok(!flagsOf(args).includes('--shapes'), 'a build-only run passes no inference shapes');
  });
}

test('workspace and build-only take each release\'s form', () => {
  const forms = (release: string) => trtexecArgs(version(release), build).args.filter((a) => /workspace|--buildOnly|--skipInference/.test(a));
  assert.deepEqual(forms('8.0.3'), ['--workspace=4096', '--buildOnly']);
  assert.deepEqual(forms('8.4.1'), ['--memPoolSize=workspace:4096', '--buildOnly']);
  assert.deepEqual(forms('8.6.1'), ['--memPoolSize=workspace:4096', '--skipInference']);
  assert.deepEqual(forms('10.16.1'), ['--memPoolSize=workspace:4096', '--skipInference']);
});

test('the whole argv of a 10.x build with inference', () => {
  const { args, notes } = trtexecArgs(version('10.16.1'), { ...build, inference: true, builderLevel: 5, extra: ['--useCudaGraph', '--noTF32'] });
  assert.deepEqual(args, [
    '--onnx=/m/model.onnx', '--saveEngine=/m/.model.plan.tmp', '--fp16', '--int8', '--calib=/m/calib.cache', '--memPoolSize=workspace:4096',
    '--minShapes=input_ids:1x16,x:0:1x3', '--optShapes=input_ids:8x128,x:0:4x3', '--maxShapes=input_ids:32x512,x:0:8x3',
    '--shapes=input_ids:8x128,x:0:4x3', '--timingCacheFile=/m/trt.cache', '--builderOptimizationLevel=5', '--useCudaGraph', '--noTF32',
  ]);
  assert.deepEqual(notes, []);
});

test('11.x: weak-typing precision flags are left out and said so', () => {
  const { args, notes } = trtexecArgs(version('11.0.0'), build);
  assert.ok(!args.some((a) => /--fp16|--int8|--calib/.test(a)));
  assert.equal(notes.length, 3);
  assert.match(notes[0], /^TensorRT 11\.0\.0 builds strongly typed networks only, so `precision: fp16` is not passed/);
  assert.deepEqual(trtexecArgs(version('11.0.0'), { stronglyTyped: true }).args, ['--stronglyTyped']);
});

test('an option the release lacks is an input error naming the release', () => {
  assert.throws(() => trtexecArgs(version('8.6.1'), { precision: ['bf16'] }), /`precision: bf16` is not available with TensorRT 8\.6\.1: trtexec has --bf16 from 9\.3/);
  assert.throws(() => trtexecArgs(version('8.4.1'), { builderLevel: 2 }), /`builderLevel` is not available with TensorRT 8\.4\.1/);
  assert.throws(() => trtexecArgs(version('8.6.1'), { stronglyTyped: true }), /`stronglyTyped` is not available/);
});

test('extra arguments must be --flag[=value], not a flag tdeploy sets, and known to the release', () => {
  const v = version('10.16.1');
  assert.throws(() => trtexecArgs(v, { extra: ['--iterations', '100'] }), (e: Error & { hint?: string }) => /'100' is not a flag/.test(e.message) && /attached with '='/.test(e.hint!));
  const profile = { profiles: { x: { min: [1], opt: [2], max: [4] } } };
  assert.throws(() => trtexecArgs(v, { ...profile, extra: ['--minShapes=x:1'] }), (e: Error & { hint?: string }) => /tdeploy sets --minShapes itself/.test(e.message) && e.hint === "use tdeploy's `profiles`");
  assert.throws(() => trtexecArgs(v, { extra: ['--explicitBatch'] }), (e: Error & { hint?: string }) => /has no --explicitBatch/.test(e.message) && /until 10\.0/.test(e.hint!));
  assert.deepEqual(trtexecArgs(v, { extra: ['--someFutureFlag=1', '--iterations=100'] }).args, ['--someFutureFlag=1', '--iterations=100']);
});

test('benchmark requests: --iterations alone sets --duration=0 so the count decides', () => {
  const v = version('8.6.1');
  assert.deepEqual(trtexecArgs(v, { loadEngine: '/e.plan', iterations: 500, warmupMs: 100, exportTimes: '/t.json', inferenceShapes: { x: [4, 3] } }).args,
    ['--loadEngine=/e.plan', '--shapes=x:4x3', '--iterations=500', '--duration=0', '--warmUp=100', '--exportTimes=/t.json']);
  assert.deepEqual(trtexecArgs(v, { loadEngine: '/e.plan', durationS: 10 }).args, ['--loadEngine=/e.plan', '--duration=10']);
});

test('the table never lists a flag as removed before it was added', () => {
  for (const [flag, span] of Object.entries(TRTEXEC_FLAGS)) {
    if (span.until) assert.ok(version(span.since).major * 100 + version(span.since).minor < version(span.until).major * 100 + version(span.until).minor, flag);
  }
});
