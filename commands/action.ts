import type { Command } from 'commander';
import { Context, type GlobalFlags } from './context.js';
import { flagSpeller } from './options/spelling.js';

/** Adds the global flags to a command (the program and every subcommand carry them). */
export function addGlobalOptions(command: Command): Command {
  return command
    .option('--json', 'print one JSON document on stdout (human text goes to stderr)')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--verbose', 'show tool logs and stack traces')
    .option('--no-progress', 'no progress spinner');
}

/** The global flags as given before or after the subcommand's name. */
export function globalFlags(command: Command): GlobalFlags {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.push(c);
  const opts = chain.map((c) => c.opts());
  return {
    json: opts.some((o) => o.json === true),
    quiet: opts.some((o) => o.quiet === true),
    verbose: opts.some((o) => o.verbose === true),
    progress: opts.every((o) => o.progress !== false),
  };
}

/**
 * Wraps a command body for commander: builds the Context from the global flags and hands the
 * positional arguments, the raw options and the context to `body`. Errors propagate to the one
 * handler in cli.ts.
 */
export function action<Args extends [...unknown[], Record<string, unknown>, Context]>(
  body: (...args: Args) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = new Context(globalFlags(command), flagSpeller(command.name()));
    currentContext = ctx;
    try {
      await body(...([...args.slice(0, -1), ctx] as Args));
    } finally {
      ctx.finish();
    }
  };
}

/** The context of the command being run, for the error handler (did the command already report?). */
export let currentContext: Context | undefined;
