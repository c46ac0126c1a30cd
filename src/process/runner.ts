/**
 * The one way tdeploy runs an external program (python, trtexec): its own process group, a
 * timeout that kills the whole group, output streamed line by line and kept whole.
 */
import { execa } from 'execa';
import { StringDecoder } from 'node:string_decoder';
import { ToolError } from '../errors.js';
import { killGroup, trackTool, untrackTool } from './active.js';

export interface ToolRun {
  file: string;
  args: string[];
  /** what the tool is called in messages, e.g. "python" or "trtexec" */
  label: string;
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string | undefined>;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** hint shown when the program does not exist */
  missingHint?: string;
  /** false: stream the output through onLine only, without keeping it (for logs of any size) */
  keepOutput?: boolean;
}

export interface ToolResult {
  exitCode: number | undefined;
  /** set when the process died of a signal */
  signal?: string;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Why a program did not start, by the error code spawn gave. */
const LAUNCH_FAILURES: Record<string, string> = {
  ENOENT: 'not found',
  EACCES: 'is not executable (a folder, or a file without execute permission)',
};

export async function runTool(run: ToolRun): Promise<ToolResult> {
  const started = performance.now();
  const child = execa(run.file, run.args, {
    cwd: run.cwd,
    env: run.env,
    extendEnv: true,
    detached: true,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    maxBuffer: 1 << 30,
    buffer: run.keepOutput !== false,
  });
  if (child.pid !== undefined) trackTool(child.pid);
  let timedOut = false;
  const timer = run.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) {
          killGroup(child.pid, 'SIGTERM');
          setTimeout(() => killGroup(child.pid!, 'SIGKILL'), 2000).unref();
        }
      }, run.timeoutMs)
    : undefined;
  for (const stream of ['stdout', 'stderr'] as const) {
    // A chunk may end inside a multi-byte character; the decoder holds those bytes for the next one.
    const decoder = new StringDecoder('utf8');
    let pending = '';
    child[stream]?.on('data', (data: Buffer) => {
      const lines = (pending + decoder.write(data)).split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) run.onLine?.(line, stream);
    });
    child[stream]?.on('end', () => {
      pending += decoder.end();
      if (pending) run.onLine?.(pending, stream);
    });
  }
  const result = await child;
  if (timer) clearTimeout(timer);
  if (child.pid !== undefined) {
    // Whatever the tool left running in its group goes with it.
    killGroup(child.pid, 'SIGKILL');
    untrackTool(child.pid);
  }
  if (result.failed && result.exitCode === undefined && !result.signal && !timedOut) {
    const why = LAUNCH_FAILURES[result.code ?? ''] ?? `could not be started (${result.code ?? result.shortMessage})`;
    throw new ToolError(`${run.label} ${why}: ${run.file}`, { hint: run.missingHint, kind: 'tool-missing' });
  }
  return {
    exitCode: result.exitCode,
    signal: result.signal ?? undefined,
    timedOut,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    seconds: (performance.now() - started) / 1000,
  };
}
