import { Command, Option } from 'commander';
import { z } from 'zod';
import { GateError } from '../src/errors.js';
import { methods } from '../src/quantize/calibration/methods.js';
import { INT8_OP_TYPES } from '../src/quantize/int8/registry.js';
import { quantize } from '../src/quantize/quantize.js';
import { formatCosine } from '../src/report/format.js';
import { quantizeText } from '../src/report/quantize.js';
import { action } from './action.js';
import type { Context } from './context.js';
import { type InputFlags, addInputOptions, inputChoice } from './options/inputs.js';
import { collect, parseOptions } from './options/parse.js';
import { type SessionFlags, addSessionOptions, sessionOptions } from './options/session.js';
import { type ShapeFlags, addShapeOptions, shapeSpec } from './options/shapes.js';

interface QuantizeFlags extends InputFlags, SessionFlags, ShapeFlags {
  output: string;
  to: 'fp16' | 'int8';
  keepIoTypes?: boolean;
  blockOp?: string[];
  blockNode?: string[];
  autoBlock?: boolean;
  mode?: 'dynamic' | 'static';
  calibration?: string;
  calibrationBatch?: string;
  method?: keyof typeof methods;
  percentile?: string;
  perChannel?: boolean;
  reduceRange?: boolean;
  symmetric?: boolean;
  opTypes?: string;
  excludeNode?: string[];
  fuse?: boolean;
  maxDriftCosine?: string;
}

const Numbers = z.object({
  calibrationBatch: z.string().regex(/^\d+$/, 'expected a positive integer').transform(Number).pipe(z.number().positive('expected a positive integer')).optional(),
  maxDriftCosine: z.string().regex(/^-?\d*\.?\d+$/, 'expected a number from -1 to 1').transform(Number).pipe(z.number().min(-1, 'expected a number from -1 to 1').max(1, 'expected a number from -1 to 1')).optional(),
  percentile: z.string().regex(/^\d*\.?\d+$/, 'expected a number').transform(Number).pipe(z.number().gt(0, 'expected a number in (0, 100]').max(100, 'expected a number in (0, 100]')).optional(),
});

const base = new Command('quantize')
  .description('convert a model to FP16 or INT8 (dynamic, or static QDQ calibrated on data) and report its size and drift')
  .argument('<model>', 'ONNX model to quantize (float32)')
  .requiredOption('-o, --output <file>', 'where to write the quantized model')
  .addOption(new Option('--to <precision>', 'target precision').choices(['fp16', 'int8']).makeOptionMandatory())
  .addOption(new Option('--keep-io-types', 'fp16: keep float32 graph inputs and outputs (Casts at the edges)'))
  .addOption(new Option('--block-op <op>', 'fp16: keep every node of this op type in float32 (repeatable)').argParser(collect))
  .addOption(new Option('--block-node <name>', 'fp16: keep this node in float32 (repeatable)').argParser(collect))
  .addOption(new Option('--auto-block', 'fp16: run the model on the data and keep in float32 the nodes whose values overflow or underflow float16'))
  .addOption(new Option('--mode <mode>', 'int8: quantize activations at run time, or statically from calibration (QDQ)').choices(['dynamic', 'static']))
  .addOption(new Option('--calibration <file|dir>', 'representative inputs: .npz keyed by input name (samples stacked along axis 0), or a folder of test_data_set_*'))
  .addOption(new Option('--calibration-batch <n>', 'samples per batch when one calibration file is split (default 8)'))
  .addOption(new Option('--method <method>', 'int8 static: how activation ranges are chosen (default minmax)').choices(Object.keys(methods)))
  .addOption(new Option('--percentile <p>', 'int8 static, --method percentile: percent of |x| kept (default 99.99)'))
  .addOption(new Option('--per-channel', 'int8: one weight scale per output channel (the default)'))
  .addOption(new Option('--no-per-channel', 'int8: one weight scale per tensor'))
  .addOption(new Option('--reduce-range', 'int8: 7-bit weights (default: on for x64 CPUs without VNNI, where 8-bit u8×s8 products saturate)'))
  .addOption(new Option('--no-reduce-range', 'int8: full 8-bit weights whatever the CPU'))
  .addOption(new Option('--symmetric', 'int8 static: int8 activations with zero point 0 (what TensorRT wants) instead of uint8'))
  .addOption(new Option('--op-types <list>', `int8: comma-separated op types to quantize (default all: ${INT8_OP_TYPES.join(',')})`))
  .addOption(new Option('--exclude-node <name>', 'int8: leave this node in float32 (repeatable)').argParser(collect))
  .addOption(new Option('--no-fuse', 'int8 dynamic: quantize the graph as exported, without first fusing attention into com.microsoft Attention (QAttention)'))
  .addOption(new Option('--max-drift-cosine <c>', 'fail (exit 1, after the report) when an output\'s cosine similarity to the original model is below c, e.g. 0.999'));

export const quantizeCommand = addSessionOptions(addShapeOptions(addInputOptions(base), 'set a symbolic dimension of generated inputs, e.g. seq=128'))
  .addHelpText('after', `
After writing, the new model is compared with the original (the drift report): on --inputs, else
the calibration data, else generated inputs (symbolic dims take 1 when batch-like, else 16, unless
--dim/--shape set them). --auto-block runs on the calibration data first, then --inputs.

Examples:
  tdeploy quantize model.onnx -o model.fp16.onnx --to fp16 --keep-io-types
  tdeploy quantize model.onnx -o model.int8.onnx --to int8 --mode dynamic
  tdeploy quantize model.onnx -o model.qdq.onnx --to int8 --mode static --calibration calib.npz --method percentile`)
  .action(action(async (model: string, raw: QuantizeFlags & Record<string, unknown>, ctx: Context) => {
    const numbers = parseOptions(Numbers, { calibrationBatch: raw.calibrationBatch, percentile: raw.percentile, maxDriftCosine: raw.maxDriftCosine });
    const { inputs, seed, intRange } = inputChoice(raw);
    const report = await quantize(model, {
      output: raw.output,
      to: raw.to,
      keepIoTypes: raw.keepIoTypes,
      blockOps: raw.blockOp,
      blockNodes: raw.blockNode,
      autoBlock: raw.autoBlock,
      mode: raw.mode,
      method: raw.method,
      percentile: numbers.percentile,
      perChannel: raw.perChannel,
      reduceRange: raw.reduceRange,
      symmetric: raw.symmetric,
      opTypes: raw.opTypes?.split(',').map((s) => s.trim()).filter(Boolean),
      excludeNodes: raw.excludeNode,
      // Commander defaults a lone --no-fuse to true: only its use is a choice.
      fuse: raw.fuse === false ? false : undefined,
      calibration: raw.calibration,
      calibrationBatch: numbers.calibrationBatch,
      inputs,
      shapes: shapeSpec(raw, { max: 1 }),
      seed,
      intRange,
      session: sessionOptions(raw),
      maxDriftCosine: numbers.maxDriftCosine,
    }, ctx.progress);
    ctx.render(report, quantizeText);
    if (!report.drift.passed) {
      const failing = report.drift.outputs.filter((o) => !o.passed).map((o) => `${o.name} (cosine ${o.cosine === null ? '-' : formatCosine(o.cosine)})`);
      throw new GateError(`drift beyond --max-drift-cosine ${numbers.maxDriftCosine}: ${failing.join(', ')}; the model was written to ${report.output}`);
    }
  }));
