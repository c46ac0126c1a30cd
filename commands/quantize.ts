import { Command, Option } from 'commander';
import { DEFAULT_GATES, describeGate } from '../src/accuracy/gates.js';
import { GateError } from '../src/errors.js';
import { methods } from '../src/quantize/calibration/methods.js';
import { QuantizeOptions, quantizeOptions } from '../src/quantize/options.js';
import { quantize } from '../src/quantize/quantize.js';
import { INT8_MODES, INT8_TARGETS, TARGETS } from '../src/quantize/targets.js';
import { quantizeDocument } from '../src/report/quantize.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { collect } from './options/collect.js';
import { type InputFlags, addInputOptions, inputChoice } from './options/inputs.js';
import { type SessionFlags, addSessionOptions, sessionOptions } from './options/session.js';
import { type ShapeFlags, addShapeOptions, shapeSpec } from './options/shapes.js';

/**
 * An option whose help is its description in the one schema of quantize's options; a default
 * that description states is shown the way every --help shows defaults.
 */
function described(flags: string, key: keyof typeof QuantizeOptions.shape, more = ''): Option {
  const text = QuantizeOptions.shape[key].description ?? '';
  const [, description, shown] = /^(.*?)\s*(?:\(default:? ([^)]*)\))?$/.exec(text)!;
  const option = new Option(flags, `${description}${more}`);
  return shown === undefined ? option : option.default(undefined, shown);
}

const base = new Command('quantize')
  .description(CATALOG.quantize.summary)
  .argument('<model>', 'ONNX model to quantize (float32)')
  .addOption(described('-o, --output <file>', 'output').makeOptionMandatory())
  .addOption(described('--to <precision>', 'to').choices(TARGETS).makeOptionMandatory())
  .addOption(described('--keep-io-types', 'keepIoTypes'))
  .addOption(described('--block-op <op>', 'blockOps').argParser(collect))
  .addOption(described('--block-node <name>', 'blockNodes').argParser(collect))
  .addOption(described('--auto-block', 'autoBlock'))
  .addOption(described('--mode <mode>', 'mode').choices(INT8_MODES))
  .addOption(described('--target <runtime>', 'target').choices(INT8_TARGETS))
  .addOption(described('--calibration <file|dir>', 'calibration'))
  .addOption(described('--calibration-batch <n>', 'calibrationBatch'))
  .addOption(described('--method <method>', 'method').choices(Object.keys(methods)))
  .addOption(described('--percentile <p>', 'percentile'))
  .addOption(described('--per-channel', 'perChannel'))
  .addOption(new Option('--no-per-channel', 'int8: one weight scale per tensor'))
  .addOption(described('--reduce-range', 'reduceRange'))
  .addOption(new Option('--no-reduce-range', 'int8: full 8-bit weights whatever the CPU'))
  .addOption(described('--symmetric', 'symmetric'))
  .addOption(described('--op-types <list>', 'opTypes', ', comma-separated').argParser((list) => list.split(',').map((s) => s.trim()).filter(Boolean)))
  .addOption(described('--exclude-node <name>', 'excludeNodes').argParser(collect))
  .addOption(new Option('--no-fuse', 'int8 dynamic: quantize the graph as exported, without first fusing attention into com.microsoft Attention (QAttention)'))
  .addOption(described('--max-drift-cosine <c>', 'maxDriftCosine', '; exit 1 after the report'))
  .addOption(new Option('--no-gate', 'report the drift without judging it: no exit 1, whatever the drift'))
  .addOption(new Option('--fallback', 'when the drift misses the gate, search for a small set of nodes to keep in float32 that meets it'))
  .addOption(described('--fallback-max <n>', 'fallbackMax'));

export const quantizeCommand = addSessionOptions(addShapeOptions(addInputOptions(base), 'set a symbolic dimension of generated inputs, e.g. seq=128'))
  .addHelpText('after', `
The new model is staged beside the output and compared with the original (the drift report) before
it is put in place. Both models run on --inputs, else the calibration data, else generated inputs
(symbolic dims take 1 when batch-like, else 16, unless --dim/--shape set them); --auto-block runs
on the same data. The drift gate is the precision's default (fp16: ${describeGate(DEFAULT_GATES.fp16)};
int8: ${describeGate(DEFAULT_GATES.int8)}). A failed gate exits 1 with the report, and the model
stays written to examine; --no-gate only reports.

Examples:
  tdeploy quantize model.onnx -o model.fp16.onnx --to fp16 --keep-io-types
  tdeploy quantize model.onnx -o model.int8.onnx --to int8 --max-drift-cosine 0.995
  tdeploy quantize cnn.onnx -o cnn.int8.onnx --to int8 --calibration calib.npz
  tdeploy quantize cnn.onnx -o cnn.trt.onnx --to int8 --target tensorrt --calibration calib.npz
  tdeploy quantize model.onnx -o model.qdq.onnx --to int8 --mode static --calibration calib.npz --method percentile
  tdeploy quantize model.onnx -o model.int8.onnx --to int8 --max-drift-cosine 0.999 --fallback   # keep what drifts in float32`)
  .action(action(async (model: string, raw: InputFlags & SessionFlags & ShapeFlags & Record<string, unknown>, ctx: Context) => {
    const { blockOp, blockNode, excludeNode, fuse, gate, ...same } = raw;
    const options = quantizeOptions({
      ...same,
      blockOps: blockOp,
      blockNodes: blockNode,
      excludeNodes: excludeNode,
      // Commander defaults a lone --no-x to true: only its use is a choice.
      fuse: fuse === false ? false : undefined,
      gate: gate === false ? false : undefined,
      ...inputChoice(raw),
      shapes: shapeSpec(raw, { max: 1 }),
      session: sessionOptions(raw),
    });
    const report = await quantize(model, options, ctx.progress);
    ctx.render(report, quantizeDocument);
    if (report.drift.passed === false) {
      const failing = report.drift.outputs.filter((o) => o.passed === false).map((o) => `${o.name} (${o.failures.join('; ')})`);
      const gateName = options.maxDriftCosine === undefined ? `the ${options.to} drift gate` : `--max-drift-cosine ${options.maxDriftCosine}`;
      const searched = report.fallback ? ` with the best set --fallback found (${report.fallback.kept.length} node(s) kept float32, --fallback-max ${report.fallback.max})` : '';
      throw new GateError(`drift beyond ${gateName}: ${failing.join(', ')}; the model was written to ${report.output}${searched}`, {
        hint: `${options.to === 'fp16' ? 'keep the nodes that drift in float32 (--block-op, --block-node, --auto-block)' : 'leave the nodes that drift in float32 (--exclude-node, --op-types) or calibrate statically on representative data'}, or pass --no-gate to only report`,
      });
    }
    if (report.fallback?.met === false) {
      throw new GateError(`--fallback found no set of at most ${report.fallback.max} nodes that meets the gate (see the fallback note); the model was written to ${report.output} with the best set found`, {
        hint: 'allow more nodes with --fallback-max, or keep nodes in float32 yourself',
      });
    }
  }));
