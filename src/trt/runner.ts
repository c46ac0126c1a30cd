import fs from 'node:fs';
import { once } from 'node:events';
import { type ToolResult, runTool } from '../process/runner.js';
import { type Progress, silent } from '../progress.js';
import { type TrtexecReport, createLogParser } from './log-parser.js';
import { opt } from '../option-ref.js';

export interface TrtexecRunOptions {
  timeoutMs?: number;
  /** the full log is written here as it streams (a temporary path the caller commits) */
  logFile?: string;
  progress?: Progress;
}

export interface TrtexecRun {
  report: TrtexecReport;
  exitCode: number | undefined;
  signal?: string;
  timedOut: boolean;
  seconds: number;
}

/**
 * Build and run phases as the log announces them. Tactic timing is only visible in --verbose
 * logs; its detail is the layer being timed.
 */
const PHASES: [RegExp, string, ((m: RegExpExecArray) => string)?][] = [
  [/Start parsing network model/, 'parsing'],
  [/Finish(?:ed)? parsing network model/, 'building'],
  [/Timing Runner: (.+?)(?: \([\w[\]]+\))?$/, 'timing', (m) => m[1]],
  [/Engine (?:loaded|deserialized) in|Loaded engine size/, 'loading'],
  [/Starting inference/, 'inference'],
  [/Warmup completed/, 'inference', () => 'measuring'],
];

/**
 * Runs trtexec through the one process runner (own process group, timeout kill), parses its
 * log as it streams, reports phases, and keeps the log whole in `logFile`.
 */
export async function runTrtexec(trtexec: string, args: string[], options: TrtexecRunOptions = {}): Promise<TrtexecRun> {
  const progress = options.progress ?? silent;
  const parser = createLogParser();
  const log = options.logFile ? fs.createWriteStream(options.logFile) : undefined;
  let phase = '';
  let detail: string | undefined;
  progress({ kind: 'phase', phase: 'starting trtexec' });
  let result: ToolResult;
  try {
    result = await runTool({
      file: trtexec,
      args,
      label: 'trtexec',
      timeoutMs: options.timeoutMs,
      // a verbose build logs gigabytes; the lines go to the log file and the parser, not to memory
      keepOutput: false,
      onLine: (line) => {
        log?.write(`${line}\n`);
        parser.push(line);
        progress({ kind: 'log', line });
        for (const [pattern, name, describe] of PHASES) {
          const m = pattern.exec(line);
          if (!m) continue;
          const next = describe?.(m);
          if (name !== phase || next !== detail) progress({ kind: 'phase', phase: name, detail: next });
          phase = name;
          detail = next;
          break;
        }
      },
    });
  } finally {
    if (log) {
      log.end();
      await once(log, 'close');
    }
  }
  const report = parser.finish();
  if (report.outcome !== 'passed' && (result.timedOut || !report.failure)) {
    const seconds = (options.timeoutMs ?? 0) / 1000;
    const where = report.lastStep ? `; the last step it logged: ${report.lastStep}` : '';
    report.failure = result.timedOut
      ? {
        kind: 'timeout',
        message: `trtexec did not finish within ${seconds} s and was killed${where}`,
        hint: `give it more time (a larger ${opt('timeoutMs')}, or none), or make the build cheaper: smaller max shapes, a lower ${opt('builderLevel')}, a ${opt('timingCache')}`,
      }
      : {
        kind: 'unknown',
        message: `trtexec ${result.signal ? `died of ${result.signal}` : `exited with code ${result.exitCode}`} before reporting a result${where}`,
        hint: `the full log shows how far it got; rerun with ${opt('extra', '--verbose')} for more detail`,
      };
    if (result.timedOut) report.outcome = 'incomplete';
  }
  return { report, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, seconds: result.seconds };
}
