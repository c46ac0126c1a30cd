/**
 * A KServe v2 test server written for tdeploy's tests, following the protocol as documented
 * (kserve's open inference protocol; Triton's binary tensor, model configuration, model
 * repository and metrics extensions): models from a Triton repository (config.pbtxt +
 * `<version>/model.onnx`) run by onnxruntime-node under a simulated dynamic batcher
 * (scheduler.ts). Metrics are served on their own port in Triton's Prometheus names.
 *
 * Standalone: node dist/test/serve/server.js --model-repo DIR [--port 8000] [--metrics-port 8002]
 *   [--delay-ms D] [--delay-per-item-ms d] [--model-control none|explicit] [--host 127.0.0.1]
 * It prints `listening http://HOST:PORT metrics http://HOST:MPORT/metrics` once both listen.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromJson, configToJson } from '../../src/serve/model-config.js';
import { HEADER_LENGTH, type InferRequestHeader, type WireTensor, decodeTensor, dtypeOfWire, splitBody, tensorBytes } from '../../src/serve/protocol.js';
import type { ModelConfig } from '../../src/triton/gen/model_config_pb.js';
import { readConfig } from '../../src/triton/text.js';
import { type TensorMap } from '../../src/tensor/tensor.js';
import { LoadedModel, type ModelCounters, ServeError, type Timing, newCounters } from './scheduler.js';

export interface ServerOptions extends Timing {
  repository: string;
  port?: number;
  metricsPort?: number;
  host?: string;
  /** explicit: the repository API may load and unload models (Triton's --model-control-mode) */
  modelControl?: 'none' | 'explicit';
}

export interface RunningServer {
  url: string;
  metricsUrl: string;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: Buffer | string | object;
  headers?: Record<string, string>;
}

