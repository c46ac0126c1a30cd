/**
 * bench with a `server`: the served model under load. Inputs are generated from what the server says
 * about the model, as `bench` generates them from an ONNX file; each case is measured at every
 * load level with the same warm-up, windows and stability rule as `bench`, and the report is
 * `bench`'s document with one row per level. The server's Prometheus counters are scraped around
 * every window, so each row also says what the server did: time queued and computing, and the
 * batch its dynamic batcher formed.
 */
import type { Gate } from '../bench/baseline.js';
import { DEFAULT_WARMUP, DEFAULT_WINDOW, benchReport, describeResult, unmatchedInBaseline } from '../bench/bench.js';
import type { WindowPlan } from '../bench/harness.js';
import { type FedCase, type InputSource, runCases } from '../bench/inputs.js';
import type { BenchReport, BenchResult } from '../bench/result.js';
import { type Measured, type StabilityCriterion, measureWindows } from '../bench/stability.js';
import { summarize } from '../bench/stats.js';
import { InputError, TdeployError, ToolError } from '../errors.js';
import { loadModel } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { opt } from '../option-ref.js';
import { type Progress, silent } from '../progress.js';
import { round } from '../report/format.js';
import { type ShapeSpec, emptyShapeSpec } from '../runtime/shapes.js';
import { HttpClient, serverMessage, serverUrl } from './client.js';
import { type LoadMode, type LoadWindow, type Send, runLoad } from './load.js';
import { type Counters, MetricsScraper, type ServerFigures, addFigures, figures } from './metrics.js';
import { type ServedModel, describeModel, modelPath, namedFrom } from './model.js';
import { type EncodedRequest, HEADER_LENGTH, decodeTensor, encodeRequest, splitBody } from './protocol.js';
import { requestFeeds } from './text.js';

export interface ServerBenchOptions {
  /** the server's HTTP base URL, e.g. http://localhost:8000 */
  server: string;
  model: string;
  modelVersion?: string;
  shapes?: ShapeSpec;
  batch?: number[];
  source?: InputSource;
  /** one text per line, for the model's BYTES inputs */
  textFile?: string;
  /** the ONNX model whose dim names the served inputs take */
  ioFrom?: string;
  /** closed-loop levels (default [1]) … */
  concurrency?: number[];
  /** … or open-loop levels, requests per second */
  requestRate?: number[];
  warmup?: number;
  window?: WindowPlan;
  stability?: StabilityCriterion;
  label?: string;
  gate?: Gate;
  requireStable?: boolean;
  /** JSON tensors instead of the binary tensor extension */
  jsonTensors?: boolean;
  /** Prometheus metrics URL (default: port 8002 of the server's host); false: none */
  metricsUrl?: string | false;
  timeoutMs?: number;
}

export const DEFAULT_METRICS_PORT = 8002;

