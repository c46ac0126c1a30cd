import { Command, Option } from 'commander';
import path from 'node:path';
import { doctor } from '../src/doctor/doctor.js';
import { GateError } from '../src/errors.js';
import { readConfig } from '../src/pipeline/config.js';
import { CONFIG_FILE, discoverConfig } from '../src/pipeline/discover.js';
import { doctorDocument } from '../src/report/doctor.js';
import { PYTHON_SEARCH } from '../src/torch/python.js';
import { action } from './action.js';
import { CATALOG } from './catalog.js';
import type { Context } from './context.js';

export const doctorCommand = new Command('doctor')
  .description(CATALOG.doctor.summary)
  .addOption(new Option('-c, --config <file>', 'a run config whose needs to check; exit 1 when one is missing').default(undefined, `./${CONFIG_FILE} when there is one`))
  .addOption(new Option('--python <path>', 'the interpreter convert and run would use').default(undefined, `the config's model.python, else ${PYTHON_SEARCH}`))
  .addHelpText('after', `
Examples:
  tdeploy doctor
  tdeploy doctor --config tdeploy.config.json --json | jq .config.needs`)
  .action(action(async (raw: { config?: string; python?: string }, ctx: Context) => {
    const file = discoverConfig(raw.config, process.cwd());
    const config = file === undefined ? undefined : { file: path.relative(process.cwd(), file) || file, config: await readConfig(file) };
    const report = await doctor({ config, python: raw.python }, ctx.progress);
    ctx.render(report, doctorDocument);
    if (!report.passed) {
      const missing = report.config?.needs.filter((n) => !n.met).map((n) => n.what) ?? [];
      throw new GateError(missing.length ? `${config?.file} needs what this machine lacks: ${missing.join('; ')}` : `Node ${report.node.version} is older than tdeploy needs (${report.node.required})`, { kind: 'doctor' });
    }
  }));
