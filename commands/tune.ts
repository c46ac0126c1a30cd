import { Command, Option } from 'commander';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_WARMUP, DEFAULT_WINDOW, windowPlan } from '../src/bench/bench.js';
import { InputError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { FORMATS, type Format } from '../src/report/document.js';
import { render } from '../src/report/render.js';
import { tuneDocument } from '../src/report/tune.js';
import { DEFAULT_GRID, MAX_CANDIDATES, type TuneGrid, tune, tuneVerdict } from '../src/serve/tune.js';
import { parseOptions } from '../src/validation.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { type InputFlags, addInputOptions, inputChoice } from './options/inputs.js';
import { type ServerFlags, addServerOptions, serverChoice } from './options/server.js';
import { type ShapeFlags, addShapeOptions, shapeSpec } from './options/shapes.js';

const whole = z.string().regex(/^\d+$/, 'expected a whole number').transform(Number);
const wholeList = (min: number, example: string) => z.string()
  .regex(/^\d+(,\d+)*$/, `expected a comma list of whole numbers, e.g. ${example}`)
  .transform((s) => s.split(',').map(Number))
  .refine((l) => l.every((n) => n >= min), `values must be at least ${min}`);

const TuneFlags = z.object({
  repository: z.string().min(1),
  p95: z.string().regex(/^\d+(\.\d+)?$/, 'expected milliseconds, e.g. 50').transform(Number).refine((n) => n > 0, 'must be more than 0'),
  instances: wholeList(1, '1,2').optional(),
  maxBatchSize: wholeList(1, '4,8').optional(),
  maxQueueDelayUs: wholeList(0, '0,1000').optional(),
  preferredBatchSize: z.string().regex(/^(none|\d+(\+\d+)*)(,(none|\d+(\+\d+)*))*$/, 'expected sets of sizes joined by +, comma separated, e.g. none,4,4+8')
    .transform((s) => s.split(',').map((set) => (set === 'none' ? [] : set.split('+').map(Number)))).optional(),
  warmup: whole,
  iterations: whole.refine((n) => n >= 1, 'must be at least 1').optional(),
  duration: z.string().regex(/^\d+(\.\d+)?$/, 'expected seconds').transform(Number).refine((s) => s > 0, 'must be more than 0').optional(),
  format: z.enum(FORMATS).optional(),
  output: z.string().optional(),
  ioFrom: z.string().optional(),
});

const list = (values: number[]) => values.join(',');

export const tuneCommand = addServerOptions(addInputOptions(addShapeOptions(new Command('tune'))), true)
  .description(CATALOG.tune.summary)
  .requiredOption('--repository <dir>', 'the Triton model repository the server serves (explicit model control)')
  .requiredOption('--p95 <ms>', 'latency budget: a candidate qualifies at a load level where its p95 is at most this')
  .option('--instances <counts>', `instance counts to try (default: ${list(DEFAULT_GRID.instances)})`)
  .option('--max-batch-size <sizes>', `max_batch_size values to try (default: ${list(DEFAULT_GRID.maxBatchSize)})`)
  .option('--max-queue-delay-us <us>', `max_queue_delay_microseconds values to try (default: ${list(DEFAULT_GRID.maxQueueDelayUs)})`)
  .option('--preferred-batch-size <sets>', 'preferred batch sizes to try: sets of sizes joined by +, comma separated, e.g. none,4,4+8 (default: none)')
  .option('--warmup <n>', 'untimed requests before each level', String(DEFAULT_WARMUP))
  .option('--iterations <n>', `requests per window, at least (default: ${DEFAULT_WINDOW.iterations})`)
  .option('--duration <seconds>', `seconds per window, at least (default: ${DEFAULT_WINDOW.durationMs / 1000} unless --iterations is given)`)
  .addOption(new Option('--format <format>', 'report format (default: table, or from the --output extension)').choices(FORMATS))
  .option('-o, --output <file>', 'write the report there too')
  .option('--io-from <model.onnx>', 'name the served inputs\' dims as this ONNX model does')
  .addHelpText('after', [
    '',
    `Every combination of the values is a candidate (at most ${MAX_CANDIDATES}). Each is loaded with`,
    'POST /v2/repository/models/NAME/load and its config as a parameter, then measured at each --concurrency',
    'level (default: the most instances times the largest max batch size). The winner goes into',
    'REPOSITORY/NAME/config.pbtxt with the table of what was tried as comments; the server is left serving it.',
    '',
    'Example:',
    '  tdeploy tune --server http://localhost:8000 --model encoder --repository models --p95 50 \\',
    '    --instances 1,2 --max-batch-size 8,32 --max-queue-delay-us 0,2000 --concurrency 16',
  ].join('\n'))
  .action(action(async (raw: Record<string, unknown>, ctx: Context) => {
    const flags = parseOptions(TuneFlags, raw);
    const served = serverChoice(raw as ServerFlags);
    if (served.requestRate) throw new InputError('tune measures closed-loop --concurrency levels; --request-rate is for bench --server', { kind: 'usage' });
    const { inputs, seed, intRange } = inputChoice(raw as InputFlags);
    const grid: Partial<TuneGrid> = Object.fromEntries(Object.entries({
      instances: flags.instances, maxBatchSize: flags.maxBatchSize, maxQueueDelayUs: flags.maxQueueDelayUs, preferredBatchSize: flags.preferredBatchSize,
    }).filter(([, v]) => v !== undefined));
    const { requestRate: _, ...load } = served;
    const report = await tune({
      ...load,
      server: served.server!,
      model: served.model!,
      repository: flags.repository,
      p95Ms: flags.p95,
      grid,
      shapes: shapeSpec(raw as ShapeFlags),
      source: { inputs, seed, intRange },
      warmup: flags.warmup,
      window: windowPlan(flags.iterations, flags.duration),
      ioFrom: flags.ioFrom,
    }, ctx.progress);
    const doc = ctx.document(report, tuneDocument);
    const format: Format = flags.output ? flags.format ?? formatOf(flags.output) : flags.format ?? 'table';
    if (flags.output) await writeFileAtomic(flags.output, render(format, doc));
    ctx.print(doc, flags.output ? 'table' : format);
    const failed = tuneVerdict(report);
    if (failed) throw failed;
  }));

function formatOf(file: string): Format {
  return ({ '.json': 'json', '.md': 'markdown', '.csv': 'csv' } as Record<string, Format>)[path.extname(file).toLowerCase()] ?? 'table';
}
