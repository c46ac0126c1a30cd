import { type Command, Option } from 'commander';
import { InputError } from '../../src/errors.js';
import type { SessionOptions } from '../../src/runtime/session.js';

/** The onnxruntime session argument group: execution provider, threads, graph optimization. */
export function addSessionOptions(command: Command): Command {
  return command
    .addOption(new Option('--provider <name>', 'execution provider (falls back to CPU, and says so, when unavailable)').choices(['cpu', 'cuda', 'tensorrt']).default('cpu'))
    .addOption(new Option('--threads <n>', 'intra-op threads (default: onnxruntime decides)'))
    .addOption(new Option('--graph-opt <level>', 'onnxruntime graph optimization level').choices(['disabled', 'basic', 'extended', 'all']).default('all'));
}

export interface SessionFlags {
  provider?: string;
  threads?: string;
  graphOpt?: string;
}

export function sessionOptions(raw: SessionFlags): SessionOptions {
  const threads = raw.threads === undefined ? undefined : Number(raw.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new InputError(`--threads: '${raw.threads}' is not a positive integer`, { kind: 'usage' });
  }
  return {
    provider: (raw.provider ?? 'cpu') as SessionOptions['provider'],
    threads,
    graphOptimization: (raw.graphOpt ?? 'all') as SessionOptions['graphOptimization'],
  };
}
