import { Command, Option } from 'commander';
import path from 'node:path';
import { GateError } from '../src/errors.js';
import { exampleConfig } from '../src/pipeline/example.js';
import { readConfig } from '../src/pipeline/config.js';
import { CONFIG_FILE, discoverConfig } from '../src/pipeline/discover.js';
import { PYTHON_SEARCH } from '../src/torch/python.js';
import { runPipeline } from '../src/pipeline/run.js';
import { runDocument } from '../src/report/run.js';
import { action, deprecatedAlias } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';

const base = new Command('run')
  .description(CATALOG.run.summary)
  .addOption(new Option('-c, --config <file>', 'the pipeline config').default(undefined, `./${CONFIG_FILE} when there is one, else the bundled example`))
  .addOption(new Option('-o, --output <dir>', 'output folder').default(undefined, "the config's `output`, relative to the config file"))
  .addOption(new Option('--python <path>', 'Python interpreter with torch, for convert').default(undefined, `the config's model.python, else ${PYTHON_SEARCH}; the example finds one with torch`));

export const runCommand = deprecatedAlias(base, new Option('--out <dir>'), 'output', '-o/--output')
  .addHelpText('after', `
Without --config, reads ./${CONFIG_FILE}; without one either, runs the bundled example (a small
BERT-like encoder) into ./tdeploy-out.
'tdeploy schema' prints the JSON Schema of the config file.

Examples:
  tdeploy run
  tdeploy run --config tdeploy.config.json -o build/models --json`)
  .action(action(async (raw: { config?: string; output?: string; python?: string }, ctx: Context) => {
    const file = discoverConfig(raw.config, process.cwd());
    const { config, notes } = file
      ? { config: await readConfig(file), notes: file === raw.config ? [] : [`the config is ./${CONFIG_FILE}`] }
      : await exampleConfig(process.cwd(), raw.python === undefined ? undefined : async () => raw.python);
    if (raw.output) config.output = path.resolve(raw.output);
    if (raw.python && !config.model.source.toLowerCase().endsWith('.onnx')) config.model.python = raw.python;
    const report = await runPipeline(config, ctx.progress);
    report.notes.unshift(...notes);
    ctx.render(report, runDocument);
    if (!report.passed) {
      const failed = report.steps.find((s) => s.status === 'failed');
      throw new GateError(`the ${report.failedStep} step failed: ${failed?.reason ?? ''}`, { kind: 'pipeline' });
    }
  }));
