/**
 * Fault benchmark: runs killed at random points, and package runs racing into one repository.
 *
 *   npm run build && nice -n 10 node dist/bench/faults.js [kills=50] [races=50] [pauseMs=100]
 *
 * Kills: `package --force` of another model over an existing one, or `quantize` of an
 * external-data model over an existing model + data pair, SIGKILLed after a random delay between
 * 0 and the time an uninterrupted run takes. Every commit step is held `pauseMs`
 * (TDEPLOY_TEST_COMMIT_PAUSE_MS) so that random kills also land between two renames. After each
 * kill it counts a *torn* destination (a config beside another model, a model beside another
 * model's data), then makes the next run into the same folder and counts *lost* outputs (neither
 * the old nor the new one in place), destinations still torn and *leftovers* (temporaries, locks).
 *
 * Races: two package runs at once into one repository, in turn: different names into a new
 * repository (both must be there), one name without --force (exactly one may succeed), one name
 * with --force and different models (config and model must come from one run). Target: 0 in
 * every count.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin', 'tdeploy.js');
const fixture = (...parts: string[]) => path.join(root, 'fixtures', ...parts);
const [killCount, raceCount, pauseMs] = [Number(process.argv[2] ?? 50), Number(process.argv[3] ?? 50), process.argv[4] ?? '100'];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-faults-'));

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: 'ignore' });
}

async function run(args: string[], env: Record<string, string> = {}): Promise<number> {
  const [code] = await once(start(args, env), 'exit');
  return code as number;
}

async function timed(args: string[], env: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  await run(args, env);
  return performance.now() - started;
}

const TEMPORARY = /\.(tmp|old|commit)$|\.tdeploy-lock$/;
function leftovers(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => TEMPORARY.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

// Two models with the same tensors and different bytes, so that each file's origin shows.
const encoder = fixture('encoder.onnx');
const variant = path.join(work, 'variant.onnx');
fs.writeFileSync(variant, Buffer.concat([fs.readFileSync(encoder), Buffer.from([0xc0, 0x3e, 0x01])]));
const sizeByBatch = new Map([[4, fs.statSync(encoder).size], [8, fs.statSync(variant).size]]);
const external = fixture('encoder_external', 'encoder.onnx');
const oldPair = [fs.readFileSync(external), fs.readFileSync(`${external}.data`)];

/** A model folder whose config.pbtxt describes another write's model; undefined when the folder is absent. */
function modelTorn(modelDir: string): boolean | undefined {
  const config = path.join(modelDir, 'config.pbtxt');
  const model = path.join(modelDir, '1', 'model.onnx');
  if (!fs.existsSync(modelDir)) return undefined;
  if (!fs.existsSync(config) || !fs.existsSync(model)) return true;
  const batch = Number(/max_batch_size: (\d+)/.exec(fs.readFileSync(config, 'utf8'))?.[1]);
  return fs.statSync(model).size !== sizeByBatch.get(batch);
}

/** A model beside data that is not its own; undefined when the model is absent. */
function pairTorn(model: string): boolean | undefined {
  if (!fs.existsSync(model)) return undefined;
  if (!fs.existsSync(`${model}.data`)) return true;
  return fs.readFileSync(model).equals(oldPair[0]) !== fs.readFileSync(`${model}.data`).equals(oldPair[1]);
}

interface Scenario {
  name: string;
  /** sets up the destination, returns the folder to look in */
  prepare(dir: string): Promise<string>;
  interrupted(dir: string): string[];
  torn(dir: string): boolean | undefined;
  /** the next run into the same place */
  next(dir: string): string[];
}

const KILLED: Scenario[] = [
  {
    name: 'package --force',
    async prepare(dir) {
      await run(['package', encoder, '-o', path.join(dir, 'models'), '--name', 'enc']);
      return dir;
    },
    interrupted: (dir) => ['package', variant, '-o', path.join(dir, 'models'), '--name', 'enc', '--force', '--max-batch-size', '8'],
    torn: (dir) => modelTorn(path.join(dir, 'models', 'enc')),
    next: (dir) => ['package', fixture('convnet.onnx'), '-o', path.join(dir, 'models')],
  },
  {
    name: 'quantize over model + data',
    async prepare(dir) {
      fs.writeFileSync(path.join(dir, 'encoder.onnx'), oldPair[0]);
      fs.writeFileSync(path.join(dir, 'encoder.onnx.data'), oldPair[1]);
      return dir;
    },
    interrupted: (dir) => ['quantize', external, '-o', path.join(dir, 'encoder.onnx'), '--to', 'fp16'],
    torn: (dir) => pairTorn(path.join(dir, 'encoder.onnx')),
    next: (dir) => ['quantize', encoder, '-o', path.join(dir, 'other.onnx'), '--to', 'fp16'],
  },
];

