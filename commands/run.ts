import { Command, Option } from 'commander';
import path from 'node:path';
import { GateError } from '../src/errors.js';
import { exampleConfig } from '../src/pipeline/example.js';
import { readConfig } from '../src/pipeline/config.js';
import { runPipeline } from '../src/pipeline/run.js';
import { runDocument } from '../src/report/run.js';
import { action } from './action.js';
import type { Context } from './context.js';

export const runCommand = new Command('run')
  .description('the whole pipeline from one config file: convert, quantize, check, engine, bench, package')
  .addOption(new Option('-c, --config <file>', 'tdeploy.config.json (default: the bundled example)'))
  .addOption(new Option('--out <dir>', "output folder (default: the config's `output`, relative to the config file)"))
  .addHelpText('after', `
Without --config, runs the bundled example (a small BERT-like encoder) into ./tdeploy-out.
'tdeploy schema' prints the JSON Schema of the config file.

Examples:
  tdeploy run
  tdeploy run --config tdeploy.config.json --out build/models --json`)
  .action(action(async (raw: { config?: string; out?: string }, ctx: Context) => {
    const { config, notes } = raw.config
      ? { config: await readConfig(raw.config), notes: [] as string[] }
      : await exampleConfig(process.cwd());
    if (raw.out) config.output = path.resolve(raw.out);
    const report = await runPipeline(config, ctx.progress);
    report.notes.unshift(...notes);
    ctx.render(report, runDocument);
    if (!report.passed) {
      const failed = report.steps.find((s) => s.status === 'failed');
      throw new GateError(`the ${report.failedStep} step failed: ${failed?.reason ?? ''}`, { kind: 'pipeline' });
    }
  }));
