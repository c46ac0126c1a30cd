import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SCHEMA_ID } from '../../src/pipeline/config.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const encoder = fixture('encoder.onnx');

test('--provider: one that cannot be had is an error (exit 2) unless the list goes on; the report says which ran', () => {
  const cuda = runCli(['check', encoder, '--against', encoder, '--provider', 'cuda']);
  assert.equal(cuda.code, 2);
  assert.match(cuda.stderr, /^tdeploy: error: the cuda execution provider is not available here \(.*Failed to load shared library\)\nhint: list a fallback to run elsewhere, e\.g\. --provider cuda,cpu; 'tdeploy doctor' shows the providers that load here\n$/);
  const listed = runCli(['check', encoder, '--against', encoder, '--provider', 'cuda,cpu', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const report = JSON.parse(listed.stdout);
  assert.equal(report.provider, 'cpu');
  assert.ok(report.notes.some((n: string) => /^the cuda execution provider is not available here \(.*\); running on cpu$/.test(n)), report.notes.join('\n'));
  const bench = runCli(['bench', encoder, '--provider', 'tensorrt,cuda,cpu', '--iterations', '5', '--warmup', '1', '--json']);
  assert.equal(bench.code, 0, bench.stderr);
  assert.equal(JSON.parse(bench.stdout).results[0].provider, 'cpu');
  assert.match(bench.stderr, /note: encoder\.onnx: the tensorrt and the cuda execution providers are not available here/);
});

test('with GITHUB_ACTIONS=true a failed gate is also a GitHub ::error:: annotation; other errors are not', () => {
  const dir = tempDir();
  const gated = runCli(['quantize', encoder, '-o', path.join(dir, 'e.onnx'), '--to', 'fp16', '--max-drift-cosine', '1'], { env: { GITHUB_ACTIONS: 'true' } });
  assert.equal(gated.code, 1, gated.stderr);
  const line = gated.stderr.split('\n').find((l) => l.startsWith('::error '));
  assert.match(line ?? '', /^::error title=tdeploy quantize::drift beyond --max-drift-cosine 1: .* \(.*--no-gate to only report\)$/);
  const usage = runCli(['check', encoder, '--bogus'], { env: { GITHUB_ACTIONS: 'true' } });
  assert.equal(usage.code, 2);
  assert.doesNotMatch(usage.stderr, /::error/);
  const local = runCli(['quantize', encoder, '-o', path.join(dir, 'f.onnx'), '--to', 'fp16', '--max-drift-cosine', '1']);
  assert.doesNotMatch(local.stderr, /::error/);
});

test('run reads ./tdeploy.config.json when no --config is given', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'tdeploy.config.json'), JSON.stringify({
    output: 'built', model: { source: encoder, reference: fixture('encoder.reference.npz') }, engine: false, bench: false, package: false,
  }));
  const r = runCli(['run', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.outputs.folder, path.join(dir, 'built'));
  assert.deepEqual(report.steps.map((s: { name: string; status: string }) => [s.name, s.status]).filter(([, s]: string[]) => s !== 'skipped'), [['check', 'passed']]);
  assert.equal(report.notes[0], 'the config is ./tdeploy.config.json');
});

test('the JSON Schema has an $id, a title, and a description for every property', () => {
  const schema = JSON.parse(runCli(['schema']).stdout);
  assert.deepEqual([schema.$schema, schema.$id, schema.title], ['https://json-schema.org/draft/2020-12/schema', SCHEMA_ID, 'tdeploy.config.json']);
  const missing: string[] = [];
  const walk = (node: Record<string, unknown> | undefined, at: string): void => {
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      const described = value.description ?? (value.anyOf as Record<string, unknown>[] | undefined)?.find((v) => v.description)?.description;
      if (!described) missing.push(`${at}${key}`);
      walk(value, `${at}${key}.`);
    }
    for (const key of ['items', 'additionalProperties']) walk(node[key] as Record<string, unknown>, `${at}${key === 'items' ? '[].' : '*.'}`);
    for (const branch of (node.anyOf ?? []) as Record<string, unknown>[]) walk(branch, at);
  };
  walk(schema, '');
  assert.deepEqual(missing, []);
  assert.ok(JSON.stringify(schema).length > 10_000);
});
