import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closedLoop, openLoop } from '../../src/serve/load.js';
import { addFigures, figures, modelCounters, parseMetrics } from '../../src/serve/metrics.js';
import { HEADER_LENGTH, decodeTensor, encodeRequest, encodeStrings, splitBody } from '../../src/serve/protocol.js';
import type { TensorMap } from '../../src/tensor/tensor.js';

const inputs: TensorMap = new Map([
  ['ids', { dtype: 'int64', shape: [1, 3], data: BigInt64Array.from([1n, 2n, 300n]) }],
  ['half', { dtype: 'float16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) }],
  ['text', { dtype: 'string', shape: [2, 1], data: ['héllo', ''] }],
]);

test('binary tensor extension: the JSON header, then each tensor\'s raw bytes in header order', () => {
  const { body, headers } = encodeRequest(inputs, ['out'], true);
  const jsonLength = Number(headers[HEADER_LENGTH]);
  const header = JSON.parse(body.toString('utf8', 0, jsonLength));
  assert.deepEqual(header.inputs.map((i: { name: string; datatype: string; shape: number[]; parameters: object }) => [i.name, i.datatype, i.shape, i.parameters]), [
    ['ids', 'INT64', [1, 3], { binary_data_size: 24 }],
    ['half', 'FP16', [2], { binary_data_size: 4 }],
    ['text', 'BYTES', [2, 1], { binary_data_size: 14 }],
  ]);
  assert.deepEqual(header.outputs, [{ name: 'out', parameters: { binary_data: true } }]);
  const tail = body.subarray(jsonLength);
  assert.deepEqual([...tail.subarray(0, 24)], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 44, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...tail.subarray(24, 28)], [0x00, 0x3c, 0x00, 0xc0]);
  // BYTES: uint32 little-endian length, then the UTF-8 bytes ('é' is two bytes)
  assert.deepEqual([...tail.subarray(28)], [6, 0, 0, 0, 0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0, 0, 0, 0]);
  const { header: parsed, binary } = splitBody<{ inputs: Parameters<typeof decodeTensor>[0][] }>(body, headers[HEADER_LENGTH], 'inputs');
  const back = new Map(parsed.inputs.map((t) => [t.name, decodeTensor(t, binary.get(t.name))]));
  assert.deepEqual(back, inputs);
});

test('JSON tensors: flat data, int64 as numbers, BYTES as strings; fp16 needs binary', () => {
  const json = new Map([...inputs].filter(([n]) => n !== 'half'));
  const { body, headers } = encodeRequest(json, [], false);
  assert.equal(headers[HEADER_LENGTH], undefined);
  const header = JSON.parse(body.toString());
  assert.deepEqual(header.inputs.map((i: { data: unknown[] }) => i.data), [[1, 2, 300], ['héllo', '']]);
  assert.deepEqual(new Map(header.inputs.map((t: Parameters<typeof decodeTensor>[0]) => [t.name, decodeTensor(t, undefined)])), json);
  assert.throws(() => encodeRequest(inputs, [], false), /input 'half' is float16, which KServe v2 carries only as binary data/);
});

test('a body whose sizes do not add up is refused with what is wrong', () => {
  const { body, headers } = encodeRequest(new Map([['ids', inputs.get('ids')!]]), [], true);
  assert.throws(() => splitBody(body.subarray(0, body.length - 1), headers[HEADER_LENGTH], 'inputs'), /'ids' has binary_data_size 24 but 23 bytes are left/);
  assert.throws(() => splitBody(Buffer.concat([body, Buffer.from([0])]), headers[HEADER_LENGTH], 'inputs'), /1 bytes follow the last binary tensor/);
  assert.throws(() => decodeTensor({ name: 's', datatype: 'BYTES', shape: [2] }, encodeStrings(['a'])), /BYTES tensor ends after 1 of 2 elements/);
});

const METRICS = `# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="enc",version="1"} 100
nv_inference_request_success{model="enc",version="2"} 20
nv_inference_request_success{model="other",version="1"} 7
nv_inference_request_failure{model="enc",version="1",reason="REJECTED"} 2
nv_inference_request_failure{model="enc",version="1",reason="BACKEND"} 1
nv_inference_count{model="enc",version="1"} 480
nv_inference_exec_count{model="enc",version="1"} 60
nv_inference_queue_duration_us{model="enc",version="1"} 240000
nv_inference_compute_infer_duration_us{model="enc",version="1"} 1200000
nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5
`;

test('metrics: a model\'s counters summed over versions and reasons; figures from two scrapes', () => {
  const samples = parseMetrics(`${METRICS}weird{label="a \\"quoted\\" \\\\ value"} 1 1700000000000\n`);
  assert.deepEqual(samples.at(-1), { name: 'weird', labels: { label: 'a "quoted" \\ value' }, value: 1 });
  const before = modelCounters(samples, 'enc')!;
  assert.deepEqual(before, { success: 120, failure: 3, inferences: 480, executions: 60, requestUs: 0, queueUs: 240000, computeInputUs: 0, computeInferUs: 1200000, computeOutputUs: 0 });
  assert.equal(modelCounters(samples, 'absent'), undefined);
  const after = { ...before, success: 220, inferences: 880, executions: 110, queueUs: 440000, computeInferUs: 2200000 };
  const f = figures(before, after);
  assert.deepEqual(f, { requests: 100, failures: 0, inferences: 400, executions: 50, averageBatch: 8, requestMs: 0, queueMs: 2, computeMs: 10 });
  const g = figures(after, { ...after, success: 300, inferences: 1000, executions: 170, queueUs: 480000, computeInferUs: 2600000 });
  assert.deepEqual(addFigures([f, g]), { requests: 180, failures: 0, inferences: 520, executions: 110, averageBatch: 4.727273, requestMs: 0, queueMs: 1.333333, computeMs: 7.777778 });
});

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('closed loop: `concurrency` requests in flight, every one sent counted once it is answered', async () => {
  let inFlight = 0;
  let most = 0;
  const sent: number[] = [];
  const w = await closedLoop(async (k) => {
    sent.push(k);
    most = Math.max(most, ++inFlight);
    await wait(5);
    inFlight--;
    if (k % 10 === 9) throw new Error(`request ${k} failed`);
  }, 4, { iterations: 40, durationMs: 0 });
  assert.equal(most, 4);
  assert.equal(sent.length, 40);
  assert.equal(w.samplesMs.length + w.errors, 40);
  assert.equal(w.errors, 4);
  assert.equal(w.firstError, 'request 9 failed');
  // libuv's timers run on a clock read once per loop turn: a 5 ms wait may end up to 1 ms early
  assert.ok(w.samplesMs.every((ms) => ms >= 4), `${Math.min(...w.samplesMs)} ms`);
});

test('open loop: arrivals do not wait for answers; the count follows the rate', async () => {
  let most = 0;
  let inFlight = 0;
  const w = await openLoop(async () => {
    most = Math.max(most, ++inFlight);
    await wait(100);
    inFlight--;
  }, 200, { iterations: 1, durationMs: 500 }, 7);
  // 100 arrivals expected in 0.5 s (Poisson: sd 10); each stays 100 ms, so about 20 overlap
  assert.ok(w.samplesMs.length >= 60 && w.samplesMs.length <= 140, `${w.samplesMs.length} requests`);
  assert.ok(most >= 8, `at most ${most} in flight`);
  assert.ok(w.seconds >= 0.5);
});
