import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { requireFile } from '../io/read.js';
import { OutputSet, refuseFolderOutput } from '../io/atomic.js';
import { overwrittenInput } from '../io/same-file.js';
import { externalDataFiles, loadModel } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { type Progress, silent } from '../progress.js';
import { type ShapeSpec, emptyShapeSpec } from '../runtime/shapes.js';
import type { Failure } from './failures.js';
import { type TrtexecRequest, trtexecArgs } from './flags.js';
import { findTrtexec } from './locate.js';
import { type Outcome, type TrtexecReport, readTrtexecLog } from './log-parser.js';
import { type ShapeProfile, engineProfiles } from './profiles.js';
import { runTrtexec } from './runner.js';
import type { PerformanceSummary } from './summary.js';
import { atLeast, detectTrtVersion, formatVersion } from './version.js';
import { opt } from '../option-ref.js';

/** A build's options: what it asks of trtexec, as the request to any release says it, and where things are. */
export interface EngineOptions extends Pick<TrtexecRequest, BuildKey> {
  /** the engine file; default: the model's path with .plan. The log goes beside it as <engine>.log */
  output?: string;
  /** trtexec to run; else $TDEPLOY_TRTEXEC, PATH, /usr/src/tensorrt/bin */
  trtexec?: string;
  /** shapes, or dims as MIN,OPT,MAX, for the dynamic inputs without a profile */
  shapes?: ShapeSpec;
  timeoutMs?: number;
}

type BuildKey = 'precision' | 'stronglyTyped' | 'calib' | 'workspaceMiB' | 'profiles' | 'timingCache' | 'builderLevel' | 'extra' | 'inference';

/** What `tdeploy engine` reports, for a build and for a log read alike. */
export interface EngineReport {
  /** the engine written (a build), or named in the log (a report on a log); null when a build wrote none */
  engine: string | null;
  trtVersion: string | null;
  /** the verdict, named as in every report */
  passed: boolean;
  /** why not, when not: trtexec failed, or its run did not finish */
  outcome: Outcome;
  failure: Failure | null;
  precision: string[];
  shapes: Record<string, ShapeProfile>;
  buildSeconds: number | null;
  summary: PerformanceSummary | null;
  warnings: string[];
  log: string;
  /** what was adapted to the release, and precision choices worth knowing */
  notes: string[];
}

function engineReport(report: TrtexecReport, engine: string | null, log: string, notes: string[] = []): EngineReport {
  return {
    engine,
    trtVersion: report.version && formatVersion(report.version),
    passed: report.outcome === 'passed',
    outcome: report.outcome,
    failure: report.failure,
    precision: report.precision,
    shapes: report.shapes,
    buildSeconds: report.buildSeconds,
    summary: report.summary,
    warnings: report.warnings,
    log,
    notes,
  };
}

/** Everything about the options that can be checked without the model or trtexec. */
function checkOptions(options: EngineOptions): void {
  const precision = options.precision ?? [];
  if (options.stronglyTyped && precision.length) {
    throw new InputError(`${opt('stronglyTyped')} cannot be combined with ${opt('precision', precision[0])}`, {
      kind: 'usage', hint: 'a strongly typed network takes its precisions from the model\'s tensor types, so TensorRT rejects builder precision flags with it',
    });
  }
  if (options.calib !== undefined) {
    if (!precision.some((p) => p === 'int8' || p === 'best')) throw new InputError(`${opt('calib')} needs ${opt('precision', 'int8')} or ${opt('precision', 'best')}`, { kind: 'usage' });
    requireFile(options.calib, 'calibration cache');
  }
  if (options.workspaceMiB !== undefined && !(Number.isInteger(options.workspaceMiB) && options.workspaceMiB > 0)) {
    throw new InputError(`${opt('workspaceMiB')}: '${options.workspaceMiB}' is not a positive whole number of MiB`, { kind: 'usage' });
  }
  if (options.builderLevel !== undefined && !(Number.isInteger(options.builderLevel) && options.builderLevel >= 0 && options.builderLevel <= 5)) {
    throw new InputError(`${opt('builderLevel')}: '${options.builderLevel}' is not 0 to 5`, { kind: 'usage' });
  }
}

