import { Command, Option } from 'commander';
import { GateError, InputError } from '../src/errors.js';
import { packageDocument, verifyDocument } from '../src/report/package.js';
import { PackageOptions } from '../src/triton/options.js';
import { packageModel } from '../src/triton/package.js';
import { verifyRepository } from '../src/triton/verify.js';
import { action, deprecatedAlias } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';
import { addShapeOptions, shapeSpec } from './options/shapes.js';
import { parseOptions } from '../src/validation.js';
import { flagName } from './options/spelling.js';

const base = addShapeOptions(
  new Command('package')
    .description(CATALOG.package.summary)
    .argument('<model>', 'ONNX model or TensorRT engine (.plan); with --verify, the repository')
    .option('-o, --output <repo>', 'the model repository folder (created when missing)')
    .option('--verify', 'check an existing repository: layout, configs, tensors against the model files, ensembles')
    .addOption(new Option('--name <name>', "the model's name in the repository").default(undefined, 'the file name without extension'))
    .addOption(new Option('--max-batch-size <n>', '0 = no batching; N > 0 needs a dynamic leading dim on every tensor').default(undefined, '4 when the model can batch, else 0'))
    .option('--dynamic-batching', "turn on Triton's dynamic batcher")
    .option('--preferred-batch-size <sizes>', 'preferred batch sizes for the dynamic batcher, e.g. 4,8')
    .option('--max-queue-delay-us <us>', 'how long the dynamic batcher may hold a request')
    .option('--instances <n>', 'model instances per device')
    .addOption(new Option('--kind <kind>', 'where instances run').choices(['gpu', 'cpu', 'auto']))
    .addOption(new Option('--trt-accelerator <precision>', "ONNX Runtime's TensorRT execution accelerator").choices(['fp16', 'fp32']))
    .option('--warmup-batch <n>', 'warm the model up with one request of this batch size when it loads')
    .addOption(new Option('--model-version <n>', "version folder to write, or 'next'").default(undefined, '1'))
    .option('--version-policy <policy>', 'latest:N, all or specific:1,3')
    .option('--label-file <file>', 'labels for a classifier output, one per line (OUTPUT=FILE to name the output)')
    .option('--tokenizer <dir>', 'Hugging Face tokenizer folder (tokenizer.json): adds <name>_tokenize and the ensemble <name>_pipeline')
    .option('--max-length <n>', 'tokens the tokenizer step keeps when the model takes any length')
    .addOption(new Option('--io-from <file>', 'for a TensorRT engine: the ONNX model it was built from, or its trtexec log').default(undefined, '<engine>.log when present'))
    .addOption(new Option('--triton <release>', 'the tritonserver release (YY.MM) the repository is for: every model is checked against its onnxruntime, TensorRT and Python').default(undefined, "the newest in tdeploy's table"))
    .option('--ir-version <n>', 'write the ONNX model with this lower IR version, when nothing in it needs a newer one (for older tritonserver releases)')
    .option('--force', 'replace an existing version folder'),
  'fix a symbolic dim for the --warmup-batch request, e.g. seq=128',
);

/** `--warmup` was a batch size here but a run count in bench. */
export const packageCommand = deprecatedAlias(base, new Option('--warmup <batch>'), 'warmupBatch', '--warmup-batch')
  .addHelpText('after', `
Examples:
  tdeploy package model.onnx -o models --dynamic-batching --preferred-batch-size 4,8 --instances 2 --kind gpu
  tdeploy package encoder.onnx -o models --warmup-batch 1 --dim seq=128
  tdeploy package encoder.onnx -o models --tokenizer ./tokenizer --max-batch-size 8
  tdeploy package model.plan -o models --io-from model.onnx --model-version next
  tdeploy package model.onnx -o models --triton 22.12 --ir-version 8
  tdeploy package --verify models --triton 24.05`)
  .action(action(async (model: string, raw: Record<string, unknown>, ctx: Context) => {
    if (raw.verify) return verify(model, raw, ctx);
    const options = parseOptions(PackageOptions, { ...raw, shapes: shapeSpec(raw, { max: 1 }) });
    const result = await packageModel(model, options, ctx.progress);
    ctx.render(result, packageDocument);
  }));

/** Global flags appear among a subcommand's options when given after its name. */
const GLOBAL_FLAGS = ['json', 'quiet', 'verbose', 'progress'];

async function verify(repo: string, raw: Record<string, unknown>, ctx: Context): Promise<void> {
  const other = Object.keys(raw).find((k) => !['verify', 'triton', ...GLOBAL_FLAGS].includes(k));
  if (other) {
    throw new InputError(`--verify takes only the repository and --triton, not ${flagName(other)}`, { kind: 'usage', hint: 'tdeploy package --verify <repo> [--triton YY.MM]' });
  }
  const report = await verifyRepository(repo, ctx.progress, { triton: raw.triton as string | undefined });
  ctx.render(report, verifyDocument);
  const count = report.models.reduce((n, m) => n + m.problems.length, 0);
  if (!report.passed) throw new GateError(`the repository has ${count} problem${count === 1 ? '' : 's'}`, { kind: 'repository' });
}