const json = (status: number, body: object): Answer => ({ status, body });
const empty = (status: number): Answer => ({ status, body: '' });

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const models = new Map<string, LoadedModel>();
  const counters = new Map<string, ModelCounters>();
  const failedLoads = new Map<string, string>();
  const timing: Timing = { delayMs: options.delayMs, perItemMs: options.perItemMs };
  const modelDirs = () => fs.readdirSync(options.repository, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

  async function load(name: string, config?: ModelConfig): Promise<void> {
    const dir = path.join(options.repository, name);
    if (!fs.existsSync(dir)) throw new ServeError(400, `failed to load '${name}', failed to poll from model repository`);
    let cfg: ModelConfig;
    try {
      cfg = config ?? await readConfig(path.join(dir, 'config.pbtxt'));
    } catch (error) {
      throw new ServeError(400, `failed to load '${name}': ${(error as Error).message}`);
    }
    if (!counters.has(name)) counters.set(name, newCounters());
    try {
      const model = await LoadedModel.load(dir, cfg, timing, counters.get(name)!);
      const old = models.get(name);
      models.set(name, model);
      failedLoads.delete(name);
      await old?.close();
    } catch (error) {
      failedLoads.set(name, (error as Error).message);
      throw error;
    }
  }

  for (const name of modelDirs()) await load(name).catch(() => undefined);

  function model(name: string, version?: string): LoadedModel {
    const m = models.get(name);
    if (!m && modelDirs().includes(name)) throw new ServeError(400, `Request for unknown model: '${name}' has no available versions`);
    if (!m) throw new ServeError(404, `Request for unknown model: '${name}' is not found`);
    if (version && version !== m.version) throw new ServeError(404, `Request for unknown model: '${name}' version ${version} is not found`);
    return m;
  }

  const routes: { method: string; pattern: RegExp; handle: (m: string[], body: Buffer, headers: http.IncomingHttpHeaders) => Promise<Answer> | Answer }[] = [
    { method: 'GET', pattern: /^\/v2\/health\/(live|ready)$/, handle: () => empty(200) },
    { method: 'GET', pattern: /^\/v2$/, handle: () => json(200, { name: 'tdeploy-test-server', version: '0', extensions: ['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics'] }) },
    {
      method: 'GET', pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/ready$/,
      handle: ([, name, version]) => {
        try {
          model(name, version);
          return empty(200);
        } catch {
          return empty(400);
        }
      },
    },
    {
      method: 'GET', pattern: /^\/v2\/models(?:\/([^/]+)(?:\/versions\/([^/]+))?)?\/stats$/,
      handle: ([, name, version]) => json(200, { model_stats: (name ? [model(name, version)] : [...models.values()]).map((m) => statistics(m.name, m.version, counters.get(m.name)!)) }),
    },
    {
      method: 'GET', pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/config$/,
      handle: ([, name, version]) => json(200, configToJson(model(name, version).config)),
    },
    {
      method: 'GET', pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?$/,
      handle: ([, name, version]) => {
        const m = model(name, version);
        const describe = (t: LoadedModel['inputs'][number]) => ({ name: t.name, datatype: t.datatype, shape: m.shapeOf(t) });
        return json(200, { name: m.name, versions: [m.version], platform: m.config.platform || 'onnxruntime_onnx', inputs: m.inputs.map(describe), outputs: m.outputs.map(describe) });
      },
    },
    {
      method: 'POST', pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/,
      handle: ([, name, version], body, headers) => infer(model(name, version), body, headers),
    },
    {
      method: 'POST', pattern: /^\/v2\/repository\/index$/,
      handle: () => json(200, modelDirs().map((name) => {
        const m = models.get(name);
        return m ? { name, version: m.version, state: 'READY' } : { name, state: 'UNAVAILABLE', reason: failedLoads.get(name) ?? 'unloaded' };
      })),
    },
    {
      method: 'POST', pattern: /^\/v2\/repository\/models\/([^/]+)\/(load|unload)$/,
      handle: async ([, name, action], body) => {
        if (options.modelControl !== 'explicit') throw new ServeError(503, 'explicit model load / unload is not allowed if polling is enabled');
        if (action === 'unload') {
          const m = models.get(name);
          models.delete(name);
          await m?.close();
          return json(200, {});
        }
        const params = (body.length ? JSON.parse(body.toString('utf8')) : {}).parameters as Record<string, unknown> | undefined;
        let config: ModelConfig | undefined;
        if (typeof params?.config === 'string') {
          try {
            config = configFromJson(JSON.parse(params.config));
          } catch (error) {
            throw new ServeError(400, `failed to load '${name}': the config parameter is not a model config: ${(error as Error).message}`);
          }
        }
        await load(name, config);
        return json(200, {});
      },
    },
  ];

  async function infer(m: LoadedModel, body: Buffer, headers: http.IncomingHttpHeaders): Promise<Answer> {
    let request: InferRequestHeader;
    const inputs: TensorMap = new Map();
    try {
      const { header, binary } = splitBody<InferRequestHeader>(body, headers[HEADER_LENGTH] as string | undefined, 'inputs');
      request = header;
      for (const t of request.inputs ?? []) {
        if (!dtypeOfWire(t.datatype)) throw new Error(`invalid datatype '${t.datatype}' for input '${t.name}'`);
        inputs.set(t.name, decodeTensor(t, binary.get(t.name)));
      }
    } catch (error) {
      m.counters.request_failure.REJECTED++;
      throw new ServeError(400, `failed to parse the request: ${(error as Error).message}`);
    }
    const outputs = await m.infer(inputs);
    const wanted: { name: string; parameters?: Record<string, unknown> }[] = request.outputs?.length ? request.outputs : m.outputs.map((o) => ({ name: o.name }));
    const allBinary = request.parameters?.binary_data_output === true;
    const chunks: Buffer[] = [];
    const described: WireTensor[] = wanted.map((w) => {
      const t = outputs.get(w.name);
      const spec = m.outputs.find((o) => o.name === w.name);
      if (!t || !spec) throw new ServeError(400, `unexpected inference output '${w.name}' for model '${m.name}'`);
      if (allBinary || w.parameters?.binary_data === true) {
        const bytes = tensorBytes(t);
        chunks.push(bytes);
        return { name: w.name, datatype: spec.datatype, shape: t.shape, parameters: { binary_data_size: bytes.length } };
      }
      const data = Array.from(t.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? Number(v) : v));
      return { name: w.name, datatype: spec.datatype, shape: t.shape, data };
    });
    const header = Buffer.from(JSON.stringify({ model_name: m.name, model_version: m.version, ...(request.id ? { id: request.id } : {}), outputs: described }));
    if (!chunks.length) return { status: 200, body: header, headers: { 'content-type': 'application/json' } };
    return { status: 200, body: Buffer.concat([header, ...chunks]), headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(header.length) } };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const route = routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
      let answer: Answer;
      try {
        answer = route
          ? await route.handle(route.pattern.exec(url.pathname)!.map((s) => (s === undefined ? s : decodeURIComponent(s))), Buffer.concat(chunks), req.headers)
          : json(404, { error: `Not Found: ${req.method} ${url.pathname}` });
      } catch (error) {
        answer = json(error instanceof ServeError ? error.status : 500, { error: (error as Error).message });
      }
      const body = Buffer.isBuffer(answer.body) ? answer.body : typeof answer.body === 'string' ? Buffer.from(answer.body) : Buffer.from(JSON.stringify(answer.body));
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers, 'content-length': String(body.length) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;

  const metrics = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition(counters, models, modelDirs()));
  });

  const host = options.host ?? '127.0.0.1';
  const listen = (s: http.Server, port: number) => new Promise<number>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host, () => resolve((s.address() as AddressInfo).port));
  });
  const port = await listen(server, options.port ?? 0);
  const metricsPort = await listen(metrics, options.metricsPort ?? 0);
  return {
    url: `http://${host}:${port}`,
    metricsUrl: `http://${host}:${metricsPort}/metrics`,
    async close() {
      server.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => metrics.close(r))]);
      for (const m of models.values()) await m.close();
    },
  };
}

