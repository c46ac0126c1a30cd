/**
 * Benchmark: `tdeploy engine --from-log` on a very large verbose trtexec log, wall time and
 * peak RSS, to show the log is streamed rather than held whole.
 *
 *   npm run build && node dist/bench/trtexec-log.js [MiB]
 *
 * Builds the log from the real 8.0.3 verbose log (../shared/trtexec-logs/01): its header, its
 * [V] builder lines repeated up to the size asked for (default 1024 MiB), then its summary and
 * PASSED line; runs `/usr/bin/time -v node bin/tdeploy.js engine --from-log --json` three times
 * and checks the summary survived. Then a live build: buildEngine with fixtures/fake-trtexec
 * replaying a quarter of that log (the fake holds its log in memory, so it gets less), measuring
 * this process's peak RSS. Target: RSS independent of the log's size (under 200 MB).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEngine } from '../src/trt/engine.js';
import { fixture, repoRoot, shared } from '../test/helpers.js';

const mib = Number(process.argv[2] ?? 1024);
const source = fs.readFileSync(shared('trtexec-logs', '01-trt8.0.3-fp16-dynamic-shapes-verbose-pass.log'), 'utf8').split('\n').slice(1);
const verbose = source.filter((l) => l.includes('] [V] '));
const firstVerbose = source.findIndex((l) => l.includes('] [V] '));
const head = source.slice(0, firstVerbose);
const tail = source.slice(source.findIndex((l) => l.includes('Starting inference')));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-log-'));
const block = `${verbose.join('\n')}\n`;

function writeLog(file: string, sizeMiB: number): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `${head.join('\n')}\n`);
  const repeats = Math.ceil((sizeMiB * 2 ** 20) / Buffer.byteLength(block));
  for (let i = 0; i < repeats; i++) fs.writeSync(fd, block);
  fs.writeSync(fd, `${tail.join('\n')}\n`);
  fs.closeSync(fd);
  console.log(`log: ${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB, ${(repeats * verbose.length).toLocaleString('en-US')} verbose lines`);
}

const file = path.join(dir, 'huge.log');
writeLog(file, mib);

for (let run = 1; run <= 3; run++) {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(repoRoot, 'bin', 'tdeploy.js'), 'engine', '--from-log', file, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)/.exec(r.stderr)?.[1];
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]) / 1024;
  const report = JSON.parse(r.stdout);
  console.log(`run ${run}: exit ${r.status}, wall ${wall}, peak RSS ${rss.toFixed(0)} MiB, outcome ${report.outcome}, throughput ${report.summary?.throughputQps} qps`);
}

const live = path.join(dir, 'live.log');
writeLog(live, mib / 4);
const wrapper = path.join(dir, 'trtexec');
fs.writeFileSync(wrapper, `#!/bin/sh\nexport FAKE_TRTEXEC_LOG='${live}'\nexec '${fixture('fake-trtexec')}' "$@"\n`, { mode: 0o755 });
const before = process.resourceUsage().maxRSS / 1024;
const started = performance.now();
const report = await buildEngine(fixture('convnet.onnx'), { output: path.join(dir, 'c.plan'), trtexec: wrapper, shapes: { shapes: {}, dims: { batch: [1, 4, 8] } } });
const seconds = (performance.now() - started) / 1000;
console.log(`live build: ${seconds.toFixed(1)} s, outcome ${report.outcome}, log kept ${(fs.statSync(report.log).size / 2 ** 20).toFixed(0)} MiB, ` +
  `peak RSS of this process ${before.toFixed(0)} MiB before, ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB after`);
fs.rmSync(dir, { recursive: true, force: true });
