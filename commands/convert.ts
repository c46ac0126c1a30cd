import { Command, Option } from 'commander';
import { z } from 'zod';
import { GateError } from '../src/errors.js';
import { convertDocument } from '../src/report/convert.js';
import { CONVERT_GATE } from '../src/torch/gate.js';
import { EXAMPLE_DIMS, parseInputSpec } from '../src/torch/inputs.js';
import { PYTHON_SEARCH } from '../src/torch/python.js';
import { parseOptions } from '../src/validation.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { collect } from './options/collect.js';
import { type ToleranceFlags, addToleranceOptions, gateOptions } from './options/tolerances.js';

const positiveInt = (what: string) =>
  z.string().trim().regex(/^\d+$/, `expected ${what}`).pipe(z.coerce.number()).pipe(z.number().int().positive(`expected ${what}`));

const Flags = z.object({
  output: z.string().min(1),
  input: z.array(z.string()).default([]),
  exampleDim: z.array(z.string().regex(/^[A-Za-z_]\w*=\d+$/, 'expected name=size, e.g. seq=16')).default([]),
  exampleInputs: z.string().optional(),
  outputNames: z.string().regex(/^[^,]+(,[^,]+)*$/, 'expected a comma-separated list of names').optional(),
  opset: positiveInt('an opset number').optional(),
  python: z.string().min(1).optional(),
  pythonPath: z.array(z.string()).default([]),
  timeout: positiveInt('a number of seconds').default(1800),
  check: z.boolean(),
});

const EXAMPLE_DIM_HELP = `${EXAMPLE_DIMS.batch} for batch-like names, where tracing may bake in 1; else ${EXAMPLE_DIMS.other}`;

const base = new Command('convert')
  .description(CATALOG.convert.summary)
  .argument('<source>', 'TorchScript archive (.pt/.pth from torch.jit.save), torch.export archive (.pt2), or package.module:factory')
  .requiredOption('-o, --output <file.onnx>', 'ONNX file to write; the reference data goes to <file>.reference.npz')
  .addOption(new Option('--input <name:dtype:dims>', "one of forward's inputs, in order; dims are sizes or symbolic names, e.g. input_ids:int64:batch,seq").argParser(collect))
  .addOption(new Option('--example-dim <name=size>', 'size of a symbolic dim in the example inputs').argParser(collect).default(undefined, EXAMPLE_DIM_HELP))
  .addOption(new Option('--example-inputs <file.npz>', 'example inputs keyed by input name, instead of generated ones'))
  .addOption(new Option('--output-names <a,b>', 'names of the outputs, in the order forward returns them'))
  .addOption(new Option('--opset <n>', 'ONNX opset').default(undefined, 'the highest your torch exports'))
  .addOption(new Option('--python <path>', 'Python interpreter with torch').default(undefined, PYTHON_SEARCH))
  .addOption(new Option('--python-path <dir>', 'folder to import a package.module:factory source from').argParser(collect))
  .addOption(new Option('--timeout <seconds>', 'stop the export after this long').default('1800'))
  .option('--no-check', "do not run the written model on the example inputs and compare with torch's outputs");

export const convertCommand = addToleranceOptions(base, CONVERT_GATE)
  .addHelpText('after', `
Examples:
  tdeploy convert model.pt -o model.onnx --input input_ids:int64:batch,seq --input attention_mask:int64:batch,seq
  tdeploy convert tiny_models:convnet --python-path fixtures -o convnet.onnx --input image:float32:batch,3,32,32
  tdeploy convert model.pt -o model.onnx --input x:float32:batch,16 --example-inputs batch.npz --python /usr/bin/python3`)
  .action(action(async (source: string, raw: ToleranceFlags & Record<string, unknown>, ctx: Context) => {
    const flags = parseOptions(Flags, raw);
    const gate = flags.check ? { ...CONVERT_GATE, ...gateOptions(raw) } : false;
    // Loaded on use: no other command's start should pay for this library.
    const { convert } = await import('../src/torch/convert.js');
    const report = await convert(source, {
      output: flags.output,
      inputs: flags.input.map(parseInputSpec),
      exampleDims: Object.fromEntries(flags.exampleDim.map((d) => d.split('=')).map(([name, size]) => [name, Number(size)])),
      exampleInputs: flags.exampleInputs,
      outputNames: flags.outputNames?.split(','),
      opset: flags.opset,
      python: flags.python,
      pythonPath: flags.pythonPath,
      timeoutMs: flags.timeout * 1000,
      check: gate,
    }, ctx.progress);
    ctx.render(report, convertDocument);
    if (report.check && !report.check.passed) {
      const failing = report.check.outputs.filter((o) => !o.passed).map((o) => o.name);
      throw new GateError(`${report.output} is written, but differs from torch beyond tolerance: ${failing.join(', ')}`, {
        hint: 'see the worst elements above; loosen --atol/--rtol if the drift is expected, or try another --opset',
      });
    }
  }));
