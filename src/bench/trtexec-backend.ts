/**
 * TensorRT engines through `trtexec --loadEngine`: each window is one trtexec run at the case's
 * shapes on the case's tensors (`--loadInputs`), and its samples are trtexec's own per-inference
 * host latencies (H2D + compute + D2H, from `--exportTimes`); the window lasts trtexec's timed
 * walltime. trtexec warms up inside every run, so a `warmup` of 0 runs turns that off and any
 * other count keeps trtexec's own warm-up (200 ms).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { runEngineBenchmark } from '../trt/benchmark.js';
import { requireFile } from '../io/read.js';
import { findTrtexec } from '../trt/locate.js';
import { type TrtVersion, atLeast, detectTrtVersion } from '../trt/version.js';
import type { Dtype } from '../tensor/dtype.js';
import { type Tensor, toBytes } from '../tensor/tensor.js';
import type { BenchBackend } from './backend-types.js';
import { opt } from '../option-ref.js';

/** Input dtypes an engine binds differently from its ONNX model, by TensorRT release. */
const BOUND_AS: { before: string; from: Dtype; convert: (t: Tensor) => Tensor }[] = [
  // TensorRT before 10 has no int64 tensors: the ONNX parser binds int64 inputs as int32.
  { before: '10.0', from: 'int64', convert: (t) => ({ dtype: 'int32', shape: t.shape, data: Int32Array.from(t.data as BigInt64Array, Number) }) },
];

export const trtexecBackend: BenchBackend = {
  name: 'trtexec',
  async inputs(model, options) {
    requireFile(model, 'engine');
    await detectTrtVersion(findTrtexec({ trtexec: options.trtexec }).path);
    return null;
  },
  async open(model, options, progress) {
    const trtexec = findTrtexec({ trtexec: options.trtexec }).path;
    const version = await detectTrtVersion(trtexec);
    // Input files are temporaries like any output: removed at close, or on Ctrl-C.
    const scratch = new OutputSet();
    let loaded = 0;
    const notes: string[] = [];
    return {
      provider: 'tensorrt',
      notes,
      async load(feeds) {
        loaded++;
        const files: string[] = [];
        for (const [i, [name, tensor]] of [...feeds].entries()) {
          const file = await scratch.temp(path.join(os.tmpdir(), `tdeploy-bench-case${loaded}-input${i}.bin`));
          await fs.promises.writeFile(file, toBytes(bound(tensor, version)));
          files.push(`${name}:${file}`);
        }
        const shapes = Object.fromEntries([...feeds].map(([name, t]) => [name, t.shape]));
        let warmupMs: number | undefined;
        return {
          async warmUp(iterations) {
            warmupMs = iterations === 0 ? 0 : undefined;
          },
          async window(plan) {
            const run = await runEngineBenchmark(model, {
              trtexec, shapes, iterations: plan.iterations, durationS: plan.durationMs / 1000, warmupMs,
              extra: files.length ? [`--loadInputs=${files.join(',')}`] : [],
            }, progress);
            notes.push(...run.notes.filter((n) => !notes.includes(n)));
            if (!run.samples?.length) {
              throw new ToolError(`trtexec timed ${model} but wrote no per-inference times`, { kind: 'trtexec-times', hint: `run with ${opt('verbose')} to see its log` });
            }
            const samplesMs = run.samples.map((s) => s.latencyMs);
            const seconds = run.report.summary?.totalHostWalltimeS ?? samplesMs.reduce((a, b) => a + b, 0) / 1000;
            return { samplesMs, seconds };
          },
        };
      },
      close: () => scratch.abort(),
    };
  },
};

function bound(tensor: Tensor, version: TrtVersion): Tensor {
  const rule = BOUND_AS.find((r) => r.from === tensor.dtype && !atLeast(version, r.before));
  return rule ? rule.convert(tensor) : tensor;
}
