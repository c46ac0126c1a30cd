/**
 * The test server's models: a config.pbtxt (or a config given on load) over an ONNX model run by
 * onnxruntime-node, with Triton's scheduling simulated: `instance_group` count instances execute
 * concurrently, and with `dynamic_batching` requests wait in one queue until a batch of the
 * largest preferred size (else max_batch_size) has formed or the oldest request has waited
 * max_queue_delay_microseconds; then the largest preferred size that fits (else all of it) runs as
 * one execution. Each execution takes at least `delayMs + perItemMs × inferences`, the simulated
 * device time, so what a config changes is predictable. Counters follow Triton's metrics.
 */
import path from 'node:path';
import type { ModelConfig } from '../../src/triton/gen/model_config_pb.js';
import { DataType } from '../../src/triton/gen/model_config_pb.js';
import { type Session, openSession } from '../../src/runtime/session.js';
import type { Dtype } from '../../src/tensor/dtype.js';
import { dtypeFromTriton } from '../../src/tensor/dtype.js';
import { type Tensor, type TensorMap, elementCount, zeros } from '../../src/tensor/tensor.js';
import { versionsIn } from '../../src/triton/repository.js';

export interface Timing {
  delayMs: number;
  perItemMs: number;
}

export interface TensorSpec {
  name: string;
  dtype: Dtype;
  datatype: string;
  dims: number[];
}

/** Cumulative counters, by Triton's metric names without the `nv_inference_` prefix. */
export interface ModelCounters {
  request_success: number;
  request_failure: Record<'REJECTED' | 'BACKEND' | 'OTHER', number>;
  count: number;
  exec_count: number;
  request_duration_us: number;
  queue_duration_us: number;
  compute_input_duration_us: number;
  compute_infer_duration_us: number;
  compute_output_duration_us: number;
  /** executions by batch size, for the statistics extension's batch_stats */
  batches: Map<number, { count: number; inputUs: number; inferUs: number; outputUs: number }>;
  last_inference_ms: number;
}

export const newCounters = (): ModelCounters => ({
  request_success: 0, request_failure: { REJECTED: 0, BACKEND: 0, OTHER: 0 }, count: 0, exec_count: 0,
  request_duration_us: 0, queue_duration_us: 0, compute_input_duration_us: 0, compute_infer_duration_us: 0, compute_output_duration_us: 0,
  batches: new Map(), last_inference_ms: 0,
});

/** An error with the HTTP status Triton would answer it with. */
export class ServeError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface Pending {
  inputs: TensorMap;
  batch: number;
  shapeKey: string;
  arrived: bigint;
  resolve: (outputs: TensorMap) => void;
  reject: (error: Error) => void;
}

const nowNs = () => process.hrtime.bigint();
const us = (ns: bigint) => Number(ns / 1000n);

/** Waits until the clock passes `deadline`: libuv's timers may fire up to a millisecond early. */
async function sleepUntil(deadline: bigint): Promise<void> {
  for (let left = deadline - nowNs(); left > 0n; left = deadline - nowNs()) {
    await new Promise((r) => setTimeout(r, Math.ceil(Number(left) / 1e6)));
  }
}

function spec(t: { name: string; dataType: DataType; dims: bigint[] }): TensorSpec {
  const typeName = DataType[t.dataType];
  const dtype = dtypeFromTriton(typeName);
  if (!dtype) throw new ServeError(400, `unsupported datatype ${typeName} for '${t.name}'`);
  return { name: t.name, dtype, datatype: typeName === 'TYPE_STRING' ? 'BYTES' : typeName.slice(5), dims: t.dims.map(Number) };
}

export class LoadedModel {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly maxBatchSize: number;
  private readonly instances: number;
  private free: number;
  private readonly queue: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private readonly batching?: { preferred: number[]; delayNs: bigint };
  /** a message every infer fails with (the config's `test_fail` parameter), to test error paths */
  private readonly failWith?: string;

