/**
 * Benchmark: perf_analyzer as the anchor of `tdeploy bench --server`. Both measure the same test server at the
 * same concurrency levels; throughput and p50 should agree within 5 %.
 *
 *   npm run build && node dist/bench/anchors/perf-analyzer.js [--concurrency 1,2,4,8] [--delay-ms 20]
 *     [--window-ms 2000] [--stability 10] [--rounds 1] [--readme]
 *
 * - perf_analyzer: tritonclient 2.51.0's bin/perf_analyzer, from the venv of bench/anchors/requirements-perf.txt
 *   (bench/anchors/venv.sh; needs `apt-get install libb64-0d`). The PyPI `perf-analyzer` package is an empty
 *   placeholder up to 0.1.0 and its newer wheels need glibc 2.38.
 * - Server: test/serve/server.ts (npm run build) on the repository `tdeploy package fixtures/encoder.onnx
 *   --instances 2 --kind cpu` writes, each execution held to at least --delay-ms.
 * - Both clients send the same request: batch 1, input_ids and attention_mask [1, 16] of zeros (perf_analyzer
 *   `--input-data zero`, tdeploy `--inputs` of a zeros .npz), over HTTP with binary tensors, in a closed loop of
 *   C clients; both repeat windows of --window-ms until 3 in a row agree within --stability % and report those
 *   3 windows together (perf_analyzer's -p/-s, tdeploy's --duration/--stability).
 * - Per level and round the two run one after the other, the first of them alternating by round; the figures are
 *   medians over rounds.
 * Writes bench/out/anchors/perf-analyzer.json and .md (TDEPLOY_ANCHORS_DIR moves them); --readme puts the
 * Markdown between the README's perf-analyzer markers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../../src/bench/stats.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { fixture, repoRoot } from '../../test/helpers.js';
import { spawnServer } from '../../test/serve/helpers.js';
import { writeReadmeSection } from '../readme-section.js';

const SEQ = 16;
const TOLERANCE = 0.05;
/** windows each side may try for stability: perf_analyzer fails (exit 2) when none settles, tdeploy reports it unstable */
const MAX_WINDOWS = 20;
const here = path.join(repoRoot, 'bench', 'anchors');
const outDir = process.env.TDEPLOY_ANCHORS_DIR ?? path.join(repoRoot, 'bench', 'out', 'anchors');

function run(command: string, argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, argv, { cwd: repoRoot, encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`${path.basename(command)} ${argv.slice(0, 4).join(' ')} … exited ${result.status}:\n${(result.stderr || result.stdout).slice(-3000)}`);
  return result.stdout;
}

export interface PerfAnalyzer { binary: string; env: NodeJS.ProcessEnv; version: string }

