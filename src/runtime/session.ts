import ort from 'onnxruntime-node';
import { InputError } from '../errors.js';
import { dtypeFromOrt, dtypeInfo } from '../tensor/dtype.js';
import { opt } from '../option-ref.js';
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
  /** a provider, or several tried in order (`['cuda', 'cpu']`): the first that loads runs the model */
  provider?: Provider | readonly Provider[];
  threads?: number;
  graphOptimization?: GraphOptimization;
}

export interface Session {
  /** the provider that actually runs the model (a later one of the list after a fallback) */
  provider: Provider;
  /** set when an earlier provider of the list could not be had, and says which ran instead */
  fallback?: string;
  run(feeds: TensorMap, outputNames?: string[]): Promise<TensorMap>;
  release(): Promise<void>;
  /** the underlying session, for callers that time session.run itself (bench) */
  ort: ort.InferenceSession;
}

// onnxruntime's default logger prints errors it also throws (a provider library that fails to
// load, a model it rejects) to stderr in colour; tdeploy reports them itself, once, classified.
ort.env.logLevel = 'fatal';

/** How onnxruntime-node says that a provider cannot be had here, as opposed to a model it cannot load. */
const UNAVAILABLE = /AppendExecutionProvider|Failed to load (shared )?library|backend not found|cannot open shared object/i;

export function providerList(provider: SessionOptions['provider']): Provider[] {
  return provider === undefined ? ['cpu'] : typeof provider === 'string' ? [provider] : [...provider];
}

/**
 * A session on the first provider of the list that loads. A provider that cannot be had is an
 * error unless the list names another: a CI gate that asked for CUDA must not time the CPU and pass.
 */
export async function openSession(modelPath: string, options: SessionOptions = {}): Promise<Session> {
  const providers = providerList(options.provider);
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    logSeverityLevel: 4,
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  const missing: { provider: Provider; reason: string }[] = [];
  for (const provider of providers) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: [provider] });
    } catch (error) {
      if (provider === 'cpu' || !UNAVAILABLE.test(firstLine(error))) throw ortError('load', modelPath, error);
      missing.push({ provider, reason: firstLine(error) });
      continue;
    }
    return wrap(modelPath, session, provider, missing.length ? `${unavailable(missing)}; running on ${provider}` : undefined);
  }
  throw new InputError(unavailable(missing), {
    kind: 'provider',
    hint: `list a fallback to run elsewhere, e.g. ${opt('provider', [...providers, 'cpu'].join(','))}; 'tdeploy doctor' shows the providers that load here`,
  });
}

function unavailable(missing: { provider: Provider; reason: string }[]): string {
  const names = missing.map((m) => m.provider).join(' and the ');
  return `the ${names} execution provider${missing.length > 1 ? 's are' : ' is'} not available here (${[...new Set(missing.map((m) => m.reason))].join('; ')})`;
}

function wrap(modelPath: string, session: ort.InferenceSession, provider: Provider, fallback: string | undefined): Session {
  return {
    provider,
    fallback,
    ort: session,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of feeds) ortFeeds[name] = toOrt(tensor, name);
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = outputNames ? await session.run(ortFeeds, outputNames) : await session.run(ortFeeds);
      } catch (error) {
        throw ortError('run', modelPath, error);
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