export async function benchServer(options: ServerBenchOptions, progress: Progress = silent): Promise<BenchReport> {
  const base = serverUrl(options.server);
  const levels = loadLevels(options);
  const connections = Math.max(...levels.map((l) => ('concurrency' in l ? l.concurrency : 64)));
  const client = new HttpClient(base, { connections, timeoutMs: options.timeoutMs });
  try {
    progress({ kind: 'phase', phase: `reading model '${options.model}' from ${base.origin}` });
    const served = await describeModel(client, options.model, options.modelVersion);
    const notes = [...served.notes];
    const inputs = options.ioFrom ? namedFrom(served.inputs, signature((await loadModel(options.ioFrom)).proto).inputs, options.ioFrom) : served.inputs;
    const { cases, notes: caseNotes } = await runCases(inputs, options.shapes ?? emptyShapeSpec(), options.batch, options.source ?? {});
    notes.push(...caseNotes);
    checkBatch(served, cases);
    const label = options.label ?? (options.modelVersion ? `${options.model}@${options.modelVersion}` : options.model);
    if (options.gate) notes.push(...unmatchedInBaseline(options.gate, cases.flatMap((c) => levels.map((l) => ({ label, shapes: c.shapes, ...l })))));
    const scraper = await metricsFor(options, base, served.name, notes);
    const inferPath = `${modelPath(served.name, options.modelVersion)}/infer`;
    const results: BenchResult[] = [];
    try {
      for (const c of cases) {
        const bodies = await requestBodies(c, served, inputs, options);
        notes.push(...bodies.notes);
        await firstRequest(client, inferPath, bodies.requests[0], served);
        const send: Send = async (k) => {
          const { body, headers } = bodies.requests[k % bodies.requests.length];
          const answer = await client.send('POST', inferPath, body, headers);
          if (answer.status !== 200) throw new Error(`${answer.status}: ${serverMessage(answer.body)}`);
        };
        for (const level of levels) {
          const what = describeResult({ label, shapes: c.shapes, ...level });
          const measured = await measureLevel(send, level, scraper, what, options, progress);
          if (!measured.stable) notes.push(`${what}: no 3 consecutive windows agreed within ${options.stability?.percent}% in ${measured.measured} windows; reporting the last 3`);
          const r = levelResult(`${base.origin}${modelPath(served.name, options.modelVersion)}`, label, served.platform, c, level, measured, scraper !== undefined, options.stability !== undefined);
          const failed = measured.windows.find((w) => w.firstError)?.firstError;
          if (r.errors && !r.iterations) throw new ToolError(`every request failed at ${what}: ${failed}`, { kind: 'server' });
          if (r.errors) notes.push(`${what}: ${r.errors} of ${r.requests} requests failed, the first with ${failed}`);
          results.push(r);
        }
      }
    } finally {
      scraper?.close();
    }
    return benchReport(results, options, notes);
  } finally {
    client.close();
  }
}

function loadLevels(options: ServerBenchOptions): LoadMode[] {
  if (options.concurrency && options.requestRate) {
    throw new InputError(`${opt('concurrency')} and ${opt('requestRate')} are two kinds of load; give one`, { kind: 'usage' });
  }
  if (options.requestRate) return options.requestRate.map((requestRate) => ({ requestRate }));
  return (options.concurrency ?? [1]).map((concurrency) => ({ concurrency }));
}

/** A request's batch must fit the model's max_batch_size, or every request would be refused. */
function checkBatch(served: ServedModel, cases: FedCase[]): void {
  const over = served.maxBatchSize > 0 ? cases.find((c) => c.batch > served.maxBatchSize) : undefined;
  if (over) {
    throw new InputError(`batch ${over.batch} is more than model '${served.name}' takes (max_batch_size ${served.maxBatchSize})`, {
      hint: `give ${opt('batch')} or ${opt('dims', 'batch=N')} values up to ${served.maxBatchSize}`,
    });
  }
}

async function requestBodies(c: FedCase, served: ServedModel, inputs: ServedModel['inputs'], options: ServerBenchOptions): Promise<{ requests: EncodedRequest[]; notes: string[] }> {
  const { feeds, notes } = await requestFeeds(c.feeds, inputs, options.textFile);
  return { requests: feeds.map((f) => encodeRequest(f, served.outputs, !options.jsonTensors)), notes };
}

/**
 * One request alone before any load, its answer decoded in full: a model that refuses the inputs
 * or a server that answers out of protocol fails here with the server's message, not as a row of
 * errors.
 */