/** perf_analyzer from its venv, with libcudart.so.12 (which it links even for HTTP) on the library path. */
export function perfAnalyzer(): PerfAnalyzer {
  const python = run('bash', [path.join(here, 'venv.sh'), path.join(here, 'requirements-perf.txt')]).trim();
  const cudart = run(python, ['-c', 'import nvidia.cuda_runtime as m, os; print(os.path.join(list(m.__path__)[0], "lib"))']).trim();
  const env = { ...process.env, LD_LIBRARY_PATH: [cudart, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const binary = path.join(path.dirname(python), 'perf_analyzer');
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', env });
  if (probe.status !== 0) throw new Error(`${binary} --version failed (libb64.so.0d comes from apt-get install libb64-0d):\n${probe.stderr}`);
  return { binary, env, version: /Version (\S+)/.exec(probe.stdout + probe.stderr)?.[1] ?? 'unknown' };
}

/** How long each side measures: windows of `windowMs` until 3 in a row agree within `stability` %. */
export interface Windows { windowMs: number; stability: number }

export interface Side {
  throughput: number;
  p50Ms: number;
  /** the server's own queue and compute time per request, as the client read it (perf_analyzer: /stats; tdeploy: metrics) */
  serverMs?: number;
}

/** perf_analyzer's CSV: one row per level, latencies in µs. */
export function perfAnalyzerSide(pa: PerfAnalyzer, host: string, level: number, csv: string, w: Windows): Side {
  run(pa.binary, ['-m', 'encoder', '-u', host, '-i', 'http', '--concurrency-range', `${level}:${level}`,
    '--shape', `input_ids:${SEQ}`, '--shape', `attention_mask:${SEQ}`, '--input-data', 'zero',
    '-p', String(w.windowMs), '-s', String(w.stability), '-r', String(MAX_WINDOWS), '-f', csv], pa.env);
  const [header, row] = fs.readFileSync(csv, 'utf8').trim().split('\n').map((l) => l.split(','));
  const col = (name: string) => Number(row[header.indexOf(name)]);
  const server = ['Server Queue', 'Server Compute Input', 'Server Compute Infer', 'Server Compute Output'].reduce((sum, c) => sum + col(c), 0);
  return { throughput: col('Inferences/Second'), p50Ms: col('p50 latency') / 1000, serverMs: server / 1000 };
}

interface BenchJson {
  results: { latencyMs: { p50: number }; throughput: { inferencesPerSec: number }; server?: { queueMs: number | null; computeMs: number | null } | null }[];
}

export function tdeploySide(url: string, metricsUrl: string, level: number, zeros: string, w: Windows): Side {
  const report = JSON.parse(run(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), 'bench', '--server', url, '--model', 'encoder',
    '--concurrency', String(level), '--inputs', zeros, '--duration', String(w.windowMs / 1000), '--stability', `${w.stability}%`,
    '--max-windows', String(MAX_WINDOWS), '--metrics-url', metricsUrl, '--json', '--no-progress'])) as BenchJson;
  const [result] = report.results;
  return {
    throughput: result.throughput.inferencesPerSec,
    p50Ms: result.latencyMs.p50,
    serverMs: result.server?.queueMs != null && result.server.computeMs != null ? result.server.queueMs + result.server.computeMs : undefined,
  };
}

const medianSide = (sides: Side[]): Side => ({
  throughput: median(sides.map((s) => s.throughput)),
  p50Ms: median(sides.map((s) => s.p50Ms)),
  serverMs: sides.every((s) => s.serverMs !== undefined) ? median(sides.map((s) => s.serverMs!)) : undefined,
});

interface Level {
  concurrency: number;
  perfAnalyzer: Side;
  tdeploy: Side;
  throughputRatio: number;
  p50Ratio: number;
  within: boolean;
  /** each round's figures, of which the sides above are the medians */
  rounds: { perfAnalyzer: Side[]; tdeploy: Side[] };
}

