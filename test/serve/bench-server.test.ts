import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, tempDir } from '../helpers.js';
import { type SpawnedServer, addTextModel, counter, encoderConfig, encoderRepository, spawnServer } from './helpers.js';

interface Row {
  concurrency?: number;
  requestRate?: number;
  iterations: number;
  requests: number;
  errors: number;
  batch: number;
  latencyMs: Record<string, number>;
  throughput: { inferencesPerSec: number };
  server?: { requests: number; failures: number; inferences: number; executions: number; averageBatch: number | null; queueMs: number | null; computeMs: number | null } | null;
}

const DELAY_MS = 40;
let server: SpawnedServer;
let repo: string;

before(async () => {
  repo = encoderRepository({
    one: encoderConfig({ instances: 1 }),
    four: encoderConfig({ instances: 4 }),
    batched: encoderConfig({ instances: 1, batching: 'max_queue_delay_microseconds: 100000' }),
    broken: encoderConfig({ parameters: { test_fail: 'CUDA out of memory (simulated)' } }),
  });
  await addTextModel(repo);
  server = await spawnServer(repo, ['--delay-ms', String(DELAY_MS), '--model-control', 'explicit']);
});
after(() => server.stop());

function bench(args: string[]): { rows: Row[]; report: Record<string, unknown>; stderr: string } {
  const r = runCli(['bench', '--server', server.url, '--metrics-url', server.metricsUrl, ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  return { rows: report.results, report, stderr: r.stderr };
}

describe('bench --server against the test server (fixed delay per execution)', () => {
  test('latency at concurrency 1 is at least the delay; throughput scales with concurrency as far as the instances allow', () => {
    const four = bench(['--model', 'four', '--concurrency', '1,4', '--duration', '1.5', '--warmup', '2']).rows;
    const one = bench(['--model', 'one', '--concurrency', '1,4', '--duration', '1.5', '--warmup', '2']).rows;
    for (const rows of [four, one]) {
      assert.deepEqual(rows.map((r) => r.concurrency), [1, 4]);
      assert.ok(rows[0].latencyMs.min >= DELAY_MS, `min ${rows[0].latencyMs.min} ms is below the server's ${DELAY_MS} ms`);
      assert.ok(rows[0].throughput.inferencesPerSec <= 1000 / DELAY_MS, `${rows[0].throughput.inferencesPerSec}/s at concurrency 1 beats one request per ${DELAY_MS} ms`);
    }
    // four instances: four requests at once (ideally 4x); one instance: requests only queue
    const scale = (rows: Row[]) => rows[1].throughput.inferencesPerSec / rows[0].throughput.inferencesPerSec;
    assert.ok(scale(four) >= 2.5, `4 instances scaled ${scale(four).toFixed(2)}x from concurrency 1 to 4`);
    // one instance serves one request per delay at most, however many clients wait
    assert.ok(one[1].throughput.inferencesPerSec <= (1000 / DELAY_MS) * 1.02, `1 instance served ${one[1].throughput.inferencesPerSec}/s`);
    assert.ok(four[1].throughput.inferencesPerSec <= (4000 / DELAY_MS) * 1.02, `4 instances served ${four[1].throughput.inferencesPerSec}/s`);
    assert.ok(one[1].latencyMs.p50 >= 3 * DELAY_MS, `p50 ${one[1].latencyMs.p50} ms: 4 clients on one instance wait for each other`);
    assert.ok(one[1].server!.queueMs! >= 2 * DELAY_MS, `the server says requests queued ${one[1].server!.queueMs} ms`);
  });

  test('every request the report counts was served, and its server batch is the server counters\' inferences / executions', async () => {
    const names = ['nv_inference_request_success', 'nv_inference_count', 'nv_inference_exec_count'];
    const before = await Promise.all(names.map((n) => counter(server.metricsUrl, n, 'batched')));
    const { rows } = bench(['--model', 'batched', '--concurrency', '1,8', '--duration', '1', '--warmup', '0']);
    const [success, count, execs] = (await Promise.all(names.map((n) => counter(server.metricsUrl, n, 'batched')))).map((v, i) => v - before[i]);
    const sum = (f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);
    // the one request sent alone before any load is the only request outside the rows
    assert.equal(sum((r) => r.requests) + 1, success);
    assert.equal(sum((r) => r.server!.inferences) + 1, count);
    assert.equal(sum((r) => r.server!.executions) + 1, execs);
    for (const r of rows) {
      assert.equal(r.errors, 0);
      assert.equal(r.iterations, r.requests);
      assert.equal(r.server!.requests, r.requests, 'the server answered exactly the requests of the row');
      assert.equal(r.server!.inferences, r.requests * r.batch);
      assert.equal(r.server!.averageBatch, Math.round((r.server!.inferences / r.server!.executions) * 1e6) / 1e6);
    }
    // the statistics extension (perf_analyzer reads it) agrees with the metrics
    const stats = (await (await fetch(`${server.url}/v2/models/batched/stats`)).json()) as { model_stats: { inference_count: number; execution_count: number; batch_stats: { batch_size: number; compute_infer: { count: number } }[] }[] };
    const [s] = stats.model_stats;
    assert.equal(s.inference_count, await counter(server.metricsUrl, 'nv_inference_count', 'batched'));
    assert.equal(s.execution_count, await counter(server.metricsUrl, 'nv_inference_exec_count', 'batched'));
    assert.equal(s.batch_stats.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0), s.inference_count);
    assert.equal(rows[0].server!.averageBatch, 1, 'one client: nothing to batch');
    assert.ok(rows[1].server!.averageBatch! >= 4, `8 clients, max_batch_size 8, 100 ms queue delay: batches of ${rows[1].server!.averageBatch}`);
    assert.ok(rows[1].throughput.inferencesPerSec >= 3 * rows[0].throughput.inferencesPerSec, 'batching multiplies throughput');
  });

  test('open loop: Poisson arrivals at the requested rate', () => {
    const { rows } = bench(['--model', 'four', '--request-rate', '40', '--duration', '2', '--warmup', '0']);
    const [r] = rows;
    assert.equal(r.requestRate, 40);
    assert.equal(r.concurrency, undefined);
    // 80 arrivals expected; a Poisson count has a standard deviation of about 9
    assert.ok(r.requests >= 50 && r.requests <= 110, `${r.requests} requests in 2 s at 40/s`);
    assert.ok(r.throughput.inferencesPerSec >= 25 && r.throughput.inferencesPerSec <= 55, `${r.throughput.inferencesPerSec}/s`);
    assert.equal(r.server!.requests, r.requests);
  });

  test('JSON tensors, BYTES inputs from a text file, one request body per line', () => {
    const json = bench(['--model', 'one', '--concurrency', '2', '--iterations', '6', '--warmup', '0', '--json-tensors']).rows[0];
    assert.equal(json.errors, 0);
    assert.equal(json.server!.requests, json.requests);
    const text = path.join(tempDir(), 'queries.txt');
    fs.writeFileSync(text, 'what is tdeploy\n\nhow fast is it\nwhere does it run\n');
    const { rows, stderr } = bench(['--model', 'echo_text', '--text-file', text, '--iterations', '6', '--warmup', '0']);
    assert.equal(rows[0].errors, 0);
    assert.equal(rows[0].requests, 6);
    assert.match(stderr, /3 text lines from .*queries\.txt in 3 distinct requests/);
  });

  test('--baseline gates each load level separately', () => {
    const dir = tempDir();
    const base = path.join(dir, 'base.json');
    const r1 = runCli(['bench', '--server', server.url, '--no-metrics', '--model', 'four', '--concurrency', '1', '--iterations', '5', '--warmup', '0', '--output', base]);
    assert.equal(r1.code, 0, r1.stderr);
    const saved = JSON.parse(fs.readFileSync(base, 'utf8'));
    assert.equal(saved.results[0].concurrency, 1);
    saved.results[0].latencyMs.p50 = 1;
    fs.writeFileSync(base, JSON.stringify(saved));
    const r2 = runCli(['bench', '--server', server.url, '--no-metrics', '--model', 'four', '--concurrency', '1,2', '--iterations', '5', '--warmup', '0', '--baseline', base, '--format', 'markdown']);
    assert.equal(r2.code, 1, r2.stderr);
    assert.match(r2.stdout, /REGRESSION: 1 of 1 compared result is more than 10% worse p50/);
    assert.match(r2.stderr, /no baseline result for four \(input_ids:1x16 attention_mask:1x16, concurrency 2\); not gated/);
    assert.match(r2.stderr, /1 result\(s\) regressed by more than 10% \(p50\): four \(input_ids:1x16 attention_mask:1x16, concurrency 1\)/);
  });

  test('clear failures: bad URL and unknown model exit 2; unreachable, not ready and server errors exit 3 with the server\'s message', async () => {
    const cli = (args: string[]) => runCli(['bench', ...args, '--iterations', '2', '--warmup', '0']);
    let r = cli(['--server', 'ftp://localhost:8000', '--model', 'one']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tdeploy: error: --server ftp:\/\/localhost:8000: only http:\/\/ and https:\/\/ are supported/);
    r = cli(['--server', 'http://exa mple:80', '--model', 'one']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a URL/);
    r = cli(['--server', server.url]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--server needs --model <name>/);
    r = cli(['--server', server.url, '--model', 'missing']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tdeploy: error: the server at http:\/\/127\.0\.0\.1:\d+ has no model 'missing'\nhint: it has batched, broken, echo_text, four, one/);
    r = cli(['--server', 'http://127.0.0.1:1', '--model', 'one']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /tdeploy: error: cannot reach the server at http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    r = cli(['--server', server.url, '--model', 'broken', '--no-metrics']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /tdeploy: error: model 'broken' refused the first request \(500\): CUDA out of memory \(simulated\)/);
    assert.equal((await fetch(`${server.url}/v2/repository/models/one/unload`, { method: 'POST' })).status, 200);
    try {
      r = cli(['--server', server.url, '--model', 'one']);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /tdeploy: error: model 'one' is not ready on the server/);
    } finally {
      assert.equal((await fetch(`${server.url}/v2/repository/models/one/load`, { method: 'POST' })).status, 200);
    }
    r = cli(['--server', server.url, '--model', 'one', '--metrics-url', 'http://127.0.0.1:1/metrics']);
    assert.equal(r.code, 3, 'a metrics endpoint asked for must answer');
    assert.match(r.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:1/);
  });
});