async function firstRequest(client: HttpClient, path: string, request: EncodedRequest, served: ServedModel): Promise<void> {
  const answer = await client.send('POST', path, request.body, request.headers);
  if (answer.status !== 200) {
    throw new ToolError(`model '${served.name}' refused the first request (${answer.status}): ${serverMessage(answer.body)}`, { kind: 'server' });
  }
  try {
    const header = answer.headers[HEADER_LENGTH];
    const { header: parsed, binary } = splitBody<{ outputs?: Parameters<typeof decodeTensor>[0][] }>(answer.body, Array.isArray(header) ? header[0] : header, 'outputs');
    const got = (parsed.outputs ?? []).map((o) => decodeTensor(o, binary.get(o.name)) && o.name);
    const missing = served.outputs.filter((o) => !got.includes(o));
    if (missing.length) throw new Error(`it lacks output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  } catch (error) {
    throw new ToolError(`model '${served.name}': the server's answer to an infer request is not a KServe v2 response: ${(error as Error).message}`, { kind: 'server' });
  }
}

/** The scraper of the server's metrics; without an explicit URL, an endpoint that does not answer is a note. */
async function metricsFor(options: ServerBenchOptions, base: URL, model: string, notes: string[]): Promise<MetricsScraper | undefined> {
  if (options.metricsUrl === false) return undefined;
  const explicit = options.metricsUrl !== undefined;
  const url = explicit ? serverUrl(options.metricsUrl as string, 'metricsUrl') : new URL(`${base.protocol}//${base.hostname}:${DEFAULT_METRICS_PORT}/metrics`);
  if (explicit && url.pathname === '') url.pathname = '/metrics';
  const scraper = new MetricsScraper(url, model);
  try {
    await scraper.scrape();
    return scraper;
  } catch (error) {
    scraper.close();
    if (explicit || !(error instanceof TdeployError)) throw error;
    notes.push(`no server-side figures: ${error.message} (give the metrics endpoint with ${opt('metricsUrl')})`);
    return undefined;
  }
}

type ServedWindow = LoadWindow & { server?: ServerFigures };

async function measureLevel(send: Send, level: LoadMode, scraper: MetricsScraper | undefined, what: string, options: ServerBenchOptions, progress: Progress): Promise<Measured<ServedWindow>> {
  progress({ kind: 'phase', phase: `warming up ${what}` });
  const warmup = options.warmup ?? DEFAULT_WARMUP;
  if (warmup > 0) {
    const w = await runLoad(send, level, { iterations: warmup, durationMs: 0 }, options.source?.seed ?? 0);
    if (w.errors) throw new ToolError(`${w.errors} of ${warmup} warm-up requests failed at ${what}: ${w.firstError}`, { kind: 'server' });
  }
  return measureWindows(async (index) => {
    const phase = `timing ${what}${options.stability ? ` (window ${index + 1})` : ''}`;
    progress({ kind: 'phase', phase, fraction: 0 });
    const before: Counters | undefined = await scraper?.scrape();
    const window = await runLoad(send, level, options.window ?? DEFAULT_WINDOW, (options.source?.seed ?? 0) + index, (fraction) => progress({ kind: 'phase', phase, fraction }));
    return { ...window, ...(scraper && before ? { server: figures(before, await scraper.scrape()) } : {}) };
  }, options.stability);
}

function levelResult(model: string, label: string, provider: string, c: FedCase, level: LoadMode, measured: Measured<ServedWindow>, scraped: boolean, criterion: boolean): BenchResult {
  const samples = measured.windows.flatMap((w) => w.samplesMs);
  const seconds = measured.windows.reduce((sum, w) => sum + w.seconds, 0);
  const errors = measured.windows.reduce((sum, w) => sum + w.errors, 0);
  const inferencesPerSec = samples.length / seconds;
  const stats = samples.length ? summarize(samples) : undefined;
  const latencyMs = Object.fromEntries(Object.entries(stats ?? { mean: 0, std: 0, min: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 }).map(([k, v]) => [k, round(v, 6)])) as BenchResult['latencyMs'];
  return {
    model, label, backend: 'kserve-http', provider, batch: c.batch, shapes: c.shapes, iterations: samples.length,
    latencyMs,
    throughput: { inferencesPerSec: round(inferencesPerSec, 3), samplesPerSec: round(inferencesPerSec * c.batch, 3) },
    speedup: 1,
    stable: criterion ? measured.stable : null,
    ...level,
    requests: samples.length + errors,
    errors,
    ...(scraped ? { server: addFigures(measured.windows.map((w) => w.server!)) } : {}),
  };
}
