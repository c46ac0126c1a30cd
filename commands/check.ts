import { Command, Option } from 'commander';
import { check } from '../src/accuracy/check.js';
import { DEFAULT_GATES, describeGate } from '../src/accuracy/gates.js';
import { LAYERWISE_MIN_COSINE } from '../src/accuracy/layerwise.js';
import { GateError } from '../src/errors.js';
import { checkDocument } from '../src/report/check.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { type InputFlags, addInputOptions, inputChoice } from './options/inputs.js';
import { type SessionFlags, addSessionOptions, sessionOptions } from './options/session.js';
import { type ShapeFlags, addShapeOptions, shapeSpec } from './options/shapes.js';
import { type ToleranceFlags, addToleranceOptions, gateOptions } from './options/tolerances.js';

type CheckFlags = InputFlags & SessionFlags & ShapeFlags & ToleranceFlags & { reference?: string; against?: string; upgradeOpset?: boolean; layerwise?: boolean };

const base = new Command('check')
  .description(CATALOG.check.summary)
  .argument('<model>', 'ONNX model, or an ONNX test folder (model.onnx + test_data_set_*/input_N.pb, output_N.pb)')
  .addOption(new Option('--reference <file|dir>', 'expected data: .npz keyed by input and output names, or a folder of test_data_set_*'))
  .addOption(new Option('--against <baseline.onnx>', 'run this model on the same inputs and compare with it'))
  .addOption(new Option('--upgrade-opset', 'check a copy upgraded to opset 7 when a model is older (ONNX Runtime no longer runs opset < 7)'))
  .addOption(new Option('--layerwise', `with --against: also compare every intermediate tensor both models compute and show where the drift starts (each layer judged on --min-cosine, default ${LAYERWISE_MIN_COSINE}); --reference may then give the inputs`));

export const checkCommand = addToleranceOptions(addSessionOptions(addShapeOptions(addInputOptions(base), 'set a symbolic dimension of generated inputs, e.g. batch=2')))
  .addHelpText('after', `
An element passes when |actual - expected| <= atol + rtol * |expected|; NaN matches NaN and an
infinity itself. Integers, booleans and strings are compared exactly. The default gate follows the
precision the model computes in (any option given replaces its part):
${defaultGates()}

Examples:
  tdeploy check model.onnx --reference model.reference.npz
  tdeploy check model.fp16.onnx --against model.onnx --dim batch=2 --dim seq=16 --atol 1e-2 --min-cosine 0.999
  tdeploy check onnx-tests/test_relu             # model.onnx and its test_data_set_* folders
  tdeploy check model.int8.onnx --against model.onnx --inputs holdout.npz --layerwise   # where does INT8 drift start?`)
  .action(action(async (model: string, raw: CheckFlags & Record<string, unknown>, ctx: Context) => {
    const { inputs, seed, intRange } = inputChoice(raw);
    const report = await check(model, {
      reference: raw.reference,
      against: raw.against,
      inputs,
      seed,
      intRange,
      shapes: shapeSpec(raw, { max: 1 }),
      session: sessionOptions(raw),
      gate: gateOptions(raw),
      upgradeOpset: raw.upgradeOpset === true,
      layerwise: raw.layerwise === true,
    }, ctx.progress);
    ctx.render(report, checkDocument);
    if (!report.passed) {
      const failing = report.outputs.filter((o) => !o.passed).map((o) => o.name);
      throw new GateError(`accuracy check failed: ${failing.join(', ')} beyond tolerance`);
    }
  }));

function defaultGates(): string {
  return Object.entries(DEFAULT_GATES).map(([precision, gate]) => `  ${precision}: ${describeGate(gate)}`).join('\n');
}