function markdown(doc: { environment: Record<string, unknown>; levels: Level[] }): string {
  const e = doc.environment as { date: string; cpu: string; cores: number; loadAverage: number[]; perfAnalyzer: string; delayMs: number; windowMs: number; stability: number; rounds: number };
  const ms = (v?: number) => (v === undefined ? '-' : v.toFixed(2));
  const rows = doc.levels.map((l) => `| ${l.concurrency} | ${l.perfAnalyzer.throughput.toFixed(1)} | ${l.tdeploy.throughput.toFixed(1)} | ${l.throughputRatio.toFixed(3)} | ` +
    `${ms(l.perfAnalyzer.p50Ms)} | ${ms(l.tdeploy.p50Ms)} | ${l.p50Ratio.toFixed(3)} | ${ms(l.perfAnalyzer.serverMs)} / ${ms(l.tdeploy.serverMs)} | ${l.within ? 'within 5 %' : '**differs**'} |`);
  return [
    `Measured ${e.date} by \`node dist/bench/anchors/perf-analyzer.js\` on ${e.cpu} (${e.cores} cores, load average ${e.loadAverage.map((v) => v.toFixed(1)).join(' → ')}): ` +
      `perf_analyzer ${e.perfAnalyzer} and \`tdeploy bench --server\` against the test server (encoder fixture, 2 CPU instances, no dynamic batching, ` +
      `each execution ≥ ${e.delayMs} ms), batch 1, seq ${SEQ}, zeros; windows of ${e.windowMs} ms until 3 agree within ${e.stability} %; medians of ${e.rounds} round(s).`,
    '',
    '| concurrency | perf_analyzer inf/s | tdeploy inf/s | tdeploy / pa | perf_analyzer p50 ms | tdeploy p50 ms | tdeploy / pa | server queue+compute ms (pa / tdeploy) | verdict |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

const START = '<!-- perf-analyzer:start (node dist/bench/anchors/perf-analyzer.js --readme) -->';
const END = '<!-- perf-analyzer:end -->';

/** In `work`: the repository both clients measure (the encoder, 2 CPU instances) and the zeros tdeploy sends. */
export async function prepare(work: string): Promise<{ repo: string; zeros: string }> {
  const repo = path.join(work, 'models');
  run(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), 'package', fixture('encoder.onnx'), '-o', repo, '--name', 'encoder', '--instances', '2', '--kind', 'cpu', '--no-progress']);
  const zeros = path.join(work, 'zeros.npz');
  await writeNpz(zeros, new Map(['input_ids', 'attention_mask'].map((name) => [name, { dtype: 'int64' as const, shape: [1, SEQ], data: new BigInt64Array(SEQ) }])));
  return { repo, zeros };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      concurrency: { type: 'string', default: '1,2,4,8' },
      'delay-ms': { type: 'string', default: '20' },
      'window-ms': { type: 'string', default: '2000' },
      stability: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '1' },
      readme: { type: 'boolean', default: false },
    },
  });
  const windows: Windows = { windowMs: Number(args['window-ms']), stability: Number(args.stability) };
  const pa = perfAnalyzer();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-perf-analyzer-'));
  const { repo, zeros } = await prepare(work);
  const started = os.loadavg()[0];
  const server = await spawnServer(repo, ['--delay-ms', args['delay-ms']!]);
  const levels: Level[] = [];
  try {
    const host = new URL(server.url).host;
    for (const level of args.concurrency!.split(',').map(Number)) {
      const sides: { perfAnalyzer: Side[]; tdeploy: Side[] } = { perfAnalyzer: [], tdeploy: [] };
      for (let round = 0; round < Number(args.rounds); round++) {
        process.stderr.write(`perf-analyzer: concurrency ${level}, round ${round + 1} (load average ${os.loadavg()[0].toFixed(1)})\n`);
        const measure = [
          () => sides.perfAnalyzer.push(perfAnalyzerSide(pa, host, level, path.join(work, `pa-${level}-${round}.csv`), windows)),
          () => sides.tdeploy.push(tdeploySide(server.url, server.metricsUrl, level, zeros, windows)),
        ];
        for (const m of round % 2 ? measure.reverse() : measure) m();
      }
      const [p, t] = [medianSide(sides.perfAnalyzer), medianSide(sides.tdeploy)];
      const throughputRatio = t.throughput / p.throughput;
      const p50Ratio = t.p50Ms / p.p50Ms;
      levels.push({
        concurrency: level, perfAnalyzer: p, tdeploy: t, throughputRatio, p50Ratio,
        within: Math.abs(throughputRatio - 1) <= TOLERANCE && Math.abs(p50Ratio - 1) <= TOLERANCE, rounds: sides,
      });
    }
  } finally {
    await server.stop();
  }
  const environment = {
    date: new Date().toISOString().slice(0, 10), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, loadAverage: [started, os.loadavg()[0]],
    perfAnalyzer: pa.version, delayMs: Number(args['delay-ms']), ...windows, rounds: Number(args.rounds),
  };
  const document = { environment, levels };
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'perf-analyzer.json'), `${JSON.stringify(document, null, 2)}\n`);
  const text = markdown(document);
  fs.writeFileSync(path.join(outDir, 'perf-analyzer.md'), text);
  process.stdout.write(text);
  if (args.readme) writeReadmeSection(START, END, text);
  fs.rmSync(work, { recursive: true, force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
