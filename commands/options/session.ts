import { type Command, Option } from 'commander';
import { z } from 'zod';
import { GRAPH_OPTIMIZATIONS, PROVIDERS, type SessionOptions } from '../../src/runtime/session.js';
import { parseOptions } from '../../src/validation.js';

/** The onnxruntime session argument group: execution provider, threads, graph optimization. */
export function addSessionOptions(command: Command): Command {
  return command
    .addOption(new Option('--provider <list>', `execution provider, ${PROVIDERS.join(', ')}, or several tried in order, e.g. cuda,cpu; one that cannot be had is an error unless the list goes on`).default('cpu'))
    .addOption(new Option('--threads <n>', 'intra-op threads').default(undefined, 'onnxruntime decides'))
    .addOption(new Option('--graph-opt <level>', 'onnxruntime graph optimization level').choices(GRAPH_OPTIMIZATIONS).default('all'));
}

export interface SessionFlags {
  provider?: string;
  threads?: string;
  graphOpt?: string;
}

const positive = 'expected a positive integer';

const providerList = `expected ${PROVIDERS.join(', ')} or a comma list of them, e.g. cuda,cpu`;

const Flags = z.object({
  provider: z.string().transform((list) => list.split(',').map((p) => p.trim()))
    .pipe(z.array(z.enum(PROVIDERS, { error: providerList })).refine((list) => new Set(list).size === list.length, 'a provider is listed twice'))
    .default(['cpu']),
  threads: z.string().trim().regex(/^\d+$/, positive).transform(Number).pipe(z.number().min(1, positive)).optional(),
  graphOpt: z.enum(GRAPH_OPTIMIZATIONS).default('all'),
});

export function sessionOptions(raw: SessionFlags): SessionOptions {
  const { provider, threads, graphOpt } = parseOptions(Flags, raw);
  return { provider, threads, graphOptimization: graphOpt };
}
