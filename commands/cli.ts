import { CommanderError } from 'commander';
import { InputError, TdeployError } from '../src/errors.js';
import { respell } from '../src/option-ref.js';
import { removePendingOutputs } from '../src/io/atomic.js';
import { killActiveTools } from '../src/process/active.js';
import { currentContext } from './action.js';
import { flagSpeller } from './options/spelling.js';
import { VERSION_FLAGS, buildProgram, isCleanExit, normalizeArgv } from './program.js';

/**
 * The executable's body: parse, run, and turn every failure into one line on stderr and the
 * contract's exit code (with --json, a JSON error object on stdout unless a report was printed).
 */
export async function main(given: string[]): Promise<number> {
  const argv = normalizeArgv(given);
  try {
    // Commander would print the whole help to stderr; one line and a hint say it better.
    if (!argv.slice(2).some((a) => !a.startsWith('-') || ['-h', '--help', ...VERSION_FLAGS].includes(a))) {
      throw new InputError('no command given', { kind: 'usage', hint: "see 'tdeploy --help'; 'tdeploy run' runs the whole pipeline on the bundled example" });
    }
    await (await buildProgram(argv)).parseAsync(argv);
    return 0;
  } catch (error) {
    if (isCleanExit(error)) return 0;
    return reportError(error, argv);
  }
}

function reportError(error: unknown, argv: string[]): number {
  const json = currentContext?.flags.json ?? argv.includes('--json');
  const verbose = currentContext?.flags.verbose ?? argv.includes('--verbose');
  let code: number;
  let kind: string;
  let message: string;
  let hint: string | undefined;
  if (error instanceof TdeployError) {
    const spell = currentContext?.spell ?? flagSpeller();
    ({ exitCode: code, kind } = error);
    message = respell(error.message, spell);
    hint = error.hint === undefined ? undefined : respell(error.hint, spell);
  } else if (error instanceof CommanderError) {
    code = 2;
    kind = 'usage';
    message = error.message.replace(/^error: /, '');
    hint = "see 'tdeploy --help' or 'tdeploy <command> --help'";
  } else {
    code = 2;
    kind = 'internal';
    message = `internal error: ${error instanceof Error ? error.message : String(error)}`;
    hint = 'this is a bug in tdeploy; run with --verbose for the stack trace and report it';
  }
  process.stderr.write(`tdeploy: error: ${message}\n`);
  if (hint) process.stderr.write(`hint: ${hint}\n`);
  // A failed gate shows up on the pull request, not only in the log. stderr keeps --json's stdout one document.
  if (code === 1 && process.env.GITHUB_ACTIONS === 'true') {
    const command = argv.slice(2).find((a) => !a.startsWith('-')) ?? 'tdeploy';
    process.stderr.write(`::error title=${annotation(`tdeploy ${command}`, true)}::${annotation(hint ? `${message} (${hint})` : message)}\n`);
  }
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  if (json && !currentContext?.reported) {
    process.stdout.write(`${JSON.stringify({ error: { code, kind, message, ...(hint ? { hint } : {}) } }, null, 2)}\n`);
  }
  return code;
}

/** A workflow command's text: %, CR and LF escaped, and in a property also : and , (GitHub's toolkit rules). */
function annotation(text: string, property = false): string {
  const escaped = text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return property ? escaped.replace(/:/g, '%3A').replace(/,/g, '%2C') : escaped;
}

// `tdeploy ... --json | head -1`: once the reader has gone, what is left to print has nowhere to go.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    currentContext?.finish();
    killActiveTools();
    removePendingOutputs();
    process.stderr.write(`tdeploy: interrupted (${signal})\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

process.exitCode = await main(process.argv);
