import { type Command, Option } from 'commander';
import { z } from 'zod';
import { parseOptions } from '../../src/validation.js';

/**
 * The served-model argument group, shared by `bench --server` and `tune`: where the model is, the
 * load levels, how tensors travel and where the server's metrics are.
 */
export function addServerOptions(command: Command, required = false): Command {
  const server = new Option('--server <url>', 'KServe v2 / Triton HTTP endpoint, e.g. http://localhost:8000');
  const model = new Option('--model <name>', 'the model name on the server');
  return command
    .addOption(required ? server.makeOptionMandatory() : server)
    .addOption(required ? model.makeOptionMandatory() : model)
    .option('--model-version <v>', 'the model version (default: the server\'s choice)')
    .option('--concurrency <levels>', 'closed loop: clients sending back to back, a comma list of levels (default: 1)')
    .option('--request-rate <levels>', 'open loop: Poisson arrivals per second, a comma list of levels')
    .option('--metrics-url <url>', 'Triton\'s Prometheus metrics (default: port 8002 of the server\'s host)')
    .option('--no-metrics', 'do not read the server\'s metrics')
    .option('--json-tensors', 'send tensors as JSON rather than with the binary tensor extension')
    .option('--text-file <file>', 'text for BYTES inputs, one sample per line')
    .option('--timeout <seconds>', 'give up on a request after this long', '60');
}

export interface ServerFlags {
  server?: string;
  model?: string;
  modelVersion?: string;
  concurrency?: string;
  requestRate?: string;
  metricsUrl?: string;
  metrics?: boolean;
  jsonTensors?: boolean;
  textFile?: string;
  timeout?: string;
}

const list = (what: string, example: string) => z.string()
  .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, `expected a comma list of ${what}, e.g. ${example}`)
  .transform((s) => s.split(',').map(Number))
  .refine((l) => l.every((n) => n > 0), `${what} must be more than 0`);

const Flags = z.object({
  server: z.string().optional(),
  model: z.string().min(1).optional(),
  modelVersion: z.string().regex(/^[1-9]\d*$/, 'expected a version number, e.g. 1').optional(),
  concurrency: list('client counts', '1,2,4,8').refine((l) => l.every(Number.isInteger), 'client counts are whole numbers').optional(),
  requestRate: list('rates', '50,100').optional(),
  metricsUrl: z.string().optional(),
  metrics: z.boolean().default(true),
  jsonTensors: z.boolean().default(false),
  textFile: z.string().optional(),
  timeout: z.string().regex(/^\d+(\.\d+)?$/, 'expected seconds').transform(Number).refine((s) => s > 0, 'must be more than 0'),
});

export interface ServerChoice {
  server?: string;
  model?: string;
  modelVersion?: string;
  concurrency?: number[];
  requestRate?: number[];
  metricsUrl?: string | false;
  jsonTensors: boolean;
  textFile?: string;
  timeoutMs: number;
}

export function serverChoice(raw: ServerFlags): ServerChoice {
  const f = parseOptions(Flags, raw);
  return {
    server: f.server, model: f.model, modelVersion: f.modelVersion, concurrency: f.concurrency, requestRate: f.requestRate,
    metricsUrl: f.metrics ? f.metricsUrl : false, jsonTensors: f.jsonTensors, textFile: f.textFile, timeoutMs: f.timeout * 1000,
  };
}
