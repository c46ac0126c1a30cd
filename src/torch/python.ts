import fs from 'node:fs';
import path from 'node:path';
import { isExecutable } from '../process/executable.js';
import { runTool } from '../process/runner.js';
import { opt } from '../option-ref.js';

/**
 * Which Python runs the export: the `python` option, else `TDEPLOY_PYTHON`, else `python3` on PATH.
 * The first python3 on PATH is often a pyenv or venv interpreter without torch while the system one
 * has it, so a missing torch is answered with the interpreters that do have it.
 */
export interface PythonChoice {
  command: string;
  /** how the interpreter was chosen, for messages */
  chosenBy: string;
}

/** How choosePython picks without the option, as help texts say it. */
export const PYTHON_SEARCH = '$TDEPLOY_PYTHON, else python3 on PATH';

export const TORCH_INSTALL = 'apt-get install python3-torch, or pip install torch';

export function choosePython(flag?: string, env: NodeJS.ProcessEnv = process.env): PythonChoice {
  if (flag) return { command: flag, chosenBy: opt('python') };
  if (env.TDEPLOY_PYTHON) return { command: env.TDEPLOY_PYTHON, chosenBy: 'TDEPLOY_PYTHON' };
  return { command: 'python3', chosenBy: 'python3 on PATH' };
}

const PROBE = 'import importlib.util, sys; print(sys.executable if importlib.util.find_spec("torch") else "")';

/** Whether `command` is a Python that can import torch (checked without importing it). */
export async function hasTorch(command: string): Promise<boolean> {
  const probe = await runTool({ file: command, args: ['-c', PROBE], label: 'python', timeoutMs: 10_000 }).catch(() => undefined);
  return probe?.exitCode === 0 && probe.stdout.trim() !== '';
}

/**
 * Other interpreters on this machine that have torch (found without importing it), excluding
 * `tried`. Only called after a failure, so its cost never slows a working convert.
 */
export async function pythonsWithTorch(tried: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const candidates = [...dirs.flatMap((d) => ['python3', 'python'].map((n) => path.join(d, n))), '/usr/bin/python3', '/usr/local/bin/python3'];
  const triedReal = realpath(tried);
  const probed = new Set<string>();
  const found = new Map<string, string>();
  for (const candidate of candidates) {
    const real = realpath(candidate);
    if (real === triedReal || probed.has(real) || !isExecutable(candidate)) continue;
    probed.add(real);
    const probe = await runTool({ file: candidate, args: ['-c', PROBE], label: 'python', timeoutMs: 10_000 }).catch(() => undefined);
    const printed = probe?.exitCode === 0 ? probe.stdout.trim() : '';
    const executable = printed && realpath(printed);
    if (executable && executable !== triedReal && !found.has(executable)) found.set(executable, candidate);
  }
  return [...found.values()];
}

function realpath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}