/** The statistics extension's answer for one model (durations in ns, as Triton gives them). */
function statistics(name: string, version: string, c: ModelCounters): object {
  const ns = (us: number) => us * 1000;
  const success = c.request_success;
  const failed = Object.values(c.request_failure).reduce((a, b) => a + b, 0);
  return {
    name, version, last_inference: c.last_inference_ms, inference_count: c.count, execution_count: c.exec_count,
    inference_stats: {
      success: { count: success, ns: ns(c.request_duration_us) },
      fail: { count: failed, ns: 0 },
      queue: { count: success, ns: ns(c.queue_duration_us) },
      compute_input: { count: success, ns: ns(c.compute_input_duration_us) },
      compute_infer: { count: success, ns: ns(c.compute_infer_duration_us) },
      compute_output: { count: success, ns: ns(c.compute_output_duration_us) },
      cache_hit: { count: 0, ns: 0 },
      cache_miss: { count: 0, ns: 0 },
    },
    batch_stats: [...c.batches].sort(([a], [b]) => a - b).map(([size, b]) => ({
      batch_size: size,
      compute_input: { count: b.count, ns: ns(b.inputUs) },
      compute_infer: { count: b.count, ns: ns(b.inferUs) },
      compute_output: { count: b.count, ns: ns(b.outputUs) },
    })),
  };
}

const HELP: Partial<Record<keyof ModelCounters, string>> = {
  request_success: 'Number of successful inference requests, all batch sizes',
  request_failure: 'Number of failed inference requests, all batch sizes',
  count: 'Number of inferences performed (does not include cached requests)',
  exec_count: 'Number of model executions performed (does not include cached requests)',
  request_duration_us: 'Cumulative inference request duration in microseconds (includes cached requests)',
  queue_duration_us: 'Cumulative inference queuing duration in microseconds (includes cached requests)',
  compute_input_duration_us: 'Cumulative compute input duration in microseconds (does not include cached requests)',
  compute_infer_duration_us: 'Cumulative compute inference duration in microseconds (does not include cached requests)',
  compute_output_duration_us: 'Cumulative inference compute output duration in microseconds (does not include cached requests)',
};

/** Triton's exposition: one HELP/TYPE block per metric, one series per model and version. */
function exposition(counters: Map<string, ModelCounters>, models: Map<string, LoadedModel>, names: string[]): string {
  const lines: string[] = [];
  for (const [key, help] of Object.entries(HELP) as ['request_success' | 'request_failure', string][]) {
    const metric = `nv_inference_${key}`;
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} counter`);
    for (const name of names) {
      const c = counters.get(name);
      if (!c) continue;
      const labels = `model="${name}",version="${models.get(name)?.version ?? '1'}"`;
      const value = c[key];
      if (typeof value === 'number') lines.push(`${metric}{${labels}} ${value}`);
      else for (const [reason, n] of Object.entries(value)) lines.push(`${metric}{${labels},reason="${reason}"} ${n}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/** The standalone server: started only when run as a script, never when the test runner loads this file. */
async function main(args: string[]): Promise<void> {
  const repository = flag(args, '--model-repo');
  if (!repository) {
    process.stderr.write('usage: node dist/test/serve/server.js --model-repo DIR [--port 8000] [--metrics-port 8002] [--delay-ms D] [--delay-per-item-ms d] [--model-control none|explicit] [--host H]\n');
    process.exit(2);
  }
  const port = Number(flag(args, '--port') ?? 8000);
  const running = await startServer({
    repository,
    port,
    metricsPort: Number(flag(args, '--metrics-port') ?? (port === 0 ? 0 : port + 2)),
    host: flag(args, '--host'),
    delayMs: Number(flag(args, '--delay-ms') ?? 0),
    perItemMs: Number(flag(args, '--delay-per-item-ms') ?? 0),
    modelControl: flag(args, '--model-control') === 'explicit' ? 'explicit' : 'none',
  });
  process.stdout.write(`listening ${running.url} metrics ${running.metricsUrl}\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.env.NODE_TEST_CONTEXT === undefined) void main(process.argv.slice(2));