  private constructor(readonly name: string, readonly version: string, readonly config: ModelConfig, private readonly session: Session, private readonly timing: Timing, readonly counters: ModelCounters) {
    this.inputs = config.input.map(spec);
    this.outputs = config.output.map(spec);
    this.maxBatchSize = config.maxBatchSize;
    this.instances = config.instanceGroup.reduce((n, g) => n + (g.count || 1), 0) || 1;
    this.free = this.instances;
    const db = config.schedulingChoice.case === 'dynamicBatching' ? config.schedulingChoice.value : undefined;
    if (db && this.maxBatchSize > 0) this.batching = { preferred: [...db.preferredBatchSize].sort((a, b) => a - b), delayNs: db.maxQueueDelayMicroseconds * 1000n };
    this.failWith = config.parameters.test_fail?.stringValue || undefined;
    const delay = Number(config.parameters.test_delay_ms?.stringValue);
    if (delay >= 0 && config.parameters.test_delay_ms) this.timing = { ...timing, delayMs: delay };
  }

  static async load(dir: string, config: ModelConfig, timing: Timing, counters: ModelCounters): Promise<LoadedModel> {
    const versions = versionsIn(dir);
    if (!versions.length) throw new ServeError(400, `failed to load '${path.basename(dir)}': no version directory`);
    const version = String(Math.max(...versions));
    const file = path.join(dir, version, config.defaultModelFilename || 'model.onnx');
    let session: Session;
    try {
      session = await openSession(file, { threads: 1 });
    } catch (error) {
      throw new ServeError(400, `failed to load '${path.basename(dir)}' version ${version}: ${(error as Error).message}`);
    }
    return new LoadedModel(path.basename(dir), version, config, session, timing, counters);
  }

  /** Triton's metadata shapes: -1 for the batch axis when the model batches. */
  shapeOf(t: TensorSpec): number[] {
    return this.maxBatchSize > 0 ? [-1, ...t.dims] : t.dims;
  }

