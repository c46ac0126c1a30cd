import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError, ToolError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { type Progress, silent } from '../progress.js';
import { requireFile } from '../io/read.js';
import { hasFlag, trtexecArgs } from './flags.js';
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
  /** what was adapted to the release */
  notes: string[];
}

/**
 * Times a serialized engine with `trtexec --loadEngine`. Throws a ToolError (kind = failure
 * class) when trtexec cannot run it: a benchmark without numbers has nothing to report.
 */
export async function runEngineBenchmark(plan: string, options: EngineBenchmarkOptions = {}, progress: Progress = silent): Promise<EngineBenchmark> {
  requireFile(plan, 'engine');
  const numbers: [string, number | undefined, (n: number) => boolean, string][] = [
    ['iterations', options.iterations, (n) => Number.isInteger(n) && n > 0, 'a positive integer'],
    ['duration', options.durationS, (n) => n >= 0, 'a non-negative number of seconds'],
    ['warm-up', options.warmupMs, (n) => n >= 0, 'a non-negative number of ms'],
  ];
  for (const [name, value, valid, what] of numbers) {
    if (value !== undefined && !(Number.isFinite(value) && valid(value))) throw new InputError(`${name}: '${value}' is not ${what}`, { kind: 'usage' });
  }
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
      // 11.x leaves the host/device copies out of its timings unless asked; the samples are H2D + compute + D2H in every release
      extra: [...(hasFlag(version, '--includeDataTransfers') ? ['--includeDataTransfers'] : []), ...(options.extra ?? [])],
    });
    const logFile = options.logFile ? await logOut.temp(options.logFile) : undefined;
    const { report } = await runTrtexec(trtexec.path, args, { timeoutMs: options.timeoutMs, logFile, progress });
    await logOut.commit();
    if (report.outcome !== 'passed') {
      const failure = report.failure!;
      throw new ToolError(`trtexec could not benchmark ${plan}: ${failure.message.split('\n')[0]}`, { kind: failure.kind, hint: failure.hint });
    }
    // trtexec writes no times file when a profiler is attached (--dumpProfile without --separateProfileRun)
    const times = exportTimes && fs.existsSync(exportTimes) ? parseExportTimes(fs.readFileSync(exportTimes, 'utf8')) : null;
    return { trtexec: trtexec.path, trtVersion: formatVersion(report.version ?? version), args, report, samples: times, notes };
  } finally {
    await scratch.abort();
    await logOut.abort();
  }
}
