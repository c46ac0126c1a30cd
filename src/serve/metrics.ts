/**
 * Triton's Prometheus metrics (text exposition format, `GET :8002/metrics`): the per-model
 * counters scraped before and after a measurement, and what their differences say about the
 * server side: time in the queue, time computing, and the batch the dynamic batcher formed
 * (inferences / executions, Triton's own definition in docs/user_guide/metrics.md).
 */
import { ToolError } from '../errors.js';
import { round } from '../report/format.js';
import { HttpClient } from './client.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;
const UNESCAPE: Record<string, string> = { n: '\n', '\\': '\\', '"': '"' };

/** Every sample of a text exposition; comments and malformed lines are skipped. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      for (let l = LABEL.exec(m[2]); l; l = LABEL.exec(m[2])) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => UNESCAPE[c] ?? c);
    }
    const value = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The counters a model's figures come from, by the names Triton gives them. */
export const COUNTERS = {
  success: 'nv_inference_request_success',
  failure: 'nv_inference_request_failure',
  inferences: 'nv_inference_count',
  executions: 'nv_inference_exec_count',
  requestUs: 'nv_inference_request_duration_us',
  queueUs: 'nv_inference_queue_duration_us',
  computeInputUs: 'nv_inference_compute_input_duration_us',
  computeInferUs: 'nv_inference_compute_infer_duration_us',
  computeOutputUs: 'nv_inference_compute_output_duration_us',
} as const;

export type Counters = Record<keyof typeof COUNTERS, number>;

/** The model's counters summed over its versions (and failure reasons); undefined when it has none. */
export function modelCounters(samples: Sample[], model: string): Counters | undefined {
  const mine = samples.filter((s) => s.labels.model === model);
  if (!mine.some((s) => s.name === COUNTERS.success)) return undefined;
  const sum = (name: string) => mine.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  return Object.fromEntries(Object.entries(COUNTERS).map(([key, name]) => [key, sum(name)])) as Counters;
}

/** What the server did between two scrapes. */
export interface ServerFigures {
  /** requests it answered successfully (Δnv_inference_request_success) */
  requests: number;
  failures: number;
  /** inferences (a request of batch n counts n) and batch executions */
  inferences: number;
  executions: number;
  /** inferences per execution: the batch the dynamic batcher formed; null without executions */
  averageBatch: number | null;
  /** per successful request, in ms: end to end inside the server, queued, computing (input + infer + output) */
  requestMs: number | null;
  queueMs: number | null;
  computeMs: number | null;
}

export function figures(before: Counters, after: Counters): ServerFigures {
  const d = (key: keyof Counters) => after[key] - before[key];
  const requests = d('success');
  const perRequestMs = (us: number) => (requests > 0 ? round(us / requests / 1000, 6) : null);
  return {
    requests,
    failures: d('failure'),
    inferences: d('inferences'),
    executions: d('executions'),
    averageBatch: d('executions') > 0 ? round(d('inferences') / d('executions'), 6) : null,
    requestMs: perRequestMs(d('requestUs')),
    queueMs: perRequestMs(d('queueUs')),
    computeMs: perRequestMs(d('computeInputUs') + d('computeInferUs') + d('computeOutputUs')),
  };
}

/** Figures over several spans: counts add, per-request times weigh by requests. */
export function addFigures(parts: ServerFigures[]): ServerFigures {
  const total = (key: 'requests' | 'failures' | 'inferences' | 'executions') => parts.reduce((a, p) => a + p[key], 0);
  const requests = total('requests');
  const weighted = (key: 'requestMs' | 'queueMs' | 'computeMs') =>
    (requests > 0 && parts.every((p) => p[key] !== null || p.requests === 0) ? round(parts.reduce((a, p) => a + (p[key] ?? 0) * p.requests, 0) / requests, 6) : null);
  const inferences = total('inferences');
  const executions = total('executions');
  return {
    requests, failures: total('failures'), inferences, executions,
    averageBatch: executions > 0 ? round(inferences / executions, 6) : null,
    requestMs: weighted('requestMs'), queueMs: weighted('queueMs'), computeMs: weighted('computeMs'),
  };
}

/** Scrapes one model's counters from a metrics endpoint. */
export class MetricsScraper {
  private readonly client: HttpClient;

  constructor(readonly url: URL, readonly model: string) {
    this.client = new HttpClient(new URL(url.origin), { timeoutMs: 10_000 });
  }

  async scrape(): Promise<Counters> {
    const answer = await this.client.call('GET', this.url.pathname + this.url.search);
    const counters = modelCounters(parseMetrics(answer.body.toString('utf8')), this.model);
    if (!counters) {
      throw new ToolError(`the metrics at ${this.url.href} have no ${COUNTERS.success} series for model '${this.model}'`, {
        kind: 'metrics', hint: 'is this the metrics port of the server that serves the model (Triton: 8002)?',
      });
    }
    return counters;
  }

  close(): void {
    this.client.close();
  }
}