  /** Checks one request's inputs against the config and queues it; resolves with its outputs. */
  infer(inputs: TensorMap): Promise<TensorMap> {
    const arrived = nowNs();
    let batch = 1;
    try {
      batch = this.check(inputs);
    } catch (error) {
      this.counters.request_failure.REJECTED++;
      return Promise.reject(error);
    }
    const shapeKey = this.inputs.map((i) => inputs.get(i.name)!.shape.slice(this.maxBatchSize > 0 ? 1 : 0).join('x')).join('|');
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, batch, shapeKey, arrived, resolve, reject });
      this.schedule();
    });
  }

  private check(inputs: TensorMap): number {
    for (const name of inputs.keys()) {
      if (!this.inputs.some((i) => i.name === name)) throw new ServeError(400, `unexpected inference input '${name}' for model '${this.name}'`);
    }
    let batch = 1;
    for (const [k, i] of this.inputs.entries()) {
      const t = inputs.get(i.name);
      if (!t) throw new ServeError(400, `expected ${this.inputs.length} inputs but got ${inputs.size} inputs for model '${this.name}'`);
      if (t.dtype !== i.dtype) throw new ServeError(400, `inference input '${i.name}' data-type is '${t.dtype}', but model '${this.name}' expects '${i.dtype}'`);
      const dims = this.maxBatchSize > 0 ? t.shape.slice(1) : t.shape;
      if (this.maxBatchSize > 0) {
        if (t.shape[0] < 1 || t.shape[0] > this.maxBatchSize) throw new ServeError(400, `inference request batch-size must be <= ${this.maxBatchSize} for '${this.name}'`);
        if (k > 0 && t.shape[0] !== batch) throw new ServeError(400, `inputs of model '${this.name}' have different batch sizes`);
        batch = t.shape[0];
      }
      if (dims.length !== i.dims.length || dims.some((d, a) => i.dims[a] !== -1 && i.dims[a] !== d)) {
        throw new ServeError(400, `unexpected shape for input '${i.name}' for model '${this.name}'. Expected [${this.shapeOf(i).join(',')}], got [${t.shape.join(',')}]`);
      }
    }
    return batch;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.free > 0 && this.queue.length) {
      const take = this.nextBatch();
      if (take === 0) return;
      const requests = this.queue.splice(0, take);
      this.free--;
      void this.execute(requests).finally(() => {
        this.free++;
        this.schedule();
      });
    }
  }

  /** How many queued requests to run now; 0: wait (a timer is set for the oldest's deadline). */
  private nextBatch(): number {
    if (!this.batching) return 1;
    const head = this.queue[0];
    const sizes: number[] = [];
    let total = 0;
    for (const p of this.queue) {
      if (p.shapeKey !== head.shapeKey || total + p.batch > this.maxBatchSize) break;
      total += p.batch;
      sizes.push(total);
    }
    const { preferred, delayNs } = this.batching;
    const target = preferred.length ? preferred[preferred.length - 1] : this.maxBatchSize;
    const full = total >= target || sizes.length < this.queue.length;
    const waited = nowNs() - head.arrived;
    if (!full && waited < delayNs) {
      this.timer = setTimeout(() => this.schedule(), Math.max(0, Number(delayNs - waited) / 1e6));
      return 0;
    }
    const fit = [...preferred].reverse().find((p) => sizes.includes(p));
    return fit === undefined ? sizes.length : sizes.indexOf(fit) + 1;
  }

  private async execute(requests: Pending[]): Promise<void> {
    const start = nowNs();
    const inferences = requests.reduce((n, r) => n + r.batch, 0);
    try {
      if (this.failWith) throw new ServeError(500, this.failWith);
      const feeds = this.maxBatchSize > 0 ? concat(this.inputs, requests.map((r) => r.inputs)) : requests[0].inputs;
      const inputDone = nowNs();
      const deviceNs = BigInt(Math.round((this.timing.delayMs + this.timing.perItemMs * inferences) * 1e6));
      const outputs = await this.session.run(feeds);
      await sleepUntil(inputDone + deviceNs);
      const inferDone = nowNs();
      const parts = this.maxBatchSize > 0 ? split(outputs, requests.map((r) => r.batch)) : [outputs];
      const end = nowNs();
      this.counters.exec_count++;
      this.counters.count += inferences;
      this.counters.last_inference_ms = Date.now();
      const b = this.counters.batches.get(inferences) ?? { count: 0, inputUs: 0, inferUs: 0, outputUs: 0 };
      this.counters.batches.set(inferences, { count: b.count + 1, inputUs: b.inputUs + us(inputDone - start), inferUs: b.inferUs + us(inferDone - inputDone), outputUs: b.outputUs + us(end - inferDone) });
      for (const [k, r] of requests.entries()) {
        this.counters.request_success++;
        this.counters.request_duration_us += us(end - r.arrived);
        this.counters.queue_duration_us += us(start - r.arrived);
        this.counters.compute_input_duration_us += us(inputDone - start);
        this.counters.compute_infer_duration_us += us(inferDone - inputDone);
        this.counters.compute_output_duration_us += us(end - inferDone);
        r.resolve(parts[k]);
      }
    } catch (error) {
      for (const r of requests) {
        this.counters.request_failure.BACKEND++;
        r.reject(error instanceof ServeError ? error : new ServeError(500, (error as Error).message));
      }
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.session.release();
  }
}

/** Requests' inputs joined along the batch axis. */
function concat(specs: TensorSpec[], parts: TensorMap[]): TensorMap {
  const out: TensorMap = new Map();
  for (const s of specs) {
    const tensors = parts.map((p) => p.get(s.name)!);
    const shape = [tensors.reduce((n, t) => n + t.shape[0], 0), ...tensors[0].shape.slice(1)];
    if (tensors.length === 1) {
      out.set(s.name, tensors[0]);
      continue;
    }
    const joined = zeros(s.dtype, shape);
    let at = 0;
    for (const t of tensors) {
      if (Array.isArray(joined.data)) (joined.data as string[]).splice(at, t.data.length, ...(t.data as string[]));
      else (joined.data as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(t.data as ArrayLike<unknown>, at);
      at += t.data.length;
    }
    out.set(s.name, joined);
  }
  return out;
}

/** A batch's outputs cut back into each request's share. */
function split(outputs: TensorMap, batches: number[]): TensorMap[] {
  const parts: TensorMap[] = batches.map(() => new Map());
  for (const [name, t] of outputs) {
    const row = elementCount(t.shape.slice(1)) * (t.data.length / Math.max(1, elementCount(t.shape)));
    let first = 0;
    for (const [k, b] of batches.entries()) {
      const data = (t.data as unknown as { slice(a: number, b: number): Tensor['data'] }).slice(first * row, (first + b) * row);
      parts[k].set(name, { dtype: t.dtype, shape: [b, ...t.shape.slice(1)], data });
      first += b;
    }
  }
  return parts;
}
