/**
 * perf_analyzer (tritonclient 2.51.0's binary, bench/anchors/requirements-perf.txt) and `tdeploy bench --server`
 * against one test server: both see the server's capacity and queueing the same way. The 5 % comparison is the
 * benchmark's (bench/anchors/perf-analyzer.ts); this test bounds what must hold on any machine.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/helpers.js';
import { spawnServer } from '../../../test/serve/helpers.js';
import { type Side, perfAnalyzer, perfAnalyzerSide, prepare, tdeploySide } from '../perf-analyzer.js';

const DELAY_MS = 40;

test('perf_analyzer and bench --server agree on a server of 2 instances held to 40 ms per execution', async () => {
  const pa = perfAnalyzer();
  assert.equal(pa.version, '2.51.0');
  const work = tempDir();
  const { repo, zeros } = await prepare(work);
  const server = await spawnServer(repo, ['--delay-ms', String(DELAY_MS)]);
  const windows = { windowMs: 1000, stability: 10 };
  try {
    for (const level of [2, 4]) {
      const sides: Record<string, Side> = {
        perf_analyzer: perfAnalyzerSide(pa, new URL(server.url).host, level, path.join(work, `pa-${level}.csv`), windows),
        tdeploy: tdeploySide(server.url, server.metricsUrl, level, zeros, windows),
      };
      for (const [who, side] of Object.entries(sides)) {
        // 2 instances × 1 request per 40 ms at most; with 4 clients a request waits about one execution in the
        // queue (Little: 4 in flight at ≤ 50/s is ≥ 80 ms on average)
        const floorMs = 0.9 * DELAY_MS * (level / 2);
        assert.ok(side.throughput <= 2 * (1000 / DELAY_MS) * 1.01, `${who} at ${level}: ${side.throughput}/s`);
        assert.ok(side.p50Ms >= floorMs, `${who} at ${level}: p50 ${side.p50Ms} ms`);
        assert.ok(side.serverMs! >= floorMs, `${who} at ${level}: server queue + compute ${side.serverMs} ms`);
      }
      const ratio = sides.tdeploy.throughput / sides.perf_analyzer.throughput;
      assert.ok(Math.abs(ratio - 1) < 0.1, `at ${level}: tdeploy ${sides.tdeploy.throughput}/s, perf_analyzer ${sides.perf_analyzer.throughput}/s`);
    }
  } finally {
    await server.stop();
  }
});
