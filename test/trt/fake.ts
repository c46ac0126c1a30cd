import fs from 'node:fs';
import path from 'node:path';
import { fixture, shared } from '../helpers.js';

export const trtLog = (name: string) => shared('trtexec-logs', name);

/** The shared logs by number: `log('06')`. */
export function log(number: string): string {
  const name = fs.readdirSync(shared('trtexec-logs')).find((f) => f.startsWith(`${number}-`));
  if (!name) throw new Error(`no shared trtexec log ${number}`);
  return trtLog(name);
}

export interface FakeSetup {
  log: string;
  version?: string;
  /** hang after this many lines */
  hang?: number;
}

export interface Fake {
  /** an executable named trtexec */
  path: string;
  /** each run's argv, one JSON array per line */
  argvFile: string;
  /** the pid of the child a hanging fake leaves in its process group */
  childFile: string;
  runs(): string[][];
}

/**
 * A trtexec in `dir` that replays `setup.log`: a wrapper that sets the fake's variables and
 * execs fixtures/fake-trtexec. Each wrapper is its own file, so version detection (cached per
 * binary) sees each claimed version.
 */
export function fakeTrtexec(dir: string, setup: FakeSetup): Fake {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'trtexec');
  const argvFile = path.join(dir, 'argv.jsonl');
  const childFile = path.join(dir, 'child.pid');
  const vars: Record<string, string | number | undefined> = {
    FAKE_TRTEXEC_LOG: setup.log,
    FAKE_TRTEXEC_VERSION: setup.version,
    FAKE_TRTEXEC_HANG: setup.hang,
    FAKE_TRTEXEC_ARGV: argvFile,
    FAKE_TRTEXEC_CHILD: childFile,
  };
  const exports = Object.entries(vars).filter(([, v]) => v !== undefined).map(([k, v]) => `export ${k}='${v}'`);
  fs.writeFileSync(file, ['#!/bin/sh', ...exports, `exec '${fixture('fake-trtexec')}' "$@"`, ''].join('\n'), { mode: 0o755 });
  const runs = () => (fs.existsSync(argvFile) ? fs.readFileSync(argvFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []);
  return { path: file, argvFile, childFile, runs };
}

/** Whether a process is gone (or a zombie waiting for a reaper that never comes). */
function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Whether the process whose pid is in `file` is gone within a few seconds (SIGKILL lands when the process is next scheduled). */
export async function processGone(file: string): Promise<boolean> {
  const pid = Number(fs.readFileSync(file, 'utf8'));
  for (let waited = 0; waited < 5000; waited += 50) {
    if (gone(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
