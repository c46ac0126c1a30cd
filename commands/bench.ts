import { Command, Option } from 'commander';
import path from 'node:path';
import { z } from 'zod';
import { type Gate, readBaseline } from '../src/bench/baseline.js';
import { type BenchOptions, DEFAULT_WARMUP, DEFAULT_WINDOW, bench, describeResult, windowPlan } from '../src/bench/bench.js';
import { benchDocument } from '../src/report/bench.js';
import { MAX_ITERATIONS } from '../src/bench/harness.js';
import { formatShapes } from '../src/bench/sweep.js';
import { RegressionMetricSchema } from '../src/bench/result.js';
import { GateError, InputError } from '../src/errors.js';
import { refuseFolderOutput, writeFileAtomic } from '../src/io/atomic.js';
import { overwrittenInput } from '../src/io/same-file.js';
import { FORMATS, type Format } from '../src/report/document.js';
import { formatNumber } from '../src/report/format.js';
import { render } from '../src/report/render.js';
import { parseOptions } from '../src/validation.js';
import { TRTEXEC_SEARCH } from '../src/trt/locate.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { type InputFlags, addInputOptions, inputChoice } from './options/inputs.js';
import { collect } from './options/collect.js';
import { type SessionFlags, addSessionOptions, sessionOptions } from './options/session.js';
import { type ShapeFlags, addShapeOptions, shapeSpec } from './options/shapes.js';
import { type ServerChoice, type ServerFlags, addServerOptions, serverChoice } from './options/server.js';
import { benchServer } from '../src/serve/bench-server.js';

const whole = (min: number) => z.string().regex(/^\d+$/, 'expected a whole number').transform(Number)
  .refine((n) => n >= min, `must be at least ${min}`);
const percent = z.string().regex(/^\d+(\.\d+)?%?$/, 'expected a percentage, e.g. 10%').transform((s) => parseFloat(s));

const BenchFlags = z.object({
  warmup: whole(0),
  iterations: whole(1).refine((n) => n <= MAX_ITERATIONS, `must be at most ${MAX_ITERATIONS}`).optional(),
  duration: z.string().regex(/^\d+(\.\d+)?$/, 'expected seconds, e.g. 5 or 0.5').transform(Number).refine((s) => s > 0, 'must be more than 0').optional(),
  stability: percent.refine((p) => p > 0, 'must be more than 0%').optional(),
  maxWindows: whole(3),
  requireStable: z.boolean().optional(),
  batch: z.string().regex(/^\d+(,\d+)*$/, 'expected a comma list of batch sizes, e.g. 1,8,32').transform((s) => s.split(',').map(Number))
    .refine((list) => list.every((n) => n >= 1), 'batch sizes must be at least 1').optional(),
  label: z.array(z.string().min(1)).optional(),
  format: z.enum(FORMATS).optional(),
  output: z.string().optional(),
  baseline: z.string().optional(),
  maxRegression: percent.optional(),
  regressionMetric: RegressionMetricSchema,
  ioFrom: z.string().optional(),
  trtexec: z.string().optional(),
});

/** The format a file name asks for when --format is not given. */
const formatByExtension: Record<string, Format> = { '.json': 'json', '.md': 'markdown', '.csv': 'csv' };

