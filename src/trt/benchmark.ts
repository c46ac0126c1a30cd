import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError, ToolError, fileError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { type Progress, silent } from '../progress.js';
import { trtexecArgs } from './flags.js';
import { type TimingSample, parseExportTimes } from './json-parsers.js';
import { findTrtexec } from './locate.js';
import type { TrtexecReport } from './log-parser.js';
import { runTrtexec } from './runner.js';
import { detectTrtVersion, formatVersion } from './version.js';

export interface EngineBenchmarkOptions {
  /** trtexec to run; else $TDEPLOY_TRTEXEC, PATH, /usr/src/tensorrt/bin */
  trtexec?: string;
  /** the shape to run each dynamic input at */
  shapes?: Record<string, number[]>;
  /** at least this many timed inferences (with no durationS: exactly the count decides) */
  iterations?: number;
  /** at least this many seconds of timed inferences (trtexec's default: 3) */
  durationS?: number;
  /** warm-up time in ms before timing (trtexec's default: 200) */
  warmupMs?: number;
  /** every inference's times through --exportTimes (default true) */
  samples?: boolean;
  /** raw `--flag[=value]` arguments, e.g. --useCudaGraph */
  extra?: string[];
  timeoutMs?: number;
  /** where to keep the full log */
  logFile?: string;
}

export interface EngineBenchmark {
  trtexec: string;
  trtVersion: string;
  args: string[];
  /** the parsed run; `report.summary` holds trtexec's own statistics */
  report: TrtexecReport;
  /** one entry per timed inference, in order; null when not asked for */
  samples: TimingSample[] | null;
}

function positive(name: string, value: number | undefined, allowZero = false): void {
  if (value !== undefined && !(Number.isFinite(value) && (allowZero ? value >= 0 : value > 0))) {
    throw new InputError(`${name}: '${value}' is not a ${allowZero ? 'non-negative' : 'positive'} number`, { kind: 'usage' });
  }
}

/**
 * Times a serialized engine with `trtexec --loadEngine`. Throws a ToolError (kind = failure
 * class) when trtexec cannot run it: a benchmark without numbers has nothing to report.
 */
export async function runEngineBenchmark(plan: string, options: EngineBenchmarkOptions = {}, progress: Progress = silent): Promise<EngineBenchmark> {
  try {
    if (!fs.statSync(plan).isFile()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (error) {
    throw fileError(plan, error, 'engine');
  }
  if (options.iterations !== undefined && !(Number.isInteger(options.iterations) && options.iterations > 0)) {
    throw new InputError(`iterations: '${options.iterations}' is not a positive integer`, { kind: 'usage' });
  }
  positive('duration', options.durationS, true);
  positive('warm-up', options.warmupMs, true);
  for (const [name, dims] of Object.entries(options.shapes ?? {})) {
    if (!dims.every((d) => Number.isInteger(d) && d > 0)) throw new InputError(`shape of '${name}': ${dims.join('x')} is not a list of positive integers`, { kind: 'usage' });
  }
  const trtexec = findTrtexec({ trtexec: options.trtexec });
  const version = await detectTrtVersion(trtexec.path);
  const scratch = new OutputSet();
  const logOut = new OutputSet();
  try {
    const exportTimes = options.samples === false ? undefined : await scratch.temp(path.join(os.tmpdir(), 'tdeploy-trtexec-times.json'));
    const { args, notes } = trtexecArgs(version, {
      loadEngine: path.resolve(plan),
      inferenceShapes: options.shapes,
      iterations: options.iterations,
      durationS: options.durationS,
      warmupMs: options.warmupMs,
      exportTimes,
      extra: options.extra,
    });
    for (const message of notes) progress({ kind: 'note', message });
    const logFile = options.logFile ? await logOut.temp(options.logFile) : undefined;
    const { report } = await runTrtexec(trtexec.path, args, { timeoutMs: options.timeoutMs, logFile, progress });
    await logOut.commit();
    if (report.outcome !== 'passed') {
      const failure = report.failure!;
      throw new ToolError(`trtexec could not benchmark ${plan}: ${failure.message.split('\n')[0]}`, { kind: failure.kind, hint: failure.hint });
    }
    // trtexec writes no times file when a profiler is attached (--dumpProfile without --separateProfileRun)
    const times = exportTimes && fs.existsSync(exportTimes) ? parseExportTimes(fs.readFileSync(exportTimes, 'utf8')) : null;
    return { trtexec: trtexec.path, trtVersion: formatVersion(report.version ?? version), args, report, samples: times };
  } finally {
    await scratch.abort();
    await logOut.abort();
  }
}
