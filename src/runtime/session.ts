import ort from 'onnxruntime-node';
import { InputError } from '../errors.js';
import { dtypeFromOrt, dtypeInfo } from '../tensor/dtype.js';
import { firstLine, ortError } from './ort-errors.js';
import type { Tensor, TensorMap } from '../tensor/tensor.js';

/**
 * onnxruntime-node sessions. The one runner every command uses to execute an ONNX model, so
 * provider choice, CPU fallback and tensor conversion behave the same everywhere.
 */
export const PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type Provider = (typeof PROVIDERS)[number];
export const GRAPH_OPTIMIZATIONS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimization = (typeof GRAPH_OPTIMIZATIONS)[number];

export interface SessionOptions {
  provider?: Provider;
  threads?: number;
  graphOptimization?: GraphOptimization;
}

export interface Session {
  /** the provider that actually runs the model (cpu after a fallback) */
  provider: Provider;
  /** set when the requested provider was unavailable and CPU was used instead */
  fallback?: string;
  run(feeds: TensorMap, outputNames?: string[]): Promise<TensorMap>;
  release(): Promise<void>;
  /** the underlying session, for callers that time session.run itself (bench) */
  ort: ort.InferenceSession;
}

// onnxruntime's default logger prints errors it also throws (a provider library that fails to
// load, a model it rejects) to stderr in colour; tdeploy reports them itself, once, classified.
ort.env.logLevel = 'fatal';

export async function openSession(modelPath: string, options: SessionOptions = {}): Promise<Session> {
  const requested = options.provider ?? 'cpu';
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    logSeverityLevel: 4,
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  let fallback: string | undefined;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: [requested] });
  } catch (error) {
    if (requested === 'cpu') throw ortError('load', modelPath, error);
    fallback = `the ${requested} execution provider is not available (${firstLine(error)}); running on CPU`;
    try {
      session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
    } catch (cpuError) {
      throw ortError('load', modelPath, cpuError);
    }
  }
  return {
    provider: fallback ? 'cpu' : requested,
    fallback,
    ort: session,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of feeds) ortFeeds[name] = toOrt(tensor, name);
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = outputNames ? await session.run(ortFeeds, outputNames) : await session.run(ortFeeds);
      } catch (error) {
        throw ortError('run', modelPath, error, feeds);
      }
      const out: TensorMap = new Map();
      for (const name of outputNames ?? session.outputNames) out.set(name, fromOrt(results[name] as ort.Tensor, name));
      return out;
    },
    release: () => session.release(),
  };
}

export function toOrt(tensor: Tensor, name: string): ort.Tensor {
  const type = dtypeInfo(tensor.dtype).ort;
  if (!type) throw new InputError(`input '${name}' is ${tensor.dtype}, which onnxruntime-node cannot pass from JavaScript`);
  return new ort.Tensor(type, tensor.data as ort.Tensor.DataType, tensor.shape);
}

export function fromOrt(value: ort.Tensor, name: string): Tensor {
  const dtype = dtypeFromOrt(value?.type);
  if (!dtype) throw new InputError(`output '${name}' has a type onnxruntime-node cannot return to JavaScript (${value?.type ?? 'not a tensor'})`);
  return { dtype, shape: [...value.dims], data: value.data as Tensor['data'] };
}