export const benchCommand = addServerOptions(addSessionOptions(addInputOptions(addShapeOptions(new Command('bench'), 'set a symbolic dimension; a comma list sweeps it, e.g. seq=16,128'))))
  .description(CATALOG.bench.summary)
  .argument('[models...]', 'ONNX models and TensorRT engines (.plan); the first is the baseline of the speed-up column')
  .option('--batch <sizes>', 'sweep the batch-like dimension, e.g. 1,8,32')
  .option('--warmup <n>', 'untimed runs before each case', String(DEFAULT_WARMUP))
  .addOption(new Option('--iterations <n>', 'timed runs per window, at least').default(undefined, String(DEFAULT_WINDOW.iterations)))
  .addOption(new Option('--duration <seconds>', 'seconds per window, at least').default(undefined, `${DEFAULT_WINDOW.durationMs / 1000} unless --iterations is given`))
  .option('--stability <percent>', 'repeat windows until 3 in a row agree within this, e.g. 10%')
  .option('--max-windows <n>', 'give up on --stability after this many windows', '10')
  .option('--require-stable', 'with --stability: fail (exit 1) when a result never met it')
  .addOption(new Option('--label <name>', 'name of each model in the report, in model order').argParser(collect).default(undefined, 'the file name'))
  .addOption(new Option('--format <format>', 'report format').choices(FORMATS).default(undefined, 'table, or from the --output extension'))
  .option('-o, --output <file>', 'write the report there (stdout then shows the table)')
  .addOption(new Option('--io-from <model.onnx>', 'the ONNX model whose inputs the run feeds; engines need one').default(undefined, 'the first ONNX model given'))
  .addOption(new Option('--trtexec <path>', 'trtexec for .plan engines').default(undefined, TRTEXEC_SEARCH))
  .option('--baseline <report.json>', 'an earlier `--format json` report to gate against')
  .addOption(new Option('--max-regression <percent>', 'with --baseline: fail (exit 1) when a result got worse by more than this').default(undefined, '10%'))
  .addOption(new Option('--regression-metric <metric>', 'what --max-regression compares').choices(RegressionMetricSchema.options).default('p50'))
  .addHelpText('after', [
    '',
    'A window runs --iterations and --duration, whichever is longer; each run is one timed inference.',
    'Engines run in trtexec --loadEngine on the same inputs; their samples are trtexec\'s per-inference latencies.',
    'Percentiles interpolate linearly between ranks, as numpy.percentile does by default.',
    '',
    'Examples:',
    '  tdeploy bench model.onnx --batch 1,8,32',
    '  tdeploy bench model.onnx model.fp16.onnx model.int8.onnx --dim seq=128 --stability 5%',
    '  tdeploy bench model.onnx model.plan --batch 1,8 --provider cuda',
    '  tdeploy bench model.onnx --baseline main.json --max-regression 10% --format markdown >> $GITHUB_STEP_SUMMARY',
    '  tdeploy bench --server http://localhost:8000 --model encoder --concurrency 1,2,4,8 --dim dim1=128',
    '  tdeploy bench --server http://localhost:8000 --model encoder_pipeline --text-file queries.txt --request-rate 50,100',
  ].join('\n'))
  .action(action(async (models: string[], raw: Record<string, unknown>, ctx: Context) => {
    const flags = parseOptions(BenchFlags, raw);
    if (flags.output) refuseFolderOutput(flags.output, 'output', 'the report', 'bench.json');
    const format = chooseFormat(flags.format, flags.output, ctx);
    const gate = await gateFrom(flags);
    const { inputs, seed, intRange } = inputChoice(raw as InputFlags);
    const served = serverChoice(raw as ServerFlags);
    const overwritten = flags.output && overwrittenInput([flags.output], [...models, inputs, flags.ioFrom, served.textFile].filter((f) => f !== undefined));
    if (overwritten) throw new InputError(`--output ${flags.output} would overwrite ${overwritten}, which the benchmark reads`, { kind: 'usage', hint: 'give the report another file name, e.g. bench.json' });
    const common = {
      shapes: shapeSpec(raw as ShapeFlags),
      batch: flags.batch,
      source: { inputs, seed, intRange },
      warmup: flags.warmup,
      window: windowPlan(flags.iterations, flags.duration),
      stability: flags.stability === undefined ? undefined : { percent: flags.stability, maxWindows: flags.maxWindows },
      gate,
      requireStable: flags.requireStable,
      ioFrom: flags.ioFrom,
    };
    const report = served.server
      ? await benchServer({ ...common, ...serverOnly(models, served, flags.label), server: served.server }, ctx.progress)
      : await bench(models, localOptions(models, served, raw, flags, common), ctx.progress);
    const doc = ctx.document(report, (r) => benchDocument(r, gate));
    if (flags.output) await writeFileAtomic(flags.output, render(format, doc));
    ctx.print(doc, flags.output ? 'table' : format);
    const unstable = report.results.filter((r) => r.stable === false);
    if (flags.requireStable && unstable.length && !report.regressions.length) {
      throw new GateError(`${unstable.length} result(s) never met --stability ${flags.stability}%: ${unstable.slice(0, 3).map((r) => `${r.label} (${formatShapes(r.shapes)})`).join('; ')}`, {
        kind: 'unstable', hint: 'give it more windows (--max-windows), longer ones (--duration), or a quieter machine',
      });
    }
    if (gate && report.regressions.length) {
      const worst = report.regressions.slice(0, 3).map((r) => `${describeResult(r)} ${formatNumber(r.worsePercent)}% worse`);
      throw new GateError(
        `${report.regressions.length} result(s) regressed by more than ${formatNumber(gate.maxPercent)}% (${gate.metric}): ${worst.join('; ')}${report.regressions.length > 3 ? '; …' : ''}`,
        { kind: 'regression', hint: flags.output ? `the full report is in ${flags.output}` : 'the report above marks the regressed rows' },
      );
    }
  }));

/** The served model's options; local-only flags and model files are refused with --server. */
function serverOnly(models: string[], served: ServerChoice, labels: string[] | undefined) {
  if (models.length) throw new InputError(`--server benchmarks the served model; model files (${models.join(', ')}) cannot be given with it`, { kind: 'usage' });
  if (!served.model) throw new InputError('--server needs --model <name>, the model on the server', { kind: 'usage' });
  if (labels && labels.length > 1) throw new InputError('--label: a served model takes one label', { kind: 'usage' });
  const { server: _, ...rest } = served;
  return { ...rest, model: served.model, label: labels?.[0] };
}

const SERVER_ONLY: (keyof ServerChoice)[] = ['model', 'modelVersion', 'concurrency', 'requestRate', 'textFile'];

function localOptions(models: string[], served: ServerChoice, raw: Record<string, unknown>, flags: z.infer<typeof BenchFlags>, common: Omit<BenchOptions, 'session' | 'labels' | 'trtexec'>): BenchOptions {
  if (!models.length) throw new InputError('no model to benchmark: give ONNX models or engines, or --server <url> --model <name>', { kind: 'usage' });
  const given = SERVER_ONLY.find((k) => served[k] !== undefined);
  if (given) throw new InputError(`--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a served model: it needs --server`, { kind: 'usage' });
  return { ...common, session: sessionOptions(raw as SessionFlags), labels: flags.label, trtexec: flags.trtexec };
}

function chooseFormat(given: Format | undefined, output: string | undefined, ctx: Context): Format {
  if (output) return given ?? formatByExtension[path.extname(output).toLowerCase()] ?? 'table';
  if (ctx.flags.json && given && given !== 'json') {
    throw new InputError(`--json prints JSON on stdout, so --format ${given} needs --output`, { kind: 'usage' });
  }
  return given ?? (ctx.flags.json ? 'json' : 'table');
}

async function gateFrom(flags: z.infer<typeof BenchFlags>): Promise<Gate | undefined> {
  if (!flags.baseline) {
    if (flags.maxRegression !== undefined) throw new InputError('--max-regression needs --baseline <report.json>', { kind: 'usage' });
    return undefined;
  }
  return { baseline: await readBaseline(flags.baseline), maxPercent: flags.maxRegression ?? 10, metric: flags.regressionMetric };
}
