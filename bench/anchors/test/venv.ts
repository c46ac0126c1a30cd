import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../../test/helpers.js';

export const anchorsDir = path.join(repoRoot, 'bench', 'anchors');

/**
 * The anchors venv's python: TDEPLOY_ANCHORS_PYTHON (npm run test:anchors sets it), else bench/anchors/venv.sh's
 * (which installs the venv the first time). These suites are opt-in, so a missing venv is a failure, not a skip.
 */
export const anchorsPython: string = process.env.TDEPLOY_ANCHORS_PYTHON ||
  execFileSync('bash', [path.join(anchorsDir, 'venv.sh')], { encoding: 'utf8' }).trim();

/** Runs a Python snippet in the anchors venv; its stdout. */
export function anchorsRun(code: string, args: string[] = []): string {
  return execFileSync(anchorsPython, ['-c', code, ...args], { encoding: 'utf8', cwd: anchorsDir, maxBuffer: 1 << 26 });
}
