import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readConfig } from '../../src/triton/text.js';
import { candidates, choose } from '../../src/serve/tune.js';
import { runCli } from '../helpers.js';
import { type SpawnedServer, encoderConfig, encoderRepository, spawnServer } from './helpers.js';

/**
 * The simulated server makes the best config predictable. Every execution takes 200 ms + 50 ms per
 * inference (long beside the scheduling delays of a loaded machine), and 8 clients keep 8 requests
 * in flight; batches fill to max_batch_size (the queue delay, 400 ms, is longer than a round):
 * - one instance: batch 1 serves 1 per 250 ms (4/s, p95 ~2 s: past the budget), 2: 2 per 300 ms,
 *   4: 4 per 400 ms (10/s), 8: 8 per 600 ms (13/s);
 * - two instances run two batches at once: 1: 8/s, 2: 13/s, 4: 8 per 400 ms (20/s, p95 ~400 ms),
 *   8: 13/s (one batch holds every request, the second instance idles).
 * So with p95 <= 1500 ms the best is two instances of max_batch_size 4, 1.5x the next.
 */
const P95 = 1500;
const GRID = ['--instances', '1,2', '--max-batch-size', '1,2,4,8', '--max-queue-delay-us', '400000'];
let server: SpawnedServer;
let repo: string;

before(async () => {
  repo = encoderRepository({ encoder: encoderConfig({ maxBatchSize: 8, instances: 1, batching: '' }) });
  server = await spawnServer(repo, ['--delay-ms', '200', '--delay-per-item-ms', '50', '--model-control', 'explicit']);
});
after(() => server.stop());

const tuneArgs = (extra: string[]) => ['tune', '--server', server.url, '--model', 'encoder', '--repository', repo, '--metrics-url', server.metricsUrl, '--concurrency', '8', '--warmup', '8', '--iterations', '16', ...extra];

describe('tune against the test server', () => {
  test('picks the config the simulated server makes best among 8 candidates, writes it with the table, and the server serves it', async () => {
    const r = runCli([...tuneArgs([...GRID, '--p95', String(P95)]), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.tried.length, 8);
    const byConfig = (i: number, m: number) => report.tried.find((t: { candidate: { instances: number; maxBatchSize: number } }) => t.candidate.instances === i && t.candidate.maxBatchSize === m);
    const chosen = report.tried[report.chosen];
    const measured = JSON.stringify(report.tried.map((t: { candidate: { instances: number; maxBatchSize: number }; bestInferencesPerSec: number }) => [t.candidate.instances, t.candidate.maxBatchSize, t.bestInferencesPerSec]));
    assert.deepEqual(chosen.candidate, { instances: 2, maxBatchSize: 4, maxQueueDelayUs: 400000, preferredBatchSize: [] }, measured);
    // what made it best, in the measurements
    assert.equal(byConfig(1, 1).bestInferencesPerSec, null, `one instance without batching queues past the budget: ${measured}`);
    const runnerUp = Math.max(...report.tried.filter((t: object) => t !== chosen).map((t: { bestInferencesPerSec: number | null }) => t.bestInferencesPerSec ?? 0));
    assert.ok(chosen.bestInferencesPerSec >= 1.15 * runnerUp, `${chosen.bestInferencesPerSec}/s against ${runnerUp}/s`);
    assert.ok(chosen.levels[0].server.averageBatch >= 3.5, `batches of ${chosen.levels[0].server.averageBatch}`);
    assert.ok(chosen.levels[0].latencyMs.p95 <= P95);

    const file = path.join(repo, 'encoder', 'config.pbtxt');
    assert.equal(report.written, file);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^# tdeploy tune: the highest throughput with p95 <= 1500 ms \(\*\), of 8 candidates:\n/);
    assert.equal(text.split('\n').filter((l) => /^# [* ] instances \d/.test(l)).length, 8);
    assert.match(text, /^# \* instances 2, max_batch_size 4, max_queue_delay 400000 µs: [\d.]+ inferences\/s at concurrency 8$/m);
    const written = await readConfig(file);
    assert.equal(written.maxBatchSize, 4);
    assert.equal(written.instanceGroup[0].count, 2);
    assert.equal(written.schedulingChoice.case === 'dynamicBatching' && written.schedulingChoice.value.maxQueueDelayMicroseconds, 400000n);
    assert.equal(written.input.length, 2, 'the rest of the config is kept');
    const live = await (await fetch(`${server.url}/v2/models/encoder/config`)).json() as Record<string, unknown>;
    assert.equal(live.max_batch_size, 4, 'the server was left serving the written config');
  });

  test('no candidate within the budget: exit 1 after the report, the config left as it was', () => {
    const file = path.join(repo, 'encoder', 'config.pbtxt');
    const before = fs.readFileSync(file, 'utf8');
    const r = runCli([...tuneArgs(['--instances', '1', '--max-batch-size', '4', '--max-queue-delay-us', '0', '--p95', '1']), '--warmup', '0', '--iterations', '4']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /no candidate met p95 <= 1 ms; nothing was written/);
    assert.match(r.stderr, /tdeploy: error: no candidate met p95 <= 1 ms at any level; the repository's config was left as it was\nhint: raise --p95/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });

  test('a server without explicit model control: exit 3 with the server\'s message', async () => {
    const fixed = await spawnServer(repo, ['--delay-ms', '1']);
    try {
      const r = runCli(['tune', '--server', fixed.url, '--model', 'encoder', '--repository', repo, '--p95', '100', '--instances', '1', '--max-batch-size', '4', '--max-queue-delay-us', '0']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /tdeploy: error: the server loaded none of the 1 candidates: the server answered 503 to POST \/v2\/repository\/models\/encoder\/load: explicit model load \/ unload is not allowed if polling is enabled\nhint: tune needs Triton in explicit model control mode/);
    } finally {
      await fixed.stop();
    }
  });
});

test('the grid: every combination, preferred sizes above max_batch_size skipped, at most 64', () => {
  const { list, skipped } = candidates({ instances: [1, 2], maxBatchSize: [4, 8], maxQueueDelayUs: [0], preferredBatchSize: [[], [8]] });
  assert.equal(list.length, 6);
  assert.deepEqual(skipped, ['instances 1, max_batch_size 4, max_queue_delay 0 µs, preferred 8', 'instances 2, max_batch_size 4, max_queue_delay 0 µs, preferred 8']);
  assert.throws(() => candidates({ instances: [1, 2, 3, 4], maxBatchSize: [1, 2, 4, 8], maxQueueDelayUs: [0, 1, 2, 3, 4], preferredBatchSize: [[]] }), /the grid has 80 candidates; tune measures at most 64/);
});

test('choose: the highest throughput within the budget; near-ties go to the cheaper config', () => {
  const t = (instances: number, maxBatchSize: number, best: number | null) => ({ candidate: { instances, maxBatchSize, maxQueueDelayUs: 0, preferredBatchSize: [] }, levels: [], bestInferencesPerSec: best, bestConcurrency: best === null ? null : 8 });
  assert.equal(choose([t(1, 4, 100), t(2, 4, 150), t(1, 8, null)]), 1);
  assert.equal(choose([t(2, 8, 200), t(1, 8, 196), t(1, 4, 150)]), 1, 'within 3%: one instance');
  assert.equal(choose([t(2, 8, 200), t(1, 8, 190)]), 0, '5% apart: the faster');
  assert.equal(choose([t(1, 4, null)]), null);
});
