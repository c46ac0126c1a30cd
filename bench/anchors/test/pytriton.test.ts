/**
 * A real Triton: the tritonserver binary of PyTriton's wheel (Python backend only) serving a repository that
 * `tdeploy package --tokenizer` wrote. What loads: the tokenizer step (tdeploy's model.py and config.pbtxt as
 * written), the ensemble (tdeploy's config.pbtxt as written), and the ONNX model through a Python-backend
 * model running onnxruntime (bench/anchors/triton/ort_model.py; tdeploy's config.pbtxt with
 * `platform: "onnxruntime_onnx"` swapped for `backend: "python"`). What cannot: the ONNX model under its own
 * config, since the wheel has no onnxruntime backend; the test asserts the server's refusal.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openSession } from '../../../src/runtime/session.js';
import type { TensorMap } from '../../../src/tensor/tensor.js';
import { configText, readConfig } from '../../../src/triton/text.js';
import { fixture, runCli, tempDir } from '../../../test/helpers.js';
import { anchorsDir } from './venv.js';

const python = process.env.TDEPLOY_PYTRITON_PYTHON;
if (!python) throw new Error('TDEPLOY_PYTRITON_PYTHON is not set: run npm run test:anchors (bench/anchors/test.sh)');

const dir = tempDir();
const repo = path.join(dir, 'models');
let server: ChildProcess;
let log = '';
let base = '';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    }).on('error', reject);
  });
}

async function call(method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

const TEXTS = ['hello world', 'a somewhat longer sentence for the tokenizer'];
const textInput = { name: 'TEXT', shape: [TEXTS.length, 1], datatype: 'BYTES', data: TEXTS };

before(async () => {
  const packaged = runCli(['package', fixture('encoder.onnx'), '-o', repo, '--tokenizer', fixture('tokenizer'), '--max-batch-size', '4', '--dynamic-batching']);
  assert.equal(packaged.code, 0, packaged.stderr);
  // The model as tdeploy wrote it, under another name, to show the server refusing it.
  fs.cpSync(path.join(repo, 'encoder'), path.join(repo, 'encoder_onnx'), { recursive: true });
  const original = await readConfig(path.join(repo, 'encoder_onnx', 'config.pbtxt'));
  fs.writeFileSync(path.join(repo, 'encoder_onnx', 'config.pbtxt'), configText({ ...original, name: 'encoder_onnx' }));
  // The ensemble's "encoder": the same config served by the Python backend running onnxruntime.
  const config = await readConfig(path.join(repo, 'encoder', 'config.pbtxt'));
  assert.equal(config.platform, 'onnxruntime_onnx');
  fs.writeFileSync(path.join(repo, 'encoder', 'config.pbtxt'), configText({ ...config, platform: '', backend: 'python' }));
  fs.copyFileSync(path.join(anchorsDir, 'triton', 'ort_model.py'), path.join(repo, 'encoder', '1', 'model.py'));

  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  base = `http://127.0.0.1:${http}`;
  server = spawn(python, [path.join(anchorsDir, 'triton', 'serve.py'), path.join(dir, 'workspace'), `--model-repository=${repo}`,
    '--model-control-mode=explicit', '--http-address=127.0.0.1', `--http-port=${http}`, '--grpc-address=127.0.0.1', `--grpc-port=${grpc}`,
    `--metrics-port=${metrics}`, '--allow-metrics=false'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (chunk) => (log += chunk));
  server.stderr!.on('data', (chunk) => (log += chunk));
  const deadline = Date.now() + 120_000;
  for (;;) {
    assert.equal(server.exitCode, null, `tritonserver exited:\n${log.slice(-3000)}`);
    const ready = await fetch(`${base}/v2/health/live`).then((r) => r.ok, () => false);
    if (ready) break;
    assert.ok(Date.now() < deadline, `tritonserver not live after 120 s:\n${log.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
});

after(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  if (server.exitCode === null) server.kill('SIGKILL');
});

test('tritonserver 2.51 (PyTriton 0.7.0) has no onnxruntime backend: tdeploy\'s ONNX config is refused', async () => {
  const load = await call('POST', '/v2/repository/models/encoder_onnx/load');
  assert.equal(load.status, 400);
  assert.match(load.json.error, /unable to find backend library for backend 'onnxruntime'/);
  const version = await call('GET', '/v2');
  assert.equal(version.json.version, '2.51.0');
});

test("tdeploy's tokenizer step loads and tokenizes as the tokenizers library does", async () => {
  assert.equal((await call('POST', '/v2/repository/models/encoder_tokenize/load')).status, 200, log.slice(-3000));
  const result = await call('POST', '/v2/models/encoder_tokenize/infer', { inputs: [textInput] });
  assert.equal(result.status, 200, JSON.stringify(result.json));
  const ids = result.json.outputs.find((o: { name: string }) => o.name === 'input_ids');
  const mask = result.json.outputs.find((o: { name: string }) => o.name === 'attention_mask');
  // The same tokenizer.json through the tokenizers package directly, padded to the longest row.
  const expected = JSON.parse(runPython(`
import json, sys
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1])
t.enable_padding(pad_id=0)
e = t.encode_batch(json.loads(sys.argv[2]))
print(json.dumps({"ids": [x.ids for x in e], "mask": [x.attention_mask for x in e]}))`, [path.join(repo, 'encoder_tokenize', '1', 'tokenizer.json'), JSON.stringify(TEXTS)]));
  assert.deepEqual(ids.shape, [TEXTS.length, expected.ids[0].length]);
  assert.deepEqual(ids.data, expected.ids.flat());
  assert.deepEqual(mask.data, expected.mask.flat());
});

test('the ensemble text -> tokenizer -> model, as tdeploy wrote it, answers what onnxruntime computes on the same tokens', async () => {
  for (const name of ['encoder', 'encoder_pipeline']) {
    assert.equal((await call('POST', `/v2/repository/models/${name}/load`)).status, 200, `${name}: ${log.slice(-3000)}`);
  }
  const tokens = (await call('POST', '/v2/models/encoder_tokenize/infer', { inputs: [textInput] })).json.outputs;
  const result = await call('POST', '/v2/models/encoder_pipeline/infer', { inputs: [textInput] });
  assert.equal(result.status, 200, JSON.stringify(result.json));
  const session = await openSession(fixture('encoder.onnx'));
  const feeds: TensorMap = new Map(tokens.map((t: { name: string; shape: number[]; data: number[] }) =>
    [t.name, { dtype: 'int64', shape: t.shape, data: BigInt64Array.from(t.data, BigInt) }]));
  const expected = await session.run(feeds);
  for (const output of result.json.outputs as { name: string; shape: number[]; data: number[] }[]) {
    const want = expected.get(output.name)!;
    assert.deepEqual(output.shape, want.shape);
    const diff = Math.max(...output.data.map((v, i) => Math.abs(v - (want.data as Float32Array)[i])));
    assert.ok(diff < 1e-4, `${output.name}: max abs difference ${diff}`);
  }
  const index = await call('POST', '/v2/repository/index', {});
  const states = Object.fromEntries(index.json.map((m: { name: string; state?: string }) => [m.name, m.state ?? 'UNLOADED']));
  assert.deepEqual(states, { encoder: 'READY', encoder_onnx: 'UNAVAILABLE', encoder_pipeline: 'READY', encoder_tokenize: 'READY' });
});

test('tritonclient (the pip package) gets the same answer from the ensemble', async () => {
  const port = new URL(base).port;
  const logits = JSON.parse(runPython(`
import json, sys, numpy as np
import tritonclient.http as http
client = http.InferenceServerClient(f"127.0.0.1:{sys.argv[1]}")
text = http.InferInput("TEXT", [2, 1], "BYTES")
text.set_data_from_numpy(np.array(json.loads(sys.argv[2]), dtype=object).reshape(2, 1))
print(json.dumps(client.infer("encoder_pipeline", [text]).as_numpy("logits").tolist()))`, [port, JSON.stringify(TEXTS)]));
  const direct = (await call('POST', '/v2/models/encoder_pipeline/infer', { inputs: [textInput] })).json.outputs.find((o: { name: string }) => o.name === 'logits');
  assert.equal(logits.flat().length, direct.data.length);
  assert.ok(logits.flat().every((v: number, i: number) => Math.abs(v - direct.data[i]) < 1e-6));
});

function runPython(code: string, args: string[]): string {
  return execFileSync(python!, ['-c', code, ...args], { encoding: 'utf8' });
}
