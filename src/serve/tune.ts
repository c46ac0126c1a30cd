/**
 * `tune`: the serving config that meets a p95 budget at the highest throughput, found by
 * measurement. Each candidate of a bounded grid (instance count × max_batch_size ×
 * max_queue_delay × preferred batch sizes) is loaded through Triton's model repository extension
 * (explicit model control: `POST /v2/repository/models/NAME/load` with the candidate config as its
 * `config` parameter, so nothing on disk changes while measuring) and measured with the load of a
 * `server` benchmark. The winner is written to the repository's config.pbtxt, with the table of what
 * was tried, and the server is left serving what is on disk.
 */
import { clone, create } from '@bufbuild/protobuf';
import path from 'node:path';
import { GateError, InputError, TdeployError, ToolError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { opt } from '../option-ref.js';
import { type Progress, silent } from '../progress.js';
import type { BenchResult } from '../bench/result.js';
import { type ModelConfig, ModelConfigSchema, ModelDynamicBatchingSchema, ModelInstanceGroupSchema, ModelInstanceGroup_Kind } from '../triton/gen/model_config_pb.js';
import { configText, readConfig } from '../triton/text.js';
import { type ServerBenchOptions, benchServer } from './bench-server.js';
import { HttpClient, serverUrl } from './client.js';
import { configToJson } from './model-config.js';

export interface Candidate {
  instances: number;
  maxBatchSize: number;
  maxQueueDelayUs: number;
  preferredBatchSize: number[];
}

export interface TuneGrid {
  instances: number[];
  maxBatchSize: number[];
  maxQueueDelayUs: number[];
  /** each entry one list of preferred sizes; [] = none */
  preferredBatchSize: number[][];
}

export const DEFAULT_GRID: TuneGrid = { instances: [1, 2], maxBatchSize: [4, 8], maxQueueDelayUs: [0, 1000], preferredBatchSize: [[]] };

/** More candidates than this is a search nobody waits for: each costs a load and a measurement. */
export const MAX_CANDIDATES = 64;

export interface TuneOptions extends Omit<ServerBenchOptions, 'label' | 'gate' | 'requestRate'> {
  /** the Triton repository the server serves (explicit model control), where the winner is written */
  repository: string;
  /** the latency budget: a candidate qualifies at a level where its p95 is at most this (ms) */
  p95Ms: number;
  grid?: Partial<TuneGrid>;
}

export interface Tried {
  candidate: Candidate;
  /** one per load level; empty when the server refused the candidate */
  levels: BenchResult[];
  /** the best throughput among its levels within the budget; null when none is */
  bestInferencesPerSec: number | null;
  /** the level that throughput was measured at */
  bestConcurrency: number | null;
  /** why it was not measured: the server's message on load */
  error?: string;
}

export interface TuneReport {
  server: string;
  model: string;
  p95Ms: number;
  tried: Tried[];
  /** index into `tried`; null when no candidate met the budget */
  chosen: number | null;
  /** the config.pbtxt written; null when nothing was */
  written: string | null;
  notes: string[];
}

/** Candidates whose throughputs are within this share of the best count as equal: the cheaper wins. */
const TIE = 0.03;

export function candidates(grid: TuneGrid): { list: Candidate[]; skipped: string[] } {
  const list: Candidate[] = [];
  const skipped: string[] = [];
  for (const instances of grid.instances) {
    for (const maxBatchSize of grid.maxBatchSize) {
      for (const maxQueueDelayUs of grid.maxQueueDelayUs) {
        for (const preferredBatchSize of grid.preferredBatchSize) {
          const c = { instances, maxBatchSize, maxQueueDelayUs, preferredBatchSize };
          // Triton refuses a preferred size above max_batch_size
          if (preferredBatchSize.some((p) => p > maxBatchSize)) skipped.push(describeCandidate(c));
          else list.push(c);
        }
      }
    }
  }
  if (list.length > MAX_CANDIDATES) {
    throw new InputError(`the grid has ${list.length} candidates; tune measures at most ${MAX_CANDIDATES}`, { kind: 'usage', hint: 'give fewer values per dimension' });
  }
  if (!list.length) throw new InputError('the grid has no candidate: every preferred batch size is above every max_batch_size', { kind: 'usage' });
  return { list, skipped };
}

export function describeCandidate(c: Candidate): string {
  return `instances ${c.instances}, max_batch_size ${c.maxBatchSize}, max_queue_delay ${c.maxQueueDelayUs} µs${c.preferredBatchSize.length ? `, preferred ${c.preferredBatchSize.join('+')}` : ''}`;
}

/** The repository's config with the candidate's serving settings; everything else as it was. */
export function candidateConfig(base: ModelConfig, c: Candidate): ModelConfig {
  const config = clone(ModelConfigSchema, base);
  config.maxBatchSize = c.maxBatchSize;
  const group = base.instanceGroup[0] ? clone(ModelInstanceGroupSchema, base.instanceGroup[0]) : create(ModelInstanceGroupSchema, { kind: ModelInstanceGroup_Kind.CPU });
  group.count = c.instances;
  config.instanceGroup = [group];
  const batching = base.schedulingChoice.case === 'dynamicBatching' ? clone(ModelDynamicBatchingSchema, base.schedulingChoice.value) : create(ModelDynamicBatchingSchema);
  batching.maxQueueDelayMicroseconds = BigInt(c.maxQueueDelayUs);
  batching.preferredBatchSize = c.preferredBatchSize;
  config.schedulingChoice = { case: 'dynamicBatching', value: batching };
  return config;
}

/** Highest throughput within the budget; near-ties go to fewer instances, then smaller batches and delays. */
export function choose(tried: Tried[]): number | null {
  const ok = tried.map((t, i) => ({ t, i })).filter(({ t }) => t.bestInferencesPerSec !== null);
  if (!ok.length) return null;
  const best = Math.max(...ok.map(({ t }) => t.bestInferencesPerSec!));
  const cost = (c: Candidate) => [c.instances, c.maxBatchSize, c.maxQueueDelayUs, c.preferredBatchSize.length];
  const near = ok.filter(({ t }) => t.bestInferencesPerSec! >= best * (1 - TIE));
  near.sort((a, b) => {
    const [ca, cb] = [cost(a.t.candidate), cost(b.t.candidate)];
    const k = ca.findIndex((v, j) => v !== cb[j]);
    return k < 0 ? 0 : ca[k] - cb[k];
  });
  return near[0].i;
}

export async function tune(options: TuneOptions, progress: Progress = silent): Promise<TuneReport> {
  const base = serverUrl(options.server);
  const grid = { ...DEFAULT_GRID, ...options.grid };
  const { list, skipped } = candidates(grid);
  const configFile = path.join(options.repository, options.model, 'config.pbtxt');
  const baseConfig = await readConfig(configFile);
  if (baseConfig.maxBatchSize === 0 && baseConfig.input.length === 0) {
    throw new InputError(`${configFile} lists no inputs; tune changes a complete config`, { hint: 'write it with tdeploy package' });
  }
  const notes = skipped.map((s) => `skipped ${s}: a preferred batch size is above max_batch_size`);
  const concurrency = options.concurrency ?? [Math.max(...grid.instances) * Math.max(...grid.maxBatchSize)];
  if (!options.concurrency) notes.push(`measured at concurrency ${concurrency[0]}: the most instances times the largest max_batch_size (set it with ${opt('concurrency')})`);
  const client = new HttpClient(base, { timeoutMs: options.timeoutMs ?? 600_000 });
  const loadPath = `/v2/repository/models/${encodeURIComponent(options.model)}/load`;
  const tried: Tried[] = [];
  try {
    for (const [i, candidate] of list.entries()) {
      progress({ kind: 'phase', phase: `candidate ${i + 1} of ${list.length}: ${describeCandidate(candidate)}` });
      const config = configToJson(candidateConfig(baseConfig, candidate));
      try {
        await client.json('POST', loadPath, { parameters: { config: JSON.stringify(config) } });
      } catch (error) {
        if (!(error instanceof ToolError) || error.kind !== 'server') throw error;
        tried.push({ candidate, levels: [], bestInferencesPerSec: null, bestConcurrency: null, error: error.message });
        continue;
      }
      const report = await benchServer({ ...options, concurrency, label: options.model }, progress);
      notes.push(...report.notes.filter((n) => !notes.includes(n)));
      const within = report.results.filter((r) => r.latencyMs.p95 <= options.p95Ms && !r.errors);
      const best = within.sort((a, b) => b.throughput.inferencesPerSec - a.throughput.inferencesPerSec)[0];
      tried.push({ candidate, levels: report.results, bestInferencesPerSec: best?.throughput.inferencesPerSec ?? null, bestConcurrency: best?.concurrency ?? null });
    }
    if (tried.every((t) => t.error)) {
      throw new ToolError(`the server loaded none of the ${tried.length} candidates: ${tried[0].error}`, {
        kind: 'server', hint: 'tune needs Triton in explicit model control mode (--model-control-mode=explicit) serving this repository',
      });
    }
    const chosen = choose(tried);
    let written: string | null = null;
    if (chosen !== null) {
      const winner = candidateConfig(baseConfig, tried[chosen].candidate);
      await writeFileAtomic(configFile, `${tableComment(tried, chosen, options.p95Ms)}${configText(winner)}`);
      written = configFile;
    }
    return { server: base.origin, model: options.model, p95Ms: options.p95Ms, tried, chosen, written, notes };
  } finally {
    // the server goes back to serving what is on disk: the winner, or the config as it was
    await client.json('POST', loadPath, {}).catch((error: unknown) => {
      if (!(error instanceof TdeployError)) throw error;
      notes.push(`could not reload ${options.model} from the repository: ${error.message}`);
    });
    client.close();
  }
}

/** The table of what was tried, as comments at the top of the written config.pbtxt. */
function tableComment(tried: Tried[], chosen: number, p95Ms: number): string {
  const lines = tried.map((t, i) => {
    const result = t.error ? `not loaded: ${t.error}` : t.bestInferencesPerSec === null ? `p95 above ${p95Ms} ms at every level` : `${t.bestInferencesPerSec} inferences/s at concurrency ${t.bestConcurrency}`;
    return `# ${i === chosen ? '*' : ' '} ${describeCandidate(t.candidate)}: ${result}`;
  });
  return [`# tdeploy tune: the highest throughput with p95 <= ${p95Ms} ms (*), of ${tried.length} candidates:`, ...lines, ''].join('\n');
}

/** A tune that found nothing within the budget is a failed gate, after its report. */
export function tuneVerdict(report: TuneReport): GateError | undefined {
  if (report.chosen !== null) return undefined;
  return new GateError(`no candidate met p95 <= ${report.p95Ms} ms at any level; the repository's config was left as it was`, {
    kind: 'budget', hint: `raise ${opt('p95Ms')}, try lower ${opt('concurrency')} levels, or widen the grid`,
  });
}
