import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { addGlobalOptions } from './action.js';
import { benchCommand } from './bench.js';
import { checkCommand } from './check.js';
import { convertCommand } from './convert.js';
import { engineCommand } from './engine.js';
import { inspectCommand } from './inspect.js';
import { packageCommand } from './package.js';
import { quantizeCommand } from './quantize.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Every subcommand, in the order `tdeploy --help` lists them. */
const commands: Command[] = [inspectCommand, convertCommand, quantizeCommand, engineCommand, checkCommand, benchCommand, packageCommand];

export function buildProgram(): Command {
  const program = new Command('tdeploy')
    .description('PyTorch to production serving: convert, quantize, build TensorRT engines, check, bench, package for Triton')
    .version(version, '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .addHelpText('after', '\nExit codes: 0 success, 1 gate failed, 2 usage or input error, 3 external tool failed.\nExample:\n  tdeploy run            # the whole pipeline on the bundled example');
  addGlobalOptions(program);
  for (const command of commands) program.addCommand(addGlobalOptions(command));
  for (const command of [program, ...commands]) {
    command.exitOverride().configureOutput({ outputError: () => {} });
  }
  return program;
}

/** Commander signals help and --version with errors too; those are successes. */
export function isCleanExit(error: unknown): boolean {
  return error instanceof CommanderError && ['commander.helpDisplayed', 'commander.version'].includes(error.code);
}
