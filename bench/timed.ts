import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../test/helpers.js';

export interface Timed {
  stdout: string;
  stderr: string;
  status: number | null;
  /** wall time as /usr/bin/time measured it */
  seconds: number;
  /** peak resident set size of the CLI (or of the largest child it ran) */
  rssMiB: number;
}

/** Runs `bin/tdeploy.js <args>` under `/usr/bin/time -v`: its output, wall seconds and peak RSS. */
export function timed(args: string[]): Timed {
  const result = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(repoRoot, 'bin', 'tdeploy.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(result.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status, seconds, rssMiB: Number(rss?.[1]) / 1024 };
}
