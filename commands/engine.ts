import { Command, Option } from 'commander';
import { z } from 'zod';
import { InputError, ToolError } from '../src/errors.js';
import { engineDocument } from '../src/report/engine.js';
import { type EngineOptions, buildEngine, engineFromLog } from '../src/trt/engine.js';
import { PRECISIONS } from '../src/trt/flags.js';
import { parseProfile } from '../src/trt/profiles.js';
import { parseOptions } from '../src/validation.js';
import { TRTEXEC_SEARCH } from '../src/trt/locate.js';
import { action, deprecatedAlias } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { addShapeOptions, shapeSpec } from './options/shapes.js';
import { collect } from './options/collect.js';
import { flagName } from './options/spelling.js';

const PRECISION_HELP: Record<(typeof PRECISIONS)[number], string> = {
  fp16: 'allow FP16 kernels', bf16: 'allow BF16 kernels (TensorRT 9.3+)', int8: 'allow INT8 kernels (scales from --calib or the model\'s QDQ nodes)',
  fp8: 'allow FP8 kernels (8.6+)', best: 'allow every precision',
};

const command = new Command('engine')
  .description(CATALOG.engine.summary)
  .argument('[model]', 'ONNX model to build')
  .addOption(new Option('-o, --output <file>', 'engine file; the full log is kept as <file>.log').default(undefined, 'the model with .plan'))
  .addOption(new Option('--trtexec <path>', 'trtexec to run').default(undefined, TRTEXEC_SEARCH));
for (const p of PRECISIONS) command.option(`--${p}`, PRECISION_HELP[p]);
command
  .option('--strongly-typed', 'precisions from the model\'s tensor types (TensorRT 9.3+; always so from 11.0)')
  .option('--workspace <MiB>', 'builder workspace limit in MiB')
  .option('--calib <cache>', 'INT8 calibration cache')
  .option('--timing-cache <file>', 'timing cache to read and update (faster rebuilds)')
  .addOption(new Option('--builder-level <n>', 'builder optimization level 0-5 (TensorRT 8.6+)').default(undefined, "3, trtexec's"))
  .addOption(new Option('--extra <args>', 'raw trtexec arguments in --flag=value form, split at spaces').argParser(collect))
  .option('--no-inference', 'build only: skip the timing run after the build')
  .addOption(new Option('--timeout <seconds>', 'kill trtexec (and everything it started) after this long').default(undefined, 'no limit'))
  .option('--from-log <file>', 'report on a trtexec log made elsewhere instead of building');

const Raw = z.object({
  output: z.string().optional(),
  trtexec: z.string().optional(),
  stronglyTyped: z.boolean().optional(),
  shape: z.array(z.string()).optional(),
  workspace: z.coerce.number().int().positive().optional(),
  calib: z.string().optional(),
  timingCache: z.string().optional(),
  builderLevel: z.coerce.number().int().min(0).max(5).optional(),
  extra: z.array(z.string()).optional(),
  inference: z.boolean(),
  timeout: z.coerce.number().positive().optional(),
  fromLog: z.string().optional(),
});

/** What only a build takes, to refuse it next to --from-log. */
const BUILD_FLAGS = ['output', 'trtexec', 'stronglyTyped', 'workspace', 'calib', 'timingCache', 'builderLevel', 'extra', 'timeout', 'shape', 'dim', ...PRECISIONS];

addShapeOptions(
  command,
  'min,opt,max of a symbolic dimension wherever it appears, e.g. batch=1,8,32',
  "one input's optimization profile, name:MINxA,OPTxB,MAXxC, or one fixed shape, e.g. input_ids:1x16,8x128,32x512",
);

export const engineCommand = deprecatedAlias(command, new Option('--shapes <name:MINxA,OPTxB,MAXxC>').argParser(collect), 'shape', '--shape')
  .addHelpText('after', [
    '',
    'Examples:',
    '  tdeploy engine model.onnx -o model.plan --fp16 --dim batch=1,8,32 --dim seq=16,128,512',
    '  tdeploy engine model.onnx --shape input_ids:1x16,8x128,32x512 --workspace 4096 --timing-cache trt.cache',
    '  tdeploy engine --from-log build.log --json',
    '',
    'trtexec is run with --flag=value arguments and only with flags its release knows; the engine',
    'appears only when the build passed. Exit 3 when trtexec is missing, fails or times out.',
  ].join('\n'))
  .action(action(async (model: string | undefined, raw: Record<string, unknown>, ctx: Context) => {
    const options = parseOptions(Raw, raw);
    if (options.fromLog !== undefined) {
      refuseBuildFlags(model, raw);
      ctx.render(await engineFromLog(options.fromLog), engineDocument);
      return;
    }
    if (!model) throw new InputError('give a model to build, or --from-log <file> to read a log', { kind: 'usage', hint: "see 'tdeploy engine --help'" });
    const report = await buildEngine(model, engineOptions(options, raw), ctx.progress);
    ctx.render(report, engineDocument);
    if (!report.passed) {
      const failure = report.failure!;
      throw new ToolError(`trtexec ${report.outcome === 'failed' ? 'failed' : 'did not finish'} (${failure.kind}): ${failure.message.split('\n')[0]}`, {
        kind: failure.kind, hint: `${failure.hint}; full log: ${report.log}`,
      });
    }
  }));

function refuseBuildFlags(model: string | undefined, raw: Record<string, unknown>): void {
  const given = BUILD_FLAGS.filter((k) => raw[k] !== undefined).map((key) => flagName(key));
  const extra = [...(model ? ['<model>'] : []), ...given, ...(raw.inference === false ? ['--no-inference'] : [])];
  if (extra.length) throw new InputError(`--from-log reads a finished run; it takes no ${extra.join(', ')}`, { kind: 'usage' });
}

function engineOptions(options: z.infer<typeof Raw>, raw: Record<string, unknown>): EngineOptions {
  return {
    output: options.output,
    trtexec: options.trtexec,
    precision: PRECISIONS.filter((p) => raw[p] === true),
    stronglyTyped: options.stronglyTyped,
    calib: options.calib,
    workspaceMiB: options.workspace,
    // One spelling for shapes: a --shape with one shape fixes it, with three it is a profile.
    profiles: Object.fromEntries((options.shape ?? []).map(parseProfile)),
    shapes: shapeSpec({ dim: raw.dim as string[] | undefined }, { min: 1, max: 3 }),
    timingCache: options.timingCache,
    builderLevel: options.builderLevel,
    extra: (options.extra ?? []).flatMap((e) => e.trim().split(/\s+/)).filter(Boolean),
    inference: options.inference,
    timeoutMs: options.timeout === undefined ? undefined : options.timeout * 1000,
  };
}
