import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { addGlobalOptions } from './action.js';
import { CATALOG, type CommandName } from './catalog.js';
import { configureHelp } from './options/help.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Loads a command's module (and the libraries behind it) only when that command runs. */
const LOADERS: Record<CommandName, () => Promise<Command>> = {
  inspect: async () => (await import('./inspect.js')).inspectCommand,
  convert: async () => (await import('./convert.js')).convertCommand,
  quantize: async () => (await import('./quantize.js')).quantizeCommand,
  engine: async () => (await import('./engine.js')).engineCommand,
  check: async () => (await import('./check.js')).checkCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  tune: async () => (await import('./tune.js')).tuneCommand,
  package: async () => (await import('./package.js')).packageCommand,
  run: async () => (await import('./run.js')).runCommand,
  schema: async () => (await import('./schema.js')).schemaCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
};

const NAMES = Object.keys(CATALOG) as CommandName[];

/** What the top-level help lists for a command it has not loaded: its name, arguments and summary. */
function listing(name: CommandName): Command {
  const { args, summary } = CATALOG[name];
  const command = new Command(name).description(summary);
  return args ? command.arguments(args) : command;
}

/** Every command, loaded (tests that inspect all options use this). */
export function loadAllCommands(): Promise<Command[]> {
  return Promise.all(NAMES.map((name) => LOADERS[name]()));
}

/** `-v` as node and npm spell it; `-V`, commander's, still works. */
export const VERSION_FLAGS = ['-v', '-V', '--version'];

/**
 * The program with the subcommand named in argv loaded; the others are listings, enough for the
 * top-level help and for commander's "did you mean" on an unknown name.
 */
export async function buildProgram(argv: string[]): Promise<Command> {
  // Global options are all flags without values, so the first other word names the command.
  const args = argv.slice(2);
  const words = args.filter((a) => !a.startsWith('-'));
  // `tdeploy help bench` needs bench alone.
  const named = words[0] === 'help' && words[1] ? words[1] : words[0];
  const versionOnly = !named && args.some((a) => VERSION_FLAGS.includes(a)) && !args.some((a) => a === '-h' || a === '--help');
  const commands = versionOnly ? [] : await Promise.all(NAMES.map((name) => (name === named ? LOADERS[name]() : listing(name))));
  const program = new Command('tdeploy')
    .description('PyTorch to production serving: convert, quantize, build TensorRT engines, check, bench, package for Triton')
    .version(version, '-v, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .addHelpText('after', '\nExit codes: 0 success, 1 gate failed, 2 usage or input error, 3 external tool failed.\nExample:\n  tdeploy run            # the whole pipeline on the bundled example');
  addGlobalOptions(program);
  for (const command of commands) program.addCommand(addGlobalOptions(command));
  for (const command of [program, ...commands]) {
    configureHelp(command).exitOverride().configureOutput({ outputError: () => {} });
  }
  return program;
}

/** argv as commander should read it: `-V` before the command is `-v`. */
export function normalizeArgv(argv: string[]): string[] {
  const first = argv.findIndex((a, i) => i >= 2 && !a.startsWith('-'));
  return argv.map((a, i) => (a === '-V' && (first === -1 || i < first) ? '-v' : a));
}

/** Commander signals help (`--help` and `tdeploy help`) and --version with errors too; those are successes. */
export function isCleanExit(error: unknown): boolean {
  return error instanceof CommanderError && ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
}
