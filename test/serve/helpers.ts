import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { node } from '../accuracy/models.js';
import { fixture, repoRoot, tempDir } from '../helpers.js';
import { value, writeModel } from '../quantize/helpers.js';

/** The encoder fixture's config with the serving settings a test varies. */
export function encoderConfig(s: { maxBatchSize?: number; instances?: number; batching?: string; parameters?: Record<string, string> } = {}): string {
  return [
    `platform: "onnxruntime_onnx"`,
    `max_batch_size: ${s.maxBatchSize ?? 8}`,
    'input { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }',
    'input { name: "attention_mask" data_type: TYPE_INT64 dims: [ -1 ] }',
    'output { name: "logits" data_type: TYPE_FP32 dims: [ 4 ] }',
    'output { name: "hidden_states" data_type: TYPE_FP32 dims: [ -1, 64 ] }',
    `instance_group { count: ${s.instances ?? 1} kind: KIND_CPU }`,
    ...(s.batching === undefined ? [] : [`dynamic_batching { ${s.batching} }`]),
    ...Object.entries(s.parameters ?? {}).map(([k, v]) => `parameters { key: "${k}" value: { string_value: "${v}" } }`),
  ].join('\n');
}

/** A Triton repository of encoder copies, one folder per entry: name → config.pbtxt text. */
export function encoderRepository(configs: Record<string, string>): string {
  const repo = tempDir('tdeploy-serve-');
  for (const [name, config] of Object.entries(configs)) {
    fs.mkdirSync(path.join(repo, name, '1'), { recursive: true });
    fs.copyFileSync(fixture('encoder.onnx'), path.join(repo, name, '1', 'model.onnx'));
    fs.writeFileSync(path.join(repo, name, 'config.pbtxt'), config);
  }
  return repo;
}

/** Adds `echo_text`: a BYTES input TEXT [batch, 1] answered as is (Identity), as a tokenizer's input is. */
export async function addTextModel(repo: string): Promise<void> {
  fs.mkdirSync(path.join(repo, 'echo_text', '1'), { recursive: true });
  await writeModel(path.join(repo, 'echo_text', '1', 'model.onnx'), [node('Identity', ['TEXT'], ['ECHO'])], [value('TEXT', 'string', ['batch', 1])], [value('ECHO', 'string', ['batch', 1])]);
  fs.writeFileSync(path.join(repo, 'echo_text', 'config.pbtxt'), [
    'platform: "onnxruntime_onnx"', 'max_batch_size: 8',
    'input { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }', 'output { name: "ECHO" data_type: TYPE_STRING dims: [ 1 ] }',
  ].join('\n'));
}

export interface SpawnedServer {
  url: string;
  metricsUrl: string;
  stop(): Promise<void>;
}

/** The test server as its own process (as anyone would start it), on free ports. */
export async function spawnServer(repo: string, args: string[] = []): Promise<SpawnedServer> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, 'dist', 'test', 'serve', 'server.js'), '--model-repo', repo, '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`test server exited with ${code}: ${stderr}`)));
  });
  const [, url, metricsUrl] = /^listening (\S+) metrics (\S+)$/.exec(line) ?? [];
  return {
    url, metricsUrl,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** One model's counter from the server's metrics, summed over its series. */
export async function counter(metricsUrl: string, metric: string, model: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return text.split('\n').filter((l) => l.startsWith(`${metric}{`) && l.includes(`model="${model}"`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}
