import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fixture, repoRoot, tempDir } from '../helpers.js';

const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });

/**
 * What a user of the published package gets: the tarball `npm pack` makes, installed into an
 * empty project the way the README says (onnxruntime-node's download skipped), run and imported.
 * Scripts are not run by pack here: `npm test` has just built dist/, and a second build would
 * rewrite it under the tests running beside this one.
 */
test('npm pack: the tarball holds the built CLI and library, no tests or benchmarks, and installs and runs in a fresh project', { timeout: 300_000 }, () => {
  const out = tempDir();
  const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', out], repoRoot)) as { filename: string; files: { path: string }[] }[];
  const files = packed.files.map((f) => f.path);
  for (const needed of ['bin/tdeploy.js', 'dist/commands/cli.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'templates/export_onnx.py', 'fixtures/encoder.onnx', 'data/triton/releases.json', 'package.json', 'README.md']) {
    assert.ok(files.includes(needed), `the tarball has ${needed}`);
  }
  assert.deepEqual(files.filter((f) => /^(test|bench|dist\/test|dist\/bench|scripts|node_modules|tdeploy-out)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts')), []);

  const project = tempDir();
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  // As the README tells dependents: onnxruntime-node's install script downloads CUDA libraries otherwise.
  fs.writeFileSync(path.join(project, '.npmrc'), 'onnxruntime-node-install=skip\n');
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(out, packed.filename)], project);

  const inspect = JSON.parse(execFileSync('npx', ['--no-install', 'tdeploy', 'inspect', fixture('convnet.onnx'), '--json'], { cwd: project, encoding: 'utf8' }));
  assert.deepEqual(inspect.inputs, [{ name: 'image', dtype: 'float32', shape: ['batch', 3, 32, 32] }]);

  fs.writeFileSync(path.join(project, 'use.ts'), [
    "import { check, quantize } from 'tdeploy';",
    'const report = await check(process.argv[2], { reference: process.argv[3] });',
    'const passed: boolean | null = report.passed;',
    "console.log(typeof quantize, passed, report.outputs.map((o) => o.name).join(','));",
  ].join('\n'));
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, typeRoots: [path.join(repoRoot, 'node_modules', '@types')], types: ['node'] },
  }));
  // The types come with the package: the script compiles against dist/src/index.d.ts, then runs.
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8' });
  const printed = execFileSync(process.execPath, [path.join(project, 'use.js'), fixture('convnet.onnx'), fixture('convnet.reference.npz')], { cwd: project, encoding: 'utf8' });
  assert.equal(printed, 'function true logits\n');
});
