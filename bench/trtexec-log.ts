/**
 * Benchmark: very large verbose trtexec logs, wall time and peak RSS, to show they are streamed
 * rather than held whole.
 *
 *   npm run build && node dist/bench/trtexec-log.js [MiB]
 *
 * Each log is a real one with the [V] builder lines of the 8.0.3 verbose log
 * (../shared/trtexec-logs/01, less those naming its tensors) repeated before its inference up to the size asked for (default
 * 1024 MiB). Runs under `/usr/bin/time -v`, three times each:
 * - `tdeploy engine --from-log --json` on log 01 grown so, checking the summary survived;
 * - `tdeploy package <engine> --io-from <log>` on log 07 (10.16, whose bindings carry dtypes) grown
 *   so: the config's tensors come from the log's last lines.
 * Then a live build: buildEngine with fixtures/fake-trtexec replaying a quarter of log 01 (the
 * fake holds its log in memory, so it gets less), measuring this process's peak RSS. Target: RSS
 * independent of the log's size (under 200 MB).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEngine } from '../src/trt/engine.js';
import { fixture, shared } from '../test/helpers.js';
import { timed } from './timed.js';

const mib = Number(process.argv[2] ?? 1024);
const lines = (name: string) => fs.readFileSync(shared('trtexec-logs', name), 'utf8').split('\n').slice(1);
const isVerbose = (line: string) => line.includes('] [V] ');
const buildLog = lines('01-trt8.0.3-fp16-dynamic-shapes-verbose-pass.log');
// without the lines that name the network's tensors, which would become another log's bindings
const block = `${buildLog.filter((l) => isVerbose(l) && !/Adding network input|Marking .* as output/.test(l)).join('\n')}\n`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-log-'));

/** `source` with its own [V] lines replaced by `block`, repeated up to `sizeMiB`, before its inference. */
function writeLog(file: string, sizeMiB: number, source: string[]): void {
  const inference = source.findIndex((l) => l.includes('Starting inference'));
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `${source.slice(0, inference).filter((l) => !isVerbose(l)).join('\n')}\n`);
  const repeats = Math.ceil((sizeMiB * 2 ** 20) / Buffer.byteLength(block));
  for (let i = 0; i < repeats; i++) fs.writeSync(fd, block);
  fs.writeSync(fd, `${source.slice(inference).join('\n')}\n`);
  fs.closeSync(fd);
  console.log(`${path.basename(file)}: ${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB, ${(repeats * block.split('\n').length).toLocaleString('en-US')} verbose lines`);
}

const summary = (r: ReturnType<typeof timed>) => `exit ${r.status}, wall ${r.seconds.toFixed(1)} s, peak RSS ${r.rssMiB.toFixed(0)} MiB`;

const huge = path.join(dir, 'huge.log');
writeLog(huge, mib, buildLog);
for (let run = 1; run <= 3; run++) {
  const r = timed(['engine', '--from-log', huge, '--json']);
  const report = JSON.parse(r.stdout);
  console.log(`engine --from-log run ${run}: ${summary(r)}, outcome ${report.outcome}, throughput ${report.summary?.throughputQps} qps`);
}

const engine = path.join(dir, 'model.plan');
fs.writeFileSync(engine, 'engine bytes');
writeLog(`${engine}.log`, mib, lines('07-trt10.16.1-load-engine-cudagraph-nodatatransfers-verbose-pass.log'));
for (let run = 1; run <= 3; run++) {
  const repo = path.join(dir, `models-${run}`);
  const r = timed(['package', engine, '-o', repo, '--json']);
  const tensors = r.status === 0 ? JSON.parse(r.stdout).models[0].outputs.map((t: { name: string; dataType: string }) => `${t.name} ${t.dataType}`).join(', ') : r.stderr.split('\n')[0];
  console.log(`package --io-from <log> run ${run}: ${summary(r)}, outputs ${tensors}`);
  fs.rmSync(repo, { recursive: true, force: true });
}

const live = path.join(dir, 'live.log');
writeLog(live, mib / 4, buildLog);
const wrapper = path.join(dir, 'trtexec');
fs.writeFileSync(wrapper, `#!/bin/sh\nexport FAKE_TRTEXEC_LOG='${live}'\nexec '${fixture('fake-trtexec')}' "$@"\n`, { mode: 0o755 });
const before = process.resourceUsage().maxRSS / 1024;
const started = performance.now();
const report = await buildEngine(fixture('convnet.onnx'), { output: path.join(dir, 'c.plan'), trtexec: wrapper, shapes: { shapes: {}, dims: { batch: [1, 4, 8] } } });
const seconds = (performance.now() - started) / 1000;
console.log(`live build: ${seconds.toFixed(1)} s, outcome ${report.outcome}, log kept ${(fs.statSync(report.log).size / 2 ** 20).toFixed(0)} MiB, ` +
  `peak RSS of this process ${before.toFixed(0)} MiB before, ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB after`);
fs.rmSync(dir, { recursive: true, force: true });