async function killRuns(): Promise<void> {
  const pause = { TDEPLOY_TEST_COMMIT_PAUSE_MS: pauseMs };
  const durations = new Map<string, number>();
  for (const s of KILLED) {
    const dir = fs.mkdtempSync(path.join(work, 'measure-'));
    await s.prepare(dir);
    durations.set(s.name, await timed(s.interrupted(dir), pause));
  }
  const counts = new Map(KILLED.map((s) => [s.name, { runs: 0, inCommit: 0, tornAtKill: 0, missingAtKill: 0, lost: 0, tornAfter: 0, leftovers: 0, finishedBeforeKill: 0 }]));
  for (let i = 0; i < killCount; i++) {
    const s = KILLED[i % KILLED.length];
    const c = counts.get(s.name)!;
    const dir = fs.mkdtempSync(path.join(work, 'kill-'));
    await s.prepare(dir);
    const child = start(s.interrupted(dir), pause);
    const exited = once(child, 'exit');
    await new Promise((resolve) => setTimeout(resolve, Math.random() * durations.get(s.name)!));
    if (child.exitCode !== null) c.finishedBeforeKill += 1;
    child.kill('SIGKILL');
    await exited;
    c.runs += 1;
    if (leftovers(dir).some((f) => f.endsWith('.commit'))) c.inCommit += 1;
    const atKill = s.torn(dir);
    if (atKill === true) c.tornAtKill += 1;
    if (atKill === undefined) c.missingAtKill += 1;
    const code = await run(s.next(dir));
    const after = s.torn(dir);
    if (code !== 0 || after === undefined) c.lost += 1;
    if (after === true) c.tornAfter += 1;
    c.leftovers += leftovers(dir).length;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`kills (SIGKILL at a random point of a run; commit steps held ${pauseMs} ms):`);
  for (const [name, c] of counts) {
    console.log(`  ${name}: ${c.runs} runs (${c.finishedBeforeKill} had finished, ${c.inCommit} killed inside a commit); `
      + `at the kill: torn ${c.tornAtKill}, destination missing ${c.missingAtKill}; after the next run: lost ${c.lost}, torn ${c.tornAfter}, leftovers ${c.leftovers}`);
  }
}

interface Race {
  name: string;
  runs: (repo: string) => string[][];
  /** what went wrong, if anything, given both exit codes */
  judge: (repo: string, codes: number[]) => string | undefined;
}

const RACES: Race[] = [
  {
    name: 'new repository, different names',
    runs: (repo) => ['a', 'b'].map((name) => ['package', encoder, '-o', repo, '--name', name]),
    judge: (repo, codes) => (codes.some((c) => c !== 0) ? 'a run failed' : ['a', 'b'].some((n) => modelTorn(path.join(repo, n)) !== false) ? 'lost' : undefined),
  },
  {
    name: 'one name, no --force',
    runs: (repo) => [1, 2].map(() => ['package', encoder, '-o', repo, '--name', 'enc']),
    judge: (repo, codes) => (codes.filter((c) => c === 0).length !== 1 ? 'silently replaced' : modelTorn(path.join(repo, 'enc')) !== false ? 'torn' : undefined),
  },
  {
    name: 'one name, both --force, different models',
    runs: (repo) => [[encoder, '4'], [variant, '8']].map(([model, batch]) => ['package', model, '-o', repo, '--name', 'enc', '--force', '--max-batch-size', batch]),
    judge: (repo, codes) => (codes.some((c) => c !== 0) ? 'a run failed' : modelTorn(path.join(repo, 'enc')) !== false ? 'torn' : undefined),
  },
];

async function raceRuns(): Promise<void> {
  const counts = new Map(RACES.map((r) => [r.name, { trials: 0, failures: new Map<string, number>(), leftovers: 0 }]));
  for (let i = 0; i < raceCount; i++) {
    const race = RACES[i % RACES.length];
    const c = counts.get(race.name)!;
    const dir = fs.mkdtempSync(path.join(work, 'race-'));
    const repo = path.join(dir, 'models');
    if (race.name.includes('--force')) await run(['package', encoder, '-o', repo, '--name', 'enc', '--max-batch-size', '4']);
    const codes = await Promise.all(race.runs(repo).map((args) => run(args)));
    c.trials += 1;
    const failure = race.judge(repo, codes);
    if (failure) c.failures.set(failure, (c.failures.get(failure) ?? 0) + 1);
    c.leftovers += leftovers(dir).length;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('races (two package runs at once into one repository):');
  for (const [name, c] of counts) {
    const failures = [...c.failures].map(([what, n]) => `${what} ${n}`).join(', ') || 'none';
    console.log(`  ${name}: ${c.trials} trials, failures: ${failures}, leftovers ${c.leftovers}`);
  }
}

const started = performance.now();
await killRuns();
await raceRuns();
console.log(`${((performance.now() - started) / 1000).toFixed(0)} s in all (${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)})`);
fs.rmSync(work, { recursive: true, force: true });
