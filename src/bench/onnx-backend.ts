import type ort from 'onnxruntime-node';
import { loadModel } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { ortError } from '../runtime/ort-errors.js';
import { openSession, toOrt } from '../runtime/session.js';
import type { BenchBackend } from './backend-types.js';
import { timeWindow, warmUp } from './harness.js';

/** ONNX models through onnxruntime-node: each sample times exactly one raw `InferenceSession.run`. */
export const onnxBackend: BenchBackend = {
  name: 'onnxruntime',
  async inputs(model) {
    return signature((await loadModel(model)).proto).inputs;
  },
  async open(model, options) {
    const session = await openSession(model, options.session);
    return {
      provider: session.provider,
      notes: session.fallback ? [session.fallback] : [],
      async load(feeds) {
        const ortFeeds: Record<string, ort.Tensor> = {};
        for (const [name, tensor] of feeds) ortFeeds[name] = toOrt(tensor, name);
        // Not async: the harness awaits ort's own promise, with no wrapper adding a microtask.
        const call = () => session.ort.run(ortFeeds);
        // A run that fails (inputs the graph cannot take) is the model's input error, as in check.
        const named = (error: unknown) => Promise.reject(ortError('run', model, error));
        return {
          warmUp: (iterations) => warmUp(call, iterations).catch(named),
          window: (plan, tick) => timeWindow(call, plan, tick).catch(named),
        };
      },
      close: () => session.release(),
    };
  },
};