const defaultOutput = (model: string) => model.replace(/\.onnx$/i, '') + '.plan';

/**
 * Builds a TensorRT engine with trtexec. The model and the options are checked before trtexec
 * is looked for; the engine appears only when the build passed; the full log is kept as
 * `<engine>.log` either way. A build that fails returns its report (outcome and failure say
 * why) rather than throwing, so callers can show it; bad input and a missing trtexec throw.
 */
export async function buildEngine(model: string, options: EngineOptions = {}, progress: Progress = silent): Promise<EngineReport> {
  checkOptions(options);
  const output = path.resolve(options.output ?? defaultOutput(model));
  refuseFolderOutput(output, 'output', 'the engine', 'model.plan');
  const onnx = await loadModel(model);
  const overwritten = overwrittenInput([output, `${output}.log`], [onnx.path, ...externalDataFiles(onnx)]);
  if (overwritten) throw new InputError(`the engine or its log would overwrite ${overwritten}, which the build reads`, { kind: 'usage', hint: `give ${opt('output', '<file>.plan')}` });
  const { inputs } = signature(onnx.proto);
  const profiles = engineProfiles(inputs, options.profiles ?? {}, options.shapes ?? emptyShapeSpec());
  const trtexec = findTrtexec({ trtexec: options.trtexec });
  progress({ kind: 'phase', phase: 'asking trtexec its version', detail: trtexec.path });
  const version = await detectTrtVersion(trtexec.path);
  const precision = options.precision ?? [];
  const quantized = onnx.proto.graph?.node.some((n) => n.opType === 'QuantizeLinear') ?? false;
  const notes: string[] = [];
  if (precision.some((p) => p === 'int8' || p === 'best') && !options.calib && !quantized && !atLeast(version, '11.0')) {
    notes.push(`INT8 without ${opt('calib')} and without QDQ nodes in the model: TensorRT uses placeholder scales, fine for timing but not for accuracy`);
  }
  const logFile = `${output}.log`;
  const engineOut = new OutputSet();
  const logOut = new OutputSet();
  try {
    const saveEngine = await engineOut.temp(output);
    const { output: _output, trtexec: _trtexec, shapes: _shapes, timeoutMs: _timeout, ...request } = options;
    const { args, notes: adapted } = trtexecArgs(version, {
      ...request,
      onnx: path.resolve(model),
      saveEngine,
      profiles,
      inferenceShapes: Object.fromEntries(Object.entries(profiles).map(([name, p]) => [name, p.opt])),
    });
    notes.push(...adapted);
    const { report } = await runTrtexec(trtexec.path, args, { timeoutMs: options.timeoutMs, logFile: await logOut.temp(logFile), progress });
    report.version ??= version;
    if (report.outcome === 'passed' && !(fs.statSync(saveEngine, { throwIfNoEntry: false })?.size ?? 0)) {
      report.outcome = 'failed';
      report.failure = { kind: 'build-error', message: 'trtexec reported PASSED but wrote no engine file', hint: 'the full log shows what trtexec did' };
    }
    await logOut.commit();
    if (report.outcome === 'passed') await engineOut.commit();
    else await engineOut.abort();
    return engineReport(report, report.outcome === 'passed' ? output : null, logFile, notes);
  } catch (error) {
    await engineOut.abort();
    await logOut.abort();
    throw error;
  }
}

/** The report of a trtexec run made elsewhere (typically on a GPU machine), from its console log. */
export async function engineFromLog(file: string): Promise<EngineReport> {
  const report = await readTrtexecLog(file);
  if (!report.recognized) {
    throw new InputError(`${file} is not a trtexec log: it has no "&&&&" status line and no "[I]" logger line`, { kind: 'not-a-log' });
  }
  return engineReport(report, report.engine, file);
}
