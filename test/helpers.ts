import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/..., compiled). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixture = (...parts: string[]) => path.join(repoRoot, 'fixtures', ...parts);
export const shared = (...parts: string[]) => path.join(repoRoot, '..', 'shared', ...parts);
export const conformance = (...parts: string[]) => shared('conformance', 'onnx-backend', ...parts);

/** The signature fixtures/make_fixtures.py gives the encoder (dynamic batch and seq, int64 ids). */
export const ENCODER_SIGNATURE = {
  inputs: [
    { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
    { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
  ],
  outputs: [
    { name: 'logits', dtype: 'float32', shape: ['batch', 4] },
    { name: 'hidden_states', dtype: 'float32', shape: ['batch', 'seq', 64] },
  ],
};

const tempDirs: string[] = [];
// Each test file runs in its own process: its folders go when it exits, unless
// TDEPLOY_KEEP_TEMP=1 keeps them to look at a failure.
process.on('exit', () => {
  if (process.env.TDEPLOY_KEEP_TEMP === '1') return;
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'tdeploy-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real executable, bin/tdeploy.js, as users do. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), ...args], {
    cwd: options.cwd ?? repoRoot,
    // GitHub's runner sets GITHUB_ACTIONS; tests that want its annotations set it themselves.
    env: { ...process.env, CI: 'true', GITHUB_ACTIONS: '', ...options.env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Files in a folder, recursively, relative to it (to assert that nothing was written). */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const requireTorch = process.env.TDEPLOY_REQUIRE_TORCH === '1';

/**
 * The Python interpreter that has the given modules (Debian's /usr/bin/python3 first), or
 * undefined. Tests that need it skip loudly without it, and fail when TDEPLOY_REQUIRE_TORCH=1.
 */
export function pythonWith(modules: string[]): string | undefined {
  const candidates = [process.env.TDEPLOY_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p));
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' });
      return python;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** For node:test's `skip` option: a loud reason when Python lacks the modules, or false when they are there. */
export function skipWithoutPython(modules: string[]): string | false {
  if (pythonWith(modules)) return false;
  const reason = `Python with ${modules.join(', ')} not found: SKIPPING (apt-get install python3-torch python3-onnx python3-numpy)`;
  if (requireTorch) throw new Error(`TDEPLOY_REQUIRE_TORCH=1 but ${reason}`);
  process.stderr.write(`\n*** ${reason} ***\n`);
  return reason;
}

/** Runs a Python snippet with the interpreter that has `modules`; returns its stdout. */
export function python(modules: string[], code: string, args: string[] = []): string {
  const interpreter = pythonWith(modules);
  if (!interpreter) throw new Error(`no Python with ${modules.join(', ')}`);
  return execFileSync(interpreter, ['-c', code, ...args], { encoding: 'utf8' });
}
