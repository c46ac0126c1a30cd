/**
 * `tdeploy run`: the steps of steps.ts in order, each the library call its command makes. A
 * failed gate stops the pipeline; the report says which step failed. Errors, notes and results
 * name options as the config does (`quantize[1].maxDriftCosine`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CheckReport } from '../accuracy/check.js';
import { loadModel } from '../onnx/model.js';
import { respellAll } from '../option-ref.js';
import { type Progress, silent } from '../progress.js';
import { round } from '../report/format.js';
import type { RunConfig } from './config.js';
import { configSpeller, respellError } from './spelling.js';
import { type PipelineState, STEPS, type Step, type StepName } from './steps.js';

export type { StepName } from './steps.js';

export interface StepRecord {
  name: StepName;
  status: 'passed' | 'failed' | 'skipped';
  seconds: number;
  /** why a step was skipped or failed */
  reason?: string;
  result: unknown;
}

export interface Artifact {
  /** 'fp32', a quantize variant's name, or 'engine' */
  name: string;
  path: string;
  sizeBytes: number;
  /** against the reference outputs (worst output): null when there is no reference to compare with */
  accuracy: { passed: boolean | null; minCosine: number | null; maxAbsError: number } | null;
  p50Ms: number | null;
  speedup: number | null;
}

export interface RunReport {
  passed: boolean;
  /** the step whose gate failed */
  failedStep?: StepName;
  steps: StepRecord[];
  artifacts: Artifact[];
  outputs: { folder: string; reference?: string; engine?: string; bench?: string; repository?: string };
  /** every step's notes, each after its step's name */
  notes: string[];
}

/** The artifacts' name: the config's, else the source's file name without its extension. */
export function artifactName(config: RunConfig): string {
  return config.model.name ?? path.basename(config.model.source).replace(/\.(onnx|pt2?|pth)$/, '').replace(/[^\w.-].*$/, '');
}

export async function runPipeline(config: RunConfig, progress: Progress = silent, steps: Step[] = STEPS): Promise<RunReport> {
  let state: PipelineState = { config, name: artifactName(config), models: new Map(), accuracy: new Map() };
  const report: RunReport = { passed: true, steps: [], artifacts: [], outputs: { folder: config.output }, notes: [] };
  for (const step of steps) {
    const missing = step.needs.find((need) => !report.steps.some((s) => s.name === need));
    if (missing) throw new Error(`the ${step.name} step needs the ${missing} step to run before it`);
    progress({ kind: 'phase', phase: step.name });
    const started = performance.now();
    const spell = configSpeller(step.sections);
    let outcome;
    try {
      outcome = respellAll(await step.run(state, progress), spell);
    } catch (error) {
      throw respellError(error, spell, `${step.name}: `);
    }
    report.steps.push({ name: step.name, status: outcome.status, seconds: round((performance.now() - started) / 1000, 3), reason: outcome.reason, result: outcome.result });
    report.notes.push(...outcome.notes.map((n) => `${step.name}: ${n}`));
    state = { ...state, ...step.summarise(state, outcome.result) };
    if (outcome.status === 'failed') {
      report.passed = false;
      report.failedStep = step.name;
      break;
    }
  }
  report.artifacts = await artifacts(state);
  report.outputs = { folder: config.output, reference: state.reference, engine: state.engine, bench: state.bench, repository: state.repository };
  return report;
}

function artifacts({ models, engine, accuracy, timings }: PipelineState): Promise<Artifact[]> {
  const files = [...models, ...(engine ? [['engine', engine] as [string, string]] : [])];
  return Promise.all(files.map(async ([name, file]) => {
    const r: CheckReport | undefined = accuracy.get(name);
    // The first case of the sweep is the summary's figure; the bench report has every case.
    const timed = timings?.results.find((t) => t.label === name);
    return {
      name,
      path: file,
      sizeBytes: name === 'engine' ? (await fs.promises.stat(file)).size : (await loadModel(file, { deferAbove: 0 })).sizeBytes,
      accuracy: r ? {
        passed: r.passed,
        minCosine: r.outputs.some((o) => o.cosine !== null) ? Math.min(...r.outputs.flatMap((o) => (o.cosine === null ? [] : [o.cosine]))) : null,
        maxAbsError: Math.max(...r.outputs.map((o) => o.maxAbsError)),
      } : null,
      p50Ms: timed?.latencyMs.p50 ?? null,
      speedup: timed?.speedup ?? null,
    };
  }));
}
